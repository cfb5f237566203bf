//! Connections (level 3 of the grader): many requests on one, and many clients at once.

use std::time::{Duration, Instant};

use crate::{Client, HttpResponse, PATIENCE, Target, big_file_contents};

/// Level 3: an HTTP/1.1 connection stays open for the next request (RFC 9112 §9.3), after
/// an empty file and a 404 too, and a head may arrive a byte at a time.
pub fn keep_alive(target: &Target) {
    let server = target.start(&[]);

    let mut client = server.connect();
    for _ in 0..3 {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        let response = client.response();
        assert_eq!(response.text(), "plain notes\n");
        assert_kept_open(&response);
    }
    // Nor does an empty file: its answer is a head alone.
    client.send(b"GET /empty.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    let empty = client.response();
    assert_eq!((empty.status, empty.body.len()), (200, 0));
    assert!(!empty.closes());
    // A 404 does not end it either.
    client.send(b"GET /missing HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 404);
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 200);

    // A head sent one byte at a time.
    client.send_in_pieces(
        b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n",
        1,
        Duration::from_millis(2),
    );
    assert_eq!(client.response().text(), "plain notes\n");
}

/// Level 3: pipelining (RFC 9112 §9.3.2): requests sent in one write are answered in order,
/// behind a large file and after a HEAD too.
pub fn pipelining(target: &Target) {
    let server = target.start(&[]);
    let mut client = server.connect();
    client.send(
        b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\nGET /docs/page.html HTTP/1.1\r\nHost: test\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let first = client.response();
    assert_eq!(first.text(), "plain notes\n");
    assert_kept_open(&first);
    assert_eq!(client.response().text(), "<h1>docs page</h1>\n");
    assert_eq!(client.response().text(), "body { color: #222; }\n");

    // Pipelined behind a large file: the file is streamed whole, then the next answer.
    client.send(
        b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    assert!(client.response().body == big_file_contents());
    assert_eq!(client.response().text(), "plain notes\n");

    // HEAD then GET on one connection: no body bytes after the HEAD's head.
    let mut client = server.connect();
    client.send(b"HEAD /notes.txt HTTP/1.1\r\nHost: test\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.head_response().header("content-length"), Some("12"));
    assert_eq!(client.response().text(), "body { color: #222; }\n");

    if target.course_rules() {
        // Ranges on a kept-alive connection: a part of a small file and of a large one, each
        // followed by another request.
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nRange: bytes=6-\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: test\r\nRange: bytes=100000-\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(client.response().text(), "notes\n");
        let part = client.response();
        assert!(
            part.status == 206 && part.body == big_file_contents()[100_000..],
            "the rest of big.bin"
        );
        assert_eq!(client.response().text(), "body { color: #222; }\n");
    }
}

/// Level 3: a request's body, with a length or chunked (RFC 9112 §6, §7.1), is read and
/// thrown away, so that the request after it is not misread; so are the bodies of requests
/// that are refused. A stage also ends the connection, with the right status, on a chunked
/// body that breaks the rules, and answers `Expect: 100-continue` without waiting.
pub fn bodies(target: &Target) {
    let server = target.start(&[]);
    let mut client = server.connect();

    // A body is read and thrown away, so the request after it is not misread.
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 24\r\n\r\nGET /secret HTTP/1.1\r\n\r\n");
    client.send(b"GET /docs/page.html HTTP/1.1\r\nHost: test\r\n\r\n");
    let first = client.response();
    assert_eq!(first.text(), "plain notes\n");
    assert_kept_open(&first);
    assert_eq!(client.response().text(), "<h1>docs page</h1>\n");

    // A chunked body (RFC 9112 §7.1) is read past too, however it is cut, with the request
    // pipelined behind it; and so are the bodies of requests that are refused (405, 501).
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nGET /\r\n");
    client.send(b"a\r\n/secret...\r\n0\r\nX-Trailer: 1\r\n\r\nGET /docs/page.html HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().text(), "plain notes\n");
    assert_eq!(client.response().text(), "<h1>docs page</h1>\n");
    if !target.course_rules() {
        return;
    }
    client.send(b"POST /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nabcdBREW / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 405);
    assert_eq!(client.response().status, 501);
    assert_eq!(client.response().text(), "body { color: #222; }\n");

    // A chunked body that breaks the rules: the request was answered, then the error, each
    // limit with its own status, and the connection ends (what follows cannot be trusted).
    let huge_trailer = format!("0\r\nX-Big: {}\r\n\r\n", "t".repeat(9000));
    for (name, body, status) in [
        ("a size that is not hex", "zz\r\n".to_string(), 400),
        ("data not ended by CRLF", "2\r\nabc\r\n".to_string(), 400),
        ("a bare LF after the size", "2\nab\r\n".to_string(), 400),
        ("a size of 17 digits", format!("{}1\r\n", "0".repeat(16)), 400),
        ("more than 1 MiB", "100001\r\n".to_string(), 413),
        ("a trailer over 8 KiB", huge_trailer, 431),
    ] {
        let mut broken = server.connect();
        broken.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
        broken.send(format!("{body}GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        assert_eq!(broken.response().status, 200, "{name}: the request itself is answered");
        let error = broken.response();
        assert_eq!(error.status, status, "{name}");
        assert!(error.closes() && broken.closed_by_server(), "{name}: then the connection ends");
    }

    // Expect: 100-continue with the body held back never hangs: the answer comes at once.
    let mut client = server.connect();
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(client.response().text(), "plain notes\n", "answered without waiting for the body");
}

/// Level 3: `Connection: close` is honoured, and a request pipelined after it is not
/// answered; HTTP/1.0 closes unless it asks for keep-alive (RFC 9112 §9.3, §9.6).
pub fn connection_close(target: &Target) {
    let server = target.start(&[]);
    let mut client = server.connect();
    // Connection: close is honoured, and a request pipelined after it is not answered.
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    let last = client.response();
    assert!(last.closes() || !target.course_rules(), "the last response says Connection: close");
    assert!(client.closed_by_server(), "nothing more is read after Connection: close");

    // HTTP/1.0 closes unless it asks for keep-alive.
    let mut old = server.connect();
    old.send(b"GET /notes.txt HTTP/1.0\r\n\r\n");
    let response = old.response();
    assert!(!response.persistent(), "an HTTP/1.0 response keeps no connection open unasked");
    assert!(response.closes() || !target.course_rules(), "it says Connection: close");
    assert!(old.closed_by_server());
    if !target.course_rules() {
        return;
    }
    let mut old = server.connect();
    for _ in 0..2 {
        old.send(b"GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = old.response();
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
}

/// Level 3: one connection at a time is not enough: a client that stalls halfway through a
/// head and one that connects and sends nothing must not delay a third, and 200 clients at
/// once are all served (each connects again if the server closed its connection: this check
/// is about many clients, not keep-alive).
pub fn concurrency(target: &Target) {
    let server = target.start(&["--timeout", "30"]);
    let mut stalled = server.connect();
    stalled.send(b"GET / HTTP/1.1\r\nHost: te");
    let _idle = server.connect();
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    let response = server.get("/notes.txt");
    assert_eq!(response.status, 200);
    assert!(started.elapsed() < PATIENCE, "the third client waited {:?}", started.elapsed());

    let mut clients: Vec<Client> = (0..200).map(|_| server.connect()).collect();
    for round in 0..2 {
        for client in &mut clients {
            client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        }
        for (index, client) in clients.iter_mut().enumerate() {
            let response = client
                .try_response(false)
                .unwrap_or_else(|error| panic!("client {index}, round {round}: {error}"));
            assert_eq!(response.text(), "plain notes\n", "client {index}, round {round}");
            if !response.persistent() {
                *client = server.connect();
            }
        }
    }
    // The stalled client is still waiting, not answered or dropped early.
    assert!(!stalled.anything_within(Duration::from_millis(100)));
}

/// Asserts that a response keeps its connection open (RFC 9112 §9.3), and says in the
/// report's words what the next request would meet if it does not.
fn assert_kept_open(response: &HttpResponse) {
    assert!(
        response.persistent(),
        "`{}` (Connection: {}) ends the connection, so a second request on it gets no answer",
        response.status_line,
        response.header("connection").unwrap_or("none")
    );
}

/// Level 3: a server that ends a connection while the client is still sending lets it finish
/// and read the answer (RFC 9112 §9.6). An upload over the limit is refused at once (413),
/// but the client goes on sending the body it announced: a server that just closes makes its
/// kernel reset the connection as the next bytes arrive, and the reset can destroy the answer
/// before the client reads it. Shutting down the writing side and reading on (a lingering
/// close) lets the whole body go, then the answer and the end of the connection arrive.
pub fn closing(target: &Target) {
    let server = target.start(&[]);
    let mut client = server.connect();
    let upload = 8 * 1024 * 1024;
    let head =
        format!("POST /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: {upload}\r\n\r\n");
    client.send(head.as_bytes());
    let piece = vec![b'u'; 64 * 1024];
    for sent in (0..upload).step_by(piece.len()) {
        if let Err(error) = client.try_send(&piece) {
            panic!(
                "sending the body failed after {sent} of its {upload} bytes ({error}): the server \
                 closed the connection while the body was still arriving, and its kernel reset \
                 it; shut down the writing side and read on until the client closes instead"
            );
        }
    }
    let answer = client.try_response(false).unwrap_or_else(|error| {
        panic!("no answer after the whole body was sent ({error}): was the connection reset?")
    });
    assert!(
        (400..500).contains(&answer.status),
        "an upload of 8 MiB to a file was answered {}",
        answer.status_line
    );
}
