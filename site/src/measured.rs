//! The "Measured" section of every lesson, taken from the benchmark's results instead of
//! typed: `cargo run -p site` writes, between the `measured:begin` and `measured:end` marker
//! lines of each stage's README.md ([`MARKERS`]), that stage's rows of `bench/results/latest.md` beside the rows
//! of the stage before it and of nginx. The lesson's own sentences stay outside the markers.
//! A test fails when a README's block differs from what the current results give.

use std::fmt::Write as _;

use crate::markers::Markers;
use crate::{Lang, STAGES};

/// The first header cell of the results' two-core table (the bench's `TWO_CORE_HEADER`).
const TWO_CORE_HEADER: &str = "workload, two cores";

/// The marker lines around a README's generated measurements.
pub const MARKERS: Markers = Markers { begin: "<!-- measured:begin", end: "<!-- measured:end -->" };

/// Where the results are, relative to the workspace.
pub const RESULTS: &str = "bench/results/latest.md";

/// One row of the load table: a workload on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Load {
    pub(crate) workload: String,
    pub(crate) server: String,
    pub(crate) requests_per_second: String,
    pub(crate) p50: String,
    pub(crate) p99: String,
    /// The median, then (after three rounds) the lowest and highest in brackets.
    pub(crate) cpu_per_request: String,
    pub(crate) peak_rss: String,
}

/// One row of the idle table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Idle {
    pub(crate) server: String,
    pub(crate) idle_cpu: String,
    pub(crate) per_connection: String,
    pub(crate) fresh_request: String,
}

/// One row of the idle-scaling table: the server, then its cells as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scaling {
    server: String,
    cells: Vec<String>,
}

/// The tables of the results.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) loads: Vec<Load>,
    /// The two-core table's rows (the servers allowed both cores, and wrk too).
    pub(crate) two_cores: Vec<Load>,
    pub(crate) idles: Vec<Idle>,
    /// The scaling table's header cells, and its rows.
    scaling_header: Vec<String>,
    scalings: Vec<Scaling>,
}

/// The cells of a Markdown table row, or `None` for a line that is not one.
pub(crate) fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// The tables of the results, each row told apart by the header of its table.
pub(crate) fn parse(text: &str) -> Results {
    let mut results = Results::default();
    let mut header: Vec<String> = Vec::new();
    for row in text.lines().filter_map(cells) {
        let headers = ["workload", "server", TWO_CORE_HEADER];
        if row.first().is_some_and(|cell| headers.contains(cell)) {
            header = row.iter().map(|cell| cell.to_string()).collect();
            continue;
        }
        // Separator rows are not measurements.
        if row.iter().all(|cell| cell.starts_with("---")) {
            continue;
        }
        if header.get(1).is_some_and(|cell| cell.starts_with("CPU, ")) {
            let Some((server, rest)) = row.split_first() else { continue };
            results.scaling_header = header.clone();
            let cells = rest.iter().map(|cell| cell.to_string()).collect();
            results.scalings.push(Scaling { server: server.to_string(), cells });
            continue;
        }
        let two_cores = header.first().is_some_and(|cell| cell == TWO_CORE_HEADER);
        match row.as_slice() {
            [workload, server, rps, _, p50, p99, _, cpu, _, rss] => {
                let load = Load {
                    workload: workload.to_string(),
                    server: server.to_string(),
                    requests_per_second: rps.to_string(),
                    p50: p50.to_string(),
                    p99: p99.to_string(),
                    cpu_per_request: cpu.to_string(),
                    peak_rss: rss.to_string(),
                };
                if two_cores { results.two_cores.push(load) } else { results.loads.push(load) }
            }
            [server, idle_cpu, _, per_connection, fresh] => results.idles.push(Idle {
                server: server.to_string(),
                idle_cpu: idle_cpu.to_string(),
                per_connection: per_connection.to_string(),
                fresh_request: fresh.to_string(),
            }),
            _ => {}
        }
    }
    results
}

/// The workloads a lesson shows, a few that tell the models apart: one connection, many
/// keep-alive ones, ten times as many, large files, a new connection per request, pipelining. The
/// full table is on the course's page of measurements ([`PAGE`]).
const LESSON_WORKLOADS: [&str; 6] =
    ["small-1", "small-50", "small-500", "256k-50", "close-50", "pipeline-50"];

/// The workloads of the two-core table a lesson shows.
const LESSON_TWO_CORE_WORKLOADS: [&str; 2] = ["small-50", "close-50"];

/// The course page that shows every table of the results, and the charts.
pub const PAGE: &str = "measured.html";

/// The measurements a lesson shows: its stage beside the one before it (if any), its own
/// variants (stage07's tuned, poll and select; stage10's ring per core, on two cores only) and
/// nginx, on the workloads of
/// [`LESSON_WORKLOADS`] the stage ran; what idle connections cost them; on two cores, the
/// same servers (for a stage in that table); and, for the stages in it, the idle-scaling
/// table. Empty when the results hold nothing for the stage.
pub fn block(stage: &str, results: &str, lang: Lang) -> String {
    let results = parse(results);
    let index = STAGES.iter().position(|known| known.name == stage);
    let previous = index.and_then(|index| index.checked_sub(1)).map(|index| STAGES[index].name);
    let mut variants: Vec<&str> = Vec::new();
    let named = results.loads.iter().chain(&results.two_cores).map(|load| &load.server);
    for server in named.chain(results.scalings.iter().map(|row| &row.server)) {
        let is_variant = server.strip_prefix(stage).is_some_and(|rest| rest.starts_with('/'));
        if is_variant && !variants.contains(&server.as_str()) {
            variants.push(server);
        }
    }
    let servers: Vec<&str> =
        previous.into_iter().chain([stage]).chain(variants).chain(["nginx"]).collect();
    let bold = |server: &str| if server == stage { format!("**{server}**") } else { server.into() };

    let mut out = String::new();
    let mut workloads: Vec<&str> = Vec::new();
    let shown =
        |load: &&Load| load.server == stage && LESSON_WORKLOADS.contains(&load.workload.as_str());
    for load in results.loads.iter().filter(shown) {
        if !workloads.contains(&load.workload.as_str()) {
            workloads.push(&load.workload);
        }
    }
    if workloads.is_empty() {
        return out;
    }
    out.push_str(&load_rows(&results.loads, "workload", &workloads, &servers, bold, lang));
    let idle =
        "| server | idle CPU | memory per idle connection | fresh request among 10,000 idle |";
    let _ = writeln!(out, "\n{}", lang.header_line(idle));
    out.push_str("|---|---:|---:|---:|\n");
    for server in &servers {
        if let Some(idle) = results.idles.iter().find(|idle| idle.server == *server) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                bold(server),
                idle.idle_cpu,
                idle.per_connection,
                idle.fresh_request
            );
        }
    }
    // Two cores, once the stage is in that table: the same servers, a few workloads.
    if results.two_cores.iter().any(|load| load.server == stage) {
        let workloads = LESSON_TWO_CORE_WORKLOADS;
        out.push('\n');
        out.push_str(&load_rows(&results.two_cores, "two cores", &workloads, &servers, bold, lang));
    }
    let scaled: Vec<&Scaling> =
        results.scalings.iter().filter(|row| servers.contains(&row.server.as_str())).collect();
    if scaled.iter().any(|row| row.server == stage) {
        let header = format!("| {} |", results.scaling_header.join(" | "));
        let _ = writeln!(out, "\n{}", lang.header_line(&header));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(results.scaling_header.len() - 1));
        for row in scaled {
            let _ = writeln!(out, "| {} | {} |", bold(&row.server), row.cells.join(" | "));
        }
    }
    out
}

/// A lesson's table of loads: for each workload, the rows of `servers` in that order.
fn load_rows(
    loads: &[Load],
    first_header: &str,
    workloads: &[&str],
    servers: &[&str],
    bold: impl Fn(&str) -> String,
    lang: Lang,
) -> String {
    let header =
        format!("| {first_header} | server | requests/s | p99 | CPU us/request | peak RSS |");
    let mut out = format!("{}\n|---|---|---:|---:|---:|---:|\n", lang.header_line(&header));
    for workload in workloads {
        for server in servers {
            let found = loads.iter().find(|l| l.workload == *workload && l.server == *server);
            if let Some(load) = found {
                let _ = writeln!(
                    out,
                    "| {workload} | {} | {} | {} | {} | {} |",
                    bold(server),
                    load.requests_per_second,
                    load.p99,
                    load.cpu_per_request,
                    load.peak_rss
                );
            }
        }
    }
    out
}

/// What stands between a lesson's markers: where the figures come from, then [`block`], in
/// the lesson's language.
pub fn readme_block(stage: &str, results: &str, lang: Lang) -> String {
    let intro = match lang {
        Lang::English => format!(
            "From [{RESULTS}](../{RESULTS}), a few of its workloads (it has them all), one run \
             on one machine: compare the rows with each other, not with another machine's. CPU us/request is the median of the rounds, \
             with the lowest and highest in brackets: where two servers' ranges overlap, this \
             run does not tell them apart."
        ),
        Lang::Chinese => format!(
            "摘自 [{RESULTS}](../{RESULTS})，只取了其中几种负载（那里有全部），是一台机器上的\
             一次运行。请拿这些行互相比较，\
             不要和另一台机器的数字比。每请求 CPU 是各轮的中位数，括号里是最低和最高的\
             一轮。两个服务器的范围重叠时，这次运行分不出它们的高下。"
        ),
    };
    format!("{intro}\n\n{}", block(stage, results, lang))
}

/// The course page of measurements ([`PAGE`]) as Markdown: the charts, then every table of
/// the results as the bench wrote them, the headers in the page's language (the bench's own
/// sentences are English in both languages for now).
pub fn page_markdown(results: &str, lang: Lang) -> String {
    let (title, charts, suffix) = match lang {
        Lang::English => (
            "# Measured: every stage beside nginx",
            "CPU time per request (lower is better), then requests per second, one core:",
            "",
        ),
        Lang::Chinese => (
            "# 测量结果：每一步与 nginx 并列",
            "每个请求的 CPU 时间（越低越好），然后是每秒请求数，单核：",
            ".zh-CN",
        ),
    };
    let (two_cores, alt_one, alt_two) = match lang {
        Lang::English => (
            "Two cores:",
            "Every server's CPU time per request and requests per second, one core",
            "The same on two cores",
        ),
        Lang::Chinese => {
            ("双核：", "每个服务器每请求的 CPU 时间和每秒请求数，单核", "双核上的同样数据")
        }
    };
    // The results' own title gives way to the page's; a Chinese page gets the tables'
    // headers in Chinese.
    let body = results.split_once('\n').map_or(results, |(_, rest)| rest);
    let lines: Vec<&str> = body.lines().collect();
    let body: String = lines
        .iter()
        .enumerate()
        .map(|(at, line)| {
            let is_header = lines.get(at + 1).is_some_and(|next| next.starts_with("|---"));
            let line = if is_header {
                lang.header_line(line)
            } else if lang == Lang::Chinese && !line.starts_with('|') {
                chinese_paragraph(line).unwrap_or_else(|| line.to_string())
            } else {
                line.to_string()
            };
            line + "\n"
        })
        .collect();
    format!(
        "{title}\n\n{charts}\n\n![{alt_one}](../bench/results/latest{suffix}.svg)\n\n\
         {two_cores}\n\n![{alt_two}](../bench/results/two-cores{suffix}.svg)\n{body}"
    )
}

/// One of the bench's sentences about its results, in Chinese; `None` for a line it does not
/// know (which then stays as the bench wrote it). The machine's name and the run's settings
/// are taken from the line.
fn chinese_paragraph(line: &str) -> Option<String> {
    if line.trim().is_empty() {
        return Some(line.to_string());
    }
    if let Some(machine) = line.strip_prefix("Machine: ") {
        let machine = machine.trim_end_matches('.');
        let (model, rest) = machine.split_once(", ")?;
        let (cores, kernel) = rest.split_once(" cores, ")?;
        return Some(format!("机器：{model}，{cores} 个核，{kernel}。"));
    }
    if let Some(settings) = line.strip_prefix("Settings: ") {
        let rounds = settings.split(' ').next()?;
        let run = settings.split("for one ").nth(1)?.split(' ').next()?;
        let idle = settings.rsplit(", ").next()?.split(' ').next()?;
        return Some(format!(
            "设置：共 {rounds} 轮，每轮依次让每个服务器把每种负载各跑一次，每次 {run}（这样压测\
             期间机器状态的漂移均匀地落在每个服务器上）。wrk -t1 绑定在核 1 上，服务器绑定在\
             核 0 上，空闲连接 {idle} 个。"
        ));
    }
    if let Some(network) = line.strip_prefix("Network: loopback in a network namespace") {
        let measured = network.split("congestion control (").nth(1)?.split(';').next()?;
        let host = network.split("the host uses ").nth(1)?.split(')').next()?;
        // Results from before the bench set the receive buffers (profile.md) do not name them.
        let why = if network.contains("receive buffers that start at 2 MiB") {
            "，每个连接的接收缓冲区一开始就是 2 MiB。这样大文件的数字既不由主机的设置决定，\
             也不由 wrk 的接收窗口碰巧长到多大决定"
        } else {
            "，这样大文件的数字不由主机的选择决定"
        };
        return Some(format!(
            "网络：回环，在压测自己的网络命名空间里，用 Linux 默认的拥塞控制 `{measured}`\
             （主机用的是 `{host}`）{why}（见 DESIGN.md）。"
        ));
    }
    if let Some(rest) =
        line.strip_prefix("Network: the host's loopback and its congestion control, ")
    {
        // The reason the namespace could not be made stays out: it is the system's English.
        let host = rest.split(' ').next()?;
        return Some(format!(
            "网络：主机的回环和它的拥塞控制 `{host}`（压测没能建立自己的网络命名空间，见 \
             DESIGN.md）。"
        ));
    }
    let known = [
        (
            "Rows named `stage/example`",
            "名为 `stage/example` 的行是某一步的例子，只在能显出它们改了什么的负载里运行。\
             `stage07_epoll/tuned` 是为连接的开销调过的第 7 步（`TCP_DEFER_ACCEPT`，`accept` \
             之后立即处理一轮，只注册需要等待的连接）；`/poll` 和 `/select` 用 poll(2) 和 \
             select(2) 代替 epoll 来等待。",
        ),
        (
            "nginx, the reference:",
            "作为参照的 nginx 只有一个工作进程，没有主进程（`worker_processes 1; \
             master_process off`），配置为 `access_log off`、`sendfile on`、`tcp_nodelay on`、\
             `keepalive_requests 100000000`、`keepalive_timeout 120s`、`listen ... \
             backlog=1024`，文档根目录相同。`tcp_nopush` 保持默认的关闭状态，因为打开它时，\
             nginx 回答流水线请求在这里要慢大约 8 倍，对 nginx 不公平。",
        ),
        (
            "Each figure is the median",
            "每个数字都是各次运行的中位数；`x nginx` 是与同一次运行中 nginx 那一行的比值。\
             wrk 只有一个核，快的服务器接近它能发出的上限时，每秒请求数就分不出它们的高下，\
             这时要看**服务器每个请求的 CPU 时间**（越低越好）。中位数旁边的括号里是各轮的\
             最低值和最高值，两个服务器的范围重叠时，这次运行分不出它们。pipeline-50 的延迟\
             是一批 16 个请求的延迟。",
        ),
        (
            "Holding more and more idle",
            "保持越来越多空闲的长连接（每个连接都已回答过一个请求），测量服务器保持它们一秒钟\
             所用的 CPU，以及其间一个新请求所需时间的中位数。`stage07_epoll/select` 和 \
             `/poll` 是第 7 步用 select(2) 和 poll(2) 等待的例子；select 拒绝编号超过 1023 的\
             描述符上的连接（`-`）。",
        ),
        (
            "Two cores: the server may run",
            "双核：服务器和 wrk 都可以在两个核上运行（`wrk -t2`，不绑定），所以它们互相争用，\
             就像同一台机器上的服务器和它的客户端那样。每个核运行一个循环的几步带 \
             `--workers 2`；第 7 步和第 10 步只有它们的一个循环，\
             `stage10_uring/ring-per-core` 是第 10 步练习的答案（每个核一个环，`--workers 2`）；nginx 有两个工作进程和 \
             `listen ... reuseport`（还有一个主进程，负载下不干活）。CPU 时间包括服务器的\
             每个进程和线程。（上面的表里，这几步用 `--workers 1` 在一个核上运行。）",
        ),
    ];
    known.iter().find(|(start, _)| line.starts_with(start)).map(|(_, chinese)| chinese.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULTS_SAMPLE: &str = "\
| workload | server | requests/s | x nginx | p50 | p99 | errors | CPU us/req | x nginx | peak RSS |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
| small-50 | stage06_nonblocking | 163266 | 1.38x | 297 us | 453 us | 0 | 6.07 | 0.72x | 3.2 MiB |
| small-50 | stage07_epoll | 162239 | 1.37x | 295 us | 567 us | 0 | 6.13 | 0.73x | 3.3 MiB |
| small-50 | stage05_coroutines | 1 | 1x | 1 us | 1 us | 0 | 1 | 1x | 1 MiB |
| small-50 | nginx | 118311 | 1.00x | 414 us | 545 us | 0 | 8.42 | 1.00x | 33.6 MiB |

| server | idle CPU | idle connections held | RSS per connection | fresh request meanwhile |
|---|---:|---:|---:|---:|
| stage06_nonblocking | 3.2% | 10000 | 0.19 KiB | 5642 us |
| stage07_epoll | 0.0% | 10000 | 0.21 KiB | 31 us |
| nginx | 0.4% | 10000 | 0.50 KiB | 60 us |

| server | CPU, 100 idle | fresh request, 100 idle |
|---|---:|---:|
| stage06_nonblocking | 9.0% | 62 us |
| stage07_epoll | 0.0% | 27 us |
| stage07_epoll/select | 0.0% | 81 us |
";

    #[test]
    fn a_stage_is_shown_beside_the_one_before_and_nginx() {
        let block = block("stage07_epoll", RESULTS_SAMPLE, Lang::English);
        assert!(
            block.contains("| small-50 | stage06_nonblocking | 163266 | 453 us | 6.07 | 3.2 MiB |")
        );
        assert!(
            block.contains("| small-50 | **stage07_epoll** | 162239 | 567 us | 6.13 | 3.3 MiB |")
        );
        assert!(block.contains("| small-50 | nginx | 118311 | 545 us | 8.42 | 33.6 MiB |"));
        assert!(!block.contains("stage05"), "only the stage before");
        assert!(block.contains("| **stage07_epoll** | 0.0% | 0.21 KiB | 31 us |"));
        assert!(block.contains("| server | CPU, 100 idle | fresh request, 100 idle |"));
        assert!(block.contains("| stage07_epoll/select | 0.0% | 81 us |"), "{block}");
        assert!(block.contains("| stage06_nonblocking | 9.0% | 62 us |"));
    }

    #[test]
    fn variants_follow_their_stage() {
        let results = RESULTS_SAMPLE.replace(
            "| small-50 | nginx |",
            "| small-50 | stage07_epoll/poll | 5 | 1x | 1 us | 2 us | 0 | 3 | 1x | 4 MiB |\n| small-50 | nginx |",
        );
        let block = block("stage07_epoll", &results, Lang::English);
        let stage = block.find("**stage07_epoll** | 162239").unwrap();
        let poll = block.find("stage07_epoll/poll | 5 |").expect("the variant is shown");
        assert!(stage < poll && poll < block.find("| small-50 | nginx").unwrap());
        assert!(!self::block("stage06_nonblocking", &results, Lang::English).contains("/poll"));
    }

    #[test]
    fn the_two_core_table_is_shown_to_the_stages_in_it() {
        let results = format!(
            "{RESULTS_SAMPLE}\n| workload, two cores | server | requests/s | x nginx | p50 | p99 | errors | CPU us/req | x nginx | peak RSS |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n\
             | small-50 | stage07_epoll | 7 | 1x | 1 us | 2 us | 0 | 3 | 1x | 4 MiB |\n\
             | small-50 | stage07_epoll/per-core | 9 | 1x | 1 us | 2 us | 0 | 3 | 1x | 4 MiB |\n\
             | small-50 | nginx | 8 | 1x | 1 us | 2 us | 0 | 3 | 1x | 4 MiB |\n"
        );
        let block = block("stage07_epoll", &results, Lang::English);
        assert!(block.contains("| small-50 | **stage07_epoll** | 162239 |"), "one core: {block}");
        assert!(block.contains("| two cores | server |"), "{block}");
        assert!(block.contains("| small-50 | **stage07_epoll** | 7 | 2 us | 3 | 4 MiB |"));
        assert!(block.contains("| small-50 | nginx | 8 |"));
        // A variant measured only on two cores is shown there, after its stage.
        assert!(block.contains("| small-50 | **stage07_epoll** | 7 | 2 us | 3 | 4 MiB |\n| small-50 | stage07_epoll/per-core | 9 |"), "{block}");
        assert!(!self::block("stage06_nonblocking", &results, Lang::English).contains("two cores"));
    }

    #[test]
    fn a_stage_without_results_gets_an_empty_block() {
        assert_eq!(block("stage01_hello", RESULTS_SAMPLE, Lang::English), "");
    }
}
