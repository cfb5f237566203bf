//! The two languages of the course stay in step: every lesson in README.md has its
//! README.zh-CN.md beside it (and the top README too) with the same headings at the same
//! levels and the same fenced code blocks, word for word. A section added, or a command
//! changed, in one language only fails here.

use std::fs;

use site::{Lang, STAGES};

#[test]
fn every_lesson_is_in_step_in_both_languages() {
    let workspace = site::workspace();
    // The course's README, each stage's lesson, and the grader's guide.
    let folders =
        std::iter::once(".").chain(STAGES.iter().map(|stage| stage.name)).chain(["grade"]);
    let mut drift = Vec::new();
    for folder in folders {
        let [english, chinese] = Lang::ALL.map(|lang| {
            let path = workspace.join(folder).join(lang.readme());
            fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        });
        for difference in site::lang::differences(&english, &chinese) {
            drift.push(format!("{folder}/{}: {difference}", Lang::Chinese.readme()));
        }
    }
    assert!(drift.is_empty(), "the languages drifted apart:\n{}", drift.join("\n"));
}

/// Every in-page link of every course page (`#measured`, `#测量结果`) leads to a heading of
/// that page. (The HTML writer percent-encodes the link as UTF-8; a browser decodes it before
/// it looks for the id.)
#[test]
fn in_page_links_lead_to_a_heading() {
    let pages = site::pages(&site::workspace()).expect("the lessons are readable");
    let mut dead = Vec::new();
    for page in &pages {
        for anchor in page.html.split("href=\"#").skip(1).filter_map(|rest| rest.split('"').next())
        {
            if !page.html.contains(&format!("id=\"{}\"", percent_decoded(anchor))) {
                dead.push(format!("{}: #{anchor}", page.path));
            }
        }
    }
    assert!(dead.is_empty(), "links to no heading:\n{}", dead.join("\n"));
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Where a page's language switch leads: the link that carries `hreflang`.
fn language_switch(html: &str) -> Option<&str> {
    let (before, _) = html.split_once("hreflang=")?;
    links(before).pop()
}

/// Every page of the site, hand-written or generated, in `www/` and below.
fn site_pages(folder: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(folder).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            site_pages(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "html") {
            found.push(path);
        }
    }
}

/// The `href` values of a page.
fn links(html: &str) -> Vec<&str> {
    html.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

/// Every link between the site's pages leads to a file (or a folder) that is there, and every
/// course page, home page and how-it-works page has a language switch (the link with
/// `hreflang`) to a page in the other language, whose switch leads back to it.
#[test]
fn links_between_pages_lead_somewhere_and_the_language_switch_leads_back() {
    let www = site::workspace().join("www");
    let mut pages = Vec::new();
    site_pages(&www, &mut pages);
    let file_of = |page: &std::path::Path, link: &str| {
        let link = percent_decoded(link.split(['#', '?']).next().unwrap_or(""));
        let mut path = match link.strip_prefix('/') {
            Some(absolute) => www.join(absolute),
            None => page.parent().unwrap().join(&link),
        };
        if (link.is_empty() || link.ends_with('/')) && path.join("index.html").exists() {
            path.push("index.html");
        }
        path
    };
    let mut broken = Vec::new();
    for page in &pages {
        let html = fs::read_to_string(page).unwrap();
        let name = page.strip_prefix(&www).unwrap().display().to_string();
        for link in links(&html) {
            let external = link.starts_with("http://") || link.starts_with("https://");
            // The home pages' demo of a 404 links to a page that is missing on purpose.
            let missing_on_purpose = link == "/no-such-page";
            if !external
                && !link.starts_with('#')
                && !missing_on_purpose
                && !file_of(page, link).exists()
            {
                broken.push(format!("{name}: {link} leads nowhere"));
            }
        }
        if name.contains("course/") || name.ends_with("index.html") || name.contains("how-it-works")
        {
            let Some(switch) = language_switch(&html) else {
                broken.push(format!("{name}: no language switch"));
                continue;
            };
            let other = file_of(page, switch);
            let back = fs::read_to_string(&other).unwrap_or_default();
            if language_switch(&back).map(|back| file_of(&other, back)) != Some(page.clone()) {
                broken.push(format!("{name}: its language switch {switch} does not switch back"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// Every Chinese lesson links the glossary, and its prose uses the glossary's Chinese for
/// every term listed there: the English stays in code, commands and glosses (`套接字（socket）`).
#[test]
fn chinese_lessons_use_the_glossary() {
    let workspace = site::workspace();
    let glossary = fs::read_to_string(workspace.join(site::glossary::FILE)).unwrap();
    let terms = site::glossary::terms(&glossary);
    assert!(terms.len() >= 20, "the glossary lists {} terms", terms.len());
    let mut problems = Vec::new();
    let folders =
        std::iter::once(".").chain(STAGES.iter().map(|stage| stage.name)).chain(["grade"]);
    for folder in folders {
        let file = format!("{folder}/{}", Lang::Chinese.readme());
        let lesson = fs::read_to_string(workspace.join(&file)).unwrap();
        if folder != "." && !lesson.contains(&format!("](../{})", site::glossary::FILE)) {
            problems.push(format!("{file}: no link to ../{}", site::glossary::FILE));
        }
        for bare in site::glossary::bare_terms(&lesson, &terms) {
            problems.push(format!("{file}: {bare}"));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Chinese sentences read without a chain of colons: at most two in any sentence, and at
/// most 0.35 a sentence on average in every lesson.
#[test]
fn chinese_sentences_carry_few_colons() {
    let workspace = site::workspace();
    let mut problems = Vec::new();
    let folders =
        std::iter::once(".").chain(STAGES.iter().map(|stage| stage.name)).chain(["grade"]);
    for folder in folders {
        let file = format!("{folder}/{}", Lang::Chinese.readme());
        let lesson = fs::read_to_string(workspace.join(&file)).unwrap();
        let sentences = site::glossary::sentences(&lesson);
        let colons = |sentence: &String| sentence.matches('：').count();
        for sentence in sentences.iter().filter(|sentence| colons(sentence) > 2) {
            problems.push(format!("{file}: {} colons in {sentence}", colons(sentence)));
        }
        let average = sentences.iter().map(colons).sum::<usize>() as f64 / sentences.len() as f64;
        if average > 0.35 {
            problems.push(format!("{file}: {average:.2} colons a sentence"));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// No page of the Chinese site leaves English in its prose: only code, commands, identifiers,
/// names, glosses and quotations keep it (see `site::english`). The glossary page's first
/// column is the English it translates, and is left out.
#[test]
fn chinese_pages_leave_no_english_prose() {
    let mut pages = Vec::new();
    site_pages(&site::workspace().join("www/zh"), &mut pages);
    assert!(pages.len() > 20, "{} Chinese pages", pages.len());
    let mut problems = Vec::new();
    for page in pages {
        let mut html = fs::read_to_string(&page).unwrap();
        if page.ends_with(site::glossary::PAGE) {
            html = without_first_column(&html);
        }
        for left in site::english::left_in(&html) {
            let name = page.file_name().unwrap().to_string_lossy();
            problems.push(format!("{name}: `{}` in: {}", left.word, left.context));
        }
    }
    assert!(problems.is_empty(), "{} English words:\n{}", problems.len(), problems.join("\n"));
}

/// A table's rows without their first cell.
fn without_first_column(html: &str) -> String {
    html.split("<tr>")
        .enumerate()
        .map(|(number, row)| match row.split_once("</td>").or(row.split_once("</th>")) {
            Some((_, rest)) if number > 0 => format!("<tr>{rest}"),
            _ if number > 0 => format!("<tr>{row}"),
            _ => row.to_string(),
        })
        .collect()
}
