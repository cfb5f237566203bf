//! From a request path to a file under the document root, without ever leaving the root.
//!
//! The path a client sends is hostile until proven otherwise: `/../../etc/passwd`,
//! `/%2e%2e/secret`, `/a%00.html`, or a symlink inside the root that points outside it. The
//! rules, in order:
//!
//! 1. the path arrives without its query (the parser split it off);
//! 2. `%XX` escapes are decoded, and the result must be UTF-8 (400 otherwise);
//! 3. a `..` segment, a NUL or a backslash is refused (400), after decoding, so `%2e%2e`
//!    is caught too;
//! 4. a directory is served by its `index.html`; asked for without its trailing slash it is
//!    redirected (301) to the slash form, so relative links in the page resolve; without an
//!    index it is 404 (no listings). The redirect's `Location` never starts with `//` or
//!    `/\`, which a browser would read as another host;
//! 5. the path must name a regular file (a FIFO or a device would block or never end), asked
//!    of the file once it is open, and, with every symlink followed, must still lie inside the
//!    canonical root (404 otherwise).
//!
//! A file comes with its [`Validators`] (modification time and length): they become
//! `Last-Modified` and `ETag`, and let a browser revalidate its cached copy with a `304`.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::response::Validators;
use crate::status::{HttpError, Status, out_of_descriptors};

/// What a path resolved to.
#[derive(Debug)]
pub enum Resolved {
    /// A regular file inside the root, open for reading.
    File {
        /// The open file.
        file: File,
        /// Its length, which becomes `Content-Length`.
        length: u64,
        /// Its MIME type, from its extension.
        content_type: &'static str,
        /// What a cache compares to know whether its copy is current (none on a file system
        /// that keeps no modification times).
        validators: Option<Validators>,
    },
    /// A directory asked for without its trailing slash: redirect to this path (the caller
    /// adds the query, if there was one).
    Redirect(String),
}

/// The file that serves a directory, unless a site says otherwise ([`crate::Site::with_index`]).
pub const DEFAULT_INDEX: &str = "index.html";

/// Resolves a request path (percent-encoded, without its query) to a file under `root`, a
/// directory being served by its file named `index` ([`DEFAULT_INDEX`] unless a site says
/// otherwise; a plain file name: no `/`, no `..`).
///
/// `root` must be canonical (absolute, no symlinks), as [`fs::canonicalize`] returns it.
///
/// # Errors
///
/// 400 for a path that does not decode to UTF-8 or that holds `..`, NUL or backslash; 404
/// for anything missing, outside the root, or not a regular file; 403 when the file exists
/// but cannot be read; 503 when the server is out of file descriptors.
///
/// # Examples
///
/// ```
/// use common::files::{resolve, Resolved, DEFAULT_INDEX};
///
/// let root = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap();
/// let found = resolve(&root, "/Cargo.toml", DEFAULT_INDEX);
/// let Ok(Resolved::File { content_type, .. }) = found else { panic!() };
/// assert_eq!(content_type, "application/toml");
/// assert!(resolve(&root, "/../Cargo.toml", DEFAULT_INDEX).is_err());
/// ```
pub fn resolve(root: &Path, path: &str, index: &str) -> Result<Resolved, HttpError> {
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| HttpError::new(Status::BadRequest, "path is not UTF-8"))?;
    if decoded.contains(['\0', '\\']) || decoded.split('/').any(|segment| segment == "..") {
        return Err(HttpError::new(Status::BadRequest, "path escapes the root"));
    }

    let mut names: Vec<&str> =
        decoded.split('/').filter(|segment| !segment.is_empty() && *segment != ".").collect();
    // The name to open: a path that ends in a slash names a directory, served by its index;
    // otherwise its last name, which may still turn out to be a directory.
    let names_directory = decoded.ends_with('/');
    let name = if names_directory {
        index
    } else {
        match names.pop() {
            Some(name) => name,
            // The root itself, asked for without its slash (`/.`): it is a directory.
            None => return Ok(Resolved::Redirect(slash_form(path))),
        }
    };
    let (directory, symlink_met) = walk(root, &names)?;
    let (file, metadata) = open(root, &directory, name, symlink_met)?;
    if metadata.is_dir() && !names_directory {
        return Ok(Resolved::Redirect(slash_form(path)));
    }
    // A FIFO or a device would block a read, or never end; an index that is itself a
    // directory is no file either.
    if !metadata.is_file() {
        return Err(HttpError::new(Status::NotFound, "not a regular file"));
    }
    let validators =
        metadata.modified().ok().map(|modified| Validators { modified, length: metadata.len() });
    // The type comes from the name asked for (a symlink's target may be named otherwise).
    let content_type = content_type(Path::new(name));
    Ok(Resolved::File { file, length: metadata.len(), content_type, validators })
}

/// The slash form of a directory's path, for `Location`: its own segments, still
/// percent-encoded, with empty and `.` segments left out, then a slash.
///
/// Keeping the path as sent would be wrong: `GET //evil.example` names the directory
/// `evil.example` (empty segments are skipped), and `Location: //evil.example/` sends a
/// browser to *the host* evil.example, a protocol-relative URL: an open redirect. Built from
/// non-empty segments, the location is `/` followed by a name, and a name never starts with
/// `/` (that is what splits segments) nor `\` (refused above), so no browser can read it as
/// another host.
fn slash_form(path: &str) -> String {
    let is_dot = |segment: &str| segment == "." || segment.eq_ignore_ascii_case("%2e");
    let mut location = String::from("/");
    for segment in path.split('/').filter(|segment| !segment.is_empty() && !is_dot(segment)) {
        location.push_str(segment);
        location.push('/');
    }
    location
}

/// Walks the directories of a path down from the root, one `lstat` each, which describes a
/// symlink itself instead of following it. A walk that meets no symlink cannot leave the root,
/// since `..` was refused: that is the common case. Returns the directory reached and whether
/// a symlink was met on the way. A name that is not a directory makes the open that follows
/// fail, so it is not checked here.
fn walk(root: &Path, names: &[&str]) -> Result<(PathBuf, bool), HttpError> {
    let mut path = root.to_path_buf();
    let mut symlink_met = false;
    for name in names {
        path.push(name);
        symlink_met |= fs::symlink_metadata(&path).map_err(lookup_failed)?.is_symlink();
    }
    Ok((path, symlink_met))
}

/// Opens `name` in `directory`, then asks the open file what it is (`fstat`): the length,
/// type and times served are those of the file being sent, even if the name changes
/// meanwhile, and the path is looked up once, not once to look and again to open.
///
/// The open takes two flags. `O_NOFOLLOW` makes it fail (`ELOOP`) if `name` is a symlink.
/// `O_NONBLOCK` makes opening a FIFO return at once instead of waiting for a writer; `fstat`
/// then tells the caller it is no regular file. Reads of a regular file ignore the flag.
///
/// A symlink, met on the way or as `name`, is resolved with the whole path
/// ([`fs::canonicalize`]), which must still lie inside the root.
fn open(
    root: &Path,
    directory: &Path,
    name: &str,
    symlink_met: bool,
) -> Result<(File, Metadata), HttpError> {
    let path = directory.join(name);
    let open = |path: &Path| -> io::Result<(File, Metadata)> {
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)?;
        let metadata = file.metadata()?;
        Ok((file, metadata))
    };
    if !symlink_met {
        match open(&path) {
            Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {}
            opened => return opened.map_err(lookup_failed),
        }
    }
    let real_path = fs::canonicalize(&path).map_err(lookup_failed)?;
    if !real_path.starts_with(root) {
        return Err(HttpError::new(Status::NotFound, "symlink leads outside the root"));
    }
    // Canonical, the path holds no symlink: if one appeared since, the open fails.
    open(&real_path).map_err(lookup_failed)
}

/// The status for a failed look-up or open: missing is 404, unreadable 403. Running out of
/// file descriptors is the server's problem, not the client's: 503, try again later.
fn lookup_failed(error: io::Error) -> HttpError {
    match error.kind() {
        io::ErrorKind::PermissionDenied => HttpError::new(Status::Forbidden, "permission denied"),
        _ if out_of_descriptors(&error) => {
            HttpError::new(Status::ServiceUnavailable, "out of file descriptors")
        }
        _ => HttpError::new(Status::NotFound, "no such file"),
    }
}

/// The MIME type for a file name, by its extension; text types carry `charset=utf-8` so a
/// browser shows non-ASCII text (our Chinese page) correctly.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// assert_eq!(common::files::content_type(Path::new("a/INDEX.HTML")), "text/html; charset=utf-8");
/// assert_eq!(common::files::content_type(Path::new("photo.png")), "image/png");
/// assert_eq!(common::files::content_type(Path::new("README")), "application/octet-stream");
/// ```
pub fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|extension| extension.to_str()).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml; charset=utf-8",
        "svg" => "image/svg+xml; charset=utf-8",
        "toml" => "application/toml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::resolve`] with the default index, as most of these tests want it.
    fn resolve(root: &Path, path: &str) -> Result<Resolved, HttpError> {
        super::resolve(root, path, DEFAULT_INDEX)
    }
    use std::io::Read;
    use std::os::unix::fs::symlink;

    /// A temporary directory holding a root and a secret file beside it (outside the root).
    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let root = base.join("root");
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join("index.html"), "home").unwrap();
        fs::write(root.join("docs/index.html"), "docs").unwrap();
        fs::write(root.join("a b.txt"), "spaced").unwrap();
        fs::write(root.join("中文.html"), "chinese").unwrap();
        fs::write(base.join("secret.txt"), "secret").unwrap();
        symlink(base.join("secret.txt"), root.join("escape.txt")).unwrap();
        symlink(&base, root.join("parent")).unwrap();
        symlink(root.join("a b.txt"), root.join("inside.txt")).unwrap();
        Fixture { _dir: dir, root }
    }

    fn location(resolved: Result<Resolved, HttpError>) -> String {
        match resolved {
            Ok(Resolved::Redirect(location)) => location,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    fn body(resolved: Result<Resolved, HttpError>) -> String {
        match resolved {
            Ok(Resolved::File { mut file, .. }) => {
                let mut text = String::new();
                file.read_to_string(&mut text).unwrap();
                text
            }
            other => panic!("expected a file, got {other:?}"),
        }
    }

    fn status(resolved: Result<Resolved, HttpError>) -> Status {
        match resolved {
            Err(error) => error.status,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn root_and_directories_serve_their_index() {
        let f = fixture();
        assert_eq!(body(resolve(&f.root, "/")), "home");
        assert_eq!(body(resolve(&f.root, "/docs/")), "docs");
        assert_eq!(body(resolve(&f.root, "/docs/index.html")), "docs");
    }

    #[test]
    fn percent_escapes_are_decoded_as_utf8() {
        let f = fixture();
        assert_eq!(body(resolve(&f.root, "/a%20b.txt")), "spaced");
        assert_eq!(body(resolve(&f.root, "/%E4%B8%AD%E6%96%87.html")), "chinese");
        assert_eq!(status(resolve(&f.root, "/%ff.html")), Status::BadRequest);
    }

    #[test]
    fn directory_without_slash_redirects() {
        let f = fixture();
        match resolve(&f.root, "/docs") {
            Ok(Resolved::Redirect(location)) => assert_eq!(location, "/docs/"),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    /// The open redirect: `//docs` must not become `Location: //docs/`, which a browser
    /// reads as the host `docs`. Every way a path can start is tried.
    #[test]
    fn a_redirect_never_leads_to_another_host() {
        let f = fixture();
        for (path, expected) in [
            ("//docs", "/docs/"),
            ("///docs", "/docs/"),
            ("/./docs", "/docs/"),
            ("/.//docs", "/docs/"),
            ("/%2e/docs", "/docs/"),
            ("/%2fdocs", "/%2fdocs/"),
        ] {
            assert_eq!(location(resolve(&f.root, path)), expected, "{path}");
        }
        // Backslashes, raw or encoded, never get as far as a redirect.
        for path in ["/\\docs", "/%5cdocs", "/%5Cdocs"] {
            assert_eq!(status(resolve(&f.root, path)), Status::BadRequest, "{path}");
        }
    }

    #[test]
    fn validators_come_with_every_file() {
        let f = fixture();
        let Ok(Resolved::File { validators: Some(validators), length, .. }) =
            resolve(&f.root, "/index.html")
        else {
            panic!("a file with validators")
        };
        assert_eq!(validators.length, length);
        let modified = fs::metadata(f.root.join("index.html")).unwrap().modified().unwrap();
        assert_eq!(validators.modified, modified);
        let tag = validators.etag().to_string();
        assert!(tag.starts_with('"') && tag.ends_with(&format!("-{length:x}\"")), "{tag}");
    }

    #[test]
    fn directory_without_index_is_404_not_a_listing() {
        let f = fixture();
        assert_eq!(status(resolve(&f.root, "/empty/")), Status::NotFound);
    }

    #[test]
    fn missing_files_are_404() {
        let f = fixture();
        assert_eq!(status(resolve(&f.root, "/nope.html")), Status::NotFound);
        assert_eq!(status(resolve(&f.root, "/index.html/more")), Status::NotFound);
        // A slash after a file's name asks for a directory, and there is none.
        assert_eq!(status(resolve(&f.root, "/index.html/")), Status::NotFound);
    }

    #[test]
    fn traversal_is_refused_plain_or_encoded() {
        let f = fixture();
        for path in [
            "/../secret.txt",
            "/docs/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2fsecret.txt",
            "/docs/..",
            "/..",
            "/a%00.html",
            "/..%5csecret.txt",
            "/docs%5c..%5c..%5csecret.txt",
        ] {
            assert_eq!(status(resolve(&f.root, path)), Status::BadRequest, "{path}");
        }
    }

    #[test]
    fn symlinks_may_not_lead_outside_the_root() {
        let f = fixture();
        assert_eq!(status(resolve(&f.root, "/escape.txt")), Status::NotFound);
        assert_eq!(status(resolve(&f.root, "/parent/secret.txt")), Status::NotFound);
        // A detour through a symlink that ends back inside the root is harmless.
        assert_eq!(body(resolve(&f.root, "/parent/root/index.html")), "home");
        assert_eq!(body(resolve(&f.root, "/inside.txt")), "spaced");
    }

    #[test]
    fn dot_segments_stay_inside() {
        let f = fixture();
        assert_eq!(body(resolve(&f.root, "/./docs/./index.html")), "docs");
        assert_eq!(body(resolve(&f.root, "//docs//index.html")), "docs");
    }

    #[test]
    fn special_files_are_not_served() {
        let f = fixture();
        let fifo = f.root.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|status| status.success()) {
            assert_eq!(status(resolve(&f.root, "/fifo")), Status::NotFound);
        }
    }

    #[test]
    fn mime_types_carry_charset_on_text() {
        assert_eq!(content_type(Path::new("a.css")), "text/css; charset=utf-8");
        assert_eq!(content_type(Path::new("a.js")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("a.svg")), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type(Path::new("a.JPG")), "image/jpeg");
        assert_eq!(content_type(Path::new("a.bin")), "application/octet-stream");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            fn no_path_resolves_outside_the_root(
                segments in proptest::collection::vec(
                    prop_oneof![
                        Just("..".to_string()), Just("%2e%2e".to_string()), Just("%2E.".to_string()),
                        Just(".".to_string()), Just("".to_string()), Just("parent".to_string()),
                        Just("escape.txt".to_string()), Just("secret.txt".to_string()),
                        Just("docs".to_string()), Just("%2f".to_string()), Just("%5c".to_string()),
                        Just("%00".to_string()), Just("root".to_string()), "[a-z%0-9.]{1,6}",
                        Just("%2e".to_string()), Just("\\".to_string()), Just("%5c".to_string()),
                        Just("/".to_string()), Just("//".to_string()), Just("%2f%2f".to_string()),
                    ],
                    0..6,
                )
            ) {
                let f = fixture();
                let path = format!("/{}", segments.join("/"));
                match resolve(&f.root, &path) {
                    Ok(Resolved::File { mut file, .. }) => {
                        let mut text = String::new();
                        file.read_to_string(&mut text).unwrap();
                        prop_assert_ne!(text, "secret", "{} escaped the root", path);
                    }
                    Ok(Resolved::Redirect(location)) => {
                        prop_assert!(location.starts_with('/'));
                        prop_assert!(
                            !location.starts_with("//") && !location.starts_with("/\\"),
                            "{} redirects to {}, another host", path, location
                        );
                    }
                    Err(_) => {}
                }
            }
        }
    }
}
