//! `cargo run --release -p grade -- --cmd 'python3 my_server.py {port} {root}'`: the course's
//! checks against any HTTP server, as a report card. See grade/README.md.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Parser;
use grade::load;
use testkit::STAGES;
use testkit::Target;
use testkit::suites::{self, CHECKS, Check, Level};

/// Check your own server: the course's conformance checks and hostile input, run against any
/// HTTP/1.x server, with a report card of what passed and, for what failed, the exchange and
/// the rule.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The server's command line, run by `sh`: `{port}` and `{root}` stand for a free port on
    /// 127.0.0.1 and the document root the grader fills, `{timeout}` (if present) for the idle
    /// timeout in seconds a check wants. Example: 'python3 -m http.server {port} --bind
    /// 127.0.0.1 --directory {root}'
    #[arg(long, conflicts_with = "bin", required_unless_present = "bin")]
    cmd: Option<String>,
    /// A stage's binary (or one with its flags: `--port`, `--root`, `--quiet`, `--timeout`),
    /// held to the course's own choices too. Example: target/release/stage07_epoll
    #[arg(long)]
    bin: Option<String>,
    /// The levels to check, by number, and `hostile` for the hostile input [default: all]
    #[arg(long, value_delimiter = ',')]
    levels: Vec<String>,
    /// Also write the card as Markdown to this file.
    #[arg(long)]
    markdown: Option<String>,
    /// Leave out the short load run (it needs wrk; without wrk it is left out anyway).
    #[arg(long)]
    no_load: bool,
    /// Write the card's tables into grade/README.md, as the card named NAME (`python`,
    /// `nginx`): how the README's cards are made.
    #[arg(long, value_name = "NAME")]
    readme: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (target, server) = match (args.cmd, args.bin) {
        (Some(line), _) => (Target::Command(line.clone()), line),
        (None, Some(binary)) => (Target::Binary(binary.clone()), binary),
        (None, None) => unreachable!("clap requires one of them"),
    };
    let mut levels = Vec::new();
    for name in &args.levels {
        match name.as_str() {
            "1" => levels.push(Level::One),
            "2" => levels.push(Level::Two),
            "3" => levels.push(Level::Three),
            "hostile" => levels.push(Level::Hostile),
            other => {
                eprintln!("error: --levels takes 1, 2, 3 and hostile, not `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    if levels.is_empty() {
        levels = Level::ALL.to_vec();
    }
    // The progress line, rewritten for each check, only where someone watches it: in a log
    // file its control characters would be noise.
    let watched = io::stderr().is_terminal();
    let mut checks: Vec<Check> =
        CHECKS.iter().filter(|check| levels.contains(&check.level)).copied().collect();
    // A stage of the course is held to what it claims: the checks its own tests run (stage01
    // answers hello world to every path, stage02 closes every connection).
    let stage = match &target {
        Target::Binary(binary) => {
            let name = Path::new(binary).file_name().and_then(|name| name.to_str());
            STAGES.iter().find(|stage| Some(stage.name) == name)
        }
        Target::Command(_) => None,
    };
    if let Some(stage) = stage {
        let claimed = suites::claimed_by(stage);
        checks.retain(|check| claimed.iter().any(|other| other.name == check.name));
        eprintln!(
            "{} claims {} of the {} checks (those its own tests run); only those are graded",
            stage.name,
            claimed.len(),
            CHECKS.len()
        );
    }
    let outcomes = grade::run_checks(&target, &checks, |number, count, check| {
        if watched {
            eprint!("\r\x1b[2K[{number}/{count}] {}", check.name);
            let _ = io::stderr().flush();
        }
    });
    if watched {
        eprint!("\r\x1b[2K");
    }
    print!("{}", grade::text(&server, &outcomes));
    let mut markdown = grade::markdown(&server, &outcomes);
    if !args.no_load {
        match load_run(&target, watched) {
            Ok(rows) => {
                print!("\n{}", load::text(&rows));
                markdown.push_str(&format!("\n{}", load::markdown(&rows)));
            }
            Err(why) => eprintln!("the load run is left out: {why}"),
        }
    }
    if let Some(path) = args.markdown {
        if let Err(error) = fs::write(&path, markdown) {
            eprintln!("error: cannot write {path}: {error}");
            return ExitCode::from(2);
        }
    }
    if let Some(name) = args.readme {
        for readme in grade::READMES {
            let card = grade::card_for(readme, &outcomes);
            let path = format!("{}/{readme}", env!("CARGO_MANIFEST_DIR"));
            let written = fs::read_to_string(&path)
                .map_err(|error| error.to_string())
                .and_then(|text| grade::with_card(&text, &name, &card))
                .and_then(|text| fs::write(&path, text).map_err(|error| error.to_string()));
            if let Err(error) = written {
                eprintln!("error: cannot write the card `{name}` into {path}: {error}");
                return ExitCode::from(2);
            }
        }
    }
    if outcomes.iter().all(grade::Outcome::passed) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The short load run: the graded server beside stage07 and nginx (where they are here).
fn load_run(target: &Target, watched: bool) -> Result<Vec<load::Row>, String> {
    if !Command::new("wrk").arg("--version").output().is_ok_and(|output| !output.stdout.is_empty())
    {
        return Err("wrk is not installed (Debian: apt-get install wrk)".to_string());
    }
    let graded = load::Contender { name: "yours".to_string(), target: target.clone() };
    let contenders = load::contenders(graded);
    if load::stage07_binary().is_none() {
        eprintln!(
            "stage07 is not built, so it is not in the load run: cargo build --release -p stage07_epoll"
        );
    }
    let rows = load::run(&contenders, |what| {
        if watched {
            eprint!("\r\x1b[2K[load] {what}");
            let _ = io::stderr().flush();
        }
    });
    if watched {
        eprint!("\r\x1b[2K");
    }
    rows.map_err(|error| error.to_string())
}
