//! Parsing a request head, incrementally, from whatever bytes have arrived so far.
//!
//! A request head is a request line and header lines, each ended by CRLF, then an empty line:
//!
//! ```text
//! GET /index.html HTTP/1.1\r\n      <- request line: method, target, version
//! Host: 127.0.0.1:8002\r\n          <- header lines: name, colon, value
//! \r\n                              <- the empty line ends the head
//! ```
//!
//! TCP delivers a stream of bytes, not messages: one read may return half a request line, or
//! three whole requests (a client that *pipelines*). So [`parse`] takes all the bytes received
//! so far and answers [`Parsed::Incomplete`] (read more and call again) or
//! [`Parsed::Complete`] with the request and how many bytes its head used; the caller drops
//! those bytes, then reads past the request's body (its [`Framing`]), and what remains is the
//! start of the next request. Bad input is an [`HttpError`] carrying the status to answer.
//!
//! The request line is matched by one regular expression, compiled once.

use std::fmt;
use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::status::{HttpError, Status};

/// The longest request line accepted: 414 beyond. RFC 9112 §3 asks servers to accept at least
/// 8000 octets; 8 KiB is also nginx's default buffer for it.
pub const MAX_REQUEST_LINE_BYTES: usize = 8 * 1024;

/// The largest head (request line and headers) accepted: 431 beyond. Apache and nginx allow
/// 8 KiB per line; a whole head of 64 KiB is generous for any real client.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most header lines accepted: 431 beyond (Apache's `LimitRequestFields` is 100).
pub const MAX_HEADERS: usize = 100;

/// The largest request body the server reads (and discards: a static-file server has no use
/// for one): 413 beyond. Anything larger is more likely an attack than a client.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// `METHOD SP request-target SP HTTP/x.y`, anchored at both ends (RFC 9112 §3). The method
/// is a *token*; the target is visible ASCII without spaces; the version is one digit, a dot,
/// one digit. Anything else (tabs, double spaces, a bare CR, lowercase `http/1.1`) fails.
static REQUEST_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?-u)([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([!-~]+) HTTP/([0-9])\.([0-9])$")
        .expect("the request-line pattern is a valid regex")
});

/// Compiles the request-line pattern now rather than on the first request: [`crate::Site::open`]
/// calls this at start-up, so the first client pays nothing, and the compiler's deep recursion
/// runs on the main thread's large stack, never on a coroutine's small one (stage05).
pub(crate) fn compile_patterns() {
    LazyLock::force(&REQUEST_LINE);
}

/// The methods HTTP defines (RFC 9110 §9, and PATCH from RFC 5789) besides GET and HEAD: they
/// make sense, just not on static files, so they are answered 405 rather than 501.
const OTHER_DEFINED_METHODS: [&str; 7] =
    ["POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/// The method of a request. This server serves GET and HEAD; a request with any other method
/// is parsed all the same (its body must be read past to find the next request) and answered
/// by the site: 405 for a method HTTP defines, 501 for any other token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method<'a> {
    /// Send the file.
    Get,
    /// Send only the head GET would send.
    Head,
    /// Any other method, as sent (methods are case-sensitive: `get` is not GET).
    Other(&'a str),
}

impl Method<'_> {
    /// The method as it was sent.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Other(method) => method,
        }
    }

    /// Whether HTTP defines this method, so that not serving it is a 405, not a 501.
    pub fn is_defined(&self) -> bool {
        match self {
            Method::Get | Method::Head => true,
            Method::Other(method) => OTHER_DEFINED_METHODS.contains(method),
        }
    }
}

/// How the body of a request is delimited (RFC 9112 §6.3), settled from its head alone and
/// before its method is looked at: whatever the answer, the server must know where this
/// request ends and the next one begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes follow the head (0 when there is no such header).
    Length(u64),
    /// A chunked body follows, to be read past with [`crate::body::ChunkedBody`].
    Chunked,
}

impl Framing {
    /// Whether a body follows the head at all.
    pub fn has_body(self) -> bool {
        self != Framing::Length(0)
    }
}

/// The protocol version of a request. `HTTP/1.2` and other later 1.x are served as 1.1;
/// 2.0 and up are refused with 505 (those versions are not spoken as text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after each response unless the client asks otherwise.
    Http10,
    /// HTTP/1.1: the connection stays open unless either side says `Connection: close`.
    Http11,
}

/// A request head, borrowing from the bytes it was parsed from.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// GET, HEAD, or another method for the site to refuse.
    pub method: Method<'a>,
    /// The request target exactly as sent (`/a%20b.html?x=1`, or absolute `http://h/a`).
    pub target: &'a str,
    /// The path of the target, still percent-encoded, without query or fragment: `/a%20b.html`
    /// for both `/a%20b.html?x=1` and `http://host/a%20b.html`.
    pub path: &'a str,
    /// The query, without its `?`: `x=1` for `/a.html?x=1`; `None` when there is no `?`.
    pub query: Option<&'a str>,
    /// The version the client spoke.
    pub version: Version,
    /// Header lines in order: names as sent (compare them case-insensitively), values with
    /// surrounding whitespace removed. Values may hold any byte but controls.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// How the body is delimited: the caller must read past it before the next request starts.
    pub framing: Framing,
    /// Whether the connection may stay open after the response: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. A request that
    /// expects `100-continue` and has a body is answered at once and the connection closed,
    /// rather than waiting for a body the client may hold back.
    pub keep_alive: bool,
}

impl Request<'_> {
    /// The value of the first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

/// The request line, as the access log shows it: `GET /index.html HTTP/1.1`.
impl fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = self.method.as_str();
        let version = match self.version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        write!(f, "{method} {} {version}", self.target)
    }
}

/// What [`parse`] found in the bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole head: the request and the number of bytes it used (its body, if any, follows).
    Complete {
        /// The request.
        request: Request<'a>,
        /// How many bytes the head took, including any empty lines before it.
        head_length: usize,
    },
    /// The head is not all here yet: read more bytes, append them, and call again.
    Incomplete,
}

fn bad(reason: &'static str) -> HttpError {
    HttpError::new(Status::BadRequest, reason)
}

/// Parses the request head at the start of `bytes`.
///
/// # Errors
///
/// An [`HttpError`] as soon as the bytes received so far are known to be bad, even when the
/// head is not complete yet: 400 for broken syntax, 414 for a request line over
/// [`MAX_REQUEST_LINE_BYTES`], 431 for a head over [`MAX_HEAD_BYTES`] or more than
/// [`MAX_HEADERS`] headers, 505 for HTTP/2 and later, 400 for a body whose length cannot be
/// known (a bad `Content-Length`, a `Transfer-Encoding` that does not end in chunked), 413 for
/// a `Content-Length` over [`MAX_BODY_BYTES`]. The method is not an error here: see [`Method`].
///
/// # Examples
///
/// ```
/// use common::request::{parse, Method, Parsed};
///
/// let bytes = b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\nGET /next";
/// let Ok(Parsed::Complete { request, head_length }) = parse(bytes) else { panic!() };
/// assert_eq!(request.method, Method::Get);
/// assert_eq!(request.path, "/index.html");
/// assert_eq!(&bytes[head_length..], b"GET /next"); // the next request starts here
///
/// assert_eq!(parse(b"GET /index.html HT"), Ok(Parsed::Incomplete));
/// ```
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>, HttpError> {
    // RFC 9112 §2.2: a server should ignore empty lines before the request line (some
    // clients send an extra CRLF after a body).
    let mut start = 0;
    while let Some(rest) = bytes.get(start..) {
        if rest.starts_with(b"\r\n") {
            start += 2;
        } else if rest.starts_with(b"\n") {
            start += 1;
        } else {
            break;
        }
    }
    if start > MAX_HEAD_BYTES {
        return Err(HttpError::new(Status::HeaderFieldsTooLarge, "too many empty lines"));
    }

    let Some((line, mut next)) = next_line(bytes, start)? else {
        if bytes.len() - start > MAX_REQUEST_LINE_BYTES {
            return Err(HttpError::new(Status::UriTooLong, "request line too long"));
        }
        return Ok(Parsed::Incomplete);
    };
    if line.len() > MAX_REQUEST_LINE_BYTES {
        return Err(HttpError::new(Status::UriTooLong, "request line too long"));
    }
    let (method, target, version) = parse_request_line(line)?;

    // Header lines, up to the empty line that ends the head. Each complete line is checked
    // as soon as it is here, so bad input is refused without waiting for the rest.
    let mut headers = Vec::new();
    let head_length = loop {
        let Some((line, after)) = next_line(bytes, next)? else {
            if bytes.len() > MAX_HEAD_BYTES {
                return Err(HttpError::new(Status::HeaderFieldsTooLarge, "head too large"));
            }
            return Ok(Parsed::Incomplete);
        };
        if after > MAX_HEAD_BYTES {
            return Err(HttpError::new(Status::HeaderFieldsTooLarge, "head too large"));
        }
        next = after;
        if line.is_empty() {
            break after;
        }
        if headers.len() == MAX_HEADERS {
            return Err(HttpError::new(Status::HeaderFieldsTooLarge, "too many headers"));
        }
        headers.push(parse_header(line)?);
    };

    let request = check_request(method, target, version, headers)?;
    Ok(Parsed::Complete { request, head_length })
}

/// Finds the line that starts at `start`: its bytes without the line ending, and where the
/// next line starts. `None` when no LF has arrived yet.
///
/// Lines end in CRLF; a lone LF is accepted too (RFC 9112 §2.2 allows it, and it lets a
/// student type requests into `nc` without `-C`). A CR anywhere else is a *bare CR*: 400,
/// because servers and proxies that read it differently can be tricked (request smuggling).
fn next_line(bytes: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, HttpError> {
    let rest = &bytes[start..];
    let Some(newline) = rest.iter().position(|&byte| byte == b'\n') else {
        // A CR not at the very end can no longer be followed by its LF.
        if rest.iter().rev().skip(1).any(|&byte| byte == b'\r') {
            return Err(bad("bare CR"));
        }
        return Ok(None);
    };
    let line = rest[..newline].strip_suffix(b"\r").unwrap_or(&rest[..newline]);
    if line.contains(&b'\r') {
        return Err(bad("bare CR"));
    }
    Ok(Some((line, start + newline + 1)))
}

fn parse_request_line(line: &[u8]) -> Result<(&str, &str, Version), HttpError> {
    let captures = REQUEST_LINE.captures(line).ok_or(bad("malformed request line"))?;
    let method = captures.get(1).map_or(&b""[..], |m| m.as_bytes());
    let target = captures.get(2).map_or(&b""[..], |m| m.as_bytes());
    let major = captures.get(3).map_or(0, |m| m.as_bytes()[0] - b'0');
    let minor = captures.get(4).map_or(0, |m| m.as_bytes()[0] - b'0');
    let version = match (major, minor) {
        (1, 0) => Version::Http10,
        (1, _) => Version::Http11,
        _ => return Err(HttpError::new(Status::VersionNotSupported, "unsupported HTTP version")),
    };
    // The regex only lets visible ASCII through, so these cannot fail.
    let method = std::str::from_utf8(method).map_err(|_| bad("method is not ASCII"))?;
    let target = std::str::from_utf8(target).map_err(|_| bad("target is not ASCII"))?;
    Ok((method, target, version))
}

/// `name: value`. The name is a token with nothing between it and the colon; the value loses
/// surrounding spaces and tabs and may not hold control characters (NUL among them).
///
/// Only SP and HTAB are whitespace here (RFC 9110 §5.6.3, "OWS"). Trimming more (Rust's
/// `trim_ascii` also strips form feed, CR and LF) would let `Content-Length: \x0c5` pass as
/// 5 while another server in front of us reads it differently or refuses it: two parsers
/// that disagree on a length are how request smuggling works. Any other control character
/// left in the value is refused (RFC 9110 §5.5).
fn parse_header(line: &[u8]) -> Result<(&str, &[u8]), HttpError> {
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        // obs-fold: a continuation of the previous header, obsolete since RFC 7230.
        return Err(bad("folded header line"));
    }
    let colon = line.iter().position(|&byte| byte == b':').ok_or(bad("header without colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&byte| is_token_byte(byte)) {
        // Also catches `Host : x`: whitespace before the colon is forbidden (RFC 9112 §5.1).
        return Err(bad("invalid header name"));
    }
    let value = trim_whitespace(value);
    if value.iter().any(|&byte| (byte < b' ' && byte != b'\t') || byte == 0x7f) {
        return Err(bad("control character in header value"));
    }
    let name = std::str::from_utf8(name).map_err(|_| bad("invalid header name"))?;
    Ok((name, value))
}

/// The value without leading and trailing SP and HTAB: the only optional whitespace of HTTP.
pub(crate) fn trim_whitespace(value: &[u8]) -> &[u8] {
    let is_space = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let start = value.iter().position(|byte| !is_space(byte)).unwrap_or(value.len());
    let end = value.iter().rposition(|byte| !is_space(byte)).map_or(start, |last| last + 1);
    &value[start..end]
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The rules that need the whole head: body framing first, then Host, target form, method,
/// keep-alive.
fn check_request<'a>(
    method: &'a str,
    target: &'a str,
    version: Version,
    headers: Vec<(&'a str, &'a [u8])>,
) -> Result<Request<'a>, HttpError> {
    let mut hosts = 0;
    let mut content_length = None;
    let mut transfer_encoding = false;
    // The codings of every Transfer-Encoding line, as one list (RFC 9110 §5.3): whether the
    // last one is chunked, and whether chunked came before it too.
    let (mut chunked_last, mut chunked_before_last) = (false, false);
    let (mut close, mut keep_alive_asked, mut expects_continue) = (false, false, false);
    for &(name, value) in &headers {
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !is_valid_host(value) {
                return Err(bad("invalid Host"));
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let length = parse_content_length(value)?;
            // Repeating the same length is harmless; two different ones is how request
            // smuggling starts (RFC 9112 §6.3).
            if content_length.is_some_and(|earlier| earlier != length) {
                return Err(bad("conflicting Content-Length"));
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Empty list elements are allowed and mean nothing (RFC 9110 §5.6.1).
            let codings = value.split(|&byte| byte == b',').map(trim_whitespace);
            for coding in codings.filter(|coding| !coding.is_empty()) {
                chunked_before_last |= chunked_last;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(|&byte| byte == b',') {
                let option = trim_whitespace(option);
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expects_continue |= value.eq_ignore_ascii_case(b"100-continue");
        }
    }

    // The body's framing comes first (RFC 9112 §6.3): when it cannot be known, nothing after
    // this head can be trusted, whatever the method.
    let framing = if transfer_encoding {
        // §6.1: Transfer-Encoding beside Content-Length, or on a 1.0 request, is how request
        // smuggling starts.
        if content_length.is_some() || version == Version::Http10 {
            return Err(bad("Transfer-Encoding with Content-Length or on HTTP/1.0"));
        }
        // §6.3 rule 4: chunked must be the last coding, and only there; otherwise the length
        // of the body cannot be determined. (Codings before it need no decoding: the body is
        // only read past, never used.)
        if !chunked_last || chunked_before_last {
            return Err(bad("Transfer-Encoding does not end in chunked"));
        }
        Framing::Chunked
    } else {
        let length = content_length.unwrap_or(0);
        if length > MAX_BODY_BYTES {
            return Err(HttpError::new(Status::ContentTooLarge, "body too large"));
        }
        Framing::Length(length)
    };

    // RFC 9112 §3.2: a 1.1 request needs exactly one Host; none or two is a 400.
    if hosts > 1 || (hosts == 0 && version == Version::Http11) {
        return Err(bad("HTTP/1.1 needs exactly one Host header"));
    }

    let (path, query) = split_path(origin_form(target)?);
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        other => Method::Other(other),
    };
    let keep_alive = match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive_asked && !close,
    } && !(expects_continue && framing.has_body());
    Ok(Request { method, target, path, query, version, headers, framing, keep_alive })
}

/// Whether a Host value is `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2): a name
/// of letters, digits, `-._~`, `%XX` escapes and `!$&'()*+,;=`, or an IPv4 address (which is
/// such a name too), or an IPv6 address in brackets; then an optional port of digits. A
/// server MUST answer 400 to any other value: `a b`, `a/b`, `a@b` would name another URL.
/// (An empty value is allowed: it is how a client says the target has no host.)
fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        // IP-literal: an IPv6 address (or IPvFuture) in brackets; hex digits, `:`, `.`, and
        // for IPvFuture the name characters.
        Some(rest) => match rest.iter().position(|&byte| byte == b']') {
            Some(end) if end > 0 && rest[..end].iter().all(|&b| is_name_byte(b) || b == b':') => {
                (&b""[..], &rest[end + 1..])
            }
            _ => return false,
        },
        None => match value.iter().position(|&byte| byte == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &b""[..]),
        },
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    port_ok && is_reg_name(host)
}

/// `reg-name`: name characters and `%XX` escapes (RFC 3986 §3.2.2).
fn is_reg_name(name: &[u8]) -> bool {
    let mut rest = name;
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            match after {
                [high, low, tail @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    rest = tail;
                }
                _ => return false,
            }
        } else if is_name_byte(byte) {
            rest = after;
        } else {
            return false;
        }
    }
    true
}

/// RFC 3986's `unreserved` and `sub-delims`: what a host name may hold besides escapes.
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&byte)
}

/// `Content-Length` is one or more digits, nothing else: no sign, no spaces inside, no list.
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad("invalid Content-Length"));
    }
    value.iter().try_fold(0u64, |length, &digit| {
        length
            .checked_mul(10)
            .and_then(|length| length.checked_add(u64::from(digit - b'0')))
            .ok_or(bad("Content-Length overflows"))
    })
}

/// A target in origin form: origin form (`/a?b`) as it is; absolute form (`http://host/a?b`,
/// which proxies send and servers must accept) without its scheme and authority.
fn origin_form(target: &str) -> Result<&str, HttpError> {
    if target.starts_with('/') {
        return Ok(target);
    }
    let scheme_end = target.find("://").ok_or(bad("target is not a path"))?;
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad("target is not a path"));
    }
    let after_scheme = &target[scheme_end + 3..];
    match after_scheme.find(['/', '?']) {
        Some(slash) if after_scheme[slash..].starts_with('/') => Ok(&after_scheme[slash..]),
        // `http://host` or `http://host?q` names the root.
        _ => Ok("/"),
    }
}

/// Splits an origin-form target into its path and its query. A fragment (`#...`) is not
/// meant to be sent at all; one that arrives anyway is dropped.
fn split_path(origin: &str) -> (&str, Option<&str>) {
    let origin = origin.split('#').next().unwrap_or(origin);
    match origin.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (origin, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> (Request<'_>, usize) {
        match parse(bytes) {
            Ok(Parsed::Complete { request, head_length }) => (request, head_length),
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    fn status_of(bytes: &[u8]) -> Status {
        match parse(bytes) {
            Err(error) => error.status,
            other => {
                panic!("expected an error for {:?}, got {other:?}", String::from_utf8_lossy(bytes))
            }
        }
    }

    #[test]
    fn parses_a_simple_get() {
        let bytes = b"GET /a.html?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent:  curl \r\n\r\n";
        let (request, used) = complete(bytes);
        assert_eq!(used, bytes.len());
        assert_eq!(request.method, Method::Get);
        assert_eq!(request.target, "/a.html?x=1");
        assert_eq!((request.path, request.query), ("/a.html", Some("x=1")));
        assert_eq!(request.version, Version::Http11);
        assert_eq!(request.header("user-agent"), Some(&b"curl"[..]));
        assert_eq!(request.header("HOST"), Some(&b"h"[..]));
        assert_eq!(request.framing, Framing::Length(0));
        assert!(request.keep_alive);
    }

    #[test]
    fn head_method() {
        assert_eq!(complete(b"HEAD / HTTP/1.0\r\n\r\n").0.method, Method::Head);
    }

    #[test]
    fn incomplete_until_the_empty_line() {
        let bytes = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        for end in 0..bytes.len() {
            assert_eq!(parse(&bytes[..end]), Ok(Parsed::Incomplete), "prefix of {end} bytes");
        }
        complete(bytes);
    }

    #[test]
    fn pipelined_requests_parse_one_after_another() {
        let bytes = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
        let (first, used) = complete(bytes);
        assert_eq!(first.path, "/1");
        let (second, rest) = complete(&bytes[used..]);
        assert_eq!(second.path, "/2");
        assert_eq!(used + rest, bytes.len());
    }

    #[test]
    fn body_length_is_reported_so_the_caller_can_skip_it() {
        let bytes = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /2";
        let (request, used) = complete(bytes);
        assert_eq!(request.framing, Framing::Length(5));
        assert_eq!(&bytes[used..used + 5], b"hello");
    }

    #[test]
    fn empty_lines_before_the_request_are_ignored() {
        let bytes = b"\r\n\nGET / HTTP/1.0\r\n\r\n";
        let (request, used) = complete(bytes);
        assert_eq!(request.path, "/");
        assert_eq!(used, bytes.len());
    }

    #[test]
    fn bare_lf_line_endings_are_accepted() {
        let (request, _) = complete(b"GET / HTTP/1.1\nHost: h\n\n");
        assert_eq!(request.header("host"), Some(&b"h"[..]));
    }

    #[test]
    fn malformed_request_lines_are_400() {
        for line in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 \r\n\r\n",
            "GET\t/ HTTP/1.1\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "GET / HTTP/11\r\n\r\n",
            "/ HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "\x00GET / HTTP/1.1\r\n\r\n",
            "GET /caf\u{e9} HTTP/1.1\r\n\r\n",
            "GET relative HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(status_of(line.as_bytes()), Status::BadRequest, "{line:?}");
        }
    }

    #[test]
    fn bare_cr_is_400_even_before_the_head_is_complete() {
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), Status::BadRequest);
        assert_eq!(status_of(b"GET /\ra HTTP/1.1"), Status::BadRequest);
        // A CR at the very end may still be followed by its LF.
        assert_eq!(parse(b"GET / HTTP/1.1\r"), Ok(Parsed::Incomplete));
    }

    #[test]
    fn bad_header_lines_are_400() {
        for header in [
            "NoColon",
            "Host : h",
            "Ho st: h",
            ": empty name",
            " folded: line",
            "\tfolded: line",
            "X: a\x00b",
            "X: a\x01b",
            "X: a\x7fb",
        ] {
            let bytes = format!("GET / HTTP/1.1\r\nHost: h\r\n{header}\r\n\r\n");
            assert_eq!(status_of(bytes.as_bytes()), Status::BadRequest, "{header:?}");
        }
    }

    #[test]
    fn tabs_and_high_bytes_in_values_are_allowed() {
        let (request, _) = complete(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xff\r\n\r\n");
        assert_eq!(request.header("x"), Some(&b"a\tb \xff"[..]));
    }

    #[test]
    fn other_methods_are_parsed_for_the_site_to_refuse() {
        // Case-sensitive: `get` is another method, and not one HTTP defines.
        for (method, defined) in [("get", false), ("BREW", false), ("POST", true), ("PATCH", true)]
        {
            let bytes = format!("{method} / HTTP/1.1\r\nHost: h\r\n\r\n");
            let (request, _) = complete(bytes.as_bytes());
            assert_eq!(request.method, Method::Other(method));
            assert_eq!(request.method.is_defined(), defined, "{method}");
            assert_eq!(request.to_string(), format!("{method} / HTTP/1.1"));
        }
        for method in ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT"] {
            let bytes = format!("{method} / HTTP/1.1\r\nHost: h\r\n\r\n");
            assert!(complete(bytes.as_bytes()).0.method.is_defined(), "{method}");
        }
    }

    #[test]
    fn framing_is_settled_before_the_method_is_looked_at() {
        // A POST with a length that cannot be trusted is a 400, not a 405.
        for length in ["4 2", "", "-1", "1, 2", "99999999999999999999"] {
            let bytes = format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {length}\r\n\r\n");
            assert_eq!(status_of(bytes.as_bytes()), Status::BadRequest, "{length:?}");
        }
        let twice = b"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(status_of(twice), Status::BadRequest);
        let deflate = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, deflate\r\n\r\n";
        assert_eq!(status_of(deflate), Status::BadRequest);
        let (request, _) = complete(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
        assert_eq!((request.method, request.framing), (Method::Other("POST"), Framing::Length(3)));
    }

    #[test]
    fn versions() {
        assert_eq!(status_of(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"), Status::VersionNotSupported);
        assert_eq!(status_of(b"GET / HTTP/3.0\r\nHost: h\r\n\r\n"), Status::VersionNotSupported);
        assert_eq!(status_of(b"GET / HTTP/0.9\r\n\r\n"), Status::VersionNotSupported);
        assert_eq!(complete(b"GET / HTTP/1.2\r\nHost: h\r\n\r\n").0.version, Version::Http11);
        assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").0.version, Version::Http10);
    }

    #[test]
    fn request_line_over_the_limit_is_414_complete_or_not() {
        let long =
            format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(MAX_REQUEST_LINE_BYTES));
        assert_eq!(status_of(long.as_bytes()), Status::UriTooLong);
        let unfinished = format!("GET /{}", "a".repeat(MAX_REQUEST_LINE_BYTES));
        assert_eq!(status_of(unfinished.as_bytes()), Status::UriTooLong);
        // Exactly at the limit is fine.
        let target = "a".repeat(MAX_REQUEST_LINE_BYTES - "GET / HTTP/1.1".len());
        let at_limit = format!("GET /{target} HTTP/1.1\r\nHost: h\r\n\r\n");
        complete(at_limit.as_bytes());
    }

    #[test]
    fn head_over_the_limit_is_431_complete_or_not() {
        let line = format!("X: {}\r\n", "v".repeat(1000));
        let headers = line.repeat(MAX_HEAD_BYTES / line.len() + 1);
        let big = format!("GET / HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
        assert_eq!(status_of(big.as_bytes()), Status::HeaderFieldsTooLarge);
        let unfinished = format!("GET / HTTP/1.1\r\nHost: h\r\n{headers}");
        assert_eq!(status_of(unfinished.as_bytes()), Status::HeaderFieldsTooLarge);
    }

    #[test]
    fn more_than_the_allowed_headers_is_431() {
        let headers = "X: y\r\n".repeat(MAX_HEADERS);
        let at_limit = format!("GET / HTTP/1.1\r\n{headers}\r\n").replacen("X: y", "Host: h", 1);
        complete(at_limit.as_bytes());
        let over = format!("GET / HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
        assert_eq!(status_of(over.as_bytes()), Status::HeaderFieldsTooLarge);
    }

    #[test]
    fn host_rules() {
        assert_eq!(status_of(b"GET / HTTP/1.1\r\n\r\n"), Status::BadRequest);
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), Status::BadRequest);
        assert_eq!(status_of(b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), Status::BadRequest);
        complete(b"GET / HTTP/1.0\r\n\r\n");
    }

    /// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    /// HTTP/1.1 request message that lacks a Host header field and to any request message
    /// that contains more than one Host header field line or a Host header field with an
    /// invalid field value."
    #[test]
    fn rfc9112_3_2_an_invalid_host_value_is_400() {
        for host in
            ["a b", "a/b", "a@b", "a?b", "a#b", "[::1", "[]", "h:80x", "h:-1", "%zz", "a\\b"]
        {
            let bytes = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(status_of(bytes.as_bytes()), Status::BadRequest, "Host: {host}");
            let bytes = format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n");
            assert_eq!(status_of(bytes.as_bytes()), Status::BadRequest, "1.0, Host: {host}");
        }
        for host in [
            "example.com",
            "example.com:8080",
            "127.0.0.1:8007",
            "[::1]:8007",
            "xn--fiqs8s.cn",
            "a%20b",
            "h:",
            "",
        ] {
            let bytes = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            complete(bytes.as_bytes());
        }
    }

    /// RFC 9110 §5.6.3: optional whitespace is SP and HTAB, nothing else; §5.5: a field value
    /// holding another control character is refused, so that no two parsers read it apart.
    #[test]
    fn rfc9110_5_6_3_only_space_and_tab_are_whitespace() {
        for header in [
            "Host: x\x0c",
            "Host: \x0bx",
            "Content-Length: \x0c5\x0c",
            "Content-Length: 5\x0b",
            "Connection: \x0cclose",
        ] {
            let bytes = format!("GET / HTTP/1.1\r\nHost: h\r\n{header}\r\n\r\n").replacen(
                "Host: h\r\nHost",
                "Host",
                1,
            );
            assert_eq!(status_of(bytes.as_bytes()), Status::BadRequest, "{header:?}");
        }
        let (request, _) =
            complete(b"GET / HTTP/1.1\r\nHost:\t h \t\r\nContent-Length: \t3 \r\n\r\n");
        assert_eq!(
            (request.header("host"), request.framing),
            (Some(&b"h"[..]), Framing::Length(3))
        );
    }

    #[test]
    fn content_length_must_be_plain_digits() {
        for value in ["-1", "+5", "abc", "1 2", "0x10", "", "5, 5", "18446744073709551616"] {
            let bytes = format!("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: {value}\r\n\r\n");
            assert_eq!(status_of(bytes.as_bytes()), Status::BadRequest, "{value:?}");
        }
        let conflicting =
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(status_of(conflicting), Status::BadRequest);
        let repeated =
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
        assert_eq!(complete(repeated).0.framing, Framing::Length(1));
    }

    #[test]
    fn body_over_the_limit_is_413() {
        let bytes =
            format!("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1);
        assert_eq!(status_of(bytes.as_bytes()), Status::ContentTooLarge);
    }

    #[test]
    fn transfer_encoding_rules() {
        let with_length =
            b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(status_of(with_length), Status::BadRequest);
        assert_eq!(
            status_of(b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Status::BadRequest
        );
        let framing = |codings: &str| {
            let bytes = format!("GET / HTTP/1.1\r\nHost: h\r\n{codings}\r\n\r\n");
            parse(bytes.as_bytes()).map(|parsed| match parsed {
                Parsed::Complete { request, .. } => request.framing,
                Parsed::Incomplete => panic!("a whole head"),
            })
        };
        for chunked in [
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: CHUNKED",
            "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: , chunked ,",
        ] {
            assert_eq!(framing(chunked), Ok(Framing::Chunked), "{chunked}");
        }
        // RFC 9112 §6.3: chunked not last (or twice), or no coding at all: 400.
        for bad in [
            "Transfer-Encoding: chunked, deflate",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
            "Transfer-Encoding: chunked, chunked",
            "Transfer-Encoding: gzip",
            "Transfer-Encoding: ",
            "Transfer-Encoding: chunked;x=1",
        ] {
            assert_eq!(
                framing(bad).map_err(|error| error.status),
                Err(Status::BadRequest),
                "{bad}"
            );
        }
    }

    #[test]
    fn keep_alive_rules() {
        let keep = |bytes: &[u8]| complete(bytes).0.keep_alive;
        assert!(keep(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(keep(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!keep(
            b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
        ));
        assert!(keep(b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n"));
    }

    #[test]
    fn absolute_form_is_served_by_its_path() {
        let path = |bytes: &'static [u8]| {
            let (request, _) = complete(bytes);
            (request.path, request.query)
        };
        assert_eq!(path(b"GET http://h/a/b?c HTTP/1.1\r\nHost: h\r\n\r\n"), ("/a/b", Some("c")));
        assert_eq!(path(b"GET HTTP://h:80 HTTP/1.1\r\nHost: h\r\n\r\n"), ("/", None));
        assert_eq!(path(b"GET https://h?q HTTP/1.1\r\nHost: h\r\n\r\n"), ("/", None));
    }

    #[test]
    fn query_and_fragment_are_split_from_the_path() {
        assert_eq!(split_path("/a?b=1#c"), ("/a", Some("b=1")));
        assert_eq!(split_path("/a#c?d"), ("/a", None));
        assert_eq!(split_path("/a?"), ("/a", Some("")));
        assert_eq!(split_path("/a"), ("/a", None));
    }

    #[test]
    fn the_request_line_is_shown_as_sent() {
        let (request, _) = complete(b"HEAD /a%20b?x HTTP/1.0\r\n\r\n");
        assert_eq!(request.to_string(), "HEAD /a%20b?x HTTP/1.0");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn valid_request() -> impl Strategy<Value = String> {
            (
                prop_oneof![Just("GET"), Just("HEAD")],
                "/[a-z0-9%._~/-]{0,40}",
                prop_oneof![Just("1.0"), Just("1.1")],
                proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,30}"), 0..5),
                0u64..20,
            )
                .prop_map(|(method, target, version, headers, body)| {
                    let mut text = format!("{method} {target} HTTP/{version}\r\nHost: h\r\n");
                    for (name, value) in headers {
                        let name = if name.eq_ignore_ascii_case("host")
                            || name.eq_ignore_ascii_case("content-length")
                            || name.eq_ignore_ascii_case("transfer-encoding")
                        {
                            format!("X-{name}")
                        } else {
                            name
                        };
                        text.push_str(&format!("{name}: {value}\r\n"));
                    }
                    text.push_str(&format!("Content-Length: {body}\r\n\r\n"));
                    text.push_str(&"b".repeat(body as usize));
                    text
                })
        }

        /// Parses every request in `bytes` in turn, skipping bodies, as a connection would.
        fn parse_all(bytes: &[u8]) -> Vec<String> {
            let mut seen = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                let Ok(Parsed::Complete { request, head_length }) = parse(&bytes[at..]) else {
                    panic!("expected a complete request at {at}");
                };
                seen.push(format!("{request:?}"));
                let Framing::Length(body) = request.framing else {
                    panic!("no chunked bodies here")
                };
                at += head_length + body as usize;
            }
            seen
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic_nor_break_the_limits(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
                if let Ok(Parsed::Complete { request, head_length }) = parse(&bytes) {
                    prop_assert!(head_length <= bytes.len());
                    prop_assert!(head_length <= MAX_HEAD_BYTES);
                    prop_assert!(request.headers.len() <= MAX_HEADERS);
                    if let Framing::Length(body) = request.framing {
                        prop_assert!(body <= MAX_BODY_BYTES);
                    }
                    prop_assert!(request.path.starts_with('/'));
                }
            }

            #[test]
            fn request_like_bytes_never_panic(text in "(GET|HEAD|get|POST) [ -~]{0,20} HTTP/[0-9]\\.[0-9]\r?\n([ -~\t\r]{0,20}\r?\n){0,4}\r?\n") {
                let _ = parse(text.as_bytes());
            }

            #[test]
            fn any_split_point_gives_the_same_requests(requests in proptest::collection::vec(valid_request(), 1..4)) {
                let bytes = requests.concat().into_bytes();
                let whole = parse_all(&bytes);
                prop_assert_eq!(whole.len(), requests.len());
                // Split at every point: the first piece is incomplete or parses exactly as the
                // whole, never differently.
                for split in 0..bytes.len() {
                    match parse(&bytes[..split]) {
                        Ok(Parsed::Incomplete) => {}
                        Ok(Parsed::Complete { request, .. }) => {
                            prop_assert_eq!(format!("{request:?}"), whole[0].clone());
                        }
                        Err(error) => prop_assert!(false, "error {} on a prefix of {} bytes", error, split),
                    }
                }
            }
        }
    }
}
