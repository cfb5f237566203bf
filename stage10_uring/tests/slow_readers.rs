//! Clients that ask for a large file and then do not read it. stage10 moves a large file from
//! its pipe into the socket with splice(2) calls of its own, not with splice operations, which
//! the kernel would run on its worker threads (io-wq), a thread per such client while a blocking
//! socket is full. The stage's sockets are non-blocking, so a splice into a full socket returns
//! at once and the connection waits for room with a poll operation: no kernel thread is held,
//! and the loop goes on serving everyone else.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use testkit::{Server, big_file_contents};

const BINARY: &str = env!("CARGO_BIN_EXE_stage10_uring");

/// How many clients stall at once.
const STALLED: usize = 40;

/// The kernel's worker threads of a process: its threads named `iou-wrk-...`.
fn worker_threads(pid: i32) -> usize {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten();
    let names = tasks.map(|task| fs::read_to_string(task.path().join("comm")).unwrap_or_default());
    names.filter(|name| name.starts_with("iou-wrk")).count()
}

/// A client with a 4 KiB receive buffer, set before it connects so that the window it offers
/// stays small: the server's socket fills soon after the client stops reading.
fn small_window_client(server: &Server) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.address().into()).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

#[test]
fn clients_that_do_not_read_hold_no_kernel_thread() {
    let server = Server::start(BINARY, &["--timeout", "30"]);
    let mut stalled: Vec<TcpStream> = (0..STALLED)
        .map(|_| {
            let mut client = small_window_client(&server);
            client.write_all(b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
            client
        })
        .collect();
    thread::sleep(Duration::from_millis(500));

    let workers = worker_threads(server.pid().as_raw());
    assert!(workers < STALLED / 4, "{workers} kernel worker threads for {STALLED} stalled clients");
    assert_eq!(server.get("/notes.txt").status, 200, "a fresh client is served meanwhile");

    // Each stalled client now reads: its whole file arrives, in order.
    let expected = big_file_contents();
    for (index, client) in stalled.iter_mut().enumerate() {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            client.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let mut body = vec![0; expected.len()];
        client.read_exact(&mut body).unwrap();
        assert!(body == expected, "client {index}: the body differs from big.bin");
    }
}
