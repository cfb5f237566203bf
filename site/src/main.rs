//! `cargo run -p site` first writes each lesson's "Measured" block from the benchmark's results
//! (see `site::measured`), its profile block (`site::profile`) and the figures in its sentences
//! (`site::figures`), then the course pages
//! into `www/course/` (English) and `www/zh/course/` (Chinese): one page per stage (its lesson
//! rendered, then its src/main.rs), one page per pair of adjacent stages (the diff of their
//! main.rs), one from each stage's twin. All are committed; tests fail when they are stale.
//!
//! `cargo run -p site -- transcripts` records the strace excerpt of every stage (after
//! `cargo build`) into `site/transcripts/` and the stages' lessons (`-- transcripts STAGE`:
//! one stage's); see `site::transcripts`.

use std::fs;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let workspace = site::workspace();
    let outcome = match std::env::args().nth(1).as_deref() {
        None => pages(&workspace).map_err(|error| error.to_string()),
        Some("transcripts") => {
            let only = std::env::args().nth(2);
            site::transcripts::run(&workspace, only.as_deref()).map(|written| {
                for line in written {
                    println!("{line}");
                }
            })
        }
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

/// Writes what is generated in every lesson (its measured and profile blocks, the figures in
/// its sentences), then every course page into `www/`.
fn pages(workspace: &std::path::Path) -> io::Result<()> {
    let results = fs::read_to_string(workspace.join(site::measured::RESULTS))?;
    let profile = fs::read_to_string(workspace.join(site::profile::PROFILE)).unwrap_or_default();
    for file in site::lessons() {
        let lesson = fs::read_to_string(workspace.join(&file))?;
        let generated = site::generated_lesson(workspace, &file, &lesson, &results, &profile)
            .map_err(|error| io::Error::other(format!("{file}: {error}")))?;
        if generated != lesson {
            fs::write(workspace.join(&file), generated)?;
            println!("updated {file}");
        }
    }
    for page in site::pages(workspace)?.into_iter().chain(site::profile_figures(workspace)?) {
        let path = workspace.join("www").join(&page.path);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder)?;
        }
        fs::write(&path, &page.html)?;
        println!("wrote www/{}", page.path);
    }
    Ok(())
}
