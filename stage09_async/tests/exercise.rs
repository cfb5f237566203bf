//! The exercise of stage09 (README.md, "Exercise"): `--max-connections N` serves at most N
//! connections at once; the next client waits in the listen queue until one of them ends.
//!
//! Done it? Check with `cargo test -p stage09_async --test exercise -- --ignored`. The
//! second test runs the same check on the reference solution, `examples/solution.rs`.

use std::time::Duration;

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage09_async");

const REQUEST: &[u8] = b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n";

fn check(binary: &str) {
    let server = Server::start(binary, &["--max-connections", "2", "--timeout", "30"]);
    let mut first = server.connect();
    let mut second = server.connect();
    for client in [&mut first, &mut second] {
        client.send(REQUEST);
        assert_eq!(client.response().status, 200);
    }
    // Two idle keep-alive connections hold both permits: a third client is not served.
    let mut third = server.connect();
    third.send(REQUEST);
    assert!(!third.anything_within(Duration::from_secs(1)), "a third connection was served");
    // One of the two leaves: the third is served.
    drop(first);
    assert!(third.anything_within(Duration::from_secs(2)), "the third waits for a free place");
    assert_eq!(third.response().status, 200);
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage09_solution"));
}
