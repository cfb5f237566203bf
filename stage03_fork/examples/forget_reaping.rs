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

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use common::blocking::serve_connection;
use common::{Config, KeepAlive, Site};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid, getppid};

fn main() -> io::Result<()> {
    let config = Config::parse(8003);
    let site = Arc::new(Site::new(&config)?);
    let listener = config.listen();
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
                handle_connection(stream, peer, &site);
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

/// Serves one connection until it ends, in its own process.
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

/// A child that has exited stays a *zombie* (its exit status kept for the parent) until the
/// parent collects it with `waitpid`. The kernel sends SIGCHLD when a child exits; the handler
/// collects every child that is done.
#[allow(dead_code)]
fn reap_children_when_they_exit() -> io::Result<()> {
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
