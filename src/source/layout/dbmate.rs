//! dbmate: one file `<version>_<name>.sql` with a `-- migrate:up` section and an optional
//! `-- migrate:down` section; `transaction:false` on a marker line runs that section without
//! a transaction.

use std::ops::Range;
use std::path::Path;

use super::sqlx;
use crate::source::entry::{File, Item, ListingEntry, Role, Slot, push};
use crate::source::{Section, SourceError, checksum, read_text};

/// What a file that is not a migration of this layout should be named instead.
pub(super) const HINT: &str = "<version>_<name>.sql with a -- migrate:up section";

/// The version in a name this layout may read as a migration's: sqlx's up-only names.
pub(super) fn name_version(name: &str) -> Option<&str> {
    sqlx::split_name(name)
        .filter(|named| named.plain)
        .map(|named| named.version)
}

/// One `-- migrate:` section of a dbmate file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::source) struct DbmateSection {
    /// Byte range of the section's text (after its marker line).
    pub range: Range<usize>,
    /// 1-based file line of the section's first line.
    pub first_line: usize,
    /// `transaction:false` on the marker line.
    pub no_transaction: bool,
}

#[derive(Debug, Default)]
pub(in crate::source) struct DbmateSections {
    pub up: Option<DbmateSection>,
    pub down: Option<DbmateSection>,
}

/// Finds the `-- migrate:up` and `-- migrate:down` sections of a dbmate file.
pub(in crate::source) fn sections(text: &str) -> DbmateSections {
    let mut sections = DbmateSections::default();
    let mut markers: Vec<(bool, usize, usize, usize, bool)> = Vec::new(); // (is_up, line_start, body_start, line_no, no_txn)
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            continue;
        };
        let Some(marker) = comment.trim_start().strip_prefix("migrate:") else {
            continue;
        };
        let (kind, options) = marker
            .trim_end()
            .split_once(char::is_whitespace)
            .unwrap_or((marker.trim_end(), ""));
        let no_transaction = options
            .split_whitespace()
            .any(|option| option == "transaction:false");
        match kind {
            "up" => markers.push((true, start, offset, index + 2, no_transaction)),
            "down" => markers.push((false, start, offset, index + 2, no_transaction)),
            _ => {}
        }
    }
    for (i, &(is_up, _, body_start, first_line, no_transaction)) in markers.iter().enumerate() {
        let end = markers.get(i + 1).map_or(text.len(), |next| next.1);
        let section = DbmateSection {
            range: body_start..end,
            first_line,
            no_transaction,
        };
        let slot = if is_up {
            &mut sections.up
        } else {
            &mut sections.down
        };
        if slot.is_none() {
            *slot = Some(section);
        }
    }
    sections
}

/// True when the file has a `-- migrate:up` marker.
pub(super) fn has_marker(path: &Path) -> Result<bool, SourceError> {
    Ok(sections(&checksum::normalize(&read_text(path)?))
        .up
        .is_some())
}

/// Adds the sections of a dbmate file; false when the entry is not one.
pub(super) fn add(items: &mut Vec<Item>, entry: &ListingEntry) -> Result<bool, SourceError> {
    let Some(named) = sqlx::split_name(entry.name).filter(|named| named.plain) else {
        return Ok(false);
    };
    let path = entry.path();
    let sections = sections(&checksum::normalize(&read_text(&path)?));
    let Some(up) = sections.up else {
        return Err(SourceError::MissingDbmateUp { path });
    };
    let slot = |section, no_transaction| Slot {
        entry: entry.index,
        file: File::Itself,
        section,
        no_transaction,
    };
    push(
        items,
        Role::Up,
        named.version,
        slot(Section::DbmateUp, up.no_transaction),
    );
    if let Some(down) = sections.down {
        push(
            items,
            Role::Down,
            named.version,
            slot(Section::DbmateDown, down.no_transaction),
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbmate_sections_and_options() {
        let text = "-- comment\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n";
        let sections = sections(text);
        let up = sections.up.unwrap();
        assert_eq!(
            &text[up.range.clone()],
            "CREATE INDEX CONCURRENTLY i ON t (a);\n\n"
        );
        assert_eq!(up.first_line, 3);
        assert!(up.no_transaction);
        let down = sections.down.unwrap();
        assert_eq!(&text[down.range], "DROP INDEX i;\n");
        assert_eq!(down.first_line, 6);
        assert!(!down.no_transaction);
        assert!(super::sections("CREATE TABLE t ();").up.is_none());
    }
}
