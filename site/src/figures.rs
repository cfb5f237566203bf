//! Figures inside a lesson's sentences, generated like its tables so that prose never quotes a
//! number that the next bench run or the next change of a `main.rs` would make wrong. A figure
//! is written on one line as
//!
//! ```text
//! <!-- gen:KIND ARGS -->VALUE<!-- /gen -->
//! ```
//!
//! in the middle of a line: a line that *starts* with `<!--` begins an HTML block in Markdown,
//! which would break the paragraph in two. The comments are invisible once rendered, on GitHub
//! and on the course pages, and
//! `cargo run -p site` rewrites every VALUE; a test fails when one is stale. The kinds:
//!
//! - `diff-lines A B`: the lines added or removed between `A/src/main.rs` and `B/src/main.rs`,
//!   as the lessons have the student count them (`diff -u ... | grep -c '^[-+][^-+]'`: GNU diff's
//!   choice of alignment, not always the shortest, so the generator runs that very command).
//! - `cell WORKLOAD SERVER COLUMN`: one figure of the bench results. WORKLOAD is a workload of
//!   the load table, `two-cores/WORKLOAD` for the two-core table, or `idle` for the idle table;
//!   COLUMN is `requests/s`, `p50`, `p99`, `cpu` (the median, in us) or `rss` for a load, and
//!   `idle-cpu`, `per-connection` or `fresh-request` for `idle`.
//! - `ratio WORKLOAD SERVER OTHER COLUMN`: SERVER's `requests/s` or `cpu` over OTHER's, as `1.29x`.
//! - `share WORKLOAD SERVER KEYS`: the share of SERVER's CPU time that the profile's categories
//!   named by KEYS take together, as `27%` ([`crate::profile::share`]: `waiting+own`).

use crate::measured::{Load, Results};

/// How a generated figure opens (the kind and its arguments follow, then ` -->`).
const OPEN: &str = "<!-- gen:";
/// The end of the comment that names the figure.
const NAMED: &str = " -->";
/// What follows the figure's value.
const CLOSE: &str = "<!-- /gen -->";

/// `lesson` with every generated figure's value written anew.
///
/// `results` is the text of the bench results, `profile` that of its profile; `diff_lines`
/// counts, for two stages, what the lessons' command counts between their `src/main.rs`
/// ([`counted_diff_lines`]).
///
/// # Errors
///
/// A figure that begins its line or is not closed on it, names an unknown kind, stage,
/// workload, server or column, or whose stage's source cannot be read.
pub fn fill(
    lesson: &str,
    results: &str,
    profile: &str,
    diff_lines: impl Fn(&str, &str) -> Result<usize, String>,
) -> Result<String, String> {
    let results = crate::measured::parse(results);
    let mut out = String::with_capacity(lesson.len());
    let mut rest = lesson;
    while let Some(start) = rest.find(OPEN) {
        let line_end = rest[start..].find('\n').map_or(rest.len(), |end| start + end);
        let line = &rest[start..line_end];
        let at = lesson.len() - rest.len() + start;
        let line_start = lesson[..at].rfind('\n').map_or(0, |newline| newline + 1);
        if lesson[line_start..at].trim().is_empty() {
            return Err(format!(
                "`{line}` begins its line, which makes it an HTML block that breaks the \
                 paragraph: move a word of the sentence before it onto its line"
            ));
        }
        let (Some(named), Some(close)) = (line.find(NAMED), line.find(CLOSE)) else {
            return Err(format!("`{line}`: a figure is `{OPEN}KIND ARGS{NAMED}VALUE{CLOSE}`"));
        };
        let spec = &line[OPEN.len()..named];
        let value = figure(spec, &results, profile, &diff_lines)
            .map_err(|error| format!("`{spec}`: {error}"))?;
        out.push_str(&rest[..start + named + NAMED.len()]);
        out.push_str(&value);
        out.push_str(CLOSE);
        rest = &rest[start + close + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of one figure, from its kind and arguments.
fn figure(
    spec: &str,
    results: &Results,
    profile: &str,
    diff_lines: impl Fn(&str, &str) -> Result<usize, String>,
) -> Result<String, String> {
    match spec.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["diff-lines", before, after] => Ok(diff_lines(before, after)?.to_string()),
        ["cell", workload, server, column] => cell(results, workload, server, column),
        ["ratio", workload, server, other, column] => {
            let number = |server: &str| -> Result<f64, String> {
                let text = cell(results, workload, server, column)?;
                let digits = text.split_whitespace().next().unwrap_or_default();
                digits.parse().map_err(|_| format!("`{text}` is not a number"))
            };
            match *column {
                "requests/s" | "cpu" => Ok(format!("{:.2}x", number(server)? / number(other)?)),
                _ => Err(format!("a ratio is of `requests/s` or `cpu`, not `{column}`")),
            }
        }
        ["share", workload, server, keys] => crate::profile::share(profile, workload, server, keys),
        _ => Err("unknown figure: `diff-lines A B`, `cell WORKLOAD SERVER COLUMN`, \
                  `ratio WORKLOAD SERVER OTHER COLUMN` or `share WORKLOAD SERVER KEYS`"
            .to_string()),
    }
}

/// One cell of the results, as the table prints it (the CPU median alone, with its unit).
fn cell(results: &Results, workload: &str, server: &str, column: &str) -> Result<String, String> {
    if workload == "idle" {
        let idle = results.idles.iter().find(|idle| idle.server == server);
        let idle = idle.ok_or_else(|| format!("no idle row for `{server}`"))?;
        return match column {
            "idle-cpu" => Ok(idle.idle_cpu.clone()),
            "per-connection" => Ok(idle.per_connection.clone()),
            "fresh-request" => Ok(idle.fresh_request.clone()),
            _ => Err(format!(
                "an idle column is `idle-cpu`, `per-connection` or `fresh-request`, not `{column}`"
            )),
        };
    }
    let (table, workload) = match workload.strip_prefix("two-cores/") {
        Some(workload) => (&results.two_cores, workload),
        None => (&results.loads, workload),
    };
    let found =
        table.iter().find(|load: &&Load| load.workload == workload && load.server == server);
    let load = found.ok_or_else(|| format!("no row for `{server}` on `{workload}`"))?;
    match column {
        "requests/s" => Ok(load.requests_per_second.clone()),
        "p50" => Ok(load.p50.clone()),
        "p99" => Ok(load.p99.clone()),
        "cpu" => {
            Ok(format!("{} us", load.cpu_per_request.split_whitespace().next().unwrap_or_default()))
        }
        "rss" => Ok(load.peak_rss.clone()),
        _ => Err(format!(
            "a load column is `requests/s`, `p50`, `p99`, `cpu` or `rss`, not `{column}`"
        )),
    }
}

/// The lines that `diff -u before after | grep -c '^[-+][^-+]'` counts in a unified diff:
/// removed and added lines, except empty ones and those that start with `-` or `+` themselves.
pub fn counted_diff_lines(unified_diff: &str) -> usize {
    let counted = |line: &str| {
        let mut chars = line.chars();
        matches!(chars.next(), Some('-' | '+'))
            && chars.next().is_some_and(|next| !"-+".contains(next))
    };
    unified_diff.lines().filter(|line| counted(line)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULTS: &str = "\
| workload | server | requests/s | x nginx | p50 | p99 | errors | CPU us/req | x nginx | peak RSS |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
| small-50 | stage04_threads | 64772 | 1.29x | 702 us | 3140 us | 0 | 15.19 (14.56-17.92) | 0.78x | 8.9 MiB |
| small-50 | nginx | 50047 | 1.00x | 950 us | 2500 us | 0 | 19.58 (17.87-20.65) | 1.00x | 33.6 MiB |

| server | idle CPU | idle connections held | RSS per connection | fresh request meanwhile |
|---|---:|---:|---:|---:|
| stage05_coroutines | 0.4% | 10000 | 15.25 KiB | 90 us |
";

    fn no_sources(before: &str, _: &str) -> Result<usize, String> {
        Err(format!("no {before}"))
    }

    #[test]
    fn every_value_is_written_anew_and_nothing_else_changes() {
        let lesson = "It is <!-- gen:ratio small-50 stage04_threads nginx requests/s -->9x<!-- /gen --> \
                      nginx's, p99 <!-- gen:cell small-50 stage04_threads p99 --><!-- /gen -->,\n\
                      CPU <!-- gen:cell small-50 nginx cpu -->old<!-- /gen -->; idle \
                      <!-- gen:cell idle stage05_coroutines idle-cpu -->1.0%<!-- /gen -->.\n";
        assert_eq!(
            fill(lesson, RESULTS, "", no_sources).unwrap(),
            "It is <!-- gen:ratio small-50 stage04_threads nginx requests/s -->1.29x<!-- /gen --> \
             nginx's, p99 <!-- gen:cell small-50 stage04_threads p99 -->3140 us<!-- /gen -->,\n\
             CPU <!-- gen:cell small-50 nginx cpu -->19.58 us<!-- /gen -->; idle \
             <!-- gen:cell idle stage05_coroutines idle-cpu -->0.4%<!-- /gen -->.\n"
        );
    }

    #[test]
    fn a_diff_is_counted_as_the_lessons_command_counts_it() {
        let diff = "--- a/main.rs\n+++ b/main.rs\n@@ -1,5 +1,7 @@\n one\n-two\n+2\n \n+\n--- kept\n\
                    ++++ added\n three\n+four\n";
        // Counted: `-two`, `+2`, `+four`; not the headers, the added empty line, nor lines
        // that themselves start with `-` or `+`.
        assert_eq!(counted_diff_lines(diff), 3);
        let lesson = "n = <!-- gen:diff-lines a b -->0<!-- /gen -->";
        let filled = fill(lesson, "", "", |_, _| Ok(counted_diff_lines(diff))).unwrap();
        assert_eq!(filled, "n = <!-- gen:diff-lines a b -->3<!-- /gen -->");
    }

    #[test]
    fn a_figure_that_names_nothing_known_is_an_error() {
        for bad in [
            "x <!-- gen:cell small-50 stage09_async p99 -->1<!-- /gen -->",
            "x <!-- gen:cell small-50 nginx speed -->1<!-- /gen -->",
            "x <!-- gen:ratio small-50 nginx nginx p99 -->1<!-- /gen -->",
            "x <!-- gen:lines a b -->1<!-- /gen -->",
            "x <!-- gen:cell small-50 nginx p99 -->1\n<!-- /gen -->",
            "x <!-- gen:diff-lines a b -->1<!-- /gen -->",
            // At the start of a line it would begin an HTML block.
            "Its p99 is\n  <!-- gen:cell small-50 nginx p99 -->1<!-- /gen -->.",
        ] {
            assert!(fill(bad, RESULTS, "", no_sources).is_err(), "{bad}");
        }
    }
}
