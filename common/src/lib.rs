//! Everything the seven stages share, so that each stage's `main.rs` holds only its
//! concurrency model.
//!
//! # Layout
//!
//! - [`request`]: parsing a request head, incrementally (one regex for the request line),
//!   with every limit a named constant and every error carrying its status.
//! - [`response`]: [`Status`] and [`Response`]: writing the head, HEAD handling.
//! - [`files`]: from a request path to a file under the root, refusing every escape.
//! - [`serve`]: the application: [`Site`] answers a request with a file, [`hello`] with hello
//!   world; the access log.
//! - [`connection`]: one connection's state without sockets: bytes in, responses out, partial
//!   writes resumed (used by every stage from 02 on).
//! - [`blocking`]: the loop of the blocking stages (02-05) over any `Read + Write`.
//! - [`nonblocking`]: one turn of a connection on a non-blocking socket (stages 06-07).
//! - [`config`]: the command line every stage shares, and the listening socket.
//!
//! A request travels: bytes → [`request::parse`] → [`Site::respond`] → [`Response`] →
//! [`Connection`] → bytes.

#![warn(missing_docs)]

pub mod blocking;
pub mod config;
pub mod connection;
pub mod files;
pub mod nonblocking;
pub mod request;
pub mod response;
pub mod serve;

pub use config::{Config, accept_failed};
pub use connection::{Connection, KeepAlive};
pub use response::{Response, Status};
pub use serve::{Site, hello};
