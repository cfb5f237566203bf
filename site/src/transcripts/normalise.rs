//! Step 2, normalise: what belongs to one machine or one run (the document root, ports,
//! pointers) replaced, long strings cut.

use std::fmt::Write as _;

/// Strings in the excerpt are cut after this many bytes, as `strace -s 32` cuts them.
const STRING_BYTES: usize = 32;

/// What is replaced in every argument and result.
pub(super) struct Normaliser<'a> {
    pub(super) root: &'a str,
    pub(super) port: u16,
}

impl Normaliser<'_> {
    pub(super) fn text(&self, text: &str) -> String {
        let mut text = text.replace(&format!("\"{}/", self.root), "\"www/");
        text = text.replace(&format!("\"{}\"", self.root), "\"www\"");
        text = text.replace(&format!("127.0.0.1:{}", self.port), "127.0.0.1:PORT");
        text = replace_ports(&text);
        text = replace_pointers(&text);
        text = replace_epoll_data(&text);
        cut_strings(&text)
    }
}

/// `sin_port=htons(N)` to `sin_port=htons(PORT)`: bind, getsockname and accept all say PORT.
fn replace_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("htons(") {
        out.push_str(&rest[..at + "htons(".len()]);
        rest = &rest[at + "htons(".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Addresses (`0x` and 8 hex digits or more) to `0x...`: they change with every run.
fn replace_pointers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..].chars().take_while(char::is_ascii_hexdigit).count();
        if digits >= 8 {
            out.push_str("0x...");
        } else {
            out.push_str(&rest[at..at + 2 + digits]);
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// epoll's `data={u32=A, u64=B}`: the u32 is B's low half, so only B is kept; a B that is a
/// pointer (may registers its own structures) goes, as `...`.
fn replace_epoll_data(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("data={u32=") {
        out.push_str(&rest[..at]);
        let Some(length) = rest[at..].find('}') else { break };
        let inside = &rest[at + "data={".len()..at + length];
        let value = inside.split_once("u64=").map(|(_, value)| value.trim());
        match value.and_then(|value| value.parse::<u64>().ok()) {
            Some(value) if (1 << 32..1 << 63).contains(&value) => {
                // A pointer: the whole `data=` goes, after its comma.
                if out.ends_with(", ") {
                    out.truncate(out.len() - 2);
                }
                out.push_str(", ...");
            }
            Some(value) => {
                let _ = write!(out, "data={{u64={value}}}");
            }
            None => out.push_str(&rest[at..=at + length]),
        }
        rest = &rest[at + length + 1..];
    }
    out.push_str(rest);
    out
}

/// Every quoted string cut after [`STRING_BYTES`] bytes, followed by `...` when cut (as strace
/// marks it). An escape (`\r`, `\0`, `\x7f`) is one byte; `PORT` is never cut and counts as
/// one byte, so that the `listening on` line stays whole.
fn cut_strings(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        let mut bytes = 0;
        let mut cut = false;
        while let Some((index, c)) = chars.next() {
            if c == '"' {
                break;
            }
            let mut unit = c.to_string();
            let mut width = c.len_utf8();
            if c == '\\' {
                width = 1;
                if let Some((_, next)) = chars.next() {
                    unit.push(next);
                    // Octal (\0, \177) and hex (\x7f) escapes take their digits along.
                    let more = match next {
                        'x' => 2,
                        '0'..='7' => 2,
                        _ => 0,
                    };
                    for _ in 0..more {
                        match chars.peek() {
                            Some(&(_, digit)) if digit.is_ascii_hexdigit() => {
                                unit.push(digit);
                                chars.next();
                            }
                            _ => break,
                        }
                    }
                }
            } else if text[index..].starts_with("PORT") {
                unit = "PORT".into();
                width = 1;
                for _ in 0..3 {
                    chars.next();
                }
            }
            if bytes >= STRING_BYTES {
                cut = true;
                continue;
            }
            bytes += width;
            out.push_str(&unit);
        }
        out.push('"');
        // strace's own mark, when it cut the string at -s already.
        let marked =
            text[chars.peek().map_or(text.len(), |&(index, _)| index)..].starts_with("...");
        if marked {
            for _ in 0..3 {
                chars.next();
            }
        }
        if cut || marked {
            out.push_str("...");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normaliser() -> Normaliser<'static> {
        Normaliser { root: "/home/me/some/deep/checkout/www", port: 41234 }
    }

    #[test]
    fn paths_ports_and_pointers_are_replaced() {
        let n = normaliser();
        assert_eq!(
            n.text(r#"AT_FDCWD, "/home/me/some/deep/checkout/www/style.css", O_RDONLY"#),
            r#"AT_FDCWD, "www/style.css", O_RDONLY"#
        );
        assert_eq!(
            n.text(
                r#"3, {sa_family=AF_INET, sin_port=htons(41234), sin_addr=inet_addr("127.0.0.1")}"#
            ),
            r#"3, {sa_family=AF_INET, sin_port=htons(PORT), sin_addr=inet_addr("127.0.0.1")}"#
        );
        assert_eq!(
            n.text("3, 0x7ffce56b7cb8, [128], SOCK_CLOEXEC"),
            "3, 0x..., [128], SOCK_CLOEXEC"
        );
        assert_eq!(n.text("0x1 (flags FD_CLOEXEC)"), "0x1 (flags FD_CLOEXEC)");
        assert_eq!(
            n.text(r#"1, "listening on http://127.0.0.1:41234\n", 36"#),
            r#"1, "listening on http://127.0.0.1:PORT\n", 36"#
        );
        assert_eq!(
            n.text("[{events=EPOLLIN, data={u32=1757795776, u64=94654247065024}}]"),
            "[{events=EPOLLIN, ...}]"
        );
    }

    #[test]
    fn strings_are_cut_after_32_bytes_counting_escapes_as_one() {
        assert_eq!(
            cut_strings(r#"4, "GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n", 63"#),
            r#"4, "GET /style.css HTTP/1.1\r\nHost: 1"..., 63"#
        );
        assert_eq!(cut_strings(r#"5, "short"..., 9"#), r#"5, "short"..., 9"#);
        assert_eq!(
            cut_strings(r#""\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0""#),
            r#""\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0""#
        );
    }
}
