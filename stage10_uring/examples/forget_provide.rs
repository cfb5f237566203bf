//! BROKEN ON PURPOSE: receive buffers never given back to the kernel: a leak, then a spin.
#![allow(dead_code, unused_variables)] // What the mistake leaves unused.
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
use std::io::{self, ErrorKind};
use std::mem;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;
use std::time::{Duration, Instant};

use common::net::{ACCEPT_PAUSE, out_of_descriptors};
use common::{Config, Connection, KeepAlive, OrExit, Settings, Site};
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use slab::Slab;

/// Room in the submission ring: how many operations one `io_uring_enter` can hand over.
/// More wait in `Queued` for the next one.
const SUBMISSION_ENTRIES: u32 = 256;

/// Room in the completion ring. Every connection has one operation in flight, so more can
/// complete at once than there is room for; the kernel then keeps the rest (it has
/// `IORING_FEAT_NODROP`) and hands them over once we have made room.
const COMPLETION_ENTRIES: u32 = 4096;

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

/// How much freed memory the allocator may keep at the top of its heap before it gives any
/// back to the kernel (glibc's default is 128 KiB): 32 MiB holds the file chunks of 500
/// connections. See `keep_freed_memory`.
const KEEP_FREED_BYTES: libc::c_int = 32 * 1024 * 1024;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// What a completion is the result of. With the key, it is packed into the `user_data` of
/// the submission and comes back, unchanged, in the completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    /// An accept, in the place of that number (the key is the place).
    Accept,
    /// A receive for the connection with this key.
    Receive,
    /// A send for the connection with this key.
    Send,
    /// The close of the connection with this key: its last operation.
    Close,
    /// A cancel of a connection's receive or send (its deadline passed).
    Cancel,
    /// A receive buffer given back to the kernel.
    ProvideBuffer,
}

const OPERATIONS: [Operation; 6] = [
    Operation::Accept,
    Operation::Receive,
    Operation::Send,
    Operation::Close,
    Operation::Cancel,
    Operation::ProvideBuffer,
];

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
}

/// Where one accept writes the address of the peer it accepts.
struct AcceptPlace {
    address: socket2::SockAddrStorage,
    length: libc::socklen_t,
}

fn main() {
    let config = Config::parse(common::command!(), 8010);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    // Complete an accept only once the connection's request has arrived (as stage07), so that
    // the receive queued right after it finds the bytes there and completes at once, instead
    // of making the kernel arm a poll on an empty socket and come back later.
    common::net::defer_accept(&listener).or_exit();
    keep_freed_memory();
    let mut ring = start_ring().or_exit();
    let mut sessions: Slab<Session> = Slab::new();
    // The receive buffers and the accepts' address places are handed to the kernel by
    // pointer: leaked, they live as long as the process and never move.
    let buffers: *mut u8 =
        Vec::leak(vec![0; usize::from(BUFFER_COUNT) * BUFFER_BYTES]).as_mut_ptr();
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
        submit_and_wait(&mut ring, &mut queued, timeout).or_exit();

        // Take every completion out of the ring at once, making room for more.
        completions.clear();
        completions.extend(ring.completion());
        for completion in &completions {
            let (key, operation) = unpack(completion.user_data());
            match operation {
                Operation::Accept => {
                    let result = completion.result();
                    match accepted(result, places, key, &site, settings, &mut sessions, &mut queued)
                    {
                        Ok(()) => queued.accept(&listener, places, key),
                        // No descriptor for a new socket: the client stays queued in the
                        // kernel. Accepting again at once would fail again, so pause.
                        Err(error) if out_of_descriptors(&error) => {
                            eprintln!("accept failed: {error}; pausing for {ACCEPT_PAUSE:?}");
                            accepting_again = Some(Instant::now() + ACCEPT_PAUSE);
                            paused_places.push(key);
                        }
                        // A failed accept concerns one client (it may have given up already).
                        Err(error) => {
                            eprintln!("accept failed: {error}");
                            queued.accept(&listener, places, key);
                        }
                    }
                    next_deadline = next_deadline.or(Some(Instant::now() + settings.timeout));
                }
                Operation::Close => {
                    sessions.remove(key);
                }
                // Nothing to do: a cancelled operation reports in its own completion.
                Operation::Cancel => {}
                Operation::ProvideBuffer if completion.result() < 0 => {
                    Err::<(), _>(errno(completion.result())).or_exit();
                }
                Operation::ProvideBuffer => {}
                Operation::Receive | Operation::Send => {
                    let session = sessions.get_mut(key).expect("a session outlives its operations");
                    handle_connection(
                        key,
                        session,
                        operation,
                        completion,
                        buffers,
                        &mut queued,
                        settings,
                    );
                }
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

/// A connection's operation has completed: takes its result, then queues what the connection
/// needs next (another receive, a send, or its close).
fn handle_connection(
    key: usize,
    session: &mut Session,
    operation: Operation,
    completion: &cqueue::Entry,
    buffers: *mut u8,
    queued: &mut Queued,
    settings: Settings,
) {
    session.in_flight = None;
    let outcome = match operation {
        Operation::Receive => received(session, completion, buffers, queued),
        Operation::Send => sent(session, completion.result()),
        _ => unreachable!("only receives and sends are handed to handle_connection"),
    };
    let outcome = match outcome {
        // A cancelled operation is no error: its connection's time is up.
        Err(error) if session.expired && error.raw_os_error() == Some(libc::ECANCELED) => Ok(()),
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

/// A receive has completed: hands its bytes to the `Connection` and the buffer back to the
/// kernel.
fn received(
    session: &mut Session,
    completion: &cqueue::Entry,
    buffers: *mut u8,
    queued: &mut Queued,
) -> io::Result<()> {
    let result = completion.result();
    let Some(buffer) = cqueue::buffer_select(completion.flags()) else {
        return match result {
            // A receive of 0 bytes means the peer closed its side.
            0 => {
                session.connection.received_eof();
                Ok(())
            }
            // No free buffer (more receives completed at once than there are buffers): the
            // ones in use come back this turn, so simply receive again.
            _ if result == -libc::ENOBUFS => Ok(()),
            _ => Err(errno(result)),
        };
    };
    let count = usize::try_from(result).unwrap_or(0);
    let start = usize::from(buffer) * BUFFER_BYTES;
    // SAFETY: the kernel filled `count` bytes of buffer number `buffer` for this receive and,
    // having completed it, no longer writes there; the buffer is inside the leaked allocation,
    // and is provided again only below, after its bytes have been copied into the Connection.
    let bytes = unsafe { std::slice::from_raw_parts(buffers.add(start), count) };
    match count {
        0 => session.connection.received_eof(),
        _ => session.connection.received(bytes),
    }
    // The mistake: the buffer is never provided again (queued.provide_buffer is missing).
    Ok(())
}

/// A send has completed, having sent `result` bytes (or failed).
fn sent(session: &mut Session, result: i32) -> io::Result<()> {
    match result {
        0 => Err(ErrorKind::WriteZero.into()),
        _ if result < 0 => Err(errno(result)),
        _ => {
            session.connection.sent(result as usize);
            Ok(())
        }
    }
}

/// The completion of an accept in place `place`: a new connection, with its first receive
/// queued; or why the accept failed.
fn accepted(
    result: i32,
    places: *mut AcceptPlace,
    place: usize,
    site: &Site,
    settings: Settings,
    sessions: &mut Slab<Session>,
    queued: &mut Queued,
) -> io::Result<()> {
    if result < 0 {
        return Err(errno(result));
    }
    // SAFETY: the accept in this place has completed, so the kernel has written the peer's
    // address there and no longer touches it; the place is reused only by the next accept,
    // queued after this.
    let address = unsafe {
        let place = &*places.add(place);
        socket2::SockAddr::new(ptr::read(&place.address), place.length)
    };
    let peer = address.as_socket().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    let connection = Connection::new(peer, site.clone(), settings);
    let session = Session { fd: result, peer, connection, in_flight: None, expired: false };
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
        if let Some(operation @ (Operation::Receive | Operation::Send)) = session.in_flight {
            session.expired = true;
            queued.cancel(key, operation);
        }
    }
    let waiting = sessions.iter().filter(|(_, session)| !session.expired);
    waiting.map(|(_, session)| session.connection.deadline()).min()
}

/// The operations waiting to be handed to the kernel, in order. Every entry's buffers stay
/// valid until its completion (each builder below says why); `submit_and_wait` moves them into
/// the submission ring as room allows.
#[derive(Default)]
struct Queued(VecDeque<squeue::Entry>);

impl Queued {
    /// Queues what a connection with no operation in flight needs next: a send of what its
    /// `Connection` has queued, its close when it is over, otherwise a receive.
    fn next_operation(&mut self, key: usize, session: &mut Session) -> io::Result<()> {
        if session.connection.wants_write() {
            // io_uring has no sendfile (its splice needs a pipe between file and socket): a
            // large file is read into memory a chunk at a time, and each chunk sent.
            let pending = session.connection.to_send_bytes()?;
            // The bytes live in the Connection's own buffer, on the heap: moving the session
            // (the slab growing) does not move them, and nothing changes the Connection until
            // this send completes (one operation in flight per connection).
            let send =
                opcode::Send::new(types::Fd(session.fd), pending.as_ptr(), pending.len() as u32)
                    .flags(libc::MSG_NOSIGNAL);
            self.push(send.build(), key, Operation::Send);
            session.in_flight = Some(Operation::Send);
        } else if session.connection.is_finished() {
            self.close(key, session);
        } else {
            // No buffer of ours: the kernel picks one of the provided buffers when bytes
            // arrive, so a connection waiting for its next request holds none.
            let receive =
                opcode::Recv::new(types::Fd(session.fd), ptr::null_mut(), BUFFER_BYTES as u32)
                    .buf_group(BUFFER_GROUP)
                    .build()
                    .flags(squeue::Flags::BUFFER_SELECT);
            self.push(receive, key, Operation::Receive);
            session.in_flight = Some(Operation::Receive);
        }
        Ok(())
    }

    /// Queues the close of a connection's socket: its last operation.
    fn close(&mut self, key: usize, session: &mut Session) {
        self.push(opcode::Close::new(types::Fd(session.fd)).build(), key, Operation::Close);
        session.in_flight = Some(Operation::Close);
    }

    /// Queues the cancel of a connection's operation in flight.
    fn cancel(&mut self, key: usize, operation: Operation) {
        self.push(opcode::AsyncCancel::new(pack(key, operation)).build(), key, Operation::Cancel);
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
        .flags(libc::SOCK_CLOEXEC);
        self.push(accept.build(), place, Operation::Accept);
    }

    /// Hands every receive buffer to the kernel, at start-up.
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
        self.0.push_back(entry.user_data(pack(key, operation)));
    }
}

/// Moves the queued operations into the submission ring and submits them, then sleeps until
/// at least one completion is there (or `timeout` passes): one `io_uring_enter` for all of it,
/// unless more are queued than the ring holds.
fn submit_and_wait(
    ring: &mut IoUring,
    queued: &mut Queued,
    timeout: Option<Duration>,
) -> io::Result<()> {
    loop {
        let mut submission = ring.submission();
        while let Some(entry) = queued.0.front() {
            // SAFETY: every queued entry's buffers outlive its operation (see `Queued`).
            if unsafe { submission.push(entry) }.is_err() {
                break;
            }
            queued.0.pop_front();
        }
        drop(submission);
        if queued.0.is_empty() {
            break;
        }
        // The submission ring is full: hand these over now, then queue the rest.
        match ring.submit() {
            Ok(_) => {}
            // The completion ring is full and the kernel holds more: take completions first.
            Err(error) if error.raw_os_error() == Some(libc::EBUSY) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
    let result = match timeout {
        Some(timeout) => {
            let timespec = types::Timespec::from(timeout);
            let arguments = types::SubmitArgs::new().timespec(&timespec);
            ring.submitter().submit_with_args(1, &arguments)
        }
        None => ring.submit_and_wait(1),
    };
    match result {
        Ok(_) => Ok(()),
        // The timeout passed (ETIME), a signal arrived (EINTR), or the completion ring is
        // full (EBUSY): in every case, look at the completions and deadlines, then return.
        Err(error)
            if matches!(error.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Asks the allocator to keep the memory that a batch of completions frees, instead of giving
/// it back to the kernel at once. Completions come in batches, and so do frees: when the sends
/// of 50 large responses complete in one turn, their 64 KiB buffers are freed together, glibc
/// finds the top of its heap free and returns it (`brk`), and the next turn takes it back one
/// page fault per 4 KiB page (8 per 256 KiB response, measured). stage07 frees one buffer at a
/// time, between allocations, and never meets this.
fn keep_freed_memory() {
    // SAFETY: mallopt only changes a setting of glibc's allocator, under the allocator's own
    // lock, so it may be called at any time and from any thread. (The setting is glibc's: built
    // for another C library, the stage leaves that library's allocator as it is.)
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREED_BYTES);
    }
}

/// Sets up the ring, or says in one line why this kernel cannot.
fn start_ring() -> io::Result<IoUring> {
    let unavailable = |error: io::Error| {
        let message = format!(
            "io_uring is not available here ({error}); stage10 needs Linux 5.11 or later with \
             io_uring enabled (sysctl kernel.io_uring_disabled = 0)"
        );
        io::Error::new(error.kind(), message)
    };
    // Two promises that let the kernel do less: only this thread submits (SINGLE_ISSUER), and
    // it comes back to wait often, so the kernel may leave the work that finishes a waiting
    // operation (an accept, a receive parked on an empty socket) until then, in one batch,
    // instead of interrupting the thread for each (DEFER_TASKRUN). SINGLE_ISSUER came in Linux
    // 6.0, DEFER_TASKRUN in 6.1 and only together with it: an older kernel refuses the pair
    // (EINVAL), and gets the ring without them.
    let ring = IoUring::builder()
        .setup_cqsize(COMPLETION_ENTRIES)
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(SUBMISSION_ENTRIES)
        .or_else(|error| match error.raw_os_error() {
            Some(libc::EINVAL) => {
                IoUring::builder().setup_cqsize(COMPLETION_ENTRIES).build(SUBMISSION_ENTRIES)
            }
            _ => Err(error),
        })
        .map_err(unavailable)?;
    if !ring.params().is_feature_nodrop() || !ring.params().is_feature_ext_arg() {
        return Err(unavailable(io::Error::other("no IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG")));
    }
    Ok(ring)
}

/// The `user_data` of an operation: the key (a connection's, or an accept's place) in the
/// high bits, the kind of operation in the low byte.
fn pack(key: usize, operation: Operation) -> u64 {
    let kind =
        OPERATIONS.iter().position(|known| *known == operation).expect("every kind is listed");
    (key as u64) << 8 | kind as u64
}

/// The key and the kind of operation a completion's `user_data` names.
fn unpack(user_data: u64) -> (usize, Operation) {
    ((user_data >> 8) as usize, OPERATIONS[(user_data & 0xff) as usize])
}

/// An error from a completion's result, which is `-errno` on failure.
fn errno(result: i32) -> io::Error {
    io::Error::from_raw_os_error(-result)
}

/// A place for an accept to write the peer's address into.
fn empty_place() -> AcceptPlace {
    AcceptPlace { address: socket2::SockAddrStorage::zeroed(), length: 0 }
}
