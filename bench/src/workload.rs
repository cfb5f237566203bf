//! The workloads, which of them each table runs, and which fit which server.

use crate::server::{Kind, Target};

/// A workload: a file, a number of connections, and how requests are sent.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub name: &'static str,
    pub path: &'static str,
    pub connections: u32,
    pub close: bool,
    pub pipeline: bool,
    /// Not a wrk load: idle keep-alive connections held open (see idle.rs).
    pub idle: bool,
}

const fn workload(name: &'static str, path: &'static str, connections: u32) -> Workload {
    Workload { name, path, connections, close: false, pipeline: false, idle: false }
}

/// Every workload, in the order of the table. "small" is a hello-world-sized file.
pub const WORKLOADS: [Workload; 9] = [
    workload("small-1", "/tiny.html", 1),
    workload("small-50", "/tiny.html", 50),
    workload("small-500", "/tiny.html", 500),
    workload("4k-50", "/4k.bin", 50),
    workload("4k-500", "/4k.bin", 500),
    workload("256k-50", "/256k.bin", 50),
    Workload { close: true, ..workload("close-50", "/tiny.html", 50) },
    Workload { pipeline: true, ..workload("pipeline-50", "/tiny.html", 50) },
    Workload { idle: true, ..workload("idle-10k", "/tiny.html", 10_000) },
];

/// The workloads of `--quick`.
pub const QUICK: [&str; 5] = ["small-50", "4k-50", "close-50", "pipeline-50", "idle-10k"];

/// The workloads of the two-core table: keep-alive load at two sizes and two counts, and
/// connections that close.
pub const TWO_CORE_WORKLOADS: [&str; 5] = ["small-50", "small-500", "4k-50", "4k-500", "close-50"];

/// Whether a workload fits what a server can do. A stage that answers hello world to anything
/// (stage01) gets only the small page's workloads, whose response is the same size. A stage
/// that closes after each response (stage02) answers only the first of 16 pipelined requests.
/// Holding 10,000 idle connections only makes sense for the stages that can: not the
/// iterative ones, not a process or a pool thread per connection. A stage's variant runs only
/// its own workloads (see [`VARIANTS`](crate::server::VARIANTS)). nginx runs everything.
pub fn fits(target: &Target, workload: &Workload) -> bool {
    let stage = match target.kind {
        Kind::Stage(stage) => stage,
        Kind::Variant { stage, variant } if variant.workloads.contains(&workload.name) => stage,
        Kind::Variant { .. } => return false,
        Kind::Nginx => return true,
    };
    (stage.serves_files || workload.path == "/tiny.html")
        && (stage.keeps_alive || !workload.pipeline)
        && (stage.holds_idle_connections || !workload.idle)
}

/// The position of a workload in the table, to sort rows by.
pub fn position(name: &str) -> Option<usize> {
    WORKLOADS.iter().position(|workload| workload.name == name)
}
