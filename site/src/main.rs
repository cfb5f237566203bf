//! `cargo run -p site` first writes each lesson's "Measured" block from the benchmark's
//! results (see `site::measured`), then the course pages into `www/course/`: one page per
//! stage (its README.md rendered, then its src/main.rs), one page per pair of adjacent
//! stages (the diff of their main.rs). Both are committed; tests fail when they are stale.
//!
//! `cargo run -p site -- transcripts` records the strace excerpt of every stage (after
//! `cargo build`) into `site/transcripts/` and the stages' READMEs; see `site::transcripts`.

use std::fs;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let workspace = site::workspace();
    let outcome = match std::env::args().nth(1).as_deref() {
        None => pages(&workspace).map_err(|error| error.to_string()),
        Some("transcripts") => site::transcripts::run(&workspace).map(|written| {
            for line in written {
                println!("{line}");
            }
        }),
        Some(other) => Err(format!(
            "unknown command `{other}`: `cargo run -p site` writes the course pages, \
             `{}` the strace excerpts",
            site::transcripts::COMMAND
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Writes every lesson's measured block, then every course page into `www/course/`.
fn pages(workspace: &std::path::Path) -> io::Result<()> {
    let results = fs::read_to_string(workspace.join(site::measured::RESULTS))?;
    for stage in site::STAGES.map(|stage| stage.name) {
        let path = workspace.join(stage).join("README.md");
        let readme = fs::read_to_string(&path)?;
        let block = site::measured::readme_block(stage, &results);
        let updated = site::measured::MARKERS
            .replace_block(&readme, &block)
            .map_err(|error| io::Error::other(format!("{stage}/README.md: {error}")))?;
        if updated != readme {
            fs::write(&path, updated)?;
            println!("updated {stage}/README.md (measured)");
        }
    }
    let out = workspace.join("www/course");
    fs::create_dir_all(&out)?;
    for page in site::pages(workspace)? {
        fs::write(out.join(&page.name), &page.html)?;
        println!("wrote www/course/{}", page.name);
    }
    Ok(())
}
