//! The command line every stage shares, and how start-up errors are reported.
//!
//! ```text
//! stageNN [--host HOST] [--port PORT] [--root DIR] [--quiet] [--timeout SECONDS] [--backlog N]
//! ```
//!
//! plus `--help`, `--version` and a stage's own flags ([`Config::parse_with`]). Each stage has
//! its own default port (8000 + its number), so all of them can run at once.

use std::fmt::Display;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process;
use std::time::Duration;

use clap::{Args, Command, FromArgMatches, Parser};

use crate::connection::{KeepAlive, Settings};
use crate::net::{self, LISTEN_BACKLOG};
use crate::site::AccessLog;

/// How long an idle keep-alive connection is kept, and how long a request may take to arrive,
/// in seconds. Long enough for a person typing into `nc`; short enough that a slowloris
/// client ties up a process, thread or coroutine only briefly.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 10;

/// The settings every stage takes from its command line.
#[derive(Parser, Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free one (the first line printed says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Directory to serve (by default the demo site, www/ in the workspace).
    #[arg(long, value_name = "DIR", default_value_os_t = default_root())]
    pub root: PathBuf,
    /// Do not write the access log to stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seconds an idle connection, or a request arriving slowly, is given before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Connections the kernel keeps, handshake done, until the server accepts them: the
    /// backlog of listen(2) (Linux caps it at net.core.somaxconn). Try 2 in the backlog lab.
    #[arg(long, value_name = "N", default_value_t = LISTEN_BACKLOG, value_parser = clap::value_parser!(i32).range(1..=65535))]
    pub backlog: i32,
}

/// The demo site, `www/` in the workspace, found wherever the command is started from.
fn default_root() -> PathBuf {
    let common = Path::new(env!("CARGO_MANIFEST_DIR"));
    common.parent().map_or_else(|| common.join("www"), |workspace| workspace.join("www"))
}

/// The flags of a stage that has none of its own.
#[derive(Args, Debug, Clone, Copy)]
pub struct NoFlags {}

impl Config {
    /// Parses the command line of the stage `command` describes (its name, version and
    /// one-line description: pass `common::command!()`, which reads them from the stage's
    /// Cargo.toml); `default_port` is the stage's own (8001 for stage01, ...). `--help`,
    /// `--version` and bad arguments print their message and exit, as command-line tools do.
    pub fn parse(command: Command, default_port: u16) -> Config {
        Config::parse_with::<NoFlags>(command, default_port).0
    }

    /// Like [`Config::parse`], with a stage's own flags `F` added to the shared ones.
    pub fn parse_with<F: Args + FromArgMatches>(
        command: Command,
        default_port: u16,
    ) -> (Config, F) {
        // The flags' doc comments would replace the stage's description: put it back.
        let about = command.get_about().cloned().unwrap_or_default();
        let command = F::augment_args(Config::augment_args(command))
            .about(about)
            .mut_arg("port", |port| port.default_value(default_port.to_string()));
        let mut matches = command.get_matches();
        let parsed = Config::from_arg_matches_mut(&mut matches)
            .and_then(|config| Ok((config, F::from_arg_matches_mut(&mut matches)?)));
        parsed.unwrap_or_else(|error| error.exit())
    }

    /// The listening socket on `--host` and `--port`, with `--backlog`: see [`net::listen`],
    /// which also prints the first line, `listening on http://HOST:PORT`.
    ///
    /// # Errors
    ///
    /// As [`net::listen`]: the message says which flag to change.
    pub fn listen(&self) -> io::Result<TcpListener> {
        net::listen(&self.host, self.port, self.backlog)
    }

    /// `count` listening sockets sharing `--host` and `--port` with `SO_REUSEPORT`, one per
    /// event loop: see [`net::listen_reuseport`].
    ///
    /// # Errors
    ///
    /// As [`net::listen_reuseport`].
    pub fn listen_reuseport(&self, count: usize) -> io::Result<Vec<TcpListener>> {
        net::listen_reuseport(&self.host, self.port, self.backlog, count)
    }

    /// How this server's connections behave: `keep_alive` is the stage's own choice, the
    /// timeout and the access log come from the command line.
    pub fn settings(&self, keep_alive: KeepAlive) -> Settings {
        Settings {
            keep_alive,
            timeout: Duration::from_secs(self.timeout),
            log: AccessLog::new(!self.quiet),
        }
    }
}

/// Ends a server that cannot start, the way command-line tools do: one line `error: ...` on
/// stderr and exit status 1, rather than a panic or a debug dump of the error.
pub trait OrExit<T> {
    /// The value, or the end of the process with the error's message.
    fn or_exit(self) -> T;
}

impl<T, E: Display> OrExit<T> for Result<T, E> {
    fn or_exit(self) -> T {
        self.unwrap_or_else(|error| {
            eprintln!("error: {error}");
            process::exit(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn defaults() {
        let config = Config::parse_from(["stage"]);
        assert_eq!((config.host.as_str(), config.quiet), ("127.0.0.1", false));
        assert!(config.root.join("index.html").exists(), "the default root is www/");
        assert!(!config.root.to_string_lossy().contains(".."), "{}", config.root.display());
        assert_eq!(config.timeout, DEFAULT_TIMEOUT_SECONDS);
        assert_eq!(config.backlog, LISTEN_BACKLOG);
    }

    #[test]
    fn flags() {
        let config = Config::parse_from([
            "stage",
            "--port",
            "0",
            "--root",
            "/tmp",
            "--quiet",
            "--timeout",
            "3",
            "--backlog",
            "2",
        ]);
        assert_eq!((config.port, config.quiet, config.timeout, config.backlog), (0, true, 3, 2));
        assert_eq!(config.root, PathBuf::from("/tmp"));
        let settings = config.settings(KeepAlive::Off);
        assert_eq!(
            (settings.keep_alive, settings.timeout),
            (KeepAlive::Off, Duration::from_secs(3))
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let command = || Config::command();
        assert!(command().try_get_matches_from(["stage", "--port", "70000"]).is_err());
        assert!(command().try_get_matches_from(["stage", "--timeout", "0"]).is_err());
        assert!(command().try_get_matches_from(["stage", "--backlog", "0"]).is_err());
        assert!(command().try_get_matches_from(["stage", "--bogus"]).is_err());
    }
}
