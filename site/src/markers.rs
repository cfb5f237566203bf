//! The generated blocks of the lessons: text that a command writes between two marker lines
//! of a README (`<!-- NAME:begin ... -->` and `<!-- NAME:end -->`), and that a test compares
//! with what the command would write now. The strace excerpts and the measured tables both
//! live in such blocks.

/// A pair of marker lines.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    /// How the line that opens a block starts (the rest of that line is free text).
    pub begin: &'static str,
    /// The whole line that closes it.
    pub end: &'static str,
}

impl Markers {
    /// The text between the marker lines of `readme`.
    ///
    /// # Errors
    ///
    /// When a marker line is missing.
    pub fn block<'a>(&self, readme: &'a str) -> Result<&'a str, String> {
        let (start, end) = self.range(readme)?;
        Ok(&readme[start..end])
    }

    /// `readme` with the text between its marker lines replaced by `block`.
    ///
    /// # Errors
    ///
    /// When a marker line is missing.
    pub fn replace_block(&self, readme: &str, block: &str) -> Result<String, String> {
        let (start, end) = self.range(readme)?;
        Ok(format!("{}{block}{}", &readme[..start], &readme[end..]))
    }

    /// Byte range of the block: from the line after the begin marker to the start of the end
    /// marker's line.
    fn range(&self, readme: &str) -> Result<(usize, usize), String> {
        let mut offset = 0;
        let mut start = None;
        for line in readme.split_inclusive('\n') {
            if start.is_none() && line.starts_with(self.begin) {
                start = Some(offset + line.len());
            } else if let (Some(start), true) = (start, line.trim_end() == self.end) {
                return Ok((start, offset));
            }
            offset += line.len();
        }
        Err(match start {
            None => format!("no `{} ... -->` line", self.begin),
            Some(_) => format!("no `{}` line after the begin marker", self.end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKERS: Markers = Markers { begin: "<!-- x:begin", end: "<!-- x:end -->" };

    #[test]
    fn the_block_between_the_markers_is_replaced_and_nothing_else() {
        let readme = "intro\n<!-- x:begin (made by y) -->\nold\n<!-- x:end -->\nafter\n";
        assert_eq!(MARKERS.block(readme).unwrap(), "old\n");
        assert_eq!(
            MARKERS.replace_block(readme, "new\n").unwrap(),
            "intro\n<!-- x:begin (made by y) -->\nnew\n<!-- x:end -->\nafter\n"
        );
        assert!(MARKERS.block("no markers\n").is_err());
        assert!(MARKERS.block("<!-- x:begin -->\nunclosed\n").is_err());
    }
}
