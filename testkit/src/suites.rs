//! The conformance suites: each takes a stage binary, starts it, and checks one capability
//! over real sockets. A stage's tests call the suites it must pass.
//!
//! | suite | checks |
//! |---|---|
//! | [`hello`] | stage01's answer: hello world, framing, HEAD |
//! | [`static_files`] | every file rule of DESIGN.md: index, MIME, 301 (never to another host), 404, escapes, validators and 304, byte ranges (206, 416, If-Range) |
//! | [`bad_input`] | every bad-input row, each answered with its status, then more serving; framing before the method (405, 501) |
//! | [`timeouts`] | a stalled request head or body (with a length or chunked) gets 408, an idle connection is closed |
//! | [`keep_alive`] | persistent connections, pipelining, bodies (chunked too, and their errors), ranges, `Connection: close`, 1.0 |
//! | [`concurrency`] | a stalled and an idle client don't delay a third; 200 keep-alive clients |
//! | [`shutdown`] | SIGINT and SIGTERM end the server within 2 s, nothing left behind |
//! | [`out_of_descriptors`] | more clients than file descriptors: no crash, no spin, all served |
//! | [`command_line`] | `--help`, `--version`, the access log and `--quiet`, start-up errors |
//!
//! The suites live in four files, by what they test: `files` (hello, static files), `input` (bad
//! input, timeouts), `connections` (keep-alive, concurrency) and `process` (shutdown, out of
//! descriptors, the command line).

mod connections;
mod files;
mod input;
mod process;

pub use connections::{concurrency, keep_alive};
pub use files::{hello, static_files};
pub use input::{bad_input, timeouts};
pub use process::{command_line, out_of_descriptors, shutdown};
