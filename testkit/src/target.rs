//! What the suites and the grader run: a stage's binary, or any server at all, given as the
//! command line that starts it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Fixture, Server};

/// How long a server started from a command line has to accept its first connection.
pub const STARTUP: Duration = Duration::from_secs(10);

/// The server under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A stage's binary, or any binary with the same flags: started as `BINARY --port 0
    /// --root DIR --quiet`, it prints `listening on http://HOST:PORT` first. The checks hold
    /// it to the course's own choices too (DESIGN.md: which 4xx, which headers).
    Binary(String),
    /// Any server, as a shell command line in which `{port}` and `{root}` stand for a free port
    /// on 127.0.0.1 and the document root, and `{timeout}`, if present, for the idle timeout
    /// in seconds that a check wants. It is ready when a connection to the port succeeds. The
    /// checks hold it to what HTTP requires, not to the course's choices.
    Command(String),
}

impl From<&str> for Target {
    /// A stage's binary, as the tests name it (`env!("CARGO_BIN_EXE_...")`).
    fn from(binary: &str) -> Target {
        Target::Binary(binary.to_string())
    }
}

impl Target {
    /// Whether the checks also hold the server to the course's own choices: the status a bad
    /// request gets when HTTP allows several, the `charset` of a text type, the `Server`
    /// header. A stage's binary is held to them; any other server only to HTTP.
    pub fn course_rules(&self) -> bool {
        matches!(self, Target::Binary(_))
    }

    /// Whether the server can be given its idle timeout (a stage's `--timeout`, or `{timeout}`
    /// in a command line). A check of timeouts waits only that long when it can.
    pub fn takes_a_timeout(&self) -> bool {
        match self {
            Target::Binary(_) => true,
            Target::Command(line) => line.contains("{timeout}"),
        }
    }

    /// Starts the server on a fresh document root ([`Fixture`]). `flags` are a stage's extra
    /// flags (`--timeout 1`); a command line takes only the timeout, through `{timeout}`.
    ///
    /// # Panics
    ///
    /// When the server cannot be started, or does not listen within [`STARTUP`].
    pub fn start(&self, flags: &[&str]) -> Server {
        match self {
            Target::Binary(binary) => Server::start(binary, flags),
            Target::Command(line) => start_command(line, flags)
                .unwrap_or_else(|error| panic!("cannot start `{line}`: {error}")),
        }
    }
}

/// Starts a command line with its placeholders filled, and waits for its port to accept.
fn start_command(line: &str, flags: &[&str]) -> io::Result<Server> {
    let fixture = Fixture::new();
    let port = free_port()?;
    let timeout = flags.windows(2).find(|pair| pair[0] == "--timeout").map_or("10", |pair| pair[1]);
    let line = line
        .replace("{port}", &port.to_string())
        .replace("{root}", &fixture.root().display().to_string())
        .replace("{timeout}", timeout);
    // `exec`: the shell becomes the server, so that signals sent to the server (the shutdown
    // check) reach it, and not a shell waiting for it.
    let mut child = Command::new("sh")
        .args(["-c", &format!("exec {line}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    loop {
        if TcpStream::connect(address).is_ok() {
            return Ok(Server::adopt_with_root(child, address, fixture));
        }
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("it exited ({status}) before it listened")));
        }
        if started.elapsed() > STARTUP {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!("nothing listened on {address} for {STARTUP:?}")));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A port on 127.0.0.1 that nothing listens on now: the kernel picks one, and it is let go.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}
