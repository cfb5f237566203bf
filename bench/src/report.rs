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

/// The cells of a Markdown table row, or `None` for a line that is not one.
pub fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// The load tables of results written by [`markdown`] and [`two_core_markdown`], read back:
/// the one-core rows and the two-core rows, with what the charts need (requests/s and the
/// median CPU time per request; latencies are left at zero).
pub fn parse(markdown: &str) -> (Vec<Row>, Vec<Row>) {
    let (mut one_core, mut two_cores) = (Vec::new(), Vec::new());
    let mut in_two_cores = false;
    for line in markdown.lines() {
        let Some(cells) = cells(line) else { continue };
        if cells.first() == Some(&TWO_CORE_HEADER) {
            in_two_cores = true;
        }
        let [workload, target, rps, _, _, _, errors, cpu, _, rss] = cells.as_slice() else {
            continue;
        };
        let (Ok(requests_per_second), Ok(cpu_per_request_us)) =
            (rps.parse::<f64>(), cpu.split(' ').next().unwrap_or("").parse::<f64>())
        else {
            continue;
        };
        let row = Row {
            workload: workload.to_string(),
            target: target.to_string(),
            requests_per_second,
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            errors: errors.parse().unwrap_or(0),
            cpu_per_request_us,
            cpu_range_us: (cpu_per_request_us, cpu_per_request_us),
            peak_rss_mib: rss.trim_end_matches(" MiB").parse().unwrap_or(0.0),
        };
        if in_two_cores { two_cores.push(row) } else { one_core.push(row) }
    }
    (one_core, two_cores)
}

/// A row for the tests of the tables and the charts: fixed latencies and memory.
#[cfg(test)]
pub(crate) fn row(workload: &str, target: &str, rps: f64, cpu: f64) -> Row {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_tables_are_read_back_for_the_charts() {
        let one =
            [row("small-50", "nginx", 100_000.0, 4.0), row("small-50", "stage07_epoll", 1.0, 3.6)];
        let two = [row("close-50", "nginx", 50_000.0, 17.5)];
        let mut text = markdown(&one, &[], "machine", "settings");
        text.push_str(&two_core_markdown(&two));
        let (one_core, two_cores) = parse(&text);
        assert_eq!(one_core.len(), 2);
        assert_eq!(
            (one_core[1].target.as_str(), one_core[1].cpu_per_request_us),
            ("stage07_epoll", 3.6)
        );
        assert_eq!(two_cores.len(), 1);
        assert_eq!(two_cores[0].requests_per_second, 50_000.0);
    }
}
