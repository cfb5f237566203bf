//! The exercise of stage03 (README.md, "Exercise"): pre-fork. Children made at start-up
//! accept on the shared listener; no process is made per connection, so the processes
//! serving are the same before and after many connections.
//!
//! Done it? Check with `cargo test -p stage03_fork --test exercise -- --ignored`. The second
//! test runs the same check on the reference solution, `examples/solution.rs`.

use std::time::Duration;

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage03_fork");

fn pids(server: &Server) -> Vec<i32> {
    let mut pids: Vec<i32> = server.processes_in_group().into_iter().map(|(pid, _)| pid).collect();
    pids.sort_unstable();
    pids
}

fn check(binary: &str) {
    let server = Server::start(binary, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let before = pids(&server);
    for _ in 0..50 {
        assert_eq!(server.get("/notes.txt").status, 200, "each request on a new connection");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(before.len() >= 3, "a parent and at least two children, made at start: {before:?}");
    assert_eq!(pids(&server), before, "the same processes served all 50 connections");
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage03_solution"));
}
