//! Stage03 against every shared suite, plus what is its own: children are reaped, and each
//! child serves its connection alone.

use std::time::{Duration, Instant};

use testkit::{Server, suites};

const BINARY: &str = env!("CARGO_BIN_EXE_stage03_fork");

#[test]
fn static_files() {
    suites::static_files(BINARY);
}

#[test]
fn bad_input() {
    suites::bad_input(BINARY);
}

#[test]
fn timeouts() {
    suites::timeouts(BINARY);
}

#[test]
fn closing() {
    suites::closing(BINARY);
}

#[test]
fn keep_alive() {
    suites::keep_alive(BINARY);
}

#[test]
fn concurrency() {
    suites::concurrency(BINARY);
}

#[test]
fn shutdown() {
    suites::shutdown(BINARY);
}

#[test]
fn out_of_descriptors() {
    suites::out_of_descriptors(BINARY);
}

#[test]
fn no_zombies_after_500_connections() {
    let server = Server::start(BINARY, &[]);
    for _ in 0..500 {
        let response =
            server.request(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert_eq!(response.status, 200);
    }
    // The last children may still be exiting; give them a moment, then count.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let processes = server.processes_in_group();
        let zombies = processes.iter().filter(|(_, state)| *state == 'Z').count();
        if processes.len() == 1 && zombies == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "left after 500 connections: {processes:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_child_process_serves_each_connection() {
    let server = Server::start(BINARY, &["--timeout", "30"]);
    let clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    // The server and one child per open connection.
    assert_eq!(server.processes_in_group().len(), 1 + clients.len());
}

#[test]
fn command_line() {
    suites::command_line(BINARY, env!("CARGO_PKG_NAME"));
}
