//! Stage 6: one thread, non-blocking sockets, busy polling.
//!
//! New since stage05: no process, thread or coroutine per connection at all. One thread
//! serves every connection by never waiting: its sockets are non-blocking, so a read with
//! nothing to read fails at once with `WouldBlock` instead of sleeping. The loop tries to
//! accept, then gives every connection a turn (read what has arrived, write what fits), and
//! starts over. Each connection's state lives in its `Connection`, between turns.
//!
//! The catch: without the kernel telling us which socket is ready, the loop must keep
//! asking. Asking non-stop burns a whole core while idle (`examples/spin.rs` shows it);
//! resting a little after a pass that found nothing saves the core but delays the next
//! request. Stage07 removes the dilemma.
//!
//! Run `cargo run -p stage06_nonblocking`, open <http://127.0.0.1:8006>, and compare `top`
//! with the stage and with `--example spin`, and `strace -p $(pgrep stage06)` (reads failing
//! with EAGAIN).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use slab::Slab;

/// How many bytes one read may bring in. One buffer serves every connection in turn; what a
/// connection must keep between turns, it keeps in its own `Connection`.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// How long to rest after a pass in which nothing happened. Short, because a request that
/// arrives meanwhile waits for it; long enough that an idle server uses a few percent of a
/// core instead of all of it.
const BACKOFF: Duration = Duration::from_micros(500);

/// One connection: its socket and its HTTP state.
struct Session {
    stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
}

fn main() {
    let config = Config::parse(common::command!(), 8006);
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
        // Try everything in turn: the listener, then every connection. Nothing waits.
        let mut progress = false;
        if accepting_again.is_none() {
            accepting_again = accept_all(&listener, &site, settings, &mut sessions);
            next_deadline = next_deadline.or(Some(Instant::now() + settings.timeout));
        }
        // Finished connections are dropped by `retain` as it goes. (Removing entries from a
        // list while walking it by index skips the entry after each one removed: the classic
        // bug of this loop.)
        sessions.retain(|_, session| handle_turn(session, &mut buffer, &mut progress, settings));

        let now = Instant::now();
        if accepting_again.is_some_and(|at| now >= at) {
            accepting_again = None;
        }
        if next_deadline.is_some_and(|deadline| now >= deadline) {
            next_deadline = close_expired(&mut sessions, now, &mut buffer, settings);
        }
        if !progress {
            thread::sleep(BACKOFF);
        }
    }
}

/// Gives one connection its turn; false when it is over and should be closed.
fn handle_turn(
    session: &mut Session,
    buffer: &mut [u8],
    progress: &mut bool,
    settings: Settings,
) -> bool {
    match serve_ready(session, buffer) {
        Ok(moved) => *progress |= moved,
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
/// exactly where it stopped. Returns whether anything moved (bytes read or written, or the
/// peer's close).
///
/// One read per turn, not "until `WouldBlock`": the buffer is large, so one read usually
/// takes everything, and a last read only to hear `WouldBlock` would cost a system call per
/// request. Bytes left behind are not lost: the next turn comes back for them.
fn serve_ready(session: &mut Session, buffer: &mut [u8]) -> io::Result<bool> {
    let mut progress = send(session)?;
    if session.connection.wants_read() {
        match session.stream.read(buffer) {
            // A read of 0 bytes means the peer closed its side.
            Ok(0) => session.connection.received_eof(),
            Ok(count) => session.connection.received(&buffer[..count]),
            // Nothing to read right now, or a signal arrived: come back later.
            Err(error)
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
            {
                return Ok(progress);
            }
            Err(error) => return Err(error),
        }
        progress = true;
        send(session)?;
    }
    Ok(progress)
}

/// Writes queued bytes until none are left or the kernel's send buffer is full.
fn send(session: &mut Session) -> io::Result<bool> {
    let mut progress = false;
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
            Ok(count) => {
                session.connection.sent(count);
                progress = true;
            }
            // The send buffer is full: the rest waits until the peer has read some.
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            // A signal arrived during the call: just make it again.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(progress)
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
        sessions.insert(Session { stream, peer, connection });
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
        handle_turn(session, buffer, &mut false, settings)
    });
    sessions.iter().map(|(_, session)| session.connection.deadline()).min()
}
