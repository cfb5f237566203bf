//! The suites of what is served: stage01's hello world, and every file rule.

use crate::{HttpResponse, SECRET, Server, big_file_contents};

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
