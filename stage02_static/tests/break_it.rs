//! The classic mistake of stage02's ending, as an example beside the stage
//! (`--example close_at_once`): the test shows the symptom with the mistake and not with the
//! stage, and keeps the example a small diff of main.rs.

use std::io::Read;
use std::thread;
use std::time::Duration;

use testkit::{Server, big_file_contents, changed_lines, example, main_and_example};

const BINARY: &str = env!("CARGO_BIN_EXE_stage02_static");

/// A client asks for a 3 MiB file and, not knowing that the server closes after one response,
/// sends a second request while the first response is still on its way; it starts reading
/// only after a pause, so most of the file still waits in the server's send buffer. How many
/// bytes arrive before the end of the connection (or its reset)?
fn bytes_received_with_a_request_behind(binary: &str) -> usize {
    let server = Server::start(binary, &[]);
    let mut client = server.connect();
    client.send(b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n");
    thread::sleep(Duration::from_millis(200));
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    thread::sleep(Duration::from_millis(300));
    let mut received = Vec::new();
    // A reset ends the read with an error; what arrived before it is kept.
    let _ = client.stream().read_to_end(&mut received);
    received.len()
}

#[test]
fn closing_at_once_loses_the_end_of_the_response() {
    let file = big_file_contents().len();
    let cut = bytes_received_with_a_request_behind(&example("close_at_once"));
    assert!(cut < file, "close_at_once delivered {cut} bytes: the whole file and more");
    let whole = bytes_received_with_a_request_behind(BINARY);
    assert!(whole > file, "the stage delivered {whole} bytes of a {file}-byte file");
}

#[test]
fn the_mistake_stays_a_small_diff_of_main() {
    let (main, broken) = main_and_example(env!("CARGO_MANIFEST_DIR"), "close_at_once");
    let changed = changed_lines(&main, &broken);
    assert!(changed <= 18, "close_at_once: {changed} lines differ from main.rs");
}
