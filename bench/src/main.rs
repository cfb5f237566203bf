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
//! `--profile` profiles the stages and nginx instead (`profile.rs`): flame graphs, and where a
//! request's CPU time goes, in `bench/results/profile.md` and `profile.svg`.
//!
//! Here: what to measure and where the results go. `rounds.rs` runs a table's rounds (the
//! one-core table, then the two-core one), `workload.rs` says which workload fits which
//! server, `server.rs` starts the servers, `wrk.rs` and `idle.rs` measure them, `report.rs`
//! writes the tables and the charts, and `network.rs` gives the servers and wrk a network
//! namespace of their own.

mod chart;
mod idle;
mod network;
mod profile;
mod report;
mod rounds;
mod server;
mod workload;

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use rounds::{Cores, Measured, Setup, Timing};
use server::{Target, VARIANTS};
use testkit::{STAGES, Stage};
use workload::{QUICK, TWO_CORE_WORKLOADS, WORKLOADS, Workload};

/// The charts' headings.
const ONE_CORE_CHART: [&str; 2] =
    ["One core: the server on core 0, wrk on core 1", "单核：服务器在核 0 上，wrk 在核 1 上"];
const TWO_CORE_CHART: [&str; 2] =
    ["Two cores: the server and wrk both allowed both cores", "双核：服务器和 wrk 都可以用两个核"];

/// What the two-core table shows, printed above it.
const TWO_CORE_NOTE: &str = "\nTwo cores: the server may run on both cores and so may wrk \
    (`wrk -t2`, unpinned), so they compete for them, as a server and its clients would on one \
    machine. The stages that run a loop per core have `--workers 2`; stage07 and stage10 have their one loop, \
    and `stage10_uring/ring-per-core` is stage10's exercise answered (a ring per core, \
    `--workers 2`); nginx has two worker processes and `listen ... reuseport` (and a master process, which \
    does no work under load). CPU time counts every process and thread of the server. \
    (Above, these stages ran with `--workers 1` on one core.)\n";

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
    /// Instead of the tables: profile stages 02-10 (or those of `--stages`) and nginx under
    /// small-50 and close-50 with `perf record -g`, and write a flame graph of each and a
    /// breakdown of a request's CPU time to bench/results/profile.md and profile.svg.
    #[arg(long, conflicts_with_all = ["quick", "workloads"])]
    profile: bool,
    /// Measure nothing: draw the charts again (latest.svg and two-cores.svg from the tables of
    /// bench/results/latest.md, profile.svg from profile.md) after a change to how they are drawn.
    #[arg(long, conflicts_with_all = ["quick", "workloads", "stages", "profile"])]
    redraw: bool,
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
    if args.redraw {
        let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
        draw_charts(&results, &fs::read_to_string(results.join("latest.md"))?)?;
        if let Ok(profile) = fs::read_to_string(results.join("profile.md")) {
            draw_profile(&results, &profile)?;
        }
        eprintln!(
            "drew bench/results/latest.svg, two-cores.svg and profile.svg again (and .zh-CN.svg)"
        );
        return Ok(());
    }
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

    let mut timing = if args.quick {
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
    timing.idle_connections =
        (timing.idle_connections as u64).min(hard.saturating_sub(100)) as usize;

    let stages = chosen_stages(args)?;
    let workloads = chosen_workloads(args)?;

    let workspace =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is inside the workspace");
    if args.profile {
        profile::check_perf()?;
        // stage01 answers hello world and serves no file: nothing to compare.
        let stages: Vec<&Stage> = stages.into_iter().filter(|stage| stage.number >= 2).collect();
        let binaries = build_for_profile(workspace, &stages)?;
        let network = network::isolate()?;
        let root = make_root()?;
        let nginx = if args.no_nginx { None } else { server::find_nginx() };
        return profile_all(workspace, &stages, &binaries, nginx.as_deref(), root.path(), &network);
    }
    let binaries = build(workspace, &stages)?;
    let network = network::isolate()?;
    let root = make_root()?;
    let setup = Setup { timing, root: root.path(), script: workspace.join("bench/pipeline.lua") };
    let nginx = if args.no_nginx { None } else { server::find_nginx() };

    let mut targets: Vec<Target> = Vec::new();
    for stage in &stages {
        targets.push(Target::stage(stage, &binaries));
        // A stage's variants (stage07's tuned, poll and select), right after it.
        for variant in server::variants(stage, false) {
            targets.push(Target::variant(stage, variant, &binaries));
        }
    }
    match &nginx {
        Some(path) => targets.push(Target::nginx(path)),
        // Left out on purpose (`--no-nginx`): nothing to say.
        None if args.no_nginx => {}
        None => eprintln!("nginx not found: no reference row (apt-get install nginx to add one)"),
    }
    let one_core = rounds::run(&setup, &targets, &workloads, Cores::One)?;

    // Two cores: stage07 and the stages after it (those that run a loop per core with
    // `--workers 2`; stage07 and stage10 with their one loop), and nginx with two workers,
    // each allowed both cores, with wrk on both too. Round by round, as above.
    let two_core_workloads: Vec<Workload> = workloads
        .iter()
        .copied()
        .filter(|workload| TWO_CORE_WORKLOADS.contains(&workload.name))
        .collect();
    let mut two_core = Measured::default();
    if stages.iter().any(|stage| stage.number > 7) && !two_core_workloads.is_empty() {
        let mut targets = Vec::new();
        for stage in stages.iter().filter(|stage| stage.number >= 7) {
            targets.push(Target::stage(stage, &binaries));
            // A two-core variant (stage10's ring per core), right after its stage.
            for variant in server::variants(stage, true) {
                targets.push(Target::variant(stage, variant, &binaries));
            }
        }
        targets.extend(nginx.as_deref().map(Target::nginx));
        two_core = rounds::run(&setup, &targets, &two_core_workloads, Cores::Two)?;
    }

    let markdown = results(&setup.timing, &network, nginx.is_some(), &one_core, &two_core.rows);
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
    draw_charts(&out_dir, &markdown)?;
    eprintln!("wrote {}", out_dir.join("latest.{md,svg}").display());
    Ok(())
}

/// The stages of `--stages`, or every stage.
fn chosen_stages(args: &Args) -> io::Result<Vec<&'static Stage>> {
    if args.stages.is_empty() {
        return Ok(STAGES.iter().collect());
    }
    let chosen: BTreeSet<u8> = args.stages.iter().copied().collect();
    if let Some(number) = chosen.iter().find(|n| !STAGES.iter().any(|s| s.number == **n)) {
        return Err(io::Error::other(format!("there is no stage {number}")));
    }
    Ok(STAGES.iter().filter(|stage| chosen.contains(&stage.number)).collect())
}

/// The workloads of `--workloads`, or of `--quick`, or every workload; in the table's order.
fn chosen_workloads(args: &Args) -> io::Result<Vec<Workload>> {
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
    Ok(workloads)
}

/// The results in Markdown: the machine and the settings, the one-core tables (loads, idle
/// costs, and idle scaling if measured), then the two-core table if measured.
fn results(
    timing: &Timing,
    network: &str,
    nginx: bool,
    one_core: &Measured,
    two_core_rows: &[report::Row],
) -> String {
    let machine = machine_description();
    let mut settings = format!(
        "Settings: {} round(s), each visiting every server in turn for one {:?} run of each workload (so that the machine's drift over the bench falls on every server alike), wrk -t1 pinned to core 1, the server pinned to core 0, {} idle connections.",
        timing.runs, timing.duration, timing.idle_connections
    );
    settings.push_str("\n\n");
    settings.push_str(network);
    settings.push_str(
        "\n\nRows named `stage/example` are a stage's examples, run only in the workloads that show \
         what they change: `stage07_epoll/tuned` is stage07 tuned for the cost of a connection \
         (`TCP_DEFER_ACCEPT`, a first turn right after `accept`, registering only a connection \
         that has to wait); `/poll` and `/select` wait with poll(2) and select(2) instead of epoll.",
    );
    if nginx {
        settings.push_str("\n\n");
        settings.push_str(server::NGINX_SETTINGS);
    }
    let mut markdown = report::markdown(&one_core.rows, &one_core.idle, &machine, &settings);
    if !one_core.scaling.is_empty() {
        markdown.push_str(
            "\nHolding more and more idle keep-alive connections (each had one request answered): \
             the CPU the server used over a second of holding them, and the median time of a \
             fresh request meanwhile. `stage07_epoll/select` and `/poll` are stage07's examples \
             waiting with select(2) and poll(2); select refuses connections past descriptor \
             1023 (`-`).\n",
        );
        markdown.push_str(&report::scaling_markdown(&one_core.scaling));
    }
    if !two_core_rows.is_empty() {
        markdown.push_str(TWO_CORE_NOTE);
        markdown.push_str(&report::two_core_markdown(two_core_rows));
    }
    markdown
}

/// Builds the stages' release binaries with the cargo that runs us; returns their directory.
fn build(workspace: &Path, stages: &[&Stage]) -> io::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args(["build", "--release", "--quiet"]);
    for stage in stages {
        command.args(["-p", stage.name]);
    }
    let variants: Vec<&str> = VARIANTS
        .iter()
        .filter(|variant| stages.iter().any(|stage| stage.name == variant.stage))
        .map(|variant| variant.example)
        .collect();
    if !variants.is_empty() {
        // The variants are a stage's examples: only they are built, not every stage's.
        // (Naming examples builds only what is named: the binaries must be named too.)
        command.arg("--bins");
        for example in variants {
            command.args(["--example", example]);
        }
    }
    if !command.status()?.success() {
        return Err(io::Error::other("building the stages failed"));
    }
    // The bench binary sits beside the stages' in target/release.
    let bench = std::env::current_exe()?;
    Ok(bench.parent().expect("the bench binary is in a directory").to_path_buf())
}

/// Builds the stages' release binaries with frame pointers, so that perf can walk their stacks,
/// in a target directory of their own (`target/profile`); returns their directory.
fn build_for_profile(workspace: &Path, stages: &[&Stage]) -> io::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = workspace.join("target/profile");
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args(["build", "--release", "--quiet", "--target-dir"]);
    command.arg(&target_dir).env("RUSTFLAGS", "-C force-frame-pointers=yes");
    for stage in stages {
        command.args(["-p", stage.name]);
    }
    if !command.status()?.success() {
        return Err(io::Error::other("building the stages failed"));
    }
    Ok(target_dir.join("release"))
}

/// Profiles every stage and nginx under the profile's workloads, one after the other, and
/// writes the flame graphs, the tables and the chart. `network` is the sentence
/// [`network::isolate`] returned, which the profile prints as the tables do.
fn profile_all(
    workspace: &Path,
    stages: &[&'static Stage],
    binaries: &Path,
    nginx: Option<&Path>,
    root: &Path,
    network: &str,
) -> io::Result<()> {
    let results = workspace.join("bench/results");
    let flame_graphs = results.join("profiles");
    fs::create_dir_all(&flame_graphs)?;
    let targets: Vec<Target> = stages
        .iter()
        .map(|stage| Target::stage(stage, binaries))
        .chain(nginx.map(Target::nginx))
        .collect();
    let mut breakdowns = Vec::new();
    for name in profile::WORKLOADS {
        let workload = WORKLOADS.iter().find(|workload| workload.name == name).expect("known");
        for target in targets.iter().filter(|target| workload::fits(target, workload)) {
            eprintln!("[profile] {}: {name}", target.name());
            breakdowns.push(profile::profile(target, root, workload, &flame_graphs)?);
        }
    }
    let markdown = format!(
        "# Where a request's CPU time goes\n\n{}\n\n{network}\n\nEach server ran alone on core \
         0 (stages with a loop per core with `--workers 1`, nginx with one worker), wrk -t1 on \
         core 1, for a warm-up of 1 s and then 5 s while `perf record -e cpu-clock -g -a -C 0 \
         -F 997` sampled core 0 (the stages built with frame pointers); the samples of the \
         server's threads (and of stage03's children) are kept. CPU us/request is their time \
         over the requests wrk completed meanwhile; the shares are of that time. Written by \
         `cargo run --release -p bench -- --profile`; see \
         [DESIGN.md](../../DESIGN.md#where-the-time-goes) for what each category holds.\n{}",
        machine_description(),
        profile::markdown(&breakdowns, "profiles")
    );
    println!("{markdown}");
    fs::write(results.join("profile.md"), &markdown)?;
    draw_profile(&results, &markdown)?;
    eprintln!("wrote bench/results/profile.md, profile.svg and profiles/*.svg");
    Ok(())
}

/// Draws the charts of the results (`latest.md`, as `markdown`) into `folder`, in each
/// language: `latest.svg` (one core) and, when the run had them, `two-cores.svg`; the Chinese
/// copies as `*.zh-CN.svg`. Always from the table, whether a run has just written it or
/// `--redraw` reads it: every figure is then rounded from the table's digits, and a redraw
/// changes nothing but what it was asked to.
fn draw_charts(folder: &Path, markdown: &str) -> io::Result<()> {
    let (one_core, two_cores) = report::parse(markdown);
    for language in chart::Language::ALL {
        let heading = language.pick(ONE_CORE_CHART);
        fs::write(folder.join(language.file("latest")), chart::svg(&one_core, heading, language))?;
        if !two_cores.is_empty() {
            let heading = language.pick(TWO_CORE_CHART);
            let svg = chart::svg(&two_cores, heading, language);
            fs::write(folder.join(language.file("two-cores")), svg)?;
        }
    }
    Ok(())
}

/// Draws the chart of the profile (`profile.md`, as `markdown`) into `folder`, in each
/// language (`profile.svg`, `profile.zh-CN.svg`); from the table, as [`draw_charts`].
fn draw_profile(folder: &Path, markdown: &str) -> io::Result<()> {
    let breakdowns = profile::parse(markdown);
    for language in chart::Language::ALL {
        fs::write(folder.join(language.file("profile")), profile::svg(&breakdowns, language))?;
    }
    Ok(())
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
