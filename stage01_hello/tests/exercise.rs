//! The exercise of stage01 (README.md, "Exercise"): `GET /time` answers the seconds since
//! 1970, as text, and every other path still answers hello world.
//!
//! Done it? Check with `cargo test -p stage01_hello --test exercise -- --ignored`. The second
//! test runs the same check on the reference solution, `examples/solution.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage01_hello");

fn check(binary: &str) {
    let server = Server::start(binary, &[]);
    let response = server.get("/time");
    assert_eq!(response.status, 200, "GET /time");
    let text = response.text();
    let seconds: u64 =
        text.trim().parse().unwrap_or_else(|_| panic!("GET /time answered {text:?}, not seconds"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(seconds) <= 5, "GET /time answered {seconds}, but now is {now}");
    assert_eq!(server.get("/").text(), "<h1>hello world</h1>\n", "other paths: hello world");
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage01_solution"));
}
