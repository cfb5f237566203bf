//! The HTTP that every stage shares, and nothing else: no stage's concurrency model lives
//! here. Each stage's `main.rs` holds its model, including the loop that moves bytes between
//! its sockets and their [`Connection`]s.
//!
//! # Layout
//!
//! - [`request`]: parsing a request head, incrementally (one regex for the request line),
//!   with every limit a named constant and every error carrying its status.
//! - [`response`]: [`Status`], [`HttpError`] and [`Response`]: writing the head, fitting a
//!   response to its request (HEAD, keep-alive).
//! - [`files`]: from a request path to a file under the root, refusing every escape.
//! - [`site`]: the application: [`Site`] answers a request with a file, [`hello`] with hello
//!   world; the [`AccessLog`].
//! - [`connection`]: one connection's HTTP state without sockets (sans-IO): bytes in,
//!   responses out, partial writes resumed, deadlines.
//! - [`config`]: the command line every stage shares, and [`OrExit`] for start-up errors.
//! - [`net`]: the listening socket, failed accepts, running out of file descriptors.
//!
//! A request travels: bytes → [`request::parse`] → [`Site::respond`] → [`Response`] →
//! [`Connection`] → bytes.

#![warn(missing_docs)]

pub mod config;
pub mod connection;
pub mod files;
pub mod net;
pub mod request;
pub mod response;
pub mod site;

/// A stage's name, version and one-line description, from its own Cargo.toml: what
/// [`Config::parse`] shows for `--help` and `--version`. (clap's `command!`, re-exported so
/// that a stage needs no dependency on clap to use it.)
pub use clap::command;
pub use config::{Config, OrExit};
pub use connection::{Connection, KeepAlive, Pending, Settings};
pub use net::{accept_failed, listen};
pub use response::{HttpError, Response, Status};
pub use site::{AccessLog, Site, hello};
