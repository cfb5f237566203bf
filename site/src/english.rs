//! The English a Chinese page leaves in its prose. A Chinese page keeps English only where a
//! Chinese book would: in code and commands, in identifiers (`stage07_epoll`, `epoll_wait`,
//! `Connection: close`), in names (nginx, tokio, Linux), in acronyms and units (TCP, MiB), in a
//! gloss after the Chinese term (`套接字（socket）`) and in a quotation of an English source
//! (`“reduce syscalls in poll_read”`). [`left_in`] finds every other English word; the
//! languages test holds every page of `www/zh/` to none.

/// Words a Chinese page keeps as they are: the names of system calls, functions and types the
/// lessons discuss, of programs, crates, people and products, the units, and the Rust terms
/// that Chinese Rust writing keeps in English (crate, future, panic).
#[rustfmt::skip]
pub const KEPT: &[&str] = &[
    // System calls and library functions, as the lessons name them in prose.
    "accept", "bind", "clone", "close", "connect", "epoll", "eventfd", "exit", "fork", "futex",
    "join", "listen", "lstat", "openat", "poll", "read", "recvfrom", "select", "sendfile",
    "sendto", "sigaction", "signalfd", "sleep", "socket", "splice", "spawn", "statx", "sysctl",
    "timerfd", "wait", "write", "kqueue", "multishot", "oneshot",
    // Identifiers the lessons name: descriptors, fields, columns of `ss`, a header, a key.
    "stderr", "stdout", "pid", "backlog", "poller", "slab", "std", "libc", "Recv-Q", "Send-Q",
    "Connection", "Ctrl-C", "root",
    // Programs, crates, projects, people and products.
    "nginx", "curl", "wrk", "nc", "ss", "ps", "strace", "tcpdump", "perf", "iptables", "nstat",
    "tokio", "may", "nix", "regex", "crossbeam", "polling", "mio", "clap", "inferno", "similar",
    "io-wq", "tokio-uring", "smol-rs", "Linux", "Debian", "Rust", "Python", "Redis", "Apache",
    "Node", "Markdown", "Chromium", "Intel", "Xeon", "Processor", "Nagle", "Slowloris",
    "slowloris", "Kegel", "Dan", "Jens", "Axboe", "GitHub", "cargo", "English", "systemd",
    "diff", "cookie",
    // Rust terms Chinese Rust writing keeps (the Rust book's translation does too).
    "crate", "future", "panic", "async", "await",
    // Units.
    "us", "ms", "KiB", "MiB", "GiB",
];

/// Phrases a Chinese page keeps whole: the course's name, and what stage01 answers.
pub const KEPT_PHRASES: &[&str] = &["HTTP server stages", "hello world"];

/// An English word left in a page's prose, with the text around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub word: String,
    pub context: String,
}

/// The English words of `html`'s prose that none of the module's rules keep.
pub fn left_in(html: &str) -> Vec<Left> {
    let prose = without_quotes_and_glosses(&prose(html));
    // Tags became spaces: one space between words, for the phrases to be found.
    let mut prose = prose.split_whitespace().collect::<Vec<_>>().join(" ");
    for phrase in KEPT_PHRASES {
        prose = prose.replace(phrase, " ");
    }
    let mut found = Vec::new();
    for (at, token) in tokens(&prose) {
        let word = token.trim_matches(|c: char| ",;:!?()[]\"'".contains(c)).trim_end_matches('.');
        if is_english_word(word) && !KEPT.contains(&word) {
            let before = prose[..at].chars().rev().take(20).collect::<Vec<_>>();
            let after = prose[at..].chars().take(token.len() + 20);
            let context: String = before.into_iter().rev().chain(after).collect();
            let context = context.split_whitespace().collect::<Vec<_>>().join(" ");
            found.push(Left { word: word.to_string(), context });
        }
    }
    found
}

/// The text of `html` outside code (`pre`, `code`, `kbd`, `samp`, `script`, `style`, `svg`),
/// with every tag a space, and the `alt` and `title` texts too.
fn prose(html: &str) -> String {
    const CODE: [&str; 7] = ["pre", "code", "kbd", "samp", "script", "style", "svg"];
    let mut out = String::new();
    let mut in_code = 0usize;
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        if in_code == 0 {
            out.push_str(&decoded(&rest[..open]));
        }
        let Some(close) = rest[open..].find('>') else { break };
        let tag = &rest[open + 1..open + close];
        let name: String =
            tag.trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
        if CODE.contains(&name.as_str()) && !tag.ends_with('/') {
            if tag.starts_with('/') {
                in_code = in_code.saturating_sub(1);
            } else {
                in_code += 1;
            }
        }
        for attribute in ["alt=\"", "title=\""] {
            if let Some((_, value)) = tag.split_once(attribute) {
                let value = value.split('"').next().unwrap_or_default();
                out.push(' ');
                out.push_str(&decoded(value));
            }
        }
        out.push(' ');
        rest = &rest[open + close + 1..];
    }
    if in_code == 0 {
        out.push_str(&decoded(rest));
    }
    out
}

/// HTML's escapes, undone.
fn decoded(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `text` without quotations all in ASCII (`“...”`, `"..."`: an English source or a program's
/// words, quoted) and without the glosses of full-width parentheses: every part of a `（...）`
/// between its commas that is all ASCII (`（socket）`, `（即背压，backpressure）`). Quotations
/// go first, then parentheses from the innermost out.
fn without_quotes_and_glosses(text: &str) -> String {
    let mut text = text.to_string();
    for (open, close) in [('“', '”'), ('"', '"')] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(open) {
            let inside = &rest[at + open.len_utf8()..];
            let Some(end) = inside.find(close) else { break };
            out.push_str(&rest[..at]);
            if !inside[..end].is_ascii() {
                out.push_str(&rest[at..at + open.len_utf8() + end + close.len_utf8()]);
            }
            rest = &inside[end + close.len_utf8()..];
        }
        out.push_str(rest);
        text = out;
    }
    // The first `）` closes the innermost group: the last `（` before it opens it. Each group
    // done is marked with other brackets, so that the search moves on.
    while let Some(end) = text.find('）') {
        let Some(start) = text[..end].rfind('（') else {
            text.replace_range(end..end + '）'.len_utf8(), "〕");
            continue;
        };
        let inside = &text[start + '（'.len_utf8()..end];
        let parts: Vec<&str> =
            inside.split(['，', '、', '；', '：']).filter(|part| !part.is_ascii()).collect();
        let group = format!("〔{}〕", parts.join("，"));
        text.replace_range(start..end + '）'.len_utf8(), &group);
    }
    text
}

/// The runs of ASCII between white space and Chinese, with where each starts.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| c.is_whitespace() || !c.is_ascii())
        .filter(|token| !token.is_empty())
        .map(move |token| (token.as_ptr() as usize - text.as_ptr() as usize, token))
}

/// A word of English prose: letters, with hyphens or an apostrophe inside. Not an identifier
/// (digits, `_`, `.`, `/`, `(`...), an acronym (`TCP`, `TIME-WAIT`) or a single letter.
fn is_english_word(word: &str) -> bool {
    let letters = word.chars().filter(char::is_ascii_alphabetic).count();
    let shaped = word.chars().all(|c| c.is_ascii_alphabetic() || c == '-' || c == '\'')
        && word.starts_with(|c: char| c.is_ascii_alphabetic());
    let acronym = word.chars().all(|c| c.is_ascii_uppercase() || c == '-');
    shaped && letters > 1 && !acronym
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(html: &str) -> Vec<String> {
        left_in(html).into_iter().map(|left| left.word).collect()
    }

    #[test]
    fn code_names_acronyms_glosses_and_quotes_are_kept() {
        let html = "<p>内核用 <code>epoll_wait</code> 通知 nginx：TCP 套接字（socket）的 \
                    4 MiB 就绪了（即背压，backpressure）。curl 会说 \
                    &quot;Received HTTP/0.9 when not allowed&quot;。</p>\
                    <pre><code>cargo run -p stage07_epoll # the server</code></pre>";
        assert_eq!(words(html), Vec::<String>::new());
    }

    #[test]
    fn english_prose_is_found() {
        let html = "<h1>第 1 步</h1><p>这个 bug 让 worker 线程（工作线程）停下，\
                    <a title=\"the next stage\">下一步</a>。</p>";
        assert_eq!(words(html), ["bug", "worker", "the", "next", "stage"]);
    }

    #[test]
    fn a_gloss_is_only_the_ascii_part_of_its_parentheses() {
        let html = "<p>文档根目录（document root，默认是 <code>www</code>）和（默认 the root）</p>";
        assert_eq!(words(html), ["the"]);
    }
}
