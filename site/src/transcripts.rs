//! The strace excerpts in the lessons, recorded instead of typed.
//!
//! `cargo run -p site -- transcripts` runs every stage's debug binary under `strace -f`, sends
//! it one request, stops it, and turns the raw trace into a short excerpt: what the stage does
//! for that request, in the order a reader follows it, with nothing that belongs to one machine
//! or one run (paths, ports, addresses, pids). Each excerpt goes to `site/transcripts/` and
//! between the `strace:begin` and `strace:end` markers of the stage's lessons: the same lines
//! in README.md and README.zh-CN.md, annotated in each one's language.
//!
//! The raw trace goes through four steps:
//!
//! 1. Parse: one event per system call (strace splits a call that another thread
//!    interrupts into `<unfinished ...>` and `<... resumed>`: they are joined again), signal
//!    or exit. What the final SIGTERM interrupted counts as never finished: it was waiting.
//! 2. Normalise: the document root becomes `www/`, ports `PORT`, pointers `0x...`, long
//!    strings are cut after 32 bytes (as `strace -s 32` would, but after the root is replaced,
//!    so a long checkout path cannot be cut halfway).
//! 3. Select: noise out (memory, signals set-up, thread start-up, the polling crate's own
//!    descriptors, ...), the window from the connection's `accept4` to the end, the stage's own
//!    rules (stage05's timer ticks, stage06's idle passes, shown twice and then summed up).
//! 4. Order: threads run at the same time, so raw order changes from run to run. The excerpt
//!    follows one thread until it waits (accept, epoll_wait, a futex) and only then goes to the
//!    thread that ran next, which keeps each thread's story in one piece.
//!
//! Each step has its file: `plans` (how each stage is run and annotated), `recording` (the stage
//! under strace), `parse`, `normalise`, `select`, `order`, and `render` (the lines, with pids
//! named and notes aligned). This file holds what the rest of the site uses: [`run`],
//! [`record`], [`excerpt`] (the steps in order) and [`readme_block`].

mod normalise;
mod order;
mod parse;
mod plans;
mod recording;
mod render;
mod select;

use std::fs;
use std::path::Path;

use crate::Lang;
use crate::markers::Markers;

use normalise::Normaliser;
use order::order;
use parse::{Event, Kind, parse};
use plans::{COMMON_NOTES, PLANS, Start, plan};
use recording::check_strace;
pub use recording::{Recording, record};
use render::{forked, names, render};
use select::select;

/// The marker lines around a README's generated excerpt.
pub const MARKERS: Markers = Markers { begin: "<!-- strace:begin", end: "<!-- strace:end -->" };

/// The command that writes the excerpts, as the READMEs and errors name it.
pub const COMMAND: &str = "cargo run -p site -- transcripts";

/// Whether `stage` has an strace excerpt (every stage has one now; a new stage may start
/// without).
pub fn recorded(stage: &str) -> bool {
    PLANS.iter().any(|plan| plan.stage == stage)
}

/// Runs every stage (or only the one named) under strace and writes its excerpt, in each
/// language, to `site/transcripts/` (see [`file`]) and into its lessons. Returns one line per file written.
///
/// # Errors
///
/// One line: strace or a stage binary is missing, a stage misbehaved, or an excerpt lacks the
/// request or the response.
pub fn run(workspace: &Path, only: Option<&str>) -> Result<Vec<String>, String> {
    check_strace()?;
    if let Some(stage) = only {
        plan(stage)?;
    }
    // Everything is recorded before anything is written: a failure leaves no half-update.
    let mut excerpts = Vec::new();
    let chosen = |stage: &&str| recorded(stage) && only.is_none_or(|only| only == *stage);
    for stage in crate::STAGES.map(|stage| stage.name).into_iter().filter(chosen) {
        let recording = record(workspace, stage)?;
        for lang in Lang::ALL {
            excerpts.push((stage, lang, excerpt(stage, &recording, lang)?));
        }
    }
    let mut written = Vec::new();
    fs::create_dir_all(workspace.join("site/transcripts"))
        .map_err(|error| format!("cannot create site/transcripts: {error}"))?;
    for (stage, lang, excerpt) in excerpts {
        let text_file = file(stage, lang);
        fs::write(workspace.join(&text_file), &excerpt)
            .map_err(|error| format!("cannot write {text_file}: {error}"))?;
        written.push(format!("wrote {text_file} ({} lines)", excerpt.lines().count()));
        // Others edit the lessons' prose meanwhile: read, replace the block, write back at once.
        let file = format!("{stage}/{}", lang.readme());
        let readme = fs::read_to_string(workspace.join(&file))
            .map_err(|error| format!("cannot read {file}: {error}"))?;
        let updated = MARKERS
            .replace_block(&readme, &readme_block(stage, &excerpt, lang))
            .map_err(|error| format!("{file}: {error}"))?;
        if updated != readme {
            fs::write(workspace.join(&file), updated)
                .map_err(|error| format!("cannot write {file}: {error}"))?;
            written.push(format!("updated {file}"));
        }
    }
    Ok(written)
}

/// Where `stage`'s excerpt in `lang` is kept, relative to the workspace:
/// `site/transcripts/<stage>.txt`, or `<stage>.zh-CN.txt` with Chinese notes.
pub fn file(stage: &str, lang: Lang) -> String {
    match lang {
        Lang::English => format!("site/transcripts/{stage}.txt"),
        Lang::Chinese => format!("site/transcripts/{stage}.zh-CN.txt"),
    }
}

/// The excerpt for `stage` from its recording: normalised, selected, ordered, and annotated in
/// `lang` (the lines are the same in both languages, only the notes differ).
///
/// # Errors
///
/// When the trace has no accepted connection, or the excerpt lacks the request's read or the
/// response's write.
pub fn excerpt(stage: &str, recording: &Recording, lang: Lang) -> Result<String, String> {
    let plan = plan(stage)?;
    let normaliser = Normaliser { root: &recording.root, port: recording.port };
    let events = parse(&recording.raw);
    let main_pid = events.first().map(|event| event.pid);
    let forked = forked(&events);
    let events = events
        .into_iter()
        .map(|mut event| {
            match &mut event.kind {
                Kind::Call { args, result, .. } => {
                    *args = normaliser.text(args);
                    *result = result.as_deref().map(|result| normaliser.text(result));
                }
                Kind::Signal(text) | Kind::Exit(text) => *text = normaliser.text(text),
            }
            event
        })
        .collect();
    let items = select(events, plan).map_err(|error| format!("{stage}: {error}"))?;
    let ordered = order(items);
    let names = names(&ordered, main_pid, &forked);
    let text = render(&ordered, &names, plan, lang);
    // The check looks at the calls themselves, before lines were shortened.
    let has = |calls: &[&str], what: &str| {
        ordered.iter().any(|(item, _)| match &item.event {
            Some(Event { kind: Kind::Call { name, args, .. }, .. }) => {
                calls.contains(&name.as_str()) && args.contains(what)
            }
            _ => false,
        })
    };
    if plan.start == Start::Ring {
        // The kernel reads the request and writes the response; the excerpt must show the ring
        // at work and the file read for the response.
        if !has(&["io_uring_enter"], "IORING_ENTER_GETEVENTS") || !has(&["openat"], "\"www/") {
            return Err(format!("{stage}: the excerpt shows no io_uring_enter or no file"));
        }
    } else if !has(&["recvfrom", "read"], "\"GET ") {
        return Err(format!("{stage}: the excerpt shows no read of the request"));
    } else if !has(&["sendto", "write"], "\"HTTP/1.1 ") {
        return Err(format!("{stage}: the excerpt shows no write of the response"));
    }
    Ok(text)
}

/// `excerpt` without its notes: each line up to the note on its right, and the plans' note
/// lines (`... (the same pass ...)`) left with their pid only. What the two languages of an
/// excerpt share.
pub fn without_notes(excerpt: &str) -> String {
    let mut texts: Vec<&str> = PLANS
        .iter()
        .flat_map(|plan| {
            let lines = plan.lead_note.into_iter().chain(plan.late_request);
            let notes = plan.notes.iter().map(|note| note.text);
            lines.chain(plan.tail.map(|(_, text)| text)).chain(notes)
        })
        .chain(COMMON_NOTES.iter().map(|note| note.text))
        .flat_map(|text| [text.en, text.zh])
        .collect();
    // The longest first, so that a note which ends another is not taken for it.
    texts.sort_by_key(|text| std::cmp::Reverse(text.len()));
    let mut out = String::new();
    for line in excerpt.lines() {
        let bare = texts
            .iter()
            .find_map(|text| {
                line.strip_suffix(text).filter(|rest| rest.is_empty() || rest.ends_with(' '))
            })
            .unwrap_or(line);
        out.push_str(bare.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The README block

/// What lies between a lesson's marker lines: the command that made the excerpt (said in the
/// lesson's language), and the excerpt in a `text` block (the same in both).
pub fn readme_block(stage: &str, excerpt: &str, lang: Lang) -> String {
    let plan = PLANS.iter().find(|plan| plan.stage == stage);
    let flags = plan.map(|plan| plan.flags.join(" ")).unwrap_or_default();
    let flags = if flags.is_empty() { String::new() } else { format!(" {flags}") };
    let path = plan.map_or("/style.css", |plan| plan.path);
    let command = format!("`strace -f ./target/debug/{stage} --quiet{flags}`");
    let intro = match lang {
        Lang::English => {
            format!("{command}, then one request for {path} (`{COMMAND}` wrote this):")
        }
        Lang::Chinese => format!("{command}，然后请求一次 {path}（由 `{COMMAND}` 写入）："),
    };
    format!("{intro}\n\n```text\n{excerpt}```\n")
}
