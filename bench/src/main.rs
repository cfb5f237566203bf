//! The benchmark: every stage under the same load, against nginx, in a table and a chart.
//!
//! `cargo run --release -p bench` builds the stages' release binaries, then, in three rounds,
//! visits each stage (and nginx, if installed) in turn: starts it on core 0 with `--quiet`,
//! warms it up, drives every workload that fits it once with wrk pinned to core 1, and stops
//! it; each figure is the median of the three rounds. In the first round it also measures each
//! server's CPU use when idle and, for the stages that can (and nginx), holds 10,000 idle
//! keep-alive connections to see what they cost. The table goes to stdout and
//! `bench/results/latest.md`, the chart to `bench/results/latest.svg`.
//!
//! `--quick` runs a short version (results in `target/bench-quick/`); `--stages 5,7` and
//! `--workloads small-50,4k-50` narrow it down (results in `target/bench-partial/`: only a
//! whole run replaces the committed results, which the lessons' tables are made from).

mod idle;
mod report;
mod server;
mod wrk;

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use report::{IdleRow, Row, ScalingRow, median};
use server::Target;
use testkit::{STAGES, Stage};

/// A workload: a file, a number of connections, and how requests are sent.
#[derive(Debug, Clone, Copy)]
struct Workload {
    name: &'static str,
    path: &'static str,
    connections: u32,
    close: bool,
    pipeline: bool,
    /// Not a wrk load: idle keep-alive connections held open (see idle.rs).
    idle: bool,
}

const fn workload(name: &'static str, path: &'static str, connections: u32) -> Workload {
    Workload { name, path, connections, close: false, pipeline: false, idle: false }
}

/// Every workload, in the order of the table. "small" is a hello-world-sized file.
const WORKLOADS: [Workload; 9] = [
    workload("small-1", "/tiny.html", 1),
    workload("small-50", "/tiny.html", 50),
    workload("small-500", "/tiny.html", 500),
    workload("4k-50", "/4k.bin", 50),
    workload("4k-500", "/4k.bin", 500),
    workload("256k-50", "/256k.bin", 50),
    Workload { close: true, ..workload("close-50", "/tiny.html", 50) },
    Workload { pipeline: true, ..workload("pipeline-50", "/tiny.html", 50) },
    Workload { idle: true, ..workload("idle-10k", "/tiny.html", 10_000) },
];

/// stage07 waiting with select(2) and poll(2) instead of epoll (its examples), measured beside
/// it: under keep-alive load, and holding more and more idle connections.
const VARIANTS: [&str; 2] = ["poll", "select"];

/// The workloads the variants run: keep-alive load, where only the cost of waiting differs.
const VARIANT_WORKLOADS: [&str; 2] = ["small-50", "small-500"];

/// The workloads of the two-core table: keep-alive load at two sizes and two counts, and
/// connections that close.
const TWO_CORE_WORKLOADS: [&str; 5] = ["small-50", "small-500", "4k-50", "4k-500", "close-50"];

/// What the two-core table shows, printed above it.
const TWO_CORE_NOTE: &str = "\nTwo cores: the server may run on both cores and so may wrk \
    (`wrk -t2`, unpinned), so they compete for them, as a server and its clients would on one \
    machine. The stages that run a loop per core have `--workers 2`; stage07 and stage10 have their one loop; \
    nginx has two worker processes and `listen ... reuseport` (and a master process, which \
    does no work under load). CPU time counts every process and thread of the server. \
    (Above, these stages ran with `--workers 1` on one core.)\n";

/// The idle connections held, one count after the other, for the scaling table.
const SCALING: [usize; 3] = [100, 1_000, 10_000];

/// Whether a workload fits what a stage can do. A stage that answers hello world to anything
/// (stage01) gets only the small page's workloads, whose response is the same size. A stage
/// that closes after each response (stage02) answers only the first of 16 pipelined requests.
/// Holding 10,000 idle connections only makes sense for the stages that can: not the
/// iterative ones, not a process or a pool thread per connection. nginx runs everything.
fn applies(stage: Option<&Stage>, workload: &Workload) -> bool {
    let Some(stage) = stage else { return true };
    (stage.serves_files || workload.path == "/tiny.html")
        && (stage.keeps_alive || !workload.pipeline)
        && (stage.holds_idle_connections || !workload.idle)
}

#[derive(Parser, Debug)]
#[command(about = "Benchmark every stage (and nginx, if installed) under the same load.")]
struct Args {
    /// A short version, under a minute: one 1-second run of the main workloads
    /// (small-50, 4k-50, close-50, pipeline-50), 1,000 idle connections, no warm-up.
    #[arg(long)]
    quick: bool,
    /// Only these stages, by number: `--stages 5,7`.
    #[arg(long, value_delimiter = ',')]
    stages: Vec<u8>,
    /// Only these workloads, by name: `--workloads small-50,4k-50`.
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Leave nginx out even if it is installed.
    #[arg(long)]
    no_nginx: bool,
}

/// How long things take, full or quick.
struct Timing {
    runs: usize,
    duration: Duration,
    warm_up: Duration,
    idle_cpu: Duration,
    idle_connections: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    if let Err(error) =
        Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status()
    {
        if error.kind() == ErrorKind::NotFound {
            return Err(io::Error::other(
                "wrk is not installed; install it with: sudo apt-get install wrk",
            ));
        }
        return Err(error);
    }
    // 10,000 client sockets need 10,000 descriptors here too.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)?;

    let timing = if args.quick {
        Timing {
            runs: 1,
            duration: Duration::from_secs(1),
            warm_up: Duration::ZERO,
            idle_cpu: Duration::from_millis(500),
            idle_connections: 1000,
        }
    } else {
        Timing {
            runs: 3,
            duration: Duration::from_secs(5),
            warm_up: Duration::from_secs(1),
            idle_cpu: Duration::from_secs(5),
            idle_connections: 10_000,
        }
    };
    let idle_connections = (timing.idle_connections as u64).min(hard.saturating_sub(100)) as usize;

    let stages: Vec<&Stage> = if args.stages.is_empty() {
        STAGES.iter().collect()
    } else {
        let chosen: BTreeSet<u8> = args.stages.iter().copied().collect();
        if let Some(number) = chosen.iter().find(|n| !STAGES.iter().any(|s| s.number == **n)) {
            return Err(io::Error::other(format!("there is no stage {number}")));
        }
        STAGES.iter().filter(|stage| chosen.contains(&stage.number)).collect()
    };
    const QUICK: [&str; 5] = ["small-50", "4k-50", "close-50", "pipeline-50", "idle-10k"];
    let chosen = |name: &str| match (args.workloads.is_empty(), args.quick) {
        (false, _) => args.workloads.iter().any(|chosen| chosen == name),
        (true, true) => QUICK.contains(&name),
        (true, false) => true,
    };
    let workloads: Vec<Workload> =
        WORKLOADS.into_iter().filter(|workload| chosen(workload.name)).collect();
    if workloads.is_empty() {
        let names: Vec<&str> = WORKLOADS.iter().map(|workload| workload.name).collect();
        return Err(io::Error::other(format!(
            "no such workload; choose from {}",
            names.join(", ")
        )));
    }

    let workspace =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is inside the workspace");
    let binaries = build(workspace, &stages)?;
    let root = make_root()?;
    let script = workspace.join("bench/pipeline.lua");
    let nginx = if args.no_nginx { None } else { server::find_nginx() };

    // Each target: its name, its binary, and the stage it is (None for nginx).
    let mut targets: Vec<(String, PathBuf, Option<&Stage>)> = stages
        .iter()
        .map(|stage| (stage.name.to_string(), binaries.join(stage.name), Some(*stage)))
        .collect();
    // stage07's select and poll variants, right after it.
    if let Some(position) = targets.iter().position(|(name, _, _)| name == "stage07_epoll") {
        let stage = targets[position].2;
        for (offset, variant) in VARIANTS.iter().enumerate() {
            let binary = binaries.join("examples").join(variant);
            targets
                .insert(position + 1 + offset, (format!("stage07_epoll/{variant}"), binary, stage));
        }
    }
    match &nginx {
        Some(path) => targets.push(("nginx".into(), path.clone(), None)),
        None => eprintln!("nginx not found: no reference row (apt-get install nginx to add one)"),
    }

    // Round by round: each round visits every target once (start it, warm it up, one run of
    // each workload, stop it), so a target's runs are spread over the whole bench, not
    // bunched in a few minutes of it. The machine is shared, and its speed drifts over the
    // minutes a bench takes: this way the drift falls on every target alike, and the medians
    // compare servers rather than moments.
    let mut runs: Vec<Gathered> = Vec::new();
    let mut idle_rows = Vec::new();
    let mut scaling_rows = Vec::new();
    for round in 1..=timing.runs {
        for (index, (name, binary, stage)) in targets.iter().enumerate() {
            let progress = |what: &str| {
                eprintln!(
                    "[round {round}/{}, {}/{}] {name}: {what}",
                    timing.runs,
                    index + 1,
                    targets.len()
                )
            };
            let server = start(binary, *stage, root.path(), 1)?;
            // What does not change from round to round is measured in the first.
            let first = round == 1;
            let idle_cpu_percent = first.then(|| {
                progress("idle CPU");
                let before = server.cpu_time();
                std::thread::sleep(timing.idle_cpu);
                (server.cpu_time() - before).as_secs_f64() / timing.idle_cpu.as_secs_f64() * 100.0
            });
            progress("warm-up");
            let url = |path: &str| format!("http://{}{path}", server.address());
            let warm_up = wrk::Load {
                url: url("/tiny.html"),
                connections: 50,
                duration: timing.warm_up,
                header: None,
                script: None,
                threads: 1,
            };
            wrk::run(&warm_up, |command| server::pin(command, Some(1)))?;

            let mut held: Option<idle::IdleReport> = None;
            let variant = name.contains('/');
            let fits = |workload: &&Workload| {
                applies(*stage, workload)
                    && (!variant || VARIANT_WORKLOADS.contains(&workload.name))
            };
            for workload in workloads.iter().filter(fits) {
                if workload.idle {
                    if first {
                        progress(&format!("{idle_connections} idle connections"));
                        let report = idle::measure(
                            server.address(),
                            idle_connections,
                            || server.server().rss_kib(),
                            || server.cpu_time(),
                        )?;
                        held = Some(report);
                    }
                    continue;
                }
                let load = wrk::Load {
                    threads: 1,
                    url: url(workload.path),
                    connections: workload.connections,
                    duration: timing.duration,
                    header: workload.close.then_some("Connection: close"),
                    script: workload.pipeline.then(|| script.display().to_string()),
                };
                progress(workload.name);
                let pin_wrk = |command: &mut Command| server::pin(command, Some(1));
                gather(&mut runs, name, workload.name, run_once(&server, &load, pin_wrk)?);
            }
            // The rest is measured in the first round only.
            let Some(idle_cpu_percent) = idle_cpu_percent else { continue };
            if !variant {
                let held = held.map(|r| (r.connections, r.rss_per_connection_kib, r.fresh_request));
                idle_rows.push(IdleRow { target: name.clone(), idle_cpu_percent, held });
            }
            // The cost of waiting as idle connections grow: stage06 asks every one of them on
            // every pass, select and poll hand them all to the kernel on every wake-up, epoll not.
            let scales =
                variant || matches!(name.as_str(), "stage06_nonblocking" | "stage07_epoll");
            if scales && chosen("idle-10k") {
                let mut points = Vec::new();
                for count in SCALING.into_iter().filter(|count| *count <= idle_connections) {
                    // The idle table's measurement serves for its count: it is the same one.
                    let report = match held {
                        Some(report) if report.connections == count => Ok(report),
                        _ => {
                            progress(&format!("scaling: {count} idle connections"));
                            let report = idle::measure(
                                server.address(),
                                count,
                                || server.server().rss_kib(),
                                || server.cpu_time(),
                            );
                            // Let the server close the connections just dropped before the next.
                            std::thread::sleep(Duration::from_secs(1));
                            report
                        }
                    };
                    // select cannot hold descriptors past 1023: those connections are refused.
                    points
                        .push((count, report.ok().map(|r| (r.held_cpu_percent, r.fresh_request))));
                }
                scaling_rows.push(ScalingRow { target: name.clone(), points });
            }
        }
    }
    let mut rows: Vec<Row> = runs.iter().map(summarize).collect();
    // Group the table by workload, servers in stage order within each.
    rows.sort_by_key(|row| WORKLOADS.iter().position(|workload| workload.name == row.workload));

    // Two cores: stage07 and the stages after it (those that run a loop per core with
    // `--workers 2`; stage07 and stage10 with their one loop), and nginx with two workers,
    // each allowed both cores, with wrk on both too. Round by round, as above.
    let mut two_core_rows = Vec::new();
    let two_core_workloads: Vec<&Workload> =
        workloads.iter().filter(|workload| TWO_CORE_WORKLOADS.contains(&workload.name)).collect();
    if stages.iter().any(|stage| stage.number > 7) && !two_core_workloads.is_empty() {
        let mut two_core: Vec<(String, PathBuf, Option<&Stage>)> = stages
            .iter()
            .filter(|stage| stage.number >= 7)
            .map(|stage| (stage.name.to_string(), binaries.join(stage.name), Some(*stage)))
            .collect();
        if let Some(path) = &nginx {
            two_core.push(("nginx".into(), path.clone(), None));
        }
        let mut two_core_runs: Vec<Gathered> = Vec::new();
        for round in 1..=timing.runs {
            for (index, (name, binary, stage)) in two_core.iter().enumerate() {
                let progress = |what: &str| {
                    eprintln!(
                        "[two cores, round {round}/{}, {}/{}] {name}: {what}",
                        timing.runs,
                        index + 1,
                        two_core.len()
                    )
                };
                let server = start(binary, *stage, root.path(), 2)?;
                for workload in &two_core_workloads {
                    let load = wrk::Load {
                        threads: 2,
                        url: format!("http://{}{}", server.address(), workload.path),
                        connections: workload.connections,
                        duration: timing.duration,
                        header: workload.close.then_some("Connection: close"),
                        script: None,
                    };
                    progress(workload.name);
                    let anywhere = |command: &mut Command| server::pin(command, None);
                    gather(
                        &mut two_core_runs,
                        name,
                        workload.name,
                        run_once(&server, &load, anywhere)?,
                    );
                }
            }
        }
        two_core_rows = two_core_runs.iter().map(summarize).collect();
        two_core_rows
            .sort_by_key(|row| WORKLOADS.iter().position(|workload| workload.name == row.workload));
    }

    let machine = machine_description();
    let mut settings = format!(
        "Settings: {} round(s), each visiting every server in turn for one {:?} run of each workload (so that the machine's drift over the bench falls on every server alike), wrk -t1 pinned to core 1, the server pinned to core 0, {} idle connections.",
        timing.runs, timing.duration, idle_connections
    );
    if nginx.is_some() {
        settings.push_str("\n\n");
        settings.push_str(server::NGINX_SETTINGS);
    }
    let mut markdown = report::markdown(&rows, &idle_rows, &machine, &settings);
    if !scaling_rows.is_empty() {
        markdown.push_str(
            "\nHolding more and more idle keep-alive connections (each had one request answered): \
             the CPU the server used over a second of holding them, and the median time of a \
             fresh request meanwhile. `stage07_epoll/select` and `/poll` are stage07's examples \
             waiting with select(2) and poll(2); select refuses connections past descriptor \
             1023 (`-`).\n",
        );
        markdown.push_str(&report::scaling_markdown(&scaling_rows));
    }
    if !two_core_rows.is_empty() {
        markdown.push_str(TWO_CORE_NOTE);
        markdown.push_str(&report::two_core_markdown(&two_core_rows));
    }
    println!("{markdown}");
    let out_dir = if args.quick {
        workspace.join("target/bench-quick")
    } else if !args.stages.is_empty() || !args.workloads.is_empty() {
        workspace.join("target/bench-partial")
    } else {
        workspace.join("bench/results")
    };
    fs::create_dir_all(&out_dir)?;
    fs::write(out_dir.join("latest.md"), &markdown)?;
    fs::write(out_dir.join("latest.svg"), report::svg(&rows))?;
    if !two_core_rows.is_empty() {
        fs::write(out_dir.join("two-cores.svg"), report::svg(&two_core_rows))?;
    }
    eprintln!("wrote {}", out_dir.join("latest.{md,svg}").display());
    Ok(())
}

/// Starts a target (a stage, or nginx for `None`) for `cores` cores: alone on core 0 for one,
/// anywhere for more. A stage that runs a loop per core gets that many (`--workers`), nginx
/// that many worker processes; the other stages keep their own threads.
fn start(binary: &Path, stage: Option<&Stage>, root: &Path, cores: usize) -> io::Result<Target> {
    let core = (cores == 1).then_some(0);
    let workers = cores.to_string();
    match stage {
        Some(stage) if stage.loop_per_core => {
            Target::stage(binary, root, &["--workers", &workers], core)
        }
        Some(_) => Target::stage(binary, root, &[], core),
        None => Target::nginx(binary, root, cores, core),
    }
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
fn run_once(server: &Target, load: &wrk::Load, pin_wrk: impl Fn(&mut Command)) -> io::Result<Run> {
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

/// Builds the stages' release binaries with the cargo that runs us; returns their directory.
fn build(workspace: &Path, stages: &[&Stage]) -> io::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args(["build", "--release", "--quiet"]);
    for stage in stages {
        command.args(["-p", stage.name]);
    }
    if stages.iter().any(|stage| stage.name == "stage07_epoll") {
        // The select and poll variants are stage07's examples: only they are built, not every
        // stage's. (Naming examples builds only what is named: the binaries must be named too.)
        command.arg("--bins");
        for variant in VARIANTS {
            command.args(["--example", variant]);
        }
    }
    if !command.status()?.success() {
        return Err(io::Error::other("building the stages failed"));
    }
    // The bench binary sits beside the stages' in target/release.
    let bench = std::env::current_exe()?;
    Ok(bench.parent().expect("the bench binary is in a directory").to_path_buf())
}

/// The bench's document root: a hello-world-sized page, a 4 KiB and a 256 KiB file.
fn make_root() -> io::Result<tempfile::TempDir> {
    let root = tempfile::tempdir()?;
    fs::write(root.path().join("tiny.html"), "<h1>hello world</h1>\n")?;
    let pattern = |length: usize| (0..length).map(|i| (i % 251) as u8).collect::<Vec<u8>>();
    fs::write(root.path().join("4k.bin"), pattern(4096))?;
    fs::write(root.path().join("256k.bin"), pattern(256 * 1024))?;
    Ok(root)
}

/// One line about the machine: CPU model, cores, kernel.
fn machine_description() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or("unknown CPU", |rest| rest.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Machine: {model}, {cores} cores, Linux {}.", kernel.trim())
}
