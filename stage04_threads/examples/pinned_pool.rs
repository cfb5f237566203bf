//! BROKEN ON PURPOSE: a pool of 4 workers, pinned by 4 idle keep-alive clients.
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
use std::thread;
use std::time::Instant;

use clap::Args;
use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use crossbeam::channel::{self, Sender};

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Worker threads: how many connections are served at once (others wait for a free worker).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    workers: u32,
}

fn main() {
    let (config, flags) = Config::parse_with::<Flags>(common::command!(), 8004);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    let connections = start_workers(flags.workers, &site, settings).or_exit();

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
        // Hand the connection to an idle worker; while all are busy, wait here.
        connections.send((stream, peer)).expect("the workers run as long as the server");
    }
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

/// Starts `count` worker threads, each serving one connection at a time from a shared
/// channel, and returns the channel's sending end.
///
/// The channel has capacity 0 (a *rendezvous*): `send` returns only when a worker has taken
/// the connection, so no connection waits inside the process while every worker is busy; it
/// waits in the kernel's listen queue, where the client's connect has already succeeded.
/// A worker busy with one keep-alive connection is free again when that connection ends,
/// at the latest after the idle timeout: an idle client cannot pin a worker forever.
fn start_workers(
    count: u32,
    site: &Site,
    settings: Settings,
) -> io::Result<Sender<(TcpStream, SocketAddr)>> {
    let (sender, receiver) = channel::bounded(0);
    for number in 0..count {
        // crossbeam's receivers can be cloned, and each message goes to exactly one of them:
        // every worker waits on the same channel (std's mpsc would need a Mutex around it).
        let receiver: channel::Receiver<(TcpStream, SocketAddr)> = receiver.clone();
        let site = site.clone();
        thread::Builder::new().name(format!("worker-{number}")).spawn(move || {
            for (stream, peer) in receiver {
                if let Err(error) = handle_connection(stream, peer, &site, settings) {
                    settings.log.error(peer, &error);
                }
            }
        })?;
    }
    Ok(sender)
}
