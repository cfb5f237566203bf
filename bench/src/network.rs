//! The network the bench measures on: loopback, in a network namespace of its own where it
//! can make one, so that a host's TCP tuning does not decide the figures.
//!
//! The first setting that matters is the congestion control. Linux's default, cubic, sends what
//! the window allows at once. BBR, which some hosts choose instead, paces each connection at
//! the rate it has measured, with a timer, and on loopback that rate is how fast wrk reads.
//! A server that sends whole large responses at once (stage10 on `256k-50`) then pays for
//! the pacing timers on its own core, and its figure says more about the host's choice than
//! about the server. So the bench measures in a namespace of its own with cubic, whatever
//! the host uses. A new namespace copies the host's TCP buffer sizes and its congestion
//! control (which is why the bench sets both itself); most other settings start at Linux's
//! defaults. Linux lets a namespace other than the host's choose only a congestion control
//! the host allows, and a host that boots with BBR may allow no other: the bench then allows
//! cubic for the moment the namespace takes to choose it, and puts the host's list back.
//!
//! The other setting is the receive buffer a new connection starts with, which sizes the
//! window wrk advertises. On loopback, when a response is larger than that window, the
//! server sends what fits and the rest waits for wrk to read: the acknowledgement that opens
//! the window then sends it from wrk's core, and wrk, not the server, is charged for that
//! sending. How far the windows grow depends on the server's own pace (Linux sizes a window by
//! what the reader read in the last round trip), so two servers doing the same work could be
//! charged differently for it. The namespace's connections start with a 2 MiB buffer, where the
//! host may have anything (Linux's default is 128 KiB): every window then holds a whole response
//! from the first request on, and every server pays for all of its sending on its own core, as
//! it would on a real network.
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

/// The sizes of a TCP connection's receive buffer, for the network namespace of the process
/// that writes them: the least, the one it starts with, the most it may grow to.
const RECEIVE_BUFFERS: &str = "/proc/sys/net/ipv4/tcp_rmem";

/// The receive buffers the bench measures with: Linux's defaults, except that a connection
/// starts with 2 MiB, so that wrk's window holds a whole response from the start.
const RECEIVE_BUFFERS_MEASURED: &str = "4096 2097152 6291456";

/// Moves this process (and every process it starts from now on) into a network namespace of
/// its own with loopback up, cubic and 2 MiB receive buffers to start with, if it can. Call it
/// before starting any thread or server: a namespace is a thread's, and a thread started later
/// inherits its creator's.
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
                 default congestion control ({MEASURED_WITH}; the host uses {host}) and \
                 receive buffers that start at 2 MiB, so that neither the host's choices nor \
                 how far wrk's windows happen to grow decide the large-file figures (see \
                 DESIGN.md)."
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

/// Brings the new namespace's loopback up (it starts down), sets cubic and the receive
/// buffers.
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
        .map_err(|error| io::Error::other(format!("setting {MEASURED_WITH}: {error}")))?;
    fs::write(RECEIVE_BUFFERS, RECEIVE_BUFFERS_MEASURED)
        .map_err(|error| io::Error::other(format!("setting {RECEIVE_BUFFERS}: {error}")))
}
