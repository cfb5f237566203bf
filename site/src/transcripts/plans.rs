//! How each stage is run and how its trace becomes an excerpt: the plans, and the notes that
//! annotate the excerpts' lines
//! (each in English and Chinese).

use testkit::Text;

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
    pub(super) lead_note: Option<Text>,
    /// Stage06: the request is sent a moment after the connection, so that the first reads
    /// find nothing, every time (sent at once, it sometimes beats the accept and sometimes
    /// not). The excerpt shows two passes of that, then this line, then the pass it arrives in.
    pub(super) late_request: Option<Text>,
    /// Stage06: after the connection's close, this many events of that thread, then a line
    /// saying that the same goes on; everything later is left out.
    pub(super) tail: Option<(usize, Text)>,
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
/// `text` on its right, in the lesson's language. Each note is used once per excerpt, on the
/// same line in both languages (see `render`).
#[derive(Debug)]
pub(super) struct Note {
    pub(super) who: Option<&'static str>,
    pub(super) all: &'static [&'static str],
    pub(super) text: Text,
}

const fn note(all: &'static [&'static str], en: &'static str, zh: &'static str) -> Note {
    Note { who: None, all, text: Text { en, zh } }
}

const fn note_by(
    who: &'static str,
    all: &'static [&'static str],
    en: &'static str,
    zh: &'static str,
) -> Note {
    Note { who: Some(who), all, text: Text { en, zh } }
}

/// The notes every stage shares, tried after the stage's own.
pub(super) const COMMON_NOTES: &[Note] = &[
    note(&["socket(AF_INET"], "a socket: the listener to be", "一个套接字，将用来监听"),
    note(&["SO_REUSEADDR"], "bind again at once after a restart", "重启后能立即再绑定"),
    note(&["bind(3"], "where to listen", "在哪里监听"),
    note(&["listen(3"], "the kernel queues connections now", "内核从此为连接排队"),
    note(&["getsockname("], "which port?", "哪个端口？"),
    note(&["write(1, \"listening"], "the first line on stdout", "标准输出的第一行"),
    note(&["accept4(", "= -1 EAGAIN"], "nobody new", "没有新客户端"),
    note(&["accept4(", "sa_family"], "a client: its own socket", "一个客户端，有自己的套接字"),
    note(&["accept4(3, <unfinished"], "waiting for the next client", "等下一个客户端"),
    note(&["SO_RCVTIMEO"], "read timeout", "读超时"),
    note(&["SO_SNDTIMEO"], "write timeout", "写超时"),
    note(&["TCP_NODELAY"], "send small responses at once", "小响应立即发出"),
    note(&["FIONBIO, [1]"], "non-blocking", "非阻塞"),
    note(&["recvfrom(", "= -1 EAGAIN"], "asked in vain", "白问一次"),
    note(&["\"GET "], "the request", "请求"),
    note(&["statx(", "AT_SYMLINK_NOFOLLOW"], "lstat: not a symlink", "lstat，确认不是符号链接"),
    note(
        &["openat(", "\"www/", "O_NOFOLLOW"],
        "open it, refusing a symlink",
        "打开它，拒绝符号链接",
    ),
    note(&["statx(", "AT_EMPTY_PATH"], "fstat: what was opened?", "fstat，问打开的是什么"),
    note(&["read(", "\"/* "], "the file", "文件内容"),
    note(&["\"HTTP/1.1 200"], "head and body in one call", "头部和正文一次发出"),
    note(&["epoll_ctl(", "EPOLL_CTL_ADD"], "watch it", "开始关注它"),
    note(&["epoll_ctl(", "EPOLL_CTL_DEL"], "stop watching it", "不再关注它"),
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
        notes: &[note(
            &["\"HTTP/1.1 200"],
            "hello world, head and body",
            "hello world，头部和正文",
        )],
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
        notes: &[note(&["close(4)"], "the client sees the end", "客户端读到结尾")],
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
            note_by(
                "main",
                &["getpid()"],
                "the parent's pid, for the child",
                "父进程的 pid，留给子进程",
            ),
            note_by("main", &["clone("], "fork", "fork"),
            note_by("main", &["close(4)"], "parent: closes its copy", "父进程关掉自己那份"),
            note_by(
                "main",
                &["accept4(3, <unfinished"],
                "parent: back to accept at once",
                "父进程立刻回去 accept",
            ),
            note_by("child", &["close(3)"], "child: closes the listener", "子进程关掉监听套接字"),
            note_by(
                "child",
                &["PR_SET_PDEATHSIG"],
                "child: end with the parent",
                "子进程随父进程结束",
            ),
            note_by("child", &["getppid()"], "is the parent still there?", "父进程还在吗？"),
            note_by("child", &["exit_group("], "_exit(0)", "_exit(0)"),
            note_by(
                "main",
                &["resumed>", "ERESTARTSYS"],
                "interrupted by SIGCHLD",
                "被 SIGCHLD 打断",
            ),
            note_by("main", &["SIGCHLD"], "the handler runs", "信号处理函数运行"),
            note_by("main", &["wait4(", "= child"], "reaped", "回收子进程"),
            note_by("main", &["wait4(", "ECHILD"], "no other child is done", "没有别的子进程结束"),
            note_by(
                "main",
                &["accept4(3, <unfinished"],
                "restarted (SA_RESTART)",
                "自动重启（SA_RESTART）",
            ),
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
            note_by("main", &["FUTEX_WAKE"], "send: wake one worker", "send 唤醒一个工作线程"),
            note_by(
                "main",
                &["accept4(3, <unfinished"],
                "main: back to accept",
                "主线程回去 accept",
            ),
            note_by(
                "worker",
                &["FUTEX_WAIT", "= 0"],
                "woken with a connection",
                "被唤醒，拿到一个连接",
            ),
            note_by(
                "worker",
                &["FUTEX_WAIT", "<unfinished"],
                "back to the channel",
                "回到通道上等待",
            ),
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
            note_by(
                "main",
                &["FUTEX_WAIT", "= 0"],
                "woken: a client is waiting",
                "被唤醒，有客户端在等",
            ),
            note_by(
                "main",
                &["accept4(", "= -1 EAGAIN"],
                "nobody new: park the thread",
                "没有新客户端，线程挂起",
            ),
            note_by("main", &["FUTEX_WAIT", "<unfinished"], "parked", "已挂起"),
            note_by("main", &["epoll_ctl(", "EPOLL_CTL_ADD"], "may watches it", "may 开始关注它"),
            note(
                &["epoll_wait(", "= 0"],
                "may's timer tick, every 10 ms",
                "may 的定时器，每 10 ms 一次",
            ),
        ],
    },
    Plan {
        stage: "stage06_nonblocking",
        flags: &[],
        path: "/style.css",
        start: Start::Accept,
        lead: 4,
        lead_calls: &["accept4", "clock_nanosleep"],
        lead_note: Some(Text {
            en: "... (the same pass every 0.5 ms since start-up)",
            zh: "...（自启动起，每 0.5 ms 同样一轮）",
        }),
        late_request: Some(Text {
            en: "... (the same pass every 0.5 ms until the request arrives)",
            zh: "...（每 0.5 ms 同样一轮，直到请求到达）",
        }),
        tail: Some((
            2,
            Text {
                en: "... (the same pass every 0.5 ms until the server is stopped)",
                zh: "...（每 0.5 ms 同样一轮，直到服务器停下）",
            },
        )),
        futex: Futex::Hidden,
        may_ticks: false,
        notes: &[note(
            &["clock_nanosleep("],
            "nothing happened: rest 500 us",
            "什么也没发生，歇 500 us",
        )],
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
            note(&["epoll_pwait(", "18446744073709551614"], "listener readable", "监听套接字可读"),
            note(&["epoll_ctl(", "EPOLL_CTL_ADD"], "watch it as key 0", "以键 0 关注它"),
            note(&["epoll_pwait(", "u64=0}"], "key 0 is readable", "键 0 可读"),
            note(&["epoll_pwait(", "<unfinished"], "asleep until the next event", "睡到下一个事件"),
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
            note(
                &["SO_REUSEPORT"],
                "share the port with the other workers",
                "与其他工作线程共用端口",
            ),
            note(&["epoll_pwait(", "18446744073709551614"], "listener readable", "监听套接字可读"),
            note(&["epoll_pwait(", "<unfinished"], "asleep until the next event", "睡到下一个事件"),
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
            note(&["epoll_wait(", "<unfinished"], "asleep until the next event", "睡到下一个事件"),
            note(
                &["epoll_ctl(", "EPOLL_CTL_ADD"],
                "tokio registers every socket, edge-triggered",
                "tokio 以边缘触发登记每个套接字",
            ),
            note(&["epoll_wait("], "the reactor: what is ready?", "反应器查看哪些已就绪"),
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
            note(
                &["io_uring_enter(", ", 17, 1,"],
                "submit 16 accepts, buffers",
                "提交 16 个 accept 和缓冲区",
            ),
            note(
                &["io_uring_enter(", ", 0, 1,"],
                "asleep until a completion: a client",
                "睡到有完成事件，来了客户端",
            ),
            note(
                &["io_uring_enter(", ", 2, 1,"],
                "an accept, a receive: request",
                "一个 accept 一个接收，收到请求",
            ),
            note(&["io_uring_enter(", ", 2, 1,"], "send; buffer given back", "发送，归还缓冲区"),
            note(
                &["io_uring_enter(", ", 1, 1,"],
                "close (Connection: close)",
                "关闭（Connection: close）",
            ),
            note(&["io_uring_enter(", ", 0, 1,"], "asleep: nothing to do", "睡眠，无事可做"),
        ],
    },
];

pub(super) fn plan(stage: &str) -> Result<&'static Plan, String> {
    PLANS.iter().find(|plan| plan.stage == stage).ok_or_else(|| format!("no such stage: {stage}"))
}
