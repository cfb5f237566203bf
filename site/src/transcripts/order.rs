//! Step 4, order: one thread's story in one piece, until it waits.

use std::collections::{BTreeMap, HashSet, VecDeque};

use testkit::Text;

use super::parse::{Event, Kind, interrupted};

/// One line to be: an event, or a note line of the plan (`... (the same pass ...)`).
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) pid: u32,
    /// Where it ended in the raw trace: the order in which threads take turns.
    line: usize,
    pub(super) event: Option<Event>,
    /// A note line's text (empty for an event).
    pub(super) note: Text,
}

impl Item {
    pub(super) fn event(event: Event) -> Item {
        Item { pid: event.pid, line: event.end, event: Some(event), note: Text { en: "", zh: "" } }
    }

    pub(super) fn note(pid: u32, line: usize, note: Text) -> Item {
        Item { pid, line, event: None, note }
    }

    fn waits(&self) -> bool {
        match &self.event {
            Some(Event { kind: Kind::Call { name, args, result }, .. }) => {
                result.is_none()
                    || (may_wait(name, args)
                        && !result.as_deref().is_some_and(|r| r.starts_with("-1 EAGAIN")))
            }
            _ => false,
        }
    }
}

/// How a line shows a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Shape {
    /// `name(args) = result`
    Whole,
    /// `name(input args <unfinished ...>`: still waiting when the excerpt went elsewhere.
    Waiting,
    /// `<... name resumed>rest) = result`: the end of a call shown waiting before.
    Resumed,
}

/// Puts the items in reading order: one thread's items in a row until it waits and another
/// thread did something meanwhile; then the thread whose next item ended first. A call that
/// was interrupted while we looked elsewhere is shown twice, waiting and resumed, as strace
/// shows it.
pub(super) fn order(items: Vec<Item>) -> Vec<(Item, Shape)> {
    let mut queues: BTreeMap<u32, VecDeque<Item>> = BTreeMap::new();
    let first = items.first().map(|item| item.pid);
    for item in items {
        queues.entry(item.pid).or_default().push_back(item);
    }
    let next_line = |queues: &BTreeMap<u32, VecDeque<Item>>, except: u32| {
        queues
            .iter()
            .filter(|(pid, _)| **pid != except)
            .filter_map(|(pid, queue)| queue.front().map(|item| (item.line, *pid)))
            .min()
    };
    let mut out = Vec::new();
    let mut split: HashSet<(u32, usize)> = HashSet::new();
    let Some(mut current) = first else { return out };
    loop {
        let Some(item) = queues.get(&current).and_then(|queue| queue.front()).cloned() else {
            match next_line(&queues, current) {
                Some((_, pid)) => {
                    current = pid;
                    continue;
                }
                None => break,
            }
        };
        let sooner = next_line(&queues, current).filter(|(line, _)| *line < item.line);
        if let (true, Some((_, other))) = (item.waits(), sooner) {
            let never_ends =
                matches!(&item.event, Some(Event { kind: Kind::Call { result: None, .. }, .. }));
            let was_interrupted = matches!(
                &item.event,
                Some(Event { kind: Kind::Call { result: Some(result), .. }, .. }) if interrupted(result)
            );
            if never_ends {
                out.push((item, Shape::Waiting));
                queues.get_mut(&current).and_then(|queue| queue.pop_front());
            } else if was_interrupted && split.insert((item.pid, item.line)) {
                out.push((item, Shape::Waiting));
            }
            current = other;
            continue;
        }
        queues.get_mut(&current).and_then(|queue| queue.pop_front());
        let shape = match &item.event {
            Some(Event { kind: Kind::Call { result: None, .. }, .. }) => Shape::Waiting,
            _ if split.contains(&(item.pid, item.line)) => Shape::Resumed,
            _ => Shape::Whole,
        };
        out.push((item, shape));
    }
    out
}

/// Calls that may wait: the places where the excerpt may switch to another thread.
fn may_wait(name: &str, args: &str) -> bool {
    match name {
        "accept" | "accept4" | "epoll_wait" | "epoll_pwait" | "clock_nanosleep" | "nanosleep" => {
            true
        }
        "futex" => args.contains("FUTEX_WAIT"),
        "wait4" => !args.contains("WNOHANG"),
        "io_uring_enter" => args.contains("IORING_ENTER_GETEVENTS"),
        _ => false,
    }
}
