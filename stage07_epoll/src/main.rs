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
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use common::config::{ACCEPT_PAUSE, out_of_descriptors};
use common::nonblocking::serve_ready;
use common::{Config, Connection, KeepAlive, Site};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;

/// How many bytes one read may bring in. One buffer serves every connection in turn; what a
/// connection must keep between turns, it keeps in its own `Connection`.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The listener's key in the poller. Each connection's key is its index in the slab; polling
/// keeps `usize::MAX` for itself.
const LISTENER: usize = usize::MAX - 1;

/// One connection: its socket and its HTTP state, and its registration with the poller.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
    poller: Rc<Poller>,
    key: usize,
    /// (readable, writable) as last registered, so that the poller is told only of changes.
    interest: (bool, bool),
}

fn main() -> io::Result<()> {
    let config = Config::parse(8007);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();
    // Non-blocking: accept, read and write return WouldBlock instead of waiting.
    listener.set_nonblocking(true)?;
    let mut clients = Slab::new();
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    let mut next_deadline = None;
    let mut accepting_again = None;
    let poller = Rc::new(Poller::new()?);
    // Level-triggered, like plain epoll: a socket is reported for as long as it is ready, so
    // bytes left unread are reported again, and interest changes only when it must. (polling's
    // default is oneshot: report once, then nothing until the key is re-armed with `modify`.)
    // SAFETY: `add` is unsafe because a registered socket must not be closed while the poller
    // lives, or epoll could report events for its number once the kernel reuses it. The
    // poller (and every Client, which holds it) is declared after the listener, so it is
    // dropped first: the listener is never closed under a live registration.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    let mut events = Events::new();

    loop {
        // Sleep until a socket is ready or the next deadline is due: no CPU while idle.
        let wake_at = [next_deadline, accepting_again].into_iter().flatten().min();
        let timeout = wake_at.map(|at: Instant| at.saturating_duration_since(Instant::now()));
        events.clear();
        poller.wait(&mut events, timeout)?;

        for event in events.iter() {
            if event.key == LISTENER {
                accepting_again = accept_all(&listener, &site, &mut clients, &poller);
                if accepting_again.is_some() {
                    // Stop watching the listener while paused: it stays readable, and would
                    // wake us again and again for connections we cannot accept yet.
                    poller.modify_with_mode(&listener, Event::none(LISTENER), PollMode::Level)?;
                }
                next_deadline = next_deadline.or(Some(Instant::now() + site.timeout));
            } else if let Some(client) = clients.get_mut(event.key) {
                // (A connection closed earlier in this batch may have had its key reused by a
                // new one: then this event is stale, and the turn simply finds nothing to do.)
                if !handle_connection(client, &mut buffer, &site) {
                    clients.remove(event.key);
                }
            }
        }

        let now = Instant::now();
        if accepting_again.is_some_and(|at| now >= at) {
            poller.modify_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)?;
            accepting_again = None;
        }
        if next_deadline.is_some_and(|deadline| now >= deadline) {
            next_deadline = close_expired(&mut clients, now, &mut buffer, &site);
        }
    }
}

/// Gives one connection its turn; false when it is over and should be closed.
fn handle_connection(client: &mut Client, buffer: &mut [u8], site: &Site) -> bool {
    match serve_ready(&mut client.connection, &mut client.stream, buffer)
        .and_then(|_| client.watch())
    {
        Ok(()) => {}
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
    poller: &Rc<Poller>,
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
        let key = clients.vacant_entry().key();
        // SAFETY: see the listener's registration in main: a Client deletes its stream from
        // the poller when it is dropped (below), before the stream itself is closed.
        let added = unsafe { poller.add_with_mode(&stream, Event::readable(key), PollMode::Level) };
        if let Err(error) = added {
            site.log_error(peer, &error);
            continue;
        }
        let connection = Connection::new(peer, Arc::clone(site), KeepAlive::On);
        let poller = Rc::clone(poller);
        clients.insert(Client { stream, peer, connection, poller, key, interest: (true, false) });
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
        handle_connection(client, buffer, site)
    });
    clients.iter().map(|(_, client)| client.connection.deadline()).min()
}

impl Client {
    /// Tells the poller what this connection waits for next: readable while it waits for a
    /// request, writable only while a response is stuck behind a full send buffer. (Asking
    /// for writable all the time would wake the loop at once, every time: a socket is almost
    /// always writable. That is the busy loop of stage06 again.)
    fn watch(&mut self) -> io::Result<()> {
        let wanted = (self.connection.wants_read(), self.connection.wants_write());
        if wanted != self.interest && !self.connection.is_finished() {
            let event = Event::new(self.key, wanted.0, wanted.1);
            self.poller.modify_with_mode(&self.stream, event, PollMode::Level)?;
            self.interest = wanted;
        }
        Ok(())
    }
}

impl Drop for Client {
    /// A connection leaves the poller before its socket is closed (the contract of `add`).
    fn drop(&mut self) {
        // Deleting fails only if the socket was never added; there is nothing to undo then.
        let _ = self.poller.delete(&self.stream);
    }
}
