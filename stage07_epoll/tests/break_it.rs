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

/// The size of the body sent ahead of a second request: several reads' worth (a read takes
/// 64 KiB), which arrives in several pieces.
const BODY: usize = 300_000;

/// One keep-alive request with a large body, and a second request behind it, sent at once:
/// is the second one answered within 2 s?
fn answers_behind_a_large_body(binary: &str) -> bool {
    let server = Server::start(binary, &[]);
    let mut client = server.connect();
    let head = format!("GET /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: {BODY}\r\n\r\n");
    let mut request = head.into_bytes();
    request.resize(request.len() + BODY, b'b');
    request.extend_from_slice(b"GET /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
    client.send(&request);
    client.stream().set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    client.try_response(false).is_ok()
        && client.try_response(false).is_ok_and(|second| second.text() == "body { color: #222; }\n")
}

#[test]
fn reading_once_per_edge_leaves_the_rest_unread() {
    // When the last pieces arrive together, one edge reports them, one read takes 64 KiB,
    // and the rest waits for an edge that never comes. How the pieces arrive varies from run
    // to run, so the mistake gets three tries to show it; the stage and edge.rs, which read
    // until WouldBlock, must answer every time.
    let tries = || 0..3;
    let forgetful = example("forget_drain");
    assert!(
        !tries().all(|_| answers_behind_a_large_body(&forgetful)),
        "forget_drain never stalled"
    );
    for binary in [BINARY.to_string(), example("edge")] {
        assert!(tries().all(|_| answers_behind_a_large_body(&binary)), "{binary} stalled");
    }
}

#[test]
fn the_mistakes_stay_small_diffs_of_main() {
    for name in ["forget_rearm", "always_writable"] {
        let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), name);
        let changed = changed_lines(&main, &broken);
        assert!(changed <= 8, "{name}: {changed} lines differ from main.rs");
    }
    // Edge triggering done right is a variant of main.rs; the mistake, a small diff of it.
    let manifest = env!("CARGO_MANIFEST_DIR");
    let (main, edge) = main_and_example(manifest, "edge");
    let changed = changed_lines(&main, &edge);
    assert!(changed <= 90, "edge: {changed} lines differ from main.rs");
    let (_, forgetful) = main_and_example(manifest, "forget_drain");
    let changed = changed_lines(&edge, &forgetful);
    assert!(changed <= 20, "forget_drain: {changed} lines differ from edge.rs");
}
