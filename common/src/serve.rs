//! The application every stage serves: a request in, a response out.
//!
//! [`Site`] is the static-file site (stages 02-07); [`hello`] is stage01's whole application.
//! Neither does any I/O on sockets: the stages decide how bytes move.

use std::fmt::Display;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::files::{self, Resolved};
use crate::request::{Method, Request, Version};
use crate::response::{Body, Response, Status};

/// The page stage01 answers every request with.
pub const HELLO_PAGE: &str = "<h1>hello world</h1>\n";

/// A static site: the document root and how the server behaves while serving it.
#[derive(Debug)]
pub struct Site {
    /// The document root, canonical (absolute, symlinks resolved), so that a resolved file can
    /// be checked to lie inside it.
    pub root: PathBuf,
    /// No access log.
    pub quiet: bool,
    /// How long an idle connection, or a request head that trickles in, may take.
    pub timeout: Duration,
}

impl Site {
    /// The site the command line describes.
    ///
    /// # Errors
    ///
    /// When the root does not exist or is not a directory.
    pub fn new(config: &Config) -> io::Result<Site> {
        let root = config.root.canonicalize().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("document root {}: {error}", config.root.display()),
            )
        })?;
        if !root.is_dir() {
            let message = format!("document root {} is not a directory", root.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        crate::request::compile_patterns();
        Ok(Site { root, quiet: config.quiet, timeout: Duration::from_secs(config.timeout) })
    }

    /// The response to a well-formed request: the file it names, a redirect, or an error.
    pub fn respond(&self, request: &Request) -> Response {
        let response = match files::resolve(&self.root, request.path) {
            Ok(Resolved::File { file, length, content_type }) => Response {
                body: Body::File(file, length),
                ..Response::new(Status::Ok, content_type, &b""[..])
            },
            Ok(Resolved::Redirect(location)) => {
                Response { location: Some(location), ..Response::error(Status::MovedPermanently) }
            }
            Err(error) => Response::error(error.status),
        };
        response.answering(request)
    }

    /// Writes one access-log line to stderr (unless quiet): who, what, which status, how many
    /// body bytes. `what` is the request line, or `-` when there was none.
    pub fn log_access(&self, peer: SocketAddr, what: impl Display, status: Status, bytes: u64) {
        if !self.quiet {
            eprintln!("{peer} \"{what}\" {} {bytes}", status.code());
        }
    }

    /// Logs an error that ended a connection (unless quiet).
    pub fn log_error(&self, peer: SocketAddr, error: &io::Error) {
        if !self.quiet {
            eprintln!("{peer} connection ended: {error}");
        }
    }
}

/// Stage01's application: `<h1>hello world</h1>` for any GET or HEAD.
pub fn hello(request: &Request) -> Response {
    Response::new(Status::Ok, "text/html; charset=utf-8", HELLO_PAGE.as_bytes()).answering(request)
}

impl Response {
    /// Fits a response to the request it answers: HEAD gets the head only, and the connection
    /// stays open only if both the response and the request allow it.
    pub fn answering(mut self, request: &Request) -> Response {
        self.head_only = request.method == Method::Head;
        self.keep_alive &= request.keep_alive;
        self.http10_keep_alive = self.keep_alive && request.version == Version::Http10;
        self
    }
}

/// The request line as the access log shows it.
pub fn request_line<'a>(request: &'a Request<'a>) -> impl Display + 'a {
    struct Line<'a>(&'a Request<'a>);
    impl Display for Line<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let method = match self.0.method {
                Method::Get => "GET",
                Method::Head => "HEAD",
            };
            let version = match self.0.version {
                Version::Http10 => "HTTP/1.0",
                Version::Http11 => "HTTP/1.1",
            };
            write!(f, "{method} {} {version}", self.0.target)
        }
    }
    Line(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Parsed, parse};

    fn site(root: &std::path::Path) -> Site {
        Site { root: root.canonicalize().unwrap(), quiet: true, timeout: Duration::from_secs(1) }
    }

    fn respond(site: &Site, bytes: &[u8]) -> Response {
        let Ok(Parsed::Complete { request, .. }) = parse(bytes) else { panic!("bad test request") };
        site.respond(&request)
    }

    #[test]
    fn files_redirects_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
        let site = site(dir.path());

        let ok = respond(&site, b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((ok.status, ok.content_length(), ok.keep_alive), (Status::Ok, 3, true));
        assert_eq!(ok.content_type, "text/plain; charset=utf-8");

        let moved = respond(&site, b"GET /docs?q HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(moved.status, Status::MovedPermanently);
        assert_eq!(moved.location.as_deref(), Some("/docs/?q"));

        let missing = respond(&site, b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((missing.status, missing.keep_alive), (Status::NotFound, true));
        let traversal = respond(&site, b"GET /../x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((traversal.status, traversal.keep_alive), (Status::BadRequest, false));
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let Ok(Parsed::Complete { request, .. }) = parse(b"HEAD / HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        let response = hello(&request);
        assert!(response.head_only);
        assert_eq!(response.content_length(), HELLO_PAGE.len() as u64);
        assert!(!response.keep_alive, "HTTP/1.0 closes unless asked");
    }

    #[test]
    fn http10_keep_alive_is_echoed() {
        let bytes = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        let Ok(Parsed::Complete { request, .. }) = parse(bytes) else { panic!() };
        let response = hello(&request);
        assert!(response.keep_alive && response.http10_keep_alive);
        assert_eq!(request_line(&request).to_string(), "GET / HTTP/1.0");
    }
}
