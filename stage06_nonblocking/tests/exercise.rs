//! The exercise of stage06 (README.md, "Exercise"): an adaptive back-off, 50 us after the
//! first empty pass, doubling up to 5 ms while nothing happens, back to 50 us after a pass with
//! progress. Idle, the server then wakes 200 times a second instead of about 1,800.
//!
//! Done it? Check with `cargo test -p stage06_nonblocking --test exercise -- --ignored`. The
//! second test runs the same check on the reference solution, `examples/solution.rs`.

use std::time::Duration;

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage06_nonblocking");

fn check(binary: &str) {
    let server = Server::start(binary, &[]);
    std::thread::sleep(Duration::from_millis(200));
    let before = server.sleeps();
    std::thread::sleep(Duration::from_secs(2));
    let wake_ups = server.sleeps() - before;
    // A 500 us rest wakes the server about 3,500 times in 2 idle seconds; a 5 ms rest 400
    // times. Counted as wake-ups, not CPU time: /proc counts CPU in 10 ms ticks, and a busy
    // machine makes each wake-up cost more, but not happen more often.
    assert!(wake_ups < 1000, "{wake_ups} wake-ups in 2 idle seconds");
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
