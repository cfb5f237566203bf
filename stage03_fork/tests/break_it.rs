//! The classic mistakes of stage03, each an example beside the stage (`--example NAME`):
//! each test shows the symptom with the mistake and not with the stage, and keeps the
//! example a small diff of main.rs.

use std::time::Duration;

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage03_fork");

fn zombies_after_20_connections(binary: &str) -> usize {
    let server = Server::start(binary, &[]);
    for _ in 0..20 {
        let response =
            server.request(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert_eq!(response.status, 200);
    }
    std::thread::sleep(Duration::from_millis(500));
    server.processes_in_group().iter().filter(|(_, state)| *state == 'Z').count()
}

#[test]
fn forget_reaping_leaves_zombies() {
    assert_eq!(zombies_after_20_connections(&example("forget_reaping")), 20);
    assert_eq!(zombies_after_20_connections(BINARY), 0);
}

fn http10_client_sees_the_close(binary: &str) -> bool {
    let server = Server::start(binary, &["--timeout", "30"]);
    let mut client = server.connect();
    client.send(b"GET /notes.txt HTTP/1.0\r\n\r\n");
    assert_eq!(client.response().text(), "plain notes\n");
    client.closed_within(Duration::from_secs(2))
}

#[test]
fn parent_keeping_its_copy_of_the_socket_hangs_clients_waiting_for_the_close() {
    assert!(!http10_client_sees_the_close(&example("parent_keeps_socket")));
    assert!(http10_client_sees_the_close(BINARY));
}

#[test]
fn the_mistakes_stay_small_diffs_of_main() {
    for name in ["forget_reaping", "parent_keeps_socket"] {
        let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), name);
        let changed = changed_lines(&main, &broken);
        assert!(changed <= 8, "{name}: {changed} lines differ from main.rs");
    }
}
