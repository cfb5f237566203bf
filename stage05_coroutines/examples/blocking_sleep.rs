//! BROKEN ON PURPOSE: a thread-blocking sleep inside a coroutine stalls its whole worker.
//!
//! Stage 5: a stackful coroutine per connection.
//!
//! New since stage04: coroutines instead of threads. Each connection gets a coroutine from the
//! `may` crate: a function with its own small stack, which may's scheduler runs on a few
//! worker threads (one per core by default). When a coroutine's socket would block, may
//! saves the coroutine and runs another; its epoll says when the socket is ready, and the
//! coroutine resumes. The code still reads like blocking code (`handle_connection` *is*
//! stage04's, on may's socket type), but ten thousand idle connections cost ten thousand small
//! stacks, not ten thousand threads.
//!
//! Run `cargo run -p stage05_coroutines`, open <http://127.0.0.1:8005>, and compare
//! `ps -T -p $(pgrep stage05)` (a few threads) with `ss -tn | grep -c 8005` (many connections).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::time::Instant;

use clap::Args;
use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use may::net::{TcpListener, TcpStream};

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// Each coroutine's stack, in machine words (may's unit): 8192 words are 64 KiB on a 64-bit
/// machine. Only the pages a coroutine touches use memory; overflowing the stack crashes the
/// process (a guard page catches it), so it is sized well above what serving a request needs.
const STACK_WORDS: usize = 8 * 1024;

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Worker threads that run the coroutines [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: Option<u32>,
}

fn main() {
    let (config, flags) = Config::parse_with::<Flags>(common::command!(), 8005);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    let listener = start_scheduler(flags.workers, listener);

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
        let site = site.clone();
        // SAFETY: may's spawn is unsafe for two reasons (`go!` hides the same unsafe block).
        // 1. Thread-local storage: a coroutine may resume on another worker thread after any
        //    socket call, so a reference into a thread-local kept across one would point into
        //    the wrong thread's data. The code run here touches thread-locals (the cached Date
        //    header, regex's cache, the stderr lock) only inside calls that never wait on a
        //    socket, so no such reference outlives a switch.
        // 2. The stack is fixed (STACK_WORDS) and overflow crashes: serving a request uses
        //    far less (buffers live on the heap, and nothing recurses).
        // The coroutine runs on its own: we never wait for it, so its handle is dropped.
        unsafe {
            may::coroutine::spawn(move || {
                if let Err(error) = handle_connection(stream, peer, &site, settings) {
                    settings.log.error(peer, &error);
                }
            })
        };
    }
}

/// Serves one connection until it ends: the client closes it or asks to, sends bad input, or
/// is idle past the timeout, in its own coroutine.
fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    site: &Site,
    settings: Settings,
) -> io::Result<()> {
    // The mistake: std's sleep blocks the worker thread (may::coroutine::sleep would not).
    std::thread::sleep(std::time::Duration::from_secs(1));
    // A client that sends nothing (or stops reading) must not hold the server forever.
    stream.set_read_timeout(Some(settings.timeout))?;
    stream.set_write_timeout(Some(settings.timeout))?;

    let mut connection = Connection::new(peer, site.clone(), settings);
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    loop {
        // Send everything queued. A blocking write returns once the kernel has taken at least
        // part of it, so loop until all is gone. A large file is read and written in chunks:
        // may parks a coroutine only inside the calls it wraps (read, write, accept). Its
        // sockets are non-blocking underneath, so a raw sendfile(2) would return WouldBlock
        // when the socket is full, and waiting for room would be ours to write.
        loop {
            let pending = connection.to_send_bytes()?;
            if pending.is_empty() {
                break;
            }
            match stream.write(pending) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => connection.sent(count),
                // A signal arrived during the call: just make it again.
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if let Pending::Fin = connection.to_send() {
            // The client may still be sending: a FIN after the last byte, then read on
            // until it closes its side too (see common::Pending::Fin), each read waiting
            // at most LINGER.
            stream.shutdown(Shutdown::Write)?;
            stream.set_read_timeout(Some(common::LINGER))?;
            connection.shut_down();
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

/// Configures may's scheduler and turns the listening socket into one of may's.
///
/// The socket is bound by `common` like every stage's (so a busy port gives the same error);
/// may then takes it over: it makes it non-blocking and registers it with its epoll.
fn start_scheduler(workers: Option<u32>, listener: std::net::TcpListener) -> TcpListener {
    let scheduler = may::config();
    if let Some(workers) = workers {
        scheduler.set_workers(workers as usize);
    }
    scheduler.set_stack_size(STACK_WORDS);
    // SAFETY: the descriptor comes from a listening socket we own; into_raw_fd gives up that
    // ownership, so may's listener becomes its only owner and closes it exactly once.
    unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) }
}
