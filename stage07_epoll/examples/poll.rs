//! A VARIANT OF STAGE07, for comparison: poll(2) instead of epoll. Every wake-up hands the
//! kernel the whole list of sockets and gets it back with the ready ones marked, so a wake-up
//! costs O(number of connections), however few are ready. `diff -u examples/poll.rs
//! src/main.rs` is the step from poll to epoll.
//!
//! Stage 7: one thread, woken by readiness events (epoll).
//!
//! New since stage06: instead of trying every socket in turn, the thread asks the kernel
//! which sockets are ready, and sleeps until one is. The `polling` crate wraps epoll: every
//! socket is registered once under a key, and `wait` returns the keys of the ready ones.
//! Nothing is tried in vain, nothing spins, and an idle server uses no CPU at all, however
//! many connections it holds. This is how nginx, Redis and the readiness-based async
//! runtimes (tokio's reactor is epoll underneath) work.
//!
//! Run `cargo run -p stage07_epoll`, open <http://127.0.0.1:8007>, and compare `top` (0% CPU
//! when idle) and `strace -p $(pgrep stage07)` (one `epoll_wait`, then only useful calls).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use slab::Slab;

/// How many bytes one read may bring in. One buffer serves every connection in turn; what a
/// connection must keep between turns, it keeps in its own `Connection`.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// The listener's key in the list handed to poll. Each connection's key is its index in the
/// slab.
const LISTENER: usize = usize::MAX - 1;

/// One connection: its socket and its HTTP state, and what it waits for.
struct Session {
    stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
    /// (readable, writable): what the next poll asks about this socket.
    interest: (bool, bool),
}

fn main() {
    let config = Config::parse(common::command!(), 8007);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    // Non-blocking: accept, read and write return WouldBlock instead of waiting.
    listener.set_nonblocking(true).or_exit();
    let mut sessions = Slab::new();
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    let mut next_deadline = None;
    let mut accepting_again = None;

    loop {
        // Sleep until a socket is ready or the next deadline is due: no CPU while idle.
        let wake_at = [next_deadline, accepting_again].into_iter().flatten().min();
        let timeout = wake_at.map(|at: Instant| at.saturating_duration_since(Instant::now()));
        // poll(2): nothing is registered; the whole list goes to the kernel on every call.
        let ready = poll_all(&listener, accepting_again.is_none(), &sessions, timeout).or_exit();

        for key in ready {
            if key == LISTENER {
                accepting_again = accept_all(&listener, &site, settings, &mut sessions);
                next_deadline = next_deadline.or(Some(Instant::now() + settings.timeout));
            } else if let Some(session) = sessions.get_mut(key) {
                // (A connection closed earlier in this batch may have had its key reused by a
                // new one: then this event is stale, and the turn simply finds nothing to do.)
                if !handle_turn(session, &mut buffer, settings) {
                    sessions.remove(key);
                }
            }
        }

        let now = Instant::now();
        if accepting_again.is_some_and(|at| now >= at) {
            accepting_again = None;
        }
        if next_deadline.is_some_and(|deadline| now >= deadline) {
            next_deadline = close_expired(&mut sessions, now, &mut buffer, settings);
        }
    }
}

/// Gives one connection its turn; false when it is over and should be closed.
fn handle_turn(session: &mut Session, buffer: &mut [u8], settings: Settings) -> bool {
    match serve_ready(session, buffer).and_then(|()| session.watch()) {
        Ok(()) => {}
        Err(error) => {
            settings.log.error(session.peer, &error);
            return false;
        }
    }
    !session.connection.is_finished()
}

/// One turn of a connection on its non-blocking socket: sends what is queued, reads once if
/// it wants more, answers what arrived, and sends that too, stopping at the first
/// `WouldBlock`. That is not an error: it means "not now", and the `Connection` remembers
/// exactly where it stopped.
///
/// One read per turn, not "until `WouldBlock`": the buffer is large, so one read usually
/// takes everything, and a last read only to hear `WouldBlock` would cost a system call per
/// request. Bytes left behind are not lost: the next turn comes back for them.
fn serve_ready(session: &mut Session, buffer: &mut [u8]) -> io::Result<()> {
    send(session)?;
    if session.connection.wants_read() {
        match session.stream.read(buffer) {
            // A read of 0 bytes means the peer closed its side.
            Ok(0) => session.connection.received_eof(),
            Ok(count) => session.connection.received(&buffer[..count]),
            // Nothing to read right now, or a signal arrived: come back later.
            Err(error)
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
            {
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        send(session)?;
    }
    Ok(())
}

/// Writes queued bytes until none are left or the kernel's send buffer is full.
fn send(session: &mut Session) -> io::Result<()> {
    while session.connection.wants_write() {
        let written = match session.connection.to_send() {
            Pending::Nothing => break,
            Pending::Fin => {
                // The client may still be sending: a FIN after the last byte, then read on
                // until it closes its side too (see common::Pending::Fin).
                session.stream.shutdown(Shutdown::Write)?;
                session.connection.shut_down();
                break;
            }
            Pending::Bytes(bytes) => session.stream.write(bytes),
            // The rest of a large file: sendfile(2), from the page cache straight to the
            // socket, never copied through this process.
            Pending::File(file, count) => common::net::send_file(&session.stream, file, count),
        };
        match written {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(count) => session.connection.sent(count),
            // The send buffer is full: the rest waits until the peer has read some.
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            // A signal arrived during the call: just make it again.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Accepts every connection waiting in the listen queue. When the process is out of file
/// descriptors, returns the moment to try again.
fn accept_all(
    listener: &TcpListener,
    site: &Site,
    settings: Settings,
    sessions: &mut Slab<Session>,
) -> Option<Instant> {
    loop {
        // accept4(SOCK_NONBLOCK): the new socket is non-blocking from birth, so read and
        // write return WouldBlock instead of waiting, at no extra system call.
        let (stream, peer) = match common::net::accept_nonblocking(listener) {
            Ok(accepted) => accepted,
            // The queue is empty: back to the loop.
            Err(error) if error.kind() == ErrorKind::WouldBlock => return None,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            // Out of descriptors, the client stays queued in the kernel, and trying again at
            // once would fail again: pause until connections have closed. Any other failure
            // concerns one client (it may have given up already): go on.
            Err(error) => match common::net::pause_after_failed_accept(&error) {
                Some(pause) => return Some(Instant::now() + pause),
                None => continue,
            },
        };
        let connection = Connection::new(peer, site.clone(), settings);
        // Readable: its request comes first, and the next poll reports it once it is there.
        sessions.insert(Session { stream, peer, connection, interest: (true, false) });
    }
}

/// Closes the connections whose deadline has passed, and returns the next deadline.
///
/// A connection halfway through a request gets a 408 if its send buffer has room; an idle
/// one is simply closed. Deadlines only move later, so the earliest one found here is the
/// next moment anything can expire.
fn close_expired(
    sessions: &mut Slab<Session>,
    now: Instant,
    buffer: &mut [u8],
    settings: Settings,
) -> Option<Instant> {
    sessions.retain(|_, session| {
        if session.connection.deadline() > now {
            return true;
        }
        session.connection.timed_out();
        handle_turn(session, buffer, settings)
    });
    sessions.iter().map(|(_, session)| session.connection.deadline()).min()
}

impl Session {
    /// Remembers what this connection waits for next: readable while it waits for a request,
    /// writable only while a response is stuck behind a full send buffer. (Asking for writable
    /// all the time would wake the loop at once, every time: a socket is almost always
    /// writable.) With poll there is nothing to register: the next call asks again.
    fn watch(&mut self) -> io::Result<()> {
        self.interest = (self.connection.wants_read(), self.connection.wants_write());
        Ok(())
    }
}

/// Hands poll(2) the list of every socket and what it waits for (the listener too, unless
/// accepting is paused), sleeps until one is ready or `timeout` passes, and returns the keys
/// of the ready ones. The list is built and copied into the kernel on every call, and the
/// kernel checks every socket on it: O(number of connections) per wake-up.
fn poll_all(
    listener: &TcpListener,
    accepting: bool,
    sessions: &Slab<Session>,
    timeout: Option<Duration>,
) -> io::Result<Vec<usize>> {
    let flags = |(read, write): (bool, bool)| {
        let mut flags = PollFlags::empty();
        flags.set(PollFlags::POLLIN, read);
        flags.set(PollFlags::POLLOUT, write);
        flags
    };
    let mut fds = vec![PollFd::new(listener.as_fd(), flags((accepting, false)))];
    let mut keys = vec![LISTENER];
    for (key, session) in sessions {
        fds.push(PollFd::new(session.stream.as_fd(), flags(session.interest)));
        keys.push(key);
    }
    // poll counts in whole milliseconds: round up, or a deadline 0.5 ms away would be polled
    // for again and again with a timeout of 0 until it is due.
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(timeout) => {
            let millis = timeout.as_nanos().div_ceil(1_000_000);
            PollTimeout::try_from(millis.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
        }
    };
    match poll(&mut fds, timeout) {
        Ok(_) => {}
        // A signal arrived: nothing is ready, the loop comes back.
        Err(Errno::EINTR) => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    }
    let ready = |fd: &PollFd| fd.revents().is_some_and(|revents| !revents.is_empty());
    Ok(fds.iter().zip(keys).filter(|(fd, _)| ready(fd)).map(|(_, key)| key).collect())
}
