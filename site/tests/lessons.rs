//! The lessons as a student meets them: every `cargo run` and `cargo test` a lesson gives names
//! a package, an example, a test and flags that exist, and no sentence quotes a bench figure
//! that the generator does not write (a hand-written figure goes stale with the next run).
//!
//! The flags are checked against the binaries' own `--help`, so this needs the workspace's
//! binaries and examples built, as `cargo test --workspace` builds them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use regex::Regex;

mod common;

/// Each `cargo run ...` or `cargo test ...` in a piece of code, as its words, up to the end of
/// the line or the first shell operator or comment.
fn cargo_commands(code: &str) -> Vec<Vec<&str>> {
    let mut commands = Vec::new();
    for line in code.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (start, pair) in words.windows(2).enumerate() {
            if pair[0] == "cargo" && (pair[1] == "run" || pair[1] == "test") {
                let rest = &words[start..];
                let end = rest
                    .iter()
                    .position(|word| {
                        ["|", "&&", ";", "&", "||"].contains(word)
                            || word.starts_with('#')
                            || word.contains(')')
                    })
                    .unwrap_or(rest.len());
                commands.push(rest[..end].to_vec());
            }
        }
    }
    commands
}

/// `target/debug`, where `cargo test` put this test and the workspace's binaries.
fn profile_dir() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary has a path");
    test_binary
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps")
        .into()
}

/// What a built binary prints for `--help`.
fn help(binary: &Path) -> String {
    let output = Command::new(binary).arg("--help").output().unwrap_or_else(|error| {
        panic!(
            "{}: {error} (build the workspace first: `cargo build --workspace --examples`)",
            binary.display()
        )
    });
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What is wrong with one `cargo run` or `cargo test` command of a lesson, if anything.
fn check(workspace: &Path, words: &[&str], in_exercise: bool) -> Result<(), String> {
    let value =
        |flag: &str| words.iter().position(|word| *word == flag).and_then(|at| words.get(at + 1));
    let Some(package) = value("-p") else {
        // `cargo run` in the workspace's root, or `cargo test --workspace`: nothing to name.
        return Ok(());
    };
    if !workspace.join(package).join("Cargo.toml").exists() {
        return Err(format!("no package `{package}` in the workspace"));
    }
    if words[1] == "test" {
        return match value("--test") {
            Some(test)
                if !workspace.join(package).join("tests").join(format!("{test}.rs")).exists() =>
            {
                Err(format!("`{package}` has no tests/{test}.rs"))
            }
            _ => Ok(()),
        };
    }
    // Only the stages and the bench answer `--help`; `site` takes a word, not flags.
    let number = package.strip_prefix("stage").and_then(|rest| rest.get(..2));
    if number.is_none() && *package != "bench" {
        return Ok(());
    }
    let binary = match (value("--example"), number) {
        (Some(example), _) => profile_dir().join("examples").join(example),
        // In the Exercise section the student runs the stage with the exercise done.
        (None, Some(number)) if in_exercise => {
            profile_dir().join("examples").join(format!("stage{number}_solution"))
        }
        (None, _) => profile_dir().join(package),
    };
    if !binary.exists() {
        return Err(format!("no binary {} (is the example named right?)", binary.display()));
    }
    let help = help(&binary);
    if let Some(number) = number {
        let stage = format!("Stage {}:", number.trim_start_matches('0'));
        if !help.starts_with(&stage) {
            return Err(format!("{} is not an example of `{package}`", binary.display()));
        }
    }
    let flags = words.iter().skip_while(|word| **word != "--").skip(1);
    for flag in flags.filter(|word| word.starts_with("--")) {
        let name = flag.split('=').next().unwrap_or(flag);
        if !help.split_whitespace().any(|word| word.trim_end_matches(',') == name) {
            return Err(format!("{} has no flag `{name}`", binary.display()));
        }
    }
    Ok(())
}

#[test]
fn every_command_a_lesson_gives_names_what_exists() {
    let workspace = site::workspace();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in site::lessons() {
        let lesson = fs::read_to_string(workspace.join(&file)).unwrap();
        for code in common::code_of(&lesson) {
            // In the Exercise section the student runs the stage with the exercise done.
            for words in cargo_commands(&code.text) {
                checked += 1;
                if let Err(error) = check(&workspace, &words, code.in_exercise) {
                    wrong.push(format!("{file}: `{}`: {error}", words.join(" ")));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} commands found: is the parser right?");
    assert!(wrong.is_empty(), "commands that would fail as written:\n{}", wrong.join("\n"));
}

#[test]
fn the_command_check_finds_what_is_missing() {
    let workspace = site::workspace();
    let check = |line: &str, in_exercise: bool| {
        let commands = cargo_commands(line);
        assert_eq!(commands.len(), 1, "{line}");
        check(&workspace, &commands[0], in_exercise)
    };
    assert!(
        check("cargo run -p stage07_epoll --example forget_rearm -- --quiet # a", false).is_ok()
    );
    assert!(check("cargo run -p stage07_epoll --example forget_rearmm", false).is_err());
    assert!(check("cargo run -p stage05_coroutines --example sleep_in_task", false).is_err());
    assert!(check("cargo run -p stage02_static -- --index page.html", false).is_err());
    assert!(check("cargo run -p stage02_static -- --index page.html", true).is_ok());
    assert!(check("cargo test -p stage02_static --test exercise -- --ignored", false).is_ok());
    assert!(check("cargo test -p stage02_static --test exercises", false).is_err());
    assert!(check("cargo run -p stage11_none", false).is_err());
}

/// The prose of a lesson, a paragraph (or list item, or heading) a line: no code, no tables,
/// nothing between the marker lines of a generated block, no generated figure.
fn prose_of(lesson: &str) -> Vec<String> {
    let (mut paragraphs, mut current) = (Vec::new(), String::new());
    let (mut in_generated_block, mut in_figure, mut in_table, mut in_code) =
        (false, false, 0, false);
    for event in Parser::new_ext(lesson, pulldown_cmark::Options::ENABLE_TABLES) {
        match event {
            Event::Html(html) if html.starts_with("<!-- ") && html.contains(":begin") => {
                in_generated_block = true;
            }
            Event::Html(html) if html.starts_with("<!-- ") && html.contains(":end -->") => {
                in_generated_block = false;
            }
            Event::InlineHtml(html) if html.starts_with("<!-- gen:") => in_figure = true,
            Event::InlineHtml(html) if html.starts_with("<!-- /gen") => in_figure = false,
            Event::Start(Tag::Table(_)) => in_table += 1,
            Event::End(TagEnd::Table) => in_table -= 1,
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(text) if !(in_generated_block || in_figure || in_code || in_table > 0) => {
                current.push_str(&text);
            }
            Event::SoftBreak | Event::HardBreak => current.push(' '),
            Event::Code(_) => current.push_str("`code`"),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::Heading(_)) => {
                paragraphs.push(std::mem::take(&mut current));
            }
            _ => {}
        }
    }
    paragraphs.push(current);
    paragraphs.retain(|paragraph| !paragraph.trim().is_empty());
    paragraphs
}

/// What a bench figure or a run's history looks like in a sentence, in either language. The
/// `regex` of this workspace has no Unicode classes: digits are `[0-9]`.
fn bench_figures() -> Regex {
    let number = r"[0-9][0-9,]*(?:\.[0-9]+)?";
    Regex::new(&format!(
        "{number} ?(?:us|µs)(?:[^A-Za-z]|$)|{number}x(?:[^A-Za-z0-9]|$)|{number} ?微秒\
         |{number} ?(?:requests/s|requests a second|requests per second|次/秒|请求/秒)\
         |[0-9]+\\.[0-9]+ ?倍|{number}% of a core|个核的 ?{number}%|{number}% ?的 ?CPU\
         |p99[^.。;；]{{0,40}}?{number} ?(?:ms|s|毫秒|秒)(?:[^A-Za-z]|$)\
         |run before|runs ago|previous run|last run|上一次运行|上次运行|前两次运行"
    ))
    .unwrap()
}

#[test]
fn no_sentence_quotes_a_bench_figure_that_is_not_generated() {
    let workspace = site::workspace();
    let figures = bench_figures();
    let mut found = Vec::new();
    for file in site::lessons() {
        let lesson = fs::read_to_string(workspace.join(&file)).unwrap();
        for paragraph in prose_of(&lesson) {
            for figure in figures.find_iter(&paragraph) {
                found.push(format!("{file}: `{}` in: {paragraph}", figure.as_str().trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "hand-written bench figures or history in lesson prose (say it without the figure and \
         point at the Measured block, or write `<!-- gen:... -->`; see site::figures):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_figure_check_sees_figures_and_only_outside_generated_text() {
    let lesson = "A p99 of 2.9 s here.\n\nIt used 12.4 us, 1.29x nginx's, as in the run before.\n\n\
                  Generated: <!-- gen:cell idle nginx idle-cpu -->12 us<!-- /gen -->, a `12 us` code.\n\n\
                  | table | 12 us |\n|---|---|\n\n```sh\n12 us\n```\n\n\
                  <!-- measured:begin -->\n12 us\n<!-- measured:end -->\n\n一个核的 1.0%，上次运行 3.5 倍。\n";
    let prose = prose_of(lesson);
    let found: Vec<String> = prose
        .iter()
        .flat_map(|paragraph| {
            bench_figures()
                .find_iter(paragraph)
                .map(|m| m.as_str().trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        found,
        ["p99 of 2.9 s", "12.4 us,", "1.29x", "run before", "个核的 1.0%", "上次运行", "3.5 倍"],
        "{prose:?}"
    );
}
