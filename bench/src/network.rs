//! The network the bench measures on: loopback, in a network namespace of its own where it
//! can make one, so that a host's TCP tuning does not decide the figures.
//!
//! The setting that matters is the congestion control. Linux's default, cubic, sends what
//! the window allows at once. BBR, which some hosts choose instead, paces each connection at
//! the rate it has measured, with a timer, and on loopback that rate is how fast wrk reads.
//! A server that sends whole large responses at once (stage10 on `256k-50`) then pays for
//! the pacing timers on its own core, and its figure says more about the host's choice than
//! about the server. So the bench measures in a namespace of its own with cubic, whatever
//! the host uses. A new namespace copies the host's TCP buffer sizes and its congestion
//! control (which is why the bench sets cubic itself); most other settings start at Linux's
//! defaults. Linux lets a namespace other than the host's choose only a congestion control
//! the host allows, and a host that boots with BBR may allow no other: the bench then allows
//! cubic for the moment the namespace takes to choose it, and puts the host's list back.
//!
//! Making a namespace needs root (`CAP_SYS_ADMIN`). Without it the bench measures on the
//! host's network, and the results say which congestion control that was.

use std::fs;
use std::io;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};

/// Where the congestion control of new TCP connections is chosen, for the network namespace
/// of the process that reads or writes it.
const CONGESTION_CONTROL: &str = "/proc/sys/net/ipv4/tcp_congestion_control";

/// The congestion controls a namespace other than the host's may choose: one list for the
/// whole machine, which only the host's namespace may change.
const ALLOWED: &str = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";

/// Why the bench measures on the host's network when it is not run as root.
const NEEDS_ROOT: &str = "making a network namespace needs root";

/// The congestion control the bench measures with: Linux's default.
const MEASURED_WITH: &str = "cubic";

/// Moves this process (and every process it starts from now on) into a network namespace of
/// its own with loopback up and cubic, if it can. Call it before starting any thread or
/// server: a namespace is a thread's, and a thread started later inherits its creator's.
/// Returns the sentence the results print about the network.
///
/// # Errors
///
/// Only when the namespace was made, could not be set up, and going back to the host's
/// network failed too: the bench would then measure on a loopback that may be down.
pub fn isolate() -> io::Result<String> {
    let host = congestion_control();
    let fall_back = |why: &dyn std::fmt::Display| {
        eprintln!("bench: measuring on the host's network ({host}): {why}");
        format!(
            "Network: the host's loopback and its congestion control, {host} (no namespace of \
             the bench's own: {why})."
        )
    };
    let host_namespace = match fs::File::open("/proc/self/ns/net") {
        Ok(file) => file,
        Err(error) => return Ok(fall_back(&error)),
    };
    // Allow cubic, if the host does not, while still in the host's namespace. A namespace keeps
    // the congestion control it chose, so the host's list goes back right after (below).
    let allowed = fs::read_to_string(ALLOWED).unwrap_or_default().trim().to_string();
    let allow_for_now = !allowed.split_whitespace().any(|name| name == MEASURED_WITH);
    if allow_for_now {
        match fs::write(ALLOWED, format!("{allowed} {MEASURED_WITH}")) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                return Ok(fall_back(&NEEDS_ROOT));
            }
            Err(error) => return Ok(fall_back(&error)),
        }
    }
    if let Err(errno) = unshare(CloneFlags::CLONE_NEWNET) {
        if allow_for_now {
            put_back(&allowed);
        }
        return Ok(match errno {
            Errno::EPERM => fall_back(&NEEDS_ROOT),
            errno => fall_back(&errno),
        });
    }
    // In the new namespace now: set it up, and keep a handle on it to come back to.
    let own_namespace = fs::File::open("/proc/self/ns/net").and_then(|own| set_up().map(|()| own));
    if allow_for_now || own_namespace.is_err() {
        let why = own_namespace.as_ref().err().map_or_else(
            || "putting back the host's allowed congestion controls".to_string(),
            ToString::to_string,
        );
        setns(&host_namespace, CloneFlags::CLONE_NEWNET).map_err(|errno| {
            io::Error::other(format!("{why}; going back to the host's network: {errno}"))
        })?;
    }
    if allow_for_now {
        put_back(&allowed);
    }
    match own_namespace {
        Ok(own) => {
            if allow_for_now {
                setns(&own, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            }
            Ok(format!(
                "Network: loopback in a network namespace of the bench's own, with Linux's \
                 default congestion control ({MEASURED_WITH}; the host uses {host}), so that \
                 the host's choice does not decide the large-file figures (see DESIGN.md)."
            ))
        }
        Err(error) => Ok(fall_back(&error)),
    }
}

/// Puts the host's list of allowed congestion controls back, from the host's namespace.
fn put_back(allowed: &str) {
    if let Err(error) = fs::write(ALLOWED, allowed) {
        eprintln!("bench: could not put back {ALLOWED} ({allowed}): {error}");
    }
}

/// The congestion control of the current network namespace.
fn congestion_control() -> String {
    fs::read_to_string(CONGESTION_CONTROL).map_or_else(|_| "unknown".into(), |s| s.trim().into())
}

/// Brings the new namespace's loopback up (it starts down) and sets cubic.
fn set_up() -> io::Result<()> {
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|error| io::Error::other(format!("ip (iproute2): {error}")))?;
    if !up.success() {
        return Err(io::Error::other("`ip link set lo up` failed"));
    }
    fs::write(CONGESTION_CONTROL, MEASURED_WITH)
        .map_err(|error| io::Error::other(format!("setting {MEASURED_WITH}: {error}")))
}
