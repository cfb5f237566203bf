//! The command-line contract, checked on stage02 (every stage parses it with the same code
//! in `common::config`): the access log and `--quiet`, a busy port, `--help`.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use testkit::{Client, Fixture};

const BINARY: &str = env!("CARGO_BIN_EXE_stage02_static");

/// Starts the server with `extra` flags, makes one request, and returns what it logged.
fn log_of_one_request(extra: &[&str]) -> String {
    let fixture = Fixture::new();
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--root"])
        .arg(fixture.root())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().strip_prefix("listening on http://").unwrap().parse().unwrap();
    let mut client = Client::connect(address);
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 200);
    drop(client);
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    log
}

#[test]
fn one_access_log_line_per_request_unless_quiet() {
    let log = log_of_one_request(&[]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log:?}");
    assert!(lines[0].starts_with("127.0.0.1:"), "{log:?}");
    assert!(lines[0].ends_with(" \"GET /notes.txt HTTP/1.1\" 200 12"), "{log:?}");
    assert_eq!(log_of_one_request(&["--quiet"]), "");
}

#[test]
fn a_busy_port_is_a_one_line_error_naming_the_flag() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BINARY).args(["--port", &port]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(message.lines().count(), 1, "{message:?}");
    assert!(message.contains("already in use") && message.contains("--port"), "{message:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn help_lists_every_flag() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--host", "--port", "--root", "--quiet", "--timeout"] {
        assert!(help.contains(flag), "--help lacks {flag}: {help}");
    }
    assert!(help.contains("[default: 8002]"), "{help}");
}
