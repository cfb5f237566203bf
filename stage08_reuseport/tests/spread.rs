//! The kernel really spreads connections between the workers' listening sockets.
//!
//! Observed from outside, as a student can: `/proc/PID/fdinfo/N` of an epoll descriptor lists
//! every descriptor registered with it (`tfd:` lines). Each worker has its own epoll instance,
//! watching its listener, polling's two descriptors of its own (an eventfd and a timerfd), and
//! the kept-alive connections that worker accepted.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use testkit::Server;

const BINARY: &str = env!("CARGO_BIN_EXE_stage08_reuseport");

/// For each epoll instance of the process, how many sockets it watches.
fn sockets_per_epoll(pid: i32) -> Vec<usize> {
    let fd_dir = format!("/proc/{pid}/fd");
    let target = |fd: &str| fs::read_link(format!("{fd_dir}/{fd}")).unwrap_or_default();
    let mut counts = Vec::new();
    for entry in fs::read_dir(&fd_dir).unwrap().flatten() {
        let fd = entry.file_name().into_string().unwrap();
        if target(&fd).to_string_lossy() != "anon_inode:[eventpoll]" {
            continue;
        }
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
        let watched = info.lines().filter_map(|line| line.strip_prefix("tfd:"));
        let sockets = watched
            .filter_map(|rest| rest.split_whitespace().next())
            .filter(|watched| target(watched).to_string_lossy().starts_with("socket:"))
            .count();
        counts.push(sockets);
    }
    counts
}

#[test]
fn both_workers_serve_some_of_200_connections() {
    let server = Server::start(BINARY, &["--workers", "2"]);
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let mut client = server.connect();
            client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
            assert_eq!(client.response().status, 200);
            client
        })
        .collect();
    // Every connection is kept alive, so it now waits in its worker's epoll set. A worker
    // registers a connection (epoll_ctl ADD) just after sending its response, so the last
    // client may read its answer a moment before that: look again until all are there.
    let started = Instant::now();
    let (counts, connections) = loop {
        let counts = sockets_per_epoll(server.pid().as_raw());
        // Each epoll instance watches its own listener too.
        let connections: Vec<usize> = counts.iter().map(|sockets| sockets - 1).collect();
        let all_there = connections.iter().sum::<usize>() == clients.len();
        if all_there || started.elapsed() > Duration::from_secs(5) {
            break (counts, connections);
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(connections.len(), 2, "one epoll instance per worker: {counts:?}");
    assert_eq!(connections.iter().sum::<usize>(), clients.len(), "{connections:?}");
    assert!(connections.iter().all(|count| *count > 0), "one worker got none: {connections:?}");
}

#[test]
fn one_worker_means_one_loop() {
    let server = Server::start(BINARY, &["--workers", "1"]);
    assert_eq!(server.get("/notes.txt").status, 200);
    assert_eq!(sockets_per_epoll(server.pid().as_raw()).len(), 1);
}
