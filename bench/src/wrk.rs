//! Running wrk and reading its report.

use std::io;
use std::process::Command;
use std::time::Duration;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Report {
    /// Responses completed.
    pub requests: u64,
    /// Requests per second over the run.
    pub requests_per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
    /// Socket errors (connect, read, write, timeout) plus responses with status >= 400.
    pub errors: u64,
}

/// One wrk invocation: which URL, how many connections, how long, extra options.
#[derive(Debug, Clone)]
pub struct Load {
    /// wrk's threads: one on one core, two on two.
    pub threads: u32,
    /// The URL to load.
    pub url: String,
    /// Open connections.
    pub connections: u32,
    /// How long to run.
    pub duration: Duration,
    /// A header to add, e.g. `Connection: close`.
    pub header: Option<&'static str>,
    /// A Lua script (pipelining).
    pub script: Option<String>,
}

/// Runs wrk on the current core set (the caller pins it) and parses its report.
pub fn run(load: &Load, pin: impl FnOnce(&mut Command)) -> io::Result<Report> {
    let mut command = Command::new("wrk");
    command.arg(format!("-t{}", load.threads)).arg("--latency");
    command.arg(format!("-c{}", load.connections));
    // wrk takes whole seconds (or minutes, hours): at least one.
    command.arg(format!("-d{}s", load.duration.as_secs().max(1)));
    // Generous: a server that stalls shows up as errors, not as a bench that hangs.
    command.arg("--timeout").arg("5s");
    if let Some(header) = load.header {
        command.args(["-H", header]);
    }
    if let Some(script) = &load.script {
        command.args(["-s", script]);
    }
    command.arg(&load.url);
    pin(&mut command);
    let output = command.output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse(&text).ok_or_else(|| {
        io::Error::other(format!(
            "could not read wrk's report:\n{text}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    })
}

/// Reads wrk's `--latency` report. `None` when a figure it always prints is missing.
pub fn parse(text: &str) -> Option<Report> {
    let mut report = Report::default();
    let (mut seen_rate, mut seen_count) = (false, false);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => {
                report.requests_per_second = rate.parse().ok()?;
                seen_rate = true;
            }
            [count, "requests", "in", ..] => {
                report.requests = count.parse().ok()?;
                seen_count = true;
            }
            ["50%", value] => report.p50 = duration(value)?,
            ["99%", value] => report.p99 = duration(value)?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                for pair in rest.chunks(2) {
                    if let [_, count] = pair {
                        report.errors += count.trim_end_matches(',').parse::<u64>().ok()?;
                    }
                }
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                report.errors += count.parse::<u64>().ok()?
            }
            _ => {}
        }
    }
    (seen_rate && seen_count).then_some(report)
}

/// wrk's durations: `347.00us`, `1.23ms`, `2.00s`, and `0.00us` for nothing.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:18080/hello.txt
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   366.42us  147.59us   4.51ms   98.39%
    Req/Sec   138.05k     5.43k  145.08k    84.00%
  Latency Distribution
     50%  347.00us
     75%  380.00us
     90%  420.00us
     99%    1.23ms
  687187 requests in 5.00s, 112.06MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec: 137379.12
Transfer/sec:     22.41MB
";

    #[test]
    fn reads_every_figure() {
        let report = parse(REPORT).unwrap();
        assert_eq!(report.requests, 687_187);
        assert!((report.requests_per_second - 137_379.12).abs() < 1e-6);
        assert_eq!(report.p50, Duration::from_micros(347));
        assert_eq!(report.p99, Duration::from_micros(1230));
        assert_eq!(report.errors, 3 + 1 + 2 + 12);
    }

    #[test]
    fn a_clean_run_has_no_errors() {
        let clean: String = REPORT
            .lines()
            .filter(|line| !line.contains("errors") && !line.contains("Non-2xx"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(parse(&clean).unwrap().errors, 0);
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration("0.00us"), Some(Duration::ZERO));
        assert_eq!(duration("2.50ms"), Some(Duration::from_micros(2500)));
        assert_eq!(duration("1.00s"), Some(Duration::from_secs(1)));
        assert_eq!(duration("12"), None);
        assert_eq!(duration("3.0h"), None);
    }

    #[test]
    fn garbage_is_not_a_report() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("unable to connect to 127.0.0.1:1 Connection refused"), None);
        assert_eq!(parse("Requests/sec: abc\n10 requests in 1.00s"), None);
    }
}
