//! The exercise of stage04 (README.md, "Exercise"): a graceful shutdown, as the Rust Book's
//! final chapter does for its pool. On SIGTERM the server stops accepting, lets every worker
//! finish the connection it is serving (a download in flight arrives whole), then exits with
//! status 0.
//!
//! Done it? Check with `cargo test -p stage04_threads --test exercise -- --ignored`. The second
//! test runs the same check on the reference solution, `examples/solution.rs`.

use std::net::TcpStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::{Server, big_file_contents, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage04_threads");

fn check(binary: &str) {
    let mut server = Server::start(binary, &["--workers", "4", "--timeout", "5"]);
    let mut downloading = server.connect();
    downloading.send(b"GET /big.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    assert!(downloading.anything_within(Duration::from_secs(2)), "the download starts");

    server.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
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
    check(&example("stage04_solution"));
}
