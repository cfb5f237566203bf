//! Stage 7: one thread, woken by readiness events (epoll).
//!
//! New since stage06: instead of trying every socket in turn, the thread asks the kernel
//! which sockets are ready, and sleeps until one is. The `polling` crate wraps epoll: every
//! socket is registered once under a key, and `wait` returns the keys of the ready ones.
//! Nothing is tried in vain, nothing spins, and an idle server uses no CPU at all, however
//! many connections it holds. This is how nginx, Redis and every async runtime work.
//!
//! Run `cargo run -p stage07_epoll`, open <http://127.0.0.1:8007>, and compare `top` (0% CPU
//! when idle) and `strace -p $(pgrep stage07)` (one `epoll_wait`, then only useful calls).

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::nonblocking::serve_ready;
use common::{Config, Connection, KeepAlive, Site};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;

/// How many bytes one read may bring in. One buffer serves every connection in turn; what a
/// connection must keep between turns, it keeps in its own `Connection`.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How long to stop accepting when the process runs out of file descriptors (EMFILE), so that
/// open connections can finish and free some instead of the loop spinning on a failing accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The listener's key in the poller. Connections use their slab index; polling keeps
/// `usize::MAX` for itself.
const LISTENER: usize = usize::MAX - 1;

/// One connection: its socket, its HTTP state, and what the poller watches it for.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
    /// (readable, writable) as last registered, so that the poller is told only of changes.
    interest: (bool, bool),
}

fn main() -> io::Result<()> {
    let config = Config::parse(8007);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();
    // Non-blocking: accept, read and write return WouldBlock instead of waiting.
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // Level-triggered (like plain epoll): a socket is reported as long as it is ready, so
    // bytes left unread are reported again, and interest is changed only when it must be.
    // (polling's default is oneshot: report once, then nothing until the key is re-armed.)
    // SAFETY: `add` is unsafe because a socket must be deleted from the poller before it is
    // closed, or epoll may report events for its number after the kernel reuses it. The
    // listener lives until main returns, and the poller, declared after it, is dropped first.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    let mut clients = Slab::new();
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    let mut events = Events::new();
    let mut next_deadline = None;
    let mut accepting_again = None;

    loop {
        // Sleep until a socket is ready or the next deadline is due: no CPU while idle.
        let wake_at = [next_deadline, accepting_again].into_iter().flatten().min();
        let timeout = wake_at.map(|at: Instant| at.saturating_duration_since(Instant::now()));
        events.clear();
        poller.wait(&mut events, timeout)?;

        for event in events.iter() {
            if event.key == LISTENER {
                if !accept_all(&listener, &site, &mut clients, &poller)? {
                    poller.modify_with_mode(&listener, Event::none(LISTENER), PollMode::Level)?;
                    accepting_again = Some(Instant::now() + ACCEPT_PAUSE);
                }
                next_deadline = next_deadline.or(Some(Instant::now() + site.timeout));
            } else if let Some(client) = clients.get_mut(event.key) {
                // (A key closed earlier in this batch may already be reused by a new client:
                // then this event is stale, and the turn finds nothing to do.)
                if !handle_connection(client, event.key, &mut buffer, &poller, &site) {
                    close(&mut clients, event.key, &poller);
                }
            }
        }

        let now = Instant::now();
        if accepting_again.is_some_and(|at| now >= at) {
            poller.modify_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)?;
            accepting_again = None;
        }
        if next_deadline.is_some_and(|deadline| now >= deadline) {
            next_deadline = close_expired(&mut clients, now, &mut buffer, &poller, &site);
        }
    }
}

/// Gives one connection its turn; false when it is over and should be closed.
fn handle_connection(
    client: &mut Client,
    key: usize,
    buffer: &mut [u8],
    poller: &Poller,
    site: &Site,
) -> bool {
    if let Err(error) = serve_ready(&mut client.connection, &mut client.stream, buffer) {
        site.log_error(client.peer, &error);
        return false;
    }
    if client.connection.is_finished() {
        return false;
    }
    // Watch for what the connection needs next: readable while it waits for a request,
    // writable only while a response is stuck in a full send buffer (asking for writable
    // otherwise would wake us at once, every time: a socket is almost always writable).
    let wanted = (client.connection.wants_read(), client.connection.wants_write());
    if wanted != client.interest {
        let event = Event::new(key, wanted.0, wanted.1);
        if let Err(error) = poller.modify_with_mode(&client.stream, event, PollMode::Level) {
            site.log_error(client.peer, &error);
            return false;
        }
        client.interest = wanted;
    }
    true
}

/// Accepts every connection waiting in the listen queue. False when the process is out of
/// file descriptors, and accepting must pause.
fn accept_all(
    listener: &TcpListener,
    site: &Arc<Site>,
    clients: &mut Slab<Client>,
    poller: &Poller,
) -> io::Result<bool> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The queue is empty: back to the loop.
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            // EMFILE / ENFILE: no descriptor for the new socket. The connection stays queued.
            Err(error) if matches!(error.raw_os_error(), Some(24 | 23)) => {
                eprintln!("accept failed: {error}; pausing accepts");
                return Ok(false);
            }
            // A failed accept concerns one client (it may have given up already): go on.
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        stream.set_nonblocking(true)?;
        // Send small responses at once instead of waiting to fill a packet (Nagle).
        stream.set_nodelay(true)?;
        let entry = clients.vacant_entry();
        // SAFETY: as for the listener: `close` deletes every client's stream from the poller
        // before dropping it, and this is the only place clients are added.
        unsafe { poller.add_with_mode(&stream, Event::readable(entry.key()), PollMode::Level)? };
        let connection = Connection::new(peer, Arc::clone(site), KeepAlive::On);
        entry.insert(Client { stream, peer, connection, interest: (true, false) });
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
    poller: &Poller,
    site: &Site,
) -> Option<Instant> {
    let expired: Vec<usize> = clients
        .iter()
        .filter(|(_, client)| client.connection.deadline() <= now)
        .map(|(key, _)| key)
        .collect();
    for key in expired {
        let client = &mut clients[key];
        client.connection.timed_out();
        if !handle_connection(client, key, buffer, poller, site) {
            close(clients, key, poller);
        }
    }
    clients.iter().map(|(_, client)| client.connection.deadline()).min()
}

/// Removes a connection: first from the poller, then from the table, which closes its socket.
fn close(clients: &mut Slab<Client>, key: usize, poller: &Poller) {
    let client = clients.remove(key);
    // Deleting can only fail if the socket was never added; there is nothing to undo then.
    let _ = poller.delete(&client.stream);
}
