//! DESIGN.md's promise, kept by a test: adjacent stages keep the same functions, word for word,
//! wherever the model is the same, so that `diff -u` of two stages shows the new idea and
//! little else; and each such diff stays within a budget of changed lines.

use std::fs;

use similar::{ChangeTag, TextDiff};

/// Each adjacent pair (and each stage with the model it remakes) and the most lines its
/// `main.rs` diff may change, counted as the lessons count them (`site::main_rs_diff_lines`).
const BUDGETS: [(&str, &str, usize); 8] = [
    ("stage01_hello", "stage02_static", 125),
    ("stage02_static", "stage03_fork", 100),
    ("stage03_fork", "stage04_threads", 130),
    ("stage04_threads", "stage05_coroutines", 135),
    ("stage05_coroutines", "stage06_nonblocking", 300),
    // epoll, and stage06's machinery for spinning gone with it: the rest after an idle pass
    // and the `progress` each turn reported for it (about 20 lines). The tuning for the cost
    // of a connection is not here: it is `examples/tuned.rs`.
    ("stage06_nonblocking", "stage07_epoll", 175),
    // More loops, and each loop's poller made in main before any loop runs (a worker making
    // its own could find every descriptor already taken by the others' clients).
    ("stage07_epoll", "stage08_reuseport", 65),
    // Besides `.await`: tokio's runtime in place of may's scheduler, sendfile back (tokio lets
    // a task wait for writable, may did not), and the test of what an idle future holds.
    ("stage05_coroutines", "stage09_async", 255),
];

/// How a function must match across stages.
#[derive(Clone, Copy)]
enum Match {
    /// Doc comment and body alike.
    Whole,
    /// The body alike; the doc comment's last line says where the connection runs (its own
    /// process, a worker thread, ...), which is the stage's idea.
    Body,
}

/// The functions written out in several stages, identically (DESIGN.md: "The rule: loops in
/// the stages, HTTP in common").
const IDENTICAL: [(&str, Match, &[&str]); 6] = [
    ("handle_connection", Match::Body, &["stage02_static", "stage03_fork", "stage04_threads"]),
    ("serve_ready", Match::Whole, &["stage07_epoll", "stage08_reuseport"]),
    ("send", Match::Whole, &["stage07_epoll", "stage08_reuseport"]),
    ("handle_turn", Match::Whole, &["stage07_epoll", "stage08_reuseport"]),
    ("accept_all", Match::Whole, &["stage07_epoll", "stage08_reuseport"]),
    ("close_expired", Match::Whole, &["stage07_epoll", "stage08_reuseport"]),
];

fn main_rs(stage: &str) -> String {
    let path = site::workspace().join(stage).join("src/main.rs");
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A top-level function of `source`, from its doc comment to its closing brace, as lines;
/// `None` when the file has no such function.
fn function<'a>(source: &'a str, name: &str, how: Match) -> Option<Vec<&'a str>> {
    let lines: Vec<&str> = source.lines().collect();
    let is_start = |line: &str| {
        let rest = line.strip_prefix("async ").unwrap_or(line);
        rest.strip_prefix("fn ").is_some_and(|rest| {
            rest.strip_prefix(name).is_some_and(|after| after.starts_with(['(', '<']))
        })
    };
    let start = lines.iter().position(|line| is_start(line))?;
    let mut first = start;
    while first > 0 && lines[first - 1].starts_with("///") {
        first -= 1;
    }
    let end = start + lines[start..].iter().position(|line| line.starts_with('}'))?;
    let from = match how {
        Match::Whole => first,
        Match::Body => start,
    };
    Some(lines[from..=end].to_vec())
}

/// Where `name` differs between the stages that must share it: the first stage's text against
/// each other's, as the lines that differ.
fn drift(sources: &[(&str, String)], name: &str, how: Match) -> Vec<String> {
    let mut found = Vec::new();
    let Some(((first, reference), rest)) = sources.split_first() else { return found };
    let Some(expected) = function(reference, name, how) else {
        return vec![format!("{first} has no fn {name}")];
    };
    for (stage, source) in rest {
        let Some(actual) = function(source, name, how) else {
            found.push(format!("{stage} has no fn {name}"));
            continue;
        };
        let (expected, actual) = (expected.join("\n"), actual.join("\n"));
        let diff = TextDiff::from_lines(&expected, &actual);
        let changes: Vec<String> = diff
            .iter_all_changes()
            .filter(|change| change.tag() != ChangeTag::Equal)
            .map(|change| format!("{}{}", change.tag(), change.value().trim_end()))
            .collect();
        if !changes.is_empty() {
            found.push(format!("fn {name}: {stage} differs from {first}:\n{}", changes.join("\n")));
        }
    }
    found
}

#[test]
fn each_diff_stays_within_its_budget() {
    let mut over = Vec::new();
    for (before, after, budget) in BUDGETS {
        let changed = site::main_rs_diff_lines(&site::workspace(), before, after).unwrap();
        if changed > budget {
            over.push(format!("{before} -> {after}: {changed} changed lines, budget {budget}"));
        }
    }
    assert!(over.is_empty(), "diffs that outgrew their idea:\n{}", over.join("\n"));
}

#[test]
fn the_functions_shared_by_stages_are_word_for_word_the_same() {
    let mut drifted = Vec::new();
    for (name, how, stages) in IDENTICAL {
        let sources: Vec<(&str, String)> = stages.iter().map(|s| (*s, main_rs(s))).collect();
        drifted.extend(drift(&sources, name, how));
    }
    assert!(drifted.is_empty(), "shared functions that drifted apart:\n{}", drifted.join("\n\n"));
}

#[test]
fn a_drifted_function_is_found_and_a_doc_line_is_not_a_drift_of_the_body() {
    let a = "/// Serves one.\n/// In a process.\nfn serve(x: u8) -> u8 {\n    x + 1\n}\n";
    let b = a.replace("In a process", "On a thread");
    let c = b.replace("x + 1", "x + 2");
    let sources = |other: &str| vec![("a", a.to_string()), ("b", other.to_string())];
    assert!(drift(&sources(&b), "serve", Match::Body).is_empty());
    assert_eq!(drift(&sources(&b), "serve", Match::Whole).len(), 1);
    let found = drift(&sources(&c), "serve", Match::Body);
    assert!(found.len() == 1 && found[0].contains("+    x + 2"), "{found:?}");
    assert_eq!(drift(&sources(&c), "other", Match::Whole), ["a has no fn other"]);
}
