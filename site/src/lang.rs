//! The course's two languages. Each lesson is written by hand in both (`README.md` and
//! `README.zh-CN.md` beside it); this module holds only what the generator itself writes in
//! each: where a language's pages go, the page frame's words, the first sentence of the
//! generated blocks, and the one-sentence summary of each stage that the diff pages show.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use testkit::Stage;

use crate::markers::Markers;
use crate::{measured, transcripts};

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

    /// What `stage` changes from the stage before, in one sentence (`code` in backticks).
    pub fn idea(self, stage: &Stage) -> &'static str {
        match self {
            Lang::English => stage.idea,
            Lang::Chinese => chinese(stage.name).0,
        }
    }

    /// What `stage` changes from the earlier stage it remakes, when it has such a twin.
    pub fn twin_idea(self, stage: &Stage) -> Option<&'static str> {
        let (_, english) = stage.twin?;
        match self {
            Lang::English => Some(english),
            Lang::Chinese => chinese(stage.name).1,
        }
    }
}

/// What keeps the two languages of a lesson in step: the levels of its headings in order, and
/// its fenced code blocks (commands, code, generated excerpts) word for word. Returns one line
/// per difference; none when the two are in step.
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
    for (name, markers) in [("strace", transcripts::MARKERS), ("measured", measured::MARKERS)] {
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
        let mut in_fence = false;
        for event in Parser::new(text) {
            match event {
                Event::Start(Tag::Heading { level, .. }) => outline.headings.push(level as usize),
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                    outline.code.push(format!("```{info}\n"));
                    in_fence = true;
                }
                Event::Text(part) if in_fence => {
                    outline.code.last_mut().expect("inside a block").push_str(&part);
                }
                Event::End(TagEnd::CodeBlock) => in_fence = false,
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

/// The Chinese summary of each stage, and of what it changes from its twin: testkit's table
/// holds the English ones.
fn chinese(stage: &str) -> (&'static str, Option<&'static str>) {
    match stage {
        "stage01_hello" => {
            ("最小的 HTTP 服务器：accept，读一个请求，回答 hello world，关闭。", None)
        }
        "stage02_static" => (
            "从文档根目录读真正的文件，以及此后每个阻塞式阶段都沿用的请求循环：先写出排队的数据，\
             再读，把字节交给 `Connection`。仍然一次只服务一个连接，所以每个响应之后都关闭连接。",
            None,
        ),
        "stage03_fork" => (
            "`accept` 之后 `fork`：每个连接一个子进程，连接因此可以保持打开（长连接）。新的责任：\
             父子进程各自关掉自己用不着的 socket，父进程回收子进程（否则成为僵尸进程），\
             服务器退出时子进程也随之结束。",
            None,
        ),
        "stage04_threads" => (
            "用线程代替进程：一个固定大小的线程池，由 crossbeam channel 分派连接。没有什么要复制、\
             关闭或回收；线程池的大小限定了洪水般的连接最多能造出多少线程。",
            None,
        ),
        "stage05_coroutines" => (
            "用协程代替线程：may 在几个线程上为每个连接跑一个小栈的有栈协程。请求循环一字未改，\
             变的只是 socket 的类型和 spawn。",
            None,
        ),
        "stage06_nonblocking" => (
            "单线程加非阻塞 socket：阻塞的循环变成一轮遇到 `WouldBlock` 就停下的处理，\
             每个连接的状态从栈上搬进一个结构体，循环轮流询问每个 socket，一轮无事可做时就歇一会儿。",
            None,
        ),
        "stage07_epoll" => (
            "就绪事件：由内核（epoll，经由 polling）告诉我们哪些 socket 就绪了，所以循环在有活可干之前\
             一直睡着。处理一个连接的那一轮没有改变。",
            None,
        ),
        "stage08_reuseport" => (
            "多几个循环，而不是换一个循环：每个核一个线程，各自在自己的监听 socket 上原样运行 stage07 \
             的事件循环。`SO_REUSEPORT` 让它们绑定同一个端口，由内核把新连接分给它们。",
            None,
        ),
        "stage09_async" => (
            "async/await：用 `.await` 重写 stage05 的请求循环，每个连接一个无栈协程（task），跑在 \
             tokio 的运行时上；它的 reactor 就是 stage07 的 epoll 循环，它的工作线程互相窃取任务。",
            Some(
                "从有栈到无栈：同一个请求循环，stage05 阻塞的地方换成 `.await`。may 的协程自带一个栈；\
                 编译器则把 `async fn` 变成一个状态机，只保存跨越 `.await` 还活着的东西，由 tokio 来 poll 它。",
            ),
        ),
        "stage10_uring" => (
            "用完成代替就绪：一个线程把操作本身（accept、接收、发送、关闭）放进 io_uring 的提交队列，\
             一次系统调用提交许多个，再从完成队列取回它们的结果。",
            Some(
                "从就绪到完成：stage07 等内核告诉它某个 socket 就绪，然后自己发起每一个调用；\
                 stage10 把调用排进队列，等内核告诉它每一个何时完成。",
            ),
        ),
        _ => ("", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            differences(ENGLISH, &translated),
            [
                "fenced code block 1 differs at its line 1: English `cargo run # the server`, Chinese `cargo run # 服务器`"
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

    #[test]
    fn every_stage_has_its_summaries_in_both_languages() {
        for stage in &testkit::STAGES {
            for lang in Lang::ALL {
                assert!(!lang.idea(stage).is_empty(), "{}: no summary in {lang:?}", stage.name);
                assert_eq!(
                    lang.twin_idea(stage).is_some(),
                    stage.twin.is_some(),
                    "{}: a twin summary in {lang:?} exactly when it has a twin",
                    stage.name
                );
            }
        }
    }
}
