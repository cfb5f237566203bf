//! The committed course pages, in both languages, must be exactly what the generator makes
//! from the current lessons and sources: a lesson or a main.rs changed without
//! `cargo run -p site` fails here.

use std::fs;

#[test]
fn committed_pages_are_up_to_date() {
    let workspace = site::workspace();
    let pages = site::pages(&workspace).expect("the stages' READMEs and sources are readable");
    let stages = site::STAGES.len();
    let twins = site::STAGES.iter().filter(|stage| stage.twin.is_some()).count();
    assert_eq!(
        pages.len(),
        site::Lang::ALL.len() * (2 * stages - 1 + twins),
        "in each language a lesson per stage, a diff per adjacent pair, and one from each \
         stage's twin"
    );
    for page in pages {
        let path = workspace.join("www").join(&page.path);
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == page.html,
            "{} is stale: run `cargo run -p site` and commit www/",
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
        for lang in site::Lang::ALL {
            let file = format!("{stage}/{}", lang.readme());
            let readme = fs::read_to_string(workspace.join(&file)).unwrap();
            let current = site::measured::MARKERS
                .block(&readme)
                .unwrap_or_else(|error| panic!("{file}: {error}"));
            assert!(
                current == site::measured::readme_block(stage, &results, lang),
                "{file}'s measured block is stale: run `cargo run -p site`"
            );
        }
    }
}

/// Every lesson's profile block is what the bench's committed profile gives, and the course
/// serves the committed figures as they are.
#[test]
fn profile_blocks_and_figures_match_the_bench_profile() {
    let workspace = site::workspace();
    let profile = fs::read_to_string(workspace.join(site::profile::PROFILE)).unwrap_or_default();
    for stage in site::STAGES.map(|stage| stage.name) {
        for lang in site::Lang::ALL {
            let file = format!("{stage}/{}", lang.readme());
            let readme = fs::read_to_string(workspace.join(&file)).unwrap();
            let Ok(current) = site::profile::MARKERS.block(&readme) else { continue };
            assert!(
                current == site::profile::readme_block(stage, &profile, lang),
                "{file}'s profile block is stale: run `cargo run -p site`"
            );
        }
    }
    for page in site::profile_figures(&workspace).unwrap() {
        let path = workspace.join("www").join(&page.path);
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == page.html, "{} is stale: run `cargo run -p site`", path.display());
    }
}

/// Every figure generated into a lesson's sentences (`<!-- gen:... -->`) is what the bench's
/// committed results and the current sources give.
#[test]
fn figures_in_the_lessons_are_up_to_date() {
    let workspace = site::workspace();
    let results = fs::read_to_string(workspace.join(site::measured::RESULTS)).unwrap();
    for file in site::lessons() {
        let lesson = fs::read_to_string(workspace.join(&file)).unwrap();
        let filled = site::fill_figures(&workspace, &lesson, &results)
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert!(filled == lesson, "{file}: a generated figure is stale: run `cargo run -p site`");
    }
}
