//! The exercise of stage07 (README.md, "Exercise"): a graceful shutdown in an event loop. The
//! signal must wake `wait` (the self-pipe trick, or signalfd); then the server stops
//! accepting, lets every connection send what it has queued (a download in flight arrives
//! whole), closes the idle ones, and exits with status 0 once none is left.
//!
//! Done it? Check with `cargo test -p stage07_epoll --test exercise -- --ignored`. The second
//! test runs the same check on the reference solution, `examples/solution.rs`.

use std::net::TcpStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::{Server, big_file_contents, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage07_epoll");

fn check(binary: &str) {
    let mut server = Server::start(binary, &["--timeout", "30"]);
    let mut idle = server.connect();
    idle.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(idle.response().status, 200);
    let mut downloading = server.connect();
    downloading.send(b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n");
    assert!(downloading.anything_within(Duration::from_secs(2)), "the download starts");

    server.signal(Signal::SIGTERM);
    assert!(idle.closed_within(Duration::from_secs(2)), "an idle connection is closed at once");
    let refused = TcpStream::connect_timeout(&server.address(), Duration::from_millis(500));
    assert!(refused.is_err(), "after SIGTERM no new connection is accepted");

    let response = downloading.response();
    assert!(response.body == big_file_contents(), "the download in flight arrives whole");
    let status = server.wait_for_exit(Duration::from_secs(3));
    assert!(status.is_some_and(|status| status.success()), "then it exits, status 0: {status:?}");
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage07_solution"));
}
