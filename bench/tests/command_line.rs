//! The bench's command line, as the lessons and the README give it: the flags they name exist,
//! and a mistyped one is refused before any server is started. (This test is also what makes
//! `cargo test` build the bench's binary, which the lessons' command check asks for `--help`.)

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bench")).args(args).output().expect("the bench starts")
}

#[test]
fn help_lists_the_flags_the_lessons_use() {
    let output = bench(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--quick", "--stages", "--workloads", "--no-nginx"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_mistyped_flag_is_refused_at_once() {
    let output = bench(&["--quik"]);
    assert_eq!(output.status.code(), Some(2), "clap's usage error");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("--quik") && error.contains("Usage"), "{error}");
}
