//! The servers under test (a stage, a stage's variant, or nginx), and starting them pinned to
//! one core, with testkit's [`Server`], which also reads what they cost from /proc.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{Server, Stage};

pub use bench::cores::pin;

/// nginx's settings in the bench, as the results describe them (the configuration written by
/// [`Running::nginx`] holds exactly these, plus paths).
pub const NGINX_SETTINGS: &str = "nginx, the reference: one worker process and no master \
    (`worker_processes 1; master_process off`), `access_log off`, `sendfile on`, `tcp_nodelay on`, \
    `keepalive_requests 100000000`, `keepalive_timeout 120s`, `listen ... backlog=1024`, the same \
    document root. `tcp_nopush` stays off, its default: with it on, nginx answered pipelined \
    requests about 8 times more slowly here, which would make the reference unfair to nginx.";

/// A server the bench measures, and its binary.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which server it is.
    pub kind: Kind,
    /// The binary that runs it.
    pub binary: PathBuf,
}

/// One of a stage's examples, measured beside it in the workloads that show what it changes.
#[derive(Debug)]
pub struct Variant {
    /// The stage it is an example of.
    pub stage: &'static str,
    /// Its name under the stage's `examples/`.
    pub example: &'static str,
    /// Its row's name after the stage's: `stage07_epoll/tuned`.
    pub name: &'static str,
    /// The workloads it runs (of those chosen for the run).
    pub workloads: &'static [&'static str],
    /// Whether it is also measured holding more and more idle connections.
    pub scales: bool,
    /// Whether it is measured on two cores only, with a loop per core (`--workers 2`) where
    /// its stage has one: what it changes shows only there.
    pub two_cores: bool,
}

/// The variants: stage07 tuned for the cost of a connection (`close-50` shows what the tuning
/// buys, `small-50` that keep-alive load does not notice it), stage07 waiting with select(2)
/// and poll(2) instead of epoll (under keep-alive load, and holding more and more idle
/// connections), and stage10's exercise done, a ring per core, on two cores.
pub const VARIANTS: [Variant; 4] = [
    Variant {
        stage: "stage07_epoll",
        example: "tuned",
        name: "tuned",
        workloads: &["small-50", "close-50"],
        scales: false,
        two_cores: false,
    },
    Variant {
        stage: "stage07_epoll",
        example: "poll",
        name: "poll",
        workloads: &["small-50", "small-500"],
        scales: true,
        two_cores: false,
    },
    Variant {
        stage: "stage07_epoll",
        example: "select",
        name: "select",
        workloads: &["small-50", "small-500"],
        scales: true,
        two_cores: false,
    },
    Variant {
        stage: "stage10_uring",
        example: "stage10_solution",
        name: "ring-per-core",
        workloads: &["small-50", "close-50"],
        scales: false,
        two_cores: true,
    },
];

/// The variants of `stage` measured on one core (`two_cores` false) or on two.
pub fn variants(stage: &Stage, two_cores: bool) -> impl Iterator<Item = &'static Variant> {
    let name = stage.name;
    VARIANTS.iter().filter(move |variant| variant.stage == name && variant.two_cores == two_cores)
}

/// Which server a target is.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A stage's binary.
    Stage(&'static Stage),
    /// One of a stage's examples, measured beside it: its row is named `stage/example`.
    Variant { stage: &'static Stage, variant: &'static Variant },
    /// nginx, the reference.
    Nginx,
}

impl Target {
    /// A stage, its release binary in `binaries`.
    pub fn stage(stage: &'static Stage, binaries: &Path) -> Target {
        Target { kind: Kind::Stage(stage), binary: binaries.join(stage.name) }
    }

    /// One of a stage's examples, its binary in `binaries/examples`.
    pub fn variant(stage: &'static Stage, variant: &'static Variant, binaries: &Path) -> Target {
        let binary = binaries.join("examples").join(variant.example);
        Target { kind: Kind::Variant { stage, variant }, binary }
    }

    /// nginx, at `binary`.
    pub fn nginx(binary: &Path) -> Target {
        Target { kind: Kind::Nginx, binary: binary.to_path_buf() }
    }

    /// The name of its rows: the stage's, `stage/example` for a variant, `nginx`.
    pub fn name(&self) -> String {
        match self.kind {
            Kind::Stage(stage) => stage.name.to_string(),
            Kind::Variant { stage, variant } => format!("{}/{}", stage.name, variant.name),
            Kind::Nginx => "nginx".into(),
        }
    }

    /// Starts it for `cores` cores: alone on core 0 for one, anywhere for more. A stage that
    /// runs a loop per core (and its variants, and a two-core variant) gets that many
    /// (`--workers`), nginx that many worker processes; the other stages keep their own threads.
    pub fn start(&self, root: &Path, cores: usize) -> io::Result<Running> {
        let core = (cores == 1).then_some(0);
        let workers = cores.to_string();
        match self.kind {
            Kind::Stage(stage) | Kind::Variant { stage, .. } => {
                let per_core = stage.loop_per_core
                    || matches!(self.kind, Kind::Variant { variant, .. } if variant.two_cores);
                let extra: &[&str] = if per_core { &["--workers", &workers] } else { &[] };
                Running::stage(&self.binary, root, extra, core)
            }
            Kind::Nginx => Running::nginx(&self.binary, root, cores, core),
        }
    }
}

/// Whose CPU time and memory count as the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accounting {
    /// The process (all its threads).
    Process,
    /// The process and its children once they have exited (stage03 forks one per connection).
    ReapedChildren,
    /// Every process in its process group, as they run (nginx's worker processes).
    Group,
}

/// A server under test, running: a stage or nginx, killed (with its process group) when
/// dropped.
#[derive(Debug)]
pub struct Running {
    server: Server,
    accounting: Accounting,
    _scratch: Option<tempfile::TempDir>,
}

impl Running {
    /// Starts a stage's release binary on `core` (or any, for `None`), the way the tests
    /// start it ([`Server::spawn`]): `--port 0 --quiet`, the bench's root, a timeout long
    /// enough to hold idle connections for the whole measurement, and `extra` flags.
    pub fn stage(
        binary: &Path,
        root: &Path,
        extra: &[&str],
        core: Option<usize>,
    ) -> io::Result<Running> {
        let mut command = Command::new(binary);
        command.args(["--port", "0", "--quiet", "--timeout", "120", "--root"]).arg(root);
        command.args(extra).stderr(Stdio::null());
        pin(&mut command, core);
        let server = Server::spawn(command)
            .map_err(|error| io::Error::other(format!("{}: {error}", binary.display())))?;
        let accounting = if binary.ends_with("stage03_fork") {
            Accounting::ReapedChildren
        } else {
            Accounting::Process
        };
        Ok(Running { server, accounting, _scratch: None })
    }

    /// Starts nginx on `core` (or any) as the reference: with one worker, one process (no
    /// master); with more, a master and that many workers, each with its own listening socket
    /// (`reuseport`). Access log off, sendfile on, keep-alive for as many requests as the bench
    /// sends, the same root. The configuration is written to a temporary directory; the
    /// system's is never touched. (`tcp_nopush` stays off, its default: with it, nginx answers
    /// pipelined requests about 8 times slower here, which would make the reference row unfair
    /// to nginx.)
    pub fn nginx(
        binary: &Path,
        root: &Path,
        workers: usize,
        core: Option<usize>,
    ) -> io::Result<Running> {
        let scratch = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = scratch.path();
        let (processes, reuseport) = if workers == 1 {
            ("worker_processes 1;\nmaster_process off;".to_string(), "")
        } else {
            (format!("worker_processes {workers};\nmaster_process on;"), " reuseport")
        };
        let config = format!(
            "{processes}\ndaemon off;\nworker_rlimit_nofile 65536;\n\
             pid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
             events {{ worker_connections 65536; use epoll; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nodelay on;\n\
               keepalive_requests 100000000;\n  keepalive_timeout 120s;\n\
               client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
               default_type application/octet-stream;\n\
               types {{ text/html html; text/plain txt; }}\n\
               server {{ listen 127.0.0.1:{port} backlog=1024{reuseport}; root {root}; }}\n}}\n",
            dir = dir.display(),
            root = root.display(),
        );
        let config_path = dir.join("nginx.conf");
        fs::write(&config_path, config)?;
        let mut command = Command::new(binary);
        command.arg("-c").arg(&config_path).arg("-p").arg(dir).arg("-e").arg(dir.join("error.log"));
        command.stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
        pin(&mut command, core);
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Server::adopt(command.spawn()?, address);
        let started = Instant::now();
        while TcpStream::connect(address).is_err() {
            if started.elapsed() > Duration::from_secs(5) || !server.is_running() {
                return Err(io::Error::other("nginx did not start; see its error.log"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let accounting = if workers == 1 { Accounting::Process } else { Accounting::Group };
        Ok(Running { server, accounting, _scratch: Some(scratch) })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// CPU time used so far, user + system, children included where they serve requests.
    pub fn cpu_time(&self) -> Duration {
        match self.accounting {
            Accounting::Process => self.server.cpu_time(),
            Accounting::ReapedChildren => self.server.cpu_time_with_children(),
            Accounting::Group => self.server.group_cpu_time(),
        }
    }

    /// Starts measuring peak memory afresh.
    pub fn reset_peak(&self) {
        self.server.reset_peak();
        if self.accounting == Accounting::Group {
            self.server.group_reset_peak();
        }
    }

    /// The highest resident memory since [`Running::reset_peak`], in KiB: of the process, or
    /// added up over the group (a master and its workers each have their own).
    pub fn peak_rss_kib(&self) -> u64 {
        match self.accounting {
            Accounting::Group => self.server.group_peak_rss_kib(),
            _ => self.server.peak_rss_kib(),
        }
    }

    /// The server process, for its memory figures.
    pub fn server(&self) -> &Server {
        &self.server
    }
}

/// nginx, if installed: on the PATH or where Debian puts it.
pub fn find_nginx() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("nginx")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/nginx")]).find(|path| path.is_file())
}
