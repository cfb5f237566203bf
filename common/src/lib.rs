//! The HTTP that every stage shares, and nothing else: no stage's concurrency model lives
//! here. Each stage's `main.rs` holds its model, including the loop that moves bytes between
//! its sockets and their [`Connection`]s.
//!
//! # Layout
//!
//! Read it bottom-up: each module uses only the ones listed before it.
//!
//! - [`status`]: [`Status`] and [`HttpError`], the status a failure is answered with; which
//!   I/O failures are the server's own (out of file descriptors).
//! - [`request`]: parsing a request head, incrementally (one regex for the request line),
//!   with every limit a named constant and every error carrying its status.
//! - [`body`]: reading past a chunked request body, to find where the next request starts.
//! - [`response`]: [`Response`]: writing the head, fitting a response to its request (HEAD,
//!   keep-alive), and the file's validators (`ETag`, `Last-Modified`, `304`).
//! - [`ranges`]: which part of a file a request asks for (`Range`, `If-Range`): 206 or 416.
//! - [`files`]: from a request path to a file under the root, refusing every escape.
//! - [`site`]: the application: [`Site`] answers a request with a file, [`hello`] with hello
//!   world; the [`AccessLog`].
//! - [`connection`]: one connection's HTTP state, with no sockets: bytes in, responses out
//!   (opening and reading the files they send), partial writes resumed, deadlines.
//!
//! At the edge, for the stages' `main.rs`:
//!
//! - [`net`]: the listening socket (host, port, backlog), failed accepts, `sendfile(2)`; it
//!   uses only [`status`].
//! - [`config`]: the command line every stage shares ([`Config::listen`] opens the socket it
//!   names), and [`OrExit`] for start-up errors.
//!
//! A request travels: bytes → [`request::parse`] → [`Site::respond`] → [`Response`] →
//! [`Connection`] → bytes.

#![warn(missing_docs)]

pub mod body;
pub mod config;
pub mod connection;
pub mod files;
pub mod net;
pub mod ranges;
pub mod request;
pub mod response;
pub mod site;
pub mod status;

/// A stage's name, version and one-line description, from its own Cargo.toml: what
/// [`Config::parse`] shows for `--help` and `--version`. (clap's `command!`, re-exported so
/// that a stage needs no dependency on clap to use it.)
pub use clap::command;
pub use config::{Config, OrExit};
pub use connection::{Connection, KeepAlive, LINGER, Pending, Settings};
pub use net::accept_failed;
pub use response::Response;
pub use site::{AccessLog, Site, hello};
pub use status::{HttpError, Status};
