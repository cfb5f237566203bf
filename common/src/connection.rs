//! One connection's HTTP state, with no socket inside: it never reads or writes the network
//! (it does open and read the files it answers with, and writes the access log).
//!
//! The stages move bytes in their own way (a blocking read, a non-blocking read after
//! `epoll_wait`, ...); what the bytes *mean* is the same for all of them, so it lives here:
//!
//! ```text
//!            received(bytes)                       to_send() / sent(n)
//! socket ──────────────────▶ [ input ] ─parse─▶ [ output | file ] ──────────────────▶ socket
//!                              leftover           head + small body,
//!                              partial head       then a large file
//! ```
//!
//! - [`Connection::received`] takes the bytes a read returned. Complete requests are parsed
//!   (several, if the client pipelined them) and their responses queued, in order; a partial
//!   request is kept for the next read; a request body is skipped.
//! - [`Connection::to_send`] says what to write next ([`Pending`]), and [`Connection::sent`]
//!   how many bytes the write took. A short write (or `WouldBlock`) just means calling
//!   `to_send` again later: it resumes exactly where the last write stopped.
//! - A small file is read at once, so that head and body leave in one write. A file larger
//!   than [`FILE_CHUNK_BYTES`] is offered as [`Pending::File`], for the loop to send with
//!   [`send_file`](crate::net::send_file) (`sendfile(2)`): the kernel moves it from the page
//!   cache to the socket without copying it through the server. A loop that can only write
//!   bytes calls [`Connection::to_send_bytes`] instead, which reads the file in chunks of
//!   [`FILE_CHUNK_BYTES`] as the socket takes them. Either way a large file to a slow reader
//!   costs at most one chunk of memory, not the whole file.
//! - While a response is being sent, later pipelined requests wait in the input and no more
//!   is read ([`Connection::wants_read`]), so memory stays bounded whatever the client does.
//! - An idle connection holds no buffers at all: they are freed when everything is sent.
//! - When the server ends a connection on which the client may still be sending, it does not
//!   just close: [`Pending::Fin`] asks the loop to shut down its writing side, and the
//!   connection reads (and throws away) what still comes until the client closes too. A
//!   socket closed with unread bytes, or that receives bytes after it is closed, is reset,
//!   and a reset can destroy the end of the response before the client reads it (RFC 9112
//!   §9.6, a *lingering close*).

use std::fs::File;
use std::io::{self, Read};
use std::mem;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::body::ChunkedBody;
use crate::request::{
    self, Framing, MAX_BODY_BYTES, MAX_HEAD_BYTES, MAX_REQUEST_LINE_BYTES, Parsed,
};
use crate::response::{Body, Persistence, Response};
use crate::site::{AccessLog, Site};
use crate::status::{HttpError, Status};

/// How much of a file is read into memory at a time: large enough that a big file takes few
/// reads and writes, small enough that thousands of slow downloads fit in memory. A file up
/// to this size is read whole, with its head; a larger one is offered as [`Pending::File`].
pub const FILE_CHUNK_BYTES: usize = 64 * 1024;

/// How long a lingering close ([`Pending::Fin`]) waits for the client's next bytes, or its
/// close, before closing anyway: what a client sent before it saw the FIN arrives well within
/// it, and a client that neither sends nor closes holds the connection no longer (an
/// iterative server waits for nobody else meanwhile). Apache waits as long.
pub const LINGER: Duration = Duration::from_secs(2);

/// Room reserved for a response head: ours are under 300 bytes (a part of a file, with its
/// `Content-Range`, is the longest).
const HEAD_ROOM_BYTES: usize = 320;

/// Whether a connection may serve more than one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAlive {
    /// Requests follow each other on one connection until either side closes it.
    On,
    /// Every response says `Connection: close`, and the connection ends after it.
    Off,
}

/// How a server's connections behave: the same for every connection of a run.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Whether a connection may serve more than one request (a stage's own choice).
    pub keep_alive: KeepAlive,
    /// How long an idle connection, or a request that trickles in, is given.
    pub timeout: Duration,
    /// Where each request is logged.
    pub log: AccessLog,
}

/// What a connection has to write next: [`Connection::to_send`]'s answer.
#[derive(Debug)]
pub enum Pending<'a> {
    /// Nothing to send now.
    Nothing,
    /// Bytes to write: response heads, small bodies, error pages.
    Bytes(&'a [u8]),
    /// The next `usize` bytes of this file, from its current position, for
    /// [`send_file`](crate::net::send_file): the rest of a large file's body.
    File(&'a File, usize),
    /// Everything is sent, and the server ends a connection on which the client may still be
    /// sending: shut down the writing side (`shutdown(SHUT_WR)`, a FIN after the last byte),
    /// call [`Connection::shut_down`], and go on reading until the client closes too (or the
    /// timeout). Closing instead would reset the connection if more bytes came, and the reset
    /// could destroy the end of the response before the client has read it.
    Fin,
}

/// The rest of a request body still to arrive, to be read past and thrown away.
#[derive(Debug)]
enum BodyLeft {
    /// This many bytes of a `Content-Length` body.
    Length(u64),
    /// A chunked body, until its last chunk and trailer.
    Chunked(ChunkedBody),
}

/// The HTTP state of one connection: what has been received and not yet parsed, what is
/// waiting to be sent, and whether the connection should end.
#[derive(Debug)]
pub struct Connection {
    peer: SocketAddr,
    site: Site,
    settings: Settings,
    /// Bytes received but not yet used: the start of a request whose head is incomplete, or
    /// pipelined requests waiting for the response before them to be sent.
    input: Vec<u8>,
    /// Bytes to send; `output[written..]` is what is left of them.
    output: Vec<u8>,
    written: usize,
    /// A file whose remaining bytes follow `output`, and how many remain.
    file: Option<(File, u64)>,
    /// The rest of a request body still to be received and thrown away.
    body: Option<BodyLeft>,
    /// No more requests will be read: send what is queued, then close.
    closing: bool,
    /// The client may still be sending when the connection ends, so it ends with a lingering
    /// close ([`Pending::Fin`]): the server ends a connection the client meant to go on with,
    /// or a request was refused or cut off halfway. Not when the client said its request was
    /// the last (`Connection: close`) and sent all of it, nor once it has closed its side.
    lingers: bool,
    /// When the writing side was shut down, for a lingering close: the client has the timeout
    /// from then to close its side.
    shut_down: Option<Instant>,
    /// When the unfinished request began to arrive: the first byte of its head or, once the
    /// head is complete, of its body (for the request timeout).
    request_started: Option<Instant>,
    /// When the peer last sent or took bytes (for the idle timeout).
    last_active: Instant,
}

impl Connection {
    /// A new connection from `peer`, serving `site`.
    pub fn new(peer: SocketAddr, site: Site, settings: Settings) -> Self {
        Connection {
            peer,
            site,
            settings,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            file: None,
            body: None,
            closing: false,
            lingers: false,
            shut_down: None,
            request_started: None,
            last_active: Instant::now(),
        }
    }

    /// Takes the bytes a read returned: answers every complete request among them (and any
    /// waiting from before), and keeps an incomplete one for later.
    pub fn received(&mut self, bytes: &[u8]) {
        self.last_active = Instant::now();
        if self.closing {
            // After `Connection: close` or an error, nothing more is read (RFC 9112 §9.6).
            return;
        }
        if self.input.is_empty() {
            // The common case: the bytes hold whole requests, parsed where they lie, no copy.
            let used = self.process(bytes);
            self.input.extend_from_slice(&bytes[used..]);
        } else {
            let before = self.input.len();
            self.input.extend_from_slice(bytes);
            // A head can only complete, or break a limit, when a line ends or a limit is
            // crossed: parsing again after every byte of a trickling client would cost time
            // quadratic in the head's size.
            let crossed = |limit| before <= limit && limit < before + bytes.len();
            if bytes.contains(&b'\n') || crossed(MAX_REQUEST_LINE_BYTES) || crossed(MAX_HEAD_BYTES)
            {
                self.process_input();
            }
        }
        self.update_request_clock();
    }

    /// The peer closed its side: no more requests will come. What is queued is still sent
    /// (a client may send its requests, shut down its writing side, then read).
    pub fn received_eof(&mut self) {
        self.closing = true;
        self.lingers = false;
        self.input = Vec::new();
    }

    /// Records that the loop shut down the writing side, as [`Pending::Fin`] asked: from now
    /// on the connection reads until the client closes its side too.
    pub fn shut_down(&mut self) {
        self.shut_down = Some(Instant::now());
    }

    /// What to write next: the queued bytes, or once they are all sent, the rest of a large
    /// file (for [`send_file`](crate::net::send_file)), or nothing.
    pub fn to_send(&self) -> Pending<'_> {
        if self.written < self.output.len() {
            return Pending::Bytes(&self.output[self.written..]);
        }
        match &self.file {
            // A file beyond what a usize counts is sent in several calls anyway.
            Some((file, remaining)) => {
                Pending::File(file, usize::try_from(*remaining).unwrap_or(usize::MAX))
            }
            None if self.fin_is_due() => Pending::Fin,
            None => Pending::Nothing,
        }
    }

    /// The bytes to write next (empty when there is nothing to send now), for a loop that can
    /// only write bytes from memory: it reads the next chunk of a file being sent when the
    /// previous one is gone. When it is empty, [`Connection::to_send`] says whether a
    /// [`Pending::Fin`] is due.
    ///
    /// # Errors
    ///
    /// When reading the file fails or it turns out shorter than announced; the connection
    /// must then be closed (the client sees a short body, which is how HTTP says "failed").
    pub fn to_send_bytes(&mut self) -> io::Result<&[u8]> {
        if self.written == self.output.len() && self.file.is_some() {
            self.output.clear();
            self.written = 0;
            self.fill_from_file()?;
        }
        Ok(&self.output[self.written..])
    }

    /// Records that a write took `count` bytes of what [`Connection::to_send`] (or
    /// [`Connection::to_send_bytes`]) gave: of the queued bytes, or of the file. When
    /// everything is sent, requests that were waiting behind the response are answered.
    pub fn sent(&mut self, count: usize) {
        self.last_active = Instant::now();
        if self.written < self.output.len() {
            self.written += count;
        } else if let Some((_, remaining)) = &mut self.file {
            // The kernel sent these straight from the file.
            *remaining -= count as u64;
            if *remaining == 0 {
                self.file = None;
            }
        }
        if self.written < self.output.len() || self.file.is_some() {
            return;
        }
        self.written = 0;
        if self.input.is_empty() {
            // Idle: hold no memory while waiting for the next request.
            self.output = Vec::new();
        } else {
            self.output.clear();
            self.process_input();
            // Nothing was read while the response was being sent, so a request still
            // arriving gets its time from now, not from before the response.
            self.request_started = None;
            self.update_request_clock();
        }
    }

    /// Whether reading more makes sense now: not while a response is still being sent (the
    /// peer must read before it may send more: that bounds memory), and not when closing,
    /// unless the writing side is shut down and what comes is read only to be thrown away.
    pub fn wants_read(&self) -> bool {
        !self.wants_write() && (!self.closing || self.shut_down.is_some())
    }

    /// Whether there is something to send: bytes, or the FIN of a lingering close
    /// ([`Pending::Fin`]).
    pub fn wants_write(&self) -> bool {
        self.written < self.output.len() || self.file.is_some() || self.fin_is_due()
    }

    /// Whether everything is sent and a lingering close is due to shut down the writing side.
    fn fin_is_due(&self) -> bool {
        self.closing && self.lingers && self.shut_down.is_none()
    }

    /// Whether the connection is over: closing, everything sent and, after a lingering close,
    /// the client's side closed too.
    pub fn is_finished(&self) -> bool {
        self.closing && !self.wants_write() && !self.lingers
    }

    /// The moment this connection times out if nothing happens. While a request is arriving
    /// (its head or its body), the timeout counts from its first byte, however slowly the
    /// rest trickles in: that is what stops a *slowloris* client, which sends a byte every few
    /// seconds to hold a connection forever. While a response is being sent, the peer must
    /// take some of it within the timeout. Otherwise the idle timeout counts from the last
    /// activity.
    pub fn deadline(&self) -> Instant {
        let since = match (self.shut_down, self.request_started) {
            // Lingering: [`LINGER`] after the client's last bytes, and however many still
            // come, no later than the timeout after the FIN.
            (Some(shut_down), _) => {
                return (self.last_active + LINGER).min(shut_down + self.settings.timeout);
            }
            (None, Some(started)) if !self.wants_write() => started,
            _ => self.last_active,
        };
        since + self.settings.timeout
    }

    /// The deadline has passed. A client that stopped halfway through a request (its head or
    /// its body) gets a 408, with a lingering close; an idle one, one that stopped reading, or
    /// one that did not close its side after a lingering close, is simply finished. Either way
    /// the connection then ends.
    pub fn timed_out(&mut self) {
        if self.request_started.is_some() && !self.closing && !self.wants_write() {
            self.input = Vec::new();
            self.settings.log.request(self.peer, "-", Status::RequestTimeout, 0);
            self.queue(Response::error(Status::RequestTimeout));
            self.lingers = true;
        } else {
            self.output = Vec::new();
            self.written = 0;
            self.file = None;
            self.lingers = false;
        }
        self.closing = true;
    }

    /// Starts the request clock when part of a request (a head or a body) is still to come,
    /// and stops it when none is.
    fn update_request_clock(&mut self) {
        if self.input.is_empty() && self.body.is_none() {
            self.request_started = None;
        } else if self.request_started.is_none() {
            self.request_started = Some(self.last_active);
        }
    }

    /// Answers the requests waiting in `input`, keeping what remains.
    fn process_input(&mut self) {
        let input = mem::take(&mut self.input);
        let used = self.process(&input);
        self.input = input;
        self.input.drain(..used);
        if self.input.is_empty() {
            self.input = Vec::new();
        }
    }

    /// Answers the complete requests at the start of `data`; returns how many bytes were used.
    fn process(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match self.read_past_body(&data[used..]) {
                Ok(skipped) => used += skipped,
                Err(error) => {
                    self.refuse(error);
                    return data.len();
                }
            }
            if self.closing {
                return data.len();
            }
            if used == data.len() || self.wants_write_more_than_a_chunk() {
                return used;
            }
            match request::parse(&data[used..]) {
                Ok(Parsed::Complete { request, head_length }) => {
                    let response = self.site.respond(&request);
                    let bytes = if response.head_only { 0 } else { response.content_length() };
                    self.settings.log.request(self.peer, &request, response.status, bytes);
                    // If this response ends the connection, a client that did not ask for
                    // that may have sent more already: a lingering close (see Pending::Fin).
                    // Not when the server is out of descriptors (503): it frees this one at
                    // once, for the clients still waiting.
                    self.lingers =
                        request.keep_alive && response.status != Status::ServiceUnavailable;
                    self.queue(response);
                    used += head_length;
                    self.body = match request.framing {
                        Framing::Length(0) => None,
                        Framing::Length(length) => Some(BodyLeft::Length(length)),
                        Framing::Chunked => {
                            Some(BodyLeft::Chunked(ChunkedBody::new(MAX_BODY_BYTES)))
                        }
                    };
                    // The rest of a body may still be coming after the last response.
                    self.lingers |= self.body.is_some();
                    // Each request has its own clock; a body still to come restarts it.
                    self.request_started = None;
                }
                Ok(Parsed::Incomplete) => return used,
                Err(error) => {
                    self.refuse(error);
                    return data.len();
                }
            }
        }
    }

    /// Reads past what has arrived of the current request's body (a static-file server has no
    /// use for one); returns how many bytes of `data` it took.
    fn read_past_body(&mut self, data: &[u8]) -> Result<usize, HttpError> {
        let (used, finished) = match &mut self.body {
            None => return Ok(0),
            Some(BodyLeft::Length(left)) => {
                let skip = (*left).min(data.len() as u64);
                *left -= skip;
                (skip as usize, *left == 0)
            }
            Some(BodyLeft::Chunked(chunked)) => (chunked.feed(data, |_| {})?, chunked.is_done()),
        };
        if finished {
            self.body = None;
        }
        Ok(used)
    }

    /// Answers a request that broke the rules with its error, and closes the connection once
    /// that is sent: what follows cannot be trusted to start a request.
    fn refuse(&mut self, error: HttpError) {
        self.settings.log.request(self.peer, format_args!("- ({})", error.reason), error.status, 0);
        self.queue(Response::error(error.status));
        self.body = None;
        self.closing = true;
        // What the client still sends is not read: a lingering close keeps it from resetting
        // the connection before the error arrives.
        self.lingers = true;
    }

    /// Stops answering pipelined requests while a file is being sent or the output is already
    /// large: they wait in `input` until the client has read what is before them.
    fn wants_write_more_than_a_chunk(&self) -> bool {
        self.file.is_some() || self.output.len() - self.written >= FILE_CHUNK_BYTES
    }

    /// Queues a response: its head, then its body (a small file is read at once, so that head
    /// and body leave in one write; a large one waits for `to_send` or `to_send_bytes`).
    fn queue(&mut self, mut response: Response) {
        if self.settings.keep_alive == KeepAlive::Off {
            response.persistence = Persistence::Close;
        }
        self.closing |= response.closes();
        // A body of up to a chunk goes into the output now, behind the head; a larger file
        // stays a file, for the loop to send. Room for head and body at once, rather than
        // growing step by step.
        let in_memory = response.content_length() <= FILE_CHUNK_BYTES as u64;
        let body = if in_memory && !response.head_only { response.content_length() } else { 0 };
        self.output.reserve(HEAD_ROOM_BYTES + body as usize);
        response.write_head(&mut self.output);
        if response.head_only {
            return;
        }
        match response.body {
            Body::Bytes(bytes) => self.output.extend_from_slice(&bytes),
            // An empty file has no body to send. Kept as the file being sent, it would leave
            // the connection wanting to write nothing: a write of 0 bytes, which every loop
            // rightly takes for a broken socket.
            Body::File(_, 0) => {}
            Body::File(file, length) => {
                self.file = Some((file, length));
                if !in_memory {
                    return;
                }
                if let Err(error) = self.fill_from_file() {
                    // The head promised more than we can send: cut the connection.
                    self.settings.log.error(self.peer, &error);
                    self.file = None;
                    self.closing = true;
                }
            }
        }
    }

    /// Reads the next chunk of the file being sent onto the end of `output`.
    fn fill_from_file(&mut self) -> io::Result<()> {
        let Some((file, remaining)) = &mut self.file else { return Ok(()) };
        let room = FILE_CHUNK_BYTES.saturating_sub(self.output.len() - self.written);
        let chunk = (*remaining).min(room as u64);
        if chunk == 0 {
            return Ok(());
        }
        self.output.reserve(chunk as usize);
        let before = self.output.len();
        let result = file.take(chunk).read_to_end(&mut self.output);
        let read = (self.output.len() - before) as u64;
        *remaining -= read;
        if *remaining == 0 {
            self.file = None;
        }
        match result {
            Err(error) => Err(error),
            Ok(0) => {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent"))
            }
            Ok(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// A site in a temporary directory with a small and a large file.
    struct Fixture {
        _dir: tempfile::TempDir,
        site: Site,
        large: Vec<u8>,
    }

    fn settings(keep_alive: KeepAlive) -> Settings {
        Settings { keep_alive, timeout: Duration::from_secs(5), log: AccessLog::new(false) }
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small.txt"), "hello").unwrap();
        let large: Vec<u8> = (0..FILE_CHUNK_BYTES * 3 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("large.bin"), &large).unwrap();
        let site = Site::open(dir.path()).unwrap();
        Fixture { _dir: dir, site, large }
    }

    fn connection(fixture: &Fixture) -> Connection {
        Connection::new(
            "127.0.0.1:1".parse().unwrap(),
            fixture.site.clone(),
            settings(KeepAlive::On),
        )
    }

    /// Sends everything the connection has queued, `chunk` bytes per "write" at most, the way
    /// a loop with `sendfile` does: a file is read here (as the kernel would), from its own
    /// position.
    fn drain(connection: &mut Connection, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let count = match connection.to_send() {
                Pending::Nothing | Pending::Fin => return out,
                Pending::Bytes(bytes) => {
                    let count = bytes.len().min(chunk);
                    out.extend_from_slice(&bytes[..count]);
                    count
                }
                Pending::File(mut file, remaining) => {
                    let mut piece = vec![0; remaining.min(chunk)];
                    file.read_exact(&mut piece).unwrap();
                    out.extend_from_slice(&piece);
                    piece.len()
                }
            };
            connection.sent(count);
        }
    }

    /// Asserts that a connection whose last response is sent ends with a lingering close: a
    /// FIN is due, then what still comes is read and thrown away, and the connection is over
    /// when the client closes its side.
    fn assert_lingering_close(connection: &mut Connection) {
        assert!(matches!(connection.to_send(), Pending::Fin), "a FIN is due");
        assert!(!connection.is_finished() && !connection.wants_read());
        connection.shut_down();
        assert!(matches!(connection.to_send(), Pending::Nothing), "one FIN");
        assert!(connection.wants_read(), "reads on after the FIN");
        connection.received(GET_SMALL);
        assert!(matches!(connection.to_send(), Pending::Nothing), "and answers nothing more");
        assert!(!connection.is_finished());
        connection.received_eof();
        assert!(connection.is_finished(), "over once the client has closed too");
    }

    /// As [`drain`], the way a loop that can only write bytes does (`to_send_bytes`).
    fn drain_bytes(connection: &mut Connection, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let pending = connection.to_send_bytes().unwrap();
            if pending.is_empty() {
                return out;
            }
            let count = pending.len().min(chunk);
            out.extend_from_slice(&pending[..count]);
            connection.sent(count);
        }
    }

    /// Splits a byte stream of responses into (status line, body) pairs using Content-Length.
    fn responses(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        while !bytes.is_empty() {
            let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
            let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .map(|value| value.trim().parse().unwrap())
                .unwrap();
            let body_length = if head.contains("X-Head") { 0 } else { length };
            found.push((
                head.lines().next().unwrap().to_string(),
                bytes[end..end + body_length].to_vec(),
            ));
            bytes = &bytes[end + body_length..];
        }
        found
    }

    const GET_SMALL: &[u8] = b"GET /small.txt HTTP/1.1\r\nHost: h\r\n\r\n";

    #[test]
    fn one_byte_at_a_time() {
        let f = fixture();
        let mut connection = connection(&f);
        for &byte in &GET_SMALL[..GET_SMALL.len() - 1] {
            connection.received(&[byte]);
            assert!(!connection.wants_write(), "nothing to answer before the head is complete");
        }
        connection.received(&GET_SMALL[GET_SMALL.len() - 1..]);
        let out = drain(&mut connection, usize::MAX);
        assert_eq!(responses(&out), vec![("HTTP/1.1 200 OK".into(), b"hello".to_vec())]);
        assert!(!connection.is_finished(), "keep-alive");
        assert_eq!(
            connection.input.capacity() + connection.output.capacity(),
            0,
            "idle holds no buffers"
        );
    }

    #[test]
    fn pipelined_requests_in_one_read_are_answered_in_order() {
        let f = fixture();
        let mut connection = connection(&f);
        let bytes = [GET_SMALL, b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", GET_SMALL].concat();
        connection.received(&bytes);
        let statuses: Vec<String> =
            responses(&drain(&mut connection, usize::MAX)).into_iter().map(|r| r.0).collect();
        assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"]);
    }

    #[test]
    fn short_writes_resume_where_they_stopped() {
        for drain in [drain, drain_bytes] {
            let f = fixture();
            let mut connection = connection(&f);
            connection.received(b"GET /large.bin HTTP/1.1\r\nHost: h\r\n\r\n");
            connection.received(GET_SMALL);
            let out = drain(&mut connection, 1000);
            let found = responses(&out);
            assert_eq!(found.len(), 2);
            assert_eq!(found[0].1, f.large);
            assert_eq!(found[1].1, b"hello");
        }
    }

    #[test]
    fn an_empty_file_is_its_head_alone_and_the_connection_goes_on() {
        let f = fixture();
        std::fs::write(f._dir.path().join("empty.txt"), "").unwrap();
        let mut connection = connection(&f);
        connection.received(b"GET /empty.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        let Pending::Bytes(head) = connection.to_send() else { panic!("the head") };
        let text = String::from_utf8_lossy(head);
        assert!(text.contains("Content-Length: 0\r\n") && text.ends_with("\r\n\r\n"), "{text}");
        let count = head.len();
        connection.sent(count);
        assert!(matches!(connection.to_send(), Pending::Nothing), "nothing after the head");
        assert!(!connection.wants_write() && connection.wants_read());
    }

    #[test]
    fn a_small_file_leaves_with_its_head_a_large_one_after_it() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(GET_SMALL);
        let Pending::Bytes(bytes) = connection.to_send() else { panic!("bytes first") };
        assert!(bytes.ends_with(b"\r\n\r\nhello"), "head and body in one write");
        let count = bytes.len();
        connection.sent(count);
        assert!(matches!(connection.to_send(), Pending::Nothing));

        connection.received(b"GET /large.bin HTTP/1.1\r\nHost: h\r\n\r\n");
        let Pending::Bytes(head) = connection.to_send() else { panic!("the head first") };
        assert!(head.ends_with(b"\r\n\r\n"), "nothing of the file read into memory");
        let count = head.len();
        connection.sent(count);
        let Pending::File(_, remaining) = connection.to_send() else { panic!("then the file") };
        assert_eq!(remaining, f.large.len(), "the whole body, for sendfile");
    }

    #[test]
    fn a_large_file_is_streamed_in_bounded_chunks() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /large.bin HTTP/1.1\r\nHost: h\r\n\r\n");
        let mut body = Vec::new();
        while connection.wants_write() {
            let pending = connection.to_send_bytes().unwrap();
            assert!(
                pending.len() <= FILE_CHUNK_BYTES + 200,
                "at most a chunk (and a head) in memory"
            );
            body.extend_from_slice(pending);
            let count = pending.len();
            connection.sent(count);
        }
        assert_eq!(responses(&body)[0].1, f.large);
    }

    #[test]
    fn nothing_more_is_read_while_a_response_waits() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /large.bin HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(!connection.wants_read());
        drain(&mut connection, usize::MAX);
        assert!(connection.wants_read());
    }

    #[test]
    fn a_body_is_skipped_across_reads() {
        let f = fixture();
        let mut connection = connection(&f);
        connection
            .received(b"GET /small.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234");
        connection.received(b"56789GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
        let statuses: Vec<String> =
            responses(&drain(&mut connection, usize::MAX)).into_iter().map(|r| r.0).collect();
        assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]);
    }

    #[test]
    fn a_chunked_body_is_read_past_across_reads_and_the_next_request_answered() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(
            b"GET /small.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        );
        assert!(connection.wants_write(), "answered before its body has all come");
        connection.received(b"lo\r\n0\r\nX-T: 1\r\n\r\nGET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
        let statuses: Vec<String> =
            responses(&drain(&mut connection, usize::MAX)).into_iter().map(|r| r.0).collect();
        assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]);
        assert!(!connection.is_finished(), "the connection goes on");
    }

    #[test]
    fn other_methods_are_refused_and_the_connection_goes_on() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(
            &[
                &b"POST /small.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"[..],
                b"BREW /small.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
                GET_SMALL,
            ]
            .concat(),
        );
        let found = responses(&drain(&mut connection, usize::MAX));
        let statuses: Vec<&str> = found.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            statuses,
            ["HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 501 Not Implemented", "HTTP/1.1 200 OK"]
        );
        assert!(!connection.is_finished());
    }

    #[test]
    fn a_broken_chunked_body_is_a_400_after_the_response_and_the_end() {
        let f = fixture();
        let mut connection = connection(&f);
        let chunked = b"GET /small.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        connection.received(&[&chunked[..], b"zz\r\n", GET_SMALL].concat());
        let statuses: Vec<String> =
            responses(&drain(&mut connection, usize::MAX)).into_iter().map(|r| r.0).collect();
        assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"]);
        assert_lingering_close(&mut connection);
    }

    #[test]
    fn a_range_of_a_large_file_is_sent_from_its_offset_either_way() {
        let f = fixture();
        let start = FILE_CHUNK_BYTES + 5;
        let end = start + FILE_CHUNK_BYTES * 2 - 1;
        let request =
            format!("GET /large.bin HTTP/1.1\r\nHost: h\r\nRange: bytes={start}-{end}\r\n\r\n");
        for drained in [drain, drain_bytes] {
            let mut connection = connection(&f);
            connection.received(&[request.as_bytes(), GET_SMALL].concat());
            let found = responses(&drained(&mut connection, 10_000));
            assert_eq!(found[0].0, "HTTP/1.1 206 Partial Content");
            assert!(found[0].1 == f.large[start..=end], "just those bytes");
            assert_eq!(found[1], ("HTTP/1.1 200 OK".into(), b"hello".to_vec()));
        }
    }

    #[test]
    fn bad_input_is_answered_then_the_connection_ends() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET / HTTP/1.1\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        let found = responses(&drain(&mut connection, usize::MAX));
        assert_eq!(found.len(), 1, "nothing after the error is answered");
        assert_eq!(found[0].0, "HTTP/1.1 400 Bad Request");
        assert_lingering_close(&mut connection);
    }

    #[test]
    fn connection_close_ends_after_the_response() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /small.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        connection.received(GET_SMALL);
        let out = drain(&mut connection, usize::MAX);
        assert_eq!(responses(&out).len(), 1);
        assert!(String::from_utf8_lossy(&out).contains("Connection: close\r\n"));
        assert!(connection.is_finished());
    }

    #[test]
    fn a_last_request_whose_body_is_still_coming_ends_with_a_lingering_close() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /small.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 9\r\n\r\nbody");
        assert_eq!(responses(&drain(&mut connection, usize::MAX)).len(), 1);
        assert_lingering_close(&mut connection);
    }

    #[test]
    fn a_lingering_close_ends_at_its_deadline_however_much_still_comes() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET / HTTP/1.1\r\n\r\n");
        drain(&mut connection, usize::MAX);
        connection.shut_down();
        let fin = connection.shut_down.unwrap();
        assert!(connection.deadline() <= fin + LINGER, "a quiet client is waited for briefly");
        let cap = fin + connection.settings.timeout;
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(20));
            connection.received(b"more and more");
            assert!(connection.deadline() > fin + LINGER, "bytes put the end off a little");
        }
        assert!(connection.deadline() <= cap, "but never past the timeout after the FIN");
        connection.timed_out();
        assert!(matches!(connection.to_send(), Pending::Nothing));
        assert!(connection.is_finished());
    }

    #[test]
    fn keep_alive_off_closes_after_every_response() {
        let f = fixture();
        let mut connection = Connection::new(
            "127.0.0.1:1".parse().unwrap(),
            f.site.clone(),
            settings(KeepAlive::Off),
        );
        connection.received(&[GET_SMALL, GET_SMALL].concat());
        let out = drain(&mut connection, usize::MAX);
        assert_eq!(responses(&out).len(), 1);
        assert!(String::from_utf8_lossy(&out).contains("Connection: close\r\n"));
        assert_lingering_close(&mut connection);
    }

    #[test]
    fn head_request_sends_no_body() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"HEAD /large.bin HTTP/1.1\r\nHost: h\r\n\r\n");
        let out = drain(&mut connection, usize::MAX);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("\r\n\r\n"));
        assert!(text.contains(&format!("Content-Length: {}\r\n", f.large.len())));
    }

    #[test]
    fn eof_still_sends_what_is_queued() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(GET_SMALL);
        connection.received_eof();
        assert!(!connection.is_finished());
        assert_eq!(responses(&drain(&mut connection, usize::MAX)).len(), 1);
        assert!(connection.is_finished());
    }

    #[test]
    fn a_stalled_head_gets_408_and_an_idle_connection_just_ends() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /small");
        assert!(connection.deadline() > Instant::now());
        connection.timed_out();
        let out = drain(&mut connection, usize::MAX);
        assert!(out.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
        assert_lingering_close(&mut connection);

        let mut idle = self::connection(&f);
        idle.timed_out();
        assert!(drain(&mut idle, usize::MAX).is_empty());
        assert!(idle.is_finished());
    }

    #[test]
    fn the_head_timeout_runs_from_the_first_byte() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /sm");
        let first = connection.deadline();
        std::thread::sleep(Duration::from_millis(5));
        connection.received(b"all");
        assert_eq!(connection.deadline(), first, "trickling bytes do not extend the deadline");
        connection.received(b".txt HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(connection.deadline() > first, "a complete request resets it");
    }

    /// A body that trickles in is held to the same timeout as a head: a slowloris sending
    /// one byte of its body every few seconds does not keep its connection for ever.
    #[test]
    fn a_slow_body_runs_out_of_time_like_a_slow_head() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /small.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0");
        drain(&mut connection, usize::MAX);
        let first = connection.deadline();
        std::thread::sleep(Duration::from_millis(5));
        connection.received(b"1");
        assert_eq!(connection.deadline(), first, "body bytes do not extend the deadline");
        connection.timed_out();
        let out = drain(&mut connection, usize::MAX);
        assert!(out.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
        assert_lingering_close(&mut connection);

        // The whole body in time: the clock stops, and the idle timeout takes over.
        let mut connection = self::connection(&f);
        connection.received(b"GET /small.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n0");
        drain(&mut connection, usize::MAX);
        connection.received(b"1");
        connection.timed_out();
        assert!(drain(&mut connection, usize::MAX).is_empty(), "an idle connection just ends");
    }

    #[test]
    fn limits_hold_when_the_head_trickles_in() {
        let f = fixture();
        let mut connection = connection(&f);
        connection.received(b"GET /");
        for _ in 0..MAX_REQUEST_LINE_BYTES / 100 + 1 {
            connection.received(&[b'a'; 100]);
        }
        let out = drain(&mut connection, usize::MAX);
        assert!(
            out.starts_with(b"HTTP/1.1 414 URI Too Long\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_lingering_close(&mut connection);
    }
}
