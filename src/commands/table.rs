//! Tables for people (tabled), shared by the commands that print one.

use tabled::builder::Builder;
use tabled::settings::Style;

/// `header` and `rows` as a table with light borders, ending in a newline. Cells show
/// control characters as escapes ([`crate::visible`]): names and reasons come from files and
/// servers.
pub(super) fn render(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut builder = Builder::new();
    builder.push_record(header.iter().map(|h| h.to_string()));
    for row in rows {
        builder.push_record(
            row.into_iter()
                .map(|cell| crate::visible::text(&cell).into_owned()),
        );
    }
    let mut table = builder.build();
    table.with(Style::sharp());
    format!("{table}\n")
}

/// `2026-11-21 11:40` (UTC) for a recorded time.
pub(super) fn date(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The width tables are fitted to: a plain terminal.
pub(super) const WIDTH: usize = 80;

/// The SGR colour of a body cell, given its row, column and text; `None` leaves it plain.
pub(super) type Paint<'a> = &'a dyn Fn(usize, usize, &str) -> Option<&'static str>;

/// As [`render`], fitted to [`WIDTH`] columns: the columns in `shrink` (widest first) are
/// narrowed to no less than `min` characters, their cells cut with an ellipsis. `paint` gives
/// the SGR colour of a body cell (row, column, text), applied after the layout so colour
/// codes never count as width.
pub(super) fn render_fit(
    header: &[&str],
    rows: Vec<Vec<String>>,
    shrink: &[usize],
    min: usize,
    paint: Option<Paint<'_>>,
) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.into_iter().map(|cell| one_line(&cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let total = |widths: &[usize]| widths.iter().sum::<usize>() + 3 * widths.len() + 1;
    while total(&widths) > WIDTH {
        let Some(&column) = shrink
            .iter()
            .filter(|&&c| widths[c] > min.max(header[c].chars().count()))
            .max_by_key(|&&c| widths[c])
        else {
            break;
        };
        widths[column] -= 1;
    }
    let rows = rows.into_iter().map(|row| {
        row.into_iter()
            .zip(&widths)
            .map(|(cell, &width)| ellipsis(&cell, width))
            .collect::<Vec<_>>()
    });
    let table = render(header, rows);
    match paint {
        Some(paint) => colour_cells(&table, paint),
        None => table,
    }
}

/// `text` cut to `width` characters, the last one an ellipsis when something was cut.
pub(super) fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The display width of `text` on a terminal, as the tables are laid out.
pub(super) fn width(text: &str) -> usize {
    tabled::grid::util::string::get_string_width(text)
}

/// `line` broken at spaces into lines no wider than [`WIDTH`], each ending in a newline; the
/// lines after the first are indented `indent` spaces more than `line` is. Spaces inside a
/// line are kept as they are, and a word wider than the room is left whole. Control
/// characters are shown as escapes ([`crate::visible`]): the line quotes names and findings.
pub(super) fn wrap(line: &str, indent: usize) -> String {
    let shown = crate::visible::line(line);
    let line: &str = &shown;
    let lead = line.len() - line.trim_start_matches(' ').len();
    let pad = " ".repeat(lead + indent);
    let mut out = String::new();
    let mut rest = line;
    let mut prefix = "";
    loop {
        let room = WIDTH.saturating_sub(prefix.len());
        if width(rest) <= room {
            out.push_str(prefix);
            out.push_str(rest);
            out.push('\n');
            return out;
        }
        // The byte where the room ends, and the last space at or before it (past the
        // indentation); else the first space after it.
        let mut used = 0;
        let limit = rest
            .char_indices()
            .find(|&(_, c)| {
                used += width(c.encode_utf8(&mut [0; 4]));
                used > room
            })
            .map_or(rest.len(), |(i, _)| i);
        let skip = if prefix.is_empty() { lead } else { 0 };
        let cut = if rest[limit..].starts_with(' ') {
            Some(limit)
        } else {
            rest[..limit].rfind(' ')
        }
        .filter(|&i| i > skip)
        .or_else(|| rest[limit..].find(' ').map(|i| limit + i));
        let Some(cut) = cut else {
            out.push_str(prefix);
            out.push_str(rest);
            out.push('\n');
            return out;
        };
        out.push_str(prefix);
        out.push_str(rest[..cut].trim_end());
        out.push('\n');
        rest = rest[cut..].trim_start();
        if rest.is_empty() {
            return out;
        }
        prefix = &pad;
    }
}

/// A short form of a checksum or hash for a table: 8 hex digits, without the `sha256:`
/// style prefix (the JSON outputs keep the whole value).
pub(super) fn short_hash(hash: &str) -> String {
    let digits = hash.rsplit(':').next().unwrap_or(hash);
    digits.chars().take(8).collect()
}

/// A cell's text on one line, with no character that would break the table's borders.
fn one_line(cell: &str) -> String {
    crate::visible::text(&cell.replace(['\n', '\r', '\t'], " ")).replace('│', "|")
}

/// Colours body cells of a rendered table; every body line is `│ cell │ cell │`.
fn colour_cells(table: &str, paint: Paint<'_>) -> String {
    let mut out = String::with_capacity(table.len() + 64);
    let mut row = 0usize;
    let mut header_seen = false;
    for line in table.lines() {
        if !line.starts_with('│') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !header_seen {
            header_seen = true;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let cells: Vec<&str> = line.split('│').collect();
        // ["", " a ", " b ", ""]: the first and last pieces are outside the borders.
        let last = cells.len() - 1;
        for (index, piece) in cells.iter().enumerate() {
            if index > 0 {
                out.push('│');
            }
            if index == 0 || index == last {
                out.push_str(piece);
                continue;
            }
            let text = piece.trim();
            match paint(row, index - 1, text).filter(|_| !text.is_empty()) {
                Some(sgr) => {
                    let start = piece.find(text).unwrap_or(0);
                    out.push_str(&piece[..start]);
                    out.push_str(&crate::printer::paint(true, sgr, text));
                    out.push_str(&piece[start + text.len()..]);
                }
                None => out.push_str(piece),
            }
        }
        out.push('\n');
        row += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_table_is_fitted_to_80_columns_with_an_ellipsis() {
        let rows = vec![vec![
            "1".to_string(),
            "x".repeat(200),
            "applied".to_string(),
        ]];
        let table = render_fit(&["version", "name", "env"], rows, &[1], 8, None);
        for line in table.lines() {
            assert_eq!(line.chars().count(), WIDTH, "{line}");
        }
        assert!(table.contains("x…"), "{table}");
    }

    #[test]
    fn a_narrow_table_is_left_as_it_is() {
        let rows = vec![vec!["1".to_string(), "a".to_string()]];
        assert_eq!(
            render_fit(&["v", "n"], rows.clone(), &[1], 8, None),
            render(&["v", "n"], rows)
        );
    }

    #[test]
    fn colour_goes_around_the_cell_text_only() {
        let rows = vec![vec!["1".to_string(), "pending".to_string()]];
        let paint = |_: usize, column: usize, text: &str| {
            (column == 1 && text == "pending").then_some("33")
        };
        let table = render_fit(&["v", "state"], rows, &[], 8, Some(&paint));
        assert!(table.contains("│ \x1b[33mpending\x1b[0m │"), "{table}");
        assert!(table.contains("│ state   │"), "header unpainted: {table}");
    }

    #[test]
    fn wrap_breaks_long_lines_at_spaces_and_indents_the_rest() {
        let line = format!("  {} end", ["word"; 30].join(" "));
        let wrapped = wrap(&line, 2);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() > 1, "{wrapped}");
        assert!(lines.iter().all(|l| width(l) <= WIDTH), "{wrapped}");
        assert!(lines[0].starts_with("  word"), "{wrapped}");
        assert!(
            lines[1..]
                .iter()
                .all(|l| l.starts_with("    word") || l.starts_with("    end")),
            "{wrapped}"
        );
        let words = |text: &str| {
            text.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(&wrapped), words(&line));
        // Short lines, their inner spacing, and a word wider than the room stay whole.
        assert_eq!(
            wrap("  backup       required", 13),
            "  backup       required\n"
        );
        let long = "x".repeat(90);
        assert_eq!(
            wrap(&format!("hash: {long}"), 2),
            format!("hash:\n  {long}\n")
        );
        assert_eq!(wrap(&long, 2), format!("{long}\n"));
        assert_eq!(
            wrap("  1 drop\x1b[8m\r\u{202e}", 2),
            "  1 drop\\x1b[8m\\r\\u{202e}\n"
        );
        let cells = render(&["name"], [vec!["a\x1b[8mb".to_string()]]);
        assert!(
            cells.contains("a\\x1b[8mb") && !cells.contains('\x1b'),
            "{cells}"
        );
    }

    #[test]
    fn short_hash_drops_the_algorithm() {
        assert_eq!(short_hash("sha256:0123456789abcdef"), "01234567");
        assert_eq!(short_hash("abcdef0123"), "abcdef01");
    }
}
