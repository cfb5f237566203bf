//! One turn of a connection on a non-blocking socket (stages 06 and 07).
//!
//! A non-blocking socket never waits: a `read` with nothing to read, or a `write` the kernel
//! has no room for, fails at once with `WouldBlock` (EAGAIN). That is not an error. It means
//! "not now": the connection keeps its state (a [`Connection`] remembers exactly where it
//! stopped) and the server turns to another connection. Stage06 comes back to every
//! connection on every pass; stage07 comes back when epoll says the socket is ready.

use std::io::{self, ErrorKind, Read, Write};

use crate::connection::Connection;

/// Gives `connection` one turn on its non-blocking `stream`: sends what is queued, reads
/// once if it wants more, answers what arrived, and sends that too, stopping at the first
/// `WouldBlock`. Returns whether anything moved (bytes read, bytes written, or the peer's
/// close), which a busy-polling server uses to decide whether to back off.
///
/// One read per turn, not "until `WouldBlock`": the buffer is large, so one read usually
/// takes everything, and a last read only to hear `WouldBlock` would cost a system call per
/// request. Bytes left behind are not lost: the next pass (stage06) or the next readiness
/// event (stage07, level-triggered) comes back for them.
///
/// # Errors
///
/// A failed read or write other than `WouldBlock` (the peer reset the connection, ...), or
/// a file that could not be read. The connection is over; the caller drops it.
pub fn serve_ready<S: Read + Write>(
    connection: &mut Connection,
    stream: &mut S,
    buffer: &mut [u8],
) -> io::Result<bool> {
    let mut progress = send(connection, stream)?;
    if connection.wants_read() {
        match stream.read(buffer) {
            // A read of 0 bytes means the peer closed its side.
            Ok(0) => connection.received_eof(),
            Ok(count) => connection.received(&buffer[..count]),
            // Nothing to read right now, or a signal arrived: come back later.
            Err(error)
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
            {
                return Ok(progress);
            }
            Err(error) => return Err(error),
        }
        progress = true;
        send(connection, stream)?;
    }
    Ok(progress)
}

/// Writes queued bytes until none are left or the kernel's send buffer is full.
fn send<S: Write>(connection: &mut Connection, stream: &mut S) -> io::Result<bool> {
    let mut progress = false;
    while connection.wants_write() {
        let pending = connection.to_send()?;
        match stream.write(pending) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(count) => {
                connection.sent(count);
                progress = true;
            }
            // The send buffer is full: the rest waits until the peer has read some.
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::KeepAlive;
    use crate::serve::Site;
    use std::sync::Arc;
    use std::time::Duration;

    /// A fake non-blocking socket: reads hand out `incoming` then WouldBlock (or EOF);
    /// writes accept at most `room` bytes, then WouldBlock.
    struct FakeSocket {
        incoming: Vec<u8>,
        eof: bool,
        room: usize,
        written: Vec<u8>,
    }

    impl Read for FakeSocket {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.incoming.is_empty() {
                return if self.eof { Ok(0) } else { Err(ErrorKind::WouldBlock.into()) };
            }
            let count = buffer.len().min(self.incoming.len());
            buffer[..count].copy_from_slice(&self.incoming[..count]);
            self.incoming.drain(..count);
            Ok(count)
        }
    }

    impl Write for FakeSocket {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let count = bytes.len().min(self.room);
            self.room -= count;
            self.written.extend_from_slice(&bytes[..count]);
            Ok(count)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn setup() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "x".repeat(10_000)).unwrap();
        let root = dir.path().canonicalize().unwrap();
        let site = Arc::new(Site { root, quiet: true, timeout: Duration::from_secs(5) });
        let connection = Connection::new("127.0.0.1:1".parse().unwrap(), site, KeepAlive::On);
        (dir, connection)
    }

    #[test]
    fn nothing_to_read_is_no_progress() {
        let (_dir, mut connection) = setup();
        let mut socket =
            FakeSocket { incoming: vec![], eof: false, room: 1 << 20, written: vec![] };
        assert!(!serve_ready(&mut connection, &mut socket, &mut [0; 4096]).unwrap());
    }

    #[test]
    fn a_full_send_buffer_resumes_on_the_next_turn() {
        let (_dir, mut connection) = setup();
        let request = b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
        let mut socket = FakeSocket { incoming: request, eof: false, room: 1000, written: vec![] };
        let mut buffer = [0; 4096];
        assert!(serve_ready(&mut connection, &mut socket, &mut buffer).unwrap());
        assert_eq!(socket.written.len(), 1000);
        assert!(connection.wants_write() && !connection.wants_read());
        // The peer reads; the kernel has room again.
        while connection.wants_write() {
            socket.room = 1000;
            assert!(serve_ready(&mut connection, &mut socket, &mut buffer).unwrap());
        }
        let text = String::from_utf8(socket.written).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.ends_with(&"x".repeat(10_000)));
    }

    #[test]
    fn the_peer_closing_finishes_the_connection() {
        let (_dir, mut connection) = setup();
        let mut socket = FakeSocket { incoming: vec![], eof: true, room: 1 << 20, written: vec![] };
        assert!(serve_ready(&mut connection, &mut socket, &mut [0; 4096]).unwrap());
        assert!(connection.is_finished());
    }
}
