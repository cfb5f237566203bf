//! The exercise of stage10 (README.md, "Exercise"): one ring per core. `--workers N` starts N
//! threads, each with its own io_uring and its own `SO_REUSEPORT` listener, as stage08 did.
//!
//! Done it? Check with `cargo test -p stage10_uring --test exercise -- --ignored`. The second
//! test runs the same check on the reference solution, `examples/solution.rs`.

use std::fs;

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage10_uring");

/// For each io_uring of the process, how many completions it has handed over so far
/// (`CqHead` in /proc/PID/fdinfo/N: the completion ring's head, which the program advances).
fn completions_per_ring(pid: i32) -> Vec<u64> {
    let mut found = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        let target = fs::read_link(entry.path()).unwrap_or_default();
        if target.to_string_lossy() != "anon_inode:[io_uring]" {
            continue;
        }
        let fd = entry.file_name().into_string().unwrap();
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
        let head = info.lines().find_map(|line| line.strip_prefix("CqHead:"));
        found.push(head.and_then(|head| head.trim().parse().ok()).unwrap_or(0));
    }
    found
}

fn check(binary: &str) {
    let server = Server::start(binary, &["--workers", "2"]);
    let _clients: Vec<_> = (0..200)
        .map(|_| {
            let mut client = server.connect();
            client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
            assert_eq!(client.response().status, 200);
            client
        })
        .collect();
    let rings = completions_per_ring(server.pid().as_raw());
    assert_eq!(rings.len(), 2, "one io_uring per worker: {rings:?}");
    // Each connection served means an accept, a receive and a send completed on its ring.
    assert!(rings.iter().all(|completions| *completions > 10), "a ring served none: {rings:?}");
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage10_solution"));
}
