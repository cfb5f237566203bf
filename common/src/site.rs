//! The application every stage serves: a request in, a response out; and the access log.
//!
//! [`Site`] is the static-file site (stages 02 on); [`hello`] is stage01's whole application.
//! Neither does any I/O on sockets: the stages decide how bytes move.

use std::fmt::Display;
use std::io::{self, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::files::{self, Resolved};
use crate::ranges::{self, Requested};
use crate::request::{Method, Request};
use crate::response::{Body, Ranges, Response};
use crate::status::Status;

/// The page stage01 answers every request with.
pub const HELLO_PAGE: &str = "<h1>hello world</h1>\n";

/// A static site: the document root its files are served from.
///
/// Cloning a `Site` is cheap (the root is shared, not copied), so every thread, coroutine or
/// connection can hold its own.
#[derive(Clone, Debug)]
pub struct Site {
    /// Canonical (absolute, symlinks resolved), so that a resolved file can be checked to lie
    /// inside it.
    root: Arc<Path>,
    /// The file that serves a directory.
    index: Arc<str>,
}

impl Site {
    /// The site whose files are under `root`.
    ///
    /// # Errors
    ///
    /// When the root does not exist or is not a directory; the message names it.
    pub fn open(root: &Path) -> io::Result<Site> {
        let canonical = root.canonicalize().map_err(|error| {
            io::Error::new(error.kind(), format!("document root {}: {error}", root.display()))
        })?;
        if !canonical.is_dir() {
            let message = format!("document root {} is not a directory", root.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        crate::request::compile_patterns();
        Ok(Site { root: canonical.into(), index: files::DEFAULT_INDEX.into() })
    }

    /// The same site, a directory being served by its file named `index` instead of
    /// `index.html`. No stage calls it: it is the hook of stage02's exercise (`--index`).
    ///
    /// # Errors
    ///
    /// When `index` is not a plain file name (empty, `.`, `..`, or holding `/`, `\\` or NUL),
    /// which could name something outside the directory.
    pub fn with_index(mut self, index: &str) -> io::Result<Site> {
        if index.is_empty() || index == "." || index == ".." || index.contains(['/', '\\', '\0']) {
            let message = format!("index {index:?} is not a plain file name");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        self.index = index.into();
        Ok(self)
    }

    /// The response to a well-formed request: the file it names (or the part of it that a
    /// `Range` asks for), a redirect, or an error.
    pub fn respond(&self, request: &Request) -> Response {
        if let Some(refused) = refuse_method(request) {
            return refused.answering(request);
        }
        let response = match files::resolve(&self.root, request.path, &self.index) {
            // The client's copy is current: say so, and send no body (RFC 9110 §13).
            Ok(Resolved::File { content_type, validators: Some(validators), .. })
                if validators.match_request(request) =>
            {
                Response {
                    validators: Some(validators),
                    ..Response::new(Status::NotModified, content_type, &b""[..])
                }
            }
            // The conditions above come first (RFC 9110 §13.2.2), then the range.
            Ok(Resolved::File { mut file, length, content_type, validators }) => {
                match ranges::requested(request, length, validators.as_ref()) {
                    Requested::Whole => Response {
                        body: Body::File(file, length),
                        validators,
                        ranges: Ranges::Accepted,
                        ..Response::new(Status::Ok, content_type, &b""[..])
                    },
                    // The file is sent from its position on, whichever way the stage sends it
                    // (sendfile with no offset, or reads): start there.
                    Requested::Part { start, end } => match file.seek(SeekFrom::Start(start)) {
                        Ok(_) => Response {
                            body: Body::File(file, end - start + 1),
                            validators,
                            ranges: Ranges::Part { start, end, length },
                            ..Response::new(Status::PartialContent, content_type, &b""[..])
                        },
                        Err(_) => Response::error(Status::InternalServerError),
                    },
                    Requested::Unsatisfiable => Response {
                        ranges: Ranges::Unsatisfiable { length },
                        ..Response::error(Status::RangeNotSatisfiable)
                    },
                }
            }
            Ok(Resolved::Redirect(path)) => {
                // Only the path changes: the query goes along.
                let location = match request.query {
                    Some(query) => format!("{path}?{query}"),
                    None => path,
                };
                Response { location: Some(location), ..Response::error(Status::MovedPermanently) }
            }
            Err(error) => Response::error(error.status),
        };
        response.answering(request)
    }
}

/// Stage01's application: `<h1>hello world</h1>` for any GET or HEAD.
pub fn hello(request: &Request) -> Response {
    let response = refuse_method(request).unwrap_or_else(|| {
        Response::new(Status::Ok, "text/html; charset=utf-8", HELLO_PAGE.as_bytes())
    });
    response.answering(request)
}

/// The answer to a method this server does not serve: 405 (with `Allow`) for one that HTTP
/// defines, 501 for any other. The connection stays usable: the request's body was framed
/// before its method was looked at, so the next request can be found.
fn refuse_method(request: &Request) -> Option<Response> {
    match request.method {
        Method::Get | Method::Head => None,
        method if method.is_defined() => Some(Response::error(Status::MethodNotAllowed)),
        _ => Some(Response::error(Status::NotImplemented)),
    }
}

/// The access log: one line per request on stderr, and one per connection that ended in an
/// error. Off with `--quiet` (the benchmark and the tests run quiet).
#[derive(Clone, Copy, Debug)]
pub struct AccessLog {
    enabled: bool,
}

impl AccessLog {
    /// A log that writes when `enabled`.
    pub fn new(enabled: bool) -> AccessLog {
        AccessLog { enabled }
    }

    /// Who, what, which status, how many body bytes. `what` is the request line, or a
    /// description when there was none.
    pub fn request(&self, peer: SocketAddr, what: impl Display, status: Status, bytes: u64) {
        if self.enabled {
            eprintln!("{peer} \"{what}\" {} {bytes}", status.code());
        }
    }

    /// An error that ended a connection (the peer reset it, a write timed out, ...).
    pub fn error(&self, peer: SocketAddr, error: &io::Error) {
        if self.enabled {
            eprintln!("{peer} connection ended: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Parsed, parse};

    fn respond(site: &Site, bytes: &[u8]) -> Response {
        let Ok(Parsed::Complete { request, .. }) = parse(bytes) else { panic!("bad test request") };
        site.respond(&request)
    }

    #[test]
    fn files_redirects_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
        let site = Site::open(dir.path()).unwrap();

        let ok = respond(&site, b"GET /a.txt?v=2 HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((ok.status, ok.content_length(), ok.closes()), (Status::Ok, 3, false));
        assert_eq!(ok.content_type, "text/plain; charset=utf-8");

        let moved = respond(&site, b"GET /docs?q HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(moved.status, Status::MovedPermanently);
        assert_eq!(moved.location.as_deref(), Some("/docs/?q"), "the query is kept");
        let moved = respond(&site, b"GET /docs HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(moved.location.as_deref(), Some("/docs/"));

        let missing = respond(&site, b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((missing.status, missing.closes()), (Status::NotFound, false));
        let traversal = respond(&site, b"GET /../x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((traversal.status, traversal.closes()), (Status::BadRequest, true));
    }

    /// RFC 9110 §13.2.2: If-None-Match is evaluated first; when present, If-Modified-Since
    /// is ignored. §13.1.3: an invalid date is ignored. §13.1.2: `*` and weak comparison.
    #[test]
    fn rfc9110_13_conditional_requests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
        let site = Site::open(dir.path()).unwrap();
        let first = respond(&site, b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        let validators = first.validators.expect("a file has validators");
        let etag = validators.etag().to_string();
        let date = httpdate::fmt_http_date(validators.last_modified());
        let old = "Mon, 01 Jan 1990 00:00:00 GMT";
        let status = |headers: String| {
            let bytes = format!("GET /a.txt HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
            respond(&site, bytes.as_bytes()).status
        };
        use Status::{NotModified, Ok};
        assert_eq!(status(format!("If-None-Match: {etag}\r\n")), NotModified);
        assert_eq!(status(format!("If-None-Match: \"x\", W/{etag}\r\n")), NotModified);
        assert_eq!(status("If-None-Match: *\r\n".into()), NotModified);
        assert_eq!(status("If-None-Match: \"other\"\r\n".into()), Ok);
        assert_eq!(status(format!("If-Modified-Since: {date}\r\n")), NotModified);
        assert_eq!(status(format!("If-Modified-Since: {old}\r\n")), Ok);
        assert_eq!(status("If-Modified-Since: yesterday\r\n".into()), Ok);
        // If-None-Match wins over If-Modified-Since, both ways.
        let both = |tag: &str, since: &str| {
            status(format!("If-None-Match: {tag}\r\nIf-Modified-Since: {since}\r\n"))
        };
        assert_eq!(both("\"other\"", &date), Ok);
        assert_eq!(both(&etag, old), NotModified);

        let head = respond(
            &site,
            format!("HEAD /a.txt HTTP/1.1\r\nHost: h\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
        );
        assert_eq!((head.status, head.closes()), (NotModified, false));
    }

    #[test]
    fn another_index_serves_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("home.html"), "home").unwrap();
        let site = Site::open(dir.path()).unwrap().with_index("home.html").unwrap();
        let response = respond(&site, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((response.status, response.content_length()), (Status::Ok, 4));
        for bad in ["", ".", "..", "../x", "a/b", "a\\b"] {
            assert!(Site::open(dir.path()).unwrap().with_index(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let error = Site::open(Path::new("/nonexistent/root")).unwrap_err();
        assert!(error.to_string().starts_with("document root /nonexistent/root: "), "{error}");
        let error = Site::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml").as_path())
            .unwrap_err();
        assert!(error.to_string().ends_with("is not a directory"), "{error}");
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let Ok(Parsed::Complete { request, .. }) = parse(b"HEAD / HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        let response = hello(&request);
        assert!(response.head_only);
        assert_eq!(response.content_length(), HELLO_PAGE.len() as u64);
        assert!(response.closes(), "HTTP/1.0 closes unless asked");
    }

    #[test]
    fn http10_keep_alive_is_echoed() {
        let bytes = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        let Ok(Parsed::Complete { request, .. }) = parse(bytes) else { panic!() };
        let response = hello(&request);
        assert_eq!(response.persistence, crate::response::Persistence::KeepOpenHttp10);
    }

    /// A site of one three-byte file, `hello.txt`.
    fn site() -> (tempfile::TempDir, Site) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.txt"), "xok").unwrap();
        let site = Site::open(dir.path()).unwrap();
        (dir, site)
    }

    #[test]
    fn ranges_of_a_file() {
        let (_dir, site) = site();
        let answer = |headers: &str| {
            let bytes = format!("GET /hello.txt HTTP/1.1\r\nHost: h\r\n{headers}\r\n\r\n");
            let Ok(Parsed::Complete { request, .. }) = parse(bytes.as_bytes()) else { panic!() };
            let mut response = site.respond(&request);
            let mut body = Vec::new();
            if let Body::File(file, length) = &mut response.body {
                std::io::Read::read_to_end(&mut std::io::Read::take(file, *length), &mut body)
                    .unwrap();
            }
            (response, body)
        };
        let (whole, body) = answer("");
        assert_eq!((whole.status, whole.ranges, body.len()), (Status::Ok, Ranges::Accepted, 3));
        let (part, body) = answer("Range: bytes=1-");
        assert_eq!(part.status, Status::PartialContent);
        assert_eq!(part.ranges, Ranges::Part { start: 1, end: 2, length: 3 });
        assert_eq!((part.content_length(), body), (2, b"ok".to_vec()));
        let (past, _) = answer("Range: bytes=3-");
        assert_eq!(
            (past.status, past.ranges),
            (Status::RangeNotSatisfiable, Ranges::Unsatisfiable { length: 3 })
        );
        assert!(!past.closes(), "a 416 leaves the connection usable");
        // A current cached copy wins over a range (RFC 9110 §13.2.2).
        let etag = whole.validators.unwrap().etag().to_string();
        let (cached, _) = answer(&format!("If-None-Match: {etag}\r\nRange: bytes=0-0"));
        assert_eq!(cached.status, Status::NotModified);
        let (head, _) = {
            let bytes = b"HEAD /hello.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-0\r\n\r\n";
            let Ok(Parsed::Complete { request, .. }) = parse(bytes) else { panic!() };
            (site.respond(&request), ())
        };
        assert_eq!(
            (head.status, head.content_length(), head.head_only),
            (Status::PartialContent, 1, true)
        );
    }

    #[test]
    fn other_methods_get_405_or_501_and_keep_the_connection() {
        let (_dir, site) = site();
        for (method, status) in
            [("POST", Status::MethodNotAllowed), ("BREW", Status::NotImplemented)]
        {
            let bytes = format!("{method} /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n");
            let Ok(Parsed::Complete { request, .. }) = parse(bytes.as_bytes()) else { panic!() };
            let response = site.respond(&request);
            assert_eq!((response.status, response.closes()), (status, false), "{method}");
            assert_eq!(hello(&request).status, status, "stage01 refuses it too");
        }
    }
}
