//! BROKEN ON PURPOSE: a thread-blocking sleep inside a coroutine stalls its whole worker.
//!
//! Stage 5: a stackful coroutine per connection.
//!
//! New since stage04: coroutines instead of threads. Each connection gets a coroutine from the
//! `may` crate: a function with its own small stack, which may's scheduler runs on a few
//! worker threads (one per core by default). When a coroutine's socket would block, may saves
//! the coroutine, registers the socket with epoll, and runs another; when the socket is ready,
//! the coroutine resumes. The code still reads like blocking code (it *is* stage04's
//! `handle_connection` and common's blocking loop, unchanged), but ten thousand idle
//! connections cost ten thousand small stacks, not ten thousand threads.
//!
//! Run `cargo run -p stage05_coroutines`, open <http://127.0.0.1:8005>, and compare
//! `ps -T -p $(pgrep stage05)` (a few threads) with `ss -tn | grep -c 8005` (many connections).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::Arc;

use clap::Args;
use common::blocking::serve_connection;
use common::{Config, KeepAlive, Site};
use may::net::{TcpListener, TcpStream};

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

fn main() -> io::Result<()> {
    let (config, flags) = Config::parse_with::<Flags>(8005);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();
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
        let site = Arc::clone(&site);
        // SAFETY: may's spawn is unsafe for two reasons (`go!` hides the same unsafe block).
        // 1. Thread-local storage: a coroutine may resume on another worker thread after any
        //    socket call, so a reference into a thread-local kept across one would point into
        //    the wrong thread's data. The code run here touches thread-locals (the cached Date
        //    header, regex's cache, the stderr lock) only inside calls that never wait on a
        //    socket, so no such reference outlives a switch.
        // 2. The stack is fixed (STACK_WORDS) and overflow crashes: serving a request uses
        //    far less (buffers live on the heap, and nothing recurses).
        // The coroutine runs on its own: we never wait for it, so its handle is dropped.
        unsafe { may::coroutine::spawn(move || handle_connection(stream, peer, &site)) };
    }
}

/// Serves one connection until it ends, in its own coroutine.
fn handle_connection(mut stream: TcpStream, peer: SocketAddr, site: &Arc<Site>) {
    // The mistake: std's sleep blocks the worker thread (may::coroutine::sleep would not).
    std::thread::sleep(std::time::Duration::from_secs(1));
    // A client that sends nothing (or stops reading) must not hold the server forever.
    let configured = stream
        .set_read_timeout(Some(site.timeout))
        .and_then(|()| stream.set_write_timeout(Some(site.timeout)))
        // Send small responses at once instead of waiting to fill a packet (Nagle).
        .and_then(|()| stream.set_nodelay(true));
    let served = configured.and_then(|()| serve_connection(&mut stream, peer, site, KeepAlive::On));
    if let Err(error) = served {
        site.log_error(peer, &error);
    }
    // Dropping the stream closes the socket: the client sees the end of the response.
}

/// Configures may's scheduler and turns the listening socket into one of may's.
///
/// The socket is bound by `common` like every stage's (so a busy port gives the same error);
/// may then takes it over: it makes it non-blocking and registers it with its epoll.
fn start_scheduler(workers: Option<u32>, listener: std::net::TcpListener) -> TcpListener {
    let config = may::config();
    if let Some(workers) = workers {
        config.set_workers(workers as usize);
    }
    config.set_stack_size(STACK_WORDS);
    // SAFETY: the descriptor comes from a listening socket we own; into_raw_fd gives up that
    // ownership, so may's listener becomes its only owner and closes it exactly once.
    unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) }
}
