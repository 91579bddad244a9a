//! Line and column lookups in a text: byte offset to (line, character column) and back.
//!
//! Lookups come in text order (statements as they are split, tokens as they are read,
//! findings as they are reported), so [`Lines`] remembers the last place it found and steps
//! from there instead of from the start of the line. A script of a hundred thousand
//! statements on one line is then read in time linear in its length, not quadratic.

/// Where lines start in a text, and the last place looked up.
#[derive(Debug)]
pub(crate) struct Lines<'a> {
    text: &'a str,
    /// Byte offsets where lines start; the first is 0.
    starts: Vec<usize>,
    at: Place,
}

/// A place in the text: byte offset, 0-based line and 0-based character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    offset: usize,
    line: usize,
    column: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines {
            text,
            starts,
            at: Place {
                offset: 0,
                line: 0,
                column: 0,
            },
        }
    }

    /// The 1-based line of byte `offset`, by a binary search (the last place is kept).
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    /// 1-based line and 1-based character column of byte `offset` (a character boundary;
    /// past the end means the end).
    pub(crate) fn position(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.starts[line];
        let column = if line != self.at.line {
            count_chars(&self.text[start..offset])
        } else if offset >= self.at.offset {
            self.at.column + count_chars(&self.text[self.at.offset..offset])
        } else if self.at.offset - offset < offset - start {
            // Back a little on the same line: nearer the last place than the line's start.
            self.at.column - count_chars(&self.text[offset..self.at.offset])
        } else {
            count_chars(&self.text[start..offset])
        };
        self.at = Place {
            offset,
            line,
            column,
        };
        (line + 1, column + 1)
    }

    /// Byte offset of a 1-based line and 1-based character column, as sqlparser's tokenizer
    /// counts them; the end of the text when there is no such place.
    pub(crate) fn offset(&mut self, line: u64, column: u64) -> usize {
        let Some(line) = usize::try_from(line)
            .ok()
            .and_then(|l| l.checked_sub(1))
            .filter(|&l| l < self.starts.len())
        else {
            return self.text.len();
        };
        let column = usize::try_from(column).unwrap_or(1).saturating_sub(1);
        let from = if line == self.at.line && column >= self.at.column {
            self.at
        } else {
            Place {
                offset: self.starts[line],
                line,
                column: 0,
            }
        };
        let offset = advance(self.text, from.offset, column - from.column);
        self.at = Place {
            offset,
            line,
            column,
        };
        offset
    }

    /// The 0-based line holding byte `offset`: stepping forward from the last place when
    /// the lookup moved forward (a line start is passed once), else a binary search.
    fn line_of(&self, offset: usize) -> usize {
        if offset < self.at.offset {
            return self.starts.partition_point(|&s| s <= offset) - 1;
        }
        let mut line = self.at.line;
        while self.starts.get(line + 1).is_some_and(|&s| s <= offset) {
            line += 1;
        }
        line
    }
}

/// The byte offset `chars` characters after `offset`; the end of `text` when that is past it.
fn advance(text: &str, offset: usize, chars: usize) -> usize {
    let rest = &text.as_bytes()[offset..];
    if chars <= rest.len() && rest[..chars].is_ascii() {
        stepped_over(chars);
        return offset + chars;
    }
    match text[offset..].char_indices().nth(chars) {
        Some((i, _)) => {
            stepped_over(i);
            offset + i
        }
        None => {
            stepped_over(rest.len());
            text.len()
        }
    }
}

fn count_chars(text: &str) -> usize {
    stepped_over(text.len());
    text.chars().count()
}

#[cfg(test)]
thread_local! {
    static STEPPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts the bytes a lookup stepped over, so tests can check the work is linear.
fn stepped_over(bytes: usize) {
    #[cfg(test)]
    STEPPED.with(|stepped| stepped.set(stepped.get() + bytes));
    #[cfg(not(test))]
    let _ = bytes;
}

/// Bytes stepped over by lookups on this thread since it started (tests only).
#[cfg(test)]
pub(crate) fn stepped() -> usize {
    STEPPED.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a lookup from the line's start gives: the reference the cursor must agree with.
    fn naive_position(text: &str, offset: usize) -> (usize, usize) {
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..offset].matches('\n').count() + 1;
        (line, text[line_start..offset].chars().count() + 1)
    }

    #[test]
    fn positions_agree_with_counting_from_the_line_start_in_any_order() {
        let text = "SELECT 'é';  SELECT 2;\n\nCREATE TABLE ünïcode (x int); -- ü\nSELECT 3;";
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let mut lines = Lines::new(text);
        for &offset in boundaries.iter().chain(boundaries.iter().rev()) {
            assert_eq!(
                lines.position(offset),
                naive_position(text, offset),
                "{offset}"
            );
        }
        let mut seed = 7usize;
        for _ in 0..500 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345) % 2_147_483_648;
            let offset = boundaries[seed % boundaries.len()];
            assert_eq!(
                lines.position(offset),
                naive_position(text, offset),
                "{offset}"
            );
        }
        assert_eq!(
            lines.position(text.len() + 10),
            naive_position(text, text.len())
        );
    }

    #[test]
    fn offsets_invert_positions() {
        let text = "COMMENT ON TABLE t IS 'ünï'; SELECT ü\n  é;\n";
        let mut forward = Lines::new(text);
        let mut back = Lines::new(text);
        for offset in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let (line, column) = forward.position(offset);
            assert_eq!(back.offset(line as u64, column as u64), offset);
        }
        // Backwards, and to places that do not exist.
        assert_eq!(back.offset(1, 1), 0);
        assert_eq!(back.offset(1, 200), text.len());
        assert_eq!(back.offset(9, 1), text.len());
        assert_eq!(back.offset(0, 1), text.len());
    }

    /// The guard on linear time: a script of many statements on one line is looked up
    /// statement by statement and token by token while stepping over each byte a bounded
    /// number of times, however long the line is.
    #[test]
    fn lookups_along_one_long_line_step_over_each_byte_a_bounded_number_of_times() {
        let text = "SELECT 'ü'; ".repeat(20_000);
        let before = stepped();
        let mut lines = Lines::new(&text);
        let mut sqlparser_style = Lines::new(&text);
        let mut column = 1u64;
        for (offset, _) in text.match_indices("SELECT") {
            let (line, found) = lines.position(offset);
            assert_eq!((line, found), (1, column as usize));
            assert_eq!(sqlparser_style.offset(1, column), offset);
            lines.position(offset + "SELECT 'ü';".len());
            column += "SELECT 'ü'; ".chars().count() as u64;
        }
        let work = stepped() - before;
        assert!(
            work <= 3 * text.len(),
            "stepped over {work} bytes for a {} byte line",
            text.len()
        );
    }
}
