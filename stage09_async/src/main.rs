//! Stage 9: async/await on tokio, a stackless task per connection.
//!
//! New since stage05: the same request loop, written with `.await`. An `async fn` is a
//! coroutine too, but *stackless*: the compiler turns it into a state machine (a `Future`)
//! that holds only what must survive an `.await`, instead of a stack of its own. tokio's
//! runtime polls these futures on a few worker threads, and its reactor (epoll underneath, as
//! in stage07) wakes a task when its socket is ready. Idle workers steal tasks from busy ones,
//! so the load spreads over the cores as stage08's loops could not. An idle connection holds
//! no read buffer and no stack: ten thousand of them cost far less than stage05's.
//!
//! Run `cargo run -p stage09_async`, open <http://127.0.0.1:8009>, and compare
//! `ps -T -p $(pgrep stage09)` (tokio's worker threads) with `ss -tn | grep -c 8009` (many
//! connections).

use std::fs::File;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use clap::Args;
use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout_at;

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

/// The flags of this stage, added to the shared ones.
#[derive(Args, Debug)]
struct Flags {
    /// Worker threads that run the tasks [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: Option<u32>,
}

fn main() {
    let (config, flags) = Config::parse_with::<Flags>(common::command!(), 8009);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    let (runtime, listener) = start_runtime(flags.workers, listener);
    // The accept loop is a future too: `block_on` runs it on this thread, for ever, and the
    // connections' tasks run on tokio's workers (on this same thread with `--workers 1`).
    runtime.block_on(accept_loop(listener, site, settings));
}

/// Accepts connections forever, a task for each.
async fn accept_loop(listener: TcpListener, site: Site, settings: Settings) {
    loop {
        // accept().await suspends this task until a client connects (the reactor wakes it).
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, the client stays queued in the kernel, and trying again at
            // once would fail again: pause (`.await`, not a thread-blocking sleep). Any other
            // failure concerns one client (it may have given up already): go on.
            Err(error) => {
                if let Some(pause) = common::net::pause_after_failed_accept(&error) {
                    tokio::time::sleep(pause).await;
                }
                continue;
            }
        };
        let site = site.clone();
        // A task per connection: a future on the heap, polled by whichever worker is free.
        // `spawn` wants a future that is `Send` (it may move between threads at an `.await`)
        // and `'static` (it owns what it uses: hence the clone of `site` moved in).
        tokio::spawn(async move {
            if let Err(error) = handle_connection(stream, peer, &site, settings).await {
                settings.log.error(peer, &error);
            }
        });
    }
}

/// Serves one connection until it ends: the client closes it or asks to, sends bad input, or
/// is idle past the timeout, in its own task.
async fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    site: &Site,
    settings: Settings,
) -> io::Result<()> {
    let mut connection = Connection::new(peer, site.clone(), settings);
    loop {
        // Send everything queued. A write returns once the kernel has taken at least part of
        // it, so loop until all is gone; while the send buffer is full the task is suspended.
        loop {
            let deadline = connection.deadline().into();
            // A client that stops reading must not hold the task forever: give up at the
            // deadline. (Dropping the write future cancels it; nothing half-written is lost
            // track of, since `sent` counts only what the kernel took.) A large file goes by
            // sendfile(2), from the page cache straight to the socket (see send_file).
            let written = match connection.to_send() {
                Pending::Nothing => break,
                Pending::Fin => {
                    // The client may still be sending: a FIN after the last byte, then read on
                    // until it closes its side too (see common::Pending::Fin).
                    stream.shutdown().await?;
                    connection.shut_down();
                    break;
                }
                Pending::Bytes(bytes) => timeout_at(deadline, stream.write(bytes)).await,
                Pending::File(file, count) => {
                    timeout_at(deadline, send_file(&stream, file, count)).await
                }
            };
            match written {
                Err(_elapsed) => return Err(ErrorKind::TimedOut.into()),
                Ok(Ok(0)) => return Err(ErrorKind::WriteZero.into()),
                Ok(Ok(count)) => connection.sent(count),
                // A signal arrived during the call: just make it again.
                Ok(Err(error)) if error.kind() == ErrorKind::Interrupted => {}
                Ok(Err(error)) => return Err(error),
            }
        }
        if connection.is_finished() {
            // Dropping the stream closes the socket: the client sees the end of the response.
            return Ok(());
        }

        // Wait until the socket is readable, up to the deadline: it covers an idle keep-alive
        // connection and a request trickling in (slowloris) alike.
        match timeout_at(connection.deadline().into(), stream.readable()).await {
            Err(_elapsed) => {
                connection.timed_out();
                continue;
            }
            Ok(ready) => ready?,
        }
        // Then read without waiting. The buffer lives only from here to the end of the turn,
        // with no `.await` in between: the future does not keep it, so an idle connection
        // holds no buffer (stage05's coroutine kept its own on its stack).
        let mut buffer = [0; READ_BUFFER_BYTES];
        match stream.try_read(&mut buffer) {
            // A read of 0 bytes means the peer closed its side.
            Ok(0) => connection.received_eof(),
            Ok(count) => connection.received(&buffer[..count]),
            // Nothing there after all: tokio's readiness was left over from the last read,
            // and is cleared now; the next `readable` waits. Or a signal arrived.
            Err(error)
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(error) => return Err(error),
        }
    }
}

/// sendfile(2) on a tokio socket. tokio wraps read and write but not sendfile, so this does
/// what tokio's own write does: wait until the reactor says the socket is writable, make the
/// call, and if the send buffer has filled up again meanwhile (`WouldBlock`), wait again.
async fn send_file(stream: &TcpStream, file: &File, count: usize) -> io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || common::net::send_file(stream, file, count)) {
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            result => return result,
        }
    }
}

/// Builds tokio's runtime (its worker threads, its reactor over epoll, its timer) and turns
/// the listening socket into one of tokio's.
///
/// One worker means one thread, as in stage07: tokio's current-thread runtime, which runs the
/// accept loop and every task on the thread that calls `block_on`. More, a pool of threads
/// that steal tasks from each other. The socket is bound by `common` like every stage's (so a
/// busy port gives the same error); tokio then makes it non-blocking and registers it.
fn start_runtime(
    workers: Option<u32>,
    listener: std::net::TcpListener,
) -> (tokio::runtime::Runtime, TcpListener) {
    let mut builder = if workers == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(workers) = workers {
            builder.worker_threads(workers as usize);
        }
        builder
    };
    let runtime = builder.enable_io().enable_time().build().or_exit();
    listener.set_nonblocking(true).or_exit();
    // Registering with the reactor needs the runtime's context.
    let listener = runtime.block_on(async { TcpListener::from_std(listener) }).or_exit();
    (runtime, listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What a task holds while its connection is idle: the future of `handle_connection`,
    /// whose size the compiler fixes. `cargo test -p stage09_async -- --nocapture future`
    /// prints it.
    #[test]
    fn a_connection_future_holds_no_read_buffer() {
        let (runtime, _) =
            start_runtime(Some(1), std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let peer = stream.local_addr().unwrap();
            let site = Site::open(env!("CARGO_MANIFEST_DIR").as_ref()).unwrap();
            let log = common::AccessLog::new(false);
            let settings =
                Settings { keep_alive: KEEP_ALIVE, timeout: Duration::from_secs(1), log };
            let future = handle_connection(stream, peer, &site, settings);
            let size = std::mem::size_of_val(&future);
            println!(
                "the connection's future: {size} bytes (of which a Connection {} bytes); \
                 the read buffer, {READ_BUFFER_BYTES} bytes, is not in it",
                std::mem::size_of::<Connection>()
            );
            assert!(size < READ_BUFFER_BYTES, "{size} bytes: the buffer is kept across .await");
        });
    }
}
