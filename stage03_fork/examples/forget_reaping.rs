//! BROKEN ON PURPOSE: stage03 without reaping. Every finished child stays a zombie.
//!
//! Stage 3: a process per connection.
//!
//! New since stage02: after `accept`, the server `fork`s. The child process serves the
//! connection (with keep-alive now: it has nothing else to do) while the parent goes straight
//! back to `accept`. A stalled client now stalls only its own process. The price: a process
//! per connection, and three classic duties: close the copies of sockets each side does not
//! need, reap children that have exited, and end the children when the server ends.
//!
//! Run `cargo run -p stage03_fork`, open <http://127.0.0.1:8003>, and watch the processes
//! come and go with `ps -ef --forest | grep stage03`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

use common::{Config, Connection, KeepAlive, OrExit, Pending, Settings, Site};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid, getppid};

/// The most bytes read in one call; a request head is usually a few hundred.
const READ_BUFFER_BYTES: usize = 4096;

/// Keep-alive: a connection left open no longer keeps anyone else waiting, so it may stay
/// open for more requests.
const KEEP_ALIVE: KeepAlive = KeepAlive::On;

fn main() {
    let config = Config::parse(common::command!(), 8003);
    let site = Site::open(&config.root).or_exit();
    let settings = config.settings(KEEP_ALIVE);
    // socket() + bind() + listen(): the kernel now queues incoming connections for us.
    let listener = config.listen().or_exit();
    // The mistake: no SIGCHLD handler, so nobody calls waitpid.

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
        let parent = getpid();
        // SAFETY: the server has a single thread, so at the moment of the fork no other
        // thread can hold a lock (in the allocator, on stderr) that would stay locked forever
        // in the child; the child may therefore run ordinary Rust code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                // The child serves this one connection and never accepts: it closes its copy of
                // the listener, so that only the parent holds the port.
                drop(listener);
                end_with_parent(parent);
                if let Err(error) = handle_connection(stream, peer, &site, settings) {
                    settings.log.error(peer, &error);
                }
                // SAFETY: _exit ends the process at once. Unlike returning from main or
                // process::exit, it runs no exit handlers and flushes no buffers, so nothing
                // the child inherited from the parent is cleaned up twice.
                unsafe { libc::_exit(0) }
            }
            Ok(ForkResult::Parent { .. }) => {
                // The child has its own copy of the connection. The parent closes its copy now:
                // the client only sees the connection end when *both* copies are closed.
                drop(stream);
            }
            Err(error) => eprintln!("fork failed: {error}"),
        }
    }
}

/// Serves one connection until it ends: the client closes it or asks to, sends bad input, or
/// is idle past the timeout, in its own process.
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

/// A child that has exited stays a *zombie* (its exit status kept for the parent) until the
/// parent collects it with `waitpid`. The kernel sends SIGCHLD when a child exits; the handler
/// collects every child that is done.
#[allow(dead_code)]
fn reap_children_when_they_exit() -> nix::Result<()> {
    // SA_RESTART: a system call the signal interrupts (our accept) is restarted by the
    // kernel instead of failing with EINTR. SA_NOCLDSTOP: no signal when a child merely stops.
    let action = SigAction::new(
        SigHandler::Handler(reap_children),
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handler only calls waitpid and reads and restores errno, which are
    // async-signal-safe: it cannot deadlock or corrupt the code it interrupts.
    unsafe { sigaction(Signal::SIGCHLD, &action) }?;
    Ok(())
}

/// The SIGCHLD handler. Signals do not queue: two children exiting together may raise one
/// SIGCHLD, so collect children until none is left to collect.
#[allow(dead_code)]
extern "C" fn reap_children(_signal: libc::c_int) {
    // waitpid may set errno, and the interrupted code may be about to read it.
    let saved = Errno::last_raw();
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
    Errno::set_raw(saved);
}

/// Makes the kernel send this child SIGTERM when its parent dies, so that stopping the server
/// (Ctrl-C, `kill`) ends the children serving connections too (Linux's PR_SET_PDEATHSIG).
fn end_with_parent(parent: nix::unistd::Pid) {
    let asked = prctl::set_pdeathsig(Signal::SIGTERM);
    // The parent may have died before we asked: then nobody will send the signal.
    if asked.is_err() || getppid() != parent {
        // SAFETY: as at the end of the child in main: end now, clean up nothing twice.
        unsafe { libc::_exit(0) }
    }
}
