//! Building responses: the status line, the headers every response carries, and the body.
//!
//! A response on the wire is a *head* (status line, headers, a blank line) followed by a
//! body of exactly `Content-Length` bytes:
//!
//! ```text
//! HTTP/1.1 200 OK\r\n
//! Server: http-stages\r\n
//! Date: Sun, 22 Nov 2026 07:00:00 GMT\r\n
//! Content-Type: text/html; charset=utf-8\r\n
//! Content-Length: 20\r\n
//! \r\n
//! <h1>hello world</h1>
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::request::{Method, Request, Version, trim_whitespace};
use crate::status::Status;

/// The value of the `Server` header on every response.
pub const SERVER_NAME: &str = "http-stages";

/// The methods a static-file server allows, sent in `Allow` with every 405.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// What lets a cache ask "has this file changed since I stored it?" (RFC 9110 §8.8): its
/// modification time, sent as `Last-Modified`, and an entity tag built from that time and
/// the file's length, sent as `ETag`.
///
/// `Last-Modified` counts whole seconds only, so a file rewritten twice within a second keeps
/// its date; the `ETag` holds the time to the nanosecond and the length too, which catches
/// that. Browsers send back both (`If-None-Match`, `If-Modified-Since`), and the tag wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validators {
    /// When the file was last modified.
    pub modified: SystemTime,
    /// Its length in bytes.
    pub length: u64,
}

impl Validators {
    /// The entity tag, quotes included: `"<seconds>-<nanoseconds>-<length>"` in hex (nginx
    /// makes its tags from the same two facts).
    pub fn etag(&self) -> impl fmt::Display + '_ {
        struct Tag(Duration, u64);
        impl fmt::Display for Tag {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "\"{:x}-{:x}-{:x}\"", self.0.as_secs(), self.0.subsec_nanos(), self.1)
            }
        }
        Tag(self.modified.duration_since(UNIX_EPOCH).unwrap_or_default(), self.length)
    }

    /// The modification time in whole seconds, as `Last-Modified` carries it.
    pub fn last_modified(&self) -> SystemTime {
        let since_epoch = self.modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
    }

    /// Whether the client's cached copy is current, so the answer is `304 Not Modified` with
    /// no body. RFC 9110 §13.2.2 sets the order: `If-None-Match` first, and when a request
    /// has it, `If-Modified-Since` is ignored.
    pub fn match_request(&self, request: &Request) -> bool {
        let mut tags = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("if-none-match"))
            .flat_map(|(_, value)| value.split(|&byte| byte == b','))
            .map(trim_whitespace)
            .peekable();
        if tags.peek().is_some() {
            // §13.1.2: `*` matches any current file; otherwise the weak comparison: a `W/`
            // prefix does not matter, the quoted tags must be equal.
            let ours = self.etag().to_string();
            return tags.any(|tag| {
                tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == ours.as_bytes()
            });
        }
        // §13.1.3: a date that is not a valid HTTP-date is ignored (the file is sent).
        let since = request
            .header("if-modified-since")
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| httpdate::parse_http_date(value).ok());
        since.is_some_and(|since| self.last_modified() <= since)
    }
}

/// What becomes of the connection after a response, and what the response says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// The server closes the connection after this response and says `Connection: close`,
    /// so the client knows not to send more.
    Close,
    /// The connection stays open. HTTP/1.1's default, so nothing needs saying.
    KeepOpen,
    /// The connection stays open and the response says `Connection: keep-alive`: an HTTP/1.0
    /// client that asked for it needs to hear it, or it waits for the server to close.
    KeepOpenHttp10,
}

/// What follows the head.
#[derive(Debug)]
pub enum Body {
    /// Bytes already in memory: a page of our own, or nothing.
    Bytes(Cow<'static, [u8]>),
    /// An open file and its length. [`Connection`](crate::Connection) reads a file of up to
    /// [`FILE_CHUNK_BYTES`](crate::connection::FILE_CHUNK_BYTES) whole, behind the head; a larger
    /// one goes to the socket by `sendfile(2)` or in chunks of that size, never whole.
    File(File, u64),
}

/// What a response says about byte ranges ([`crate::ranges`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranges {
    /// Nothing: the body is not a file.
    NotFile,
    /// A whole file: `Accept-Ranges: bytes`, to tell the client it may ask for parts.
    Accepted,
    /// A part of a file: `Content-Range: bytes START-END/LENGTH`.
    Part {
        /// The first byte sent.
        start: u64,
        /// The last byte sent.
        end: u64,
        /// The whole file's length.
        length: u64,
    },
    /// A 416: `Content-Range: bytes */LENGTH`, so the client learns how long the file is.
    Unsatisfiable {
        /// The whole file's length.
        length: u64,
    },
}

/// A response about to be sent: everything needed to write its head, and its body.
#[derive(Debug)]
pub struct Response {
    /// The status line's code and reason.
    pub status: Status,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body (sent only when `head_only` is false).
    pub body: Body,
    /// The `Location` header, for redirects.
    pub location: Option<String>,
    /// `Last-Modified` and `ETag`, for files.
    pub validators: Option<Validators>,
    /// `Accept-Ranges` or `Content-Range`, for files.
    pub ranges: Ranges,
    /// Whether the connection stays open after this response, and what the head says of it.
    pub persistence: Persistence,
    /// A HEAD request: the head says how long the body would be, and no body follows.
    pub head_only: bool,
}

impl Response {
    /// A response with a body held in memory; the connection stays open.
    pub fn new(
        status: Status,
        content_type: &'static str,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Self {
        Response {
            status,
            content_type,
            body: Body::Bytes(body.into()),
            location: None,
            validators: None,
            ranges: Ranges::NotFile,
            persistence: Persistence::KeepOpen,
            head_only: false,
        }
    }

    /// A short HTML page naming the status, for errors. Errors that mean the request itself
    /// was bad (see [`Status::closes_connection`]) close the connection.
    pub fn error(status: Status) -> Self {
        let page = format!("<!DOCTYPE html>\n<title>{status}</title>\n<h1>{status}</h1>\n");
        let mut response = Response::new(status, "text/html; charset=utf-8", page.into_bytes());
        if status.closes_connection() {
            response.persistence = Persistence::Close;
        }
        response
    }

    /// Fits a response to the request it answers: HEAD gets the head only, and the connection
    /// stays open only if both the response and the request allow it.
    pub fn answering(mut self, request: &Request) -> Response {
        self.head_only = request.method == Method::Head;
        self.persistence = match (self.persistence, request.keep_alive, request.version) {
            (Persistence::Close, _, _) | (_, false, _) => Persistence::Close,
            (_, true, Version::Http10) => Persistence::KeepOpenHttp10,
            (_, true, Version::Http11) => Persistence::KeepOpen,
        };
        self
    }

    /// Whether the server closes the connection once this response is sent.
    pub fn closes(&self) -> bool {
        self.persistence == Persistence::Close
    }

    /// The length of the body in bytes, which `Content-Length` announces (for HEAD too).
    pub fn content_length(&self) -> u64 {
        match &self.body {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(_, length) => *length,
        }
    }

    /// Appends the head (status line, headers, blank line) to `out`.
    ///
    /// Every response carries `Server`, `Date`, `Content-Type` and `Content-Length`, except a
    /// 304, which has no body and describes none (RFC 9110 §15.4.5); files add
    /// `Last-Modified`, `ETag` and `Accept-Ranges` (or `Content-Range` for a part, and for
    /// a 416), 405 adds `Allow`, redirects `Location`, and
    /// `Connection: close` comes when the server will close the connection after this
    /// response, so the client knows not to send more.
    pub fn write_head(&self, out: &mut Vec<u8>) {
        let status = self.status;
        // Writing to a Vec cannot fail, so the results below are ignored on purpose.
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nServer: {SERVER_NAME}\r\n",
            status.code(),
            status.reason()
        );
        with_date(|date| out.extend_from_slice(date));
        if status != Status::NotModified {
            let _ = write!(
                out,
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                self.content_type,
                self.content_length()
            );
        }
        if let Some(validators) = &self.validators {
            with_last_modified(validators.last_modified(), |line| out.extend_from_slice(line));
            let _ = write!(out, "ETag: {}\r\n", validators.etag());
        }
        match self.ranges {
            Ranges::NotFile => {}
            Ranges::Accepted => out.extend_from_slice(b"Accept-Ranges: bytes\r\n"),
            Ranges::Part { start, end, length } => {
                let _ = write!(
                    out,
                    "Accept-Ranges: bytes\r\nContent-Range: bytes {start}-{end}/{length}\r\n"
                );
            }
            Ranges::Unsatisfiable { length } => {
                let _ = write!(out, "Content-Range: bytes */{length}\r\n");
            }
        }
        if status == Status::MethodNotAllowed {
            let _ = write!(out, "Allow: {ALLOWED_METHODS}\r\n");
        }
        if let Some(location) = &self.location {
            let _ = write!(out, "Location: {location}\r\n");
        }
        match self.persistence {
            Persistence::Close => out.extend_from_slice(b"Connection: close\r\n"),
            Persistence::KeepOpen => {}
            Persistence::KeepOpenHttp10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Appends the whole response to `out`: the head, then the body when it is held in
    /// memory and this is not a HEAD response. (A file body is streamed by the caller;
    /// see [`crate::Connection`].)
    pub fn write_to(&self, out: &mut Vec<u8>) {
        self.write_head(out);
        if let (false, Body::Bytes(body)) = (self.head_only, &self.body) {
            out.extend_from_slice(body);
        }
    }
}

/// A header line holding a date, and the second it was formatted for.
type DateLine = RefCell<(u64, Vec<u8>)>;

thread_local! {
    static DATE: DateLine = const { RefCell::new((u64::MAX, Vec::new())) };
    static LAST_MODIFIED: DateLine = const { RefCell::new((u64::MAX, Vec::new())) };
}

/// Calls `f` with the whole `Date: ...\r\n` header line for the current second.
///
/// Formatting a date costs far more than the rest of a small response, and the value changes
/// only once a second, so each thread keeps the line it formatted last.
fn with_date(f: impl FnOnce(&[u8])) {
    with_date_line(&DATE, "Date", SystemTime::now(), f);
}

/// Calls `f` with the `Last-Modified: ...\r\n` line for `modified`. The same file is asked
/// for again and again, so the last line formatted is kept, as for `Date`.
fn with_last_modified(modified: SystemTime, f: impl FnOnce(&[u8])) {
    with_date_line(&LAST_MODIFIED, "Last-Modified", modified, f);
}

fn with_date_line(
    cache: &'static std::thread::LocalKey<DateLine>,
    name: &str,
    time: SystemTime,
    f: impl FnOnce(&[u8]),
) {
    let second = time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    cache.with_borrow_mut(|(cached_second, line)| {
        if *cached_second != second {
            *cached_second = second;
            line.clear();
            let _ = write!(line, "{name}: {}\r\n", httpdate::fmt_http_date(time));
        }
        f(line)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(response: &Response) -> String {
        let mut out = Vec::new();
        response.write_head(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn head_has_status_line_and_required_headers() {
        let head = head_of(&Response::new(Status::Ok, "text/plain", &b"hi"[..]));
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nServer: http-stages\r\n"));
        assert!(head.contains("\r\nDate: "));
        assert!(head.contains(" GMT\r\n"));
        assert!(head.contains("\r\nContent-Type: text/plain\r\n"));
        assert!(head.contains("\r\nContent-Length: 2\r\n"));
        assert!(!head.contains("Connection:"), "keep-alive is the 1.1 default: {head}");
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn closing_response_says_so() {
        let mut response = Response::new(Status::Ok, "text/plain", &b""[..]);
        response.persistence = Persistence::Close;
        assert!(head_of(&response).contains("\r\nConnection: close\r\n"));
    }

    #[test]
    fn http10_keep_alive_is_announced() {
        let mut response = Response::new(Status::Ok, "text/plain", &b""[..]);
        response.persistence = Persistence::KeepOpenHttp10;
        assert!(head_of(&response).contains("\r\nConnection: keep-alive\r\n"));
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let head = head_of(&Response::error(Status::MethodNotAllowed));
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.contains("\r\nAllow: GET, HEAD\r\n"));
        // The request was whole and well framed: the connection goes on.
        assert!(!head.contains("Connection: close"));
    }

    #[test]
    fn redirect_carries_location() {
        let mut response = Response::error(Status::MovedPermanently);
        response.location = Some("/docs/".into());
        let head = head_of(&response);
        assert!(head.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
        assert!(head.contains("\r\nLocation: /docs/\r\n"));
        assert!(!head.contains("Connection: close"), "a redirect keeps the connection");
    }

    #[test]
    fn error_page_names_the_status_and_its_length_is_announced() {
        let response = Response::error(Status::NotFound);
        let Body::Bytes(body) = &response.body else { panic!("error bodies are in memory") };
        assert!(String::from_utf8_lossy(body).contains("404 Not Found"));
        assert!(head_of(&response).contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(!response.closes(), "a 404 does not end the connection");
        assert!(Response::error(Status::BadRequest).closes());
    }

    /// RFC 9110 §15.4.5: a 304 carries Date and ETag (and here Last-Modified), and no
    /// description of a body: no Content-Type, no Content-Length.
    #[test]
    fn rfc9110_15_4_5_not_modified_has_validators_and_no_body_fields() {
        let modified = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5);
        let mut response = Response::new(Status::NotModified, "text/html", &b""[..]);
        response.validators = Some(Validators { modified, length: 10 });
        let head = head_of(&response);
        assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{head}");
        assert!(head.contains("\r\nDate: "));
        assert!(head.contains("\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"), "{head}");
        assert!(head.contains("\r\nETag: \"6553f100-5-a\"\r\n"), "{head}");
        assert!(!head.contains("Content-Type") && !head.contains("Content-Length"), "{head}");
    }

    #[test]
    fn every_status_has_its_code_and_reason() {
        assert_eq!(Status::HeaderFieldsTooLarge.to_string(), "431 Request Header Fields Too Large");
        assert_eq!(Status::VersionNotSupported.code(), 505);
        assert_eq!(Status::UriTooLong.reason(), "URI Too Long");
    }
}
