//! The course pages, generated from the sources so that they can never drift from the code.
//!
//! - `<stage>.html`: the stage's README.md as HTML, then its `src/main.rs` with line numbers.
//! - `<stage>-diff.html`: the unified diff of the previous stage's `main.rs` and this one's,
//!   changed lines highlighted, with a few sentences on what the change means.
//! - `<stage>-from-<twin>.html`: the same for the earlier stage whose model this one remakes.
//!
//! In both languages of the course (see [`lang`]): the English pages in `www/course/` from the
//! README.md files, the Chinese ones in `www/zh/course/` from the README.zh-CN.md files, each
//! page with a switch to the same page in the other language. Plain HTML and the site's one
//! stylesheet: no JavaScript, works offline, from every stage.

use std::fmt::Write;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};
use similar::{ChangeTag, TextDiff};

pub use lang::Lang;

pub mod english;
pub mod figures;
pub mod glossary;
pub mod lang;
pub mod markers;
pub mod measured;
pub mod profile;
pub mod transcripts;

/// The stages, in order: testkit's one table (each stage's name and the sentence that says
/// what it adds to the one before).
pub use testkit::STAGES;

/// One generated page: where it goes in `www/` and its HTML.
#[derive(Debug)]
pub struct Page {
    /// Its path inside `www/`, which is also its URL path: `course/stage07_epoll.html`,
    /// `zh/course/stage07_epoll.html`.
    pub path: String,
    /// The whole document.
    pub html: String,
}

/// Every lesson in both languages, and the course's own README in both: the files whose
/// generated blocks and figures `cargo run -p site` writes. Paths relative to the workspace.
pub fn lessons() -> Vec<String> {
    let stages = STAGES.iter().flat_map(|stage| {
        Lang::ALL.into_iter().map(move |lang| format!("{}/{}", stage.name, lang.readme()))
    });
    stages.chain(Lang::ALL.into_iter().map(|lang| lang.readme().to_string())).collect()
}

/// A lesson (the README at `file`, relative to the workspace) with everything generated in it
/// written anew: for a stage's lesson its measured block and, where it has the markers, its
/// profile block; then the figures in its sentences ([`figures`]), from the files under
/// `workspace`, the bench results `results` and the bench profile `profile`.
///
/// # Errors
///
/// A block's markers are broken, or as [`figures::fill`].
pub fn generated_lesson(
    workspace: &Path,
    file: &str,
    lesson: &str,
    results: &str,
    profile: &str,
) -> Result<String, String> {
    let mut lesson = lesson.to_string();
    let stage = STAGES.iter().find(|stage| file.starts_with(&format!("{}/", stage.name)));
    if let Some(stage) = stage {
        let lang = Lang::ALL.into_iter().find(|lang| file.ends_with(lang.readme()));
        let lang =
            lang.ok_or_else(|| format!("{file}: a lesson is README.md or README.zh-CN.md"))?;
        let block = measured::readme_block(stage.name, results, lang);
        lesson = measured::MARKERS.replace_block(&lesson, &block)?;
        // A lesson without the markers has no profile (stage01 serves no file).
        if profile::MARKERS.block(&lesson).is_ok() {
            let block = profile::readme_block(stage.name, profile, lang);
            lesson = profile::MARKERS.replace_block(&lesson, &block)?;
        }
    }
    figures::fill(&lesson, results, profile, |before, after| {
        main_rs_diff_lines(workspace, before, after)
    })
}

/// The lines added or removed between two stages' `src/main.rs`, as the lessons have the
/// student count them: `diff -u A/src/main.rs B/src/main.rs | grep -c '^[-+][^-+]'` (GNU diff
/// itself, since its alignment is not always the shortest).
///
/// # Errors
///
/// When `diff` cannot be run or cannot read a file.
pub fn main_rs_diff_lines(workspace: &Path, before: &str, after: &str) -> Result<usize, String> {
    let main = |stage: &str| format!("{stage}/src/main.rs");
    let output = std::process::Command::new("diff")
        .args(["-u", &main(before), &main(after)])
        .current_dir(workspace)
        .output()
        .map_err(|error| format!("diff: {error}"))?;
    // diff exits 0 when the files are the same, 1 when they differ, 2 on trouble.
    match output.status.code() {
        Some(0 | 1) => Ok(figures::counted_diff_lines(&String::from_utf8_lossy(&output.stdout))),
        _ => Err(format!("diff: {}", String::from_utf8_lossy(&output.stderr).trim())),
    }
}

/// The workspace root (this crate lives in `site/` inside it).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("site/ is inside the workspace")
        .to_path_buf()
}

/// The bench's profile figures the course pages show and link (the chart, and every flame
/// graph), as pages of their own under `course/profiles/`; none before the first profile.
///
/// # Errors
///
/// When a figure cannot be read.
pub fn profile_figures(workspace: &Path) -> io::Result<Vec<Page>> {
    let mut pages = Vec::new();
    // The charts the lessons and the page of measurements link (profile::FIGURES, each in
    // both languages), where the links lead.
    for (from, to) in profile::FIGURES.iter().filter(|(from, _)| !from.ends_with('/')) {
        let path = workspace.join(from);
        if path.is_file() {
            let html = fs::read_to_string(&path)?;
            pages.push(Page { path: to.trim_start_matches('/').to_string(), html });
        }
    }
    let flame_graphs = workspace.join("bench/results/profiles");
    if flame_graphs.is_dir() {
        let mut names: Vec<String> = fs::read_dir(&flame_graphs)?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".svg"))
            .collect();
        names.sort();
        for name in names {
            let html = fs::read_to_string(flame_graphs.join(&name))?;
            pages.push(Page { path: format!("course/profiles/{name}"), html });
        }
    }
    Ok(pages)
}

/// The course page of the grader's guide (grade/README.md), "Check your own server".
pub const GUIDE: &str = "check-your-server.html";

/// Every course page in both languages, rendered from the files under `workspace`: a lesson
/// per stage, its diffs, and the grader's guide ([`GUIDE`]).
///
/// # Errors
///
/// When a stage's lesson or src/main.rs cannot be read.
pub fn pages(workspace: &Path) -> io::Result<Vec<Page>> {
    let read = |stage: &str, file: &str| fs::read_to_string(workspace.join(stage).join(file));
    let mut pages = Vec::new();
    for lang in Lang::ALL {
        let mut page = |name: String, html: String| {
            pages.push(Page { path: format!("{}/{name}", lang.course()), html });
        };
        for (index, stage) in STAGES.iter().enumerate() {
            let readme = read(stage.name, lang.readme())?;
            let main = read(stage.name, "src/main.rs")?;
            let name = format!("{}.html", stage.name);
            page(name.clone(), lesson(lang, index, &readme, &main, &name));
            if index > 0 {
                let previous = STAGES[index - 1].name;
                let name = format!("{}-diff.html", stage.name);
                let before = read(previous, "src/main.rs")?;
                let idea = lang.pick(stage.idea);
                page(name.clone(), diff_page(lang, index, previous, idea, &before, &main, &name));
            }
            if let Some(twin) = stage.twin {
                let name = twin_page(stage.name, twin.name);
                let before = read(twin.name, "src/main.rs")?;
                let idea = lang.pick(twin.idea);
                page(name.clone(), diff_page(lang, index, twin.name, idea, &before, &main, &name));
            }
        }
        // The grader's guide: how to check a server of one's own with the stages' checks.
        let guide = read("grade", lang.readme())?;
        let title = guide.lines().next().unwrap_or_default().trim_start_matches("# ");
        let content = markdown(lang, GUIDE.trim_end_matches(".html"), &guide);
        page(GUIDE.into(), frame(lang, title, &content, None, GUIDE));
        // Every table of the bench, which the lessons show a few rows of.
        let results = fs::read_to_string(workspace.join(measured::RESULTS))?;
        // Then where the time goes, from the profile (none before the first one).
        let profile = fs::read_to_string(workspace.join(profile::PROFILE)).unwrap_or_default();
        let text = measured::page_markdown(&results, lang) + &profile::page_section(&profile, lang);
        let title = text.lines().next().unwrap_or_default().trim_start_matches("# ");
        let content = markdown(lang, measured::PAGE.trim_end_matches(".html"), &text);
        page(measured::PAGE.into(), frame(lang, title, &content, None, measured::PAGE));
        // The Chinese course's glossary, from its one table (the English page shows the table
        // too, for the language switch and for a reader of both).
        let text =
            glossary::page_markdown(&fs::read_to_string(workspace.join(glossary::FILE))?, lang);
        let title = text.lines().next().unwrap_or_default().trim_start_matches("# ");
        let content = markdown(lang, glossary::PAGE.trim_end_matches(".html"), &text);
        page(glossary::PAGE.into(), frame(lang, title, &content, None, glossary::PAGE));
    }
    Ok(pages)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page frame: head, the site's navigation with the switch to the same page (`name`) in
/// the other language, the content, and, on a stage's page (`index` in [`STAGES`]), links to
/// its neighbours.
fn frame(lang: Lang, title: &str, content: &str, index: Option<usize>, name: &str) -> String {
    let mut nav = String::new();
    let Some(index) = index else { return page_frame(lang, title, content, &nav, name) };
    if index > 0 {
        let previous = STAGES[index - 1].name;
        let _ = write!(nav, r#"<a href="{previous}.html">← {previous}</a>"#);
    }
    if let Some(next) = STAGES.get(index + 1) {
        let label = match lang {
            Lang::English => format!("what {} changes →", next.name),
            Lang::Chinese => format!("{} 改了什么 →", next.name),
        };
        // A stage that remakes an earlier model is read against that one: its diff from the
        // page before is mostly a rewrite.
        let page = match next.twin {
            Some(twin) => twin_page(next.name, twin.name),
            None => format!("{}-diff.html", next.name),
        };
        let _ = write!(nav, r#"<a href="{page}">{label}</a>"#);
    }
    page_frame(lang, title, content, &nav, name)
}

/// The frame of any page: head, the site's navigation with the switch to the same page
/// (`name`) in the other language, the content, then `nav`.
fn page_frame(lang: Lang, title: &str, content: &str, nav: &str, name: &str) -> String {
    let (code, home, other) = (lang.code(), lang.home(), lang.other());
    let (how, footer) = match lang {
        Lang::English => (
            "How a request travels",
            "Generated from the repository by <code>cargo run -p site</code>; a test fails when \
             this page is stale.",
        ),
        Lang::Chinese => (
            "一个请求的旅程",
            "由 <code>cargo run -p site</code> 从仓库生成；本页过时的话，有一个测试会失败。",
        ),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - HTTP server stages</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header class="site"><nav>
  <a class="brand" href="{home}">HTTP server <span>stages</span></a>
  <a href="{home}how-it-works.html">{how}</a>
  <a href="/{}/{name}" lang="{}" hreflang="{}">{}</a>
</nav></header>
<main class="course">
{content}
<p class="pager">{nav}</p>
</main>
<footer>{footer}</footer>
</body>
</html>
"#,
        other.course(),
        other.code(),
        other.code(),
        other.name(),
    )
}

/// A stage's lesson: its README rendered, then its main.rs.
fn lesson(lang: Lang, index: usize, readme: &str, main: &str, name: &str) -> String {
    let stage = STAGES[index].name;
    let mut content = markdown(lang, stage, readme);
    // The diff that teaches comes first: from the model this stage remakes (its twin) if it
    // has one, else from the page before.
    if let Some(twin) = STAGES[index].twin.map(|twin| twin.name) {
        let diff = format!(r#"<a href="{}">"#, twin_page(stage, twin));
        let _ = match lang {
            Lang::English => write!(
                content,
                r#"<p class="note">See exactly what it changes in the model it remakes, {twin}: {diff}the diff from {twin}</a>.</p>"#
            ),
            Lang::Chinese => write!(
                content,
                r#"<p class="note">它对所重写的那个模型 {twin} 究竟改了什么：{diff}和 {twin} 的 diff</a>。</p>"#
            ),
        };
    }
    if index > 0 {
        let previous = STAGES[index - 1].name;
        let diff = format!(r#"<a href="{stage}-diff.html">"#);
        let _ = match (lang, STAGES[index].twin.is_some()) {
            (Lang::English, false) => write!(
                content,
                r#"<p class="note">See exactly what changed from {previous}: {diff}the diff of src/main.rs</a>.</p>"#
            ),
            (Lang::Chinese, false) => write!(
                content,
                r#"<p class="note">和 {previous} 相比究竟改了什么：{diff}src/main.rs 的 diff</a>。</p>"#
            ),
            (Lang::English, true) => write!(
                content,
                r#"<p class="note">The page before, {previous}, has another model: {diff}the diff from it</a> is mostly a rewrite.</p>"#
            ),
            (Lang::Chinese, true) => write!(
                content,
                r#"<p class="note">前一页的 {previous} 是另一种模型：{diff}和它的 diff</a> 大半是重写。</p>"#
            ),
        };
    }
    let code = match lang {
        Lang::English => "The code: ",
        Lang::Chinese => "代码：",
    };
    let _ = write!(content, "<h2 id=\"source\">{code}{stage}/src/main.rs</h2>\n{}", source(main));
    frame(lang, stage, &content, Some(index), name)
}

/// Markdown to HTML, headings with GitHub's anchors so that a lesson's `(#section)` links
/// work on its page too. Links between lessons are rewritten to the lesson pages (a link to
/// the lesson in the other language to that language's page), a section of a lesson to the
/// same section of its page; a link to the stage's own
/// `src/main.rs` goes to the code below the lesson; other relative links (files that exist
/// only in the repository) become plain text.
fn markdown(lang: Lang, stage: &str, text: &str) -> String {
    let page = |to: Lang, stage: &str| {
        if to == lang { format!("{stage}.html") } else { format!("/{}/{stage}.html", to.course()) }
    };
    let rewrite_path = |url: &str| -> Option<String> {
        // The bench's profile figures are served beside the pages (see `profile_figures`).
        for (from, to) in profile::FIGURES {
            if let Some(rest) = url.strip_prefix("../").and_then(|url| url.strip_prefix(from)) {
                return Some(format!("{to}{rest}"));
            }
        }
        if url == "src/main.rs" {
            return Some("#source".into());
        }
        for to in Lang::ALL {
            if url == to.readme() {
                return Some(page(to, stage));
            }
            if url == format!("../{}", to.readme()) {
                return Some(to.home().into());
            }
            if url == format!("../grade/{}", to.readme()) {
                return Some(page(to, GUIDE.trim_end_matches(".html")));
            }
            if url.trim_start_matches("../") == glossary::FILE && to == lang {
                return Some(page(to, glossary::PAGE.trim_end_matches(".html")));
            }
            if url == format!("../{}", measured::RESULTS) && to == lang {
                return Some(page(to, measured::PAGE.trim_end_matches(".html")));
            }
            let linked = url.trim_start_matches("../").strip_suffix(&format!("/{}", to.readme()));
            if let Some(linked) =
                linked.filter(|name| STAGES.iter().any(|known| known.name == *name))
            {
                return Some(page(to, linked));
            }
        }
        None
    };
    let rewrite = |url: &str| -> Option<String> {
        if url.starts_with("http://") || url.starts_with("https://") || url.starts_with('#') {
            return Some(url.into());
        }
        match url.split_once('#') {
            Some((path, section)) => rewrite_path(path).map(|page| format!("{page}#{section}")),
            None => rewrite_path(url),
        }
    };
    let mut drop_link = Vec::new();
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).filter_map(|event| match event {
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let rewritten = rewrite(&dest_url);
            drop_link.push(rewritten.is_none());
            rewritten
                .map(|url| Event::Start(Tag::Link { link_type, dest_url: url.into(), title, id }))
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            let url = rewrite(&dest_url).map_or(dest_url, CowStr::from);
            Some(Event::Start(Tag::Image { link_type, dest_url: url, title, id }))
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
    html::push_html(&mut out, with_anchors(events.collect()).into_iter());
    out
}

/// Gives every heading the anchor GitHub gives it: its text lower-cased, spaces turned into
/// `-`, punctuation dropped (letters of every script kept), `-1`, `-2` ... after repeats.
fn with_anchors(mut events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut seen: Vec<String> = Vec::new();
    for index in 0..events.len() {
        if !matches!(events[index], Event::Start(Tag::Heading { .. })) {
            continue;
        }
        let mut text = String::new();
        for event in &events[index + 1..] {
            match event {
                Event::Text(part) | Event::Code(part) => text.push_str(part),
                Event::End(TagEnd::Heading(_)) => break,
                _ => {}
            }
        }
        let base = slug(&text);
        let repeats = seen.iter().filter(|anchor| **anchor == base).count();
        seen.push(base.clone());
        let anchor = if repeats == 0 { base } else { format!("{base}-{repeats}") };
        if let Event::Start(Tag::Heading { id, .. }) = &mut events[index] {
            *id = Some(CowStr::from(anchor));
        }
    }
    events
}

/// A heading's anchor, as GitHub makes it.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
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
fn diff_page(
    lang: Lang,
    index: usize,
    previous: &str,
    summary: &str,
    before: &str,
    after: &str,
    name: &str,
) -> String {
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
    let words = match lang {
        Lang::English => format!(
            "<h1>From {previous} to {stage}</h1>\n<p class=\"lead\">{}</p>\n\
             <p><code>diff -u {previous}/src/main.rs {stage}/src/main.rs</code>: {removed} lines \
             removed,\n{added} added. Read the lessons: <a href=\"{previous}.html\">{previous}</a>,\n\
             <a href=\"{stage}.html\">{stage}</a>.</p>",
            inline_code(summary)
        ),
        Lang::Chinese => format!(
            "<h1>从 {previous} 到 {stage}</h1>\n<p class=\"lead\">{}</p>\n\
             <p><code>diff -u {previous}/src/main.rs {stage}/src/main.rs</code>：删去 {removed} 行，\n\
             增加 {added} 行。两课的课文：<a href=\"{previous}.html\">{previous}</a>、\n\
             <a href=\"{stage}.html\">{stage}</a>。</p>",
            inline_code(summary)
        ),
    };
    let (old, new) = match lang {
        Lang::English => ("old", "new"),
        Lang::Chinese => ("旧", "新"),
    };
    let content = format!(
        r#"{words}
<div class="diff"><table>
<thead><tr><th title="{previous}">{old}</th><th title="{stage}">{new}</th><th>{previous}/src/main.rs → {stage}/src/main.rs</th></tr></thead>
<tbody>
{rows}</tbody></table></div>
"#
    );
    frame(lang, &format!("{previous} → {stage}"), &content, Some(index), name)
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
            Lang::English,
            "stage03_fork",
            "[a](src/main.rs) [b](../stage02_static/README.md) [c](tests/x.rs) [d](https://x.org) \
             [e](README.zh-CN.md) [f](../README.md) [g](../stage02_static/README.md#measured) \
             [h](tests/x.rs#L3)",
        );
        assert!(html.contains(r##"<a href="#source">a</a>"##), "{html}");
        assert!(html.contains(r#"<a href="stage02_static.html">b</a>"#), "{html}");
        assert!(html.contains(" c "), "{html}");
        assert!(!html.contains("tests/x.rs"), "{html}");
        assert!(html.contains(r#"<a href="https://x.org">d</a>"#), "{html}");
        assert!(html.contains(r#"<a href="/zh/course/stage03_fork.html">e</a>"#), "{html}");
        assert!(html.contains(r#"<a href="/">f</a>"#), "{html}");
        assert!(html.contains(r##"<a href="stage02_static.html#measured">g</a>"##), "{html}");
        assert!(!html.contains("x.rs#L3"), "{html}");
        let html = markdown(
            Lang::Chinese,
            "stage03_fork",
            "[a](../stage02_static/README.zh-CN.md) [b](README.md) [c](../README.zh-CN.md)",
        );
        assert!(html.contains(r#"<a href="stage02_static.html">a</a>"#), "{html}");
        assert!(html.contains(r#"<a href="/course/stage03_fork.html">b</a>"#), "{html}");
        assert!(html.contains(r#"<a href="/zh/">c</a>"#), "{html}");
    }

    #[test]
    fn headings_get_the_anchors_github_gives_them() {
        let html = markdown(
            Lang::Chinese,
            "stage07_epoll",
            "## What a connection costs\n\n## 边缘触发、水平触发与 `oneshot`\n\n## Measured\n\n## Measured\n",
        );
        assert!(html.contains(r#"<h2 id="what-a-connection-costs">"#), "{html}");
        assert!(html.contains(r#"<h2 id="边缘触发水平触发与-oneshot">"#), "{html}");
        assert!(html.contains(r#"<h2 id="measured-1">"#), "{html}");
    }

    #[test]
    fn diff_rows_are_marked_and_counted() {
        let page =
            diff_page(Lang::English, 1, STAGES[0].name, "s", "a\nb\nc\n", "a\nx\nc\n", "x.html");
        assert!(
            page.contains(r#"<tr class="del"><td>2</td><td></td><td><code>- b</code></td></tr>"#),
            "{page}"
        );
        assert!(
            page.contains(r#"<tr class="ins"><td></td><td>2</td><td><code>+ x</code></td></tr>"#),
            "{page}"
        );
        assert!(page.contains("1 lines removed,\n1 added"), "{page}");
        assert!(page.contains(r#"<a href="/zh/course/x.html" lang="zh-CN""#), "{page}");
    }

    #[test]
    fn source_is_escaped_and_numbered() {
        assert_eq!(
            source("fn a() -> Vec<u8> {}\n"),
            "<pre class=\"source\"><code><span class=\"line\" data-n=\"1\">fn a() -&gt; Vec&lt;u8&gt; {}</span>\n</code></pre>\n"
        );
    }
}
