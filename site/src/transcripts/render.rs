//! Rendering: the ordered events as lines, pids named, long calls shortened, notes aligned.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use testkit::Text;

use crate::Lang;

use super::order::{Item, Shape};
use super::parse::{Event, Kind, split_args};
use super::plans::{COMMON_NOTES, Plan};

/// No excerpt line is longer; longer calls lose their last arguments to `...`.
const WIDTH: usize = 110;
/// strace pads `call(args)` to this width before ` = result`; the excerpts do the same.
const CALL_WIDTH: usize = 39;
/// The notes' column is at most this far right, so that they stay in view; a longer line has
/// its note right after it.
const NOTE_COLUMN: usize = 76;

/// The pids of forked processes: clone() with SIGCHLD as the exit signal (a thread has none).
pub(super) fn forked(events: &[Event]) -> HashSet<u32> {
    let mut forked = HashSet::new();
    for event in events {
        if let Kind::Call { name, args, result: Some(result) } = &event.kind {
            if name == "clone" && args.contains("SIGCHLD") {
                forked.extend(result.parse::<u32>().ok());
            }
        }
    }
    forked
}

/// A name for every pid in the excerpt: `main` for the process strace started, `child` for a
/// process it forked, `worker` (then `worker2`, ...) for its threads, in order of appearance.
pub(super) fn names(
    ordered: &[(Item, Shape)],
    main: Option<u32>,
    forked: &HashSet<u32>,
) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    let (mut children, mut workers) = (0, 0);
    for (item, _) in ordered {
        if names.contains_key(&item.pid) {
            continue;
        }
        let name = if Some(item.pid) == main {
            "main".to_string()
        } else if forked.contains(&item.pid) {
            children += 1;
            if children == 1 { "child".into() } else { format!("child{children}") }
        } else {
            workers += 1;
            if workers == 1 { "worker".into() } else { format!("worker{workers}") }
        };
        names.insert(item.pid, name);
    }
    if let Some(main) = main {
        names.entry(main).or_insert_with(|| "main".into());
    }
    names
}

/// The lines, with the pid prefix (when more than one pid appears), strace's padding, and the
/// notes aligned in one column, in `lang`. Room is made for a note in whichever language is
/// wider, so both languages show the same lines, shortened alike, with the same notes.
pub(super) fn render(
    ordered: &[(Item, Shape)],
    names: &HashMap<u32, String>,
    plan: &Plan,
    lang: Lang,
) -> String {
    let pids: HashSet<u32> = ordered.iter().map(|(item, _)| item.pid).collect();
    let prefix_width =
        pids.iter().filter_map(|pid| names.get(pid)).map(|name| name.len() + 7).max().unwrap_or(0);
    let mut used = HashSet::new();
    // Each row: its pid prefix, its line (None for a note line of the plan), its note.
    let mut rows: Vec<(String, Option<Line>, Option<Text>)> = Vec::new();
    for (item, shape) in ordered {
        let name = names.get(&item.pid).map_or("?", String::as_str);
        let prefix = if pids.len() > 1 {
            format!("{:<prefix_width$}", format!("[pid {name}]"))
        } else {
            String::new()
        };
        let Some(event) = &item.event else {
            rows.push((format!("{prefix}{}", lang.pick(item.note)), None, None));
            continue;
        };
        let line = line_for(event, *shape, names);
        let text = line.whole();
        // The stage's notes first, then the common ones; each once, and only on a line that
        // has room for it.
        let note = plan.notes.iter().chain(COMMON_NOTES).enumerate().find(|(index, note)| {
            !used.contains(index)
                && note.who.is_none_or(|who| who == name)
                && note.all.iter().all(|part| text.contains(part))
                && line
                    .shorten(WIDTH.saturating_sub(prefix.len() + width(note.text) + 2), true)
                    .is_some()
        });
        let note = note.map(|(index, note)| {
            used.insert(index);
            note.text
        });
        rows.push((prefix, Some(line), note));
    }
    // The notes' column: right of the longest annotated line that is not too long; a longer
    // line has its note two spaces after it.
    let column = rows
        .iter()
        .filter_map(|(prefix, line, note)| {
            note.and(line.as_ref()).map(|line| prefix.len() + line.whole().len() + 2)
        })
        .filter(|column| *column <= NOTE_COLUMN)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (prefix, line, note) in &rows {
        let text = match (line, note) {
            (None, _) => prefix.clone(),
            (Some(line), None) => {
                format!("{prefix}{}", fit(line, WIDTH.saturating_sub(prefix.len())))
            }
            (Some(line), Some(note)) => {
                // Too long for line and note: the line may lose plain arguments (`NULL, 0`)
                // to make room; when that is not enough, the note goes.
                let room = WIDTH.saturating_sub(prefix.len() + width(*note) + 2);
                match line.shorten(room, true) {
                    Some(body) => {
                        let pad = column.max(prefix.len() + body.len() + 2);
                        format!("{:<pad$}{}", format!("{prefix}{body}"), lang.pick(*note))
                    }
                    None => format!("{prefix}{}", fit(line, WIDTH.saturating_sub(prefix.len()))),
                }
            }
        };
        let _ = writeln!(out, "{}", text.trim_end());
    }
    out
}

/// The columns a note takes in a fixed-width font, in the wider of its two languages: every
/// character of a note beyond ASCII is Chinese, and takes two.
fn width(note: Text) -> usize {
    let columns =
        |text: &str| text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
    columns(note.en).max(columns(note.zh))
}

/// `line` shortened to `width` as far as it can be.
fn fit(line: &Line, width: usize) -> String {
    line.shorten(width, false).unwrap_or_default()
}

/// A call's line before fitting: the parts that can be shortened kept apart.
struct Line {
    /// `name(`, or `<... name resumed>`.
    head: String,
    args: Vec<String>,
    /// `)` and what follows the args before the result (` <unfinished ...>` for waiting).
    close: String,
    result: Option<String>,
}

impl Line {
    /// The whole line.
    fn whole(&self) -> String {
        self.shorten(usize::MAX, false).unwrap_or_default()
    }

    /// The line, as short as needed to fit `width` (if it can be): the explanation of an
    /// error result goes first, then arguments from the right, one at least kept. With
    /// `plain_only`, only plain arguments (`NULL`, `0`, `4096`, not a string, a struct or
    /// flags) may go; None when that is not enough.
    fn shorten(&self, width: usize, plain_only: bool) -> Option<String> {
        let mut args = self.args.clone();
        // A waiting call's empty last argument (for `name(3, `) stays last.
        let open_end = args.last().is_some_and(String::is_empty);
        if open_end {
            args.pop();
        }
        let mut result = self.result.clone();
        loop {
            let mut shown = args.clone();
            if open_end {
                shown.push(String::new());
            }
            let text = self.assemble(&shown, result.as_deref());
            if text.len() <= width {
                return Some(text);
            }
            if let Some((short, _)) = result.as_deref().and_then(|r| r.split_once(" (")) {
                result = Some(short.to_string());
                continue;
            }
            if args.last().is_some_and(|arg| arg == "...") {
                args.pop();
            }
            let plain = |arg: &String| !arg.contains(['{', '[', '"', '|', '=']);
            if args.len() <= 1 || (plain_only && !args.last().is_some_and(plain)) {
                return (!plain_only).then_some(text);
            }
            args.pop();
            args.push("...".into());
        }
    }

    fn assemble(&self, args: &[String], result: Option<&str>) -> String {
        let call = format!("{}{}{}", self.head, args.join(", "), self.close);
        match result {
            Some(result) => format!("{call:<CALL_WIDTH$} = {result}"),
            None => call,
        }
    }
}

/// How an event reads as a line: pids named, long arguments elided where they only repeat
/// what the kernel filled in.
fn line_for(event: &Event, shape: Shape, names: &HashMap<u32, String>) -> Line {
    let rename = |text: &str| rename_pids(text, names);
    match &event.kind {
        Kind::Signal(text) => Line {
            head: format!("--- {}", rename(&short_siginfo(text))),
            args: Vec::new(),
            close: " ---".into(),
            result: None,
        },
        Kind::Exit(text) => Line {
            head: format!("+++ {text}"),
            args: Vec::new(),
            close: " +++".into(),
            result: None,
        },
        Kind::Call { name, args, result } => {
            let mut args = split_args(args);
            if name == "statx" {
                // AT_STATX_SYNC_AS_STAT is 0: strace names it, the call does not depend on it.
                for arg in &mut args {
                    *arg = arg.replace("AT_STATX_SYNC_AS_STAT|", "");
                }
            }
            // Arguments that are only the kernel's answer, or bytes of a struct: elided.
            let keep = match name.as_str() {
                "statx" => 3,
                "setsockopt" if args.get(3).is_some_and(|arg| arg.starts_with('"')) => 3,
                "clone" => 2,
                // The address and the operation; the rest is the wait's details.
                "futex" if args.len() > 3 => 2,
                // The sigmask arguments of epoll_pwait say nothing here.
                "epoll_pwait" => 4,
                _ => usize::MAX,
            };
            if args.len() > keep {
                args.truncate(keep);
                args.push("...".into());
            }
            if let (true, Some(address)) =
                (matches!(name.as_str(), "accept" | "accept4"), args.get_mut(1))
            {
                if address.starts_with("{sa_family=AF_INET,") {
                    // The client's port and address: different every time, not the lesson.
                    *address = "{sa_family=AF_INET, ...}".into();
                }
            }
            let result = result.as_deref().map(|result| {
                if matches!(name.as_str(), "clone" | "getpid" | "getppid" | "wait4" | "fork") {
                    rename(result)
                } else {
                    result.to_string()
                }
            });
            match shape {
                Shape::Whole => Line { head: format!("{name}("), args, close: ")".into(), result },
                Shape::Waiting => {
                    // Only what the call took in; an empty last argument leaves `name(3, `.
                    let more = args.len() > input_args(name);
                    args.truncate(input_args(name));
                    if more {
                        args.push(String::new());
                    }
                    let close = if more { "<unfinished ...>" } else { " <unfinished ...>" };
                    Line { head: format!("{name}("), args, close: close.into(), result: None }
                }
                Shape::Resumed => {
                    let rest = args.split_off(input_args(name).min(args.len()));
                    Line {
                        head: format!("<... {name} resumed>"),
                        args: rest,
                        close: ")".into(),
                        result,
                    }
                }
            }
        }
    }
}

/// `si_signo` (the name says it), `si_uid`, `si_utime` and `si_stime` out of a siginfo.
fn short_siginfo(text: &str) -> String {
    let Some((name, info)) = text.split_once(' ') else { return text.to_string() };
    let Some(inner) = info.strip_prefix('{').and_then(|info| info.strip_suffix('}')) else {
        return text.to_string();
    };
    let fields = split_args(inner);
    let kept: Vec<_> = fields
        .iter()
        .filter(|field| {
            !["si_signo=", "si_uid=", "si_utime=", "si_stime="].iter().any(|f| field.starts_with(f))
        })
        .cloned()
        .collect();
    let more = if kept.len() < fields.len() { ", ..." } else { "" };
    format!("{name} {{{}{more}}}", kept.join(", "))
}

/// Pid numbers (whole numbers equal to a named pid) replaced by their names.
fn rename_pids(text: &str, names: &HashMap<u32, String>) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match digits.parse::<u32>().ok().and_then(|pid| names.get(&pid)) {
            Some(name) => out.push_str(name),
            None => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// How many leading arguments a call takes in (the rest it fills in on return): what a line
/// for a call still waiting shows.
fn input_args(name: &str) -> usize {
    match name {
        "accept" | "accept4" | "epoll_wait" | "epoll_pwait" | "wait4" | "read" | "recvfrom" => 1,
        "clock_nanosleep" => 3,
        "io_uring_enter" => 4,
        _ => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_named_by_role() {
        let names = HashMap::from([(2882, "main".to_string()), (2884, "child".to_string())]);
        assert_eq!(rename_pids("2884", &names), "child");
        assert_eq!(
            short_siginfo(
                "SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=2884, si_uid=0, si_status=0, si_utime=0, si_stime=0}"
            ),
            "SIGCHLD {si_code=CLD_EXITED, si_pid=2884, si_status=0, ...}"
        );
        assert_eq!(rename_pids("si_pid=2884, si_status=0", &names), "si_pid=child, si_status=0");
    }
}
