//! BROKEN ON PURPOSE: stage02 closing at once where it should close in stages. A client that
//! sent a second request behind the first (it did not know the server would close) loses the
//! end of its response: the second request arrives at a socket already closed, the kernel
//! answers it with a reset, and the reset throws away what was still waiting to be sent.
//!
//! Stage 2: a static-file server that serves one connection at a time.
//!
//! New since stage01: real files from the document root (`www/` by default), and the request
//! loop every blocking stage keeps: write what is queued, read, hand the bytes to the
//! connection's `Connection` (from `common`, which parses them and queues the answers),
//! repeat. The loop is still *iterative*: accept a connection, serve it, close it, accept the
//! next. So each connection gets one request (`Connection: close`): a connection kept open
//! would keep everyone else waiting.
//!
//! Run `cargo run -p stage02_static`, open <http://127.0.0.1:8002>, then see the limit:
//! `nc 127.0.0.1 8002` (type nothing) and the browser waits until nc gives up or times out.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

/// One request per connection: while this server waited for a second request on an open
/// connection, no one else would be served. Every response says `Connection: close`.
const KEEP_ALIVE: KeepAlive = KeepAlive::Off;

fn main() {
    let config = Config::parse(common::command!(), 8002);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
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
        if let Err(error) = handle_connection(stream, peer, &site, settings) {
            settings.log.error(peer, &error);
        }
    }
}

/// Serves one connection until it ends: the client closes it or asks to, sends bad input, or
/// is idle past the timeout. Nothing else is served meanwhile.
fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    site: &Site,
    settings: Settings,
) -> io::Result<()> {
    // A client that sends nothing (or stops reading) must not hold the server forever.
    stream.set_read_timeout(Some(settings.timeout))?;
    stream.set_write_timeout(Some(settings.timeout))?;

    let mut connection = Connection::new(peer, site.clone(), settings);
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    loop {
        // Send everything queued. A blocking write returns once the kernel has taken at least
        // part of it, so loop until all is gone. A large file goes by sendfile(2), from the
        // page cache straight to the socket, never copied through this process.
        loop {
            let written = match connection.to_send() {
                Pending::Nothing => break,
                // The mistake: close at once, as if the client could not still be sending.
                Pending::Fin => return Ok(()),
                Pending::Bytes(bytes) => stream.write(bytes),
                Pending::File(file, count) => common::net::send_file(&stream, file, count),
            };
            match written {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => connection.sent(count),
                // A signal arrived during the call: just make it again.
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if connection.is_finished() {
            // Dropping the stream closes the socket: the client sees the end of the response.
            return Ok(());
        }

        match stream.read(&mut buffer) {
            // A read of 0 bytes means the peer closed its side.
            Ok(0) => connection.received_eof(),
            Ok(count) => {
                connection.received(&buffer[..count]);
                // A client can send one byte per read timeout forever; a request's deadline
                // counts from its first byte, so check it after every read.
                if Instant::now() >= connection.deadline() {
                    connection.timed_out();
                }
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            // The read timeout expired (Linux reports it as WouldBlock): idle too long.
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                connection.timed_out();
            }
            Err(error) => return Err(error),
        }
    }
}
