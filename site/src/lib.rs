//! The course pages, generated from the sources so that they can never drift from the code.
//!
//! - `<stage>.html`: the stage's README.md as HTML, then its `src/main.rs` with line numbers.
//! - `<stage>-diff.html`: the unified diff of the previous stage's `main.rs` and this one's,
//!   changed lines highlighted, with a few sentences on what the change means.
//!
//! Plain HTML and the site's one stylesheet: no JavaScript, works offline, from every stage.

use std::fmt::Write;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};
use similar::{ChangeTag, TextDiff};

pub mod markers;
pub mod measured;
pub mod transcripts;

/// The stages, in order: testkit's one table (each stage's name and the sentence that says
/// what it adds to the one before).
pub use testkit::STAGES;

/// One generated page: its file name in `www/course/` and its HTML.
#[derive(Debug)]
pub struct Page {
    /// The file name, e.g. `stage07_epoll.html`.
    pub name: String,
    /// The whole document.
    pub html: String,
}

/// The workspace root (this crate lives in `site/` inside it).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("site/ is inside the workspace")
        .to_path_buf()
}

/// Every course page, rendered from the files under `workspace`.
///
/// # Errors
///
/// When a stage's README.md or src/main.rs cannot be read.
pub fn pages(workspace: &Path) -> io::Result<Vec<Page>> {
    let read = |stage: &str, file: &str| fs::read_to_string(workspace.join(stage).join(file));
    let mut pages = Vec::new();
    for (index, stage) in STAGES.iter().enumerate() {
        let (stage, summary) = (stage.name, stage.idea);
        let readme = read(stage, "README.md")?;
        let main = read(stage, "src/main.rs")?;
        pages.push(Page { name: format!("{stage}.html"), html: lesson(index, &readme, &main) });
        if index > 0 {
            let previous = STAGES[index - 1].name;
            pages.push(Page {
                name: format!("{stage}-diff.html"),
                html: diff_page(index, previous, summary, &read(previous, "src/main.rs")?, &main),
            });
        }
        if let Some((twin, summary)) = STAGES[index].twin {
            pages.push(Page {
                name: twin_page(stage, twin),
                html: diff_page(index, twin, summary, &read(twin, "src/main.rs")?, &main),
            });
        }
    }
    Ok(pages)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page frame: head, the site's navigation, the content, and links to the neighbours.
fn frame(title: &str, content: &str, index: usize) -> String {
    let mut nav = String::new();
    if index > 0 {
        let previous = STAGES[index - 1].name;
        let _ = write!(nav, r#"<a href="{previous}.html">← {previous}</a>"#);
    }
    if let Some(next) = STAGES.get(index + 1).map(|stage| stage.name) {
        let _ = write!(nav, r#"<a href="{next}-diff.html">what {next} changes →</a>"#);
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - HTTP server stages</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header class="site"><nav>
  <a class="brand" href="/">HTTP server <span>stages</span></a>
  <a href="/how-it-works.html">How a request travels</a>
  <a href="/%E4%B8%AD%E6%96%87.html">中文</a>
</nav></header>
<main class="course">
{content}
<p class="pager">{nav}</p>
</main>
<footer>Generated from the repository by <code>cargo run -p site</code>; a test fails when this page is stale.</footer>
</body>
</html>
"#
    )
}

/// A stage's lesson: its README rendered, then its main.rs.
fn lesson(index: usize, readme: &str, main: &str) -> String {
    let stage = STAGES[index].name;
    let mut content = markdown(readme);
    if index > 0 {
        let _ = write!(
            content,
            r#"<p class="note">See exactly what changed from {}: <a href="{stage}-diff.html">the diff of src/main.rs</a>.</p>"#,
            STAGES[index - 1].name
        );
    }
    if let Some((twin, _)) = STAGES[index].twin {
        let _ = write!(
            content,
            r#"<p class="note">And what it changes in the model it remakes, {twin}: <a href="{}">the diff from {twin}</a>.</p>"#,
            twin_page(stage, twin)
        );
    }
    let _ =
        write!(content, "<h2 id=\"source\">The code: {stage}/src/main.rs</h2>\n{}", source(main));
    frame(stage, &content, index)
}

/// Markdown to HTML. Links between lessons are rewritten to the lesson pages; a link to the
/// stage's own `src/main.rs` goes to the code below the lesson; other relative links (files
/// that exist only in the repository) become plain text.
fn markdown(text: &str) -> String {
    let mut drop_link = Vec::new();
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).filter_map(|event| match event {
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let url = dest_url.to_string();
            let rewritten = if url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with('#')
            {
                Some(url)
            } else if url == "src/main.rs" {
                Some("#source".into())
            } else if let Some(stage) = url.trim_start_matches("../").strip_suffix("/README.md") {
                STAGES.iter().any(|known| known.name == stage).then(|| format!("{stage}.html"))
            } else {
                None
            };
            drop_link.push(rewritten.is_none());
            rewritten
                .map(|url| Event::Start(Tag::Link { link_type, dest_url: url.into(), title, id }))
        }
        Event::End(TagEnd::Link) => {
            if drop_link.pop().unwrap_or(false) {
                None
            } else {
                Some(Event::End(TagEnd::Link))
            }
        }
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// Source code with line numbers.
fn source(code: &str) -> String {
    let mut out = String::from("<pre class=\"source\"><code>");
    for (number, line) in code.lines().enumerate() {
        let _ =
            writeln!(out, "<span class=\"line\" data-n=\"{}\">{}</span>", number + 1, escape(line));
    }
    out.push_str("</code></pre>\n");
    out
}

/// The file name of the page that diffs `stage` against the earlier stage it remakes.
fn twin_page(stage: &str, twin: &str) -> String {
    format!("{stage}-from-{twin}.html")
}

/// The diff of an earlier stage's main.rs (`previous`: the one before, or the one this stage
/// remakes) and this one's, in hunks with 3 lines of context.
fn diff_page(index: usize, previous: &str, summary: &str, before: &str, after: &str) -> String {
    let stage = STAGES[index].name;
    let diff = TextDiff::from_lines(before, after);
    let (mut removed, mut added) = (0, 0);
    let mut rows = String::new();
    for (hunk, group) in diff.grouped_ops(3).iter().enumerate() {
        if hunk > 0 {
            rows.push_str("<tr class=\"gap\"><td></td><td></td><td>⋯</td></tr>\n");
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let (class, sign) = match change.tag() {
                    ChangeTag::Delete => {
                        removed += 1;
                        ("del", "-")
                    }
                    ChangeTag::Insert => {
                        added += 1;
                        ("ins", "+")
                    }
                    ChangeTag::Equal => ("ctx", " "),
                };
                let number = |n: Option<usize>| n.map_or(String::new(), |n| (n + 1).to_string());
                let _ = writeln!(
                    rows,
                    "<tr class=\"{class}\"><td>{}</td><td>{}</td><td><code>{sign} {}</code></td></tr>",
                    number(change.old_index()),
                    number(change.new_index()),
                    escape(change.value().trim_end_matches('\n'))
                );
            }
        }
    }
    let content = format!(
        r#"<h1>From {previous} to {stage}</h1>
<p class="lead">{summary}</p>
<p><code>diff -u {previous}/src/main.rs {stage}/src/main.rs</code>: {removed} lines removed,
{added} added. Read the lessons: <a href="{previous}.html">{previous}</a>,
<a href="{stage}.html">{stage}</a>.</p>
<div class="diff"><table>
<thead><tr><th title="{previous}">old</th><th title="{stage}">new</th><th>{previous}/src/main.rs → {stage}/src/main.rs</th></tr></thead>
<tbody>
{rows}</tbody></table></div>
"#,
        summary = inline_code(summary),
    );
    frame(&format!("{previous} → {stage}"), &content, index)
}

/// `code` spans in the one-sentence summaries.
fn inline_code(text: &str) -> String {
    let mut out = String::new();
    for (position, part) in escape(text).split('`').enumerate() {
        if position % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_rewritten_or_dropped() {
        let html = markdown(
            "[a](src/main.rs) [b](../stage02_static/README.md) [c](tests/x.rs) [d](https://x.org)",
        );
        assert!(html.contains(r##"<a href="#source">a</a>"##), "{html}");
        assert!(html.contains(r#"<a href="stage02_static.html">b</a>"#), "{html}");
        assert!(html.contains(" c "), "{html}");
        assert!(!html.contains("tests/x.rs"), "{html}");
        assert!(html.contains(r#"<a href="https://x.org">d</a>"#), "{html}");
    }

    #[test]
    fn diff_rows_are_marked_and_counted() {
        let page = diff_page(1, STAGES[0].name, "s", "a\nb\nc\n", "a\nx\nc\n");
        assert!(
            page.contains(r#"<tr class="del"><td>2</td><td></td><td><code>- b</code></td></tr>"#),
            "{page}"
        );
        assert!(
            page.contains(r#"<tr class="ins"><td></td><td>2</td><td><code>+ x</code></td></tr>"#),
            "{page}"
        );
        assert!(page.contains("1 lines removed,\n1 added"), "{page}");
    }

    #[test]
    fn source_is_escaped_and_numbered() {
        assert_eq!(
            source("fn a() -> Vec<u8> {}\n"),
            "<pre class=\"source\"><code><span class=\"line\" data-n=\"1\">fn a() -&gt; Vec&lt;u8&gt; {}</span>\n</code></pre>\n"
        );
    }
}
