//! What a client sends wrong: a request that is not HTTP, the hostile input of DESIGN.md's
//! table, and input too slow.

use std::io;
use std::time::{Duration, Instant};

use crate::Target;

/// Level 1: a request that is not HTTP gets 400 Bad Request, and the server goes on serving.
pub fn bad_request(target: &Target) {
    let server = target.start(&[]);
    for (name, bytes) in
        [("garbage", &b"GARBAGE\r\n\r\n"[..]), ("three words, not a version", b"GET / FOO\r\n\r\n")]
    {
        let mut client = server.connect();
        client.send(bytes);
        let response = client
            .try_response(false)
            .unwrap_or_else(|error| panic!("{name}: no response: {error}"));
        assert_eq!(response.status, 400, "{name}: {}", response.status_line);
        drop(client);
        assert_eq!(server.get("/").status, 200, "the server still serves after {name}");
    }
}

/// Hostile input, every row of DESIGN.md's table: each on its own connection, answered with
/// an error and the connection then closed, and the server still serving. A stage answers
/// each row with its own status and `Connection: close`; any other server is held to an
/// error status of the right kind (4xx for the client's mistakes, 5xx for what the server
/// does not do).
pub fn hostile_input(target: &Target) {
    let server = target.start(&[]);
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: test\r\n\r\n", "a".repeat(9000));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: test\r\n{}\r\n",
        format!("X-Big: {}\r\n", "b".repeat(1000)).repeat(70)
    );
    let many_headers =
        format!("GET / HTTP/1.1\r\nHost: test\r\n{}\r\n", "X-Many: 1\r\n".repeat(101));
    let rows: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage", b"GARBAGE\r\n\r\n".to_vec(), 400),
        ("binary garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), 400),
        ("missing version", b"GET /\r\n\r\n".to_vec(), 400),
        ("two spaces", b"GET  / HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(), 400),
        ("bare CR", b"GET / HTTP/1.1\r\nHost: test\rX: y\r\n\r\n".to_vec(), 400),
        ("header without colon", b"GET / HTTP/1.1\r\nHost: test\r\nNoColon\r\n\r\n".to_vec(), 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : test\r\n\r\n".to_vec(), 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: test\r\nX: a\r\n  b\r\n\r\n".to_vec(), 400),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: test\r\nX: a\x00b\r\n\r\n".to_vec(), 400),
        ("request line over 8 KiB", long_line.into_bytes(), 414),
        ("head over 64 KiB", big_head.into_bytes(), 431),
        ("over 100 headers", many_headers.into_bytes(), 431),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: test\r\n\r\n".to_vec(), 505),
        ("1.1 without Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("two Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
        ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(), 400),
        ("Host with a slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n".to_vec(), 400),
        ("Host with a user", b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n".to_vec(), 400),
        ("form feed after Host", b"GET / HTTP/1.1\r\nHost: x\x0c\r\n\r\n".to_vec(), 400),
        (
            "Content-Length in form feeds",
            b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: \x0c5\x0c\r\n\r\nhello".to_vec(),
            400,
        ),
        ("negative length", b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: -1\r\n\r\n".to_vec(), 400),
        ("bad length", b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: ten\r\n\r\n".to_vec(), 400),
        (
            "overflowing length",
            b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            400,
        ),
        (
            "conflicting lengths",
            b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            400,
        ),
        (
            "Transfer-Encoding with Content-Length",
            b"GET / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n".to_vec(),
            400,
        ),
        ("Transfer-Encoding on 1.0", b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 400),
        (
            "Transfer-Encoding not ending in chunked",
            b"GET / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, deflate\r\n\r\n".to_vec(),
            400,
        ),
        ("a length of `4 2`", b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 4 2\r\n\r\n".to_vec(), 400),
        ("an empty length", b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: \r\n\r\n".to_vec(), 400),
        ("body too large", b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 2000000\r\n\r\n".to_vec(), 413),
    ];
    // The body's framing is settled before the method is looked at: each framing error is the
    // same error on a POST (not a 405).
    let framing_errors: Vec<(String, Vec<u8>, u16)> = rows
        .iter()
        .filter(|(_, bytes, _)| {
            let head = String::from_utf8_lossy(bytes).to_ascii_lowercase();
            bytes.starts_with(b"GET ")
                && (head.contains("content-length") || head.contains("transfer-encoding"))
        })
        .map(|(name, bytes, status)| {
            (format!("POST, {name}"), [&b"POST"[..], &bytes[3..]].concat(), *status)
        })
        .collect();
    // Two rows hold only a stage, which refuses them, since RFC 9112 lets a server take
    // them: `GET /` with no version is an HTTP/0.9 request, which a server that still speaks
    // HTTP/0.9 (nginx does) answers with the body alone (RFC 1945), and a request line may be
    // split on any run of whitespace (RFC 9112 §3).
    let lenient = ["missing version", "two spaces"];
    let rows = rows
        .into_iter()
        .filter(|(name, _, _)| target.course_rules() || !lenient.contains(name))
        .map(|(name, bytes, status)| (name.to_string(), bytes, status));
    for (name, bytes, status) in rows.chain(framing_errors) {
        let mut client = server.connect();
        client.send(&bytes);
        let response = client
            .try_response(false)
            .unwrap_or_else(|error| panic!("{name}: no response: {error}"));
        if target.course_rules() {
            assert_eq!(response.status, status, "{name}: {}", response.status_line);
            assert!(response.closes(), "{name}: an error response says Connection: close");
        } else {
            assert_eq!(response.status / 100, status / 100, "{name}: {}", response.status_line);
        }
        assert!(client.closed_by_server(), "{name}: the server closes after an error");
        // Seeing the server's FIN, a client closes too: a server that lingers (waiting for
        // that close) is then free at once, however it serves its clients.
        drop(client);
        assert_eq!(server.get("/").status, 200, "the server still serves after {name}");
    }
}

/// Hostile input: a method the server does not serve, in a request framed well, gets 405
/// (with `Allow`) for one HTTP defines and 501 for any other token; a stage goes on with the
/// connection. Any other server may answer 400, 405 or 501 to any of them.
pub fn methods(target: &Target) {
    let server = target.start(&[]);

    // A method the server does not serve, in a request framed well: 405 (with Allow) for one
    // HTTP defines, 501 for any other token. The request was whole, so a stage that keeps
    // connections open answers the next request on the same one.
    for (name, bytes, status) in [
        ("unknown method", &b"BREW / HTTP/1.1\r\nHost: test\r\n\r\n"[..], 501),
        ("lowercase method", b"get / HTTP/1.1\r\nHost: test\r\n\r\n", 501),
        ("POST", b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello", 405),
        ("DELETE", b"DELETE / HTTP/1.1\r\nHost: test\r\n\r\n", 405),
        ("chunked PUT", b"PUT / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 405),
    ] {
        let mut client = server.connect();
        client.send(bytes);
        let response = client.response();
        if !target.course_rules() {
            // A lowercase `get` is a method no server serves (methods are case-sensitive,
            // RFC 9110 §9.1); nginx calls it malformed, 400, which refuses it as well.
            assert!(matches!(response.status, 400 | 405 | 501), "{name}: {}", response.status_line);
            continue;
        }
        assert_eq!(response.status, status, "{name}: {}", response.status_line);
        if status == 405 {
            assert_eq!(response.header("allow"), Some("GET, HEAD"), "{name}");
        }
        if !response.closes() {
            client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
            assert_eq!(client.response().text(), "plain notes\n", "the connection goes on after {name}");
        }
    }
}

/// Hostile input: a client that connects and leaves at once, or sends half a head and
/// leaves, costs nothing; and HTTP/1.2 is served as 1.1 (RFC 9110 §2.5: a later minor
/// version is understood as the highest one the server knows).
pub fn left_early(target: &Target) {
    let server = target.start(&[]);
    assert_eq!(server.request(b"GET / HTTP/1.2\r\nHost: test\r\n\r\n").status, 200);
    drop(server.connect());
    let mut half = server.connect();
    half.send(b"GET / HT");
    drop(half);
    assert_eq!(server.get("/").status, 200, "the server still serves after clients left early");
}

/// Level 3, with an idle timeout of 1 s (`--timeout 1`, or `{timeout}` in a command line): a
/// stalled request head or body is cut off (a stage says 408 first; any other server may
/// simply close), a head trickling in a byte at a time too, and an idle connection is closed.
pub fn timeouts(target: &Target) {
    let server = target.start(&["--timeout", "1"]);
    let mut stalled = server.connect();
    stalled.send(b"GET / HTTP/1.1\r\nHost: te");
    match stalled.try_response(false) {
        Ok(response) => assert_eq!(response.status, 408, "a head that never completes gets 408"),
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof && !target.course_rules() => {}
        Err(error) => panic!("a head that never completes was not cut off: {error}"),
    }
    assert!(stalled.closed_by_server());

    // A slowloris: a byte every 300 ms, each within the idle timeout, never finishing.
    let mut slow = server.connect();
    let started = Instant::now();
    let request =
        b"GET / HTTP/1.1\r\nX-Slow: ".iter().chain([b'a'; 40].iter()).copied().collect::<Vec<u8>>();
    let mut answered = None;
    for &byte in &request {
        slow.send(&[byte]);
        if slow.anything_within(Duration::from_millis(300)) {
            answered = Some(started.elapsed());
            break;
        }
    }
    let answered = answered.expect("a head trickling in is cut off at the head timeout");
    assert!(answered < Duration::from_secs(4), "cut off after {answered:?}");
    if target.course_rules() {
        assert_eq!(slow.response().status, 408);
    }

    // A slow body: the head arrives whole, then its body a byte every 300 ms, with a length or
    // in chunks. The timeout that bounds a head bounds a body too: 408, and the connection
    // closes.
    let chunks = b"1\r\nb\r\n".repeat(7);
    for (head, body) in [
        (
            &b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 40\r\n\r\n"[..],
            &[b'b'; 40][..],
        ),
        (b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n", &chunks),
    ] {
        let mut slow = server.connect();
        slow.send(head);
        let started = Instant::now();
        let mut statuses = Vec::new();
        for byte in body {
            slow.send(std::slice::from_ref(byte));
            if slow.anything_within(Duration::from_millis(300)) {
                match slow.try_response(false) {
                    Ok(response) if response.status == 200 && response.persistent() => {
                        statuses.push(200)
                    }
                    Ok(response) => {
                        statuses.push(response.status);
                        break;
                    }
                    // Closed without a word after the answer.
                    Err(_) => break,
                }
            }
        }
        let cut_after = started.elapsed();
        // Stage02 answers the head at once and closes; the keep-alive stages answer it, then
        // wait for the body, and cut it off at the timeout.
        match statuses.as_slice() {
            [200] | [200, 408] | [408] => {}
            other => panic!("a body trickling in should end in 408 or a close, got {other:?}"),
        }
        assert!(cut_after < Duration::from_secs(4), "a trickling body held on for {cut_after:?}");
        assert!(slow.closed_within(Duration::from_secs(2)), "the slow body's connection is closed");
    }

    let mut idle = server.connect();
    assert!(idle.closed_by_server(), "an idle connection is closed after the timeout");
    assert_eq!(server.get("/").status, 200);
}
