//! The classic mistake of stage08, an example beside the stage (`--example shared_listener`):
//! the test shows the symptom with the mistake and not with the stage, and keeps the example
//! a small diff of main.rs.

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage08_reuseport");

/// Wake-ups of the server's threads per new connection, with 4 workers: 100 clients, one after
/// the other, each a connection with one request and `Connection: close`, with a pause between
/// them so that every worker is asleep again when the next one connects (on a loaded machine a
/// worker still awake would take the next event without a wake-up, and hide the herd).
fn wake_ups_per_connection(binary: &str) -> f64 {
    let server = Server::start(binary, &["--workers", "4", "--timeout", "30"]);
    let request = b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    assert_eq!(server.request(request).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let before = server.sleeps();
    for _ in 0..100 {
        assert_eq!(server.request(request).status, 200);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    (server.sleeps() - before) as f64 / 100.0
}

#[test]
fn a_shared_listener_wakes_every_worker_for_each_connection() {
    let herd = wake_ups_per_connection(&example("shared_listener"));
    let own = wake_ups_per_connection(BINARY);
    eprintln!("wake-ups per connection, 4 workers: shared listener {herd:.2}, stage08 {own:.2}");
    // Each connection wakes its own worker at most twice (its accept, then its request); a
    // shared listener wakes the other three workers too, for nothing.
    assert!(own <= 2.2, "the stage woke {own:.2} times per connection");
    assert!(herd >= own + 1.0, "only {herd:.2} wake-ups per connection with a shared listener");
}

#[test]
fn the_mistake_stays_a_small_diff_of_main() {
    let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), "shared_listener");
    let changed = changed_lines(&main, &broken);
    assert!(changed <= 8, "shared_listener: {changed} lines differ from main.rs");
}
