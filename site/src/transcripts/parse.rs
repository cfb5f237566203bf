//! Step 1, parse: the raw trace into events, one per system call, signal or exit, each call
//! whole.

use std::collections::{HashMap, HashSet};

/// One system call, signal or exit of the trace.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Event {
    pub(super) pid: u32,
    /// Line numbers of the raw trace where it started and where it ended (the same unless
    /// strace split it).
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    /// `name(args) = result`; `result` is None for a call that never returned (it was still
    /// waiting when the server was stopped).
    Call { name: String, args: String, result: Option<String> },
    /// `--- SIGCHLD {...} ---`
    Signal(String),
    /// `+++ exited with 0 +++`
    Exit(String),
}

/// The events of a raw `strace -f -o FILE` trace, each call whole, in the order they ended.
pub(super) fn parse(raw: &str) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    // Calls strace left unfinished, by pid: their line number and text so far.
    let mut open: HashMap<u32, (usize, String)> = HashMap::new();
    // Pids that got the final SIGTERM: nothing after it counts.
    let mut stopped: HashSet<u32> = HashSet::new();
    for (number, line) in raw.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let rest = rest.trim_start();
        if stopped.contains(&pid) {
            continue;
        }
        if let Some(signal) = rest.strip_prefix("--- ") {
            if signal.starts_with("SIGTERM ") {
                // A call just interrupted by the stop was waiting, not finishing.
                stopped.insert(pid);
                let last = events.iter_mut().rev().find(|event| event.pid == pid);
                if let Some(Event { kind: Kind::Call { result, .. }, .. }) = last {
                    if result.as_deref().is_some_and(interrupted) {
                        *result = None;
                    }
                }
                continue;
            }
            let text = signal.trim_end_matches(" ---").to_string();
            events.push(Event { pid, start: number, end: number, kind: Kind::Signal(text) });
            continue;
        }
        if let Some(exit) = rest.strip_prefix("+++ ") {
            let text = exit.trim_end_matches(" +++");
            if !text.starts_with("killed by") {
                events.push(Event {
                    pid,
                    start: number,
                    end: number,
                    kind: Kind::Exit(text.into()),
                });
            }
            continue;
        }
        if let Some(begun) = rest.strip_suffix("<unfinished ...>") {
            open.insert(pid, (number, begun.trim_end().to_string()));
            continue;
        }
        let (start, text) = if let Some(resumed) = rest.strip_prefix("<... ") {
            // `<... name resumed>rest`: glue it to the beginning.
            let Some((_, tail)) = resumed.split_once(" resumed>") else { continue };
            let Some((start, begun)) = open.remove(&pid) else { continue };
            if tail.trim_start().starts_with("<unfinished ...>") {
                // The thread was killed in the middle: it was waiting.
                let call = parse_call(&format!("{begun}) = ?"));
                if let Some((name, args, _)) = call {
                    events.push(Event {
                        pid,
                        start,
                        end: number,
                        kind: Kind::Call { name, args, result: None },
                    });
                }
                continue;
            }
            // strace printed `accept4(3, ` before `<unfinished ...>`: the space trimmed above
            // comes back.
            let joint = if begun.ends_with(',') { " " } else { "" };
            (start, format!("{begun}{joint}{tail}"))
        } else {
            (number, rest.to_string())
        };
        if let Some((name, args, result)) = parse_call(&text) {
            // `= ?` is how strace ends a call that never returned, except exit's.
            let result = (result != "?" || name.starts_with("exit")).then_some(result);
            events.push(Event { pid, start, end: number, kind: Kind::Call { name, args, result } });
        }
    }
    // Whatever is still open at the end was waiting too.
    let mut waiting: Vec<_> = open.into_iter().collect();
    waiting.sort_by_key(|(_, (start, _))| *start);
    for (pid, (start, begun)) in waiting {
        if let Some((name, args, _)) = parse_call(&format!("{begun}) = ?")) {
            events.push(Event {
                pid,
                start,
                end: usize::MAX,
                kind: Kind::Call { name, args, result: None },
            });
        }
    }
    drop_restarts(events)
}

/// A signal sent to a process wakes its threads until one takes it; the others see their call
/// end with ERESTARTSYS and the kernel starts it again. Only a call followed by the signal in
/// its own thread was really interrupted; the others are dropped (the restarted call goes
/// on), or, with nothing after them, were waiting when the server stopped.
fn drop_restarts(mut events: Vec<Event>) -> Vec<Event> {
    let mut restarted = HashSet::new();
    for index in 0..events.len() {
        let Kind::Call { result: Some(result), .. } = &events[index].kind else { continue };
        if !interrupted(result) {
            continue;
        }
        let pid = events[index].pid;
        match events[index + 1..].iter().find(|event| event.pid == pid).map(|event| &event.kind) {
            Some(Kind::Signal(_)) => {}
            Some(_) => {
                restarted.insert(index);
            }
            None => {
                if let Kind::Call { result, .. } = &mut events[index].kind {
                    *result = None;
                }
            }
        }
    }
    events
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !restarted.contains(index))
        .map(|(_, event)| event)
        .collect()
}

/// A result that says the call was interrupted by a signal.
pub(super) fn interrupted(result: &str) -> bool {
    result.starts_with("? ERESTART") || result.starts_with("-1 EINTR")
}

/// `name(args) = result` into its three parts.
fn parse_call(text: &str) -> Option<(String, String, String)> {
    let open = text.find('(')?;
    let name = &text[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let close = open + closing_paren(&text[open..])?;
    let result = text[close + 1..].trim_start().strip_prefix('=')?.trim();
    Some((name.to_string(), text[open + 1..close].to_string(), result.to_string()))
}

/// The index of the `)` that closes the `(` at the start of `text`, skipping quoted strings.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (c == ')').then_some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits an argument list at its top-level commas.
pub(super) fn split_args(args: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in args.chars() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else {
            match c {
                '"' => quoted = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    parts.push(current.trim().to_string());
                    current.clear();
                    continue;
                }
                _ => {}
            }
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_calls_are_joined_and_the_stop_is_not_a_result() {
        let raw = "\
10 accept4(3,  <unfinished ...>
11 futex(0x55f1d61f0b68, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
10 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC) = 4
11 <... futex resumed>)              = 0
11 futex(0x55f1d61f0b68, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
10 accept4(3, 0x7ffda85bd618, [128], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
10 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=9, si_uid=0} ---
11 <... futex resumed>)              = ?
10 +++ killed by SIGTERM +++
";
        let events = parse(raw);
        let calls: Vec<_> = events
            .iter()
            .map(|event| match &event.kind {
                Kind::Call { name, args, result } => {
                    (event.pid, name.as_str(), args.as_str(), result.clone())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        // In the order they ended, each whole.
        assert_eq!(calls[0].1, "accept4");
        assert!(calls[0].2.starts_with("3, {sa_family"), "{:?}", calls[0]);
        assert_eq!(calls[0].3.as_deref(), Some("4"));
        assert_eq!((calls[1].0, calls[1].1, calls[1].3.as_deref()), (11, "futex", Some("0")));
        assert!(calls[1].2.ends_with("FUTEX_BITSET_MATCH_ANY"), "{:?}", calls[1]);
        // Interrupted by the stop, or killed in the middle: still waiting, no result.
        assert_eq!((calls[2].0, calls[2].3.as_deref()), (10, None));
        assert_eq!((calls[3].0, calls[3].1, calls[3].3.as_deref()), (11, "futex", None));
        assert_eq!(calls.len(), 4);
    }

    #[test]
    fn a_call_restarted_after_another_thread_took_the_signal_is_one_call() {
        let raw = "\
20 futex(0x55fa347084d8, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
21 epoll_wait(4,  <unfinished ...>
20 <... futex resumed>)              = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
20 futex(0x55fa347084d8, FUTEX_WAIT_BITSET_PRIVATE, 4294967295, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
21 <... epoll_wait resumed>0x55fa347084d8, 1024, 10) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
21 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=9, si_uid=0} ---
20 <... futex resumed>)              = ?
";
        let results: Vec<_> = parse(raw)
            .into_iter()
            .map(|event| match event.kind {
                Kind::Call { name, result, .. } => (event.pid, name, result),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(results, [(21, "epoll_wait".into(), None), (20, "futex".into(), None)]);
    }
}
