//! Stage01 against the shared suites, plus what is its own: it closes an idle connection
//! after the timeout, so a silent client cannot hold it forever.

use std::time::Duration;

use testkit::{Server, suites};

const BINARY: &str = env!("CARGO_BIN_EXE_stage01_hello");

#[test]
fn hello() {
    suites::hello(BINARY);
}

#[test]
fn bad_input() {
    suites::bad_input(BINARY);
}

#[test]
fn shutdown() {
    suites::shutdown(BINARY);
}

#[test]
fn a_silent_client_is_dropped_after_the_timeout() {
    let server = Server::start(BINARY, &["--timeout", "1"]);
    let mut silent = server.connect();
    std::thread::sleep(Duration::from_millis(100));
    // Served only once the silent client has been given up on.
    assert_eq!(server.get("/").status, 200);
    assert!(silent.closed_by_server());
}

#[test]
fn command_line() {
    suites::command_line(BINARY, env!("CARGO_PKG_NAME"));
}
