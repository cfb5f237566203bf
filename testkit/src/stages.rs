//! The one table of stages: the tests, the benchmark and the course pages all read it, so a
//! new stage is added in one place, with its sentences in both of the course's languages.

/// One stage of the course, and what the shared tests and workloads may ask of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The crate and binary name, e.g. `stage07_epoll`.
    pub name: &'static str,
    /// The stage's number: it listens on port 8000 + this by default.
    pub number: u8,
    /// What it changes from the stage before, in one sentence (the course's diff pages show
    /// it).
    pub idea: Text,
    /// Serves files from a document root (every stage but stage01, which answers hello world
    /// to anything).
    pub serves_files: bool,
    /// Keeps a connection open for more requests, pipelined or not (every stage from stage03;
    /// stage02 closes after each response so that it can serve the next client).
    pub keeps_alive: bool,
    /// Can hold thousands of idle connections at little cost: not an iterative server, and
    /// not a process or a pool thread per connection.
    pub holds_idle_connections: bool,
    /// Runs one event loop per worker (`--workers N`) to use every core: the bench measures it
    /// with `--workers 1` on one core beside the others, and also on two cores.
    pub loop_per_core: bool,
    /// An earlier stage whose model this one remakes: the course shows that diff too (stage09
    /// is stage05's coroutines, stackless).
    pub twin: Option<Twin>,
}

/// A sentence in each of the course's languages (`code` in backticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// In English, for the lessons in `README.md`.
    pub en: &'static str,
    /// In Chinese, for the lessons in `README.zh-CN.md`.
    pub zh: &'static str,
}

/// The earlier stage whose model a stage remakes, and what changes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Twin {
    /// The earlier stage's crate name.
    pub name: &'static str,
    /// What changes from it, in one sentence.
    pub idea: Text,
}

/// Every stage, in order.
pub const STAGES: [Stage; 10] = [
    Stage {
        name: "stage01_hello",
        number: 1,
        idea: Text {
            en: "The smallest HTTP server: accept, read one request, answer hello world, close.",
            zh: "最小的 HTTP 服务器：accept，读一个请求，回答 hello world，关闭。",
        },
        serves_files: false,
        keeps_alive: false,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage02_static",
        number: 2,
        idea: Text {
            en: "Real files from a document root, and the request loop every blocking stage keeps: \
                 write what is queued, read, hand the bytes to the `Connection`. Still one \
                 connection at a time, so every response closes its connection.",
            zh: "从文档根目录读真正的文件，以及此后每个阻塞式的步骤都沿用的请求循环：\
                 先写出排队的数据，再读，把字节交给 `Connection`。仍然一次只服务一个连接，\
                 所以每个响应之后都关闭连接。",
        },
        serves_files: true,
        keeps_alive: false,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage03_fork",
        number: 3,
        idea: Text {
            en: "`fork` after `accept`: a child process per connection, so connections can stay \
                 open. The new duties: each side closes the socket it does not need, the parent \
                 reaps its children, and children end with the server.",
            zh: "`accept` 之后 `fork`：每个连接一个子进程，连接因此可以保持打开（长连接）。\
                 新的责任：父子进程各自关掉自己用不着的套接字，\
                 父进程回收子进程（否则成为僵尸进程），服务器退出时子进程也随之结束。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage04_threads",
        number: 4,
        idea: Text {
            en: "Threads instead of processes: a fixed pool fed by a crossbeam channel. Nothing to \
                 copy, close or reap; the pool's size bounds the threads a flood can create.",
            zh: "用线程代替进程：一个固定大小的线程池，由 crossbeam 的通道分派连接。\
                 没有什么要复制、关闭或回收；线程池的大小限定了洪水般的连接最多能造出多少线程。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage05_coroutines",
        number: 5,
        idea: Text {
            en: "Coroutines instead of threads: may runs a small-stacked coroutine per connection \
                 on a few threads. The request loop is unchanged; only the socket type and the \
                 spawn differ.",
            zh: "用协程代替线程：may 在几个线程上为每个连接跑一个小栈的有栈协程。请求循环一字未改，\
                 变的只是套接字的类型和 spawn。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage06_nonblocking",
        number: 6,
        idea: Text {
            en: "One thread and non-blocking sockets: the blocking loop becomes a turn that stops \
                 at `WouldBlock`, each connection's state moves from a stack into a struct, and \
                 the loop asks every socket in turn, resting when nothing happened.",
            zh: "单线程加非阻塞套接字。阻塞的循环变成一轮遇到 `WouldBlock` 就停下的处理，\
                 每个连接的状态从栈上搬进一个结构体，循环轮流询问每个套接字，\
                 一轮无事可做时就歇一会儿。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage07_epoll",
        number: 7,
        idea: Text {
            en: "Readiness events: the kernel (epoll, through polling) says which sockets are \
                 ready, so the loop sleeps until there is work. The turn that handles a connection \
                 is unchanged.",
            zh: "就绪事件。由内核（epoll，经由 polling）告诉我们哪些套接字就绪了，\
                 所以循环在有活可干之前一直睡着。处理一个连接的那一轮没有改变。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage08_reuseport",
        number: 8,
        idea: Text {
            en: "More loops, not a new loop: a thread per core, each running stage07's event loop \
                 unchanged on a listening socket of its own. `SO_REUSEPORT` lets them all bind the \
                 same port, and the kernel spreads new connections between them.",
            zh: "多几个循环，而不是换一个循环：每个核一个线程，\
                 各自在自己的监听套接字上原样运行 stage07 的事件循环。\
                 `SO_REUSEPORT` 让它们绑定同一个端口，由内核把新连接分给它们。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: true,
        twin: None,
    },
    Stage {
        name: "stage09_async",
        number: 9,
        idea: Text {
            en: "async/await: stage05's request loop written with `.await`, a stackless task per \
                 connection on tokio's runtime, whose reactor is stage07's epoll loop and whose \
                 workers steal tasks from each other.",
            zh: "async/await：用 `.await` 重写 stage05 的请求循环，每个连接一个无栈协程（即任务），\
                 跑在 tokio 的运行时上；它的反应器就是 stage07 的 epoll 循环，\
                 它的工作线程互相窃取任务。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: true,
        twin: Some(Twin {
            name: "stage05_coroutines",
            idea: Text {
                en: "Stackful to stackless: the same request loop, with `.await` where stage05 \
                     blocked. may's coroutine kept a stack; the compiler turns the `async fn` into \
                     a state machine that holds only what lives across an `.await`, and tokio \
                     polls it.",
                zh: "从有栈到无栈：同一个请求循环，stage05 阻塞的地方换成 `.await`。\
                     may 的协程自带一个栈；编译器则把 `async fn` 变成一个状态机，\
                     只保存在 `.await` 前后都要用到的数据，由 tokio 调用它的 `poll`。",
            },
        }),
    },
    Stage {
        name: "stage10_uring",
        number: 10,
        idea: Text {
            en: "Completions instead of readiness: one thread hands the kernel the operations \
                 themselves (accept, receive, send, close) in io_uring's submission ring, many per \
                 system call, and collects their results from the completion ring.",
            zh: "用完成代替就绪：一个线程把操作本身（accept、接收、发送、关闭）\
                 放进 io_uring 的提交队列，一次系统调用提交许多个，再从完成队列取回它们的结果。",
        },
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: Some(Twin {
            name: "stage07_epoll",
            idea: Text {
                en: "Readiness to completion: stage07 waits to be told a socket is ready and then \
                     makes each call itself; stage10 queues the calls, and is told when each is \
                     done.",
                zh: "从就绪到完成：stage07 等内核告诉它某个套接字就绪，然后自己发起每一个调用；\
                     stage10 把调用排进队列，等内核告诉它每一个何时完成。",
            },
        }),
    },
];

/// The stage with this crate name (a stage's tests pass `env!("CARGO_PKG_NAME")`).
pub fn stage(name: &str) -> &'static Stage {
    STAGES
        .iter()
        .find(|stage| stage.name == name)
        .unwrap_or_else(|| panic!("{name} is not in testkit's table of stages"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_workspace() {
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for (index, stage) in STAGES.iter().enumerate() {
            assert_eq!(usize::from(stage.number), index + 1, "{}", stage.name);
            assert!(stage.name.starts_with(&format!("stage{:02}_", stage.number)));
            let main = std::path::Path::new(workspace).join(stage.name).join("src/main.rs");
            assert!(main.exists(), "{} has no src/main.rs", stage.name);
        }
    }

    #[test]
    fn every_sentence_is_in_both_languages() {
        for stage in &STAGES {
            let twin = stage.twin.map(|twin| twin.idea);
            for text in std::iter::once(stage.idea).chain(twin) {
                assert!(!text.en.is_empty(), "{}: no English sentence", stage.name);
                assert!(!text.zh.is_empty(), "{}: no Chinese sentence", stage.name);
            }
        }
    }
}
