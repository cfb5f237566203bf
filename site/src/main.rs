//! `cargo run -p site` writes the course pages into `www/course/`: one page per stage (its
//! README.md rendered, then its src/main.rs), one page per pair of adjacent stages (the diff
//! of their main.rs). The pages are committed; a test fails when they are stale.

use std::fs;
use std::io;

fn main() -> io::Result<()> {
    let workspace = site::workspace();
    let out = workspace.join("www/course");
    fs::create_dir_all(&out)?;
    for page in site::pages(&workspace)? {
        fs::write(out.join(&page.name), &page.html)?;
        println!("wrote www/course/{}", page.name);
    }
    Ok(())
}
