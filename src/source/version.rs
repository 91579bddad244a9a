//! Migration versions and their order.

use std::cmp::Ordering;
use std::fmt;

/// A version as written in the file name (`20240105120000`, `1.2`, `2021-02-02-153240`),
/// ordered numerically part by part: `1.2 < 1.10`, `9 < 10`, and `0001` equals `1`.
///
/// Only the text is kept (one small allocation); the numeric parts are read from it when two
/// versions are compared.
///
/// An Alembic revision id (`ae1027a6acf`) is a version too ([`Version::revision`]): its order
/// is its place in the revision graph's order (its rank), not its text, which does not sort.
#[derive(Debug, Clone)]
pub struct Version {
    text: Box<str>,
    /// The place in the revision graph's order, for an Alembic revision.
    rank: Option<u32>,
}

impl Version {
    /// Parses a version of digits separated by `.` or `_` (flyway) or `-` (diesel timestamps,
    /// whose dashes carry no meaning: `2021-02-02-153240` is `20210202153240`).
    pub fn parse(text: &str) -> Option<Version> {
        if !is_version(text) {
            return None;
        }
        Some(Version {
            text: text.into(),
            rank: None,
        })
    }

    /// An Alembic revision id at place `rank` of its graph's order.
    pub fn revision(id: &str, rank: u32) -> Version {
        Version {
            text: id.into(),
            rank: Some(rank),
        }
    }

    /// A version as recorded or typed: a numeric version, or else a revision id (letters,
    /// digits and `_`), which has no place in an order until it is matched with a local
    /// revision ([`Version::matches`]).
    pub fn parse_recorded(text: &str) -> Option<Version> {
        Version::parse(text).or_else(|| {
            (!text.is_empty()
                && text.len() <= 64
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then(|| Version {
                text: text.into(),
                // After every revision of the graph.
                rank: Some(u32::MAX),
            })
        })
    }

    /// True for an Alembic revision id.
    pub fn is_revision(&self) -> bool {
        self.rank.is_some()
    }

    /// An Alembic revision's place in its graph's order.
    pub fn rank(&self) -> Option<u32> {
        self.rank
    }

    /// True when [`Version::parse`] accepts `text`; nothing is allocated.
    pub fn is_valid(text: &str) -> bool {
        is_version(text)
    }

    /// The version as written in the file name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when `text` names this version (`1`, `0001` and `1` match; so do a diesel version
    /// with and without dashes).
    pub fn matches(&self, text: &str) -> bool {
        if self.rank.is_some() {
            return *self.text == *text;
        }
        is_version(text) && compare_text(&self.text, text) == Ordering::Equal
    }

    /// The canonical form used to compare versions and to record them: numeric parts without
    /// leading zeros joined with `.`.
    pub fn canonical(&self) -> String {
        if self.rank.is_some() {
            return self.text.to_string();
        }
        canonical_of(&self.text)
    }
}

/// True for the digits-and-separators text [`Version::parse`] accepts.
fn is_version(text: &str) -> bool {
    if text.is_empty() || !text.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    if text.contains('-') {
        return text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    }
    text.split(['.', '_'])
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// The numeric parts of a version text: digits without leading zeros (`"0"` for a part of
/// zeros), with a diesel timestamp's dashes dropped.
fn parts(text: &str) -> impl Iterator<Item = Part<'_>> {
    let dashed = text.contains('-');
    text.split(move |c: char| !dashed && (c == '.' || c == '_'))
        .map(Part::new)
}

/// One numeric part, read without allocating.
#[derive(Clone, Copy)]
struct Part<'a> {
    /// The part's text from its first significant digit (dashes may remain, for diesel).
    text: &'a str,
    /// Number of significant digits (at least 1).
    len: usize,
}

impl<'a> Part<'a> {
    fn new(text: &'a str) -> Part<'a> {
        let significant = text.trim_start_matches(['0', '-']);
        let len = significant.bytes().filter(u8::is_ascii_digit).count();
        if len == 0 {
            Part { text: "0", len: 1 }
        } else {
            Part {
                text: significant,
                len,
            }
        }
    }

    fn digits(self) -> impl Iterator<Item = u8> + 'a {
        self.text.bytes().filter(u8::is_ascii_digit)
    }

    fn is_zero(self) -> bool {
        self.text == "0"
    }

    fn cmp(self, other: Part) -> Ordering {
        self.len
            .cmp(&other.len)
            .then_with(|| self.digits().cmp(other.digits()))
    }
}

/// Compares two version texts that [`Version::parse`] accepts, as [`Version`]s.
pub(super) fn compare_text(left: &str, right: &str) -> Ordering {
    let mut left = parts(left);
    let mut right = parts(right);
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (Some(l), Some(r)) => {
                let order = l.cmp(r);
                if order != Ordering::Equal {
                    return order;
                }
            }
            // `1` and `1.0` are the same version.
            (Some(l), None) if l.is_zero() => continue,
            (None, Some(r)) if r.is_zero() => continue,
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
        }
    }
}

/// The canonical form's bytes: parts joined with `.`.
fn canonical_bytes(text: &str) -> impl Iterator<Item = u8> + '_ {
    parts(text).enumerate().flat_map(|(i, part)| {
        let dot = (i > 0).then_some(b'.');
        dot.into_iter().chain(part.digits())
    })
}

/// [`Version::canonical`] of a version text.
pub(super) fn canonical_of(text: &str) -> String {
    canonical_bytes(text).map(char::from).collect()
}

/// Compares the canonical forms of two version texts as strings, without building them.
pub(super) fn compare_canonical(left: &str, right: &str) -> Ordering {
    canonical_bytes(left).cmp(canonical_bytes(right))
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.rank, other.rank) {
            (Some(left), Some(right)) => left.cmp(&right).then_with(|| self.text.cmp(&other.text)),
            // A set holds one kind; numeric versions first if they ever meet.
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => compare_text(&self.text, &other.text),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn numeric_order_not_string_order() {
        assert!(v("9") < v("10"));
        assert!(v("1.2") < v("1.10"));
        assert!(v("1_1") < v("1.2"));
        assert!(v("20240101000000") < v("20240101000001"));
        assert_eq!(v("0001"), v("1"));
        assert_eq!(v("1.0"), v("1"));
        assert!(v("99999999999999999999999") > v("9999999999999999999999"));
    }

    #[test]
    fn diesel_timestamps_sort_with_dashes_removed() {
        assert!(v("2021-02-02-153240") < v("2021-02-10-000000"));
        assert!(v("2021-02-02-153240") > v("00000000000000"));
        assert_eq!(v("2021-02-02-153240"), v("20210202153240"));
        assert_eq!(v("2021-02-02-153240").canonical(), "20210202153240");
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(v("0001").canonical(), "1");
        assert_eq!(v("1.02_000").canonical(), "1.2.0");
        assert_eq!(v("0-0").canonical(), "0");
        assert_eq!(compare_canonical("1", "1.0"), Ordering::Less);
        assert_eq!(compare_canonical("10", "9"), Ordering::Less);
        assert!(v("1").matches("0001"));
        assert!(!v("1").matches("1.a"));
    }

    #[test]
    fn rejects_non_versions() {
        for bad in ["", "v1", "1..2", "1.a", "abc", "1-x"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }
}
