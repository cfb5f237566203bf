//! What is served: stage01's hello world, and the checks of files (levels 1 and 2 of the
//! grader, and the open redirect of its hostile input).

use crate::{HttpResponse, SECRET, Server, Target, big_file_contents};

/// The headers every response of the course carries (DESIGN.md, "Responses").
fn assert_required_headers(response: &HttpResponse) {
    for name in ["date", "server", "content-type", "content-length"] {
        assert!(response.header(name).is_some(), "missing {name} in {response:?}");
    }
}

/// The media type of a `Content-Type` value, without its parameters, in lower case:
/// `text/html; charset=utf-8` is `text/html`.
fn media_type(value: &str) -> String {
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// `GET path` answers 200 with `body`, of type `content_type`: exactly, with the course's
/// `charset` and headers, for a stage; by its media type alone for any other server.
fn assert_file(target: &Target, server: &Server, path: &str, content_type: &str, body: &[u8]) {
    let response = server.get(path);
    assert_eq!(response.status, 200, "GET {path}: {}", response.status_line);
    assert_eq!(response.body, body, "GET {path}: the body");
    let got = response.header("content-type").unwrap_or_default();
    if target.course_rules() {
        assert_eq!(got, content_type, "GET {path}: Content-Type");
        assert_required_headers(&response);
    } else {
        assert_eq!(media_type(got), media_type(content_type), "GET {path}: Content-Type");
    }
}

/// The fixture's home page.
const HOME: &[u8] = b"<!DOCTYPE html><title>home</title><h1>fixture home</h1>\n";

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

/// Level 1: an HTTP/1.0 request gets a status line, headers that frame the body, the body,
/// and the close.
pub fn one_request(target: &Target) {
    let server = target.start(&[]);
    let mut client = server.connect();
    client.send(b"GET /index.html HTTP/1.0\r\n\r\n");
    let response = client.response();
    assert!(
        response.status_line.starts_with("HTTP/1.") && response.status == 200,
        "the status line: {:?}",
        response.status_line
    );
    assert_eq!(response.body, HOME, "the body is the file, its length what Content-Length says");
    assert!(response.header("content-type").is_some(), "a Content-Type");
    if target.course_rules() {
        assert_required_headers(&response);
    }
    assert!(client.closed_by_server(), "HTTP/1.0 without keep-alive: closed after the response");
}

/// Level 1: what is not there is 404; for a stage, a directory without an index is not listed.
pub fn not_found(target: &Target) {
    let server = target.start(&[]);
    let mut paths = vec!["/missing.html", "/docs/missing"];
    if target.course_rules() {
        paths.extend(["/empty/", "/index.html/x"]);
    }
    for path in paths {
        let response = server.get(path);
        assert_eq!(response.status, 404, "GET {path}: {}", response.status_line);
    }
}

/// Level 2: each file with the media type of its extension.
pub fn media_types(target: &Target) {
    let server = target.start(&[]);
    for (path, content_type, body) in [
        ("/index.html", "text/html; charset=utf-8", HOME),
        ("/style.css", "text/css; charset=utf-8", b"body { color: #222; }\n"),
        ("/script.js", "text/javascript; charset=utf-8", b"console.log('hi');\n"),
        ("/image.png", "image/png", b"\x89PNG\r\n\x1a\nnot really a png"),
        ("/data.json", "application/json; charset=utf-8", b"{\"ok\": true}\n"),
        ("/notes.txt", "text/plain; charset=utf-8", b"plain notes\n"),
        ("/big.bin", "application/octet-stream", &big_file_contents()),
    ] {
        assert_file(target, &server, path, content_type, body);
    }
}

/// Level 2: a directory is served by its index.html.
pub fn index(target: &Target) {
    let server = target.start(&[]);
    assert_file(target, &server, "/", "text/html; charset=utf-8", HOME);
    assert_file(target, &server, "/docs/", "text/html; charset=utf-8", b"<h1>docs index</h1>\n");
}

/// Level 2: a directory asked for without its slash is redirected to it (301), query kept.
pub fn directory_redirect(target: &Target) {
    let server = target.start(&[]);
    for (path, location) in [("/docs", "/docs/"), ("/docs?x=1", "/docs/?x=1")] {
        let response = server.get(path);
        assert_eq!(response.status, 301, "GET {path}: {}", response.status_line);
        let got = response.header("location").unwrap_or_default();
        if target.course_rules() {
            assert_eq!(got, location, "GET {path}");
        } else {
            assert_eq!(path_on_this_host(got), Some(location), "GET {path}: Location: {got}");
        }
    }
}

/// The path a `Location` leads to when it stays on the host the request named (`test`, the
/// `Host` the checks send): a path (`/docs/`), or an absolute URL on that host
/// (`http://test:8080/docs/`, as nginx writes it). `None` for anything that leaves the host,
/// `//docs/` included: a browser reads that as the host `docs`.
fn path_on_this_host(location: &str) -> Option<&str> {
    if location.starts_with("//") {
        return None;
    }
    if location.starts_with('/') {
        return Some(location);
    }
    let rest = location.strip_prefix("http://").or_else(|| location.strip_prefix("https://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.split(':').next().unwrap_or_default();
    (host == "test" && path.starts_with('/') && !path.starts_with("//")).then_some(path)
}

/// Level 2: paths as browsers send them: percent-encoded (a space, UTF-8), with a query or a
/// fragment, with `.` and doubled slashes, in absolute form.
pub fn paths(target: &Target) {
    let server = target.start(&[]);
    let html = "text/html; charset=utf-8";
    let text = "text/plain; charset=utf-8";
    assert_file(target, &server, "/index.html?v=1&x=%2e%2e", html, HOME);
    assert_file(target, &server, "/a%20b.txt", text, b"a file with a space\n");
    let chinese = "<h1>你好，世界</h1>\n".as_bytes();
    assert_file(target, &server, "/%E4%B8%AD%E6%96%87.html", html, chinese);
    assert_file(target, &server, "/./docs//page.html", html, b"<h1>docs page</h1>\n");
    if target.course_rules() {
        assert_file(target, &server, "/index.html#top", html, HOME);
        assert_file(target, &server, "/inside.txt", text, b"plain notes\n");
        // Absolute form, as a proxy sends it.
        let absolute = server.request(b"GET http://test/notes.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!((absolute.status, absolute.text().as_str()), (200, "plain notes\n"));
        assert_eq!(server.get("/%ff.html").status, 400, "percent-encoding that is not UTF-8");
    }
}

/// Level 2: HEAD gets the head a GET would get, and no body.
pub fn head(target: &Target) {
    let server = target.start(&[]);
    let mut client = server.connect();
    client.send(b"HEAD /big.bin HTTP/1.1\r\nHost: test\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.status, 200, "{}", head.status_line);
    assert_eq!(head.header("content-length"), Some(big_file_contents().len().to_string().as_str()));
    if !head.persistent() {
        assert!(client.closed_by_server(), "no body after a HEAD response, then the close");
    } else {
        // A keep-alive server answers the next request, with no body bytes between.
        assert_eq!(client.response().text(), "plain notes\n", "a HEAD response carries no body");
    }
}

/// Level 2: a file carries its validators, and a client whose copy is current gets 304 with
/// no body (RFC 9110 §13, §15.4.5). A stage has both `Last-Modified` and `ETag`, and
/// `If-None-Match` takes precedence; another server is held to the validators it sends.
pub fn conditional_get(target: &Target) {
    let server = target.start(&[]);
    let page = server.get("/notes.txt");
    let modified = page.header("last-modified").map(str::to_string);
    let etag = page.header("etag").map(str::to_string);
    if target.course_rules() {
        assert!(modified.is_some() && etag.is_some(), "a file has Last-Modified and ETag");
    }
    assert!(modified.is_some() || etag.is_some(), "a file has a validator (Last-Modified, ETag)");
    let conditional = |headers: &str| {
        let mut client = server.connect();
        client.send(
            format!("GET /notes.txt HTTP/1.1\r\nHost: test\r\n{headers}\r\nGET /style.css HTTP/1.1\r\nHost: test\r\n\r\n")
                .as_bytes(),
        );
        let response = client.response();
        if response.persistent() {
            // Nothing after a 304's head belongs to it: the next response follows at once.
            assert_eq!(client.response().text(), "body { color: #222; }\n", "{headers}");
        }
        response
    };
    let mut current = Vec::new();
    let mut stale = vec!["If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_string()];
    if let Some(modified) = &modified {
        current.push(format!("If-Modified-Since: {modified}\r\n"));
    }
    if let Some(etag) = &etag {
        current.push(format!("If-None-Match: {etag}\r\n"));
        stale.push("If-None-Match: \"stale\"\r\n".to_string());
    }
    if target.course_rules() {
        if let (Some(etag), Some(modified)) = (&etag, &modified) {
            current.push(format!(
                "If-None-Match: \"stale\", {etag}\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
            ));
            stale.push("If-Modified-Since: not a date\r\n".to_string());
            stale.push(format!("If-None-Match: \"stale\"\r\nIf-Modified-Since: {modified}\r\n"));
        }
    }
    for headers in current {
        let response = conditional(&headers);
        assert_eq!(response.status, 304, "{headers}");
        assert!(response.body.is_empty(), "{headers}: a 304 has no body");
        if target.course_rules() {
            assert_eq!(response.header("etag"), etag.as_deref(), "{headers}");
            assert!(
                response.header("date").is_some() && response.header("content-length").is_none()
            );
        }
    }
    for headers in stale {
        let response = conditional(&headers);
        let got = (response.status, response.text());
        assert_eq!(got, (200, "plain notes\n".to_string()), "{headers}");
    }
}

/// Level 2: byte ranges (RFC 9110 §14), each on its own connection: a file says it takes
/// them, one range gets 206 with just those bytes (from a small file, and from a large one),
/// past the end is 416, and a range that is invalid, in another unit, or one of several
/// gets the whole file.
pub fn ranges(target: &Target) {
    let server = target.start(&[]);
    let ranged = |path: &str, headers: &str| {
        server.request(format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n").as_bytes())
    };
    let page = server.get("/notes.txt");
    let accepts = page.header("accept-ranges");
    assert!(accepts == Some("bytes"), "no `Accept-Ranges: bytes` on a file (got {accepts:?})");
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
        // Two ranges may also be answered as two parts of one 206 (RFC 9110 §14.6); the
        // stages answer the whole file instead.
        let parts = whole.header("content-type").unwrap_or_default();
        if !target.course_rules() && whole.status == 206 && range.contains(',') {
            assert!(parts.starts_with("multipart/byteranges"), "{range}: 206 as {parts}");
            continue;
        }
        // A range that is not valid (`5-2`, `x-`) may also be refused with 416 (nginx does);
        // a unit the server does not know must be ignored (RFC 9110 §14.2).
        if !target.course_rules() && whole.status == 416 && range.starts_with("bytes=") {
            continue;
        }
        assert_eq!((whole.status, whole.text().as_str()), (200, "plain notes\n"), "{range}");
    }
    if !target.course_rules() {
        return;
    }
    // If-Range: the part only while the file is the one the client has part of.
    let etag = page.header("etag").expect("a file has an ETag");
    let modified = page.header("last-modified").expect("a file has Last-Modified");
    for (condition, status) in [(etag, 206), (modified, 206), ("\"stale\"", 200)] {
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
}

/// Level 2: a file of 3 MiB arrives whole and in order.
pub fn large_file(target: &Target) {
    let server = target.start(&[]);
    let big = server.get("/big.bin");
    assert_eq!(big.status, 200, "{}", big.status_line);
    assert!(big.body == big_file_contents(), "big.bin arrived damaged ({} bytes)", big.body.len());
}

/// Level 2: no path leads out of the document root, plain, percent-encoded or through a
/// symbolic link: never the secret file beside the root, whatever the status. A stage
/// answers 400 to a path that climbs out and 404 to a link that leads out; any other server
/// is held to an error status.
pub fn traversal(target: &Target) {
    let server = target.start(&[]);
    for path in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/notes.txt%00.html",
    ] {
        if target.course_rules() {
            let response = server.get(path);
            assert!(
                !response.text().contains(SECRET),
                "GET {path} leaked the file outside the root"
            );
            assert_eq!(response.status, 400, "GET {path}");
            continue;
        }
        // Any server: an error status, or a connection closed without an answer, which
        // serves nothing either (the malformed-requests check asks for an answer).
        let mut client = server.connect();
        client.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        if let Ok(response) = client.try_response(false) {
            assert!(
                !response.text().contains(SECRET),
                "GET {path} leaked the file outside the root"
            );
            assert!(response.status >= 400, "GET {path}: {}", response.status_line);
        }
    }
    // Symbolic links inside the root that lead out of it: a stage refuses them. nginx
    // (`disable_symlinks off`, its default) and Python's http.server follow them, so for
    // any other server this is not a check: whoever puts a link in the root chose to.
    if !target.course_rules() {
        return;
    }
    for path in ["/escape.txt", "/parent/secret.txt"] {
        let response = server.get(path);
        assert!(!response.text().contains(SECRET), "GET {path} leaked the file outside the root");
        if target.course_rules() {
            assert_eq!(response.status, 404, "GET {path}");
        } else {
            assert!(response.status >= 400, "GET {path}: {}", response.status_line);
        }
    }
}

/// Hostile input: the open redirect. `//docs` names the directory docs, and `Location:
/// //docs/` would send a browser to the host `docs`. Every way a path can start, none leads
/// off this host.
pub fn open_redirect(target: &Target) {
    let server = target.start(&[]);
    for (path, location) in [
        ("//docs", "/docs/"),
        ("///docs?x=1", "/docs/?x=1"),
        ("/./docs", "/docs/"),
        ("/.//docs", "/docs/"),
        ("/%2e/docs", "/docs/"),
        ("/%2fdocs", "/%2fdocs/"),
    ] {
        let response = server.get(path);
        let got = response.header("location").unwrap_or_default();
        if response.status / 100 == 3 {
            assert!(path_on_this_host(got).is_some(), "GET {path}: Location: {got}");
        }
        if target.course_rules() {
            assert_eq!(response.status, 301, "GET {path}");
            assert_eq!(got, location, "GET {path}");
        }
    }
    if target.course_rules() {
        for path in ["/\\docs", "/%5cdocs", "/%5Cdocs"] {
            assert_eq!(server.get(path).status, 400, "GET {path}");
        }
    }
}
