//! The classic mistakes of stage09, each an example beside the stage (`--example NAME`):
//! each test shows the symptom with the mistake and not with the stage, and keeps the
//! example a small diff of main.rs.

use std::time::{Duration, Instant};

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage09_async");

const REQUEST: &[u8] = b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n";

/// Three clients at once, one worker thread: how long until all three are answered?
fn three_clients_on_one_worker(binary: &str) -> Duration {
    let server = Server::start(binary, &["--workers", "1"]);
    let started = Instant::now();
    let mut clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for client in &mut clients {
        client.send(REQUEST);
    }
    for client in &mut clients {
        assert_eq!(client.response().status, 200);
    }
    started.elapsed()
}

#[test]
fn a_thread_blocking_sleep_serialises_the_tasks_of_its_worker() {
    // Each connection sleeps 1 s. Blocking the thread, the three sleeps run one after another.
    assert!(three_clients_on_one_worker(&example("sleep_in_task")) >= Duration::from_millis(2900));
    assert!(three_clients_on_one_worker(BINARY) < Duration::from_millis(2900));
}

/// One keep-alive client, answered and now idle: is a second client answered meanwhile?
fn second_client_served_while_first_is_idle(binary: &str) -> bool {
    let server = Server::start(binary, &["--timeout", "30"]);
    let mut first = server.connect();
    first.send(REQUEST);
    assert_eq!(first.response().status, 200);
    let mut second = server.connect();
    second.send(REQUEST);
    second.anything_within(Duration::from_secs(1))
}

#[test]
fn a_lock_held_across_await_serves_one_connection_at_a_time() {
    assert!(!second_client_served_while_first_is_idle(&example("lock_across_await")));
    assert!(second_client_served_while_first_is_idle(BINARY));
}

#[test]
fn the_mistakes_stay_small_diffs_of_main() {
    for name in ["sleep_in_task", "lock_across_await"] {
        let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), name);
        let changed = changed_lines(&main, &broken);
        assert!(changed <= 8, "{name}: {changed} lines differ from main.rs");
    }
}
