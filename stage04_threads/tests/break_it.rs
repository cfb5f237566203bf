//! The classic mistake of stage04, an example beside the stage (`--example pinned_pool`): the
//! test shows the symptom with the mistake and not with the stage, and keeps the example a
//! small diff of main.rs.

use std::time::Duration;

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage04_threads");

/// Four keep-alive clients each make a request and then sit idle; is a fifth served?
fn fresh_client_served_behind_four_idle_ones(binary: &str) -> bool {
    let server = Server::start(binary, &["--timeout", "30"]);
    let mut idle: Vec<_> = (0..4).map(|_| server.connect()).collect();
    for client in &mut idle {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(client.response().status, 200);
    }
    let mut fresh = server.connect();
    fresh.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    fresh.anything_within(Duration::from_secs(2))
}

#[test]
fn a_small_pool_pinned_by_idle_clients_starves_a_fresh_one() {
    assert!(!fresh_client_served_behind_four_idle_ones(&example("pinned_pool")));
    assert!(fresh_client_served_behind_four_idle_ones(BINARY));
}

#[test]
fn the_mistake_stays_a_small_diff_of_main() {
    let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), "pinned_pool");
    assert!(changed_lines(&main, &broken) <= 8);
}
