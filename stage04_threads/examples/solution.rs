//! THE EXERCISE, DONE: stage04 with a graceful shutdown. On SIGTERM it stops accepting, lets
//! every worker finish the connection it is serving, then exits. The reference solution that
//! `tests/exercise.rs` checks; try it yourself before you look.
//!
//! Stage 4: a pool of threads.
//!
//! New since stage03: threads instead of processes. A fixed pool of worker threads is started
//! once; the main thread accepts connections and hands each one to an idle worker through a
//! crossbeam channel. Threads share memory, so there is nothing to reap and no socket copy to
//! close, and a thread costs far less than a process. The pool has a fixed size, so a flood
//! of connections cannot create unbounded threads: when every worker is busy, the main
//! thread waits, and new clients wait in the kernel's listen queue.
//!
//! Run `cargo run -p stage04_threads`, open <http://127.0.0.1:8004>, and see the workers with
//! `ps -T -p $(pgrep stage04)`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use clap::Args;
use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use crossbeam::channel::{self, Sender};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Set by the SIGTERM (or SIGINT) handler: stop accepting, finish what is being served, exit.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// The listening socket's descriptor, for the handler to shut down (-1 until it exists).
static LISTENER_FD: AtomicI32 = AtomicI32::new(-1);

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Worker threads: how many connections are served at once (others wait for a free worker).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    workers: u32,
}

fn main() {
    let (config, flags) = Config::parse_with::<Flags>(common::command!(), 8004);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    LISTENER_FD.store(listener.as_raw_fd(), Ordering::SeqCst);
    // The workers are started with SIGTERM and SIGINT blocked (a thread inherits its maker's
    // mask), so the signal is delivered to the main thread.
    let signals = shutdown_signals();
    signals.thread_block().or_exit();
    let (connections, workers) = start_workers(flags.workers, &site, settings).or_exit();
    signals.thread_unblock().or_exit();
    note_shutdown_on_signal().or_exit();

    loop {
        // accept() blocks until a client connects, and hands us a new socket for it.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The handler shut the listener down, which made accept fail: stop accepting.
            Err(_) if SHUTTING_DOWN.load(Ordering::SeqCst) => break,
            // A failed accept concerns one client (it may have given up already), or the
            // process is out of file descriptors for a moment: log it, and go on.
            Err(error) => {
                common::accept_failed(&error);
                continue;
            }
        };
        // Hand the connection to an idle worker; while all are busy, wait here.
        connections.send((stream, peer)).expect("the workers run as long as the server");
    }
    // Graceful shutdown: close the listener (new clients are refused), close the channel
    // (each worker leaves its loop once its current connection has ended), wait for them all.
    drop(listener);
    drop(connections);
    for worker in workers {
        let _ = worker.join();
    }
}

/// The signals that ask the server to stop.
fn shutdown_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals
}

/// Installs the handler for SIGTERM and SIGINT. It notes the request, and wakes the main
/// thread from `accept`: std's accept simply retries when a signal interrupts it (EINTR), so
/// the handler shuts the listening socket down instead, which makes a waiting accept fail at
/// once and has the kernel refuse new clients.
fn note_shutdown_on_signal() -> nix::Result<()> {
    let action =
        SigAction::new(SigHandler::Handler(note_shutdown), SaFlags::SA_RESTART, SigSet::empty());
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic and calls shutdown(2), keeping errno:
        // all async-signal-safe.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

extern "C" fn note_shutdown(_signal: libc::c_int) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    let saved = nix::errno::Errno::last_raw();
    // SAFETY: shutdown(2) is async-signal-safe; on a descriptor that is not (or no longer) the
    // listener it fails, which changes nothing.
    unsafe { libc::shutdown(LISTENER_FD.load(Ordering::SeqCst), libc::SHUT_RDWR) };
    nix::errno::Errno::set_raw(saved);
}

/// Serves one connection until it ends: the client closes it or asks to, sends bad input, or
/// is idle past the timeout, on a worker thread.
fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    site: &Site,
    settings: Settings,
) -> io::Result<()> {
    // A client that sends nothing (or stops reading) must not hold the server forever.
    stream.set_read_timeout(Some(settings.timeout))?;
    stream.set_write_timeout(Some(settings.timeout))?;

    let mut connection = Connection::new(peer, site.clone(), settings);
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    loop {
        // Send everything queued. A blocking write returns once the kernel has taken at least
        // part of it, so loop until all is gone. A large file goes by sendfile(2), from the
        // page cache straight to the socket, never copied through this process.
        loop {
            let written = match connection.to_send() {
                Pending::Nothing => break,
                Pending::Fin => {
                    // The client may still be sending: a FIN after the last byte, then read on
                    // until it closes its side too (see common::Pending::Fin), each read waiting
                    // at most LINGER.
                    stream.shutdown(Shutdown::Write)?;
                    stream.set_read_timeout(Some(common::LINGER))?;
                    connection.shut_down();
                    break;
                }
                Pending::Bytes(bytes) => stream.write(bytes),
                Pending::File(file, count) => common::net::send_file(&stream, file, count),
            };
            match written {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => connection.sent(count),
                // A signal arrived during the call: just make it again.
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        // Shutting down: once what was asked has been sent, the connection ends.
        if connection.is_finished() || SHUTTING_DOWN.load(Ordering::SeqCst) {
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

/// Starts `count` worker threads, each serving one connection at a time from a shared
/// channel, and returns the channel's sending end.
///
/// The channel has capacity 0 (a *rendezvous*): `send` returns only when a worker has taken
/// the connection, so no connection waits inside the process while every worker is busy; it
/// waits in the kernel's listen queue, where the client's connect has already succeeded.
/// A worker busy with one keep-alive connection is free again when that connection ends,
/// at the latest after the idle timeout: an idle client cannot pin a worker forever.
type Workers = (Sender<(TcpStream, SocketAddr)>, Vec<JoinHandle<()>>);

fn start_workers(count: u32, site: &Site, settings: Settings) -> io::Result<Workers> {
    let (sender, receiver) = channel::bounded(0);
    let mut workers = Vec::new();
    for number in 0..count {
        // crossbeam's receivers can be cloned, and each message goes to exactly one of them:
        // every worker waits on the same channel (std's mpsc would need a Mutex around it).
        let receiver: channel::Receiver<(TcpStream, SocketAddr)> = receiver.clone();
        let site = site.clone();
        let worker = thread::Builder::new().name(format!("worker-{number}")).spawn(move || {
            for (stream, peer) in receiver {
                if let Err(error) = handle_connection(stream, peer, &site, settings) {
                    settings.log.error(peer, &error);
                }
            }
        })?;
        workers.push(worker);
    }
    Ok((sender, workers))
}
