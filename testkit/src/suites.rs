//! The checks of an HTTP server, and the suites that group them for the stages' tests.
//!
//! A check starts the server it is given ([`Target`]: a stage's binary, or any server's
//! command line) on a fresh document root and talks to it over real sockets; it panics, as a
//! test does, with what went wrong. [`CHECKS`] lists them by level: the grader
//! (`cargo run -p grade`) runs them against any server, and the suites below run the same
//! functions against a stage, which is also held to the course's own choices
//! ([`Target::course_rules`]).
//!
//! | suite | checks |
//! |---|---|
//! | [`hello`] | stage01's answer: hello world, framing, HEAD |
//! | [`static_files`] | levels 1 and 2: a request and its response, 404, media types, index, 301 (never to another host), paths, HEAD, validators and 304, byte ranges, a large file, no escape from the root |
//! | [`bad_input`] | 400 for what is not HTTP, and the hostile input: every bad-input row with its status, then more serving; framing before the method (405, 501); clients that leave early |
//! | [`timeouts`] | a stalled request head or body (with a length or chunked) gets 408, an idle connection is closed |
//! | [`closing`] | an upload refused while its body still arrives: the whole body goes, then the answer (a lingering close) |
//! | [`keep_alive`] | persistent connections, pipelining, bodies (chunked too, and their errors), `Connection: close`, 1.0 |
//! | [`concurrency`] | a stalled and an idle client don't delay a third; 200 keep-alive clients |
//! | [`shutdown`] | SIGINT and SIGTERM end the server within 2 s, nothing left behind |
//! | [`out_of_descriptors`] | more clients than file descriptors: no crash, no spin, all served |
//! | [`command_line`] | `--help`, `--version`, the access log and `--quiet`, start-up errors |
//!
//! The checks live in four files, by what they test: `files` (hello, static files), `input`
//! (bad input, timeouts), `connections` (keep-alive, concurrency) and `process` (shutdown, out
//! of descriptors, the command line).

use crate::{Stage, Target};

mod connections;
mod files;
mod input;
mod process;

pub use files::hello;
pub use process::{command_line, out_of_descriptors};

/// How far along a server is, as the grader's report card counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// HTTP/1.0, one request per connection: the status line, headers, the body, 404, 400.
    One,
    /// Static files: media types, index, 301 for directories, HEAD, conditional GET,
    /// ranges, and no path out of the document root.
    Two,
    /// HTTP/1.1: keep-alive, pipelining, bodies, many clients at once, timeouts, shutdown.
    Three,
    /// Hostile input: malformed requests, methods not served, redirects off the host.
    Hostile,
}

impl Level {
    /// Every level, in the card's order.
    pub const ALL: [Level; 4] = [Level::One, Level::Two, Level::Three, Level::Hostile];

    /// The level's heading on the card.
    pub fn title(self) -> &'static str {
        match self {
            Level::One => "Level 1: HTTP/1.0, one request per connection",
            Level::Two => "Level 2: static files",
            Level::Three => "Level 3: HTTP/1.1, many clients",
            Level::Hostile => "Hostile input",
        }
    }
}

/// One check of the grader's card.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// What it checks, in a few words.
    pub name: &'static str,
    /// The level it counts towards.
    pub level: Level,
    /// Where the rule is explained: an RFC's section, and the lesson that meets it.
    pub why: &'static str,
    /// The check itself: it panics with what went wrong.
    pub run: fn(&Target),
}

/// Every check the grader runs, level by level.
pub const CHECKS: &[Check] = &[
    Check {
        name: "one request over HTTP/1.0",
        level: Level::One,
        why: "RFC 9112 §2-§6, §9.3; stage02_static/README.md",
        run: files::one_request,
    },
    Check {
        name: "404 for what is not there",
        level: Level::One,
        why: "RFC 9110 §15.5.5; stage02_static/README.md",
        run: files::not_found,
    },
    Check {
        name: "400 for what is not HTTP",
        level: Level::One,
        why: "RFC 9112 §3, RFC 9110 §15.5.1; DESIGN.md, bad input",
        run: input::bad_request,
    },
    Check {
        name: "media types",
        level: Level::Two,
        why: "RFC 9110 §8.3; stage02_static/README.md",
        run: files::media_types,
    },
    Check {
        name: "index.html for a directory",
        level: Level::Two,
        why: "stage02_static/README.md",
        run: files::index,
    },
    Check {
        name: "301 for a directory without its slash",
        level: Level::Two,
        why: "RFC 9110 §15.4.2, §10.2.2; stage02_static/README.md",
        run: files::directory_redirect,
    },
    Check {
        name: "paths as browsers send them",
        level: Level::Two,
        why: "RFC 3986 §2.1, §3.4, §6.2.2; stage02_static/README.md",
        run: files::paths,
    },
    Check { name: "HEAD", level: Level::Two, why: "RFC 9110 §9.3.2", run: files::head },
    Check {
        name: "conditional GET (304)",
        level: Level::Two,
        why: "RFC 9110 §8.8, §13.1, §15.4.5",
        run: files::conditional_get,
    },
    Check { name: "byte ranges", level: Level::Two, why: "RFC 9110 §14", run: files::ranges },
    Check {
        name: "a large file, whole",
        level: Level::Two,
        why: "stage02_static/README.md",
        run: files::large_file,
    },
    Check {
        name: "nothing outside the document root",
        level: Level::Two,
        why: "RFC 9110 §17.3; CWE-22; stage02_static/README.md",
        run: files::traversal,
    },
    Check {
        name: "keep-alive",
        level: Level::Three,
        why: "RFC 9112 §9.3; stage03_fork/README.md",
        run: connections::keep_alive,
    },
    Check {
        name: "pipelining, in order",
        level: Level::Three,
        why: "RFC 9112 §9.3.2",
        run: connections::pipelining,
    },
    Check {
        name: "request bodies read past",
        level: Level::Three,
        why: "RFC 9112 §6.3, §7.1",
        run: connections::bodies,
    },
    Check {
        name: "Connection: close",
        level: Level::Three,
        why: "RFC 9112 §9.3, §9.6",
        run: connections::connection_close,
    },
    Check {
        name: "closing while the client still sends",
        level: Level::Three,
        why: "RFC 9112 §9.6; stage02_static/README.md",
        run: connections::closing,
    },
    Check {
        name: "many clients, one of them stalled",
        level: Level::Three,
        why: "stage03_fork/README.md, stage07_epoll/README.md",
        run: connections::concurrency,
    },
    Check {
        name: "timeouts",
        level: Level::Three,
        why: "RFC 9110 §15.5.9; stage07_epoll/README.md",
        run: input::timeouts,
    },
    Check {
        name: "shutdown on SIGINT and SIGTERM",
        level: Level::Three,
        why: "stage02_static/README.md",
        run: process::shutdown,
    },
    Check {
        name: "malformed requests",
        level: Level::Hostile,
        why: "RFC 9112 §2.2, §3, §5, §6.1, §6.3; DESIGN.md, bad input",
        run: input::hostile_input,
    },
    Check {
        name: "methods not served",
        level: Level::Hostile,
        why: "RFC 9110 §9.1, §15.5.6, §15.6.2",
        run: input::methods,
    },
    Check {
        name: "no redirect to another host",
        level: Level::Hostile,
        why: "RFC 9110 §10.2.2; CWE-601; stage02_static/README.md",
        run: files::open_redirect,
    },
    Check {
        name: "clients that leave early",
        level: Level::Hostile,
        why: "RFC 9110 §2.5; DESIGN.md, bad input",
        run: input::left_early,
    },
];

/// The checks a stage's own conformance tests run, by what it can do ([`Stage`]): what
/// `grade --bin` holds it to. Every stage answers bad input and shuts down cleanly; a stage
/// that serves files (all but stage01) passes levels 1 and 2, the open-redirect check,
/// timeouts and closing; one that keeps connections alive (stage03 on) passes the rest of
/// level 3.
pub fn claimed_by(stage: &Stage) -> Vec<Check> {
    // The checks of level 3 that a stage closing every connection passes too.
    const CLOSED_EVERY_TIME: [&str; 2] = ["timeouts", "closing while the client still sends"];
    let every_stage = [
        "400 for what is not HTTP",
        "malformed requests",
        "methods not served",
        "clients that leave early",
        "shutdown on SIGINT and SIGTERM",
    ];
    let claims = |check: &Check| {
        if every_stage.contains(&check.name) {
            true
        } else if check.level == Level::Three && !CLOSED_EVERY_TIME.contains(&check.name) {
            stage.keeps_alive
        } else {
            stage.serves_files
        }
    };
    CHECKS.iter().filter(|check| claims(check)).copied().collect()
}

/// Runs `checks` against a stage's binary, held to the course's rules.
fn run(binary: &str, checks: &[fn(&Target)]) {
    let target = Target::from(binary);
    for check in checks {
        check(&target);
    }
}

/// Levels 1 and 2, every rule of DESIGN.md's "Files", against the fixture root.
pub fn static_files(binary: &str) {
    run(
        binary,
        &[
            files::one_request,
            files::not_found,
            files::media_types,
            files::index,
            files::directory_redirect,
            files::paths,
            files::head,
            files::conditional_get,
            files::ranges,
            files::large_file,
            files::traversal,
            files::open_redirect,
        ],
    );
}

/// Every bad-input row of DESIGN.md: each on its own connection, answered with its status
/// and `Connection: close`, the connection then closed, and the server still serving.
pub fn bad_input(binary: &str) {
    run(binary, &[input::bad_request, input::hostile_input, input::methods, input::left_early]);
}

/// Started with `--timeout 1`: a stalled request head gets 408 and the connection closes; an
/// idle connection is closed without a word.
pub fn timeouts(binary: &str) {
    run(binary, &[input::timeouts]);
}

/// Persistent connections: several requests on one connection, pipelining, request bodies,
/// `Connection: close`, HTTP/1.0, a head arriving byte by byte, `Expect: 100-continue`.
pub fn keep_alive(binary: &str) {
    run(
        binary,
        &[
            connections::keep_alive,
            connections::pipelining,
            connections::bodies,
            connections::connection_close,
        ],
    );
}

/// An upload refused while its body is still arriving: the client sends the whole body, then
/// reads the refusal (a lingering close, not a reset).
pub fn closing(binary: &str) {
    run(binary, &[connections::closing]);
}

/// A client that stalls halfway through a head and one that connects and sends nothing do
/// not delay a third, and 200 keep-alive clients at once are all served.
pub fn concurrency(binary: &str) {
    run(binary, &[connections::concurrency]);
}

/// SIGINT and SIGTERM end the server within 2 s, with a connection open, and leave nothing
/// behind.
pub fn shutdown(binary: &str) {
    run(binary, &[process::shutdown]);
}
