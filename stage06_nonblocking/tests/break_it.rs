//! The classic mistake of stage06, an example beside the stage (`--example spin`): the test
//! shows the symptom with the mistake and not with the stage, and keeps the example a small
//! diff of main.rs.

use std::time::Duration;

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage06_nonblocking");

/// The share of one core the server uses over a second with no traffic at all.
fn idle_cpu(binary: &str) -> f64 {
    let server = Server::start(binary, &[]);
    let before = server.cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    (server.cpu_time() - before).as_secs_f64()
}

#[test]
fn the_pure_spin_burns_a_core_while_idle() {
    let spinning = idle_cpu(&example("spin"));
    assert!(spinning > 0.3, "the spin used only {spinning:.2} s of CPU in 1 s");
    let resting = idle_cpu(BINARY);
    assert!(resting < 0.15, "the stage used {resting:.2} s of CPU in 1 s while idle");
}

#[test]
fn the_mistake_stays_a_small_diff_of_main() {
    let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), "spin");
    assert!(changed_lines(&main, &broken) <= 8);
}
