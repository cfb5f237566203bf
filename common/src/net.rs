//! The listening socket, and what can go wrong around `accept`: the socket matters every
//! stage shares, whatever its model.

use std::io;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use crate::config::Config;

/// Binds the listening socket (socket, bind, listen) on `--host` and `--port`, and prints
/// `listening on http://HOST:PORT`: the first line on stdout, with the real port, which
/// tests and scripts read (`--port 0` lets the kernel pick one).
///
/// `TcpListener::bind` sets `SO_REUSEADDR` on Unix, so a restarted server is not refused
/// because of old connections of its own still in TIME-WAIT.
///
/// # Errors
///
/// When the address cannot be bound; the message says what to do (most often: another server
/// has the port, so pick another `--port`).
pub fn listen(config: &Config) -> io::Result<TcpListener> {
    let (host, port) = (config.host.as_str(), config.port);
    let listener = TcpListener::bind((host, port)).map_err(|error| {
        let message = if error.kind() == io::ErrorKind::AddrInUse {
            format!("{host}:{port} is already in use; stop the other server or pick another --port")
        } else {
            format!("cannot listen on {host}:{port} ({error}); check --host and --port")
        };
        io::Error::new(error.kind(), message)
    })?;
    println!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}

/// How long a server stops accepting after running out of file descriptors, so that open
/// connections can finish and free some instead of a loop retrying a failing `accept`.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Whether an error means the process (EMFILE) or the whole system (ENFILE) is out of file
/// descriptors: a passing shortage of the server's, not a fault of the client's.
pub fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Logs a failed `accept`. When the process is [out of descriptors](out_of_descriptors), it
/// also sleeps [`ACCEPT_PAUSE`]: the waiting client stays queued in the kernel, and retrying at
/// once would only fail again, in a busy loop, until some connection closes. (The one-thread
/// stages 06 and 07 must not sleep; they pause accepting instead.)
pub fn accept_failed(error: &io::Error) {
    eprintln!("accept failed: {error}");
    if out_of_descriptors(error) {
        thread::sleep(ACCEPT_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(port: u16) -> Config {
        Config::parse_from(["stage", "--port", &port.to_string()])
    }

    #[test]
    fn port_zero_gets_a_real_port() {
        let listener = listen(&config(0)).unwrap();
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn a_busy_port_is_an_error_naming_the_flag() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let error = listen(&config(taken.local_addr().unwrap().port())).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().ends_with("pick another --port"), "{error}");
    }

    #[test]
    fn descriptor_shortage_is_recognised() {
        assert!(out_of_descriptors(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(out_of_descriptors(&io::Error::from_raw_os_error(libc::ENFILE)));
        assert!(!out_of_descriptors(&io::Error::from_raw_os_error(libc::ECONNABORTED)));
    }
}
