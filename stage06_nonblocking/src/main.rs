//! Stage 6: one thread, non-blocking sockets, busy polling.
//!
//! New since stage05: no process, thread or coroutine per connection at all. One thread
//! serves every connection by never waiting: its sockets are non-blocking, so a read with
//! nothing to read fails at once with `WouldBlock` instead of sleeping. The loop tries to
//! accept, then gives every connection a turn (read what has arrived, write what fits), and
//! starts over. Each connection's state lives in its `Connection`, between turns.
//!
//! The catch: without the kernel telling us which socket is ready, the loop must keep
//! asking. Asking non-stop burns a whole core while idle (`--spin` shows it); resting a
//! little after a pass that found nothing saves the core but delays the next request.
//! Stage07 removes the dilemma.
//!
//! Run `cargo run -p stage06_nonblocking`, open <http://127.0.0.1:8006>, and compare `top`
//! with and without `--spin`, and `strace -p $(pgrep stage06)` (reads failing with EAGAIN).

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use common::config::{ACCEPT_PAUSE, out_of_descriptors};
use common::nonblocking::serve_ready;
use common::{Config, Connection, KeepAlive, Site};
use slab::Slab;

/// How many bytes one read may bring in. One buffer serves every connection in turn; what a
/// connection must keep between turns, it keeps in its own `Connection`.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How long to rest after a pass in which nothing happened. Short, because a request that
/// arrives meanwhile waits for it; long enough that an idle server stays near 0% CPU.
const BACKOFF: Duration = Duration::from_micros(500);

/// One connection: its socket and its HTTP state.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
}

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Never rest between passes: poll flat out (and watch one core go to 100% while idle).
    #[arg(long)]
    spin: bool,
}

fn main() -> io::Result<()> {
    let (config, flags) = Config::parse_with::<Flags>(8006);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();
    // Non-blocking: accept, read and write return WouldBlock instead of waiting.
    listener.set_nonblocking(true)?;
    let mut clients = Slab::new();
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    let mut next_deadline = None;
    let mut accepting_again = None;

    loop {
        // Try everything in turn: the listener, then every connection. Nothing waits.
        let mut progress = false;
        if accepting_again.is_none() {
            accepting_again = accept_all(&listener, &site, &mut clients);
            next_deadline = next_deadline.or(Some(Instant::now() + site.timeout));
        }
        // Finished connections are dropped by `retain` as it goes. (Removing entries from a
        // list while walking it by index skips the entry after each one removed: the classic
        // bug of this loop.)
        clients.retain(|_, client| handle_connection(client, &mut buffer, &mut progress, &site));

        let now = Instant::now();
        if accepting_again.is_some_and(|at| now >= at) {
            accepting_again = None;
        }
        if next_deadline.is_some_and(|deadline| now >= deadline) {
            next_deadline = close_expired(&mut clients, now, &mut buffer, &site);
        }
        if !progress && !flags.spin {
            thread::sleep(BACKOFF);
        }
    }
}

/// Gives one connection its turn; false when it is over and should be closed.
fn handle_connection(
    client: &mut Client,
    buffer: &mut [u8],
    progress: &mut bool,
    site: &Site,
) -> bool {
    match serve_ready(&mut client.connection, &mut client.stream, buffer) {
        Ok(moved) => *progress |= moved,
        Err(error) => {
            site.log_error(client.peer, &error);
            return false;
        }
    }
    !client.connection.is_finished()
}

/// Accepts every connection waiting in the listen queue. When the process is out of file
/// descriptors, returns the moment to try again.
fn accept_all(
    listener: &TcpListener,
    site: &Arc<Site>,
    clients: &mut Slab<Client>,
) -> Option<Instant> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The queue is empty: back to the loop.
            Err(error) if error.kind() == ErrorKind::WouldBlock => return None,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            // No descriptor for a new socket: the client stays queued in the kernel. Trying
            // again at once would fail again, so pause until connections have closed.
            Err(error) if out_of_descriptors(&error) => {
                eprintln!("accept failed: {error}; pausing for {ACCEPT_PAUSE:?}");
                return Some(Instant::now() + ACCEPT_PAUSE);
            }
            // A failed accept concerns one client (it may have given up already): go on.
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        // Non-blocking, and send small responses at once instead of filling a packet (Nagle).
        if let Err(error) = stream.set_nonblocking(true).and_then(|()| stream.set_nodelay(true)) {
            site.log_error(peer, &error);
            continue;
        }
        let connection = Connection::new(peer, Arc::clone(site), KeepAlive::On);
        clients.insert(Client { stream, peer, connection });
    }
}

/// Closes the connections whose deadline has passed, and returns the next deadline.
///
/// A connection halfway through a request head gets a 408 if its send buffer has room;
/// an idle one is simply closed. Deadlines only move later, so the earliest one found here
/// is the next moment anything can expire.
fn close_expired(
    clients: &mut Slab<Client>,
    now: Instant,
    buffer: &mut [u8],
    site: &Site,
) -> Option<Instant> {
    clients.retain(|_, client| {
        if client.connection.deadline() > now {
            return true;
        }
        client.connection.timed_out();
        handle_connection(client, buffer, &mut false, site)
    });
    clients.iter().map(|(_, client)| client.connection.deadline()).min()
}
