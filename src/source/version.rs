//! Migration versions and their order.

use std::cmp::Ordering;
use std::fmt;

/// A version as written in the file name (`20240105120000`, `1.2`, `2021-02-02-153240`),
/// ordered numerically part by part: `1.2 < 1.10`, `9 < 10`, and `0001` equals `1`.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    /// Numeric parts without leading zeros.
    parts: Vec<String>,
}

impl Version {
    /// Parses a version of digits separated by `.` or `_` (flyway) or `-` (diesel timestamps,
    /// whose dashes carry no meaning: `2021-02-02-153240` is `20210202153240`).
    pub fn parse(text: &str) -> Option<Version> {
        if text.is_empty() || !text.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut parts = Vec::new();
        let joined: String;
        let source = if text.contains('-') {
            if !text.chars().all(|c| c.is_ascii_digit() || c == '-') {
                return None;
            }
            joined = text.replace('-', "");
            joined.as_str()
        } else {
            text
        };
        for part in source.split(['.', '_']) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let trimmed = part.trim_start_matches('0');
            parts.push(if trimmed.is_empty() {
                "0".to_string()
            } else {
                trimmed.to_string()
            });
        }
        Some(Version {
            text: text.to_string(),
            parts,
        })
    }

    /// The version as written in the file name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when `text` names this version (`1`, `0001` and `1` match; so do a diesel version
    /// with and without dashes).
    pub fn matches(&self, text: &str) -> bool {
        Version::parse(text).is_some_and(|other| other == *self)
    }

    /// The canonical form used to compare versions and to record them: numeric parts without
    /// leading zeros joined with `.`.
    pub fn canonical(&self) -> String {
        self.parts.join(".")
    }
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
        let mut left = self.parts.iter();
        let mut right = other.parts.iter();
        loop {
            match (left.next(), right.next()) {
                (None, None) => return Ordering::Equal,
                (Some(l), Some(r)) => {
                    let order = l.len().cmp(&r.len()).then_with(|| l.cmp(r));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                // `1` and `1.0` are the same version.
                (Some(l), None) if l == "0" => continue,
                (None, Some(r)) if r == "0" => continue,
                (Some(_), None) => return Ordering::Greater,
                (None, Some(_)) => return Ordering::Less,
            }
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
    fn rejects_non_versions() {
        for bad in ["", "v1", "1..2", "1.a", "abc", "1-x"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }
}
