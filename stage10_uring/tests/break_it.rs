//! The classic mistake of stage10, an example beside the stage (`--example forget_provide`):
//! the test shows the symptom with the mistake and not with the stage, and keeps the example
//! a small diff of main.rs.

use std::time::Duration;

use testkit::{Server, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage10_uring");

/// 600 requests, one after the other, on one keep-alive connection: how many are answered?
/// (Each takes a receive buffer; the stage has 512, and gives each back once it is read.)
fn answered_of_600(binary: &str) -> usize {
    let server = Server::start(binary, &["--timeout", "30"]);
    let mut client = server.connect();
    let mut answered = 0;
    for _ in 0..600 {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        if !client.anything_within(Duration::from_secs(1)) {
            break;
        }
        assert_eq!(client.response().status, 200);
        answered += 1;
    }
    answered
}

#[test]
fn buffers_never_given_back_run_out() {
    let leaking = answered_of_600(&example("forget_provide"));
    assert!(leaking <= 512, "{leaking} answered with 512 buffers never given back");
    assert_eq!(answered_of_600(BINARY), 600);
}

#[test]
fn the_mistake_stays_a_small_diff_of_main() {
    let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), "forget_provide");
    let changed = changed_lines(&main, &broken);
    assert!(changed <= 8, "forget_provide: {changed} lines differ from main.rs");
}
