//! The course's two languages. Each lesson is written by hand in both (`README.md` and
//! `README.zh-CN.md` beside it); this module holds only what the generator itself writes in
//! each: where a language's pages go, the page frame's words, the first sentence of the
//! generated blocks. The one-sentence summaries of the stages are in testkit's table, in both
//! languages; [`Lang::pick`] takes a language's.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use testkit::Text;

use crate::markers::Markers;
use crate::{measured, profile, transcripts};

/// A language the course is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// The lessons in `README.md`, the pages in `www/course/`.
    English,
    /// The lessons in `README.zh-CN.md`, the pages in `www/zh/course/`.
    Chinese,
}

impl Lang {
    /// Both, English first.
    pub const ALL: [Lang; 2] = [Lang::English, Lang::Chinese];

    /// A header cell of a generated table in this language. The bench writes its tables in
    /// English; a Chinese page gets every header it knows in Chinese (`CPU, 100 idle` too),
    /// and any other as written.
    pub fn header(self, cell: &str) -> String {
        if self == Lang::English {
            return cell.to_string();
        }
        let known = [
            ("workload", "负载"),
            ("workload, two cores", "负载（双核）"),
            ("two cores", "双核"),
            ("server", "服务器"),
            ("requests/s", "每秒请求数"),
            ("x nginx", "相对 nginx"),
            ("errors", "错误"),
            ("CPU us/request", "每请求 CPU（微秒）"),
            ("CPU us/req", "每请求 CPU（微秒）"),
            ("peak RSS", "内存峰值"),
            ("idle CPU", "空闲时的 CPU"),
            ("memory per idle connection", "每个空闲连接的内存"),
            ("fresh request among 10,000 idle", "10,000 个空闲连接中的新请求"),
            ("idle connections held", "保持的空闲连接"),
            ("RSS per connection", "每个连接的内存"),
            ("fresh request meanwhile", "其间的新请求"),
            ("TCP send", "TCP 发送"),
            ("TCP receive", "TCP 接收"),
            ("the file", "文件"),
            ("waiting and waking", "等待与唤醒"),
            ("accept and close", "accept 与关闭"),
            ("own code, memory", "自身代码与内存"),
            ("other", "其他"),
            ("flame graph", "火焰图"),
        ];
        if let Some((_, chinese)) = known.iter().find(|(english, _)| *english == cell) {
            return chinese.to_string();
        }
        // The idle-scaling table: `CPU, 100 idle`, `fresh request, 100 idle`.
        let idle = |prefix: &str| cell.strip_prefix(prefix)?.strip_suffix(" idle");
        if let Some(count) = idle("CPU, ") {
            return format!("{count} 个空闲连接时的 CPU");
        }
        if let Some(count) = idle("fresh request, ") {
            return format!("{count} 个空闲连接时的新请求");
        }
        cell.to_string()
    }

    /// A Markdown table's header line (`| a | b |`) with each cell as [`Lang::header`] gives it.
    pub fn header_line(self, line: &str) -> String {
        let cells: Vec<String> =
            line.trim().trim_matches('|').split('|').map(|cell| self.header(cell.trim())).collect();
        format!("| {} |", cells.join(" | "))
    }

    /// The lesson's file name in a stage's directory (and the top README's).
    pub fn readme(self) -> &'static str {
        match self {
            Lang::English => "README.md",
            Lang::Chinese => "README.zh-CN.md",
        }
    }

    /// The folder of the course pages inside `www/`, which is also their URL path.
    pub fn course(self) -> &'static str {
        match self {
            Lang::English => "course",
            Lang::Chinese => "zh/course",
        }
    }

    /// The URL of the home page and of the page that follows one request.
    pub fn home(self) -> &'static str {
        match self {
            Lang::English => "/",
            Lang::Chinese => "/zh/",
        }
    }

    /// The value of `<html lang=...>`: it also lets the stylesheet pick fonts per language.
    pub fn code(self) -> &'static str {
        match self {
            Lang::English => "en",
            Lang::Chinese => "zh-CN",
        }
    }

    /// The language's name in itself, as the language switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::English => "English",
            Lang::Chinese => "中文",
        }
    }

    /// The other language: where the language switch leads.
    pub fn other(self) -> Lang {
        match self {
            Lang::English => Lang::Chinese,
            Lang::Chinese => Lang::English,
        }
    }

    /// This language's sentence of a [`Text`] (a stage's summary in testkit's table).
    pub fn pick(self, text: Text) -> &'static str {
        match self {
            Lang::English => text.en,
            Lang::Chinese => text.zh,
        }
    }
}

/// What keeps the two languages of a lesson in step: the levels of its headings in order, and
/// its fenced code blocks (commands, code, generated excerpts) word for word, but for their
/// comments (see [`without_comments`]) and an strace excerpt's notes, which each language
/// writes in its own. Returns one
/// line per difference; none when the two are in step.
pub fn differences(english: &str, chinese: &str) -> Vec<String> {
    let (english, chinese) = (Outline::of(english), Outline::of(chinese));
    let mut found = Vec::new();
    if english.headings != chinese.headings {
        let levels = |outline: &Outline| {
            outline.headings.iter().map(|level| "#".repeat(*level)).collect::<Vec<_>>().join(" ")
        };
        found.push(format!(
            "headings differ: English {}, Chinese {}",
            levels(&english),
            levels(&chinese)
        ));
    }
    if english.code.len() != chinese.code.len() {
        found.push(format!(
            "{} fenced code blocks in English, {} in Chinese",
            english.code.len(),
            chinese.code.len()
        ));
    }
    for (number, (en, zh)) in english.code.iter().zip(&chinese.code).enumerate() {
        if en != zh {
            let (en_lines, zh_lines): (Vec<&str>, Vec<&str>) =
                (en.lines().collect(), zh.lines().collect());
            let at = (0..en_lines.len().max(zh_lines.len()))
                .find(|&line| en_lines.get(line) != zh_lines.get(line))
                .unwrap_or(0);
            let line =
                |lines: &[&str]| lines.get(at).copied().unwrap_or("(end of block)").to_string();
            found.push(format!(
                "fenced code block {} differs at its line {at}: English `{}`, Chinese `{}`",
                number + 1,
                line(&en_lines),
                line(&zh_lines)
            ));
        }
    }
    let blocks = [
        ("strace", transcripts::MARKERS),
        ("measured", measured::MARKERS),
        ("profile", profile::MARKERS),
    ];
    for (name, markers) in blocks {
        if english.has_block(markers) != chinese.has_block(markers) {
            found.push(format!("the {name} block is in one language only"));
        }
    }
    found
}

/// The parts of a lesson that must be the same in both languages.
struct Outline {
    /// Each heading's level (1 for `#`), in order.
    headings: Vec<usize>,
    /// Each fenced code block: its info string and its text.
    code: Vec<String>,
    /// The lines that open a generated block.
    markers: Vec<String>,
}

impl Outline {
    fn of(text: &str) -> Outline {
        let mut outline = Outline { headings: Vec::new(), code: Vec::new(), markers: Vec::new() };
        let (mut in_fence, mut in_strace) = (false, false);
        for event in Parser::new(text) {
            match event {
                Event::Html(html) => {
                    if html.starts_with(transcripts::MARKERS.begin) {
                        in_strace = true;
                    } else if html.starts_with(transcripts::MARKERS.end) {
                        in_strace = false;
                    }
                }
                Event::Start(Tag::Heading { level, .. }) => outline.headings.push(level as usize),
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                    outline.code.push(format!("```{info}\n"));
                    in_fence = true;
                }
                Event::Text(part) if in_fence => {
                    outline.code.last_mut().expect("inside a block").push_str(&part);
                }
                Event::End(TagEnd::CodeBlock) => {
                    let block = outline.code.last_mut().expect("inside a block");
                    // An strace excerpt's notes are in the lesson's language, like comments.
                    *block = if in_strace {
                        transcripts::without_notes(block)
                    } else {
                        without_comments(block)
                    };
                    in_fence = false;
                }
                _ => {}
            }
        }
        outline.markers =
            text.lines().filter(|line| line.starts_with("<!-- ")).map(str::to_string).collect();
        outline
    }

    fn has_block(&self, markers: Markers) -> bool {
        self.markers.iter().any(|line| line.starts_with(markers.begin))
    }
}

/// A fenced code block (its opening line first) without its comments, so that the two
/// languages can each comment a command in their own: in a shell or TOML block everything
/// from a `#` that starts a word, outside quotes; in a Rust block from a `//` that starts a
/// word. Other blocks (outputs, traces) are kept whole. Trailing spaces go with a comment.
pub fn without_comments(block: &str) -> String {
    let info = block.lines().next().unwrap_or_default().trim_start_matches('`');
    let marker = match info {
        "sh" | "bash" | "console" | "toml" => "#",
        "rust" => "//",
        _ => return block.to_string(),
    };
    let mut out = String::new();
    for (number, line) in block.lines().enumerate() {
        let code = if number == 0 { line } else { before_comment(line, marker) };
        out.push_str(code.trim_end());
        out.push('\n');
    }
    out
}

/// `line` up to a comment that begins with `marker` at the start of a word, outside quotes.
fn before_comment<'a>(line: &'a str, marker: &str) -> &'a str {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if previous.is_whitespace() && line[at..].starts_with(marker) => {
                return &line[..at];
            }
            None => {}
        }
        previous = c;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chinese_pages_get_the_headers_in_chinese() {
        let line = "| workload | server | CPU us/request | CPU, 100 idle | fresh request, 1000 idle | p99 |";
        assert_eq!(
            Lang::Chinese.header_line(line),
            "| 负载 | 服务器 | 每请求 CPU（微秒） | 100 个空闲连接时的 CPU | 1000 个空闲连接时的新请求 | p99 |"
        );
        assert_eq!(Lang::English.header_line(line), line);
    }

    /// The profile's categories are named in Chinese twice: here, for the tables the bench
    /// writes in English, and in the bench's own Chinese chart. The committed profile keeps
    /// the two in step: every category its table heads is in the chart's legend as named here.
    #[test]
    fn the_profile_categories_are_named_as_the_chinese_chart_names_them() {
        let results = crate::workspace().join("bench/results");
        let table =
            std::fs::read_to_string(results.join("profile.md")).expect("the committed profile");
        let chart = std::fs::read_to_string(results.join("profile.zh-CN.svg")).expect("its chart");
        let header = table.lines().find(|line| line.starts_with("| server |")).expect("a table");
        // The cells between the figure and the link are the categories.
        let cells = measured::cells(header).expect("a table row");
        let categories = &cells[2..cells.len() - 1];
        assert_eq!(categories.len(), 7, "{header}");
        for category in categories {
            let chinese = Lang::Chinese.header(category);
            assert_ne!(chinese, *category, "{category} has no Chinese name here");
            assert!(chart.contains(&format!(">{chinese}<")), "the chart does not name {chinese}");
        }
    }

    #[test]
    fn comments_are_left_out_and_quoted_hashes_kept() {
        let block =
            "```sh\n# terminal 1\ncurl -w '%{http_code} #x' http://h/ # a comment\nwc -c#not\n";
        assert_eq!(
            without_comments(block),
            "```sh\n\ncurl -w '%{http_code} #x' http://h/\nwc -c#not\n"
        );
        let rust = "```rust\nlet x = 1; // why\n";
        assert_eq!(without_comments(rust), "```rust\nlet x = 1;\n");
        let output = "```text\nread(3) = 1   # kept\n";
        assert_eq!(without_comments(output), output);
    }

    const ENGLISH: &str = "# Stage 1\n\nText.\n\n## Run it\n\n```sh\ncargo run # the server\n```\n\n\
        <!-- measured:begin (x) -->\nrows\n<!-- measured:end -->\n";
    const CHINESE: &str = "# 第 1 步\n\n正文。\n\n## 运行\n\n```sh\ncargo run # the server\n```\n\n\
        <!-- measured:begin (x) -->\n行\n<!-- measured:end -->\n";

    #[test]
    fn a_lesson_in_step_has_no_differences() {
        assert_eq!(differences(ENGLISH, CHINESE), Vec::<String>::new());
    }

    #[test]
    fn drift_in_either_language_is_found() {
        let no_section = CHINESE.replace("## 运行\n\n", "");
        assert_eq!(differences(ENGLISH, &no_section), ["headings differ: English # ##, Chinese #"]);
        let translated = CHINESE.replace("# the server", "# 服务器");
        assert_eq!(differences(ENGLISH, &translated), Vec::<String>::new(), "comments differ");
        let changed = CHINESE.replace("cargo run # the server", "cargo test # the server");
        assert_eq!(
            differences(ENGLISH, &changed),
            [
                "fenced code block 1 differs at its line 1: English `cargo run`, Chinese `cargo test`"
            ]
        );
        let new_command = ENGLISH.replace("```\n\n<!--", "```\n\n```sh\ncargo test\n```\n\n<!--");
        assert_eq!(
            differences(&new_command, CHINESE),
            ["2 fenced code blocks in English, 1 in Chinese"]
        );
        let no_block =
            CHINESE.replace("<!-- measured:begin (x) -->\n行\n<!-- measured:end -->\n", "");
        assert_eq!(differences(ENGLISH, &no_block), ["the measured block is in one language only"]);
    }
}
