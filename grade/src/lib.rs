//! The grader: runs the course's checks ([`testkit::suites::CHECKS`]) against any HTTP
//! server and writes a report card, in the terminal or as Markdown. The checks are the very
//! functions the stages' `cargo test` runs; a stage's binary is also held to the course's own
//! choices, any other server only to what HTTP requires ([`Target::course_rules`]).

pub mod load;

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testkit::suites::{CHECKS, Check, Level};
use testkit::{Exchange, Target};

/// What one check found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The check.
    pub check: Check,
    /// Why it failed (the failed assertion's message), or `None` if it passed.
    pub failure: Option<String>,
    /// The last connection it used, for a failure's report.
    pub exchange: Exchange,
    /// How long it took.
    pub took: Duration,
}

impl Outcome {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The message of the last panic on any thread, taken by the hook [`run`] installs.
static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Runs the checks of `levels` against `target`, one after the other, telling `progress`
/// each check before it starts (its number from 1, and how many there are).
pub fn run(
    target: &Target,
    levels: &[Level],
    progress: impl FnMut(usize, usize, &Check),
) -> Vec<Outcome> {
    let checks: Vec<Check> =
        CHECKS.iter().filter(|check| levels.contains(&check.level)).copied().collect();
    run_checks(target, &checks, progress)
}

/// Runs `checks` against `target`, as [`run`] does.
pub fn run_checks(
    target: &Target,
    checks: &[Check],
    mut progress: impl FnMut(usize, usize, &Check),
) -> Vec<Outcome> {
    // A failed check panics; its message goes on the card, not to stderr in the middle of it.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(text) => text.to_string(),
            None => info.payload().downcast_ref::<String>().cloned().unwrap_or_default(),
        };
        *PANIC_MESSAGE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message);
    }));
    let mut outcomes = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        progress(index + 1, checks.len(), check);
        testkit::clear_last_exchange();
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| (check.run)(target)));
        let failure = result.err().map(|_| {
            let message =
                PANIC_MESSAGE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
            message.unwrap_or_else(|| "the check failed".to_string())
        });
        outcomes.push(Outcome {
            check: *check,
            failure,
            exchange: testkit::last_exchange(),
            took: started.elapsed(),
        });
    }
    panic::set_hook(previous_hook);
    outcomes
}

/// The first `limit` bytes of `bytes`, escaped as Rust escapes a byte string (`\r\n`, `\x00`),
/// with how many more there were.
fn escaped(bytes: &[u8], limit: usize) -> String {
    let shown = &bytes[..bytes.len().min(limit)];
    let mut text = shown.escape_ascii().to_string();
    if bytes.len() > limit {
        let _ = write!(text, " ... ({} more bytes)", bytes.len() - limit);
    }
    text
}

/// How many bytes of each direction a failure's report shows.
const SHOWN_BYTES: usize = 240;

/// The card's tables as Markdown: how many checks passed, and a table per level of each
/// check, its result and where its rule is explained. Nothing in it changes from run to run,
/// so that a README can show a server's card and a test can tell when it is stale.
pub fn summary_markdown(outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|outcome| outcome.passed()).count();
    let mut out = format!("{passed} of {} checks passed.\n", outcomes.len());
    for (level, of_level, level_passed) in by_level(outcomes) {
        let _ = write!(out, "\n**{}** ({level_passed} of {})\n\n", level.title(), of_level.len());
        out.push_str("| check | result | where it is explained |\n|---|---|---|\n");
        for outcome in &of_level {
            let result = if outcome.passed() { "pass" } else { "**FAIL**" };
            let _ = writeln!(out, "| {} | {result} | {} |", outcome.check.name, outcome.check.why);
        }
    }
    out
}

/// The card's tables as [`summary_markdown`] gives them, for the guide in `readme` (one of
/// [`READMES`]): in Chinese for the Chinese guide.
pub fn card_for(readme: &str, outcomes: &[Outcome]) -> String {
    if readme != "README.zh-CN.md" {
        return summary_markdown(outcomes);
    }
    let passed = outcomes.iter().filter(|outcome| outcome.passed()).count();
    let mut out = format!("{} 项检查通过了 {passed} 项。\n", outcomes.len());
    for (level, of_level, level_passed) in by_level(outcomes) {
        let title = chinese_level(level);
        let _ = write!(out, "\n**{title}**（{} 项通过了 {level_passed} 项）\n\n", of_level.len());
        out.push_str("| 检查项 | 结果 | 在哪里讲解 |\n|---|---|---|\n");
        for outcome in &of_level {
            let result = if outcome.passed() { "通过" } else { "**未通过**" };
            let name = chinese_check(outcome.check.name);
            let _ = writeln!(out, "| {name} | {result} | {} |", chinese_why(outcome.check.why));
        }
    }
    out
}

/// Where a check is explained, on the Chinese card: a paragraph of DESIGN.md is named by its
/// English title, quoted (`DESIGN.md, bad input` becomes `DESIGN.md 里的“Bad input”`).
fn chinese_why(why: &str) -> String {
    let Some((before, paragraph)) = why.split_once("DESIGN.md, ") else {
        return why.to_string();
    };
    let (title, after) = paragraph.split_once(';').unwrap_or((paragraph, ""));
    let mut letters = title.chars();
    let title: String =
        letters.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(letters).collect();
    let after = if after.is_empty() { String::new() } else { format!(";{after}") };
    format!("{before}DESIGN.md 里的“{title}”{after}")
}

/// A level's title on the Chinese card.
fn chinese_level(level: Level) -> &'static str {
    match level {
        Level::One => "第 1 级：HTTP/1.0，每个连接一个请求",
        Level::Two => "第 2 级：静态文件",
        Level::Three => "第 3 级：HTTP/1.1，许多客户端",
        Level::Hostile => "恶意输入",
    }
}

/// A check's name on the Chinese card (its English name for a check not listed here, which a
/// test forbids).
fn chinese_check(name: &str) -> &str {
    match name {
        "one request over HTTP/1.0" => "HTTP/1.0 的一个请求",
        "404 for what is not there" => "不存在的文件回答 404",
        "400 for what is not HTTP" => "不是 HTTP 的请求回答 400",
        "media types" => "媒体类型",
        "index.html for a directory" => "目录返回 index.html",
        "301 for a directory without its slash" => "缺少结尾斜杠的目录回答 301",
        "paths as browsers send them" => "浏览器发出的各种路径",
        "HEAD" => "HEAD",
        "conditional GET (304)" => "条件 GET（304）",
        "byte ranges" => "字节范围",
        "a large file, whole" => "完整发送一个大文件",
        "nothing outside the document root" => "不出文档根目录",
        "keep-alive" => "长连接",
        "pipelining, in order" => "流水线，按顺序回答",
        "request bodies read past" => "读过并跳过请求正文",
        "Connection: close" => "Connection: close",
        "closing while the client still sends" => "客户端仍在发送时关闭连接",
        "many clients, one of them stalled" => "许多客户端，其中一个卡住",
        "timeouts" => "超时",
        "shutdown on SIGINT and SIGTERM" => "收到 SIGINT 和 SIGTERM 时退出",
        "malformed requests" => "格式错误的请求",
        "methods not served" => "不提供的方法",
        "no redirect to another host" => "不重定向到别的主机",
        "clients that leave early" => "提前离开的客户端",
        other => other,
    }
}

/// The outcomes level by level, for the levels that ran: each with its outcomes and how many
/// of them passed.
fn by_level(outcomes: &[Outcome]) -> Vec<(Level, Vec<&Outcome>, usize)> {
    let mut levels = Vec::new();
    for level in Level::ALL {
        let of_level: Vec<&Outcome> =
            outcomes.iter().filter(|outcome| outcome.check.level == level).collect();
        let passed = of_level.iter().filter(|outcome| outcome.passed()).count();
        if !of_level.is_empty() {
            levels.push((level, of_level, passed));
        }
    }
    levels
}

/// The report card as Markdown: the tables ([`summary_markdown`]), then each failure with
/// what was sent, what came back, and where the rule is explained. `server` names what was
/// graded.
pub fn markdown(server: &str, outcomes: &[Outcome]) -> String {
    let mut out = format!("# Report card: `{server}`\n\n{}", summary_markdown(outcomes));
    let failures: Vec<&Outcome> = outcomes.iter().filter(|outcome| !outcome.passed()).collect();
    if !failures.is_empty() {
        out.push_str("\n## What failed\n");
    }
    for outcome in failures {
        let _ = write!(out, "\n### {}\n\n", outcome.check.name);
        let _ = writeln!(out, "{}\n", outcome.failure.as_deref().unwrap_or_default());
        let _ = writeln!(out, "- sent: `{}`", escaped(&outcome.exchange.sent, SHOWN_BYTES));
        let _ = writeln!(out, "- received: `{}`", escaped(&outcome.exchange.received, SHOWN_BYTES));
        let _ = writeln!(out, "- explained in: {}", outcome.check.why);
    }
    out
}

/// The guide in both languages, relative to the grader's folder: each shows the cards.
pub const READMES: [&str; 2] = ["README.md", "README.zh-CN.md"];

/// Where a server's card is kept in the guide ([`READMES`]): between the lines `<!-- card:NAME:begin
/// ... -->` and `<!-- card:NAME:end -->`.
pub fn card_markers(name: &str) -> (String, String) {
    (format!("<!-- card:{name}:begin"), format!("<!-- card:{name}:end -->"))
}

/// `readme` with the card named `name` replaced by `card`.
///
/// # Errors
///
/// When `readme` has no such card's markers.
pub fn with_card(readme: &str, name: &str, card: &str) -> Result<String, String> {
    let (begin, end) = card_markers(name);
    let start = readme.find(&begin).ok_or_else(|| format!("no `{begin}` line"))?;
    let start = start + readme[start..].find('\n').map_or(0, |newline| newline + 1);
    let stop = readme[start..].find(&end).ok_or_else(|| format!("no `{end}` line"))? + start;
    Ok(format!("{}{card}{}", &readme[..start], &readme[stop..]))
}

/// The report card for the terminal: a line per check, then each failure in one screen.
pub fn text(server: &str, outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|outcome| outcome.passed()).count();
    let mut out = format!("Report card: {server}\n");
    for (level, of_level, level_passed) in by_level(outcomes) {
        let _ = write!(out, "\n{} ({level_passed} of {})\n", level.title(), of_level.len());
        for outcome in of_level {
            let result = if outcome.passed() { "pass" } else { "FAIL" };
            let _ = writeln!(out, "  {result}  {}", outcome.check.name);
        }
    }
    for outcome in outcomes.iter().filter(|outcome| !outcome.passed()) {
        let _ = write!(out, "\nFAIL {}\n", outcome.check.name);
        let _ = writeln!(out, "  why:      {}", outcome.failure.as_deref().unwrap_or_default());
        let _ = writeln!(out, "  sent:     {}", escaped(&outcome.exchange.sent, SHOWN_BYTES));
        let _ = writeln!(out, "  received: {}", escaped(&outcome.exchange.received, SHOWN_BYTES));
        let _ = writeln!(out, "  see:      {}", outcome.check.why);
    }
    let _ = write!(out, "\n{passed} of {} checks passed.\n", outcomes.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_a_chinese_name() {
        for check in CHECKS {
            let chinese = chinese_check(check.name);
            let english_only =
                chinese == check.name && !matches!(chinese, "HEAD" | "Connection: close");
            assert!(!english_only, "`{}` has no name on the Chinese card", check.name);
        }
    }

    #[test]
    fn bytes_are_shown_escaped_and_cut() {
        assert_eq!(escaped(b"GET / HTTP/1.1\r\n", 100), "GET / HTTP/1.1\\r\\n");
        assert_eq!(escaped(b"\x00abc", 2), "\\x00a ... (2 more bytes)");
    }
}
