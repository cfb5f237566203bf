//! Reading a request body sent with `Transfer-Encoding: chunked` (RFC 9112 §7.1), to find
//! where it ends. A static-file server has no use for a body, but it must know where one ends
//! to find the next request on the connection, and a recipient MUST be able to parse chunked.
//!
//! ```text
//! 5;name=value\r\n       chunk size in hex, then optional extensions
//! hello\r\n              that many bytes of data, then CRLF
//! 0\r\n                  the last chunk: size 0
//! Expires: never\r\n     optional trailer fields
//! \r\n                   the end of the body
//! ```
//!
//! The decoder takes the bytes as they come, in pieces of any size, and keeps only a few
//! counters. Every line ends in CRLF exactly: two parsers that disagree on where a chunk ends
//! are how request smuggling works, so nothing lenient is accepted here. Each limit has a
//! constant and its own status.

use crate::status::{HttpError, Status};

/// The most hex digits a chunk size may have: 16 fill a `u64`. Leading zeros count too, so an
/// endless `000...` cannot keep the decoder busy.
pub const MAX_CHUNK_SIZE_DIGITS: usize = 16;

/// The longest chunk line (size and extensions): extensions are meant to be short, and
/// nothing here reads them.
pub const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;

/// The largest trailer section (the fields after the last chunk): 431 beyond.
pub const MAX_TRAILER_BYTES: usize = 8 * 1024;

/// Where the decoder is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the hex digits of a chunk size.
    Size,
    /// After the size: extensions, up to the CR.
    Extension,
    /// The CR of a chunk line has come; its LF must follow.
    SizeLf,
    /// In a chunk's data: this many bytes to go.
    Data(u64),
    /// After a chunk's data: its CR.
    DataCr,
    /// After a chunk's data: its LF.
    DataLf,
    /// In the trailer section, at the start of a line.
    TrailerLineStart,
    /// In a trailer field's name.
    TrailerName,
    /// In a trailer field's value.
    TrailerValue,
    /// The CR of a trailer line (or of the empty line that ends the body) has come.
    TrailerLf {
        /// Whether the line was empty: the body ends with its LF.
        empty: bool,
    },
    /// The whole body has been read.
    Done,
}

/// A chunked body being read: feed it bytes until [`ChunkedBody::is_done`].
#[derive(Clone, Debug)]
pub struct ChunkedBody {
    state: State,
    /// The size of the chunk whose line is being read.
    size: u64,
    /// Digits of that size so far.
    digits: usize,
    /// Bytes of the current chunk line so far.
    line: usize,
    /// Bytes of the trailer section so far.
    trailer: usize,
    /// Data bytes so far, all chunks together.
    total: u64,
    /// The most data bytes allowed, all chunks together: 413 beyond.
    limit: u64,
}

fn bad(reason: &'static str) -> HttpError {
    HttpError::new(Status::BadRequest, reason)
}

impl ChunkedBody {
    /// A decoder at the start of a body that may carry at most `limit` bytes of data.
    pub fn new(limit: u64) -> Self {
        ChunkedBody { state: State::Size, size: 0, digits: 0, line: 0, trailer: 0, total: 0, limit }
    }

    /// Whether the body has ended (the last chunk and the trailer section are read).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads as much of `bytes` as belongs to the body, calling `data` with each piece of
    /// chunk data, and returns how many bytes it took: all of them unless the body ended
    /// among them (what follows is the next request).
    ///
    /// # Errors
    ///
    /// 400 for broken framing (a bad size, a line not ended by CRLF, a control character),
    /// 400 for a size of more than [`MAX_CHUNK_SIZE_DIGITS`] digits or a chunk line over
    /// [`MAX_CHUNK_LINE_BYTES`], 413 when the data passes the limit, 431 for a trailer section
    /// over [`MAX_TRAILER_BYTES`]. After an error the connection must be closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use common::body::ChunkedBody;
    ///
    /// let mut body = ChunkedBody::new(1024);
    /// let mut data = Vec::new();
    /// let bytes = b"5\r\nhello\r\n0\r\n\r\nGET /next";
    /// let used = body.feed(bytes, |piece| data.extend_from_slice(piece)).unwrap();
    /// assert!(body.is_done());
    /// assert_eq!(data, b"hello");
    /// assert_eq!(&bytes[used..], b"GET /next");
    /// ```
    pub fn feed(&mut self, bytes: &[u8], mut data: impl FnMut(&[u8])) -> Result<usize, HttpError> {
        let mut used = 0;
        while used < bytes.len() {
            if let State::Data(remaining) = self.state {
                // Chunk data goes through in bulk, not byte by byte.
                let take = remaining.min((bytes.len() - used) as u64) as usize;
                data(&bytes[used..used + take]);
                used += take;
                let remaining = remaining - take as u64;
                self.state = if remaining == 0 { State::DataCr } else { State::Data(remaining) };
                continue;
            }
            if self.state == State::Done {
                break;
            }
            self.step(bytes[used])?;
            used += 1;
        }
        Ok(used)
    }

    /// Moves on by one byte of framing (anything but chunk data).
    fn step(&mut self, byte: u8) -> Result<(), HttpError> {
        let is_control = |byte: u8| (byte < b' ' && byte != b'\t') || byte == 0x7f;
        if matches!(self.state, State::Size | State::Extension) {
            self.line += 1;
            if self.line > MAX_CHUNK_LINE_BYTES {
                return Err(bad("chunk line too long"));
            }
        }
        if matches!(self.state, State::TrailerLineStart | State::TrailerName | State::TrailerValue)
        {
            self.trailer += 1;
            if self.trailer > MAX_TRAILER_BYTES {
                return Err(HttpError::new(Status::HeaderFieldsTooLarge, "trailer too large"));
            }
        }
        self.state = match (self.state, byte) {
            (State::Size, _) if byte.is_ascii_hexdigit() => {
                self.digits += 1;
                if self.digits > MAX_CHUNK_SIZE_DIGITS {
                    return Err(bad("chunk size has too many digits"));
                }
                let digit = (byte as char).to_digit(16).unwrap_or_default();
                self.size = self.size * 16 + u64::from(digit);
                State::Size
            }
            (State::Size, _) if self.digits == 0 => return Err(bad("chunk without a size")),
            // Extensions (`;name=value`, with optional whitespace before the `;`) are
            // allowed and ignored.
            (State::Size, b';' | b' ' | b'\t') => State::Extension,
            (State::Size | State::Extension, b'\r') => State::SizeLf,
            (State::Extension, _) if !is_control(byte) => State::Extension,
            (State::SizeLf, b'\n') => {
                self.line = 0;
                self.digits = 0;
                let size = std::mem::take(&mut self.size);
                if size == 0 {
                    State::TrailerLineStart
                } else {
                    self.total = self.total.saturating_add(size);
                    if self.total > self.limit {
                        return Err(HttpError::new(Status::ContentTooLarge, "body too large"));
                    }
                    State::Data(size)
                }
            }
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size,
            (State::TrailerLineStart, b'\r') => State::TrailerLf { empty: true },
            (State::TrailerLineStart | State::TrailerName, _) if is_token_byte(byte) => {
                State::TrailerName
            }
            (State::TrailerName, b':') => State::TrailerValue,
            (State::TrailerValue, b'\r') => State::TrailerLf { empty: false },
            (State::TrailerValue, _) if !is_control(byte) => State::TrailerValue,
            (State::TrailerLf { empty: true }, b'\n') => State::Done,
            (State::TrailerLf { empty: false }, b'\n') => State::TrailerLineStart,
            (State::Size, _) => return Err(bad("invalid chunk size")),
            (State::DataCr | State::DataLf, _) => return Err(bad("chunk data not ended by CRLF")),
            (State::TrailerLineStart | State::TrailerName, _) => {
                return Err(bad("invalid trailer field"));
            }
            _ => return Err(bad("chunk framing not ended by CRLF")),
        };
        Ok(())
    }
}

/// A byte of a `token` (RFC 9110 §5.6.2): what a field name is made of.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `bytes` in one piece: the data, how many bytes were used, or the error.
    fn decode(bytes: &[u8]) -> Result<(Vec<u8>, usize, bool), HttpError> {
        let mut body = ChunkedBody::new(1024);
        let mut data = Vec::new();
        let used = body.feed(bytes, |piece| data.extend_from_slice(piece))?;
        Ok((data, used, body.is_done()))
    }

    fn status(bytes: &[u8]) -> Status {
        decode(bytes).expect_err("an error").status
    }

    #[test]
    fn chunks_extensions_and_trailers_are_read_and_the_next_request_left_alone() {
        let body =
            b"5\r\nhello\r\n7;x=1;y=\"a b\"\r\n, world\r\n0\r\nExpires: never\r\nX-A:b\r\n\r\n";
        let mut bytes = body.to_vec();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let (data, used, done) = decode(&bytes).unwrap();
        assert_eq!(data, b"hello, world");
        assert_eq!(used, body.len());
        assert!(done);
        // Upper-case hex, leading zeros, whitespace before an extension.
        assert_eq!(decode(b"0A \t;ext\r\n0123456789\r\n000\r\n\r\n").unwrap().0, b"0123456789");
    }

    #[test]
    fn an_unfinished_body_takes_everything_and_is_not_done() {
        for partial in [&b"5\r\nhel"[..], b"5", b"5\r", b"5\r\nhello\r", b"0\r\n", b"0\r\nX: y\r\n"]
        {
            let (_, used, done) = decode(partial).unwrap();
            assert_eq!((used, done), (partial.len(), false), "{partial:?}");
        }
    }

    #[test]
    fn broken_framing_is_a_bad_request() {
        for bad in [
            &b"\r\n"[..],             // no size
            b"x\r\n",                 // not hex
            b"-5\r\n",                // a sign
            b"5\nhello\r\n0\r\n\r\n", // a bare LF ends the size line
            b"5\r\nhello\n0\r\n\r\n", // nor the data
            b"5\r\nhelloX\r\n",       // more data than the size said
            b"5\r\x0bhello",          // a bare CR
            b"5;a\x00b\r\n",          // a control character in an extension
            b"0\r\nno colon\r\n\r\n", // a trailer line that is no field
            b"0\r\n: empty name\r\n\r\n",
            b"0\r\nX: a\x01b\r\n\r\n", // a control character in a trailer value
            b"0\r\n\n",                // the empty line ends in CRLF too
        ] {
            assert_eq!(status(bad), Status::BadRequest, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn each_limit_has_its_own_status() {
        let digits = format!("{}1\r\n", "0".repeat(MAX_CHUNK_SIZE_DIGITS));
        assert_eq!(status(digits.as_bytes()), Status::BadRequest);
        assert!(decode(format!("{}\r\n", "0".repeat(MAX_CHUNK_SIZE_DIGITS)).as_bytes()).is_ok());
        let extension = format!("1;{}\r\n", "x".repeat(MAX_CHUNK_LINE_BYTES));
        assert_eq!(status(extension.as_bytes()), Status::BadRequest);
        // 1024 bytes allowed: 1025 in two chunks is too many.
        assert!(decode(format!("400\r\n{}\r\n0\r\n\r\n", "a".repeat(1024)).as_bytes()).is_ok());
        let too_much = format!("400\r\n{}\r\n1\r\n", "a".repeat(1024));
        assert_eq!(status(too_much.as_bytes()), Status::ContentTooLarge);
        assert_eq!(status(b"ffffffffffffffff\r\n"), Status::ContentTooLarge);
        let trailer = format!("0\r\nX: {}\r\n\r\n", "a".repeat(MAX_TRAILER_BYTES));
        assert_eq!(status(trailer.as_bytes()), Status::HeaderFieldsTooLarge);
    }

    /// `body` in chunks of the given sizes (the rest in one last chunk), with an extension on
    /// some, then the last chunk and a trailer.
    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        for (index, size) in sizes.iter().enumerate() {
            let size = (*size).min(rest.len());
            if size == 0 {
                continue;
            }
            let extension = if index % 2 == 0 { ";i=1" } else { "" };
            out.extend_from_slice(format!("{size:x}{extension}\r\n").as_bytes());
            out.extend_from_slice(&rest[..size]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[size..];
        }
        if !rest.is_empty() {
            out.extend_from_slice(format!("{:X}\r\n", rest.len()).as_bytes());
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any body, cut into any chunks, fed in any pieces, decodes to itself, and the bytes
        /// after it are left for the next request.
        #[test]
        fn any_body_in_any_chunks_fed_in_any_pieces_decodes_to_itself(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            sizes in proptest::collection::vec(0usize..200, 0..8),
            pieces in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let mut bytes = chunked(&body, &sizes);
            let end = bytes.len();
            bytes.extend_from_slice(b"GET /next HTTP/1.1\r\n");
            let mut decoder = ChunkedBody::new(1024);
            let mut data = Vec::new();
            let (mut at, mut piece) = (0, 0);
            while !decoder.is_done() {
                prop_assert!(at < bytes.len(), "the body never ended");
                let size = pieces[piece % pieces.len()].min(bytes.len() - at);
                piece += 1;
                at += decoder.feed(&bytes[at..at + size], |part| data.extend_from_slice(part)).unwrap();
            }
            prop_assert_eq!(data, body);
            prop_assert_eq!(at, end);
        }
    }
}
