//! The request/response loop of the blocking stages (02 to 05), over any `Read + Write`.
//!
//! Blocking I/O makes the loop read like the protocol: write what is queued, read, repeat.
//! While one call waits, the thread (or process, or coroutine) waiting in it can do nothing
//! else: that is why stage02 serves one client at a time, and why stages 03-05 give every
//! connection its own process, thread or coroutine. The stream only needs `Read + Write`, so
//! the same loop serves `std::net::TcpStream` and `may::net::TcpStream` alike.
//!
//! Timeouts are the caller's to set on the socket (`set_read_timeout`,
//! `set_write_timeout`): a read that times out ends the connection, with a 408 if a request
//! head was halfway in.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::connection::{Connection, KeepAlive};
use crate::serve::Site;

/// How many bytes one read may bring in. A request head is usually a few hundred bytes, and
/// every connection of the blocking stages holds this buffer while it waits, so it is small.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Serves requests on `stream` until the connection ends: the client closes it, asks to
/// close it, sends bad input, or is idle past the socket's read timeout.
///
/// # Errors
///
/// A failed read or write (the peer reset the connection, a write timed out, ...). The
/// connection is over either way; the caller logs the error and drops the stream.
pub fn serve_connection<S: Read + Write>(
    stream: &mut S,
    peer: SocketAddr,
    site: &Arc<Site>,
    keep_alive: KeepAlive,
) -> io::Result<()> {
    let mut connection = Connection::new(peer, Arc::clone(site), keep_alive);
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    loop {
        // Send everything queued; a blocking write returns once the kernel has taken at least
        // part of it, so loop until all is gone.
        loop {
            let pending = connection.to_send()?;
            if pending.is_empty() {
                break;
            }
            match stream.write(pending) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => connection.sent(count),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if connection.is_finished() {
            return Ok(());
        }

        match stream.read(&mut buffer) {
            // A read of 0 bytes means the peer closed its side.
            Ok(0) => connection.received_eof(),
            Ok(count) => {
                connection.received(&buffer[..count]);
                // A client can send one byte per read-timeout forever; the head timeout
                // counts from its first byte, so check it after every read.
                if Instant::now() >= connection.deadline() {
                    connection.timed_out();
                }
            }
            // A signal arrived during the read: just read again.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            // The socket's read timeout expired (Unix reports it as WouldBlock).
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                connection.timed_out();
            }
            Err(error) => return Err(error),
        }
    }
}
