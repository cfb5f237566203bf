//! The strace excerpts in the lessons, recorded instead of typed.
//!
//! `cargo run -p site -- transcripts` runs every stage's debug binary under `strace -f`, sends
//! it one request, stops it, and turns the raw trace into a short excerpt: what the stage does
//! for that request, in the order a reader follows it, with nothing that belongs to one machine
//! or one run (paths, ports, addresses, pids). Each excerpt goes to `site/transcripts/` and
//! between the `strace:begin` and `strace:end` markers of the stage's lessons (README.md and
//! README.zh-CN.md).
//!
//! The raw trace goes through four steps:
//!
//! 1. Parse: one event per system call (strace splits a call that another thread
//!    interrupts into `<unfinished ...>` and `<... resumed>`: they are joined again), signal
//!    or exit. What the final SIGTERM interrupted counts as never finished: it was waiting.
//! 2. Normalise: the document root becomes `www/`, ports `PORT`, pointers `0x...`, long
//!    strings are cut after 32 bytes (as `strace -s 32` would, but after the root is replaced,
//!    so a long checkout path cannot be cut halfway).
//! 3. Select: noise out (memory, signals set-up, thread start-up, the polling crate's own
//!    descriptors, ...), the window from the connection's `accept4` to the end, the stage's own
//!    rules (stage05's timer ticks, stage06's idle passes, shown twice and then summed up).
//! 4. Order: threads run at the same time, so raw order changes from run to run. The excerpt
//!    follows one thread until it waits (accept, epoll_wait, a futex) and only then goes to the
//!    thread that ran next, which keeps each thread's story in one piece.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{self, Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::Lang;
use crate::markers::Markers;

/// The marker lines around a README's generated excerpt.
pub const MARKERS: Markers = Markers { begin: "<!-- strace:begin", end: "<!-- strace:end -->" };

/// The command that writes the excerpts, as the READMEs and errors name it.
pub const COMMAND: &str = "cargo run -p site -- transcripts";

/// Strings in the excerpt are cut after this many bytes, as `strace -s 32` cuts them.
const STRING_BYTES: usize = 32;
/// strace is asked for more (`-s 256`), so that the document root, however deep the checkout
/// is, arrives whole and can be replaced by `www/` before the cut.
const STRACE_STRING_BYTES: &str = "256";
/// No excerpt line is longer; longer calls lose their last arguments to `...`.
const WIDTH: usize = 110;
/// strace pads `call(args)` to this width before ` = result`; the excerpts do the same.
const CALL_WIDTH: usize = 39;
/// The notes' column is at most this far right, so that they stay in view; a longer line has
/// its note right after it.
const NOTE_COLUMN: usize = 76;

/// How one stage is run and how its trace becomes an excerpt.
#[derive(Debug)]
struct Plan {
    stage: &'static str,
    /// Flags besides `--port 0 --quiet --root DIR`.
    flags: &'static [&'static str],
    /// The path requested (stage01 answers anything, so it gets `/`).
    path: &'static str,
    /// Where the excerpt starts.
    start: Start,
    /// How many calls of the accepting thread before the start to show as well (only calls
    /// named in `lead_calls`), with a line saying what they are.
    lead: usize,
    lead_calls: &'static [&'static str],
    lead_note: Option<&'static str>,
    /// Stage06: the request is sent a moment after the connection, so that the first reads
    /// find nothing, every time (sent at once, it sometimes beats the accept and sometimes
    /// not). The excerpt shows two passes of that, then this line, then the pass it arrives in.
    late_request: Option<&'static str>,
    /// Stage06: after the connection's close, this many events of that thread, then a line
    /// saying that the same goes on; everything later is left out.
    tail: Option<(usize, &'static str)>,
    /// futex is how threads hand work over: shown where that is the lesson.
    futex: Futex,
    /// may's epoll_wait runs every 10 ms for its timers: show one tick, not every one.
    may_ticks: bool,
    /// Annotations for this stage, tried before the common ones.
    notes: &'static [Note],
}

/// Where an excerpt starts.
#[derive(Debug, PartialEq)]
enum Start {
    /// At the first `socket()`: the start-up too (socket, bind, listen).
    Socket,
    /// At the `accept4` that returns the connection.
    Accept,
    /// At `io_uring_setup`: stage10 makes no `accept4`, `recvfrom` or `sendto` of its own (the
    /// kernel does them inside `io_uring_enter`), so the excerpt shows the ring from its start.
    Ring,
}

/// Which futex calls an excerpt shows.
#[derive(Debug, PartialEq)]
enum Futex {
    /// None: they are how locks and parking work inside libraries.
    Hidden,
    /// Every one: stage04's channel hands connections over with them.
    All,
    /// The accepting thread's only: stage05's main thread parks on one between accepts (may's
    /// workers park and wake one another too, which is may's business).
    Accepting,
}

/// An annotation: the first line (by `who`, if given) containing every string of `all` gets
/// `text` on its right. Each note is used once per excerpt.
#[derive(Debug)]
struct Note {
    who: Option<&'static str>,
    all: &'static [&'static str],
    text: &'static str,
}

const fn note(all: &'static [&'static str], text: &'static str) -> Note {
    Note { who: None, all, text }
}

const fn note_by(who: &'static str, all: &'static [&'static str], text: &'static str) -> Note {
    Note { who: Some(who), all, text }
}

/// The notes every stage shares, tried after the stage's own.
const COMMON_NOTES: &[Note] = &[
    note(&["socket(AF_INET"], "a socket: the listener to be"),
    note(&["SO_REUSEADDR"], "bind again at once after a restart"),
    note(&["bind(3"], "where to listen"),
    note(&["listen(3"], "the kernel queues connections now"),
    note(&["getsockname("], "which port?"),
    note(&["write(1, \"listening"], "the first line on stdout"),
    note(&["accept4(", "= -1 EAGAIN"], "nobody new"),
    note(&["accept4(", "sa_family"], "a client: its own socket"),
    note(&["accept4(3, <unfinished"], "waiting for the next client"),
    note(&["SO_RCVTIMEO"], "read timeout"),
    note(&["SO_SNDTIMEO"], "write timeout"),
    note(&["TCP_NODELAY"], "send small responses at once"),
    note(&["FIONBIO, [1]"], "non-blocking"),
    note(&["recvfrom(", "= -1 EAGAIN"], "asked in vain"),
    note(&["\"GET "], "the request"),
    note(&["statx(", "AT_SYMLINK_NOFOLLOW"], "lstat: not a symlink"),
    note(&["openat(", "\"www/", "O_NOFOLLOW"], "open it, refusing a symlink"),
    note(&["read(", "\"/* "], "the file"),
    note(&["\"HTTP/1.1 200"], "head and body in one call"),
    note(&["epoll_ctl(", "EPOLL_CTL_ADD"], "watch it"),
    note(&["epoll_ctl(", "EPOLL_CTL_DEL"], "stop watching it"),
];

/// The plans, in the order of [`crate::STAGES`].
const PLANS: [Plan; 10] = [
    Plan {
        stage: "stage01_hello",
        flags: &[],
        path: "/",
        start: Start::Socket,
        lead: 0,
        lead_calls: &[],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[note(&["\"HTTP/1.1 200"], "hello world, head and body")],
    },
    Plan {
        stage: "stage02_static",
        flags: &[],
        path: "/style.css",
        start: Start::Accept,
        lead: 0,
        lead_calls: &[],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[note(&["close(4)"], "the client sees the end")],
    },
    Plan {
        stage: "stage03_fork",
        flags: &[],
        path: "/style.css",
        start: Start::Accept,
        lead: 0,
        lead_calls: &[],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[
            note_by("main", &["getpid()"], "the parent's pid, for the child"),
            note_by("main", &["clone("], "fork"),
            note_by("main", &["close(4)"], "parent: closes its copy"),
            note_by("main", &["accept4(3, <unfinished"], "parent: back to accept at once"),
            note_by("child", &["close(3)"], "child: closes the listener"),
            note_by("child", &["PR_SET_PDEATHSIG"], "child: end with the parent"),
            note_by("child", &["getppid()"], "is the parent still there?"),
            note_by("child", &["exit_group("], "_exit(0)"),
            note_by("main", &["resumed>", "ERESTARTSYS"], "interrupted by SIGCHLD"),
            note_by("main", &["SIGCHLD"], "the handler runs"),
            note_by("main", &["wait4(", "= child"], "reaped"),
            note_by("main", &["wait4(", "ECHILD"], "no other child is done"),
            note_by("main", &["accept4(3, <unfinished"], "restarted (SA_RESTART)"),
        ],
    },
    Plan {
        stage: "stage04_threads",
        flags: &["--workers", "2"],
        path: "/style.css",
        start: Start::Accept,
        lead: 0,
        lead_calls: &[],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::All,
        may_ticks: false,
        notes: &[
            note_by("main", &["FUTEX_WAKE"], "send: wake one worker"),
            note_by("main", &["accept4(3, <unfinished"], "main: back to accept"),
            note_by("worker", &["FUTEX_WAIT", "= 0"], "woken with a connection"),
            note_by("worker", &["FUTEX_WAIT", "<unfinished"], "back to the channel"),
        ],
    },
    Plan {
        stage: "stage05_coroutines",
        flags: &["--workers", "2"],
        path: "/style.css",
        start: Start::Accept,
        lead: 1,
        lead_calls: &["futex"],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Accepting,
        may_ticks: true,
        notes: &[
            note_by("main", &["FUTEX_WAIT", "= 0"], "woken: a client is waiting"),
            note_by("main", &["accept4(", "= -1 EAGAIN"], "nobody new: park the thread"),
            note_by("main", &["FUTEX_WAIT", "<unfinished"], "parked"),
            note_by("main", &["epoll_ctl(", "EPOLL_CTL_ADD"], "may watches it"),
            note(&["epoll_wait(", "= 0"], "may's timer tick, every 10 ms"),
        ],
    },
    Plan {
        stage: "stage06_nonblocking",
        flags: &[],
        path: "/style.css",
        start: Start::Accept,
        lead: 4,
        lead_calls: &["accept4", "clock_nanosleep"],
        lead_note: Some("... (the same pass every 0.5 ms since start-up)"),
        late_request: Some("... (the same pass every 0.5 ms until the request arrives)"),
        tail: Some((2, "... (the same pass every 0.5 ms until the server is stopped)")),
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[note(&["clock_nanosleep("], "nothing happened: rest 500 us")],
    },
    Plan {
        stage: "stage07_epoll",
        flags: &[],
        path: "/style.css",
        start: Start::Accept,
        lead: 1,
        lead_calls: &["epoll_pwait"],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[
            note(&["epoll_pwait(", "18446744073709551614"], "listener readable"),
            note(&["epoll_ctl(", "EPOLL_CTL_ADD"], "watch it as key 0"),
            note(&["epoll_pwait(", "u64=0}"], "key 0 is readable"),
            note(&["epoll_pwait(", "<unfinished"], "asleep until the next event"),
        ],
    },
    Plan {
        stage: "stage08_reuseport",
        flags: &["--workers", "2"],
        path: "/style.css",
        start: Start::Socket,
        lead: 0,
        lead_calls: &[],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[
            note(&["SO_REUSEPORT"], "share the port with the other workers"),
            note(&["epoll_pwait(", "18446744073709551614"], "listener readable"),
            note(&["epoll_pwait(", "<unfinished"], "asleep until the next event"),
        ],
    },
    Plan {
        stage: "stage09_async",
        flags: &["--workers", "1"],
        path: "/style.css",
        start: Start::Accept,
        lead: 1,
        lead_calls: &["epoll_wait", "epoll_pwait"],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[
            note(&["epoll_wait(", "<unfinished"], "asleep until the next event"),
            note(&["epoll_ctl(", "EPOLL_CTL_ADD"], "tokio registers every socket, edge-triggered"),
            note(&["epoll_wait("], "the reactor: what is ready?"),
        ],
    },
    Plan {
        stage: "stage10_uring",
        flags: &[],
        path: "/style.css",
        start: Start::Ring,
        lead: 0,
        lead_calls: &[],
        lead_note: None,
        late_request: None,
        tail: None,
        futex: Futex::Hidden,
        may_ticks: false,
        // What each io_uring_enter submits (its second argument) before it waits for at least
        // one completion: the loop queues operations as completions come in, and submits them
        // all in its next call. (The request asks for `Connection: close`.)
        notes: &[
            note(&["io_uring_enter(", ", 17, 1,"], "submit 16 accepts, buffers"),
            note(&["io_uring_enter(", ", 0, 1,"], "asleep until a completion: a client"),
            note(&["io_uring_enter(", ", 2, 1,"], "an accept, a receive: request"),
            note(&["io_uring_enter(", ", 2, 1,"], "send; buffer given back"),
            note(&["io_uring_enter(", ", 1, 1,"], "close (Connection: close)"),
            note(&["io_uring_enter(", ", 0, 1,"], "asleep: nothing to do"),
        ],
    },
];

/// Whether `stage` has an strace excerpt (every stage has one now; a new stage may start
/// without).
pub fn recorded(stage: &str) -> bool {
    PLANS.iter().any(|plan| plan.stage == stage)
}

fn plan(stage: &str) -> Result<&'static Plan, String> {
    PLANS.iter().find(|plan| plan.stage == stage).ok_or_else(|| format!("no such stage: {stage}"))
}

// ---------------------------------------------------------------------------------------------
// Recording

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

/// Runs every stage (or only the one named) under strace and writes its excerpt to
/// `site/transcripts/<stage>.txt` and into its lessons. Returns one line per file written.
///
/// # Errors
///
/// One line: strace or a stage binary is missing, a stage misbehaved, or an excerpt lacks the
/// request or the response.
pub fn run(workspace: &Path, only: Option<&str>) -> Result<Vec<String>, String> {
    check_strace()?;
    if let Some(stage) = only {
        plan(stage)?;
    }
    // Everything is recorded before anything is written: a failure leaves no half-update.
    let mut excerpts = Vec::new();
    let chosen = |stage: &&str| recorded(stage) && only.is_none_or(|only| only == *stage);
    for stage in crate::STAGES.map(|stage| stage.name).into_iter().filter(chosen) {
        let recording = record(workspace, stage)?;
        excerpts.push((stage, excerpt(stage, &recording)?));
    }
    let mut written = Vec::new();
    let out = workspace.join("site/transcripts");
    fs::create_dir_all(&out).map_err(|error| format!("cannot create site/transcripts: {error}"))?;
    for (stage, excerpt) in excerpts {
        let text_file = out.join(format!("{stage}.txt"));
        fs::write(&text_file, &excerpt)
            .map_err(|error| format!("cannot write {}: {error}", text_file.display()))?;
        written.push(format!(
            "wrote site/transcripts/{stage}.txt ({} lines)",
            excerpt.lines().count()
        ));
        // Others edit the lessons' prose meanwhile: read, replace the block, write back at once.
        for lang in Lang::ALL {
            let file = format!("{stage}/{}", lang.readme());
            let readme = fs::read_to_string(workspace.join(&file))
                .map_err(|error| format!("cannot read {file}: {error}"))?;
            let updated = MARKERS
                .replace_block(&readme, &readme_block(stage, &excerpt, lang))
                .map_err(|error| format!("{file}: {error}"))?;
            if updated != readme {
                fs::write(workspace.join(&file), updated)
                    .map_err(|error| format!("cannot write {file}: {error}"))?;
                written.push(format!("updated {file}"));
            }
        }
    }
    Ok(written)
}

fn check_strace() -> Result<(), String> {
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

// ---------------------------------------------------------------------------------------------
// The README block

/// What lies between a lesson's marker lines: the command that made the excerpt (said in the
/// lesson's language), and the excerpt in a `text` block (the same in both).
pub fn readme_block(stage: &str, excerpt: &str, lang: Lang) -> String {
    let plan = PLANS.iter().find(|plan| plan.stage == stage);
    let flags = plan.map(|plan| plan.flags.join(" ")).unwrap_or_default();
    let flags = if flags.is_empty() { String::new() } else { format!(" {flags}") };
    let path = plan.map_or("/style.css", |plan| plan.path);
    let command = format!("`strace -f ./target/debug/{stage} --quiet{flags}`");
    let intro = match lang {
        Lang::English => {
            format!("{command}, then one request for {path} (`{COMMAND}` wrote this):")
        }
        Lang::Chinese => format!("{command}，然后请求一次 {path}（由 `{COMMAND}` 写入）："),
    };
    format!("{intro}\n\n```text\n{excerpt}```\n")
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// One system call, signal or exit of the trace.
#[derive(Clone, Debug, PartialEq)]
struct Event {
    pid: u32,
    /// Line numbers of the raw trace where it started and where it ended (the same unless
    /// strace split it).
    start: usize,
    end: usize,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// `name(args) = result`; `result` is None for a call that never returned (it was still
    /// waiting when the server was stopped).
    Call { name: String, args: String, result: Option<String> },
    /// `--- SIGCHLD {...} ---`
    Signal(String),
    /// `+++ exited with 0 +++`
    Exit(String),
}

/// The events of a raw `strace -f -o FILE` trace, each call whole, in the order they ended.
fn parse(raw: &str) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    // Calls strace left unfinished, by pid: their line number and text so far.
    let mut open: HashMap<u32, (usize, String)> = HashMap::new();
    // Pids that got the final SIGTERM: nothing after it counts.
    let mut stopped: HashSet<u32> = HashSet::new();
    for (number, line) in raw.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let rest = rest.trim_start();
        if stopped.contains(&pid) {
            continue;
        }
        if let Some(signal) = rest.strip_prefix("--- ") {
            if signal.starts_with("SIGTERM ") {
                // A call just interrupted by the stop was waiting, not finishing.
                stopped.insert(pid);
                let last = events.iter_mut().rev().find(|event| event.pid == pid);
                if let Some(Event { kind: Kind::Call { result, .. }, .. }) = last {
                    if result.as_deref().is_some_and(interrupted) {
                        *result = None;
                    }
                }
                continue;
            }
            let text = signal.trim_end_matches(" ---").to_string();
            events.push(Event { pid, start: number, end: number, kind: Kind::Signal(text) });
            continue;
        }
        if let Some(exit) = rest.strip_prefix("+++ ") {
            let text = exit.trim_end_matches(" +++");
            if !text.starts_with("killed by") {
                events.push(Event {
                    pid,
                    start: number,
                    end: number,
                    kind: Kind::Exit(text.into()),
                });
            }
            continue;
        }
        if let Some(begun) = rest.strip_suffix("<unfinished ...>") {
            open.insert(pid, (number, begun.trim_end().to_string()));
            continue;
        }
        let (start, text) = if let Some(resumed) = rest.strip_prefix("<... ") {
            // `<... name resumed>rest`: glue it to the beginning.
            let Some((_, tail)) = resumed.split_once(" resumed>") else { continue };
            let Some((start, begun)) = open.remove(&pid) else { continue };
            if tail.trim_start().starts_with("<unfinished ...>") {
                // The thread was killed in the middle: it was waiting.
                let call = parse_call(&format!("{begun}) = ?"));
                if let Some((name, args, _)) = call {
                    events.push(Event {
                        pid,
                        start,
                        end: number,
                        kind: Kind::Call { name, args, result: None },
                    });
                }
                continue;
            }
            // strace printed `accept4(3, ` before `<unfinished ...>`: the space trimmed above
            // comes back.
            let joint = if begun.ends_with(',') { " " } else { "" };
            (start, format!("{begun}{joint}{tail}"))
        } else {
            (number, rest.to_string())
        };
        if let Some((name, args, result)) = parse_call(&text) {
            // `= ?` is how strace ends a call that never returned, except exit's.
            let result = (result != "?" || name.starts_with("exit")).then_some(result);
            events.push(Event { pid, start, end: number, kind: Kind::Call { name, args, result } });
        }
    }
    // Whatever is still open at the end was waiting too.
    let mut waiting: Vec<_> = open.into_iter().collect();
    waiting.sort_by_key(|(_, (start, _))| *start);
    for (pid, (start, begun)) in waiting {
        if let Some((name, args, _)) = parse_call(&format!("{begun}) = ?")) {
            events.push(Event {
                pid,
                start,
                end: usize::MAX,
                kind: Kind::Call { name, args, result: None },
            });
        }
    }
    drop_restarts(events)
}

/// A signal sent to a process wakes its threads until one takes it; the others see their call
/// end with ERESTARTSYS and the kernel starts it again. Only a call followed by the signal in
/// its own thread was really interrupted; the others are dropped (the restarted call goes
/// on), or, with nothing after them, were waiting when the server stopped.
fn drop_restarts(mut events: Vec<Event>) -> Vec<Event> {
    let mut restarted = HashSet::new();
    for index in 0..events.len() {
        let Kind::Call { result: Some(result), .. } = &events[index].kind else { continue };
        if !interrupted(result) {
            continue;
        }
        let pid = events[index].pid;
        match events[index + 1..].iter().find(|event| event.pid == pid).map(|event| &event.kind) {
            Some(Kind::Signal(_)) => {}
            Some(_) => {
                restarted.insert(index);
            }
            None => {
                if let Kind::Call { result, .. } = &mut events[index].kind {
                    *result = None;
                }
            }
        }
    }
    events
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !restarted.contains(index))
        .map(|(_, event)| event)
        .collect()
}

/// A result that says the call was interrupted by a signal.
fn interrupted(result: &str) -> bool {
    result.starts_with("? ERESTART") || result.starts_with("-1 EINTR")
}

/// `name(args) = result` into its three parts.
fn parse_call(text: &str) -> Option<(String, String, String)> {
    let open = text.find('(')?;
    let name = &text[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let close = open + closing_paren(&text[open..])?;
    let result = text[close + 1..].trim_start().strip_prefix('=')?.trim();
    Some((name.to_string(), text[open + 1..close].to_string(), result.to_string()))
}

/// The index of the `)` that closes the `(` at the start of `text`, skipping quoted strings.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (c == ')').then_some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits an argument list at its top-level commas.
fn split_args(args: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in args.chars() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else {
            match c {
                '"' => quoted = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    parts.push(current.trim().to_string());
                    current.clear();
                    continue;
                }
                _ => {}
            }
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// Normalising

/// What is replaced in every argument and result.
struct Normaliser<'a> {
    root: &'a str,
    port: u16,
}

impl Normaliser<'_> {
    fn text(&self, text: &str) -> String {
        let mut text = text.replace(&format!("\"{}/", self.root), "\"www/");
        text = text.replace(&format!("\"{}\"", self.root), "\"www\"");
        text = text.replace(&format!("127.0.0.1:{}", self.port), "127.0.0.1:PORT");
        text = replace_ports(&text);
        text = replace_pointers(&text);
        text = replace_epoll_data(&text);
        cut_strings(&text)
    }
}

/// `sin_port=htons(N)` to `sin_port=htons(PORT)`: bind, getsockname and accept all say PORT.
fn replace_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("htons(") {
        out.push_str(&rest[..at + "htons(".len()]);
        rest = &rest[at + "htons(".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Addresses (`0x` and 8 hex digits or more) to `0x...`: they change with every run.
fn replace_pointers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..].chars().take_while(char::is_ascii_hexdigit).count();
        if digits >= 8 {
            out.push_str("0x...");
        } else {
            out.push_str(&rest[at..at + 2 + digits]);
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// epoll's `data={u32=A, u64=B}`: the u32 is B's low half, so only B is kept; a B that is a
/// pointer (may registers its own structures) goes, as `...`.
fn replace_epoll_data(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("data={u32=") {
        out.push_str(&rest[..at]);
        let Some(length) = rest[at..].find('}') else { break };
        let inside = &rest[at + "data={".len()..at + length];
        let value = inside.split_once("u64=").map(|(_, value)| value.trim());
        match value.and_then(|value| value.parse::<u64>().ok()) {
            Some(value) if (1 << 32..1 << 63).contains(&value) => {
                // A pointer: the whole `data=` goes, after its comma.
                if out.ends_with(", ") {
                    out.truncate(out.len() - 2);
                }
                out.push_str(", ...");
            }
            Some(value) => {
                let _ = write!(out, "data={{u64={value}}}");
            }
            None => out.push_str(&rest[at..=at + length]),
        }
        rest = &rest[at + length + 1..];
    }
    out.push_str(rest);
    out
}

/// Every quoted string cut after [`STRING_BYTES`] bytes, followed by `...` when cut (as strace
/// marks it). An escape (`\r`, `\0`, `\x7f`) is one byte; `PORT` is never cut and counts as
/// one byte, so that the `listening on` line stays whole.
fn cut_strings(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        let mut bytes = 0;
        let mut cut = false;
        while let Some((index, c)) = chars.next() {
            if c == '"' {
                break;
            }
            let mut unit = c.to_string();
            let mut width = c.len_utf8();
            if c == '\\' {
                width = 1;
                if let Some((_, next)) = chars.next() {
                    unit.push(next);
                    // Octal (\0, \177) and hex (\x7f) escapes take their digits along.
                    let more = match next {
                        'x' => 2,
                        '0'..='7' => 2,
                        _ => 0,
                    };
                    for _ in 0..more {
                        match chars.peek() {
                            Some(&(_, digit)) if digit.is_ascii_hexdigit() => {
                                unit.push(digit);
                                chars.next();
                            }
                            _ => break,
                        }
                    }
                }
            } else if text[index..].starts_with("PORT") {
                unit = "PORT".into();
                width = 1;
                for _ in 0..3 {
                    chars.next();
                }
            }
            if bytes >= STRING_BYTES {
                cut = true;
                continue;
            }
            bytes += width;
            out.push_str(&unit);
        }
        out.push('"');
        // strace's own mark, when it cut the string at -s already.
        let marked =
            text[chars.peek().map_or(text.len(), |&(index, _)| index)..].starts_with("...");
        if marked {
            for _ in 0..3 {
                chars.next();
            }
        }
        if cut || marked {
            out.push_str("...");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Selecting

/// Calls that say nothing about serving a request: memory, signal and thread set-up, the debug
/// build's descriptor checks, std's start-up probes.
const NOISE: &[&str] = &[
    "arch_prctl",
    "brk",
    "clone3",
    "fcntl",
    "getrandom",
    "gettid",
    "madvise",
    "mmap",
    "mprotect",
    "mremap",
    "munmap",
    "poll",
    "prlimit64",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "set_robust_list",
    "set_tid_address",
    "sigaltstack",
    "timerfd_settime",
];

/// Files a process reads for itself (libraries, /proc, cgroup limits), not for a client.
const SYSTEM_PATHS: &[&str] = &["\"/proc", "\"/sys", "\"/etc", "\"/lib", "\"/usr", "\"/dev"];

/// Calls whose first argument is a descriptor.
const TAKE_FD: &[&str] = &[
    "close",
    "fstat",
    "lseek",
    "newfstatat",
    "pread64",
    "read",
    "recvfrom",
    "sendto",
    "statx",
    "write",
];

/// Calls that return a new descriptor.
const GIVE_FD: &[&str] = &["open", "openat", "eventfd2", "timerfd_create"];

/// Whether every event an epoll wait reports carries polling's own key (usize::MAX).
fn only_polling_keys(args: &str) -> bool {
    let keys: Vec<&str> =
        args.split("u64=").skip(1).filter_map(|rest| rest.split('}').next()).collect();
    !keys.is_empty() && keys.iter().all(|key| *key == u64::MAX.to_string())
}

/// Calls that may wait: the places where the excerpt may switch to another thread.
fn may_wait(name: &str, args: &str) -> bool {
    match name {
        "accept" | "accept4" | "epoll_wait" | "epoll_pwait" | "clock_nanosleep" | "nanosleep" => {
            true
        }
        "futex" => args.contains("FUTEX_WAIT"),
        "wait4" => !args.contains("WNOHANG"),
        "io_uring_enter" => args.contains("IORING_ENTER_GETEVENTS"),
        _ => false,
    }
}

/// How many leading arguments a call takes in (the rest it fills in on return): what a line
/// for a call still waiting shows.
fn input_args(name: &str) -> usize {
    match name {
        "accept" | "accept4" | "epoll_wait" | "epoll_pwait" | "wait4" | "read" | "recvfrom" => 1,
        "clock_nanosleep" => 3,
        "io_uring_enter" => 4,
        _ => usize::MAX,
    }
}

/// The argument at `position` as a descriptor, if it is one.
fn fd_arg(args: &str, position: usize) -> Option<u32> {
    split_args(args).get(position)?.parse().ok()
}

/// Drops the noise: [`NOISE`], files under [`SYSTEM_PATHS`] and whatever is done on their
/// descriptors, and the descriptors libraries keep for themselves (eventfd, timerfd).
fn drop_noise(events: Vec<Event>, plan: &Plan) -> Vec<Event> {
    let mut noise_fds: HashSet<u32> = HashSet::new();
    let mut kept = Vec::new();
    for event in events {
        let Kind::Call { name, args, result } = &event.kind else {
            kept.push(event);
            continue;
        };
        // Only calls that take a descriptor first, or return a new one, say anything here.
        let fd = fd_arg(args, 0).filter(|_| TAKE_FD.contains(&name.as_str()));
        let returned = result
            .as_deref()
            .and_then(|result| result.parse::<u32>().ok())
            .filter(|_| GIVE_FD.contains(&name.as_str()));
        let noisy = if NOISE.contains(&name.as_str())
            || (name == "prctl" && args.starts_with("PR_SET_NAME"))
            || (name == "futex" && plan.futex == Futex::Hidden)
        {
            true
        } else if SYSTEM_PATHS.iter().any(|path| args.contains(path))
            || matches!(name.as_str(), "eventfd2" | "timerfd_create")
        {
            noise_fds.extend(returned);
            true
        } else if name == "epoll_ctl" {
            fd_arg(args, 2).is_some_and(|fd| noise_fds.contains(&fd))
        } else if let Some(fd) = fd.filter(|fd| noise_fds.contains(fd)) {
            if name == "close" {
                noise_fds.remove(&fd);
            }
            true
        } else {
            // polling registers its own descriptors under usize::MAX: a wait that reports
            // only those is polling's business.
            matches!(name.as_str(), "epoll_wait" | "epoll_pwait") && only_polling_keys(args)
        };
        if !noisy {
            kept.push(event);
        }
    }
    kept
}

/// The events of the excerpt: the window around the connection, the stage's rules applied.
fn select(events: Vec<Event>, plan: &Plan) -> Result<Vec<Item>, String> {
    let events = drop_noise(events, plan);
    let call = |event: &Event| match &event.kind {
        Kind::Call { name, args, result } => Some((name.clone(), args.clone(), result.clone())),
        _ => None,
    };
    // The start: the call that returns the first descriptor of the plan's kind.
    let first_call = match plan.start {
        Start::Socket => "socket",
        Start::Accept => "accept4",
        Start::Ring => "io_uring_setup",
    };
    let start = events
        .iter()
        .position(|event| {
            call(event).is_some_and(|(name, _, result)| {
                name == first_call && result.is_some_and(|r| r.parse::<u32>().is_ok())
            })
        })
        .ok_or_else(|| format!("the trace has no {first_call} that returned a descriptor"))?;
    let first = &events[start];
    let (start_pid, start_line) = (first.pid, first.end);
    // The connection's descriptor, and the pid that serves it (whoever reads the request).
    let accepted = events[start..].iter().find_map(|event| {
        let (name, _, result) = call(event)?;
        (name == "accept4").then(|| result?.parse::<u32>().ok()).flatten()
    });
    let server = accepted.and_then(|fd| {
        events[start..].iter().find_map(|event| {
            let (name, args, _) = call(event)?;
            (matches!(name.as_str(), "recvfrom" | "read") && fd_arg(&args, 0) == Some(fd))
                .then_some(event.pid)
        })
    });
    let closed_at = accepted.and_then(|fd| {
        events[start..].iter().find_map(|event| {
            let (name, args, _) = call(event)?;
            (name == "close" && fd_arg(&args, 0) == Some(fd) && Some(event.pid) == server)
                .then_some(event.end)
        })
    });
    // Stage06's late request: from the end of the second pass that found nothing to the start
    // of the pass that finds the request, the passes are all alike: left out.
    let skipped = plan.late_request.and_then(|_| {
        let fd = accepted?;
        // The reads of the connection: (index in the window, whether it found nothing).
        let window = &events[start..];
        let reads = window.iter().enumerate().filter_map(|(index, event)| {
            let (name, args, result) = call(event)?;
            (name == "recvfrom" && fd_arg(&args, 0) == Some(fd))
                .then(|| (index, result.is_some_and(|result| result.contains("EAGAIN"))))
        });
        let vain = reads.clone().find(|(_, nothing)| *nothing)?.0;
        let arrived = reads.clone().find(|(_, nothing)| !*nothing)?.0;
        // Each pass that found nothing ends with a rest.
        let (second_rest, _) = window[vain..arrived]
            .iter()
            .enumerate()
            .filter(|(_, event)| call(event).is_some_and(|(name, ..)| name == "clock_nanosleep"))
            .nth(1)?;
        // The pass the request arrives in starts with its accept4 (queue empty).
        let pass_start = window[..arrived]
            .iter()
            .rposition(|event| call(event).is_some_and(|(name, ..)| name == "accept4"))?;
        let (from, to) = (vain + second_rest + 1, pass_start);
        (from < to).then(|| (window[from].end, window[to].end))
    });

    let mut items = Vec::new();
    // The lead: what the accepting thread did just before.
    let before: Vec<&Event> = events[..start]
        .iter()
        .filter(|event| event.pid == start_pid)
        .filter(|event| {
            call(event).is_some_and(|(name, ..)| plan.lead_calls.contains(&name.as_str()))
        })
        .collect();
    let lead = &before[before.len().saturating_sub(plan.lead)..];
    if let (Some(text), false) = (plan.lead_note, lead.is_empty()) {
        items.push(Item::note(start_pid, lead[0].end, text));
    }
    items.extend(lead.iter().map(|event| Item::event((*event).clone())));

    let mut tick_shown = false;
    let mut tail_left = plan.tail.map(|(count, _)| count);
    for event in &events[start..] {
        // A call begun before the window shows only if it ended inside it; one that never
        // ended did not happen here.
        if event.end < start_line
            || (event.start < start_line && matches!(&event.kind, Kind::Call { result: None, .. }))
        {
            continue;
        }
        if plan.futex == Futex::Accepting
            && event.pid != start_pid
            && call(event).is_some_and(|(name, ..)| name == "futex")
        {
            continue;
        }
        if let (Some((from, to)), Some(text)) = (skipped, plan.late_request) {
            if event.end == from {
                items.push(Item::note(event.pid, event.end, text));
            }
            if (from..to).contains(&event.end) {
                continue;
            }
        }
        let after_close = closed_at.is_some_and(|line| event.end > line);
        let waited = match call(event) {
            Some((name, args, result)) if plan.may_ticks && name == "epoll_wait" => {
                Some(result.as_deref() == Some("0") && args.ends_with(", 10"))
            }
            _ => None,
        };
        if let Some(tick) = waited {
            // One tick of may's timer: the serving thread's first after the close.
            if tick && after_close && Some(event.pid) == server && !tick_shown {
                tick_shown = true;
                items.push(Item::event(event.clone()));
            }
            continue;
        }
        if let (Some(left), Some((_, text)), true) =
            (tail_left.as_mut(), plan.tail, after_close && Some(event.pid) == server)
        {
            if *left == 0 {
                items.push(Item::note(event.pid, event.end, text));
                break;
            }
            *left -= 1;
        }
        items.push(Item::event(event.clone()));
    }
    Ok(items)
}

// ---------------------------------------------------------------------------------------------
// Ordering

/// One line to be: an event, or a note line of the plan (`... (the same pass ...)`).
#[derive(Clone, Debug)]
struct Item {
    pid: u32,
    /// Where it ended in the raw trace: the order in which threads take turns.
    line: usize,
    event: Option<Event>,
    note: &'static str,
}

impl Item {
    fn event(event: Event) -> Item {
        Item { pid: event.pid, line: event.end, event: Some(event), note: "" }
    }

    fn note(pid: u32, line: usize, note: &'static str) -> Item {
        Item { pid, line, event: None, note }
    }

    fn waits(&self) -> bool {
        match &self.event {
            Some(Event { kind: Kind::Call { name, args, result }, .. }) => {
                result.is_none()
                    || (may_wait(name, args)
                        && !result.as_deref().is_some_and(|r| r.starts_with("-1 EAGAIN")))
            }
            _ => false,
        }
    }
}

/// How a line shows a call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// `name(args) = result`
    Whole,
    /// `name(input args <unfinished ...>`: still waiting when the excerpt went elsewhere.
    Waiting,
    /// `<... name resumed>rest) = result`: the end of a call shown waiting before.
    Resumed,
}

/// Puts the items in reading order: one thread's items in a row until it waits and another
/// thread did something meanwhile; then the thread whose next item ended first. A call that
/// was interrupted while we looked elsewhere is shown twice, waiting and resumed, as strace
/// shows it.
fn order(items: Vec<Item>) -> Vec<(Item, Shape)> {
    let mut queues: BTreeMap<u32, VecDeque<Item>> = BTreeMap::new();
    let first = items.first().map(|item| item.pid);
    for item in items {
        queues.entry(item.pid).or_default().push_back(item);
    }
    let next_line = |queues: &BTreeMap<u32, VecDeque<Item>>, except: u32| {
        queues
            .iter()
            .filter(|(pid, _)| **pid != except)
            .filter_map(|(pid, queue)| queue.front().map(|item| (item.line, *pid)))
            .min()
    };
    let mut out = Vec::new();
    let mut split: HashSet<(u32, usize)> = HashSet::new();
    let Some(mut current) = first else { return out };
    loop {
        let Some(item) = queues.get(&current).and_then(|queue| queue.front()).cloned() else {
            match next_line(&queues, current) {
                Some((_, pid)) => {
                    current = pid;
                    continue;
                }
                None => break,
            }
        };
        let sooner = next_line(&queues, current).filter(|(line, _)| *line < item.line);
        if let (true, Some((_, other))) = (item.waits(), sooner) {
            let never_ends =
                matches!(&item.event, Some(Event { kind: Kind::Call { result: None, .. }, .. }));
            let was_interrupted = matches!(
                &item.event,
                Some(Event { kind: Kind::Call { result: Some(result), .. }, .. }) if interrupted(result)
            );
            if never_ends {
                out.push((item, Shape::Waiting));
                queues.get_mut(&current).and_then(|queue| queue.pop_front());
            } else if was_interrupted && split.insert((item.pid, item.line)) {
                out.push((item, Shape::Waiting));
            }
            current = other;
            continue;
        }
        queues.get_mut(&current).and_then(|queue| queue.pop_front());
        let shape = match &item.event {
            Some(Event { kind: Kind::Call { result: None, .. }, .. }) => Shape::Waiting,
            _ if split.contains(&(item.pid, item.line)) => Shape::Resumed,
            _ => Shape::Whole,
        };
        out.push((item, shape));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The excerpt for `stage` from its recording: normalised, selected, ordered, annotated.
///
/// # Errors
///
/// When the trace has no accepted connection, or the excerpt lacks the request's read or the
/// response's write.
pub fn excerpt(stage: &str, recording: &Recording) -> Result<String, String> {
    let plan = plan(stage)?;
    let normaliser = Normaliser { root: &recording.root, port: recording.port };
    let events = parse(&recording.raw);
    let main_pid = events.first().map(|event| event.pid);
    let forked = forked(&events);
    let events = events
        .into_iter()
        .map(|mut event| {
            match &mut event.kind {
                Kind::Call { args, result, .. } => {
                    *args = normaliser.text(args);
                    *result = result.as_deref().map(|result| normaliser.text(result));
                }
                Kind::Signal(text) | Kind::Exit(text) => *text = normaliser.text(text),
            }
            event
        })
        .collect();
    let items = select(events, plan).map_err(|error| format!("{stage}: {error}"))?;
    let ordered = order(items);
    let names = names(&ordered, main_pid, &forked);
    let text = render(&ordered, &names, plan);
    // The check looks at the calls themselves, before lines were shortened.
    let has = |calls: &[&str], what: &str| {
        ordered.iter().any(|(item, _)| match &item.event {
            Some(Event { kind: Kind::Call { name, args, .. }, .. }) => {
                calls.contains(&name.as_str()) && args.contains(what)
            }
            _ => false,
        })
    };
    if plan.start == Start::Ring {
        // The kernel reads the request and writes the response; the excerpt must show the ring
        // at work and the file read for the response.
        if !has(&["io_uring_enter"], "IORING_ENTER_GETEVENTS") || !has(&["statx"], "\"www/") {
            return Err(format!("{stage}: the excerpt shows no io_uring_enter or no file"));
        }
    } else if !has(&["recvfrom", "read"], "\"GET ") {
        return Err(format!("{stage}: the excerpt shows no read of the request"));
    } else if !has(&["sendto", "write"], "\"HTTP/1.1 ") {
        return Err(format!("{stage}: the excerpt shows no write of the response"));
    }
    Ok(text)
}

/// The pids of forked processes: clone() with SIGCHLD as the exit signal (a thread has none).
fn forked(events: &[Event]) -> HashSet<u32> {
    let mut forked = HashSet::new();
    for event in events {
        if let Kind::Call { name, args, result: Some(result) } = &event.kind {
            if name == "clone" && args.contains("SIGCHLD") {
                forked.extend(result.parse::<u32>().ok());
            }
        }
    }
    forked
}

/// A name for every pid in the excerpt: `main` for the process strace started, `child` for a
/// process it forked, `worker` (then `worker2`, ...) for its threads, in order of appearance.
fn names(
    ordered: &[(Item, Shape)],
    main: Option<u32>,
    forked: &HashSet<u32>,
) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    let (mut children, mut workers) = (0, 0);
    for (item, _) in ordered {
        if names.contains_key(&item.pid) {
            continue;
        }
        let name = if Some(item.pid) == main {
            "main".to_string()
        } else if forked.contains(&item.pid) {
            children += 1;
            if children == 1 { "child".into() } else { format!("child{children}") }
        } else {
            workers += 1;
            if workers == 1 { "worker".into() } else { format!("worker{workers}") }
        };
        names.insert(item.pid, name);
    }
    if let Some(main) = main {
        names.entry(main).or_insert_with(|| "main".into());
    }
    names
}

/// The lines, with the pid prefix (when more than one pid appears), strace's padding, and the
/// notes aligned in one column.
fn render(ordered: &[(Item, Shape)], names: &HashMap<u32, String>, plan: &Plan) -> String {
    let pids: HashSet<u32> = ordered.iter().map(|(item, _)| item.pid).collect();
    let prefix_width =
        pids.iter().filter_map(|pid| names.get(pid)).map(|name| name.len() + 7).max().unwrap_or(0);
    let mut used = HashSet::new();
    // Each row: its pid prefix, its line (None for a note line of the plan), its note.
    let mut rows: Vec<(String, Option<Line>, Option<&str>)> = Vec::new();
    for (item, shape) in ordered {
        let name = names.get(&item.pid).map_or("?", String::as_str);
        let prefix = if pids.len() > 1 {
            format!("{:<prefix_width$}", format!("[pid {name}]"))
        } else {
            String::new()
        };
        let Some(event) = &item.event else {
            rows.push((format!("{prefix}{}", item.note), None, None));
            continue;
        };
        let line = line_for(event, *shape, names);
        let text = line.whole();
        // The stage's notes first, then the common ones; each once, and only on a line that
        // has room for it.
        let note = plan.notes.iter().chain(COMMON_NOTES).enumerate().find(|(index, note)| {
            !used.contains(index)
                && note.who.is_none_or(|who| who == name)
                && note.all.iter().all(|part| text.contains(part))
                && line
                    .shorten(WIDTH.saturating_sub(prefix.len() + note.text.len() + 2), true)
                    .is_some()
        });
        let note = note.map(|(index, note)| {
            used.insert(index);
            note.text
        });
        rows.push((prefix, Some(line), note));
    }
    // The notes' column: right of the longest annotated line that is not too long; a longer
    // line has its note two spaces after it.
    let column = rows
        .iter()
        .filter_map(|(prefix, line, note)| {
            note.and(line.as_ref()).map(|line| prefix.len() + line.whole().len() + 2)
        })
        .filter(|column| *column <= NOTE_COLUMN)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (prefix, line, note) in &rows {
        let text = match (line, note) {
            (None, _) => prefix.clone(),
            (Some(line), None) => {
                format!("{prefix}{}", fit(line, WIDTH.saturating_sub(prefix.len())))
            }
            (Some(line), Some(note)) => {
                // Too long for line and note: the line may lose plain arguments (`NULL, 0`)
                // to make room; when that is not enough, the note goes.
                let room = WIDTH.saturating_sub(prefix.len() + note.len() + 2);
                match line.shorten(room, true) {
                    Some(body) => {
                        let pad = column.max(prefix.len() + body.len() + 2);
                        format!("{:<pad$}{note}", format!("{prefix}{body}"))
                    }
                    None => format!("{prefix}{}", fit(line, WIDTH.saturating_sub(prefix.len()))),
                }
            }
        };
        let _ = writeln!(out, "{}", text.trim_end());
    }
    out
}

/// `line` shortened to `width` as far as it can be.
fn fit(line: &Line, width: usize) -> String {
    line.shorten(width, false).unwrap_or_default()
}

/// A call's line before fitting: the parts that can be shortened kept apart.
struct Line {
    /// `name(`, or `<... name resumed>`.
    head: String,
    args: Vec<String>,
    /// `)` and what follows the args before the result (` <unfinished ...>` for waiting).
    close: String,
    result: Option<String>,
}

impl Line {
    /// The whole line.
    fn whole(&self) -> String {
        self.shorten(usize::MAX, false).unwrap_or_default()
    }

    /// The line, as short as needed to fit `width` (if it can be): the explanation of an
    /// error result goes first, then arguments from the right, one at least kept. With
    /// `plain_only`, only plain arguments (`NULL`, `0`, `4096`, not a string, a struct or
    /// flags) may go; None when that is not enough.
    fn shorten(&self, width: usize, plain_only: bool) -> Option<String> {
        let mut args = self.args.clone();
        // A waiting call's empty last argument (for `name(3, `) stays last.
        let open_end = args.last().is_some_and(String::is_empty);
        if open_end {
            args.pop();
        }
        let mut result = self.result.clone();
        loop {
            let mut shown = args.clone();
            if open_end {
                shown.push(String::new());
            }
            let text = self.assemble(&shown, result.as_deref());
            if text.len() <= width {
                return Some(text);
            }
            if let Some((short, _)) = result.as_deref().and_then(|r| r.split_once(" (")) {
                result = Some(short.to_string());
                continue;
            }
            if args.last().is_some_and(|arg| arg == "...") {
                args.pop();
            }
            let plain = |arg: &String| !arg.contains(['{', '[', '"', '|', '=']);
            if args.len() <= 1 || (plain_only && !args.last().is_some_and(plain)) {
                return (!plain_only).then_some(text);
            }
            args.pop();
            args.push("...".into());
        }
    }

    fn assemble(&self, args: &[String], result: Option<&str>) -> String {
        let call = format!("{}{}{}", self.head, args.join(", "), self.close);
        match result {
            Some(result) => format!("{call:<CALL_WIDTH$} = {result}"),
            None => call,
        }
    }
}

/// How an event reads as a line: pids named, long arguments elided where they only repeat
/// what the kernel filled in.
fn line_for(event: &Event, shape: Shape, names: &HashMap<u32, String>) -> Line {
    let rename = |text: &str| rename_pids(text, names);
    match &event.kind {
        Kind::Signal(text) => Line {
            head: format!("--- {}", rename(&short_siginfo(text))),
            args: Vec::new(),
            close: " ---".into(),
            result: None,
        },
        Kind::Exit(text) => Line {
            head: format!("+++ {text}"),
            args: Vec::new(),
            close: " +++".into(),
            result: None,
        },
        Kind::Call { name, args, result } => {
            let mut args = split_args(args);
            if name == "statx" {
                // AT_STATX_SYNC_AS_STAT is 0: strace names it, the call does not depend on it.
                for arg in &mut args {
                    *arg = arg.replace("AT_STATX_SYNC_AS_STAT|", "");
                }
            }
            // Arguments that are only the kernel's answer, or bytes of a struct: elided.
            let keep = match name.as_str() {
                "statx" => 3,
                "setsockopt" if args.get(3).is_some_and(|arg| arg.starts_with('"')) => 3,
                "clone" => 2,
                // The address and the operation; the rest is the wait's details.
                "futex" if args.len() > 3 => 2,
                // The sigmask arguments of epoll_pwait say nothing here.
                "epoll_pwait" => 4,
                _ => usize::MAX,
            };
            if args.len() > keep {
                args.truncate(keep);
                args.push("...".into());
            }
            if let (true, Some(address)) =
                (matches!(name.as_str(), "accept" | "accept4"), args.get_mut(1))
            {
                if address.starts_with("{sa_family=AF_INET,") {
                    // The client's port and address: different every time, not the lesson.
                    *address = "{sa_family=AF_INET, ...}".into();
                }
            }
            let result = result.as_deref().map(|result| {
                if matches!(name.as_str(), "clone" | "getpid" | "getppid" | "wait4" | "fork") {
                    rename(result)
                } else {
                    result.to_string()
                }
            });
            match shape {
                Shape::Whole => Line { head: format!("{name}("), args, close: ")".into(), result },
                Shape::Waiting => {
                    // Only what the call took in; an empty last argument leaves `name(3, `.
                    let more = args.len() > input_args(name);
                    args.truncate(input_args(name));
                    if more {
                        args.push(String::new());
                    }
                    let close = if more { "<unfinished ...>" } else { " <unfinished ...>" };
                    Line { head: format!("{name}("), args, close: close.into(), result: None }
                }
                Shape::Resumed => {
                    let rest = args.split_off(input_args(name).min(args.len()));
                    Line {
                        head: format!("<... {name} resumed>"),
                        args: rest,
                        close: ")".into(),
                        result,
                    }
                }
            }
        }
    }
}

/// `si_signo` (the name says it), `si_uid`, `si_utime` and `si_stime` out of a siginfo.
fn short_siginfo(text: &str) -> String {
    let Some((name, info)) = text.split_once(' ') else { return text.to_string() };
    let Some(inner) = info.strip_prefix('{').and_then(|info| info.strip_suffix('}')) else {
        return text.to_string();
    };
    let fields = split_args(inner);
    let kept: Vec<_> = fields
        .iter()
        .filter(|field| {
            !["si_signo=", "si_uid=", "si_utime=", "si_stime="].iter().any(|f| field.starts_with(f))
        })
        .cloned()
        .collect();
    let more = if kept.len() < fields.len() { ", ..." } else { "" };
    format!("{name} {{{}{more}}}", kept.join(", "))
}

/// Pid numbers (whole numbers equal to a named pid) replaced by their names.
fn rename_pids(text: &str, names: &HashMap<u32, String>) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match digits.parse::<u32>().ok().and_then(|pid| names.get(&pid)) {
            Some(name) => out.push_str(name),
            None => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normaliser() -> Normaliser<'static> {
        Normaliser { root: "/home/me/some/deep/checkout/www", port: 41234 }
    }

    #[test]
    fn paths_ports_and_pointers_are_replaced() {
        let n = normaliser();
        assert_eq!(
            n.text(r#"AT_FDCWD, "/home/me/some/deep/checkout/www/style.css", O_RDONLY"#),
            r#"AT_FDCWD, "www/style.css", O_RDONLY"#
        );
        assert_eq!(
            n.text(
                r#"3, {sa_family=AF_INET, sin_port=htons(41234), sin_addr=inet_addr("127.0.0.1")}"#
            ),
            r#"3, {sa_family=AF_INET, sin_port=htons(PORT), sin_addr=inet_addr("127.0.0.1")}"#
        );
        assert_eq!(
            n.text("3, 0x7ffce56b7cb8, [128], SOCK_CLOEXEC"),
            "3, 0x..., [128], SOCK_CLOEXEC"
        );
        assert_eq!(n.text("0x1 (flags FD_CLOEXEC)"), "0x1 (flags FD_CLOEXEC)");
        assert_eq!(
            n.text(r#"1, "listening on http://127.0.0.1:41234\n", 36"#),
            r#"1, "listening on http://127.0.0.1:PORT\n", 36"#
        );
        assert_eq!(
            n.text("[{events=EPOLLIN, data={u32=1757795776, u64=94654247065024}}]"),
            "[{events=EPOLLIN, ...}]"
        );
    }

    #[test]
    fn strings_are_cut_after_32_bytes_counting_escapes_as_one() {
        assert_eq!(
            cut_strings(r#"4, "GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n", 63"#),
            r#"4, "GET /style.css HTTP/1.1\r\nHost: 1"..., 63"#
        );
        assert_eq!(cut_strings(r#"5, "short"..., 9"#), r#"5, "short"..., 9"#);
        assert_eq!(
            cut_strings(r#""\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0""#),
            r#""\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0""#
        );
    }

    #[test]
    fn split_calls_are_joined_and_the_stop_is_not_a_result() {
        let raw = "\
10 accept4(3,  <unfinished ...>
11 futex(0x55f1d61f0b68, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
10 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC) = 4
11 <... futex resumed>)              = 0
11 futex(0x55f1d61f0b68, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
10 accept4(3, 0x7ffda85bd618, [128], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
10 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=9, si_uid=0} ---
11 <... futex resumed>)              = ?
10 +++ killed by SIGTERM +++
";
        let events = parse(raw);
        let calls: Vec<_> = events
            .iter()
            .map(|event| match &event.kind {
                Kind::Call { name, args, result } => {
                    (event.pid, name.as_str(), args.as_str(), result.clone())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        // In the order they ended, each whole.
        assert_eq!(calls[0].1, "accept4");
        assert!(calls[0].2.starts_with("3, {sa_family"), "{:?}", calls[0]);
        assert_eq!(calls[0].3.as_deref(), Some("4"));
        assert_eq!((calls[1].0, calls[1].1, calls[1].3.as_deref()), (11, "futex", Some("0")));
        assert!(calls[1].2.ends_with("FUTEX_BITSET_MATCH_ANY"), "{:?}", calls[1]);
        // Interrupted by the stop, or killed in the middle: still waiting, no result.
        assert_eq!((calls[2].0, calls[2].3.as_deref()), (10, None));
        assert_eq!((calls[3].0, calls[3].1, calls[3].3.as_deref()), (11, "futex", None));
        assert_eq!(calls.len(), 4);
    }

    #[test]
    fn a_call_restarted_after_another_thread_took_the_signal_is_one_call() {
        let raw = "\
20 futex(0x55fa347084d8, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
21 epoll_wait(4,  <unfinished ...>
20 <... futex resumed>)              = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
20 futex(0x55fa347084d8, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
21 <... epoll_wait resumed>0x55fa347084d8, 1024, 10) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
21 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=9, si_uid=0} ---
20 <... futex resumed>)              = ?
";
        let results: Vec<_> = parse(raw)
            .into_iter()
            .map(|event| match event.kind {
                Kind::Call { name, result, .. } => (event.pid, name, result),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(results, [(21, "epoll_wait".into(), None), (20, "futex".into(), None)]);
    }

    #[test]
    fn pids_are_named_by_role() {
        let names = HashMap::from([(2882, "main".to_string()), (2884, "child".to_string())]);
        assert_eq!(rename_pids("2884", &names), "child");
        assert_eq!(
            short_siginfo(
                "SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=2884, si_uid=0, si_status=0, si_utime=0, si_stime=0}"
            ),
            "SIGCHLD {si_code=CLD_EXITED, si_pid=2884, si_status=0, ...}"
        );
        assert_eq!(rename_pids("si_pid=2884, si_status=0", &names), "si_pid=child, si_status=0");
    }

    #[test]
    fn a_missing_binary_asks_for_cargo_build() {
        let error = record(Path::new("/nonexistent"), "stage01_hello").unwrap_err();
        assert_eq!(error, "target/debug/stage01_hello is missing: run `cargo build` first");
    }
}
