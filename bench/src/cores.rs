//! Placing a process on a core, for the server and for wrk.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::Pid;

/// Runs the command on one core only (`Some(core)`, when the machine has more than one) or on
/// any (`None`), and lets it open as many files as the hard limit allows (10,000 idle
/// connections need 10,000 descriptors).
pub fn pin(command: &mut Command, core: Option<usize>) {
    let several = std::thread::available_parallelism().is_ok_and(|cores| cores.get() > 1);
    let pinned = core.filter(|_| several);
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: sched_setaffinity and getrlimit/setrlimit are plain
    // system calls, and building the CpuSet allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some(core) = pinned {
                let mut cores = CpuSet::new();
                cores.set(core).map_err(io::Error::from)?;
                sched_setaffinity(Pid::from_raw(0), &cores).map_err(io::Error::from)?;
            }
            let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
            setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)
        });
    }
}
