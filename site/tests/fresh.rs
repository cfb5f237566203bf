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
        site::Lang::ALL.len() * (2 * stages - 1 + twins + 3),
        "in each language a lesson per stage, a diff per adjacent pair, one from each stage's \
         twin, the grader's guide, the measurements and the glossary"
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

/// Everything generated in a lesson (its "Measured" and profile blocks, the figures in its
/// sentences: `<!-- gen:... -->`) is what the bench's committed results and profile and the
/// current sources give: rerunning the bench without `cargo run -p site`, or editing a block
/// or a figure by hand, fails here.
#[test]
fn lessons_match_the_bench_and_the_sources() {
    let workspace = site::workspace();
    let results = fs::read_to_string(workspace.join(site::measured::RESULTS)).unwrap();
    let profile = fs::read_to_string(workspace.join(site::profile::PROFILE)).unwrap_or_default();
    for file in site::lessons() {
        let lesson = fs::read_to_string(workspace.join(&file)).unwrap();
        let generated = site::generated_lesson(&workspace, &file, &lesson, &results, &profile)
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert!(generated == lesson, "{file} is stale: run `cargo run -p site`");
    }
}

/// The course serves the bench's committed profile figures as they are.
#[test]
fn profile_figures_are_served_as_committed() {
    let workspace = site::workspace();
    for page in site::profile_figures(&workspace).unwrap() {
        let path = workspace.join("www").join(&page.path);
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == page.html, "{} is stale: run `cargo run -p site`", path.display());
    }
}
