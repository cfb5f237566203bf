//! The listening socket, what can go wrong around `accept`, and sending a file with
//! `sendfile(2)`: the socket matters every stage shares, whatever its model.

use std::fs::File;
use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd};
use std::ptr;
use std::thread;
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};

/// Re-exported for the stages, which ask it of a failed `accept`.
pub use crate::status::out_of_descriptors;

/// How many connections the kernel queues, handshake done, until the server accepts them:
/// the `backlog` of `listen(2)`, unless `--backlog` says otherwise. 128 is what Rust's
/// `TcpListener::bind` asks for; Linux caps it at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: i32 = 128;

/// Makes the listening socket on `--host` and `--port` (socket, setsockopt, bind, listen with
/// `--backlog`), and prints `listening on http://HOST:PORT`: the first line on stdout, with the
/// real port, which tests and scripts read (`--port 0` lets the kernel pick one).
///
/// Built by hand (with socket2) rather than by `TcpListener::bind`, to set two options first:
/// - `SO_REUSEADDR`, so a restarted server is not refused because of old connections of its
///   own still in TIME-WAIT (`TcpListener::bind` sets it too);
/// - `TCP_NODELAY`, which every accepted socket inherits from the listener on Linux: a
///   response's last small packet is sent at once instead of waiting, by Nagle's algorithm,
///   for the client to acknowledge the previous ones (up to 40 ms with a delayed ACK). Set
///   here once, it costs no system call per connection.
///
/// # Errors
///
/// When the address cannot be bound; the message says what to do (most often: another server
/// has the port, so pick another `--port`).
pub fn listen(host: &str, port: u16, backlog: i32) -> io::Result<TcpListener> {
    let listener = bind(host, port, backlog, false)?;
    println!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}

/// Makes `count` listening sockets on the same `--host` and `--port`, one per event loop, each
/// with `SO_REUSEPORT` (Linux 3.9+): the kernel then spreads new connections between them by a
/// hash of each connection's addresses and ports, and each socket has its own accept queue of
/// `--backlog`. Otherwise as [`listen`]: the same options, the same one first line. With
/// `--port 0` the first socket gets a free port from the kernel and the others bind that one.
///
/// A port held by a socket without `SO_REUSEPORT` (any other server) is busy, as for
/// [`listen`]. A second copy of this server run by the same user is *not* refused: its sockets
/// join the group, and the kernel shares connections between the two servers.
///
/// # Errors
///
/// As [`listen`].
pub fn listen_reuseport(
    host: &str,
    port: u16,
    backlog: i32,
    count: usize,
) -> io::Result<Vec<TcpListener>> {
    let first = bind(host, port, backlog, true)?;
    let port = first.local_addr()?.port();
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(bind(host, port, backlog, true)?);
    }
    println!("listening on http://{}", listeners[0].local_addr()?);
    Ok(listeners)
}

/// One listening socket on `--host` and `port`, with the options of [`listen`] (and
/// `SO_REUSEPORT` when `reuse_port`); errors say which flag to change.
fn bind(host: &str, port: u16, backlog: i32, reuse_port: bool) -> io::Result<TcpListener> {
    let failed = |error: io::Error| {
        let message = if error.kind() == io::ErrorKind::AddrInUse {
            format!("{host}:{port} is already in use; stop the other server or pick another --port")
        } else {
            format!("cannot listen on {host}:{port} ({error}); check --host and --port")
        };
        io::Error::new(error.kind(), message)
    };
    let address = (host, port)
        .to_socket_addrs()
        .and_then(|mut addresses| addresses.next().ok_or(io::ErrorKind::NotFound.into()))
        .map_err(failed)?;
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_tcp_nodelay(true)?;
    socket.bind(&address.into()).and_then(|()| socket.listen(backlog)).map_err(failed)?;
    Ok(TcpListener::from(socket))
}

/// Accepts a connection as a non-blocking socket from the start: `accept4` with
/// `SOCK_NONBLOCK`, one system call where `accept` then `set_nonblocking` (an `ioctl`) are
/// two. For the one-thread stages, whose every socket must be non-blocking.
///
/// # Errors
///
/// As `accept`: `WouldBlock` when no connection is waiting on a non-blocking listener, and
/// the errors of a failed accept ([`accept_failed`], [`out_of_descriptors`]).
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let (socket, address) = SockRef::from(listener).accept4(flags)?;
    let peer = address.as_socket().ok_or_else(|| io::Error::other("peer is not an IP socket"))?;
    Ok((TcpStream::from(socket), peer))
}

/// Sends up to `count` bytes of `file`, from its current position (which moves on by what was
/// sent), to `socket` with `sendfile(2)`: the kernel moves the bytes from the page cache into
/// the socket itself, so they are never copied into this process and out again, and no
/// buffer of ours holds them. This is how nginx sends files (`sendfile on`). Returns how many
/// bytes the kernel took, like `write`: fewer than `count` when the send buffer filled.
///
/// # Errors
///
/// As `write` on the socket: `WouldBlock` when a non-blocking socket's send buffer is full,
/// `Interrupted` when a signal came first. `UnexpectedEof` when the file ends before `count`
/// bytes (it shrank after its length was announced).
pub fn send_file(socket: &impl AsFd, file: &File, count: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the whole call (borrowed), and a null offset
    // pointer tells the kernel to use and move the file's own position: no memory of ours is
    // read or written.
    let sent = unsafe {
        libc::sendfile(socket.as_fd().as_raw_fd(), file.as_raw_fd(), ptr::null_mut(), count)
    };
    match sent {
        -1 => Err(io::Error::last_os_error()),
        0 if count > 0 => {
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent"))
        }
        sent => Ok(sent as usize),
    }
}

/// How long the kernel holds a new connection that has sent nothing yet, with
/// [`defer_accept`], before handing it to `accept` all the same.
pub const DEFER_ACCEPT_SECONDS: libc::c_int = 1;

/// Asks the kernel to report a new connection only once its first bytes (the request) have
/// arrived: Linux's `TCP_DEFER_ACCEPT`, nginx's `listen ... deferred`. A server that reads
/// right after `accept` then finds the request there instead of an empty socket. A client
/// that connects and sends nothing waits in the kernel (SYN-RECV, as the server sees it) for
/// [`DEFER_ACCEPT_SECONDS`], and is then accepted like any other.
///
/// # Errors
///
/// When the option cannot be set (not a TCP socket, or not Linux).
pub fn defer_accept(listener: &TcpListener) -> io::Result<()> {
    let seconds = DEFER_ACCEPT_SECONDS;
    // SAFETY: setsockopt reads exactly `size_of::<c_int>()` bytes from `&seconds`, a live
    // c_int, and only during the call; the descriptor is the listener's, which stays open
    // while `listener` is borrowed. (Neither nix nor socket2 wraps this option.)
    let result = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const seconds).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// How long a server stops accepting after running out of file descriptors, so that open
/// connections can finish and free some instead of a loop retrying a failing `accept`.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What a server does about a failed `accept` when it must not sleep (an event loop, a task):
/// logs it, and says how long to stop accepting. When the process is [out of
/// descriptors](out_of_descriptors), the waiting client stays queued in the kernel and trying
/// again at once would only fail again, in a busy loop, until some connection closes:
/// `Some(ACCEPT_PAUSE)`. Any other failure concerns one client (it may have given up already):
/// `None`, go on accepting.
pub fn pause_after_failed_accept(error: &io::Error) -> Option<Duration> {
    if out_of_descriptors(error) {
        eprintln!("accept failed: {error}; pausing for {ACCEPT_PAUSE:?}");
        Some(ACCEPT_PAUSE)
    } else {
        eprintln!("accept failed: {error}");
        None
    }
}

/// What a blocking stage does about a failed `accept`: as [`pause_after_failed_accept`], and
/// the pause is a sleep of the accepting thread (which has nothing else to do meanwhile).
pub fn accept_failed(error: &io::Error) {
    if let Some(pause) = pause_after_failed_accept(error) {
        thread::sleep(pause);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek};

    use super::*;

    #[test]
    fn send_file_sends_from_the_file_position_and_reports_a_shrunk_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..100_000).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();

        let file = File::open(&path).unwrap();
        let mut sent = 0;
        while sent < data.len() {
            sent += send_file(&server, &file, data.len() - sent).unwrap();
            // The file's own position moved on by what was sent.
            assert_eq!((&file).stream_position().unwrap(), sent as u64);
        }
        let error = send_file(&server, &file, 1).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "at the end: the file shrank");
        drop(server);
        let mut received = Vec::new();
        client.read_to_end(&mut received).unwrap();
        assert!(received == data, "every byte, in order");
    }

    #[test]
    fn port_zero_gets_a_real_port() {
        let listener = listen("127.0.0.1", 0, LISTEN_BACKLOG).unwrap();
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn a_busy_port_is_an_error_naming_the_flag() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let error =
            listen("127.0.0.1", taken.local_addr().unwrap().port(), LISTEN_BACKLOG).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().ends_with("pick another --port"), "{error}");
    }

    #[test]
    fn reuseport_listeners_share_one_port_and_a_plain_socket_still_makes_it_busy() {
        let listeners = listen_reuseport("127.0.0.1", 0, LISTEN_BACKLOG, 3).unwrap();
        let port = listeners[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert!(listeners.iter().all(|listener| listener.local_addr().unwrap().port() == port));

        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let error =
            listen_reuseport("127.0.0.1", taken.local_addr().unwrap().port(), LISTEN_BACKLOG, 2)
                .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().ends_with("pick another --port"), "{error}");
    }

    #[test]
    fn accepted_sockets_inherit_nodelay_and_may_be_born_non_blocking() {
        let listener = listen("127.0.0.1", 0, LISTEN_BACKLOG).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY comes from the listener");

        listener.set_nonblocking(true).unwrap();
        let error = accept_nonblocking(&listener).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock, "nobody waiting");
        let _second = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut stream, _) = accept_nonblocking(&listener).unwrap();
        let error = std::io::Read::read(&mut stream, &mut [0; 8]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock, "the socket is non-blocking");
        assert!(stream.nodelay().unwrap());
    }

    #[test]
    fn a_deferred_listener_reports_a_connection_once_it_has_sent_something() {
        let listener = listen("127.0.0.1", 0, LISTEN_BACKLOG).unwrap();
        listener.set_nonblocking(true).unwrap();
        defer_accept(&listener).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let error = accept_nonblocking(&listener).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock, "held while it has sent nothing");
        std::io::Write::write_all(&mut client, b"G").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(accept_nonblocking(&listener).is_ok(), "reported once its first byte is there");
    }

    #[test]
    fn descriptor_shortage_is_recognised() {
        assert!(out_of_descriptors(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(out_of_descriptors(&io::Error::from_raw_os_error(libc::ENFILE)));
        assert!(!out_of_descriptors(&io::Error::from_raw_os_error(libc::ECONNABORTED)));
    }
}
