//! `--profile`: where a request's CPU time goes. Each server runs on core 0 under a workload of
//! the bench while `perf record -g` samples its threads; the samples become a flame graph (with
//! the `inferno` crate) and a breakdown of a request's CPU time into a few categories a student
//! can name: TCP send, TCP receive, the file, waiting and waking, a connection's start and end,
//! and the server's own code in user space.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use inferno::collapse::Collapse;
use inferno::collapse::perf::{Folder, Options as FoldOptions};
use inferno::flamegraph::{self, Options as FlameOptions};

use crate::chart::{Language, text_width};
use crate::report;
use crate::server::{self, Target};
use bench::wrk;

/// The workloads profiled: small keep-alive requests, and a new connection per request.
pub const WORKLOADS: [&str; 2] = ["small-50", "close-50"];

/// How long perf samples each server under load.
const SAMPLED: Duration = Duration::from_secs(5);

/// Samples per second: odd, so that sampling does not beat in step with a periodic timer.
const FREQUENCY: &str = "997";

/// Where a sample of a server's CPU time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Sending: `sendto`, `writev`, io_uring's send. On loopback it includes delivering the
    /// bytes to the client's socket, which the kernel does inside the sender's call.
    Send,
    /// Receiving: `recvfrom`, io_uring's receive, packets processed on the server's time.
    Receive,
    /// The file: `openat`, `statx`, `read`, `close`, `sendfile`.
    File,
    /// Waiting and waking: epoll, futex, eventfd, timers, `io_uring_enter`, switching threads.
    Waiting,
    /// A connection's start and end: `accept4`, closing a socket, a process per connection.
    Connections,
    /// The server's own code in user space (parsing, responding, its runtime), and the page
    /// faults of its memory (for stage03, the copy-on-write faults of every child).
    Own,
    /// Kernel time none of the above names: mostly the entry and exit of system calls (the
    /// samples that land there, before the call's own work or after it), and interrupts.
    Other,
}

impl Category {
    /// Every category, in the order of the tables and the chart.
    pub const ALL: [Category; 7] = [
        Category::Send,
        Category::Receive,
        Category::File,
        Category::Waiting,
        Category::Connections,
        Category::Own,
        Category::Other,
    ];

    /// Its name in `language` (the Chinese chart's legend).
    pub fn label_in(self, language: Language) -> &'static str {
        let chinese = match self {
            Category::Send => "TCP 发送",
            Category::Receive => "TCP 接收",
            Category::File => "文件",
            Category::Waiting => "等待与唤醒",
            Category::Connections => "accept 与关闭",
            Category::Own => "自身代码与内存",
            Category::Other => "其他",
        };
        language.pick([self.label(), chinese])
    }

    /// Its column header.
    pub fn label(self) -> &'static str {
        match self {
            Category::Send => "TCP send",
            Category::Receive => "TCP receive",
            Category::File => "the file",
            Category::Waiting => "waiting and waking",
            Category::Connections => "accept and close",
            Category::Own => "own code, memory",
            Category::Other => "other",
        }
    }

    /// Its colour in the chart (Okabe and Ito's palette, which colour-blind readers can tell
    /// apart; grey for the rest).
    fn colour(self) -> &'static str {
        match self {
            Category::Send => "#0072B2",
            Category::Receive => "#56B4E9",
            Category::File => "#E69F00",
            Category::Waiting => "#CC79A7",
            Category::Connections => "#D55E00",
            Category::Own => "#009E73",
            Category::Other => "#BBBBBB",
        }
    }
}

/// Kernel functions that mark a category, looked for in this order: the first rule with a
/// frame in the stack wins. Switching threads comes first (a blocking call that sleeps is
/// waiting, whatever the call); a socket's setup and end before sending (closing, and the
/// shutdown of a lingering close, run the last sends);
/// sendfile before sending (the issue's "the file"); sending before receiving, since on
/// loopback a send delivers into the peer's socket inside the call.
const RULES: [(Category, &[&str]); 6] = [
    (Category::Waiting, &["__schedule"]),
    (
        Category::Connections,
        &[
            "__sys_accept4",
            "do_accept",
            "inet_accept",
            "sock_close",
            "__sock_release",
            "inet_release",
            "tcp_close",
            "kernel_clone",
            "do_exit",
            "do_wait",
            "exit_mmap",
            // A lingering close sends its FIN with shutdown(2); a new socket is given its
            // options (timeouts, TCP_NODELAY) with setsockopt(2) and made non-blocking with
            // ioctl(2) (FIONBIO, the only ioctl these servers make).
            "__x64_sys_shutdown",
            "__x64_sys_setsockopt",
            "__x64_sys_ioctl",
        ],
    ),
    (Category::File, &["do_sendfile"]),
    (Category::Send, &["tcp_sendmsg", "tcp_sendmsg_locked", "__sys_sendto", "do_writev"]),
    (Category::Receive, &["tcp_recvmsg", "__sys_recvfrom", "tcp_v4_rcv", "net_rx_action"]),
    (
        Category::Waiting,
        &[
            "ep_poll",
            "do_epoll_wait",
            "do_epoll_ctl",
            "__x64_sys_epoll_ctl",
            "__x64_sys_epoll_wait",
            "__x64_sys_epoll_pwait",
            "do_futex",
            "eventfd_read",
            "eventfd_write",
            "__x64_sys_timerfd_settime",
            "__do_sys_io_uring_enter",
            "__x64_sys_io_uring_enter",
            "hrtimer_nanosleep",
            "do_sched_yield",
            "try_to_wake_up",
        ],
    ),
];

/// File system calls, when no rule above matched (a `read` of a socket is a receive, of an
/// eventfd a wake-up: both matched above).
const FILE: [&str; 12] = [
    "__x64_sys_openat",
    "do_sys_openat2",
    "__x64_sys_statx",
    "vfs_statx",
    "do_statx",
    "vfs_fstat",
    "vfs_read",
    "filemap_read",
    "__x64_sys_read",
    "__x64_sys_close",
    "__fput",
    "__x64_sys_lseek",
];

/// The page faults and memory calls of the server's own code.
const MEMORY: [&str; 6] = [
    "asm_exc_page_fault",
    "__x64_sys_mmap",
    "__x64_sys_munmap",
    "__x64_sys_madvise",
    "__x64_sys_brk",
    "__x64_sys_mprotect",
];

/// The category of one folded stack: its frames, root first, separated by `;`, kernel
/// frames marked `_[k]` (inferno's `annotate_kernel`).
pub fn categorise(stack: &str) -> Category {
    let kernel: Vec<&str> =
        stack.split(';').filter_map(|frame| frame.strip_suffix("_[k]")).collect();
    if kernel.is_empty() {
        return Category::Own;
    }
    let has = |names: &[&str]| kernel.iter().any(|frame| names.contains(frame));
    if let Some((category, _)) = RULES.iter().find(|(_, names)| has(names)) {
        return *category;
    }
    if has(&FILE) {
        Category::File
    } else if has(&MEMORY) {
        Category::Own
    } else {
        Category::Other
    }
}

/// A profile's breakdown: samples per category, and the CPU time per request measured beside
/// it.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub server: String,
    pub workload: String,
    /// The samples of each category, in the order of [`Category::ALL`], each weighed by its
    /// period as perf reports it (for the `cpu-clock` event, nanoseconds): time, not counts.
    pub samples: [u64; 7],
    /// The server's CPU time per request over the sampled run, in microseconds.
    pub cpu_per_request_us: f64,
}

impl Breakdown {
    /// Counts the samples of folded stacks (`stack count` lines) by category.
    pub fn of_folded(server: &str, workload: &str, folded: &str, cpu_per_request_us: f64) -> Self {
        let mut samples = [0; 7];
        for line in folded.lines() {
            let Some((stack, count)) = line.rsplit_once(' ') else { continue };
            let Ok(count) = count.parse::<u64>() else { continue };
            let category = categorise(stack);
            let index = Category::ALL.iter().position(|known| *known == category).unwrap_or(6);
            samples[index] += count;
        }
        Breakdown { server: server.into(), workload: workload.into(), samples, cpu_per_request_us }
    }

    fn total(&self) -> u64 {
        self.samples.iter().sum()
    }

    /// The share of each category, in percent.
    pub fn percent(&self) -> [f64; 7] {
        let total = self.total().max(1) as f64;
        self.samples.map(|count| count as f64 * 100.0 / total)
    }
}

/// Folds `perf script` output into one line per distinct stack (`frame;frame;... count`).
pub fn fold(perf_script: &[u8]) -> io::Result<String> {
    let mut options = FoldOptions::default();
    options.annotate_kernel = true;
    options.nthreads = 1;
    let mut folded = Vec::new();
    Folder::from(options).collapse(BufReader::new(perf_script), &mut folded)?;
    String::from_utf8(folded).map_err(io::Error::other)
}

/// How perf samples: the time of core 0 (where the server runs, and where stage03's children
/// run too), with call stacks, `cpu-clock` so that a sample's weight is time.
const RECORD: [&str; 9] = ["record", "-q", "-e", "cpu-clock", "-g", "-a", "-C", "0", "-F"];

/// Whether perf can sample here; `Err` says why not.
pub fn check_perf() -> io::Result<()> {
    let output = Command::new("perf")
        .args(RECORD)
        .args([FREQUENCY, "-o", "/dev/null", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .map_err(|error| {
            io::Error::other(format!(
                "perf is not installed ({error}); on Debian: apt-get install linux-perf"
            ))
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "perf cannot record here (not permitted? see /proc/sys/kernel/perf_event_paranoid): {}",
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// The names of a process's threads (their `comm`), which perf's samples carry: the samples
/// of core 0 that belong to the server. A forked child keeps its parent's name.
fn thread_names(pid: i32) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let name = fs::read_to_string(task?.path().join("comm"))?;
        if !names.contains(&name.trim().to_string()) {
            names.push(name.trim().to_string());
        }
    }
    Ok(names)
}

/// Keeps the folded stacks whose root frame (the thread's name) is one of `names`, and adds up
/// their weight.
fn keep(folded: &str, names: &[String]) -> (String, u64) {
    let mut kept = String::new();
    let mut weight = 0;
    for line in folded.lines() {
        let root = line.split(';').next().unwrap_or("");
        let count = line.rsplit_once(' ').and_then(|(_, count)| count.parse::<u64>().ok());
        if let (true, Some(count)) = (names.iter().any(|name| name == root), count) {
            kept.push_str(line);
            kept.push('\n');
            weight += count;
        }
    }
    (kept, weight)
}

/// Profiles one server under one workload: starts it on core 0, warms it up, and samples core
/// 0 with perf while wrk loads the server from core 1. Writes its flame graph to `out` and
/// returns its breakdown. The CPU time per request is the weight of the server's samples (time,
/// its children's included) over the requests wrk completed meanwhile.
pub fn profile(
    target: &Target,
    root: &Path,
    workload: &crate::workload::Workload,
    out: &Path,
) -> io::Result<Breakdown> {
    let server = target.start(root, 1)?;
    let load = wrk::Load {
        threads: 1,
        url: format!("http://{}{}", server.address(), workload.path),
        connections: workload.connections,
        duration: Duration::from_secs(1),
        header: workload.close.then_some("Connection: close"),
        script: None,
    };
    let place_wrk = |command: &mut Command| server::pin(command, Some(1));
    wrk::run(&load, place_wrk)?;

    let data = tempfile::NamedTempFile::new()?;
    let mut perf = Command::new("perf")
        .args(RECORD)
        .arg(FREQUENCY)
        .arg("-o")
        .arg(data.path())
        .args(["--", "sleep"])
        .arg(SAMPLED.as_secs().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let report = wrk::run(&wrk::Load { duration: SAMPLED, ..load }, place_wrk)?;
    if !perf.wait()?.success() {
        return Err(io::Error::other("perf record failed"));
    }
    let names = thread_names(server.server().pid().as_raw())?;
    drop(server);

    let script = Command::new("perf").arg("script").arg("-i").arg(data.path()).output()?;
    if !script.status.success() {
        return Err(io::Error::other("perf script failed"));
    }
    let (folded, weight) = keep(&fold(&script.stdout)?, &names);
    let name = target.name();
    // cpu-clock weighs each sample by the nanoseconds it stands for.
    let cpu_per_request_us = weight as f64 / 1000.0 / report.requests.max(1) as f64;
    let breakdown = Breakdown::of_folded(&name, workload.name, &folded, cpu_per_request_us);

    let mut options = FlameOptions::default();
    options.title = format!("{name}, {}: where the server's CPU time goes", workload.name);
    options.count_name = "ns".into();
    // Frames narrower than this many pixels are left out: they cannot be read, and the files
    // stay small enough to commit.
    options.min_width = 2.0;
    let file = fs::File::create(out.join(flame_graph_name(&name, workload.name)))?;
    flamegraph::from_lines(&mut options, folded.lines(), io::BufWriter::new(file))?;
    Ok(breakdown)
}

/// The file name of a server's flame graph under a workload.
pub fn flame_graph_name(server: &str, workload: &str) -> String {
    format!("{}-{workload}.svg", server.replace('/', "-"))
}

/// The breakdowns as Markdown: a table per workload, one row per server, with its CPU time per
/// request, the share of each category, and a link to its flame graph.
pub fn markdown(breakdowns: &[Breakdown], flame_graphs: &str) -> String {
    let mut out = String::new();
    for workload in WORKLOADS {
        let rows: Vec<&Breakdown> = breakdowns.iter().filter(|b| b.workload == workload).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(out, "\n### {workload}\n\n| server | CPU us/request |");
        for category in Category::ALL {
            let _ = write!(out, " {} |", category.label());
        }
        out.push_str(" flame graph |\n|---|---:|");
        out.push_str(&"---:|".repeat(Category::ALL.len()));
        out.push_str("---|\n");
        for row in rows {
            let _ = write!(out, "| {} | {:.2} |", row.server, row.cpu_per_request_us);
            for percent in row.percent() {
                let _ = write!(out, " {percent:.0}% |");
            }
            let file = flame_graph_name(&row.server, workload);
            let _ = writeln!(out, " [svg]({flame_graphs}/{file}) |");
        }
    }
    out
}

/// The breakdowns of a profile written by [`markdown`], read back for the chart (each share
/// as printed, in whole percent).
pub fn parse(markdown: &str) -> Vec<Breakdown> {
    let mut breakdowns = Vec::new();
    let mut workload = "";
    for line in markdown.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            workload = name.trim();
            continue;
        }
        let Some(cells) = report::cells(line) else { continue };
        let [server, cpu, shares @ .., _flame_graph] = cells.as_slice() else { continue };
        let shares: Vec<u64> =
            shares.iter().filter_map(|share| share.strip_suffix('%')?.parse().ok()).collect();
        let (Ok(cpu_per_request_us), Ok(samples)) = (cpu.parse::<f64>(), shares.try_into()) else {
            continue;
        };
        breakdowns.push(Breakdown {
            server: server.to_string(),
            workload: workload.to_string(),
            samples,
            cpu_per_request_us,
        });
    }
    breakdowns
}

/// A chart of the breakdowns: for each workload, a stacked bar per server, its length the CPU
/// time per request, its parts the categories; its words in `language`.
pub fn svg(breakdowns: &[Breakdown], language: Language) -> String {
    let (left, right, bar, gap) = (150.0, 140.0, 16.0, 6.0);
    let width = 860.0;
    let plot = width - left - right;
    let mut body = String::new();
    let mut y = 64.0;
    for workload in WORKLOADS {
        let rows: Vec<&Breakdown> = breakdowns.iter().filter(|b| b.workload == workload).collect();
        if rows.is_empty() {
            continue;
        }
        // Each workload on its own scale, up to three times its median: a server far beyond
        // (stage03's fork per connection) gets a bar cut at the edge, its parts still in
        // proportion, rather than squeezing every other bar to a sliver.
        let mut costs: Vec<f64> = rows.iter().map(|row| row.cpu_per_request_us).collect();
        costs.sort_by(f64::total_cmp);
        let median = costs[costs.len() / 2];
        let max = costs.last().copied().unwrap_or(1.0).min(3.0 * median).max(f64::MIN_POSITIVE);
        y += 24.0;
        let _ = writeln!(
            body,
            r##"<text x="{left}" y="{y:.0}" font-weight="bold" fill="#1d2430">{workload}</text>"##
        );
        y += 10.0;
        for row in rows {
            let _ = writeln!(
                body,
                r##"<text x="{:.0}" y="{:.0}" text-anchor="end" fill="#1d2430">{}</text>"##,
                left - 8.0,
                y + bar - 4.0,
                row.server
            );
            let mut x = left;
            let cut = row.cpu_per_request_us > max;
            let total = plot * row.cpu_per_request_us.min(max) / max;
            for (category, percent) in Category::ALL.iter().zip(row.percent()) {
                let length = total * percent / 100.0;
                let _ = writeln!(
                    body,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{length:.1}" height="{bar}" fill="{}"><title>{} {workload}, {}: {percent:.0}%</title></rect>"#,
                    category.colour(),
                    row.server,
                    category.label_in(language)
                );
                x += length;
            }
            let _ = writeln!(
                body,
                r##"<text x="{:.0}" y="{:.0}" fill="#1d2430">{:.1} us{}</text>"##,
                x + 6.0,
                y + bar - 4.0,
                row.cpu_per_request_us,
                if cut { language.pick([" (bar cut)", "（截断）"]) } else { "" }
            );
            y += bar + gap;
        }
    }
    let height = y + 16.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#fbfaf7"/>"##);
    let title = language.pick([
        "Where a request's CPU time goes (us per request, one core; shorter is cheaper)",
        "一个请求的 CPU 时间花在哪里（每请求微秒数，单核，越短越省）",
    ]);
    let _ = writeln!(
        out,
        r##"<text x="12" y="22" font-size="15" font-weight="bold" fill="#1d2430">{title}</text>"##
    );
    let mut x = 12.0;
    for category in Category::ALL {
        let _ = writeln!(
            out,
            r##"<rect x="{x:.0}" y="36" width="12" height="12" fill="{}"/><text x="{:.0}" y="46" fill="#1d2430">{}</text>"##,
            category.colour(),
            x + 16.0,
            category.label_in(language)
        );
        x += 16.0 + text_width(category.label_in(language), 7.0) + 18.0;
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six samples of `perf script` output recorded on core 0 while stage07 served `close-50`
    /// (perf 6.1, Linux 6.18; the checkout's path replaced): a send, a socket's close, an
    /// accept, a file's read, one in user space, and one of the idle task.
    const SAMPLE: &str = include_str!("profile-sample.txt");

    #[test]
    fn a_recorded_perf_script_is_folded_kept_and_categorised() {
        let folded = fold(SAMPLE.as_bytes()).unwrap();
        let (kept, weight) = keep(&folded, &["stage07_epoll".to_string()]);
        // Five of the six samples are the server's, each weighing 1003009 ns.
        assert_eq!(weight, 5 * 1_003_009, "{folded}");
        let breakdown = Breakdown::of_folded("stage07_epoll", "close-50", &kept, 10.0);
        // TCP send, TCP receive, the file, waiting, accept and close, own code, other.
        assert_eq!(breakdown.samples, [1, 0, 1, 0, 2, 1, 0].map(|n| n * 1_003_009), "{kept}");
        assert_eq!(breakdown.percent(), [20.0, 0.0, 20.0, 0.0, 40.0, 20.0, 0.0]);
    }

    #[test]
    fn only_the_server_s_threads_are_kept() {
        let folded =
            "stage03_fork;main 5\nswapper;cpu_idle_[k] 90\nksoftirqd/0;net_rx_action_[k] 3\n";
        let (kept, weight) = keep(folded, &["stage03_fork".to_string()]);
        assert_eq!((kept.as_str(), weight), ("stage03_fork;main 5\n", 5));
    }

    #[test]
    fn each_category_is_found_by_its_kernel_frames() {
        let cases = [
            ("main;read_k;__x64_sys_read_[k];vfs_read_[k];eventfd_read_[k]", Category::Waiting),
            ("main;__x64_sys_read_[k];vfs_read_[k];filemap_read_[k]", Category::File),
            ("main;__x64_sys_recvfrom_[k];__sys_recvfrom_[k];tcp_recvmsg_[k]", Category::Receive),
            (
                "main;__x64_sys_sendfile64_[k];do_sendfile_[k];tcp_sendmsg_locked_[k]",
                Category::File,
            ),
            (
                "main;__x64_sys_recvfrom_[k];tcp_recvmsg_[k];schedule_[k];__schedule_[k]",
                Category::Waiting,
            ),
            ("main;__x64_sys_accept4_[k];__sys_accept4_[k];do_accept_[k]", Category::Connections),
            (
                "main;__x64_sys_shutdown_[k];inet_shutdown_[k];tcp_send_fin_[k];tcp_write_xmit_[k]",
                Category::Connections,
            ),
            ("main;statx;__x64_sys_statx_[k]", Category::File),
            (
                "main;__x64_sys_io_uring_enter_[k];__do_sys_io_uring_enter_[k];io_send_[k];tcp_sendmsg_[k]",
                Category::Send,
            ),
            (
                "main;__x64_sys_io_uring_enter_[k];__do_sys_io_uring_enter_[k];io_cqring_wait_[k]",
                Category::Waiting,
            ),
            ("main;asm_exc_page_fault_[k];handle_mm_fault_[k]", Category::Own),
            ("main;asm_sysvec_apic_timer_interrupt_[k];hrtimer_interrupt_[k]", Category::Other),
            ("main;parse", Category::Own),
        ];
        for (stack, expected) in cases {
            assert_eq!(categorise(stack), expected, "{stack}");
        }
    }

    #[test]
    fn the_table_and_the_chart_have_a_row_per_profile() {
        let breakdowns = [
            Breakdown {
                server: "stage07_epoll".into(),
                workload: "small-50".into(),
                samples: [40, 10, 20, 10, 0, 20, 0],
                cpu_per_request_us: 6.0,
            },
            Breakdown {
                server: "nginx".into(),
                workload: "small-50".into(),
                samples: [30, 10, 20, 10, 0, 30, 0],
                cpu_per_request_us: 8.0,
            },
        ];
        let table = markdown(&breakdowns, "profiles");
        let read_back = parse(&table);
        assert_eq!(read_back.len(), 2);
        assert_eq!(read_back[0].samples, [40, 10, 20, 10, 0, 20, 0]);
        assert_eq!(read_back[1].cpu_per_request_us, 8.0);
        assert!(
            table.contains("| stage07_epoll | 6.00 | 40% | 10% | 20% | 10% | 0% | 20% | 0% | [svg](profiles/stage07_epoll-small-50.svg) |"),
            "{table}"
        );
        let chart = svg(&breakdowns, Language::English);
        assert_eq!(chart.matches("<title>").count(), 14);
        assert!(chart.contains(">nginx</text>") && chart.ends_with("</svg>\n"));
    }
}
