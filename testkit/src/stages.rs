//! The one table of stages: the tests, the benchmark and the course pages all read it, so a
//! new stage is added in one place.

/// One stage of the course, and what the shared tests and workloads may ask of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The crate and binary name, e.g. `stage07_epoll`.
    pub name: &'static str,
    /// The stage's number: it listens on port 8000 + this by default.
    pub number: u8,
    /// What it changes from the stage before, in one sentence (the course's diff pages show
    /// it; `code` in backticks).
    pub idea: &'static str,
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
    /// An earlier stage whose model this one remakes, and what changes from it in one
    /// sentence: the course shows that diff too (stage09 is stage05's coroutines, stackless).
    pub twin: Option<(&'static str, &'static str)>,
}

/// Every stage, in order.
pub const STAGES: [Stage; 10] = [
    Stage {
        name: "stage01_hello",
        number: 1,
        idea: "The smallest HTTP server: accept, read one request, answer hello world, close.",
        serves_files: false,
        keeps_alive: false,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage02_static",
        number: 2,
        idea: "Real files from a document root, and the request loop every blocking stage keeps: \
               write what is queued, read, hand the bytes to the `Connection`. Still one \
               connection at a time, so every response closes its connection.",
        serves_files: true,
        keeps_alive: false,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage03_fork",
        number: 3,
        idea: "`fork` after `accept`: a child process per connection, so connections can stay \
               open. The new duties: each side closes the socket it does not need, the parent \
               reaps its children, and children end with the server.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage04_threads",
        number: 4,
        idea: "Threads instead of processes: a fixed pool fed by a crossbeam channel. Nothing to \
               copy, close or reap; the pool's size bounds the threads a flood can create.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: false,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage05_coroutines",
        number: 5,
        idea: "Coroutines instead of threads: may runs a small-stacked coroutine per connection \
               on a few threads. The request loop is unchanged; only the socket type and the \
               spawn differ.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage06_nonblocking",
        number: 6,
        idea: "One thread and non-blocking sockets: the blocking loop becomes a turn that stops \
               at `WouldBlock`, each connection's state moves from a stack into a struct, and \
               the loop asks every socket in turn, resting when nothing happened.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage07_epoll",
        number: 7,
        idea: "Readiness events: the kernel (epoll, through polling) says which sockets are \
               ready, so the loop sleeps until there is work. The turn that handles a \
               connection is unchanged.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: None,
    },
    Stage {
        name: "stage08_reuseport",
        number: 8,
        idea: "More loops, not a new loop: a thread per core, each running stage07's event loop \
               unchanged on a listening socket of its own. `SO_REUSEPORT` lets them all bind \
               the same port, and the kernel spreads new connections between them.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: true,
        twin: None,
    },
    Stage {
        name: "stage09_async",
        number: 9,
        idea: "async/await: stage05's request loop written with `.await`, a stackless task per \
               connection on tokio's runtime, whose reactor is stage07's epoll loop and whose \
               workers steal tasks from each other.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: true,
        twin: Some((
            "stage05_coroutines",
            "Stackful to stackless: the same request loop, with `.await` where stage05 blocked. \
             may's coroutine kept a stack; the compiler turns the `async fn` into a state \
             machine that holds only what lives across an `.await`, and tokio polls it.",
        )),
    },
    Stage {
        name: "stage10_uring",
        number: 10,
        idea: "Completions instead of readiness: one thread hands the kernel the operations \
               themselves (accept, receive, send, close) in io_uring's submission ring, many \
               per system call, and collects their results from the completion ring.",
        serves_files: true,
        keeps_alive: true,
        holds_idle_connections: true,
        loop_per_core: false,
        twin: Some((
            "stage07_epoll",
            "Readiness to completion: stage07 waits to be told a socket is ready and then makes \
             each call itself; stage10 queues the calls, and is told when each is done.",
        )),
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
}
