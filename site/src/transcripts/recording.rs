//! Recording: a stage's debug binary run under `strace -f`, sent its one request, and stopped.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{self, Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::plans::{Plan, plan};

/// strace is asked for more (`-s 256`), so that the document root, however deep the checkout
/// is, arrives whole and can be replaced by `www/` before the cut.
const STRACE_STRING_BYTES: &str = "256";

/// A raw trace and what is needed to normalise it.
#[derive(Debug)]
pub struct Recording {
    /// strace's output file, as written.
    pub raw: String,
    /// The document root as the server saw it (canonical), to be replaced by `www`.
    pub root: String,
    /// The port the server listened on.
    pub port: u16,
}

pub(super) fn check_strace() -> Result<(), String> {
    match Command::new("strace").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`strace -V` failed ({status})")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err("strace is not installed (Debian, Ubuntu: apt-get install strace)".into())
        }
        Err(error) => Err(format!("cannot run strace: {error}")),
    }
}

/// Runs `stage`'s debug binary under `strace -f`, sends it its one request, and stops it.
///
/// # Errors
///
/// One line: the binary is missing (`cargo build` makes it), strace could not trace it, or the
/// stage did not answer as expected.
pub fn record(workspace: &Path, stage: &str) -> Result<Recording, String> {
    let plan = plan(stage)?;
    let binary = workspace.join("target/debug").join(stage);
    if !binary.is_file() {
        return Err(format!("target/debug/{stage} is missing: run `cargo build` first"));
    }
    let root = fs::canonicalize(workspace.join("www"))
        .map_err(|error| format!("the demo site www/ is missing: {error}"))?;
    let trace_file = std::env::temp_dir().join(format!("site-{stage}-{}.strace", process::id()));
    let child = Command::new("strace")
        .args(["-f", "-s", STRACE_STRING_BYTES, "-o"])
        .arg(&trace_file)
        .arg("--")
        .arg(&binary)
        .args(["--port", "0", "--quiet", "--root"])
        .arg(&root)
        .args(plan.flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // strace and the server in a process group of their own, so that one signal to the
        // group stops the server and every process or thread it made.
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot start strace: {error}"))?;
    let mut traced = Traced { child, stopped: false };
    let result = exchange(&mut traced, plan);
    let strace_said = traced.stop();
    let raw = fs::read_to_string(&trace_file);
    let _ = fs::remove_file(&trace_file);
    let port = result.map_err(|error| match strace_said {
        Some(said) => format!("{stage}: {error} (strace: {said})"),
        None => format!("{stage}: {error}"),
    })?;
    let raw = raw.map_err(|error| format!("{stage}: strace wrote no trace: {error}"))?;
    Ok(Recording { raw, root: root.to_string_lossy().into_owned(), port })
}

/// Waits for the stage's `listening on` line, sends the request, reads the whole response, and
/// leaves the server time to finish: returns the port.
fn exchange(traced: &mut Traced, plan: &Plan) -> Result<u16, String> {
    let stdout = traced.child.stdout.take().ok_or("no stdout from strace")?;
    // The first line may never come (strace refused, the stage failed): read it on a thread,
    // and give up after a while.
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(20))
        .map_err(|_| "no `listening on` line within 20 s".to_string())?;
    let port = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|address| address.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .ok_or_else(|| {
            format!("expected `listening on http://HOST:PORT`, got {:?}", line.trim())
        })?;
    // Let the server settle into waiting for clients, so every trace shows the same start:
    // under strace, may's start-up after this line takes a quarter of a second here.
    thread::sleep(Duration::from_secs(1));

    let request = if plan.path == "/" {
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_string()
    } else {
        format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", plan.path)
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|error| format!("cannot connect to port {port}: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|error| format!("cannot set a read timeout: {error}"))?;
    if plan.late_request.is_some() {
        thread::sleep(Duration::from_millis(50));
    }
    stream.write_all(request.as_bytes()).map_err(|error| format!("cannot send: {error}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|error| format!("the response did not end with a close: {error}"))?;
    if !response.starts_with(b"HTTP/1.1 200 ") {
        let head = String::from_utf8_lossy(&response[..response.len().min(40)]).into_owned();
        return Err(format!("expected a 200 response, got {head:?}"));
    }
    // The server closes after its write; give it time to finish that close (stage03's child
    // exits, and the parent gets SIGCHLD and reaps it) before it is stopped.
    thread::sleep(Duration::from_millis(300));
    Ok(port)
}

/// strace running a stage; stopped (and waited for) at the latest when dropped.
struct Traced {
    child: Child,
    stopped: bool,
}

impl Traced {
    /// Sends SIGTERM to the whole process group, waits for strace, and returns the first line
    /// strace wrote on stderr, if any (its complaint, when it could not trace).
    fn stop(&mut self) -> Option<String> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        // std cannot signal a process group; kill(1) can. strace blocks the signal itself
        // (the default with -o FILE) and ends when the last traced process has.
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill").args(["-s", "TERM", "--", &group]).status();
        if !killed.is_ok_and(|status| status.success()) {
            // No kill(1), or the group is gone already: at least strace itself goes.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let mut said = String::new();
        self.child.stderr.take()?.read_to_string(&mut said).ok()?;
        said.lines().find(|line| !line.trim().is_empty()).map(str::to_string)
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_asks_for_cargo_build() {
        let error = record(Path::new("/nonexistent"), "stage01_hello").unwrap_err();
        assert_eq!(error, "target/debug/stage01_hello is missing: run `cargo build` first");
    }
}
