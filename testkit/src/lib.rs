//! Test support for the stages: the one table of stages, starting the real binary, and
//! talking to it over real sockets.
//!
//! - [`STAGES`] lists every stage with what it can do and, in both of the course's languages,
//!   what it changes; the tests, the benchmark and the course pages all read it.
//! - [`Server::start`] runs a stage binary on `--port 0` with a fresh document root of known
//!   files ([`Fixture`]), reads the port from its first line, and kills it (and any child
//!   process it made) when dropped. [`Server::spawn`] is the one way every caller (the tests,
//!   the benchmark) starts a stage, and [`Server`] reads what the process costs from /proc.
//! - [`Client`] is a raw-socket client: it sends any bytes, split however a test likes, and
//!   reads responses with their framing (`Content-Length`), several in a row if pipelined.
//! - [`suites`] holds the conformance suites every stage runs.

#![warn(missing_docs)]

use std::cell::RefCell;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use stages::{STAGES, Stage, Text, Twin, stage};
pub use target::{STARTUP, Target};

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

mod stages;
pub mod suites;
mod target;

/// Text of the file kept *outside* the root; no response may ever contain it.
pub const SECRET: &str = "TOP SECRET: this file is outside the document root";

/// How long a test waits for an answer it expects before calling it a hang.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A document root of known files in a temporary directory, with a secret file beside it.
#[derive(Debug)]
pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Writes the files. Layout (under the root):
    ///
    /// ```text
    /// index.html  style.css  script.js  image.png  data.json  notes.txt  empty.txt  a b.txt  中文.html
    /// big.bin (3 MiB + 123 bytes)   docs/index.html  docs/page.html   empty/ (no index)
    /// escape.txt -> ../secret.txt   parent -> ..   inside.txt -> notes.txt
    /// ```
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory can be made");
        let root = dir.path().join("root");
        let write = |path: &str, contents: &[u8]| {
            let path = root.join(path);
            fs::create_dir_all(path.parent().expect("fixture paths have a parent")).unwrap();
            fs::write(path, contents).unwrap();
        };
        write("index.html", b"<!DOCTYPE html><title>home</title><h1>fixture home</h1>\n");
        write("style.css", b"body { color: #222; }\n");
        write("script.js", b"console.log('hi');\n");
        write("image.png", b"\x89PNG\r\n\x1a\nnot really a png");
        write("data.json", b"{\"ok\": true}\n");
        write("notes.txt", b"plain notes\n");
        write("empty.txt", b"");
        write("a b.txt", b"a file with a space\n");
        write("中文.html", "<h1>你好，世界</h1>\n".as_bytes());
        write("big.bin", &big_file_contents());
        write("docs/index.html", b"<h1>docs index</h1>\n");
        write("docs/page.html", b"<h1>docs page</h1>\n");
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        symlink("../secret.txt", root.join("escape.txt")).unwrap();
        symlink("..", root.join("parent")).unwrap();
        symlink("notes.txt", root.join("inside.txt")).unwrap();
        Fixture { dir }
    }

    /// The document root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// The contents of `big.bin`: a pattern that shows any lost, doubled or reordered chunk.
pub fn big_file_contents() -> Vec<u8> {
    (0..3 * 1024 * 1024 + 123u32).map(|i| (i % 251) as u8).collect()
}

/// A running server, killed with its process group when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    address: SocketAddr,
    /// The document root it serves, when the test made one.
    fixture: Option<Fixture>,
}

impl Server {
    /// Starts `binary --port 0 --root <fixture> --quiet <extra...>` and waits for its
    /// `listening on http://HOST:PORT` line.
    ///
    /// The server gets its own process group, so that dropping it can kill every process
    /// it made (stage03 forks a child per connection).
    pub fn start(binary: &str, extra: &[&str]) -> Server {
        Server::start_with(binary, extra, Command::new(binary))
    }

    /// Like [`Server::start`], with the server allowed at most `limit` open file descriptors
    /// (`ulimit -n`), to test what it does when it runs out.
    pub fn start_with_descriptor_limit(binary: &str, extra: &[&str], limit: u64) -> Server {
        let mut command = Command::new(binary);
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed; setrlimit is one, and nothing is allocated.
        unsafe {
            command.pre_exec(move || {
                setrlimit(Resource::RLIMIT_NOFILE, limit, limit).map_err(io::Error::from)
            });
        }
        Server::start_with(binary, extra, command)
    }

    fn start_with(binary: &str, extra: &[&str], mut command: Command) -> Server {
        let fixture = Fixture::new();
        command
            .args(["--port", "0", "--quiet", "--root"])
            .arg(fixture.root())
            .args(extra)
            // Quiet: tests that provoke errors (EMFILE, resets) would flood the output.
            .stderr(Stdio::null());
        let mut server =
            Server::spawn(command).unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
        server.fixture = Some(fixture);
        server
    }

    /// Starts a stage as `command` describes it (binary, flags, limits) and waits for its
    /// first line, `listening on http://HOST:PORT`. Its stdout is taken for that line; the
    /// process gets its own process group, so that dropping the server kills every process
    /// it made (stage03 forks a child per connection).
    ///
    /// # Errors
    ///
    /// When the process cannot be started, or its first line is not the expected one.
    pub fn spawn(mut command: Command) -> io::Result<Server> {
        let mut child = command.stdout(Stdio::piped()).process_group(0).spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let address = line.trim().strip_prefix("listening on http://").and_then(|a| a.parse().ok());
        let Some(address) = address else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "first line should be `listening on http://HOST:PORT`, got {line:?}"
            )));
        };
        Ok(Server { child, address, fixture: None })
    }

    /// A server started some other way (the benchmark's nginx), listening on `address`; it
    /// should have been spawned in a process group of its own.
    pub fn adopt(child: Child, address: SocketAddr) -> Server {
        Server { child, address, fixture: None }
    }

    /// Like [`Server::adopt`], for a server that serves `fixture`'s root.
    pub fn adopt_with_root(child: Child, address: SocketAddr, fixture: Fixture) -> Server {
        Server { child, address, fixture: Some(fixture) }
    }

    /// Where the server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server's process id (also its process group id).
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// The document root it serves (a server started by [`Server::start`]).
    pub fn root(&self) -> PathBuf {
        self.fixture.as_ref().expect("started with a fixture root").root()
    }

    /// A new connection to the server.
    pub fn connect(&self) -> Client {
        Client::connect(self.address)
    }

    /// Sends `bytes` on a new connection and reads one response.
    pub fn request(&self, bytes: &[u8]) -> HttpResponse {
        let mut client = self.connect();
        client.send(bytes);
        client.response()
    }

    /// `GET path` over HTTP/1.1 on a new connection.
    pub fn get(&self, path: &str) -> HttpResponse {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
    }

    /// Sends `signal` to the server process.
    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("the server process exists");
    }

    /// Waits up to `limit` for the server to exit; its exit status if it did.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait works on our child") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// CPU time the server process has used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let [user, system, ..] = self.cpu_ticks();
        // In clock ticks of USER_HZ, which Linux fixes at 100 per second for /proc.
        Duration::from_millis((user + system) * 10)
    }

    /// Like [`Server::cpu_time`], plus the CPU time of its children that have exited and been
    /// reaped (stage03 serves every connection in a child process).
    pub fn cpu_time_with_children(&self) -> Duration {
        let ticks: u64 = self.cpu_ticks().iter().sum();
        Duration::from_millis(ticks * 10)
    }

    /// How many times the server's threads have gone to sleep so far, all added up: each
    /// time a thread blocks (in `epoll_wait`, `nanosleep`, ...) and is woken counts one
    /// (`voluntary_ctxt_switches` in `/proc/PID/task/TID/status`). Unlike CPU time, which
    /// /proc counts in 10 ms ticks and a busy machine inflates, this counts wake-ups exactly.
    pub fn sleeps(&self) -> u64 {
        let pid = self.pid().as_raw();
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
        // A thread's id works as a pid in /proc: /proc/TID/status is that thread's.
        let tids = tasks.flatten().filter_map(|task| task.file_name().to_str()?.parse().ok());
        tids.map(|tid| status_field(tid, "voluntary_ctxt_switches:")).sum()
    }

    /// CPU time used so far by every live process in the server's process group (a master
    /// and its worker processes), and by their reaped children.
    pub fn group_cpu_time(&self) -> Duration {
        let processes = self.processes_in_group();
        let ticks: u64 = processes.iter().map(|(pid, _)| cpu_ticks(*pid).iter().sum::<u64>()).sum();
        Duration::from_millis(ticks * 10)
    }

    /// The highest resident memory of each process in the group since the last
    /// [`Server::group_reset_peak`], added up, in KiB.
    pub fn group_peak_rss_kib(&self) -> u64 {
        self.processes_in_group().iter().map(|(pid, _)| status_field(*pid, "VmHWM:")).sum()
    }

    /// Starts measuring every process's peak memory afresh.
    pub fn group_reset_peak(&self) {
        for (pid, _) in self.processes_in_group() {
            let _ = fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
    }

    fn cpu_ticks(&self) -> [u64; 4] {
        cpu_ticks(self.pid().as_raw())
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_field("VmRSS:")
    }

    /// The highest resident memory since the last [`Server::reset_peak`], in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_field("VmHWM:")
    }

    /// Starts measuring peak memory afresh (Linux: write 5 to /proc/PID/clear_refs).
    pub fn reset_peak(&self) {
        let _ = fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    fn status_field(&self, name: &str) -> u64 {
        status_field(self.pid().as_raw(), name)
    }

    /// The server's stderr, for a server spawned with it piped (once; `None` after that).
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Whether the process is still running (not exited, not killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The pids of live processes in the server's process group (the server and anything
    /// it forked), read from /proc. Zombies count: they are processes not yet reaped.
    pub fn processes_in_group(&self) -> Vec<(i32, char)> {
        let group = self.pid().as_raw();
        let mut found = Vec::new();
        for entry in fs::read_dir("/proc").expect("/proc is readable").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
            // Fields after the command name, which is in parentheses and may hold spaces.
            let Some(after) = stat.rfind(')').map(|end| &stat[end + 2..]) else { continue };
            let fields: Vec<&str> = after.split_whitespace().collect();
            let state = fields.first().and_then(|state| state.chars().next()).unwrap_or('?');
            if fields.get(2).and_then(|pgrp| pgrp.parse::<i32>().ok()) == Some(group) {
                found.push((pid, state));
            }
        }
        found
    }
}

/// utime, stime, cutime, cstime of a process: fields 14 to 17 of /proc/PID/stat.
fn cpu_ticks(pid: i32) -> [u64; 4] {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rfind(')').map_or("", |end| &stat[end + 2..]);
    let mut fields = after.split_whitespace().skip(11).map(|field| field.parse().unwrap_or(0));
    [(); 4].map(|()| fields.next().unwrap_or(0))
}

/// A number of KiB from /proc/PID/status (`VmRSS:`, `VmHWM:`), 0 when missing.
fn status_field(pid: i32, name: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Drop for Server {
    fn drop(&mut self) {
        // The whole group: a forking server's children too.
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A response as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The whole status line, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// Header lines in order, as (name, value).
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the server said it will close the connection.
    pub fn closes(&self) -> bool {
        self.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }

    /// Whether the connection stays open after this response (RFC 9112 §9.3): an HTTP/1.0
    /// response only if it says `Connection: keep-alive`, a later one unless it says `close`.
    pub fn persistent(&self) -> bool {
        if self.status_line.starts_with("HTTP/1.0") {
            self.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("keep-alive"))
        } else {
            !self.closes()
        }
    }
}

/// What a connection sent and received: for the grader's report of a failed check, the last
/// connection a check used on this thread ([`last_exchange`]), the first 4 KiB each way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// The bytes the client sent.
    pub sent: Vec<u8>,
    /// The bytes the server sent back.
    pub received: Vec<u8>,
    /// Which connection this is (a number given to each [`Client`]).
    connection: u64,
}

/// How many bytes of each direction an [`Exchange`] keeps.
const EXCHANGE_BYTES: usize = 4096;

thread_local! {
    static LAST_EXCHANGE: RefCell<Exchange> = RefCell::default();
}

/// The connection the current thread last sent or received on, with what went each way.
pub fn last_exchange() -> Exchange {
    LAST_EXCHANGE.with(|last| last.borrow().clone())
}

/// Forgets the last exchange (before a check begins).
pub fn clear_last_exchange() {
    LAST_EXCHANGE.with(|last| *last.borrow_mut() = Exchange::default());
}

/// Notes bytes that went one way on `connection`: the start of a new exchange if another
/// connection was the last one used.
fn record(connection: u64, bytes: &[u8], sent: bool) {
    LAST_EXCHANGE.with(|last| {
        let mut last = last.borrow_mut();
        if last.connection != connection {
            *last = Exchange { connection, ..Exchange::default() };
        }
        let kept = if sent { &mut last.sent } else { &mut last.received };
        let room = EXCHANGE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    });
}

/// A client on a raw socket.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    /// Bytes received but not yet part of a returned response (pipelined responses).
    received: Vec<u8>,
    /// Its number, for [`last_exchange`].
    number: u64,
}

impl Client {
    /// Connects to `address`; reads time out after [`PATIENCE`].
    pub fn connect(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        static CONNECTIONS: AtomicU64 = AtomicU64::new(1);
        let number = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        Client { stream, received: Vec::new(), number }
    }

    /// The socket, for tests that need more (timeouts, shutdown).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends `bytes`. A failure is ignored: the server may already have answered and
    /// closed (a test of a too-large head does exactly that), and the test then checks the
    /// response it got.
    pub fn send(&mut self, bytes: &[u8]) {
        record(self.number, bytes, true);
        let _ = self.stream.write_all(bytes);
    }

    /// Sends `bytes`, or says why they could not all be sent (the server reset the
    /// connection), for a test about how a connection ends.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        record(self.number, bytes, true);
        self.stream.write_all(bytes)
    }

    /// Sends `bytes` in pieces of `size`, pausing `pause` between them.
    pub fn send_in_pieces(&mut self, bytes: &[u8], size: usize, pause: Duration) {
        for piece in bytes.chunks(size) {
            self.send(piece);
            std::thread::sleep(pause);
        }
    }

    /// Reads one response; panics if none arrives within [`PATIENCE`].
    pub fn response(&mut self) -> HttpResponse {
        self.try_response(false).unwrap_or_else(|error| panic!("no response: {error}"))
    }

    /// Reads one response to a HEAD request (a head announcing a length, and no body).
    pub fn head_response(&mut self) -> HttpResponse {
        self.try_response(true).unwrap_or_else(|error| panic!("no response: {error}"))
    }

    /// Reads one response, or says why none came (timeout, closed connection, garbage).
    pub fn try_response(&mut self, head_only: bool) -> io::Result<HttpResponse> {
        let head_end = loop {
            // An answer that does not start with a status line is not HTTP/1.x, however it
            // goes on (HTTP/0.9 answered with the body alone).
            let start = &self.received[..self.received.len().min(5)];
            if !b"HTTP/".starts_with(start) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the answer has no status line (`HTTP/1.1 200 OK`): it is not HTTP/1.x",
                ));
            }
            if let Some(end) = self.received.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.received[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_string();
        let status =
            status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad status line {status_line:?}"),
                )
            })?;
        let headers: Vec<(String, String)> = lines
            .filter(|line| !line.is_empty())
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect();
        // A HEAD response, a 304 and a 1xx have no body, whatever their headers say.
        let length: usize = if head_only || status == 304 || status < 200 {
            0
        } else {
            let value =
                headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-length"));
            value.and_then(|(_, value)| value.parse().ok()).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "response without a valid Content-Length",
                )
            })?
        };
        while self.received.len() < head_end + length {
            self.fill()?;
        }
        let body = self.received[head_end..head_end + length].to_vec();
        self.received.drain(..head_end + length);
        Ok(HttpResponse { status, status_line, headers, body })
    }

    /// Waits for the server to close the connection, discarding anything it sends. True if
    /// it closed (or reset) within [`PATIENCE`], false if it kept the connection open.
    pub fn closed_by_server(&mut self) -> bool {
        let mut buffer = [0; 4096];
        loop {
            match self.stream.read(&mut buffer) {
                Ok(0) => return true,
                Ok(count) => record(self.number, &buffer[..count], false),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }

    /// Like [`Client::closed_by_server`], waiting at most `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let closed = self.closed_by_server();
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        closed
    }

    /// Whether anything (bytes or a close) arrives within `wait`, leaving bytes for later.
    pub fn anything_within(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let result = self.fill();
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        match result {
            Ok(()) => true,
            Err(error) => {
                !matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut buffer = [0; 64 * 1024];
        let count = match self.stream.read(&mut buffer) {
            // A read timeout, said in words: the OS's "Resource temporarily unavailable"
            // would puzzle the reader of a report card.
            Err(error)
                if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                let waited = self.stream.read_timeout().ok().flatten().unwrap_or_default();
                return Err(io::Error::new(
                    error.kind(),
                    format!("nothing came within {waited:?}"),
                ));
            }
            other => other?,
        };
        match count {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )),
            count => {
                record(self.number, &buffer[..count], false);
                self.received.extend_from_slice(&buffer[..count]);
                Ok(())
            }
        }
    }
}

/// Whether a port is free to bind on 127.0.0.1 (after a server exits, it must be).
pub fn port_is_free(address: SocketAddr) -> bool {
    std::net::TcpListener::bind(address).is_ok()
}

/// The path of an example binary of the stage under test. `cargo test` builds a package's
/// examples next to its test binaries: `target/debug/examples/` beside `target/debug/deps/`.
pub fn example(name: &str) -> String {
    let test_binary = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: `cargo test` builds examples unless a target is named (`--test ...`); \
         run `cargo build --examples` first",
        path.display()
    );
    path.display().to_string()
}

/// How many lines differ between two texts: the lines of each that the other does not share
/// (what `diff` counts as removed plus added).
pub fn changed_lines(before: &str, after: &str) -> usize {
    let diff = similar::TextDiff::from_lines(before, after);
    diff.iter_all_changes().filter(|change| change.tag() != similar::ChangeTag::Equal).count()
}

/// The source of a stage's `src/main.rs` and of one of its examples, for diff-size tests.
pub fn main_and_example(manifest_dir: &str, example: &str) -> (String, String) {
    let read =
        |path: String| fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    (
        read(format!("{manifest_dir}/src/main.rs")),
        read(format!("{manifest_dir}/examples/{example}.rs")),
    )
}

#[cfg(test)]
mod tests {
    use super::changed_lines;

    #[test]
    fn changed_lines_counts_like_diff() {
        assert_eq!(changed_lines("a\nb\nc\n", "a\nb\nc\n"), 0);
        assert_eq!(changed_lines("a\nb\nc\n", "a\nx\nc\n"), 2);
        assert_eq!(changed_lines("a\nb\nc\n", "a\nc\n"), 1);
        assert_eq!(changed_lines("", "a\nb\n"), 2);
    }
}
