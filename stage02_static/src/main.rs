//! Stage 2: a static-file server that serves one connection at a time.
//!
//! New since stage01: real files from the document root (`www/` by default), parsed and
//! answered by `common`, and an access log. The loop is still *iterative*: accept a
//! connection, serve it, close it, accept the next. So each connection gets one request
//! (`Connection: close`): a connection kept open would keep everyone else waiting.
//!
//! Run `cargo run -p stage02_static`, open <http://127.0.0.1:8002>, then see the limit:
//! `nc 127.0.0.1 8002` (type nothing) and the browser waits until nc gives up or times out.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use common::blocking::serve_connection;
use common::{Config, KeepAlive, Site};

fn main() -> io::Result<()> {
    let config = Config::parse(8002);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();

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
        handle_connection(stream, peer, &site);
    }
}

/// Serves one connection until it ends. Nothing else is served meanwhile.
fn handle_connection(mut stream: TcpStream, peer: SocketAddr, site: &Arc<Site>) {
    // A client that sends nothing (or stops reading) must not hold the server forever.
    let configured = stream
        .set_read_timeout(Some(site.timeout))
        .and_then(|()| stream.set_write_timeout(Some(site.timeout)))
        // Send small responses at once instead of waiting to fill a packet (Nagle).
        .and_then(|()| stream.set_nodelay(true));
    let served =
        configured.and_then(|()| serve_connection(&mut stream, peer, site, KeepAlive::Off));
    if let Err(error) = served {
        site.log_error(peer, &error);
    }
    // Dropping the stream closes the socket: the client sees the end of the response.
}
