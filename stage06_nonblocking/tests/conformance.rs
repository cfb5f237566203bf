//! Stage06 against every shared suite.

use testkit::suites;

const BINARY: &str = env!("CARGO_BIN_EXE_stage06_nonblocking");

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
fn keep_alive() {
    suites::keep_alive(BINARY);
}

#[test]
fn concurrency() {
    suites::concurrency(BINARY);
}

#[test]
fn shutdown() {
    suites::shutdown(BINARY);
}

#[test]
fn out_of_descriptors() {
    suites::out_of_descriptors(BINARY);
}

#[test]
fn command_line() {
    suites::command_line(BINARY, env!("CARGO_PKG_NAME"));
}
