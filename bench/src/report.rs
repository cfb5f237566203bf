//! The results as a Markdown table and an SVG chart.

use std::fmt::Write;
use std::time::Duration;

/// The medians of one target under one workload.
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload's name (`small-50`, ...).
    pub workload: String,
    /// The server's name (`stage07_epoll`, `nginx`).
    pub target: String,
    /// Requests per second.
    pub requests_per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
    /// Socket errors and responses >= 400, summed over the runs.
    pub errors: u64,
    /// Server CPU time per request, in microseconds.
    pub cpu_per_request_us: f64,
    /// The lowest and highest CPU time per request among the runs: two servers whose ranges
    /// overlap are not told apart by this run.
    pub cpu_range_us: (f64, f64),
    /// Peak resident memory during the run, in MiB.
    pub peak_rss_mib: f64,
}

/// Per target: idle CPU, and what 10,000 idle connections cost.
#[derive(Debug, Clone)]
pub struct IdleRow {
    /// The server's name.
    pub target: String,
    /// Percent of one core used with no traffic at all.
    pub idle_cpu_percent: f64,
    /// With many idle keep-alive connections held: (count, KiB each, fresh request time).
    pub held: Option<(usize, f64, Duration)>,
}

/// What holding more and more idle connections does to a server: for each count, the CPU it
/// uses meanwhile and the time a fresh request takes (`None` where it could not hold them).
#[derive(Debug, Clone)]
pub struct ScalingRow {
    /// The server's name.
    pub target: String,
    /// (connections held, percent of a core used while holding them, fresh request time).
    pub points: Vec<(usize, Option<(f64, Duration)>)>,
}

/// The idle-scaling table, in Markdown (empty when nothing was measured).
pub fn scaling_markdown(rows: &[ScalingRow]) -> String {
    let mut out = String::new();
    let Some(first) = rows.first() else { return out };
    let counts: Vec<usize> = first.points.iter().map(|(count, _)| *count).collect();
    let _ = write!(out, "\n| server |");
    for count in &counts {
        let _ = write!(out, " CPU, {count} idle | fresh request, {count} idle |");
    }
    let _ = writeln!(out, "\n|---|{}", "---:|---:|".repeat(counts.len()));
    for row in rows {
        let _ = write!(out, "| {} |", row.target);
        for (_, point) in &row.points {
            match point {
                Some((cpu, fresh)) => {
                    let _ = write!(out, " {cpu:.1}% | {} |", show(*fresh));
                }
                None => out.push_str(" - | - |"),
            }
        }
        out.push('\n');
    }
    out
}

/// The median of some values (the middle one; the lower middle for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

/// A latency for the table; `-` when wrk reported none (a zero is no measurement).
fn show(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if duration.is_zero() {
        "-".into()
    } else if micros >= 10_000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} us")
    }
}

/// A CPU-per-request cell: the median, then the lowest and highest run in brackets when the
/// runs differ (a single run has no spread to show).
fn cpu_cell(median: f64, (low, high): (f64, f64)) -> String {
    if low < high { format!("{median:.2} ({low:.2}-{high:.2})") } else { format!("{median:.2}") }
}

fn ratio(value: f64, reference: Option<f64>) -> String {
    match reference {
        Some(reference) if reference > 0.0 => format!("{:.2}x", value / reference),
        _ => "-".into(),
    }
}

/// The Markdown report: one table of loads, one of idle costs.
pub fn markdown(rows: &[Row], idle: &[IdleRow], machine: &str, settings: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark results\n\n{machine}\n\n{settings}\n");
    // The brackets are explained only where some cell has them (a one-round run has none).
    let spread = rows.iter().any(|row| row.cpu_range_us.0 < row.cpu_range_us.1);
    let brackets = if spread {
        " Beside its median, in brackets, the lowest and highest of the rounds: where two \
         servers' ranges overlap, this run does not tell them apart."
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "Each figure is the median of the runs; `x nginx` compares with nginx's row of the \
         same run. wrk has one core: where fast servers come near what it can send, their \
         requests/s stop telling them apart, and the **server CPU time per request** ranks them \
         (lower is better).{brackets} In pipeline-50 a latency is that of a batch of 16 \
         requests.\n"
    );
    out.push_str(&load_table(rows, "workload"));
    let _ = writeln!(
        out,
        "\n| server | idle CPU | idle connections held | RSS per connection | fresh request meanwhile |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for row in idle {
        let (held, per, fresh) = match row.held {
            Some((count, per, fresh)) => (count.to_string(), format!("{per:.2} KiB"), show(fresh)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1}% | {held} | {per} | {fresh} |",
            row.target, row.idle_cpu_percent
        );
    }
    out
}

/// The first cell of the two-core table's header: what tells it apart from the one-core table.
pub const TWO_CORE_HEADER: &str = "workload, two cores";

/// The two-core table, in Markdown: the same columns as the one-core table, `x nginx` against
/// nginx's two-core rows.
pub fn two_core_markdown(rows: &[Row]) -> String {
    format!("\n{}", load_table(rows, TWO_CORE_HEADER))
}

/// A table of loads, each row beside nginx's row of the same workload in `rows`.
fn load_table(rows: &[Row], first_header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {first_header} | server | requests/s | x nginx | p50 | p99 | errors | CPU us/req | x nginx | peak RSS |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let nginx =
            rows.iter().find(|other| other.workload == row.workload && other.target == "nginx");
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {:.1} MiB |",
            row.workload,
            row.target,
            row.requests_per_second,
            ratio(row.requests_per_second, nginx.map(|n| n.requests_per_second)),
            show(row.p50),
            show(row.p99),
            row.errors,
            cpu_cell(row.cpu_per_request_us, row.cpu_range_us),
            ratio(row.cpu_per_request_us, nginx.map(|n| n.cpu_per_request_us)),
            row.peak_rss_mib,
        );
    }
    out
}

/// A grouped bar chart of requests/s: one group per workload, one bar per server.
pub fn svg(rows: &[Row]) -> String {
    let mut workloads: Vec<&str> = Vec::new();
    let mut targets: Vec<&str> = Vec::new();
    for row in rows {
        if !workloads.contains(&row.workload.as_str()) {
            workloads.push(&row.workload);
        }
        if !targets.contains(&row.target.as_str()) {
            targets.push(&row.target);
        }
    }
    let colors =
        ["#fed7aa", "#fdba74", "#fb923c", "#f97316", "#ea580c", "#c2410c", "#9a3412", "#1d2430"];
    let max = rows.iter().map(|row| row.requests_per_second).fold(1.0, f64::max);
    let (left, top, height) = (70.0, 50.0, 300.0);
    let bar = 12.0;
    let group = bar * targets.len() as f64 + 24.0;
    let width = left + group * workloads.len() as f64 + 20.0;
    let legend_height = 20.0 * targets.len().div_ceil(4) as f64;
    let total_height = top + height + 60.0 + legend_height;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{total_height:.0}" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#fbfaf7"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="{left}" y="24" font-size="16" font-weight="bold" fill="#1d2430">Requests per second (median), higher is better</text>"##
    );
    for step in 0..=4 {
        let value = max * step as f64 / 4.0;
        let y = top + height - height * step as f64 / 4.0;
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{:.0}" y1="{y:.0}" y2="{y:.0}" stroke="#e3e0d8"/>"##,
            width - 10.0
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="end" fill="#5b6678">{:.0}k</text>"##,
            left - 6.0,
            y + 4.0,
            value / 1000.0
        );
    }
    for (index, workload) in workloads.iter().enumerate() {
        let x0 = left + 12.0 + group * index as f64;
        for (position, target) in targets.iter().enumerate() {
            let Some(row) =
                rows.iter().find(|row| row.workload == *workload && row.target == *target)
            else {
                continue;
            };
            let bar_height = height * row.requests_per_second / max;
            let x = x0 + bar * position as f64;
            let color = if *target == "nginx" { colors[7] } else { colors[position % 7] };
            let _ = writeln!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bar_height:.1}" fill="{color}"><title>{target} {workload}: {:.0} req/s</title></rect>"#,
                top + height - bar_height,
                bar - 2.0,
                row.requests_per_second
            );
        }
        let _ = writeln!(
            out,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="middle" fill="#1d2430">{workload}</text>"##,
            x0 + bar * targets.len() as f64 / 2.0,
            top + height + 18.0
        );
    }
    for (position, target) in targets.iter().enumerate() {
        let x = left + 175.0 * (position % 4) as f64;
        let y = top + height + 44.0 + 20.0 * (position / 4) as f64;
        let color = if *target == "nginx" { colors[7] } else { colors[position % 7] };
        let _ = writeln!(
            out,
            r#"<rect x="{x:.0}" y="{:.0}" width="12" height="12" fill="{color}"/>"#,
            y - 10.0
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.0}" y="{y:.0}" fill="#1d2430">{target}</text>"##,
            x + 18.0
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(workload: &str, target: &str, rps: f64, cpu: f64) -> Row {
        Row {
            workload: workload.into(),
            target: target.into(),
            requests_per_second: rps,
            p50: Duration::from_micros(300),
            p99: Duration::from_millis(12),
            errors: 0,
            cpu_per_request_us: cpu,
            cpu_range_us: (cpu, cpu),
            peak_rss_mib: 3.0,
        }
    }

    #[test]
    fn median_of_three_and_of_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn a_latency_wrk_did_not_report_shows_as_a_dash() {
        assert_eq!(show(Duration::ZERO), "-");
        assert_eq!(show(Duration::from_micros(1230)), "1230 us");
        assert_eq!(show(Duration::from_millis(25)), "25.0 ms");
    }

    #[test]
    fn the_table_compares_with_nginx_of_the_same_workload() {
        let rows = [
            row("small-50", "nginx", 100_000.0, 4.0),
            row("small-50", "stage07_epoll", 110_000.0, 3.6),
        ];
        let text = markdown(&rows, &[], "machine", "settings");
        assert!(text.contains("| small-50 | stage07_epoll | 110000 | 1.10x | 300 us | 12.0 ms | 0 | 3.60 | 0.90x | 3.0 MiB |"), "{text}");
    }

    #[test]
    fn cpu_per_request_shows_the_spread_of_the_rounds() {
        let mut spread = row("small-50", "stage07_epoll", 110_000.0, 3.6);
        spread.cpu_range_us = (3.5, 3.9);
        let text = markdown(&[spread], &[], "machine", "settings");
        assert!(text.contains("| 0 | 3.60 (3.50-3.90) | - |"), "{text}");
        assert!(text.contains("in brackets, the lowest and highest of the rounds"), "{text}");
        let single = markdown(&[row("small-50", "nginx", 1.0, 3.6)], &[], "machine", "settings");
        assert!(!single.contains("in brackets"), "one round has no brackets to explain: {single}");
    }

    #[test]
    fn the_chart_has_a_bar_per_row() {
        let rows = [
            row("a", "nginx", 1.0, 1.0),
            row("a", "stage07_epoll", 2.0, 1.0),
            row("b", "nginx", 3.0, 1.0),
        ];
        let chart = svg(&rows);
        assert_eq!(chart.matches("<title>").count(), 3);
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>\n"));
    }
}
