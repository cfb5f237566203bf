//! The exercise of stage06 (README.md, "Exercise"): an adaptive back-off, 50 us after the
//! first empty pass, doubling up to 5 ms while nothing happens, back to 50 us after a pass with
//! progress. Idle, the server then wakes 200 times a second instead of 2,000.
//!
//! Done it? Check with `cargo test -p stage06_nonblocking --test exercise -- --ignored`. The
//! second test runs the same check on the reference solution, `examples/solution.rs`.

use std::time::Duration;

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage06_nonblocking");

fn check(binary: &str) {
    let server = Server::start(binary, &[]);
    std::thread::sleep(Duration::from_millis(200));
    let before = server.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let idle = server.cpu_time() - before;
    // A 500 us rest costs about 60 ms of CPU in 2 idle seconds; a 5 ms rest a tenth of that.
    assert!(idle <= Duration::from_millis(30), "{idle:?} of CPU in 2 idle seconds");
    // And the server still answers.
    assert_eq!(server.get("/notes.txt").status, 200);
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage06_solution"));
}
