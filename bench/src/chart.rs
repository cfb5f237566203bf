//! The results as an SVG chart a reader can take in: CPU time per request first (what ranks
//! the fast servers, since wrk is the limit of their requests per second), then requests per
//! second; a small panel per workload, a bar per server with its name beside it and its value
//! at its end, coloured by the family of its model.

use std::fmt::Write;

use crate::report::Row;

/// The chart's width: about a course page's.
const WIDTH: f64 = 920.0;
/// Panels per line.
const COLUMNS: usize = 3;
/// Room for the servers' names, left of the bars.
const NAMES: f64 = 128.0;
/// Room for the values, right of the bars.
const VALUES: f64 = 52.0;
/// Height of one server's line in a panel.
const LINE: f64 = 14.0;

/// The language of a chart's words: the Chinese course shows a copy of each chart in Chinese
/// (`latest.zh-CN.svg` beside `latest.svg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Chinese,
}

impl Language {
    /// Both, English first.
    pub const ALL: [Language; 2] = [Language::English, Language::Chinese];

    /// Of a pair of texts, the one in this language.
    pub fn pick(self, [english, chinese]: [&'static str; 2]) -> &'static str {
        match self {
            Language::English => english,
            Language::Chinese => chinese,
        }
    }

    /// The name of a chart in this language: `latest.svg`, `latest.zh-CN.svg`.
    pub fn file(self, stem: &str) -> String {
        match self {
            Language::English => format!("{stem}.svg"),
            Language::Chinese => format!("{stem}.zh-CN.svg"),
        }
    }
}

/// About how wide `text` is drawn at a size whose Latin letters are `letter` wide: a Chinese
/// character takes about two of them.
pub fn text_width(text: &str, letter: f64) -> f64 {
    text.chars().map(|c| if c.is_ascii() { letter } else { 2.0 * letter }).sum()
}

/// A family of models, and its colour (Okabe and Ito's palette, which colour-blind readers can
/// tell apart).
struct Family {
    name: [&'static str; 2],
    colour: &'static str,
    stages: &'static [&'static str],
}

const FAMILIES: [Family; 5] = [
    Family {
        name: ["blocking (stages 01-04)", "阻塞式（第 1-4 步）"],
        colour: "#E69F00",
        stages: &["stage01", "stage02", "stage03", "stage04"],
    },
    Family {
        name: ["coroutines and tasks (05, 09)", "协程与任务（第 5、9 步）"],
        colour: "#009E73",
        stages: &["stage05", "stage09"],
    },
    Family {
        name: ["event loops (06-08)", "事件循环（第 6-8 步）"],
        colour: "#0072B2",
        stages: &["stage06", "stage07", "stage08"],
    },
    Family {
        name: ["completions, io_uring (10)", "完成通知，io_uring（第 10 步）"],
        colour: "#CC79A7",
        stages: &["stage10"],
    },
    Family { name: ["nginx", "nginx"], colour: "#1d2430", stages: &["nginx"] },
];

/// The colour of a server's bars.
fn colour(server: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|family| family.stages.iter().any(|prefix| server.starts_with(prefix)))
        .map_or("#999999", |family| family.colour)
}

/// One measure the chart shows.
struct Measure {
    title: [&'static str; 2],
    value: fn(&Row) -> f64,
    show: fn(f64) -> String,
}

const MEASURES: [Measure; 2] = [
    Measure {
        title: [
            "CPU time per request, us (median): shorter is cheaper",
            "每个请求的 CPU 时间，微秒（中位数），越短越省",
        ],
        value: |row| row.cpu_per_request_us,
        show: |value| format!("{value:.1}"),
    },
    Measure {
        title: [
            "Requests per second (median): longer is faster, up to what wrk can send",
            "每秒请求数（中位数），越长越快，直到 wrk 发送能力的上限",
        ],
        value: |row| row.requests_per_second,
        show: |value| format!("{:.0}k", value / 1000.0),
    },
];

/// The chart of `rows`, titled `heading` (which cores the servers had), in `language`.
pub fn svg(rows: &[Row], heading: &str, language: Language) -> String {
    let mut workloads: Vec<&str> = Vec::new();
    for row in rows {
        if !workloads.contains(&row.workload.as_str()) {
            workloads.push(&row.workload);
        }
    }
    let panel_width = (WIDTH - 20.0) / COLUMNS as f64;
    let bar_room = panel_width - NAMES - VALUES;
    let mut body = String::new();
    let mut y = 76.0;
    for measure in &MEASURES {
        let _ = writeln!(
            body,
            r##"<text x="10" y="{y:.0}" font-size="14" font-weight="bold" fill="#1d2430">{}</text>"##,
            language.pick(measure.title)
        );
        y += 12.0;
        for line in workloads.chunks(COLUMNS) {
            let tallest = line
                .iter()
                .map(|workload| rows.iter().filter(|row| row.workload == *workload).count())
                .max()
                .unwrap_or(0);
            for (column, workload) in line.iter().enumerate() {
                let x0 = 10.0 + panel_width * column as f64;
                let panel: Vec<&Row> =
                    rows.iter().filter(|row| row.workload == *workload).collect();
                let max =
                    panel.iter().map(|row| (measure.value)(row)).fold(f64::MIN_POSITIVE, f64::max);
                let _ = writeln!(
                    body,
                    r##"<text x="{:.0}" y="{:.0}" font-weight="bold" fill="#1d2430">{workload}</text>"##,
                    x0 + NAMES,
                    y + 14.0
                );
                for (index, row) in panel.iter().enumerate() {
                    let top = y + 20.0 + LINE * index as f64;
                    let value = (measure.value)(row);
                    let length = (bar_room * value / max).max(1.0);
                    let _ = writeln!(
                        body,
                        r##"<text x="{:.0}" y="{:.0}" text-anchor="end" font-size="11" fill="#1d2430">{}</text>"##,
                        x0 + NAMES - 4.0,
                        top + 10.0,
                        row.target
                    );
                    let _ = writeln!(
                        body,
                        r#"<rect x="{:.0}" y="{top:.0}" width="{length:.1}" height="{:.0}" fill="{}"><title>{} {workload}: {}</title></rect>"#,
                        x0 + NAMES,
                        LINE - 3.0,
                        colour(&row.target),
                        row.target,
                        (measure.show)(value)
                    );
                    let _ = writeln!(
                        body,
                        r##"<text x="{:.0}" y="{:.0}" font-size="11" fill="#5b6678">{}</text>"##,
                        x0 + NAMES + length + 3.0,
                        top + 10.0,
                        (measure.show)(value)
                    );
                }
            }
            y += 28.0 + LINE * tallest as f64;
        }
        y += 16.0;
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0}" height="{y:.0}" viewBox="0 0 {WIDTH:.0} {y:.0}" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#fbfaf7"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="10" y="24" font-size="16" font-weight="bold" fill="#1d2430">{heading}</text>"##
    );
    // The legend: the families with a server in the chart, each as wide as its name.
    let shown = FAMILIES
        .iter()
        .filter(|family| rows.iter().any(|row| colour(&row.target) == family.colour));
    let mut x = 10.0;
    for family in shown {
        let top = 38.0;
        let _ = writeln!(
            out,
            r##"<rect x="{x:.0}" y="{top:.0}" width="12" height="12" fill="{}"/><text x="{:.0}" y="{:.0}" fill="#1d2430">{}</text>"##,
            family.colour,
            x + 17.0,
            top + 10.0,
            language.pick(family.name)
        );
        x += 17.0 + text_width(language.pick(family.name), 6.6) + 16.0;
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row;

    #[test]
    fn each_row_has_a_named_bar_in_each_measure() {
        let rows = [
            row("a", "nginx", 1000.0, 8.0),
            row("a", "stage07_epoll", 2000.0, 6.0),
            row("b", "nginx", 3000.0, 9.0),
        ];
        let chart = svg(&rows, "One core", Language::English);
        assert_eq!(chart.matches("<title>").count(), 6);
        assert!(chart.contains("<title>stage07_epoll a: 6.0</title>"), "{chart}");
        assert!(chart.contains("<title>nginx b: 3k</title>"), "{chart}");
        assert!(chart.contains(">stage07_epoll</text>"));
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>\n"));
    }

    #[test]
    fn a_stage_is_coloured_by_its_family() {
        assert_eq!(colour("stage09_async"), colour("stage05_coroutines"));
        assert_eq!(colour("stage07_epoll/poll"), colour("stage08_reuseport"));
        assert_ne!(colour("stage10_uring"), colour("stage07_epoll"));
    }
}
