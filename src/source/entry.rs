//! One directory entry as discovery looks at it, and the scripts read from it: the
//! vocabulary the layouts ([`super::layout`]) and the listing ([`super::listing`]) share, so
//! that the layouts need nothing of the listing.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::version;
use super::{Section, SourceError};
use crate::regular_file::{self, Kind};

/// What a script file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Up,
    Down,
    Verify,
}

/// A version text in discovery's order: by version, then equal versions by their canonical
/// text (`1` before `1.0`); `Equal` only when the canonical texts are, which is when the
/// scripts belong to one migration.
///
/// Discovery compares versions often (each window's reading compares every name's version
/// with its bounds, and sorts), so a version of one part — digits, with a diesel
/// timestamp's dashes — of at most 19 significant digits compares as a number: two such
/// versions are in version order, and equal exactly when their canonical texts are.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ordered<'a> {
    /// The version text (ASCII: digits and separators).
    pub(super) text: &'a [u8],
    /// The version as a number, or [`Ordered::NOT_A_NUMBER`].
    pub(super) number: u64,
}

impl<'a> Ordered<'a> {
    pub(super) const NOT_A_NUMBER: u64 = u64::MAX;

    pub(super) fn new(text: &'a str) -> Ordered<'a> {
        Ordered {
            text: text.as_bytes(),
            number: Ordered::number_of(text),
        }
    }

    pub(super) fn text(self) -> &'a str {
        // Made from a `str`, or from whole versions in a buffer of names.
        std::str::from_utf8(self.text).unwrap_or_default()
    }

    /// The number a version text reads as, or [`Ordered::NOT_A_NUMBER`].
    pub(super) fn number_of(text: &str) -> u64 {
        let mut number: u64 = 0;
        let mut significant = 0;
        for byte in text.bytes() {
            match byte {
                b'0'..=b'9' => {
                    if number > 0 || byte != b'0' {
                        significant += 1;
                    }
                    if significant > 19 {
                        return Ordered::NOT_A_NUMBER;
                    }
                    number = number * 10 + u64::from(byte - b'0');
                }
                b'-' => {}
                _ => return Ordered::NOT_A_NUMBER,
            }
        }
        // Below 10^19, so never NOT_A_NUMBER.
        number
    }

    pub(super) fn cmp(self, other: Ordered) -> Ordering {
        if self.number != Ordered::NOT_A_NUMBER && other.number != Ordered::NOT_A_NUMBER {
            return self.number.cmp(&other.number);
        }
        let (left, right) = (self.text(), other.text());
        version::compare_text(left, right).then_with(|| version::compare_canonical(left, right))
    }
}

/// Which script of an entry a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum File {
    /// The entry itself (a file).
    Itself,
    /// `up.sql`, `down.sql` or `verify.sql` in a diesel directory.
    DieselUp,
    DieselDown,
    DieselVerify,
}

impl File {
    pub(super) fn diesel_name(self) -> Option<&'static str> {
        match self {
            File::Itself => None,
            File::DieselUp => Some("up.sql"),
            File::DieselDown => Some("down.sql"),
            File::DieselVerify => Some("verify.sql"),
        }
    }
}

/// A script, as the entry that holds it: 8 bytes instead of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) entry: u32,
    pub(super) file: File,
    pub(super) section: Section,
    pub(super) no_transaction: bool,
}

/// A script found while reading the entries.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) role: Role,
    /// Length of the version in the entry's name (after flyway's `V` or `U`).
    pub(super) version_len: u32,
    /// [`Ordered::number`] of the version.
    pub(super) number: u64,
    pub(super) slot: Slot,
}

impl Item {
    /// The order in which the scripts were read: entries in name order, an entry's scripts
    /// up, down, verify.
    pub(super) fn read_order(&self) -> (u32, u8) {
        (self.slot.entry, self.role as u8)
    }
}

pub(super) fn push(items: &mut Vec<Item>, role: Role, version: &str, slot: Slot) {
    items.push(Item {
        role,
        // A part of a directory entry's name, itself shorter than its u32 offsets.
        version_len: version.len() as u32,
        number: Ordered::number_of(version),
        slot,
    });
}

/// One entry while it is looked at.
#[derive(Debug)]
pub(super) struct ListingEntry<'a> {
    pub(super) index: u32,
    pub(super) dir: &'a Path,
    pub(super) name: &'a str,
    pub(super) kind: Kind,
}

impl ListingEntry<'_> {
    pub(super) fn path(&self) -> PathBuf {
        self.dir.join(self.name)
    }

    /// A directory itself, not a link to one.
    pub(super) fn is_dir(&self) -> bool {
        self.kind.is_dir()
    }

    /// The error for an entry read as a migration that is not a regular file or directory
    /// (a symbolic link, a named pipe, a device); `None` for one that is.
    pub(super) fn refused(&self) -> Option<SourceError> {
        match self.kind {
            Kind::Other(what) => Some(io_error(&self.path(), regular_file::refusal(what))),
            Kind::File | Kind::Dir => None,
        }
    }
}

pub(super) fn io_error(dir: &Path, source: std::io::Error) -> SourceError {
    SourceError::Io {
        path: dir.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compared_as_numbers_keep_the_version_order() {
        let texts = [
            "0",
            "00",
            "0-0",
            "1",
            "01",
            "0001",
            "1.0",
            "1_0",
            "1.1",
            "1_1",
            "01.2",
            "1.9",
            "1.10",
            "2",
            "9",
            "10",
            "2024-01-05-093000",
            "20240105093000",
            "20240105093001",
            "9999999999999999999",
            "09999999999999999999",
            "10000000000000000000",
            "99999999999999999999",
        ];
        let mut numbers = 0;
        for left in texts {
            for right in texts {
                let expected = version::compare_text(left, right)
                    .then_with(|| version::compare_canonical(left, right));
                let (a, b) = (Ordered::new(left), Ordered::new(right));
                assert_eq!(a.cmp(b), expected, "{left} vs {right}");
                numbers += usize::from(a.number != Ordered::NOT_A_NUMBER);
            }
        }
        // Both paths are taken: 20-digit and dotted versions are not read as numbers.
        assert_eq!(numbers, 14 * texts.len());
    }
}
