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
use std::time::{SystemTime, UNIX_EPOCH};

use crate::files::Validators;
use crate::request::{Method, Request, Version};

/// The value of the `Server` header on every response.
pub const SERVER_NAME: &str = "http-stages";

/// The methods a static-file server allows, sent in `Allow` with every 405.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// The status codes this server answers with (RFC 9110 §15), each with its reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200: here is the file.
    Ok,
    /// 301: a directory was asked for without its trailing slash.
    MovedPermanently,
    /// 304: the client's cached copy is current; no body follows.
    NotModified,
    /// 400: the request breaks the syntax of HTTP.
    BadRequest,
    /// 403: the file exists but the server may not read it.
    Forbidden,
    /// 404: no such file under the document root.
    NotFound,
    /// 405: a method HTTP knows, but not one allowed on files.
    MethodNotAllowed,
    /// 408: the request head did not arrive in time.
    RequestTimeout,
    /// 413: the request body is larger than the server will read.
    ContentTooLarge,
    /// 414: the request line is too long.
    UriTooLong,
    /// 431: too many headers, or a head too large.
    HeaderFieldsTooLarge,
    /// 500: the server failed (say, a read error on a file).
    InternalServerError,
    /// 501: a method or transfer coding the server does not implement.
    NotImplemented,
    /// 503: the server is out of a resource for now (file descriptors); try again later.
    ServiceUnavailable,
    /// 505: HTTP/2.0 or later sent as text.
    VersionNotSupported,
}

impl Status {
    /// The three-digit code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase of RFC 9110 (clients ignore it; people read it).
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// Whether this status says the request itself was at fault or could not be served,
    /// after which the connection is closed (the rest of its bytes cannot be trusted).
    pub fn closes_connection(self) -> bool {
        self.code() >= 400 && self != Status::NotFound && self != Status::Forbidden
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

/// A request that cannot be served as asked: the status to answer with, and a short reason
/// for the log. Parsing ([`crate::request::parse`]) and finding the file
/// ([`crate::files::resolve`]) both end in one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The status the response carries.
    pub status: Status,
    /// What was wrong, in a few words.
    pub reason: &'static str,
}

impl HttpError {
    /// An error answered with `status`.
    pub const fn new(status: Status, reason: &'static str) -> Self {
        HttpError { status, reason }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for HttpError {}

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
    /// `Last-Modified` and `ETag`, 405 adds `Allow`, redirects `Location`, and
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
        assert!(head.contains("\r\nConnection: close\r\n"));
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
