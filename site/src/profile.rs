//! "Where the time goes" in every lesson, taken from the bench's profile
//! (`cargo run --release -p bench -- --profile`, `bench/results/profile.md`): `cargo run -p
//! site` writes, between the `profile:begin` and `profile:end` marker lines of a stage's
//! README ([`MARKERS`]), the share of each category in that stage's CPU time beside the stage
//! before it and nginx, links to its flame graphs, and the chart of every server. A test fails
//! when a README's block differs from what the committed profile gives.

use std::fmt::Write as _;

use crate::markers::Markers;
use crate::measured::cells;
use crate::{Lang, STAGES};

/// The marker lines around a README's generated profile.
pub const MARKERS: Markers = Markers { begin: "<!-- profile:begin", end: "<!-- profile:end -->" };

/// Where the profile is, relative to the workspace.
pub const PROFILE: &str = "bench/results/profile.md";

/// Where the flame graphs and the chart are, relative to the workspace, and where the course
/// pages serve them.
pub const FIGURES: [(&str, &str); 7] = [
    ("bench/results/profiles/", "/course/profiles/"),
    ("bench/results/profile.svg", "/course/profiles/profile.svg"),
    ("bench/results/profile.zh-CN.svg", "/course/profiles/profile.zh-CN.svg"),
    ("bench/results/latest.svg", "/course/profiles/latest.svg"),
    ("bench/results/latest.zh-CN.svg", "/course/profiles/latest.zh-CN.svg"),
    ("bench/results/two-cores.svg", "/course/profiles/two-cores.svg"),
    ("bench/results/two-cores.zh-CN.svg", "/course/profiles/two-cores.zh-CN.svg"),
];

/// One row of the profile: a server under a workload, its cells after the server's name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    workload: String,
    server: String,
    /// CPU us/request, then the share of each category, as printed.
    cells: Vec<String>,
    /// The link to its flame graph, as the profile's last column gives it, made relative to a
    /// lesson.
    flame_graph: String,
}

/// The profile's tables: their header (after `server`, without the flame graph column), and
/// their rows.
fn parse(text: &str) -> (Vec<String>, Vec<Row>) {
    let mut header = Vec::new();
    let mut rows = Vec::new();
    let mut workload = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            workload = name.trim().to_string();
            continue;
        }
        let Some(cells) = cells(line) else { continue };
        let Some((first, rest)) = cells.split_first() else { continue };
        // The last column links the flame graph: the lesson links it in its own words.
        let (rest, link) = rest.split_at(rest.len().saturating_sub(1));
        if *first == "server" {
            header = rest.iter().map(|cell| cell.to_string()).collect();
        } else if !first.starts_with("---") {
            let cells = rest.iter().map(|cell| cell.to_string()).collect();
            // `[svg](profiles/NAME.svg)`, relative to the profile, which is in bench/results/.
            let target = link.first().and_then(|cell| cell.split_once("](")).map(|(_, to)| to);
            let flame_graph =
                format!("../bench/results/{}", target.unwrap_or_default().trim_end_matches(')'));
            let server = first.to_string();
            rows.push(Row { workload: workload.clone(), server, cells, flame_graph });
        }
    }
    (header, rows)
}

/// The workloads of `rows`, in the order they first come.
fn workloads<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<&'a str> {
    let mut workloads: Vec<&str> = Vec::new();
    for row in rows {
        if !workloads.contains(&row.workload.as_str()) {
            workloads.push(&row.workload);
        }
    }
    workloads
}

/// The chart of every server's breakdown, as a Markdown image line in `lang`.
fn chart(lang: Lang) -> String {
    let (alt, chart) = match lang {
        Lang::English => {
            ("Every stage's and nginx's CPU time per request, by category", "profile.svg")
        }
        Lang::Chinese => ("每一步和 nginx 每个请求的 CPU 时间，按类别分开", "profile.zh-CN.svg"),
    };
    format!("![{alt}](../bench/results/{chart})")
}

/// What stands between a lesson's markers: where the figures come from and the stage's flame
/// graphs (in the lesson's language), the table of the stage, the stage before it and nginx,
/// and the chart of every server. Empty when the profile has no row of the stage.
pub fn readme_block(stage: &str, profile: &str, lang: Lang) -> String {
    let (header, rows) = parse(profile);
    let own: Vec<&Row> = rows.iter().filter(|row| row.server == stage).collect();
    if own.is_empty() {
        return String::new();
    }
    let index = STAGES.iter().position(|known| known.name == stage);
    let previous = index.and_then(|index| index.checked_sub(1)).map(|index| STAGES[index].name);
    let servers: Vec<&str> = previous.into_iter().chain([stage, "nginx"]).collect();
    let workloads = workloads(own.iter().copied());
    let flame_graphs: Vec<String> =
        own.iter().map(|row| format!("[{}]({})", row.workload, row.flame_graph)).collect();
    let flame_graphs = flame_graphs.join(", ");
    let mut out = match lang {
        Lang::English => format!(
            "Where the server's CPU time goes, from [{PROFILE}](../{PROFILE}) (`cargo run \
             --release -p bench -- --profile`: `perf record` while wrk loads the server, one \
             run): the share of its samples in each category, beside its CPU time per request \
             over the same run. Its flame graphs: {flame_graphs}.\n\n"
        ),
        Lang::Chinese => format!(
            "服务器的 CPU 时间花在哪里，摘自 [{PROFILE}](../{PROFILE})（`cargo run --release -p \
             bench -- --profile`：wrk 加压时用 `perf record` 采样，一次运行）：各类所占的采样比例，\
             旁边是同一次运行里每个请求的 CPU 时间。它的火焰图：{flame_graphs}。\n\n"
        ),
    };
    let line = format!("| workload | server | {} |", header.join(" | "));
    let _ = writeln!(out, "{}", lang.header_line(&line));
    let _ = writeln!(out, "|---|---|{}", "---:|".repeat(header.len()));
    for workload in &workloads {
        for server in &servers {
            let found = rows.iter().find(|row| row.workload == *workload && row.server == *server);
            if let Some(row) = found {
                let name =
                    if *server == stage { format!("**{server}**") } else { server.to_string() };
                let _ = writeln!(out, "| {workload} | {name} | {} |", row.cells.join(" | "));
            }
        }
    }
    let _ = writeln!(out, "\n{}", chart(lang));
    out
}

/// The servers whose shares the page of measurements sums up: nginx, and the stages from
/// stage04 on, which serve many clients at once with one or a few threads (stage02 serves
/// one at a time, and stage03's forks are a story of their own, told in its lesson).
fn summed_up(server: &str) -> bool {
    let stage04 = STAGES.iter().position(|known| known.name == "stage04_threads");
    let index = STAGES.iter().position(|known| known.name == server);
    server == "nginx" || index.zip(stage04).is_some_and(|(index, stage04)| index >= stage04)
}

/// The lowest and highest of some shares, in whole percent.
type Range = (u32, u32);

/// The lowest and highest share that the categories of `keys` take among the summed-up
/// servers ([`summed_up`]) under `workload`, from the profile's `header` and `rows`; `None`
/// when the profile has none of them there.
fn share_range(header: &[String], rows: &[Row], workload: &str, keys: &str) -> Option<Range> {
    let shares = rows
        .iter()
        .filter(|row| row.workload == workload && summed_up(&row.server))
        .filter_map(|row| sum_shares(header, row, keys).ok());
    shares.fold(None, |range, share| match range {
        None => Some((share, share)),
        Some((low, high)) => Some((low.min(share), high.max(share))),
    })
}

/// The section of the page of measurements that shows where the time goes: the profile's
/// chart, what it shows (the share of a request every model pays alike, and the model's own
/// share, the most a better model could still save, as ranges over the servers), and its
/// tables with every flame graph linked. Empty when there is no profile.
pub fn page_section(profile: &str, lang: Lang) -> String {
    let (header, rows) = parse(profile);
    if rows.is_empty() {
        return String::new();
    }
    let workloads = workloads(rows.iter());
    let range = |workload: &str, keys: &str| share_range(&header, &rows, workload, keys);
    // Each workload's ranges: the work paid alike, then the model's own part.
    let ranges: Vec<(&str, Range, Range)> = workloads
        .iter()
        .filter_map(|workload| {
            let alike = range(workload, "send+receive+file")?;
            Some((*workload, alike, range(workload, "waiting+accept+own")?))
        })
        .collect();
    let ranges: Vec<String> = ranges
        .iter()
        .enumerate()
        .map(|(at, (workload, alike, own))| match (lang, at) {
            (Lang::English, 0) => format!(
                "the work paid alike takes {}% to {}% of a request on `{workload}`, and the \
                 model's own part {}% to {}%",
                alike.0, alike.1, own.0, own.1
            ),
            (Lang::English, _) => format!(
                "on `{workload}`, {}% to {}% and {}% to {}%",
                alike.0, alike.1, own.0, own.1
            ),
            (Lang::Chinese, 0) => format!(
                "在 `{workload}` 上，前者占一个请求的 {}% 到 {}%，后者占 {}% 到 {}%",
                alike.0, alike.1, own.0, own.1
            ),
            (Lang::Chinese, _) => format!(
                "在 `{workload}` 上，分别是 {}% 到 {}% 和 {}% 到 {}%",
                alike.0, alike.1, own.0, own.1
            ),
        })
        .collect();
    let other = workloads.iter().filter_map(|workload| range(workload, "other"));
    let other = other.map(|(_, high)| high).max().unwrap_or(0);
    let mut out = match lang {
        Lang::English => format!(
            "\n## Where the time goes\n\nFrom [{PROFILE}](../{PROFILE}) (`cargo run --release -p \
             bench -- --profile`: `perf record` while wrk loads each server, one run). It sorts a \
             request's CPU time into the work every model pays alike (TCP send and receive, the \
             file) and the model's own part (waiting and waking, accept and close, the server's \
             own code and memory). Among nginx and the stages from stage04 on, {}. The own part \
             is the most a better model could still save on this machine. What no category \
             holds (other, at most {other}%) is mostly a system call's entry and exit, and \
             interrupts. stage02 serves one client at a time, and stage03's forks are told in \
             its lesson.\n\n",
            ranges.join("; ")
        ),
        Lang::Chinese => format!(
            "\n## 时间花在哪里\n\n摘自 [{PROFILE}](../{PROFILE})（`cargo run --release -p bench \
             -- --profile`：wrk 给每个服务器加压时用 `perf record` 采样，一次运行）。它把一个请求\
             的 CPU 时间分成两部分，一是每个模型都要付的工作（TCP 发送和接收、文件），二是模型\
             自己的部分（等待与唤醒、accept 与关闭、服务器自己的代码和内存）。在 nginx 和从第 4 \
             步起的各步里，{}。模型自己的部分，就是更好的模型在这台机器上最多还能省下的。不属于\
             任何一类的“其他”最多占 {other}%，大多是系统调用的进出和中断。第 2 步一次只服务一个\
             客户端，第 3 步的 fork 在它自己的课文里讲。\n\n",
            ranges.join("；")
        ),
    };
    let _ = writeln!(out, "{}", chart(lang));
    for workload in &workloads {
        let line = format!("| server | {} |", header.join(" | "));
        let _ = writeln!(out, "\n### {workload}\n\n{}", lang.header_line(&line));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(header.len()));
        for row in rows.iter().filter(|row| row.workload == *workload) {
            let (server, link) = (&row.server, &row.flame_graph);
            let _ = writeln!(out, "| [{server}]({link}) | {} |", row.cells.join(" | "));
        }
    }
    out
}

/// The share of `server`'s CPU time under `workload` that the categories named in `keys` take
/// together, as `27%`. `keys` is one word of each category's name, joined by `+`: `send`,
/// `receive`, `file`, `waiting`, `accept`, `own`, `other` (`waiting+own`).
///
/// # Errors
///
/// When the profile has no such row, or a key names no category.
pub fn share(profile: &str, workload: &str, server: &str, keys: &str) -> Result<String, String> {
    let (header, rows) = parse(profile);
    let row = rows.iter().find(|row| row.workload == workload && row.server == server);
    let row =
        row.ok_or_else(|| format!("the profile has no row for `{server}` on `{workload}`"))?;
    Ok(format!("{}%", sum_shares(&header, row, keys)?))
}

/// The shares, in whole percent, that the categories named in `keys` (as for [`share`]) take
/// together in `row`, whose columns `header` names.
fn sum_shares(header: &[String], row: &Row, keys: &str) -> Result<u32, String> {
    let mut total = 0;
    for key in keys.split('+') {
        // The first column is the CPU time per request, not a share.
        let column = header.iter().skip(1).position(|name| {
            name.split(|c: char| !c.is_alphanumeric()).any(|word| word.eq_ignore_ascii_case(key))
        });
        let column = column.ok_or_else(|| format!("no category of the profile is `{key}`"))?;
        let cell = &row.cells[column + 1];
        let percent = cell.trim_end_matches('%').parse::<u32>();
        total += percent.map_err(|_| format!("`{cell}` is not a share"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE_MD: &str = "# Where a request's CPU time goes

Machine: x.

### small-50

| server | CPU us/request | TCP send | own code | flame graph |
|---|---:|---:|---:|---|
| stage06_nonblocking | 5.90 | 40% | 20% | [svg](profiles/stage06_nonblocking-small-50.svg) |
| stage07_epoll | 6.00 | 41% | 19% | [svg](profiles/stage07_epoll-small-50.svg) |
| stage08_reuseport | 6.10 | 42% | 18% | [svg](profiles/stage08_reuseport-small-50.svg) |
| nginx | 8.00 | 30% | 30% | [svg](profiles/nginx-small-50.svg) |
";

    #[test]
    fn the_page_sums_up_nginx_and_the_stages_from_stage04_on() {
        let profile = "### small-50\n\n\
            | server | CPU us/request | TCP send | TCP receive | the file | waiting and waking | accept and close | own code, memory | other | flame graph |\n\
            |---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n\
            | stage02_static | 30.00 | 10% | 5% | 5% | 0% | 60% | 10% | 10% | [svg](profiles/stage02_static-small-50.svg) |\n\
            | stage07_epoll | 12.00 | 45% | 5% | 30% | 2% | 0% | 12% | 6% | [svg](profiles/stage07_epoll-small-50.svg) |\n\
            | nginx | 18.00 | 30% | 5% | 35% | 3% | 0% | 20% | 7% | [svg](profiles/nginx-small-50.svg) |\n";
        let english = page_section(profile, Lang::English);
        // stage02 (20% alike, 70% own) is left out of the ranges: 70%-80% alike, 14%-23% own.
        assert!(
            english.contains(
                "takes 70% to 80% of a request on `small-50`, and the model's own part 14% to 23%"
            ),
            "{english}"
        );
        assert!(english.contains("other, at most 7%"), "{english}");
        assert!(english.contains("](../bench/results/profile.svg)"));
        assert!(english.contains(
            "| [stage02_static](../bench/results/profiles/stage02_static-small-50.svg) | 30.00 |"
        ));
        let chinese = page_section(profile, Lang::Chinese);
        assert!(chinese.contains("## 时间花在哪里"));
        assert!(chinese.contains("前者占一个请求的 70% 到 80%，后者占 14% 到 23%"), "{chinese}");
        assert!(chinese.contains("](../bench/results/profile.zh-CN.svg)"));
        assert_eq!(page_section("", Lang::English), "");
    }

    #[test]
    fn a_share_adds_up_the_categories_it_names() {
        assert_eq!(share(PROFILE_MD, "small-50", "stage07_epoll", "send").unwrap(), "41%");
        assert_eq!(share(PROFILE_MD, "small-50", "nginx", "send+own").unwrap(), "60%");
        assert!(share(PROFILE_MD, "small-50", "nginx", "file").is_err());
        assert!(share(PROFILE_MD, "close-50", "nginx", "send").is_err());
    }

    #[test]
    fn a_lesson_gets_its_stage_the_one_before_and_nginx() {
        let block = readme_block("stage07_epoll", PROFILE_MD, Lang::English);
        assert!(block.contains("| workload | server | CPU us/request | TCP send | own code |\n"));
        assert!(block.contains("| small-50 | stage06_nonblocking | 5.90 | 40% | 20% |\n"));
        assert!(block.contains("| small-50 | **stage07_epoll** | 6.00 | 41% | 19% |\n"));
        assert!(block.contains("| small-50 | nginx | 8.00 | 30% | 30% |\n"));
        assert!(!block.contains("stage08"), "{block}");
        assert!(block.contains("[small-50](../bench/results/profiles/stage07_epoll-small-50.svg)"));
        assert!(readme_block("stage01_hello", PROFILE_MD, Lang::English).is_empty());
    }
}
