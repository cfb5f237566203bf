//! The variants of stage07 beside it: waiting with select(2) and poll(2) (`examples/select.rs`,
//! `examples/poll.rs`), which serve like the stage while select meets its hard limit,
//! FD_SETSIZE; and the stage tuned for the cost of a connection (`examples/tuned.rs`), which
//! must serve exactly as the stage does, its first turn inside `accept_all` included.

use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use testkit::{Server, example, suites};

const BINARY: &str = env!("CARGO_BIN_EXE_stage07_epoll");

#[test]
fn poll_keeps_alive_and_serves_many_at_once() {
    suites::keep_alive(&example("poll"));
    suites::concurrency(&example("poll"));
}

/// The tuned variant answers a connection's first request before the poller knows of it:
/// every suite the stage passes, it passes too.
#[test]
fn tuned_passes_the_stage_s_suites() {
    let tuned = example("tuned");
    suites::static_files(&tuned);
    suites::bad_input(&tuned);
    suites::timeouts(&tuned);
    suites::keep_alive(&tuned);
    suites::concurrency(&tuned);
    suites::out_of_descriptors(&tuned);
}

#[test]
fn select_keeps_alive_and_serves_many_at_once() {
    suites::keep_alive(&example("select"));
    suites::concurrency(&example("select"));
}

/// Opens 1,100 connections to `binary`, each sending one request, and returns how many were
/// answered with 200; the others must have been closed without an answer, never left hanging.
fn answered_of_1100(binary: &str) -> usize {
    // This test holds 1,100 sockets and the server as many: lift both descriptor limits.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let server = Server::start_with_descriptor_limit(binary, &["--timeout", "30"], 4096);
    let mut clients: Vec<_> = (0..1100).map(|_| server.connect()).collect();
    for client in &mut clients {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    }
    let answered = clients
        .iter_mut()
        .map(|client| client.try_response(false))
        .filter(|result| match result {
            Ok(response) => response.status == 200,
            Err(error) => {
                // Refused: closed or reset at once, not a hang (that would be a timeout).
                assert!(
                    !matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "a connection was left hanging: {error}"
                );
                false
            }
        })
        .count();
    drop(clients);
    // The server sees those closes on its next turns; until then select may give a new
    // connection a number beyond FD_SETSIZE again, and refuse it. Within a second it serves.
    let serving = (0..20).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        let mut client = server.connect();
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        client.try_response(false).is_ok_and(|response| response.status == 200)
    });
    assert!(serving, "still serving afterwards");
    answered
}

#[test]
fn select_refuses_descriptors_beyond_fd_setsize_and_epoll_does_not() {
    let by_select = answered_of_1100(&example("select"));
    assert!(
        (1000..1100).contains(&by_select),
        "select should serve the first thousand connections and refuse those numbered 1024 \
         and up; it answered {by_select}"
    );
    assert_eq!(answered_of_1100(BINARY), 1100, "epoll has no such limit");
}
