//! The exercise of stage08 (README.md, "Exercise"): pin each worker to a core of its own, taken
//! from the cores the process may use.
//!
//! Done it? Check with `cargo test -p stage08_reuseport --test exercise -- --ignored`. The
//! second test runs the same check on the reference solution, `examples/solution.rs`.

use std::fs;

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage08_reuseport");

/// Each worker thread's name and the cores it may run on (`Cpus_allowed_list` in
/// /proc/PID/task/TID/status, e.g. `0-1` or `1`).
fn workers_and_cores(pid: i32) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let name = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let status = fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let cores = status.lines().find_map(|line| line.strip_prefix("Cpus_allowed_list:"));
        if name.starts_with("worker-") {
            found.push((name.trim().to_string(), cores.unwrap_or_default().trim().to_string()));
        }
    }
    found.sort();
    found
}

fn check(binary: &str) {
    let server = Server::start(binary, &["--workers", "2"]);
    assert_eq!(server.get("/notes.txt").status, 200);
    let workers = workers_and_cores(server.pid().as_raw());
    assert_eq!(workers.len(), 2, "two threads named worker-N: {workers:?}");
    for (name, cores) in &workers {
        assert!(cores.parse::<usize>().is_ok(), "{name} may run on {cores:?}, not one core");
    }
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    if cores > 1 {
        assert_ne!(workers[0].1, workers[1].1, "two workers on one core: {workers:?}");
    }
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage08_solution"));
}
