//! The classic mistakes of stage07, each an example beside the stage (`--example NAME`):
//! each test shows the symptom with the mistake and not with the stage, and keeps the
//! example a small diff of main.rs.

use std::time::Duration;

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage07_epoll");

/// One keep-alive connection, three requests in turn: is every one answered? (The first may
/// be served before the connection is ever registered; the oneshot registration then reports
/// one event, and the request after that is never seen.)
fn every_request_answered(binary: &str) -> bool {
    let server = Server::start(binary, &[]);
    let mut client = server.connect();
    (0..3).all(|_| {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        client.anything_within(Duration::from_secs(2)) && client.response().status == 200
    })
}

#[test]
fn forgetting_to_rearm_a_oneshot_registration_stalls_the_connection() {
    assert!(!every_request_answered(&example("forget_rearm")));
    assert!(every_request_answered(BINARY));
}

/// CPU used over a second while one keep-alive connection sits idle after a request.
fn cpu_with_an_idle_connection(binary: &str) -> f64 {
    let server = Server::start(binary, &[]);
    let mut client = server.connect();
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 200);
    let before = server.cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    (server.cpu_time() - before).as_secs_f64()
}

#[test]
fn always_asking_for_writable_spins() {
    let spinning = cpu_with_an_idle_connection(&example("always_writable"));
    assert!(spinning > 0.3, "used only {spinning:.2} s of CPU in 1 s");
    let sleeping = cpu_with_an_idle_connection(BINARY);
    assert!(sleeping < 0.15, "the stage used {sleeping:.2} s of CPU in 1 s while idle");
}

#[test]
fn the_mistakes_stay_small_diffs_of_main() {
    for name in ["forget_rearm", "always_writable"] {
        let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), name);
        let changed = changed_lines(&main, &broken);
        assert!(changed <= 8, "{name}: {changed} lines differ from main.rs");
    }
}
