//! What the lesson tests share: the code of a lesson, and where it stands.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

/// The section of a lesson where the student does the exercise, in either language.
const EXERCISE_HEADINGS: [&str; 2] = ["Exercise", "练习"];

/// A piece of a lesson's code: a fenced block or inline code.
#[derive(Debug)]
pub struct Code {
    /// Its text (a block's lines, or the inline code).
    pub text: String,
    /// Whether it is a code block, not inline code.
    // Every test crate compiles this module; the lessons test does not need this field.
    #[allow(dead_code)]
    pub block: bool,
    /// Whether it stands in the Exercise section.
    pub in_exercise: bool,
}

/// The code of a lesson (code blocks and inline code), in order.
pub fn code_of(lesson: &str) -> Vec<Code> {
    let mut pieces = Vec::new();
    let (mut block, mut heading, mut in_exercise) = (None::<String>, None::<String>, false);
    for event in Parser::new(lesson) {
        match event {
            Event::Start(Tag::Heading { level: HeadingLevel::H2, .. }) => {
                heading = Some(String::new());
            }
            Event::End(TagEnd::Heading(HeadingLevel::H2)) => {
                let text = heading.take().unwrap_or_default();
                in_exercise = EXERCISE_HEADINGS.contains(&text.as_str());
            }
            Event::Text(text) if heading.is_some() => heading.as_mut().unwrap().push_str(&text),
            Event::Start(Tag::CodeBlock(_)) => block = Some(String::new()),
            Event::Text(text) if block.is_some() => block.as_mut().unwrap().push_str(&text),
            Event::End(TagEnd::CodeBlock) => {
                pieces.push(Code { text: block.take().unwrap(), block: true, in_exercise });
            }
            Event::Code(code) => {
                pieces.push(Code { text: code.to_string(), block: false, in_exercise });
            }
            _ => {}
        }
    }
    pieces
}
