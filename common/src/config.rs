//! The command line every stage shares, and opening the listening socket.
//!
//! ```text
//! stageNN [--host HOST] [--port PORT] [--root DIR] [--quiet] [--timeout SECONDS]
//! ```
//!
//! Each stage has its own default port (8000 + its number), so all of them can run at once.
//! A stage with a knob of its own adds its flags with [`Config::parse_with`].

use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process;
use std::thread;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser};

/// The demo site, `www/` in the workspace, found wherever the command is started from.
pub const DEFAULT_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../www");

/// How long an idle keep-alive connection is kept, and how long a request head may take to
/// arrive, in seconds. Long enough for a person typing into `nc`; short enough that a
/// slowloris client ties up a process, thread or coroutine only briefly.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 10;

/// The settings every stage takes from its command line.
#[derive(Parser, Debug, Clone)]
#[command(about = "An HTTP/1.1 static-file server (one stage of the HTTP server stages course).")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free one (the first line printed says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Directory to serve.
    #[arg(long, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Do not write the access log to stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seconds an idle connection, or a request head arriving slowly, is given before it is closed.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

/// The flags of a stage that has none of its own, for [`Config::parse_with`].
#[derive(Args, Debug, Clone, Copy)]
pub struct NoFlags {}

impl Config {
    /// Parses the command line; `default_port` is the stage's own (8001 for stage01, ...).
    /// `--help` and bad arguments print their message and exit, as command-line tools do.
    pub fn parse(default_port: u16) -> Config {
        Config::parse_with::<NoFlags>(default_port).0
    }

    /// Parses the command line with a stage's own flags `F` added to the shared ones.
    pub fn parse_with<F: Args + FromArgMatches>(default_port: u16) -> (Config, F) {
        let command = F::augment_args(Config::command())
            .mut_arg("port", |port| port.default_value(default_port.to_string()));
        let mut matches = command.get_matches();
        let parsed = Config::from_arg_matches_mut(&mut matches)
            .and_then(|config| Ok((config, F::from_arg_matches_mut(&mut matches)?)));
        parsed.unwrap_or_else(|error| error.exit())
    }

    /// Binds the listening socket and prints `listening on http://HOST:PORT`, the first line
    /// on stdout, with the real port (tests and scripts read it).
    ///
    /// When the address cannot be bound (most often: another server has the port) this
    /// prints a one-line error naming `--port` and exits with status 1: there is nothing
    /// else a server can do. `TcpListener::bind` sets `SO_REUSEADDR` on Unix, so a restarted
    /// server is not refused because of old connections in TIME-WAIT.
    pub fn listen(&self) -> TcpListener {
        let address = (self.host.as_str(), self.port);
        match TcpListener::bind(address).and_then(|listener| Ok((listener.local_addr()?, listener)))
        {
            Ok((local, listener)) => {
                println!("listening on http://{local}");
                listener
            }
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                eprintln!(
                    "error: {}:{} is already in use; stop the other server or pick another --port",
                    self.host, self.port
                );
                process::exit(1);
            }
            Err(error) => {
                eprintln!(
                    "error: cannot listen on {}:{} ({error}); check --host and --port",
                    self.host, self.port
                );
                process::exit(1);
            }
        }
    }
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

    fn parse_from(args: &[&str], default_port: u16) -> Config {
        let command =
            Config::command().mut_arg("port", |port| port.default_value(default_port.to_string()));
        let mut matches = command.try_get_matches_from(args).unwrap();
        Config::from_arg_matches_mut(&mut matches).unwrap()
    }

    #[test]
    fn defaults() {
        let config = parse_from(&["stage"], 8002);
        assert_eq!((config.host.as_str(), config.port, config.quiet), ("127.0.0.1", 8002, false));
        assert!(config.root.join("index.html").exists(), "the default root is www/");
        assert_eq!(config.timeout, DEFAULT_TIMEOUT_SECONDS);
    }

    #[test]
    fn flags() {
        let config = parse_from(
            &["stage", "--port", "0", "--root", "/tmp", "--quiet", "--timeout", "3"],
            8002,
        );
        assert_eq!((config.port, config.quiet, config.timeout), (0, true, 3));
        assert_eq!(config.root, PathBuf::from("/tmp"));
    }

    #[test]
    fn bad_values_are_refused() {
        let command = || Config::command();
        assert!(command().try_get_matches_from(["stage", "--port", "70000"]).is_err());
        assert!(command().try_get_matches_from(["stage", "--timeout", "0"]).is_err());
        assert!(command().try_get_matches_from(["stage", "--bogus"]).is_err());
    }

    #[test]
    fn listen_on_port_zero_gets_a_real_port() {
        let config = parse_from(&["stage", "--port", "0"], 8002);
        let listener = config.listen();
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }
}
