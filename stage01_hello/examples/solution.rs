//! THE EXERCISE, DONE: stage01 answering `GET /time` with the seconds since 1970. The
//! reference solution that `tests/exercise.rs` checks; try it yourself before you look.
//!
//! Stage 1: the smallest HTTP server. It accepts one connection at a time, reads one
//! request, answers `<h1>hello world</h1>` whatever was asked, and closes the connection.
//!
//! Run `cargo run -p stage01_hello`, open <http://127.0.0.1:8001>, and watch the bytes with
//! `curl -v http://127.0.0.1:8001/` or type a request yourself: `nc -C 127.0.0.1 8001`, then
//! `GET / HTTP/1.1`, `Host: x` and an empty line.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::request::{self, Parsed};
use common::response::Persistence;
use common::{AccessLog, Config, OrExit, Response};

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

fn main() {
    let config = Config::parse(common::command!(), 8001);
    let log = AccessLog::new(!config.quiet);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();

    loop {
        // accept() blocks until a client connects, and hands us a new socket for it.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // A failed accept concerns one client (it may have given up already), or the
            // process is out of file descriptors for a moment: log it, and go on.
            Err(error) => {
                common::accept_failed(&error);
                continue;
            }
        };
        if let Err(error) = handle_connection(stream, peer, &config, log) {
            log.error(peer, &error);
        }
    }
}

/// Reads one request head, answers it, and closes the connection (by dropping `stream`).
fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &Config,
    log: AccessLog,
) -> io::Result<()> {
    // A client that sends nothing (or stops reading) must not hold the server forever.
    let timeout = Duration::from_secs(config.timeout);
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    // TCP is a byte stream: one read may return part of the request, so read until the
    // head is complete (or bad), keeping what has arrived so far.
    let mut received = Vec::new();
    let mut buffer = [0; READ_BUFFER_BYTES];
    let mut response = loop {
        let count = stream.read(&mut buffer)?;
        if count == 0 {
            // The client closed the connection before finishing its request.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&buffer[..count]);
        match request::parse(&received) {
            Ok(Parsed::Complete { request, .. }) => {
                // The exercise: `/time` answers the seconds since 1970, as text.
                let response = if request.path == "/time" {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                    let seconds = now.map_or(0, |since| since.as_secs());
                    Response::new(
                        common::Status::Ok,
                        "text/plain; charset=utf-8",
                        seconds.to_string().into_bytes(),
                    )
                    .answering(&request)
                } else {
                    common::hello(&request)
                };
                log.request(peer, &request, response.status, response.content_length());
                break response;
            }
            Ok(Parsed::Incomplete) => continue,
            Err(error) => {
                log.request(peer, format_args!("- ({})", error.reason), error.status, 0);
                break Response::error(error.status);
            }
        }
    };

    // We close after one response, so the head says `Connection: close`.
    response.persistence = Persistence::Close;
    // The head (status line, headers, empty line) and the body, in one write.
    let mut bytes = Vec::new();
    response.write_to(&mut bytes);
    stream.write_all(&bytes)
}
