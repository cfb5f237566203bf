//! The conformance suites: each takes a stage binary, starts it, and checks one capability
//! over real sockets. A stage's tests call the suites it must pass.
//!
//! | suite | checks |
//! |---|---|
//! | [`hello`] | stage01's answer: hello world, framing, HEAD |
//! | [`static_files`] | every file rule of DESIGN.md: index, MIME, 301 (never to another host), 404, escapes, validators and 304, byte ranges (206, 416, If-Range) |
//! | [`bad_input`] | every bad-input row, each answered with its status, then more serving; framing before the method (405, 501) |
//! | [`timeouts`] | a stalled request head or body (with a length or chunked) gets 408, an idle connection is closed |
//! | [`keep_alive`] | persistent connections, pipelining, bodies (chunked too, and their errors), ranges, `Connection: close`, 1.0 |
//! | [`concurrency`] | a stalled and an idle client don't delay a third; 200 keep-alive clients |
//! | [`shutdown`] | SIGINT and SIGTERM end the server within 2 s, nothing left behind |
//! | [`out_of_descriptors`] | more clients than file descriptors: no crash, no spin, all served |
//! | [`command_line`] | `--help`, `--version`, the access log and `--quiet`, start-up errors |

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::{
    Client, Fixture, HttpResponse, PATIENCE, SECRET, Server, big_file_contents, port_is_free, stage,
};

fn assert_required_headers(response: &HttpResponse) {
    for name in ["date", "server", "content-type", "content-length"] {
        assert!(response.header(name).is_some(), "missing {name} in {response:?}");
    }
}

/// Stage01: every GET is answered with hello world, HEAD with its head only, and the
/// connection closes after one response.
pub fn hello(binary: &str) {
    let server = Server::start(binary, &[]);
    for path in ["/", "/anything/at/all?x=1"] {
        let response = server.get(path);
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "<h1>hello world</h1>\n");
        assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
        assert_required_headers(&response);
        assert!(response.closes(), "stage01 closes every connection and says so");
    }

    let mut client = server.connect();
    client.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("21"), "HEAD announces the GET's length");
    assert!(client.closed_by_server(), "no body after a HEAD response, then the close");
}

/// Every rule of DESIGN.md's "Files", against the fixture root.
pub fn static_files(binary: &str) {
    let server = Server::start(binary, &[]);
    let ok = |path: &str, content_type: &str, body: &[u8]| {
        let response = server.get(path);
        assert_eq!(response.status, 200, "GET {path}: {response:?}");
        assert_eq!(response.header("content-type"), Some(content_type), "GET {path}");
        assert_eq!(response.body, body, "GET {path}");
        assert_required_headers(&response);
    };
    let home = b"<!DOCTYPE html><title>home</title><h1>fixture home</h1>\n";
    ok("/", "text/html; charset=utf-8", home);
    ok("/index.html", "text/html; charset=utf-8", home);
    ok("/index.html?v=1&x=%2e%2e", "text/html; charset=utf-8", home);
    ok("/index.html#top", "text/html; charset=utf-8", home);
    ok("/style.css", "text/css; charset=utf-8", b"body { color: #222; }\n");
    ok("/script.js", "text/javascript; charset=utf-8", b"console.log('hi');\n");
    ok("/image.png", "image/png", b"\x89PNG\r\n\x1a\nnot really a png");
    ok("/data.json", "application/json; charset=utf-8", b"{\"ok\": true}\n");
    ok("/notes.txt", "text/plain; charset=utf-8", b"plain notes\n");
    ok("/a%20b.txt", "text/plain; charset=utf-8", b"a file with a space\n");
    ok("/%E4%B8%AD%E6%96%87.html", "text/html; charset=utf-8", "<h1>你好，世界</h1>\n".as_bytes());
    ok("/docs/", "text/html; charset=utf-8", b"<h1>docs index</h1>\n");
    ok("/docs/page.html", "text/html; charset=utf-8", b"<h1>docs page</h1>\n");
    ok("/./docs//page.html", "text/html; charset=utf-8", b"<h1>docs page</h1>\n");
    ok("/inside.txt", "text/plain; charset=utf-8", b"plain notes\n");

    // Absolute form, as a proxy sends it.
    let absolute = server.request(b"GET http://test/notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!((absolute.status, absolute.text().as_str()), (200, "plain notes\n"));

    // A directory without its slash is redirected to it, query kept.
    for (path, location) in [("/docs", "/docs/"), ("/docs?x=1", "/docs/?x=1")] {
        let response = server.get(path);
        assert_eq!(response.status, 301, "GET {path}");
        assert_eq!(response.header("location"), Some(location), "GET {path}");
    }

    // The open redirect: `//docs` names the directory docs, and `Location: //docs/` would send
    // a browser to the host `docs`. Every way a path can start, none leads off this host.
    for (path, location) in [
        ("//docs", "/docs/"),
        ("///docs?x=1", "/docs/?x=1"),
        ("/./docs", "/docs/"),
        ("/.//docs", "/docs/"),
        ("/%2e/docs", "/docs/"),
        ("/%2fdocs", "/%2fdocs/"),
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 301, "GET {path}");
        assert_eq!(response.header("location"), Some(location), "GET {path}");
    }
    for path in ["/\\docs", "/%5cdocs", "/%5Cdocs"] {
        assert_eq!(server.get(path).status, 400, "GET {path}");
    }

    // Validators: a file carries Last-Modified and ETag, and a client whose copy is current
    // gets 304 with no body (RFC 9110 §13, §15.4.5); If-None-Match takes precedence.
    let page = server.get("/notes.txt");
    let etag = page.header("etag").expect("a file has an ETag").to_string();
    let modified = page.header("last-modified").expect("a file has Last-Modified").to_string();
    let conditional = |headers: &str| {
        let mut client = server.connect();
        client.send(
            format!("GET /notes.txt HTTP/1.1\r\nHost: test\r\n{headers}\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n")
                .as_bytes(),
        );
        let response = client.response();
        if !response.closes() {
            // Nothing after a 304's head belongs to it: the next response follows at once.
            assert_eq!(client.response().text(), "body { color: #222; }\n", "{headers}");
        }
        response
    };
    for headers in [
        format!("If-None-Match: {etag}\r\n"),
        format!("If-Modified-Since: {modified}\r\n"),
        format!(
            "If-None-Match: \"stale\", {etag}\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        ),
    ] {
        let response = conditional(&headers);
        assert_eq!(response.status, 304, "{headers}");
        assert_eq!(response.header("etag"), Some(etag.as_str()), "{headers}");
        assert!(response.header("date").is_some() && response.header("content-length").is_none());
    }
    for headers in [
        "If-None-Match: \"stale\"\r\n".to_string(),
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_string(),
        "If-Modified-Since: not a date\r\n".to_string(),
        format!("If-None-Match: \"stale\"\r\nIf-Modified-Since: {modified}\r\n"),
    ] {
        let response = conditional(&headers);
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, "plain notes\n"),
            "{headers}"
        );
    }

    // Byte ranges (RFC 9110 §14), each on its own connection: a file says it takes them, one
    // range gets 206 with just those bytes (from a small file, and from one large enough to go
    // by sendfile), past the end is 416, and a range that is invalid, in another unit, or one
    // of several gets the whole file.
    let ranged = |path: &str, headers: &str| {
        server.request(format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n").as_bytes())
    };
    assert_eq!(page.header("accept-ranges"), Some("bytes"), "a file says it takes ranges");
    for (range, body, content_range) in [
        ("bytes=0-4", &b"plain"[..], "bytes 0-4/12"),
        ("bytes=6-", b"notes\n", "bytes 6-11/12"),
        ("bytes=-3", b"es\n", "bytes 9-11/12"),
        ("bytes=10-99", b"s\n", "bytes 10-11/12"),
    ] {
        let part = ranged("/notes.txt", &format!("Range: {range}\r\n"));
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            (part.body.as_slice(), part.header("content-range")),
            (body, Some(content_range))
        );
        assert_eq!(part.header("content-length"), Some(body.len().to_string().as_str()));
    }
    let big_file = big_file_contents();
    for (range, start, end) in [
        ("bytes=1000000-2099999", 1_000_000, 2_099_999),
        ("bytes=-100", big_file.len() - 100, big_file.len() - 1),
    ] {
        let part = ranged("/big.bin", &format!("Range: {range}\r\n"));
        assert_eq!(part.status, 206, "{range}");
        assert!(part.body == big_file[start..=end], "{range}: {} bytes", part.body.len());
    }
    for range in ["bytes=12-", "bytes=-0", "bytes=99999999999999999999-"] {
        let past = ranged("/notes.txt", &format!("Range: {range}\r\n"));
        assert_eq!(
            (past.status, past.header("content-range")),
            (416, Some("bytes */12")),
            "{range}"
        );
    }
    for range in ["bytes=0-1,3-4", "bytes=5-2", "items=0-1", "bytes=x-"] {
        let whole = ranged("/notes.txt", &format!("Range: {range}\r\n"));
        assert_eq!((whole.status, whole.text().as_str()), (200, "plain notes\n"), "{range}");
    }
    // If-Range: the part only while the file is the one the client has part of.
    for (condition, status) in [(etag.as_str(), 206), (modified.as_str(), 206), ("\"stale\"", 200)]
    {
        let response =
            ranged("/notes.txt", &format!("Range: bytes=0-4\r\nIf-Range: {condition}\r\n"));
        assert_eq!(response.status, status, "If-Range: {condition}");
    }
    // A current cached copy comes before a range (RFC 9110 §13.2.2); HEAD answers as GET.
    let cached = ranged("/notes.txt", &format!("Range: bytes=0-4\r\nIf-None-Match: {etag}\r\n"));
    assert_eq!(cached.status, 304);
    let mut client = server.connect();
    client.send(b"HEAD /notes.txt HTTP/1.1\r\nHost: test\r\nRange: bytes=0-4\r\n\r\n");
    let head = client.head_response();
    assert_eq!((head.status, head.header("content-length")), (206, Some("5")));
    assert_eq!(head.header("content-range"), Some("bytes 0-4/12"));

    // Missing things are 404, and a directory without index is not listed.
    for path in ["/missing.html", "/empty/", "/docs/missing", "/index.html/x"] {
        let response = server.get(path);
        assert_eq!(response.status, 404, "GET {path}");
    }

    // A large file arrives whole and in order, streamed.
    let big = server.get("/big.bin");
    assert_eq!(big.header("content-type"), Some("application/octet-stream"));
    assert!(big.body == big_file_contents(), "big.bin arrived damaged ({} bytes)", big.body.len());

    // HEAD: the same head as GET, no body.
    let mut client = server.connect();
    client.send(b"HEAD /big.bin HTTP/1.1\r\nHost: test\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.header("content-length"), Some(big_file_contents().len().to_string().as_str()));
    // Stage02 closes after the HEAD; others must answer the next request with no body bytes between.
    if !head.closes() {
        assert_eq!(client.response().text(), "plain notes\n", "a HEAD response carries no body");
    }

    // Escapes: plain, encoded, through symlinks. Never the secret, whatever the status.
    for path in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/notes.txt%00.html",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 400, "GET {path}");
        assert!(!response.text().contains(SECRET), "GET {path} leaked the secret");
    }
    for path in ["/escape.txt", "/parent/secret.txt"] {
        let response = server.get(path);
        assert_eq!(response.status, 404, "GET {path}");
        assert!(!response.text().contains(SECRET), "GET {path} leaked the secret");
    }
    assert_eq!(server.get("/%ff.html").status, 400, "percent-encoding that is not UTF-8");
}

/// Every bad-input row of DESIGN.md: each on its own connection, answered with its status
/// and `Connection: close`, the connection then closed, and the server still serving.
pub fn bad_input(binary: &str) {
    let server = Server::start(binary, &[]);
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
    let rows = rows.into_iter().map(|(name, bytes, status)| (name.to_string(), bytes, status));
    for (name, bytes, status) in rows.chain(framing_errors) {
        let mut client = server.connect();
        client.send(&bytes);
        let response = client
            .try_response(false)
            .unwrap_or_else(|error| panic!("{name}: no response: {error}"));
        assert_eq!(response.status, status, "{name}: {}", response.status_line);
        assert!(response.closes(), "{name}: an error response says Connection: close");
        assert!(client.closed_by_server(), "{name}: the server closes after an error");
        assert_eq!(server.get("/").status, 200, "the server still serves after {name}");
    }

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
        assert_eq!(response.status, status, "{name}: {}", response.status_line);
        if status == 405 {
            assert_eq!(response.header("allow"), Some("GET, HEAD"), "{name}");
        }
        if !response.closes() {
            client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
            assert_eq!(client.response().text(), "plain notes\n", "the connection goes on after {name}");
        }
    }

    // HTTP/1.2 is served as 1.1.
    assert_eq!(server.request(b"GET / HTTP/1.2\r\nHost: test\r\n\r\n").status, 200);
    // A client that connects and leaves at once, or sends half a head and leaves, costs nothing.
    drop(server.connect());
    let mut half = server.connect();
    half.send(b"GET / HT");
    drop(half);
    assert_eq!(server.get("/").status, 200, "the server still serves after clients left early");
}

/// Started with `--timeout 1`: a stalled request head gets 408 and the connection closes; an
/// idle connection is closed without a word.
pub fn timeouts(binary: &str) {
    let server = Server::start(binary, &["--timeout", "1"]);
    let mut stalled = server.connect();
    stalled.send(b"GET / HTTP/1.1\r\nHost: te");
    let response = stalled.response();
    assert_eq!(response.status, 408, "a head that never completes gets 408");
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
    assert_eq!(slow.response().status, 408);

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
                    Ok(response) if response.status == 200 && !response.closes() => {
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

/// Persistent connections: several requests on one connection, pipelining, request bodies,
/// `Connection: close`, HTTP/1.0, a head arriving byte by byte, `Expect: 100-continue`.
pub fn keep_alive(binary: &str) {
    let server = Server::start(binary, &[]);

    let mut client = server.connect();
    for _ in 0..3 {
        client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        let response = client.response();
        assert_eq!(response.text(), "plain notes\n");
        assert!(!response.closes(), "HTTP/1.1 keeps the connection open");
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

    // Pipelined: three requests in one write, answered in order.
    let mut client = server.connect();
    client.send(
        b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\nGET /docs/page.html HTTP/1.1\r\nHost: test\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    assert_eq!(client.response().text(), "plain notes\n");
    assert_eq!(client.response().text(), "<h1>docs page</h1>\n");
    assert_eq!(client.response().text(), "body { color: #222; }\n");

    // Pipelined behind a large file: the file is streamed whole, then the next answer.
    client.send(
        b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    assert!(client.response().body == big_file_contents());
    assert_eq!(client.response().text(), "plain notes\n");

    // A body is read and thrown away, so the request after it is not misread.
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 24\r\n\r\nGET /secret HTTP/1.1\r\n\r\n");
    client.send(b"GET /docs/page.html HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().text(), "plain notes\n");
    assert_eq!(client.response().text(), "<h1>docs page</h1>\n");

    // A chunked body (RFC 9112 §7.1) is read past too, however it is cut, with the request
    // pipelined behind it; and so are the bodies of requests that are refused (405, 501).
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nGET /\r\n");
    client.send(b"a\r\n/secret...\r\n0\r\nX-Trailer: 1\r\n\r\nGET /docs/page.html HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().text(), "plain notes\n");
    assert_eq!(client.response().text(), "<h1>docs page</h1>\n");
    client.send(b"POST /notes.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nabcdBREW / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().status, 405);
    assert_eq!(client.response().status, 501);
    assert_eq!(client.response().text(), "body { color: #222; }\n");

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

    // A head sent one byte at a time.
    client.send_in_pieces(
        b"GET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n",
        1,
        Duration::from_millis(2),
    );
    assert_eq!(client.response().text(), "plain notes\n");

    // Connection: close is honoured, and a request pipelined after it is not answered.
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    let last = client.response();
    assert!(last.closes());
    assert!(client.closed_by_server(), "nothing more is read after Connection: close");

    // HTTP/1.0 closes unless it asks for keep-alive.
    let mut old = server.connect();
    old.send(b"GET /notes.txt HTTP/1.0\r\n\r\n");
    assert!(old.response().closes());
    assert!(old.closed_by_server());
    let mut old = server.connect();
    for _ in 0..2 {
        old.send(b"GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = old.response();
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }

    // HEAD then GET on one connection: no body bytes after the HEAD's head.
    let mut client = server.connect();
    client.send(b"HEAD /notes.txt HTTP/1.1\r\nHost: test\r\n\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.head_response().header("content-length"), Some("12"));
    assert_eq!(client.response().text(), "body { color: #222; }\n");

    // Expect: 100-continue with the body held back never hangs: the answer comes at once.
    let mut client = server.connect();
    client.send(b"GET /notes.txt HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(client.response().text(), "plain notes\n", "answered without waiting for the body");
}

/// One connection at a time is not enough: a client that stalls halfway through a head and
/// one that connects and sends nothing must not delay a third, and 200 keep-alive clients
/// at once are all served.
pub fn concurrency(binary: &str) {
    let server = Server::start(binary, &["--timeout", "30"]);
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
        }
    }
    // The stalled client is still waiting, not answered or dropped early.
    assert!(!stalled.anything_within(Duration::from_millis(100)));
}

/// SIGINT and SIGTERM end the server within 2 s, with a connection open, and leave nothing
/// behind: no process in its group, and the port free to bind again.
pub fn shutdown(binary: &str) {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = Server::start(binary, &["--timeout", "30"]);
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
