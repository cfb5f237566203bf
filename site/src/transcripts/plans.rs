//! How each stage is run and how its trace becomes an excerpt: the plans, and the notes that
//! annotate the excerpts' lines.

/// How one stage is run and how its trace becomes an excerpt.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) stage: &'static str,
    /// Flags besides `--port 0 --quiet --root DIR`.
    pub(super) flags: &'static [&'static str],
    /// The path requested (stage01 answers anything, so it gets `/`).
    pub(super) path: &'static str,
    /// Where the excerpt starts.
    pub(super) start: Start,
    /// How many calls of the accepting thread before the start to show as well (only calls
    /// named in `lead_calls`), with a line saying what they are.
    pub(super) lead: usize,
    pub(super) lead_calls: &'static [&'static str],
    pub(super) lead_note: Option<&'static str>,
    /// Stage06: the request is sent a moment after the connection, so that the first reads
    /// find nothing, every time (sent at once, it sometimes beats the accept and sometimes
    /// not). The excerpt shows two passes of that, then this line, then the pass it arrives in.
    pub(super) late_request: Option<&'static str>,
    /// Stage06: after the connection's close, this many events of that thread, then a line
    /// saying that the same goes on; everything later is left out.
    pub(super) tail: Option<(usize, &'static str)>,
    /// futex is how threads hand work over: shown where that is the lesson.
    pub(super) futex: Futex,
    /// may's epoll_wait runs every 10 ms for its timers: show one tick, not every one.
    pub(super) may_ticks: bool,
    /// Annotations for this stage, tried before the common ones.
    pub(super) notes: &'static [Note],
}

/// Where an excerpt starts.
#[derive(Debug, PartialEq)]
pub(super) enum Start {
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
pub(super) enum Futex {
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
pub(super) struct Note {
    pub(super) who: Option<&'static str>,
    pub(super) all: &'static [&'static str],
    pub(super) text: &'static str,
}

const fn note(all: &'static [&'static str], text: &'static str) -> Note {
    Note { who: None, all, text }
}

const fn note_by(who: &'static str, all: &'static [&'static str], text: &'static str) -> Note {
    Note { who: Some(who), all, text }
}

/// The notes every stage shares, tried after the stage's own.
pub(super) const COMMON_NOTES: &[Note] = &[
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
pub(super) const PLANS: [Plan; 10] = [
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

pub(super) fn plan(stage: &str) -> Result<&'static Plan, String> {
    PLANS.iter().find(|plan| plan.stage == stage).ok_or_else(|| format!("no such stage: {stage}"))
}
