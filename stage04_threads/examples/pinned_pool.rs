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

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;

use clap::Args;
use common::blocking::serve_connection;
use common::{Config, KeepAlive, Site};
use crossbeam::channel::{self, Sender};

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Worker threads: how many connections are served at once (others wait for a free worker).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    workers: u32,
}

fn main() -> io::Result<()> {
    let (config, flags) = Config::parse_with::<Flags>(8004);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();
    let connections = start_workers(flags.workers, &site)?;

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

/// Serves one connection until it ends, on a worker thread.
fn handle_connection(mut stream: TcpStream, peer: SocketAddr, site: &Arc<Site>) {
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

/// Starts `count` worker threads, each serving one connection at a time from a shared
/// channel, and returns the channel's sending end.
///
/// The channel has capacity 0 (a *rendezvous*): `send` returns only when a worker has taken
/// the connection, so no connection waits inside the process while every worker is busy; it
/// waits in the kernel's listen queue, where the client's connect has already succeeded.
/// A worker busy with one keep-alive connection is free again when that connection ends,
/// at the latest after the idle timeout: an idle client cannot pin a worker forever.
fn start_workers(count: u32, site: &Arc<Site>) -> io::Result<Sender<(TcpStream, SocketAddr)>> {
    let (sender, receiver) = channel::bounded(0);
    for number in 0..count {
        // crossbeam's receivers can be cloned, and each message goes to exactly one of them:
        // every worker waits on the same channel (std's mpsc would need a Mutex around it).
        let receiver: channel::Receiver<(TcpStream, SocketAddr)> = receiver.clone();
        let site = Arc::clone(site);
        thread::Builder::new().name(format!("worker-{number}")).spawn(move || {
            for (stream, peer) in receiver {
                handle_connection(stream, peer, &site);
            }
        })?;
    }
    Ok(sender)
}
