//! The rounds of one table: every server visited in turn, once a round, under each workload
//! that fits it; the one-core table and the two-core table both run here.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::idle;
use crate::report::{IdleRow, Row, ScalingRow, median};
use crate::server::{self, Kind, Running, Target};
use crate::workload::{self, Workload};
use bench::wrk;

/// How long things take, full or quick.
#[derive(Debug)]
pub struct Timing {
    pub runs: usize,
    pub duration: Duration,
    pub warm_up: Duration,
    pub idle_cpu: Duration,
    pub idle_connections: usize,
}

/// Where a table runs the servers and wrk, and so what a visit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cores {
    /// The server pinned to core 0, `wrk -t1` to core 1. Each visit warms the server up; in
    /// the first round it also measures the server's CPU use while idle, the idle connections
    /// it holds and, for some, how waiting scales with them.
    One,
    /// The server and `wrk -t2` both allowed both cores: the workloads only.
    Two,
}

impl Cores {
    fn count(self) -> usize {
        match self {
            Cores::One => 1,
            Cores::Two => 2,
        }
    }

    /// Where wrk runs: on core 1, or anywhere.
    fn wrk_core(self) -> Option<usize> {
        match self {
            Cores::One => Some(1),
            Cores::Two => None,
        }
    }

    /// What the progress lines say before the round.
    fn label(self) -> &'static str {
        match self {
            Cores::One => "",
            Cores::Two => "two cores, ",
        }
    }
}

/// What a table's rounds measured: a row per server and workload, and on one core the idle
/// costs.
#[derive(Debug, Default)]
pub struct Measured {
    pub rows: Vec<Row>,
    pub idle: Vec<IdleRow>,
    pub scaling: Vec<ScalingRow>,
}

/// The idle connections held, one count after the other, for the scaling table.
const SCALING: [usize; 3] = [100, 1_000, 10_000];

/// What every table's rounds share.
#[derive(Debug)]
pub struct Setup<'a> {
    pub timing: Timing,
    /// The servers' document root.
    pub root: &'a Path,
    /// wrk's script for pipelining.
    pub script: PathBuf,
}

/// Runs the rounds of one table: `targets` under those of `workloads` that fit each, on
/// `cores`.
pub fn run(
    setup: &Setup,
    targets: &[Target],
    workloads: &[Workload],
    cores: Cores,
) -> io::Result<Measured> {
    let Setup { timing, root, script } = setup;
    // Round by round: each round visits every target once (start it, warm it up, one run of
    // each workload, stop it), so a target's runs are spread over the whole bench, not
    // bunched in a few minutes of it. The machine is shared, and its speed drifts over the
    // minutes a bench takes: this way the drift falls on every target alike, and the medians
    // compare servers rather than moments.
    let mut runs: Vec<Gathered> = Vec::new();
    let mut measured = Measured::default();
    for round in 1..=timing.runs {
        for (index, target) in targets.iter().enumerate() {
            let name = target.name();
            let progress = |what: &str| {
                eprintln!(
                    "[{}round {round}/{}, {}/{}] {name}: {what}",
                    cores.label(),
                    timing.runs,
                    index + 1,
                    targets.len()
                )
            };
            let server = target.start(root, cores.count())?;
            // What does not change from round to round is measured in the first (on one core).
            let first = round == 1 && cores == Cores::One;
            let idle_cpu_percent = first.then(|| {
                progress("idle CPU");
                let before = server.cpu_time();
                std::thread::sleep(timing.idle_cpu);
                (server.cpu_time() - before).as_secs_f64() / timing.idle_cpu.as_secs_f64() * 100.0
            });
            let url = |path: &str| format!("http://{}{path}", server.address());
            if cores == Cores::One {
                progress("warm-up");
                let warm_up = wrk::Load {
                    url: url("/tiny.html"),
                    connections: 50,
                    duration: timing.warm_up,
                    header: None,
                    script: None,
                    threads: 1,
                };
                wrk::run(&warm_up, |command| server::pin(command, Some(1)))?;
            }

            let mut held: Option<idle::IdleReport> = None;
            for workload in workloads.iter().filter(|workload| workload::fits(target, workload)) {
                if workload.idle {
                    if first {
                        progress(&format!("{} idle connections", timing.idle_connections));
                        held = Some(hold(&server, timing.idle_connections)?);
                    }
                    continue;
                }
                let load = wrk::Load {
                    threads: cores.count() as u32,
                    url: url(workload.path),
                    connections: workload.connections,
                    duration: timing.duration,
                    header: workload.close.then_some("Connection: close"),
                    script: workload.pipeline.then(|| script.display().to_string()),
                };
                progress(workload.name);
                let place_wrk = |command: &mut Command| server::pin(command, cores.wrk_core());
                gather(&mut runs, &name, workload.name, run_once(&server, &load, place_wrk)?);
            }
            // The rest is measured in the first round only.
            let Some(idle_cpu_percent) = idle_cpu_percent else { continue };
            if !matches!(target.kind, Kind::Variant { .. }) {
                let held = held.map(|r| (r.connections, r.rss_per_connection_kib, r.fresh_request));
                measured.idle.push(IdleRow { target: name.clone(), idle_cpu_percent, held });
            }
            if scales(target) && workloads.iter().any(|workload| workload.idle) {
                let points = scaling(&server, held, timing.idle_connections, &progress);
                measured.scaling.push(ScalingRow { target: name, points });
            }
        }
    }
    measured.rows = runs.iter().map(summarize).collect();
    // Group the table by workload, servers in stage order within each.
    measured.rows.sort_by_key(|row| workload::position(&row.workload));
    Ok(measured)
}

/// Whether a target is measured holding more and more idle connections: the cost of waiting
/// as they grow. stage06 asks every one of them on every pass, select and poll hand them all
/// to the kernel on every wake-up, epoll not.
fn scales(target: &Target) -> bool {
    match target.kind {
        Kind::Stage(stage) => matches!(stage.name, "stage06_nonblocking" | "stage07_epoll"),
        Kind::Variant { variant, .. } => variant.scales,
        Kind::Nginx => false,
    }
}

/// Holds `count` idle connections to the server (see idle.rs).
fn hold(server: &Running, count: usize) -> io::Result<idle::IdleReport> {
    idle::measure(server.address(), count, || server.server().rss_kib(), || server.cpu_time())
}

/// The scaling table's row of a server: for each count up to `most`, the CPU it used holding
/// that many idle connections and a fresh request's time meanwhile (`None` where it could not
/// hold them).
fn scaling(
    server: &Running,
    held: Option<idle::IdleReport>,
    most: usize,
    progress: &dyn Fn(&str),
) -> Vec<(usize, Option<(f64, Duration)>)> {
    let mut points = Vec::new();
    for count in SCALING.into_iter().filter(|count| *count <= most) {
        // The idle table's measurement serves for its count: it is the same one.
        let report = match held {
            Some(report) if report.connections == count => Ok(report),
            _ => {
                progress(&format!("scaling: {count} idle connections"));
                let report = hold(server, count);
                // Let the server close the connections just dropped before the next.
                std::thread::sleep(Duration::from_secs(1));
                report
            }
        };
        // select cannot hold descriptors past 1023: those connections are refused.
        points.push((count, report.ok().map(|r| (r.held_cpu_percent, r.fresh_request))));
    }
    points
}

/// One wrk run against a server: wrk's report, the server's CPU time meanwhile, and its peak
/// memory.
struct Run {
    report: wrk::Report,
    cpu: Duration,
    peak_rss_kib: u64,
}

/// A target's runs of one workload, gathered over the rounds: (target, workload, runs).
type Gathered = (String, &'static str, Vec<Run>);

/// Drives one workload once against `server` (wrk placed by `pin_wrk`).
fn run_once(server: &Running, load: &wrk::Load, pin_wrk: impl Fn(&mut Command)) -> io::Result<Run> {
    server.reset_peak();
    let before = server.cpu_time();
    let report = wrk::run(load, &pin_wrk)?;
    // stage03's children exit after wrk closes; give them a moment to be reaped.
    std::thread::sleep(Duration::from_millis(100));
    let cpu = server.cpu_time() - before;
    Ok(Run { report, cpu, peak_rss_kib: server.peak_rss_kib() })
}

/// Adds a run to its target's and workload's list.
fn gather(gathered: &mut Vec<Gathered>, target: &str, workload: &'static str, run: Run) {
    match gathered.iter_mut().find(|(t, w, _)| t == target && *w == workload) {
        Some((_, _, runs)) => runs.push(run),
        None => gathered.push((target.to_string(), workload, vec![run])),
    }
}

/// A table row from a target's runs of one workload: the medians of requests/s, latencies,
/// server CPU time per request and peak memory, the range of CPU time per request, and the
/// errors of all runs.
fn summarize((target, workload, runs): &Gathered) -> Row {
    let median_of = |value: &dyn Fn(&Run) -> f64| median(runs.iter().map(value).collect());
    let cpu_of = |run: &Run| run.cpu.as_secs_f64() * 1e6 / run.report.requests.max(1) as f64;
    let cpu_runs = || runs.iter().map(cpu_of);
    Row {
        workload: workload.to_string(),
        target: target.clone(),
        requests_per_second: median_of(&|run| run.report.requests_per_second),
        p50: Duration::from_secs_f64(median_of(&|run| run.report.p50.as_secs_f64())),
        p99: Duration::from_secs_f64(median_of(&|run| run.report.p99.as_secs_f64())),
        errors: runs.iter().map(|run| run.report.errors).sum(),
        cpu_per_request_us: median_of(&cpu_of),
        cpu_range_us: (cpu_runs().fold(f64::INFINITY, f64::min), cpu_runs().fold(0.0, f64::max)),
        peak_rss_mib: median_of(&|run| run.peak_rss_kib as f64 / 1024.0),
    }
}
