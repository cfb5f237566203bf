//! THE EXERCISE, DONE: stage10 with one ring per core: `--workers N` threads, each with its
//! own ring and its own SO_REUSEPORT listener (stage08's idea), sharing nothing.
//!
//! Stage 10: one thread, one io_uring: completion-based I/O.
//!
//! New since stage07: the thread no longer asks "which sockets are ready?" and then makes each
//! call itself. It hands the kernel the operations themselves (accept, receive, send, close)
//! in a ring of submissions shared with the kernel, many of them at once with one system call
//! (`io_uring_enter`), and later collects their results from a second ring, the completions.
//! Each completion carries the `user_data` its submission was given: here a connection's key
//! in the slab and the kind of operation, which lead back to its `Connection`. The price: a
//! buffer handed to the kernel belongs to the kernel until its operation completes, and the
//! borrow checker cannot see that; every `unsafe` below says why the buffer outlives it.
//!
//! Run `cargo run -p stage10_uring`, open <http://127.0.0.1:8010>, and compare
//! `strace -f -p $(pgrep stage10)` (almost nothing but `io_uring_enter`) with stage07's.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, ErrorKind};
use std::mem;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::thread;
use std::time::Instant;

use clap::Args;
use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use io_uring::{cqueue, opcode, squeue, types};
use slab::Slab;

#[path = "../src/ring.rs"]
mod ring;

/// The receive buffers, provided to the kernel up front: a receive takes one only when its
/// bytes arrive, so an idle connection holds none. They are given back after each completion,
/// so the count bounds only how many receives can complete in one batch.
const BUFFER_COUNT: u16 = 512;

/// The size of each receive buffer; a request head is usually a few hundred bytes.
const BUFFER_BYTES: usize = 4096;

/// The group the receive buffers are provided under (a ring could have several).
const BUFFER_GROUP: u16 = 0;

/// How many accepts are in flight at once, each with its own place for the peer's address.
const ACCEPTS: usize = 16;

/// The size each connection's pipe asks for, and so the most of a large file one splice
/// moves: 64 pages, where a pipe has 16 unless made larger.
const PIPE_BYTES: usize = 256 * 1024;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Threads, each with its own ring and listening socket [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: Option<u32>,
}

/// What a completion is the result of. With the key, its byte is packed into the
/// `user_data` of the submission and comes back, unchanged, in the completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Operation {
    /// An accept, in the place of that number (the key is the place).
    Accept = 0,
    /// A receive for the connection with this key.
    Receive = 1,
    /// A send for the connection with this key.
    Send = 2,
    /// The close of the connection with this key: its last operation.
    Close = 3,
    /// A cancel of a connection's receive or send (its deadline passed).
    Cancel = 4,
    /// A receive buffer given back to the kernel.
    ProvideBuffer = 5,
    /// A wait for room in the socket of the connection with this key (the loop's own splice
    /// of a large file does not wait).
    Writable = 6,
    /// The shutdown of the writing side of the connection with this key (a lingering close).
    Shutdown = 7,
}

impl Operation {
    /// The operation whose byte (`operation as u8`) a completion brings back.
    fn from_byte(byte: u8) -> Operation {
        match byte {
            0 => Operation::Accept,
            1 => Operation::Receive,
            2 => Operation::Send,
            3 => Operation::Close,
            4 => Operation::Cancel,
            5 => Operation::ProvideBuffer,
            6 => Operation::Writable,
            7 => Operation::Shutdown,
            _ => unreachable!("only our own user_data comes back"),
        }
    }
}

/// One connection: its socket, its HTTP state, and what the kernel is doing for it.
struct Session {
    /// The socket. Owned by the session, and closed by a `Close` operation, not by a drop.
    fd: RawFd,
    peer: SocketAddr,
    connection: Connection,
    /// The one operation in flight for this connection, if any. While it is, its buffers
    /// belong to the kernel, so the session is neither changed nor freed.
    in_flight: Option<Operation>,
    /// Its deadline passed while an operation was in flight: the operation is being
    /// cancelled, and the connection times out when it completes.
    expired: bool,
    /// The pipe a large file is sent through, made for the connection's first one.
    pipe: Option<Pipe>,
}

/// A pipe between a large file and a socket. io_uring has no sendfile, but it has splice,
/// which moves bytes between a pipe and a file or a socket: the file's pages go into the pipe
/// and from the pipe into the socket by reference, never copied through this process.
struct Pipe {
    reader: OwnedFd,
    writer: OwnedFd,
    /// Bytes spliced in from the file and not yet out into the socket.
    holds: usize,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut ends = [0; 2];
        // SAFETY: pipe2 writes two new descriptors into `ends`, which has room for them.
        if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just made, and nothing else owns them.
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
        // Refused past the user's share of pipe pages (fs.pipe-user-pages-soft), the pipe
        // keeps its 16 pages and simply moves less at a time.
        // SAFETY: F_SETPIPE_SZ only changes the pipe's size; the descriptor is open.
        unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES as libc::c_int) };
        Ok(Pipe { reader, writer, holds: 0 })
    }

    /// Moves the file's next `count` bytes (from its position, which moves on) into the empty
    /// pipe, with splice(2) itself rather than through the ring. A splice in the ring runs on
    /// one of the kernel's worker threads, always: a switch to that thread and back for a call
    /// that cannot wait for a client (the pipe has room), only at worst for the disk, as every
    /// stage's file reads do.
    fn fill(&mut self, file: &File, count: usize) -> io::Result<()> {
        // SAFETY: both descriptors are open (borrowed), and null offsets make the kernel use
        // and move the file's own position: no memory of ours is read or written.
        let moved = unsafe {
            libc::splice(
                file.as_raw_fd(),
                ptr::null_mut(),
                self.writer.as_raw_fd(),
                ptr::null_mut(),
                count,
                0,
            )
        };
        match moved {
            -1 => Err(io::Error::last_os_error()),
            0 => Err(io::Error::new(ErrorKind::UnexpectedEof, "file shrank while being sent")),
            moved => {
                self.holds = moved as usize;
                Ok(())
            }
        }
    }

    /// Moves what the pipe holds into `socket`, as much as the socket has room for, with
    /// splice(2) itself too: in the ring, this splice would also run on a worker thread, a
    /// switch there and back for every piece of every large file. The socket is non-blocking
    /// (see `accept`), so this never waits: with no room it fails with EAGAIN, and the ring is
    /// asked to say when there is room (a poll, which holds no thread). Returns the bytes moved.
    fn drain(&self, socket: RawFd) -> io::Result<usize> {
        // SAFETY: both descriptors are open; a pipe and a socket have no offsets to pass.
        let moved = unsafe {
            libc::splice(
                self.reader.as_raw_fd(),
                ptr::null_mut(),
                socket,
                ptr::null_mut(),
                self.holds,
                libc::SPLICE_F_NONBLOCK,
            )
        };
        if moved == -1 { Err(io::Error::last_os_error()) } else { Ok(moved as usize) }
    }
}

/// Where one accept writes the address of the peer it accepts.
struct AcceptPlace {
    address: socket2::SockAddrStorage,
    length: libc::socklen_t,
}

fn main() {
    let (config, flags) = Config::parse_with::<Flags>(common::command!(), 8010);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    let cores = thread::available_parallelism().map_or(1, |cores| cores.get());
    let workers = flags.workers.map_or(cores, |workers| workers as usize);
    // One listening socket per worker on the same port (SO_REUSEPORT), as in stage08.
    let listeners = config.listen_reuseport(workers).or_exit();
    let mut threads = Vec::new();
    for (number, listener) in listeners.into_iter().enumerate() {
        let site = site.clone();
        let worker = thread::Builder::new().name(format!("worker-{number}"));
        threads.push(worker.spawn(move || event_loop(listener, site, settings)).or_exit());
    }
    for thread in threads {
        let _ = thread.join();
    }
}

/// One worker: stage10's loop, with its own ring, buffers and sessions.
fn event_loop(listener: TcpListener, site: Site, settings: Settings) {
    // Complete an accept only once the connection's request has arrived (as stage07), so that
    // the receive queued right after it finds the bytes there and completes at once, instead
    // of making the kernel arm a poll on an empty socket and come back later.
    common::net::defer_accept(&listener).or_exit();
    let mut ring = ring::start().or_exit();
    let mut sessions: Slab<Session> = Slab::new();
    // The receive buffers and the accepts' address places are handed to the kernel by
    // pointer: leaked, they live as long as the process and never move.
    let buffers: *mut u8 =
        Vec::leak(vec![0; usize::from(BUFFER_COUNT) * BUFFER_BYTES]).as_mut_ptr();
    let empty_place = || AcceptPlace { address: socket2::SockAddrStorage::zeroed(), length: 0 };
    let places: *mut AcceptPlace =
        Vec::leak((0..ACCEPTS).map(|_| empty_place()).collect()).as_mut_ptr();
    let mut queued = Queued::default();
    queued.provide_all_buffers(buffers);
    for place in 0..ACCEPTS {
        queued.accept(&listener, places, place);
    }
    let mut completions = Vec::new();
    let mut next_deadline = None;
    let mut accepting_again = None;
    let mut paused_places = Vec::new();

    loop {
        // Hand the kernel every operation queued, and sleep until one completes or the next
        // deadline is due: one `io_uring_enter` for both.
        let wake_at = [next_deadline, accepting_again].into_iter().flatten().min();
        let timeout = wake_at.map(|at: Instant| at.saturating_duration_since(Instant::now()));
        // SAFETY: every queued entry's buffers outlive its operation (see `Queued`).
        unsafe { ring::submit_and_wait(&mut ring, &mut queued.0, timeout) }.or_exit();

        // Take every completion out of the ring at once, making room for more.
        completions.clear();
        completions.extend(ring.completion());
        for completion in &completions {
            let (key, byte) = ring::unpack(completion.user_data());
            let result = ring::outcome(completion.result());
            match Operation::from_byte(byte) {
                Operation::Accept => {
                    match result.and_then(|fd| {
                        accepted(fd, places, key, &site, settings, &mut sessions, &mut queued)
                    }) {
                        Ok(()) => queued.accept(&listener, places, key),
                        // Out of descriptors: this place pauses (the client stays queued in
                        // the kernel). Any other failure concerns one client: accept again.
                        Err(error) => match common::net::pause_after_failed_accept(&error) {
                            Some(pause) => {
                                accepting_again = Some(Instant::now() + pause);
                                paused_places.push(key);
                            }
                            None => queued.accept(&listener, places, key),
                        },
                    }
                    next_deadline = next_deadline.or(Some(Instant::now() + settings.timeout));
                }
                Operation::Receive => {
                    let session = sessions.get_mut(key).expect("a session outlives its operations");
                    let outcome =
                        received(session, result, completion.flags(), buffers, &mut queued);
                    handle_completion(key, session, outcome, &mut queued, settings);
                }
                Operation::Send => {
                    let session = sessions.get_mut(key).expect("a session outlives its operations");
                    let outcome = result.and_then(|count| sent(session, count));
                    handle_completion(key, session, outcome, &mut queued, settings);
                }
                Operation::Writable => {
                    let session = sessions.get_mut(key).expect("a session outlives its operations");
                    handle_completion(key, session, result.map(drop), &mut queued, settings);
                }
                Operation::Shutdown => {
                    let session = sessions.get_mut(key).expect("a session outlives its operations");
                    let outcome = result.map(|_| session.connection.shut_down());
                    handle_completion(key, session, outcome, &mut queued, settings);
                }
                Operation::Close => drop(sessions.remove(key)),
                // Nothing to do: a cancelled operation reports in its own completion.
                Operation::Cancel => {}
                // The kernel refused our buffers: nothing could ever be received.
                Operation::ProvideBuffer => _ = result.or_exit(),
            }
        }

        let now = Instant::now();
        if accepting_again.is_some_and(|at| now >= at) {
            for place in paused_places.drain(..) {
                queued.accept(&listener, places, place);
            }
            accepting_again = None;
        }
        if next_deadline.is_some_and(|deadline| now >= deadline) {
            next_deadline = close_expired(&mut sessions, now, &mut queued);
        }
    }
}

/// A connection's receive or send has completed with `outcome`: queues what the connection
/// needs next (another receive, a send, or its close), or closes it after an error.
fn handle_completion(
    key: usize,
    session: &mut Session,
    outcome: io::Result<()>,
    queued: &mut Queued,
    settings: Settings,
) {
    session.in_flight = None;
    let outcome = match outcome {
        // Its time is up: whatever the cancelled operation reports (ECANCELED, or what it had
        // done), the connection times out.
        Err(_) if session.expired => Ok(()),
        other => other,
    };
    if mem::take(&mut session.expired) {
        session.connection.timed_out();
    }
    if let Err(error) = outcome.and_then(|()| queued.next_operation(key, session)) {
        settings.log.error(session.peer, &error);
        queued.close(key, session);
    }
}

/// A receive has completed with `result`: hands its bytes to the `Connection` and the buffer
/// (named in the completion's `flags`) back to the kernel.
fn received(
    session: &mut Session,
    result: io::Result<u32>,
    flags: u32,
    buffers: *mut u8,
    queued: &mut Queued,
) -> io::Result<()> {
    let count = match result {
        // No free buffer (more receives completed at once than there are buffers): the ones
        // in use come back this turn, so simply receive again.
        Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => return Ok(()),
        other => other? as usize,
    };
    // A receive of 0 bytes (the peer closed its side) may come without a buffer.
    let Some(buffer) = cqueue::buffer_select(flags) else {
        session.connection.received_eof();
        return Ok(());
    };
    let start = usize::from(buffer) * BUFFER_BYTES;
    // SAFETY: the kernel filled `count` bytes of buffer number `buffer` for this receive and,
    // having completed it, no longer writes there; the buffer is inside the leaked allocation,
    // and is provided again only below, after its bytes have been copied into the Connection.
    let bytes = unsafe { std::slice::from_raw_parts(buffers.add(start), count) };
    match count {
        0 => session.connection.received_eof(),
        _ => session.connection.received(bytes),
    }
    queued.provide_buffer(buffers, buffer);
    Ok(())
}

/// A send has completed, having sent `count` bytes: queued bytes, or a file's from the pipe.
fn sent(session: &mut Session, count: u32) -> io::Result<()> {
    if count == 0 {
        return Err(ErrorKind::WriteZero.into());
    }
    // While the pipe holds part of a file, nothing else is sent: these bytes came from it.
    if let Some(pipe) = session.pipe.as_mut().filter(|pipe| pipe.holds > 0) {
        pipe.holds -= count as usize;
    }
    session.connection.sent(count as usize);
    Ok(())
}

/// An accept in place `place` has completed with the new socket `fd`: a new connection, with
/// its first receive queued.
fn accepted(
    fd: u32,
    places: *mut AcceptPlace,
    place: usize,
    site: &Site,
    settings: Settings,
    sessions: &mut Slab<Session>,
    queued: &mut Queued,
) -> io::Result<()> {
    // SAFETY: the accept in this place has completed, so the kernel has written the peer's
    // address there and no longer touches it; the place is reused only by the next accept,
    // queued after this.
    let address = unsafe {
        let place = &*places.add(place);
        socket2::SockAddr::new(ptr::read(&place.address), place.length)
    };
    let peer = address.as_socket().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    let connection = Connection::new(peer, site.clone(), settings);
    let session =
        Session { fd: fd as RawFd, peer, connection, in_flight: None, expired: false, pipe: None };
    let key = sessions.insert(session);
    queued.next_operation(key, &mut sessions[key])
}

/// Marks the connections whose deadline has passed, cancelling the operation each has in
/// flight (it completes with `ECANCELED`, or with what it had done), and returns the next
/// deadline. The connection times out when that completion comes: a 408 if it was halfway
/// through a request, otherwise simply its close.
fn close_expired(
    sessions: &mut Slab<Session>,
    now: Instant,
    queued: &mut Queued,
) -> Option<Instant> {
    for (key, session) in sessions.iter_mut() {
        if session.expired || session.connection.deadline() > now {
            continue;
        }
        if let Some(operation) = session.in_flight.filter(|&op| op != Operation::Close) {
            session.expired = true;
            queued.cancel(key, operation);
        }
    }
    let waiting = sessions.iter().filter(|(_, session)| !session.expired);
    waiting.map(|(_, session)| session.connection.deadline()).min()
}

/// The operations waiting to be handed to the kernel, in order. Every entry's buffers stay
/// valid until its completion (each builder below says why); `ring::submit_and_wait` moves them
/// into the submission ring as room allows.
#[derive(Default)]
struct Queued(VecDeque<squeue::Entry>);

impl Queued {
    /// Queues what a connection with no operation in flight needs next: a send of what its
    /// `Connection` has queued (a large file through its pipe), a shutdown of its writing side
    /// (a lingering close), its close when it is over, otherwise a receive.
    fn next_operation(&mut self, key: usize, session: &mut Session) -> io::Result<()> {
        let socket = types::Fd(session.fd);
        match session.connection.to_send() {
            Pending::Bytes(bytes) => {
                // The bytes live in the Connection's own buffer, on the heap: moving the
                // session (the slab growing) does not move them, and nothing changes the
                // Connection until this send completes (one operation in flight per connection).
                let send = opcode::Send::new(socket, bytes.as_ptr(), bytes.len() as u32)
                    .flags(libc::MSG_NOSIGNAL);
                self.push(send.build(), key, Operation::Send);
                session.in_flight = Some(Operation::Send);
            }
            Pending::File(file, count) => {
                let pipe = match &mut session.pipe {
                    Some(pipe) => pipe,
                    None => session.pipe.insert(Pipe::new()?),
                };
                if pipe.holds == 0 {
                    pipe.fill(file, count.min(PIPE_BYTES))?;
                }
                match pipe.drain(session.fd) {
                    // Sent at once, with no operation in the ring: on to what comes next (the
                    // next piece, until the socket's buffer is full or the file is sent).
                    Ok(moved) => {
                        sent(session, moved as u32)?;
                        return self.next_operation(key, session);
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        self.wait_writable(key, session);
                    }
                    Err(error) => return Err(error),
                }
            }
            Pending::Fin => {
                // The client may still be sending: a FIN after the last byte, then receive on
                // until it closes its side too (see common::Pending::Fin).
                let shutdown = opcode::Shutdown::new(socket, libc::SHUT_WR);
                self.push(shutdown.build(), key, Operation::Shutdown);
                session.in_flight = Some(Operation::Shutdown);
            }
            Pending::Nothing if session.connection.is_finished() => self.close(key, session),
            Pending::Nothing => {
                // No buffer of ours: the kernel picks one of the provided buffers when bytes
                // arrive, so a connection waiting for its next request holds none.
                let receive = opcode::Recv::new(socket, ptr::null_mut(), BUFFER_BYTES as u32)
                    .buf_group(BUFFER_GROUP)
                    .build()
                    .flags(squeue::Flags::BUFFER_SELECT);
                self.push(receive, key, Operation::Receive);
                session.in_flight = Some(Operation::Receive);
            }
        }
        Ok(())
    }

    /// Queues a wait until the connection's socket has room to send into.
    fn wait_writable(&mut self, key: usize, session: &mut Session) {
        let poll = opcode::PollAdd::new(types::Fd(session.fd), libc::POLLOUT as u32);
        self.push(poll.build(), key, Operation::Writable);
        session.in_flight = Some(Operation::Writable);
    }

    /// Queues the close of a connection's socket: its last operation.
    fn close(&mut self, key: usize, session: &mut Session) {
        self.push(opcode::Close::new(types::Fd(session.fd)).build(), key, Operation::Close);
        session.in_flight = Some(Operation::Close);
    }

    /// Queues the cancel of a connection's operation in flight.
    fn cancel(&mut self, key: usize, operation: Operation) {
        let cancel = opcode::AsyncCancel::new(ring::pack(key, operation as u8));
        self.push(cancel.build(), key, Operation::Cancel);
    }

    /// Queues an accept in place `place`: the kernel writes the peer's address there. The
    /// places are leaked (they never move or go away), and each has one accept at a time.
    fn accept(&mut self, listener: &TcpListener, places: *mut AcceptPlace, place: usize) {
        // SAFETY: `place` < ACCEPTS, inside the leaked places; no accept is in flight there.
        let place_pointer = unsafe { &mut *places.add(place) };
        place_pointer.length = place_pointer.address.size_of();
        let address = (&raw mut place_pointer.address).cast::<libc::sockaddr>();
        let accept = opcode::Accept::new(
            types::Fd(listener.as_raw_fd()),
            address,
            &raw mut place_pointer.length,
        )
        // Non-blocking, for splice's sake: the loop splices a large file from its pipe into
        // the socket itself (see `Pipe::drain`), and a blocking splice would stop the whole
        // loop while one client does not read. Non-blocking, it returns EAGAIN instead.
        .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
        self.push(accept.build(), place, Operation::Accept);
    }

    /// Hands every receive buffer to the kernel, at start-up: one operation for all of them.
    fn provide_all_buffers(&mut self, buffers: *mut u8) {
        let provide = opcode::ProvideBuffers::new(
            buffers,
            BUFFER_BYTES as i32,
            BUFFER_COUNT,
            BUFFER_GROUP,
            0,
        );
        self.push(provide.build(), 0, Operation::ProvideBuffer);
    }

    /// Gives receive buffer number `buffer` back to the kernel, its bytes taken.
    fn provide_buffer(&mut self, buffers: *mut u8, buffer: u16) {
        // `buffer` < BUFFER_COUNT: inside the leaked allocation, which the kernel may write
        // into from now until a receive completes with this buffer.
        let start = buffers.wrapping_add(usize::from(buffer) * BUFFER_BYTES);
        let provide =
            opcode::ProvideBuffers::new(start, BUFFER_BYTES as i32, 1, BUFFER_GROUP, buffer);
        self.push(provide.build(), 0, Operation::ProvideBuffer);
    }

    fn push(&mut self, entry: squeue::Entry, key: usize, operation: Operation) {
        self.0.push_back(entry.user_data(ring::pack(key, operation as u8)));
    }
}
