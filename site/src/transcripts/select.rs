//! Step 3, select: the noise out, the window around the connection, the stage's own rules.

use std::collections::HashSet;

use super::order::Item;
use super::parse::{Event, Kind, split_args};
use super::plans::{Futex, Plan, Start};

/// Calls that say nothing about serving a request: memory, signal and thread set-up, the debug
/// build's descriptor checks, std's start-up probes.
const NOISE: &[&str] = &[
    "arch_prctl",
    "brk",
    "clone3",
    "fcntl",
    "getrandom",
    "gettid",
    "madvise",
    "mmap",
    "mprotect",
    "mremap",
    "munmap",
    "poll",
    "prlimit64",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "set_robust_list",
    "set_tid_address",
    "sigaltstack",
    "timerfd_settime",
];

/// Files a process reads for itself (libraries, /proc, cgroup limits), not for a client.
const SYSTEM_PATHS: &[&str] = &["\"/proc", "\"/sys", "\"/etc", "\"/lib", "\"/usr", "\"/dev"];

/// Calls whose first argument is a descriptor.
const TAKE_FD: &[&str] = &[
    "close",
    "fstat",
    "lseek",
    "newfstatat",
    "pread64",
    "read",
    "recvfrom",
    "sendto",
    "statx",
    "write",
];

/// Calls that return a new descriptor.
const GIVE_FD: &[&str] = &["open", "openat", "eventfd2", "timerfd_create"];

/// Whether every event an epoll wait reports carries polling's own key (usize::MAX).
fn only_polling_keys(args: &str) -> bool {
    let keys: Vec<&str> =
        args.split("u64=").skip(1).filter_map(|rest| rest.split('}').next()).collect();
    !keys.is_empty() && keys.iter().all(|key| *key == u64::MAX.to_string())
}

/// The argument at `position` as a descriptor, if it is one.
fn fd_arg(args: &str, position: usize) -> Option<u32> {
    split_args(args).get(position)?.parse().ok()
}

/// Drops the noise: [`NOISE`], files under [`SYSTEM_PATHS`] and whatever is done on their
/// descriptors, and the descriptors libraries keep for themselves (eventfd, timerfd).
fn drop_noise(events: Vec<Event>, plan: &Plan) -> Vec<Event> {
    let mut noise_fds: HashSet<u32> = HashSet::new();
    let mut kept = Vec::new();
    for event in events {
        let Kind::Call { name, args, result } = &event.kind else {
            kept.push(event);
            continue;
        };
        // Only calls that take a descriptor first, or return a new one, say anything here.
        let fd = fd_arg(args, 0).filter(|_| TAKE_FD.contains(&name.as_str()));
        let returned = result
            .as_deref()
            .and_then(|result| result.parse::<u32>().ok())
            .filter(|_| GIVE_FD.contains(&name.as_str()));
        let noisy = if NOISE.contains(&name.as_str())
            || (name == "prctl" && args.starts_with("PR_SET_NAME"))
            || (name == "futex" && plan.futex == Futex::Hidden)
        {
            true
        } else if SYSTEM_PATHS.iter().any(|path| args.contains(path))
            || matches!(name.as_str(), "eventfd2" | "timerfd_create")
        {
            noise_fds.extend(returned);
            true
        } else if name == "epoll_ctl" {
            fd_arg(args, 2).is_some_and(|fd| noise_fds.contains(&fd))
        } else if let Some(fd) = fd.filter(|fd| noise_fds.contains(fd)) {
            if name == "close" {
                noise_fds.remove(&fd);
            }
            true
        } else {
            // polling registers its own descriptors under usize::MAX: a wait that reports
            // only those is polling's business.
            matches!(name.as_str(), "epoll_wait" | "epoll_pwait") && only_polling_keys(args)
        };
        if !noisy {
            kept.push(event);
        }
    }
    kept
}

/// The events of the excerpt: the window around the connection, the stage's rules applied.
pub(super) fn select(events: Vec<Event>, plan: &Plan) -> Result<Vec<Item>, String> {
    let events = drop_noise(events, plan);
    let call = |event: &Event| match &event.kind {
        Kind::Call { name, args, result } => Some((name.clone(), args.clone(), result.clone())),
        _ => None,
    };
    // The start: the call that returns the first descriptor of the plan's kind.
    let first_call = match plan.start {
        Start::Socket => "socket",
        Start::Accept => "accept4",
        Start::Ring => "io_uring_setup",
    };
    let start = events
        .iter()
        .position(|event| {
            call(event).is_some_and(|(name, _, result)| {
                name == first_call && result.is_some_and(|r| r.parse::<u32>().is_ok())
            })
        })
        .ok_or_else(|| format!("the trace has no {first_call} that returned a descriptor"))?;
    let first = &events[start];
    let (start_pid, start_line) = (first.pid, first.end);
    // The connection's descriptor, and the pid that serves it (whoever reads the request).
    let accepted = events[start..].iter().find_map(|event| {
        let (name, _, result) = call(event)?;
        (name == "accept4").then(|| result?.parse::<u32>().ok()).flatten()
    });
    let server = accepted.and_then(|fd| {
        events[start..].iter().find_map(|event| {
            let (name, args, _) = call(event)?;
            (matches!(name.as_str(), "recvfrom" | "read") && fd_arg(&args, 0) == Some(fd))
                .then_some(event.pid)
        })
    });
    let closed_at = accepted.and_then(|fd| {
        events[start..].iter().find_map(|event| {
            let (name, args, _) = call(event)?;
            (name == "close" && fd_arg(&args, 0) == Some(fd) && Some(event.pid) == server)
                .then_some(event.end)
        })
    });
    // Stage06's late request: from the end of the second pass that found nothing to the start
    // of the pass that finds the request, the passes are all alike: left out.
    let skipped = plan.late_request.and_then(|_| {
        let fd = accepted?;
        // The reads of the connection: (index in the window, whether it found nothing).
        let window = &events[start..];
        let reads = window.iter().enumerate().filter_map(|(index, event)| {
            let (name, args, result) = call(event)?;
            (name == "recvfrom" && fd_arg(&args, 0) == Some(fd))
                .then(|| (index, result.is_some_and(|result| result.contains("EAGAIN"))))
        });
        let vain = reads.clone().find(|(_, nothing)| *nothing)?.0;
        let arrived = reads.clone().find(|(_, nothing)| !*nothing)?.0;
        // Each pass that found nothing ends with a rest.
        let (second_rest, _) = window[vain..arrived]
            .iter()
            .enumerate()
            .filter(|(_, event)| call(event).is_some_and(|(name, ..)| name == "clock_nanosleep"))
            .nth(1)?;
        // The pass the request arrives in starts with its accept4 (queue empty).
        let pass_start = window[..arrived]
            .iter()
            .rposition(|event| call(event).is_some_and(|(name, ..)| name == "accept4"))?;
        let (from, to) = (vain + second_rest + 1, pass_start);
        (from < to).then(|| (window[from].end, window[to].end))
    });

    let mut items = Vec::new();
    // The lead: what the accepting thread did just before.
    let before: Vec<&Event> = events[..start]
        .iter()
        .filter(|event| event.pid == start_pid)
        .filter(|event| {
            call(event).is_some_and(|(name, ..)| plan.lead_calls.contains(&name.as_str()))
        })
        .collect();
    let lead = &before[before.len().saturating_sub(plan.lead)..];
    if let (Some(text), false) = (plan.lead_note, lead.is_empty()) {
        items.push(Item::note(start_pid, lead[0].end, text));
    }
    items.extend(lead.iter().map(|event| Item::event((*event).clone())));

    let mut tick_shown = false;
    let mut tail_left = plan.tail.map(|(count, _)| count);
    for event in &events[start..] {
        // A call begun before the window shows only if it ended inside it; one that never
        // ended did not happen here.
        if event.end < start_line
            || (event.start < start_line && matches!(&event.kind, Kind::Call { result: None, .. }))
        {
            continue;
        }
        if plan.futex == Futex::Accepting
            && event.pid != start_pid
            && call(event).is_some_and(|(name, ..)| name == "futex")
        {
            continue;
        }
        if let (Some((from, to)), Some(text)) = (skipped, plan.late_request) {
            if event.end == from {
                items.push(Item::note(event.pid, event.end, text));
            }
            if (from..to).contains(&event.end) {
                continue;
            }
        }
        let after_close = closed_at.is_some_and(|line| event.end > line);
        let waited = match call(event) {
            Some((name, args, result)) if plan.may_ticks && name == "epoll_wait" => {
                Some(result.as_deref() == Some("0") && args.ends_with(", 10"))
            }
            _ => None,
        };
        if let Some(tick) = waited {
            // One tick of may's timer: the serving thread's first after the close.
            if tick && after_close && Some(event.pid) == server && !tick_shown {
                tick_shown = true;
                items.push(Item::event(event.clone()));
            }
            continue;
        }
        if let (Some(left), Some((_, text)), true) =
            (tail_left.as_mut(), plan.tail, after_close && Some(event.pid) == server)
        {
            if *left == 0 {
                items.push(Item::note(event.pid, event.end, text));
                break;
            }
            *left -= 1;
        }
        items.push(Item::event(event.clone()));
    }
    Ok(items)
}
