//! Every exercise walked as a student walks it. In a scratch copy of the workspace, the stage's
//! `examples/solution.rs` goes in place of its `src/main.rs`, the edits that the lesson's
//! Exercise section tells the student to make are made (and nothing else), and the check is
//! run exactly as that section prints it: it must pass. The stage as the student gets it must
//! fail the same check (the exercise is not done already).
//!
//! An example sees its package's dev-dependencies and `src/main.rs` does not, so this is what
//! catches a lesson that forgets to say "add this crate". The only edit a lesson can ask for
//! is a block like this one in its Exercise section, which the student copies and this test
//! applies (a line whose key is there already replaces it):
//!
//! ```toml
//! # stage02_static/Cargo.toml, under [dependencies]
//! clap.workspace = true
//! ```
//!
//! Then `cargo build -p STAGE` must build it too, as `cargo run` would: `cargo test` brings in
//! the dev-dependencies' features, which a plain run does not have.
//!
//! The copy builds into its own target directory (`target/exercise-walk/`), kept between runs,
//! so after the first run only the stage under test is compiled again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

mod common;

/// What the copy leaves out: build output, history and the demo site (tests make their own).
const NOT_COPIED: [&str; 3] = ["target", ".git", "www"];

/// The longest one check may take, build included, before it counts as hung.
const CHECK_LIMIT: Duration = Duration::from_secs(600);

/// What a lesson's Exercise section tells the student to do, as far as a test can do it.
#[derive(Debug)]
struct Exercise {
    /// The line that checks it, as printed: `cargo test -p STAGE --test exercise -- --ignored`.
    check: String,
    /// Lines to put under the stage's `[dependencies]`.
    dependencies: Vec<String>,
}

/// The Exercise section of `stage`'s lesson: its check command and its edits.
fn exercise_of(stage: &str, lesson: &str) -> Result<Exercise, String> {
    let blocks: Vec<String> = common::code_of(lesson)
        .into_iter()
        .filter(|code| code.block && code.in_exercise)
        .map(|code| code.text)
        .collect();
    let check_prefix = format!("cargo test -p {stage} --test exercise");
    let mut checks = blocks
        .iter()
        .flat_map(|block| block.lines())
        .filter(|line| line.starts_with(&check_prefix));
    let check = checks
        .next()
        .ok_or_else(|| format!("no `{check_prefix} ...` line in its Exercise section"))?;
    let edit_header = format!("# {stage}/Cargo.toml, under [dependencies]");
    let mut dependencies = Vec::new();
    for block in
        blocks.iter().filter(|block| block.starts_with("# ") && block.contains("Cargo.toml"))
    {
        let mut lines = block.lines();
        if lines.next() != Some(edit_header.as_str()) {
            return Err(format!("an edit block must start `{edit_header}`: {block}"));
        }
        let edits = lines.filter(|line| !line.trim().is_empty() && !line.starts_with('#'));
        dependencies.extend(edits.map(str::to_string));
    }
    Ok(Exercise { check: check.to_string(), dependencies })
}

/// The key of a manifest line: `clap` for `clap.workspace = true` or `clap = "4"`.
fn key(line: &str) -> &str {
    line.split(['.', '=', ' ']).next().unwrap_or_default()
}

/// `manifest` with `lines` under `[dependencies]`, each replacing a line of the same key.
fn with_dependencies(manifest: &str, lines: &[String]) -> Result<String, String> {
    let mut out: Vec<String> = manifest.lines().map(str::to_string).collect();
    let header = out.iter().position(|line| line == "[dependencies]");
    let header = header.ok_or("the manifest has no [dependencies]")?;
    let end = out[header + 1..]
        .iter()
        .position(|line| line.starts_with('['))
        .map_or(out.len(), |at| header + 1 + at);
    for line in lines {
        let same = out[header + 1..end].iter().position(|old| key(old) == key(line));
        match same {
            Some(at) => out[header + 1 + at] = line.clone(),
            None => out.insert(header + 1, line.clone()),
        }
    }
    Ok(out.join("\n") + "\n")
}

/// Copies the tree `from` into `to`, keeping each file's modification time so that cargo's
/// fingerprints of the copy stay valid from one run to the next.
fn copy_tree(from: &Path, to: &Path, top: bool) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if top && NOT_COPIED.iter().any(|skipped| name == *skipped) {
            continue;
        }
        let (source, copy) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &copy, false)?;
        } else {
            fs::copy(&source, &copy)?;
            fs::File::options()
                .write(true)
                .open(&copy)?
                .set_modified(entry.metadata()?.modified()?)?;
        }
    }
    Ok(())
}

/// Writes `text` to `path` with a new modification time, so that cargo builds it again.
fn write_fresh(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::File::options().write(true).open(path).unwrap().set_modified(SystemTime::now()).unwrap();
}

/// Runs `line` with `sh` in `folder`, building into `target`: whether it passed, and its output.
fn run(line: &str, folder: &Path, target: &Path) -> (bool, String) {
    let mut child = Command::new("sh")
        .args(["-c", &format!("{line} 2>&1")])
        .current_dir(folder)
        .env("CARGO_TARGET_DIR", target)
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut output = String::new();
        let _ = io::Read::read_to_string(&mut stdout, &mut output);
        output
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > CHECK_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = reader.join().unwrap();
    (status.is_some_and(|status| status.success()), output)
}

/// The last lines of a command's output, for a failure message.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn every_exercise_passes_as_the_lesson_says_and_not_before() {
    let workspace = site::workspace();
    let test_binary = std::env::current_exe().unwrap();
    let target_root: PathBuf =
        test_binary.ancestors().nth(3).expect("target/<profile>/deps/test").into();
    let walk = target_root.join("exercise-walk");
    let (copy, target) = (walk.join("workspace"), walk.join("target"));
    if copy.exists() {
        fs::remove_dir_all(&copy).unwrap();
    }
    copy_tree(&workspace, &copy, true).unwrap();

    let mut walked = 0;
    for stage in site::STAGES.map(|stage| stage.name) {
        if !workspace.join(stage).join("tests/exercise.rs").exists() {
            continue;
        }
        let lesson = fs::read_to_string(workspace.join(stage).join("README.md")).unwrap();
        let exercise =
            exercise_of(stage, &lesson).unwrap_or_else(|error| panic!("{stage}: {error}"));
        let (main, manifest) =
            (copy.join(stage).join("src/main.rs"), copy.join(stage).join("Cargo.toml"));
        let original_main = fs::read_to_string(&main).unwrap();
        let original_manifest = fs::read_to_string(&manifest).unwrap();

        // The stage as the student gets it: the check fails, and fails in its test, not in a build.
        write_fresh(&main, &original_main);
        write_fresh(&manifest, &original_manifest);
        let (passed, output) = run(&exercise.check, &copy, &target);
        assert!(
            !passed && output.contains("test result: FAILED"),
            "{stage}: `{}` must fail before the exercise is done:\n{}",
            exercise.check,
            tail(&output)
        );

        // The exercise done as the lesson says: the solution, and only the lesson's edits.
        let solution =
            fs::read_to_string(workspace.join(stage).join("examples/solution.rs")).unwrap();
        write_fresh(&main, &solution);
        let edited = with_dependencies(&original_manifest, &exercise.dependencies)
            .unwrap_or_else(|error| panic!("{stage}: {error}"));
        write_fresh(&manifest, &edited);
        let (passed, output) = run(&exercise.check, &copy, &target);
        assert!(
            passed,
            "{stage}: with examples/solution.rs as src/main.rs and the lesson's edits ({:?}), \
             `{}` fails:\n{}",
            exercise.dependencies,
            exercise.check,
            tail(&output)
        );
        // `cargo run -p STAGE` builds the stage without its dev-dependencies, which `cargo test`
        // brings in (stage09's tokio `sync` feature): the solution must build that way too.
        let (built, output) = run(&format!("cargo build -p {stage}"), &copy, &target);
        assert!(
            built,
            "{stage}: the solution builds for `cargo test` but not for `cargo run`:\n{}",
            tail(&output)
        );
        walked += 1;
    }
    assert!(walked >= 10, "only {walked} exercises found");
}

#[test]
fn a_lessons_edit_is_applied_as_a_student_would() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\ncommon.workspace = true\ntokio.workspace = true\n\n[lints]\n";
    let lines = [
        "clap.workspace = true".to_string(),
        "tokio = { workspace = true, features = [\"sync\"] }".to_string(),
    ];
    assert_eq!(
        with_dependencies(manifest, &lines).unwrap(),
        "[package]\nname = \"x\"\n\n[dependencies]\nclap.workspace = true\ncommon.workspace = true\n\
         tokio = { workspace = true, features = [\"sync\"] }\n\n[lints]\n"
    );
    let lesson = "## Exercise\n\nDo it.\n\n```toml\n# stage02_static/Cargo.toml, under [dependencies]\n\
                  clap.workspace = true\n```\n\n```sh\ncargo test -p stage02_static --test exercise -- --ignored\n```\n";
    let exercise = exercise_of("stage02_static", lesson).unwrap();
    assert_eq!(exercise.check, "cargo test -p stage02_static --test exercise -- --ignored");
    assert_eq!(exercise.dependencies, ["clap.workspace = true"]);
    let elsewhere = lesson.replace("stage02_static/Cargo.toml", "Cargo.toml");
    assert!(exercise_of("stage02_static", &elsewhere).is_err(), "an edit must say which manifest");
    assert!(exercise_of("stage03_fork", lesson).is_err(), "the check names the stage");
}
