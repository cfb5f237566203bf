//! The grader on servers no one here wrote, and on a stage.
//!
//! Python's own `http.server` (when python3 is installed) speaks HTTP/1.0 unless told
//! otherwise: the card must say that it serves a request and a 404, that most of level 2
//! passes, and that keep-alive does not; and that it answers a request line that is not HTTP
//! with a page and no status line (as HTTP/0.9 would), which no HTTP/1.x client can read.

use std::fs;
use std::path::Path;
use std::process::Command;

use testkit::Target;
use testkit::suites::Level;

/// Python's file server, on the grader's port and root.
const PYTHON: &str = "python3 -m http.server {port} --bind 127.0.0.1 --directory {root}";

fn python_is_installed() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|output| output.status.success())
}

#[test]
fn python_s_http_server_gets_an_honest_card() {
    if !python_is_installed() {
        eprintln!("python3 is not installed: skipped");
        return;
    }
    let target = Target::Command(PYTHON.to_string());
    let outcomes = grade::run(&target, &Level::ALL, |_, _, _| {});
    assert_card_is_current("python", &outcomes);
    let result = |name: &str| {
        let outcome = outcomes.iter().find(|outcome| outcome.check.name == name);
        outcome.unwrap_or_else(|| panic!("no check is named {name}")).passed()
    };
    let card = grade::text("http.server", &outcomes);
    assert!(result("one request over HTTP/1.0"), "{card}");
    assert!(result("404 for what is not there"), "{card}");
    assert!(!result("400 for what is not HTTP"), "a page without a status line:\n{card}");
    assert!(card.contains("the answer has no status line"), "{card}");
    let level_two: Vec<_> =
        outcomes.iter().filter(|outcome| outcome.check.level == Level::Two).collect();
    let passed = level_two.iter().filter(|outcome| outcome.passed()).count();
    assert!(passed * 2 > level_two.len(), "most of level 2 should pass:\n{card}");
    assert!(!result("byte ranges"), "http.server takes no Range:\n{card}");
    assert!(!result("keep-alive"), "HTTP/1.0: one request per connection:\n{card}");
    assert!(result("shutdown on SIGINT and SIGTERM"), "{card}");
    // It runs a thread per connection: a stalled client delays no one.
    assert!(result("many clients, one of them stalled"), "{card}");
}

/// The guide, in both languages, shows `name`'s card as these outcomes give it.
fn assert_card_is_current(name: &str, outcomes: &[grade::Outcome]) {
    for file in grade::READMES {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let readme = fs::read_to_string(&path).unwrap();
        let current = grade::with_card(&readme, name, &grade::card_for(file, outcomes)).unwrap();
        assert!(
            current == readme,
            "grade/{file}'s card `{name}` is stale: run the command above it, with --readme {name}"
        );
    }
}

#[test]
fn nginx_gets_its_card() {
    if !Command::new("nginx").arg("-v").output().is_ok_and(|output| output.status.success()) {
        eprintln!("nginx is not installed: skipped");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/nginx.sh");
    let target = Target::Command(format!("sh {script} {{port}} {{root}} {{timeout}}"));
    let outcomes = grade::run(&target, &Level::ALL, |_, _, _| {});
    assert_card_is_current("nginx", &outcomes);
}

#[test]
fn a_stage_passes_every_check() {
    // Beside this package's binary: `cargo test --workspace` builds every stage there.
    let stage = Path::new(env!("CARGO_BIN_EXE_grade")).with_file_name("stage07_epoll");
    if !stage.exists() {
        eprintln!("{} is not built: skipped (cargo test --workspace builds it)", stage.display());
        return;
    }
    let target = Target::Binary(stage.display().to_string());
    let outcomes = grade::run(&target, &Level::ALL, |_, _, _| {});
    let card = grade::text("stage07_epoll", &outcomes);
    assert!(outcomes.iter().all(grade::Outcome::passed), "{card}");
}

#[test]
fn each_stage_claims_the_checks_its_tests_run() {
    let claimed = |number: u8| {
        let stage = testkit::STAGES.iter().find(|stage| stage.number == number).unwrap();
        testkit::suites::claimed_by(stage)
    };
    let names = |checks: Vec<testkit::suites::Check>| -> Vec<&str> {
        checks.iter().map(|check| check.name).collect()
    };
    // stage01 answers hello world to any path: bad input and shutdown only.
    let hello = names(claimed(1));
    assert!(hello.contains(&"malformed requests") && !hello.contains(&"media types"), "{hello:?}");
    // stage02 serves files but closes every connection.
    let iterative = names(claimed(2));
    assert!(iterative.contains(&"byte ranges") && iterative.contains(&"timeouts"), "{iterative:?}");
    assert!(!iterative.contains(&"keep-alive"), "{iterative:?}");
    // From stage03 on, every check.
    for number in 3..=10 {
        assert_eq!(claimed(number).len(), testkit::suites::CHECKS.len(), "stage {number}");
    }
}

#[test]
fn a_failure_shows_the_exchange_and_the_rule() {
    // A "server" that answers every connection with the same wrong bytes, then closes.
    if !python_is_installed() {
        eprintln!("python3 is not installed: skipped");
        return;
    }
    let wrong = "python3 -c 'import socket; s = socket.create_server((\"127.0.0.1\", {port})); \
                 [c.sendall(b\"HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi\") or c.close() \
                 for c, _ in iter(s.accept, None)]'";
    let outcomes = grade::run(&Target::Command(wrong.to_string()), &[Level::One], |_, _, _| {});
    let not_found =
        outcomes.iter().find(|outcome| outcome.check.name == "404 for what is not there");
    let not_found = not_found.expect("level 1 has the 404 check");
    assert!(!not_found.passed());
    let card = grade::text("wrong", &outcomes);
    assert!(
        card.contains("sent:     GET /missing.html HTTP/1.1\\r\\nHost: test\\r\\n\\r\\n"),
        "{card}"
    );
    assert!(
        card.contains("received: HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi"),
        "{card}"
    );
    assert!(card.contains("RFC 9110 §15.5.5"), "{card}");
}

#[test]
fn the_load_run_compares_in_ratios() {
    let wrk = Command::new("wrk").arg("--version").output();
    if !wrk.is_ok_and(|output| !output.stdout.is_empty()) {
        eprintln!("wrk is not installed: skipped");
        return;
    }
    let stage = Path::new(env!("CARGO_BIN_EXE_grade")).with_file_name("stage07_epoll");
    if !stage.exists() {
        eprintln!("{} is not built: skipped (cargo test --workspace builds it)", stage.display());
        return;
    }
    let target = Target::Binary(stage.display().to_string());
    let contender = grade::load::Contender { name: "yours".to_string(), target };
    let rows = grade::load::run(&[contender], |_| {}).unwrap();
    assert_eq!(rows.len(), 2, "one row per load");
    for row in &rows {
        assert!(row.requests_per_second > 0.0 && row.cpu_per_request_us > 0.0, "{row:?}");
        assert_eq!(row.errors, 0, "{row:?}");
    }
    let table = grade::load::markdown(&rows);
    assert_eq!(
        table.matches("| 1.00x |").count(),
        4,
        "each ratio of the graded server to itself:\n{table}"
    );
}
