//! Stage02 against the shared suites, plus what is its own: one request per connection, and
//! the limit of an iterative server (a stalled client blocks everyone).

use std::time::Duration;

use testkit::{Server, suites};

const BINARY: &str = env!("CARGO_BIN_EXE_stage02_static");

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
fn shutdown() {
    suites::shutdown(BINARY);
}

#[test]
fn one_request_per_connection() {
    let server = Server::start(BINARY, &[]);
    let mut client = server.connect();
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    let response = client.response();
    assert_eq!(response.text(), "plain notes\n");
    assert!(response.closes(), "every response says Connection: close");
    assert!(client.closed_by_server(), "the pipelined second request is not answered");
}

#[test]
fn a_stalled_client_blocks_everyone() {
    let server = Server::start(BINARY, &["--timeout", "30"]);
    let mut stalled = server.connect();
    stalled.send(b"GET / HTTP/1.1\r\nHost: te");
    std::thread::sleep(Duration::from_millis(100));

    let mut waiting = server.connect();
    waiting.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert!(!waiting.anything_within(Duration::from_secs(1)), "served while another client stalls");

    // Once the stalled client finishes (or gives up), the next one is served.
    drop(stalled);
    assert_eq!(waiting.response().text(), "plain notes\n");
}

#[test]
fn command_line() {
    suites::command_line(BINARY, env!("CARGO_PKG_NAME"));
}

/// `--backlog 2`: while one client holds this one-at-a-time server, the kernel completes the
/// handshake of only backlog + 1 more connections and queues them (Linux counts one more than
/// asked); the SYNs of the others are dropped, so their `connect` does not finish. With the
/// default backlog (128) every one of them connects.
#[test]
fn the_backlog_bounds_the_listen_queue() {
    let connected_of_six = |backlog: &str| {
        let server = Server::start(BINARY, &["--timeout", "30", "--backlog", backlog]);
        let mut stalled = server.connect();
        stalled.send(b"GET / HTTP/1.1\r\nHost: te");
        std::thread::sleep(Duration::from_millis(100));
        let wait = Duration::from_millis(300);
        let queued: Vec<_> = (0..6)
            .filter_map(|_| std::net::TcpStream::connect_timeout(&server.address(), wait).ok())
            .collect();
        queued.len()
    };
    assert_eq!(connected_of_six("2"), 3, "backlog 2 queues 3 connections");
    assert_eq!(connected_of_six("128"), 6);
}
