//! The classic mistake of stage05, an example beside the stage (`--example blocking_sleep`):
//! the test shows the symptom with the mistake and not with the stage, and keeps the example
//! a small diff of main.rs.

use std::time::{Duration, Instant};

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage05_coroutines");

/// Three clients at once, one worker thread: how long until all three are answered?
fn three_clients_on_one_worker(binary: &str) -> Duration {
    let server = Server::start(binary, &["--workers", "1"]);
    let started = Instant::now();
    let mut clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for client in &mut clients {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    }
    for client in &mut clients {
        assert_eq!(client.response().status, 200);
    }
    started.elapsed()
}

#[test]
fn a_thread_blocking_sleep_serialises_the_coroutines_of_its_worker() {
    // Each connection sleeps 1 s. Blocking the thread, the three sleeps run one after another.
    assert!(three_clients_on_one_worker(&example("blocking_sleep")) >= Duration::from_millis(2900));
    assert!(three_clients_on_one_worker(BINARY) < Duration::from_millis(2900));
}

#[test]
fn the_mistake_stays_a_small_diff_of_main() {
    let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), "blocking_sleep");
    assert!(changed_lines(&main, &broken) <= 8);
}
