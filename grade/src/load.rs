//! The short load run: the graded server beside stage07 and nginx under the same wrk load,
//! compared in CPU time per request and requests per second, as the bench compares the stages.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bench::{cores, wrk};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;
use testkit::{Server, Target};

/// The file every run asks for: a small one of the grader's root, so that the run measures
/// the server's handling of a request more than the copying of bytes.
const PATH: &str = "/notes.txt";

/// How long each run lasts. Short: this is a first look, not the bench.
const DURATION: Duration = Duration::from_secs(3);

/// The two loads: every request on an open connection, and every request on a new one.
const WORKLOADS: [(&str, Option<&str>); 2] =
    [("keep-alive", None), ("new connection each", Some("Connection: close"))];

/// A server of the load run: its name on the card, and how to start it.
#[derive(Debug, Clone)]
pub struct Contender {
    /// Its name on the card.
    pub name: String,
    /// How to start it.
    pub target: Target,
}

/// The graded server, then stage07 (its release binary beside the grader's, when built) and
/// nginx (when installed), each unless it is the graded server itself.
pub fn contenders(graded: Contender) -> Vec<Contender> {
    let mut all = vec![graded.clone()];
    if let Some(stage07) = stage07_binary() {
        let same = |binary: &str| fs::canonicalize(binary).ok() == fs::canonicalize(&stage07).ok();
        let target = Target::Binary(stage07.display().to_string());
        if !matches!(&graded.target, Target::Binary(binary) if same(binary)) {
            all.push(Contender { name: "stage07_epoll".to_string(), target });
        }
    }
    if Command::new("nginx").arg("-v").output().is_ok_and(|output| output.status.success()) {
        // nginx.sh writes its configuration beside the root the grader fills.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/nginx.sh");
        let target = Target::Command(format!("sh {script} {{port}} {{root}} {{timeout}}"));
        all.push(Contender { name: "nginx".to_string(), target });
    }
    all
}

/// stage07's binary beside the grader's own (`cargo build --release -p stage07_epoll` puts it
/// there).
pub fn stage07_binary() -> Option<PathBuf> {
    let binary = std::env::current_exe().ok()?.with_file_name("stage07_epoll");
    binary.exists().then_some(binary)
}

/// What one server did under one load.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which load.
    pub workload: &'static str,
    /// Which server.
    pub server: String,
    /// Requests per second over the run.
    pub requests_per_second: f64,
    /// The server's CPU time (every process of its group) over the requests it answered.
    pub cpu_per_request_us: f64,
    /// wrk's socket errors and error statuses.
    pub errors: u64,
}

/// Runs each contender under each load, one after the other (never two at once: they would
/// share the cores), telling `progress` what runs.
///
/// # Errors
///
/// When wrk cannot run or its report cannot be read.
pub fn run(contenders: &[Contender], mut progress: impl FnMut(&str)) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for contender in contenders {
        let server = contender.target.start(&["--timeout", "30"]);
        pin_group(&server, 0)?;
        let url = format!("http://{}{PATH}", server.address());
        progress(&format!("{}: warm-up", contender.name));
        let warm_up = load(&url, None, Duration::from_secs(1));
        wrk::run(&warm_up, |command| cores::pin(command, Some(1)))?;
        for (workload, header) in WORKLOADS {
            progress(&format!("{}: {workload}", contender.name));
            let before = server.group_cpu_time();
            let report =
                wrk::run(&load(&url, header, DURATION), |command| cores::pin(command, Some(1)))?;
            // A server that forks a child per connection reaps it after the client is gone.
            std::thread::sleep(Duration::from_millis(100));
            let cpu = server.group_cpu_time() - before;
            rows.push(Row {
                workload,
                server: contender.name.clone(),
                requests_per_second: report.requests_per_second,
                cpu_per_request_us: cpu.as_secs_f64() * 1e6 / report.requests.max(1) as f64,
                errors: report.errors,
            });
        }
    }
    // One load's rows together, the graded server first.
    rows.sort_by_key(|row| WORKLOADS.iter().position(|(name, _)| *name == row.workload));
    Ok(rows)
}

/// wrk's settings: one thread, 50 connections.
fn load(url: &str, header: Option<&'static str>, duration: Duration) -> wrk::Load {
    wrk::Load { threads: 1, url: url.to_string(), connections: 50, duration, header, script: None }
}

/// Puts every thread of every process of the server's group on `core` (when the machine has
/// more than one), as the bench does with a stage: wrk gets the other core. Threads and
/// processes the server makes later inherit it.
fn pin_group(server: &Server, core: usize) -> io::Result<()> {
    if std::thread::available_parallelism().map_or(1, |cores| cores.get()) < 2 {
        return Ok(());
    }
    let mut set = CpuSet::new();
    set.set(core).map_err(io::Error::from)?;
    for (pid, _) in server.processes_in_group() {
        let tasks = fs::read_dir(Path::new("/proc").join(pid.to_string()).join("task"))?;
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|tid| tid.parse().ok()) else {
                continue;
            };
            // A thread that ended meanwhile is no error.
            let _ = sched_setaffinity(Pid::from_raw(tid), &set);
        }
    }
    Ok(())
}

/// The load run as a Markdown table: each server's figures and, beside them, their ratio to
/// the first server's (the graded one) under the same load.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!(
        "Load: wrk, one thread and 50 connections, {} s per load on `{PATH}`, the server on \
         one core and wrk on the other. One short run: read the ratios, not the figures, and \
         run the bench for more.\n\n",
        DURATION.as_secs()
    );
    out.push_str("| load | server | requests/s | x yours | CPU us/request | x yours | errors |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = writeln!(out, "| {} |", cells(rows, row).join(" | "));
    }
    out
}

/// The load run as plain text for the terminal.
pub fn text(rows: &[Row]) -> String {
    let mut out = format!(
        "Load: wrk -t1 -c50, {} s per load on {PATH}, server on one core, wrk on the other\n",
        DURATION.as_secs()
    );
    let header = ["load", "server", "requests/s", "x yours", "CPU us/req", "x yours", "errors"];
    let lines =
        std::iter::once(header.map(String::from)).chain(rows.iter().map(|row| cells(rows, row)));
    for [load, server, rate, rate_ratio, cpu, cpu_ratio, errors] in lines {
        let _ = writeln!(
            out,
            "  {load:<20} {server:<16} {rate:>11} {rate_ratio:>8} {cpu:>10} {cpu_ratio:>8} {errors:>7}"
        );
    }
    out
}

/// A row's cells, as both tables show them.
fn cells(rows: &[Row], row: &Row) -> [String; 7] {
    [
        row.workload.to_string(),
        row.server.clone(),
        format!("{:.0}", row.requests_per_second),
        ratio(rows, row, |row| row.requests_per_second),
        format!("{:.2}", row.cpu_per_request_us),
        ratio(rows, row, |row| row.cpu_per_request_us),
        row.errors.to_string(),
    ]
}

/// `row`'s figure over the graded server's (the first row of the same load), as `1.25x`.
fn ratio(rows: &[Row], row: &Row, figure: fn(&Row) -> f64) -> String {
    match rows.iter().find(|other| other.workload == row.workload) {
        Some(first) if figure(first) > 0.0 => format!("{:.2}x", figure(row) / figure(first)),
        _ => "-".to_string(),
    }
}
