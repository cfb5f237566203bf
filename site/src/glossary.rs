//! The Chinese course's glossary: one table (`GLOSSARY.zh-CN.md`) of the English terms the
//! lessons translate, with the Chinese they use, a line of meaning and the stage that
//! introduces each. The course page 术语表 ([`PAGE`]) is made from it, every Chinese lesson
//! links it, and a test holds the lessons' prose to it ([`bare_terms`]).

use crate::Lang;

/// The glossary, relative to the workspace: a Markdown table, English term first, Chinese
/// second.
pub const FILE: &str = "GLOSSARY.zh-CN.md";

/// The course page made from it.
pub const PAGE: &str = "glossary.html";

/// The glossary page's Markdown in `lang`: the file itself for the Chinese course; for the
/// English one, an English title and introduction above the same table.
pub fn page_markdown(glossary: &str, lang: Lang) -> String {
    if lang == Lang::Chinese {
        return glossary.to_string();
    }
    let table: Vec<&str> = glossary.lines().filter(|line| line.starts_with('|')).collect();
    format!(
        "# Glossary\n\nThe English terms the Chinese course translates, with the Chinese its \
         lessons use, a line of meaning and the stage that introduces each (the table of \
         `{FILE}`, which the Chinese lessons are checked against).\n\n{}\n",
        table.join("\n")
    )
}

/// One row of the glossary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The English term, lower case (`socket`, `system call`).
    pub english: String,
    /// The Chinese the lessons use for it (`套接字`).
    pub chinese: String,
}

/// The terms of the glossary's table: every row below its header, by its first two cells.
pub fn terms(glossary: &str) -> Vec<Term> {
    glossary
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| English"))
        .filter_map(|line| {
            let mut cells = line.trim_matches('|').split('|').map(str::trim);
            let english = cells.next()?.to_lowercase();
            let chinese = cells.next()?.to_string();
            Some(Term { english, chinese })
        })
        .collect()
}

/// The prose of a lesson, as a reader meets it: without code blocks, inline code, link
/// targets, HTML comments and what the generator writes between its markers, and without
/// glosses, the English in brackets after its Chinese (`套接字（socket）`).
pub fn prose(lesson: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    let mut in_generated = false;
    for line in lesson.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if line.starts_with("<!-- ") && line.contains(":begin") {
            in_generated = true;
        }
        if line.contains(":end -->") {
            in_generated = false;
            continue;
        }
        if in_code || in_generated {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let strip = |text: &str, open: &str, close: &str| {
        let mut kept = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(open) {
            kept.push_str(&rest[..start]);
            match rest[start + open.len()..].find(close) {
                Some(end) => rest = &rest[start + open.len() + end + close.len()..],
                None => {
                    rest = "";
                    break;
                }
            }
        }
        kept.push_str(rest);
        kept
    };
    let out = strip(&out, "<!--", "-->");
    let out = strip(&out, "`", "`");
    let out = strip(&out, "](", ")");
    strip(&out, "（", "）")
}

/// The glossary's English terms that stand bare in `lesson`'s prose, where its Chinese should
/// be: each with the line it is on. Case is ignored, and so is a plural `s`; a term inside a
/// longer word (`socket2`, `io_uring`) does not count.
pub fn bare_terms(lesson: &str, terms: &[Term]) -> Vec<String> {
    let prose = prose(lesson);
    let mut found = Vec::new();
    for line in prose.lines() {
        let lower = line.to_lowercase();
        for term in terms {
            for (start, _) in lower.match_indices(&term.english) {
                let part_of_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
                let before = lower[..start].chars().next_back();
                let mut after = lower[start + term.english.len()..].chars();
                let next = match after.next() {
                    Some('s') => after.next(),
                    other => other,
                };
                if !before.is_some_and(part_of_word) && !next.is_some_and(part_of_word) {
                    found.push(format!(
                        "`{}` (say {}): {}",
                        term.english,
                        term.chinese,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

/// The sentences of a Chinese lesson's prose ([`prose`]): split at `。`, `！`, `？` and line
/// ends, without headings and table rows, each with some Chinese in it.
pub fn sentences(lesson: &str) -> Vec<String> {
    prose(lesson)
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with('|'))
        .flat_map(|line| line.split(['。', '！', '？']))
        .filter(|sentence| sentence.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
        .map(|sentence| sentence.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket() -> Vec<Term> {
        terms("| English | 中文 |\n|---|---|\n| socket | 套接字 |\n| system call | 系统调用 |\n")
    }

    #[test]
    fn the_table_gives_the_terms() {
        let terms = socket();
        assert_eq!(terms.len(), 2, "the header and its rule are not terms");
        assert_eq!(
            (terms[1].english.as_str(), terms[1].chinese.as_str()),
            ("system call", "系统调用")
        );
    }

    #[test]
    fn a_bare_term_is_found_and_a_gloss_or_code_is_not() {
        let terms = socket();
        let lesson = "每个套接字（socket）都是 `socket` 调用建的。\n\
                      ```sh\nss -tn # sockets\n```\n\
                      [socket2](https://docs.rs/socket2) 和 io_uring 不算。\n\
                      这个 Socket 没译，两个 system calls 也没译。\n";
        let bare = bare_terms(lesson, &terms);
        assert_eq!(bare.len(), 2, "{bare:?}");
        assert!(bare[0].starts_with("`socket` (say 套接字)"));
        assert!(bare[1].starts_with("`system call`"));
    }
}
