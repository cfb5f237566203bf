//! The exercise of stage02 (README.md, "Exercise"): a `--index NAME` flag, the file that
//! serves a directory instead of `index.html`.
//!
//! Done it? Check with `cargo test -p stage02_static --test exercise -- --ignored`. The second
//! test runs the same check on the reference solution, `examples/solution.rs`.

use testkit::{Server, example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage02_static");

fn check(binary: &str) {
    let server = Server::start(binary, &["--index", "page.html"]);
    let response = server.get("/docs/");
    assert_eq!(response.status, 200, "GET /docs/");
    assert_eq!(response.text(), "<h1>docs page</h1>\n", "/docs/ is served by docs/page.html");
    assert_eq!(server.get("/").status, 404, "the root has no page.html");
    assert_eq!(server.get("/docs/index.html").status, 200, "other files are served as before");
}

#[test]
#[ignore = "the exercise: run with `-- --ignored` once you have done it"]
fn exercise() {
    check(BINARY);
}

#[test]
fn the_reference_solution_passes() {
    check(&example("stage02_solution"));
}
