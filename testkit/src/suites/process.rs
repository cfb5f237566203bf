//! The suites of the server as a process: its end, its descriptor limit, its command line.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::{Client, Fixture, Server, Target, port_is_free, stage};

/// Level 3: SIGINT and SIGTERM end the server within 2 s, with a connection open, and leave
/// nothing behind: no process in its group, and the port free to bind again.
pub fn shutdown(target: &Target) {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = target.start(&["--timeout", "30"]);
        let mut client = server.connect();
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(client.response().status, 200);
        let _idle = server.connect();
        std::thread::sleep(Duration::from_millis(100));

        server.signal(signal);
        let status = server.wait_for_exit(Duration::from_secs(2));
        assert!(status.is_some(), "{signal}: still running 2 s later");
        let deadline = Instant::now() + Duration::from_secs(2);
        while !server.processes_in_group().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(server.processes_in_group(), vec![], "{signal}: processes left behind");
        assert!(port_is_free(server.address()), "{signal}: the port can be bound again");
        assert!(client.closed_by_server(), "{signal}: open connections are closed");
    }
}

/// Started with at most 64 file descriptors, the server gets 100 clients at once. It must not
/// crash, nor spin on a failing `accept` (EMFILE). Every request it reads is answered: with
/// the file, or with 503 when no descriptor is left to open it (never a 404, never a hang).
/// As connections close, the clients that waited in the listen queue are served.
pub fn out_of_descriptors(binary: &str) {
    let server = Server::start_with_descriptor_limit(binary, &["--timeout", "30"], 64);
    let mut clients: Vec<Client> = (0..100).map(|_| server.connect()).collect();
    for client in &mut clients {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    }
    std::thread::sleep(Duration::from_millis(500));
    let (mut answered, waiting): (Vec<Client>, Vec<Client>) =
        clients.into_iter().partition(has_answer_waiting);
    let mut served = 0;
    for client in &mut answered {
        let response = client.response();
        assert!(matches!(response.status, 200 | 503), "{}", response.status_line);
        served += usize::from(response.status == 200);
    }
    assert!(served > 0, "nobody was served");

    // While clients wait and no descriptor is free, the server must not burn a core.
    let before = server.cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let used = server.cpu_time() - before;
    assert!(used < Duration::from_millis(300), "{used:?} of CPU in 1 s while out of descriptors");

    // Closing connections frees descriptors: every waiting client is answered in turn.
    drop(answered);
    for (index, mut client) in waiting.into_iter().enumerate() {
        let response = client
            .try_response(false)
            .unwrap_or_else(|error| panic!("waiting client {index}: {error}"));
        assert!(
            matches!(response.status, 200 | 503),
            "waiting client {index}: {}",
            response.status_line
        );
        // Dropping the client closes its connection, freeing a descriptor for the next one.
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.get("/notes.txt").status, 200, "served normally once descriptors are free");
}

/// Whether a response (or the close) has already arrived for this client, without waiting.
fn has_answer_waiting(client: &Client) -> bool {
    let mut probe = [0; 1];
    client.stream().set_nonblocking(true).unwrap();
    let ready = client.stream().peek(&mut probe).is_ok();
    client.stream().set_nonblocking(false).unwrap();
    ready
}

/// The command line a user meets, for the stage named `name` (its crate name):
/// - `--help` opens with the stage's one-line description (which stage, which model), lists
///   every shared flag, and shows the stage's own default port and a clean default root;
/// - `--version` names the stage;
/// - one access-log line per request on stderr, none with `--quiet`;
/// - start-up errors (a busy port, a missing document root) are one line `error: ...` on
///   stderr, exit status 1, nothing on stdout.
pub fn command_line(binary: &str, name: &str) {
    let stage = stage(name);
    let run = |args: &[&str]| Command::new(binary).args(args).output().unwrap();

    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("Stage {}: ", stage.number)),
        "--help should open with the stage and its model, not {first:?}"
    );
    for flag in ["--host", "--port", "--root", "--quiet", "--timeout", "--help", "--version"] {
        assert!(text.contains(flag), "--help lacks {flag}: {text}");
    }
    let port = 8000 + u16::from(stage.number);
    assert!(text.contains(&format!("[default: {port}]")), "{text}");
    assert!(!text.contains("/../"), "the default root should be a clean path: {text}");

    let version = run(&["--version"]);
    assert!(version.status.success());
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(version.starts_with(&format!("{name} ")), "{version:?}");

    // The access log: one line per request, off with --quiet.
    let log = log_of_one_request(binary, &[]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log:?}");
    let bytes = if stage.serves_files { 12 } else { 21 };
    assert!(lines[0].starts_with("127.0.0.1:"), "{log:?}");
    assert!(lines[0].ends_with(&format!(" \"GET /notes.txt HTTP/1.1\" 200 {bytes}")), "{log:?}");
    assert_eq!(log_of_one_request(binary, &["--quiet"]), "");

    // Start-up errors: one line, exit status 1, nothing on stdout.
    let one_line_error = |args: &[&str], expected: &[&str]| {
        let output = run(args);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: {message:?}");
        assert!(message.starts_with("error: "), "{args:?}: {message:?}");
        for word in expected {
            assert!(message.contains(word), "{args:?}: {message:?} lacks {word:?}");
        }
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
    };
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port().to_string();
    one_line_error(&["--port", &busy], &["already in use", "--port"]);
    if stage.serves_files {
        one_line_error(&["--port", "0", "--root", "/nonexistent"], &["/nonexistent"]);
    }
}

/// Starts the server with `extra` flags (not quiet), makes one request, and returns what it
/// logged on stderr.
fn log_of_one_request(binary: &str, extra: &[&str]) -> String {
    let fixture = Fixture::new();
    let mut command = Command::new(binary);
    command.args(["--port", "0", "--root"]).arg(fixture.root()).args(extra).stderr(Stdio::piped());
    let mut server = Server::spawn(command).unwrap();
    let mut stderr = server.take_stderr().expect("stderr is piped");
    let mut client = server.connect();
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 200);
    drop(client);
    std::thread::sleep(Duration::from_millis(200));
    // Dropping the server kills it, which closes its end of the pipe.
    drop(server);
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    log
}
