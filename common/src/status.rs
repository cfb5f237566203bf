//! The leaf of the crate: the status codes this server answers with, the error that carries
//! one, and the one kind of I/O failure that is the server's own fault rather than the
//! client's. Every other module may use these; this one uses none of them.

use std::fmt;
use std::io;

/// The status codes this server answers with (RFC 9110 §15), each with its reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200: here is the file.
    Ok,
    /// 206: here is the part of the file the `Range` header asked for.
    PartialContent,
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
    /// 416: the `Range` asked for starts beyond the end of the file.
    RangeNotSatisfiable,
    /// 431: too many headers, or a head too large.
    HeaderFieldsTooLarge,
    /// 500: the server failed (say, a read error on a file).
    InternalServerError,
    /// 501: a method the server does not know.
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
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
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
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// Whether the connection is closed after a response with this status: the request was
    /// broken, too large or cut off, so the bytes after it cannot be trusted to start the next
    /// one, or the server cannot go on (500, 503). A well-formed request that cannot be served
    /// as asked (403, 404, 405, 416, 501) leaves the connection usable.
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            Status::BadRequest
                | Status::RequestTimeout
                | Status::ContentTooLarge
                | Status::UriTooLong
                | Status::HeaderFieldsTooLarge
                | Status::InternalServerError
                | Status::ServiceUnavailable
                | Status::VersionNotSupported
        )
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

/// Whether an error means the process (EMFILE) or the whole system (ENFILE) is out of file
/// descriptors: a passing shortage of the server's, not a fault of the client's.
pub fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
