//! The committed course pages must be exactly what the generator makes from the current
//! READMEs and sources: a lesson or a main.rs changed without `cargo run -p site` fails here.

use std::fs;

#[test]
fn committed_pages_are_up_to_date() {
    let workspace = site::workspace();
    let pages = site::pages(&workspace).expect("the stages' READMEs and sources are readable");
    let stages = site::STAGES.len();
    let twins = site::STAGES.iter().filter(|stage| stage.twin.is_some()).count();
    assert_eq!(
        pages.len(),
        2 * stages - 1 + twins,
        "a lesson per stage, a diff per adjacent pair, and one from each stage's twin"
    );
    for page in pages {
        let path = workspace.join("www/course").join(&page.name);
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == page.html,
            "{} is stale: run `cargo run -p site` and commit www/course/",
            path.display()
        );
    }
}

/// Every lesson's "Measured" block is what the benchmark's committed results give: rerunning
/// the bench without `cargo run -p site`, or editing the block by hand, fails here.
#[test]
fn measured_blocks_match_the_bench_results() {
    let workspace = site::workspace();
    let results = fs::read_to_string(workspace.join(site::measured::RESULTS)).unwrap();
    for stage in site::STAGES.map(|stage| stage.name) {
        let readme = fs::read_to_string(workspace.join(stage).join("README.md")).unwrap();
        let current = site::measured::MARKERS
            .block(&readme)
            .unwrap_or_else(|error| panic!("{stage}/README.md: {error}"));
        assert!(
            current == site::measured::readme_block(stage, &results),
            "{stage}/README.md's measured block is stale: run `cargo run -p site`"
        );
    }
}
