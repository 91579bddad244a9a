//! Migration checksums: `sha256:<hex>` of the text with a UTF-8 BOM removed and CRLF turned
//! into LF, so a checkout with other line endings does not look like an edit.
//!
//! A script's checksum leaves out its lint directive lines (`-- stagegate:allow ...`,
//! `-- stagegate:allow-file ...`): they change no SQL, so adding the allow that production's
//! `lint = "deny"` needs is not an edit of a migration staging already ran. Checksums recorded
//! before that rule summed the whole text; a script also carries that one
//! ([`crate::source::Script::text_checksum`]) and matches either.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `sha256:<64 hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checksum(String);

impl Checksum {
    /// Checksum of text that is already normalised (see [`normalize`]).
    pub fn of_normalized(text: &str) -> Checksum {
        let digest = Sha256::digest(text.as_bytes());
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        for byte in digest {
            out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
        }
        Checksum(out)
    }

    /// Checksum of raw file text: normalised first.
    pub fn of_text(text: &str) -> Checksum {
        Checksum::of_normalized(&normalize(text))
    }

    /// Accepts a stored value, which must look like `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Option<Checksum> {
        let hex = text.strip_prefix("sha256:")?;
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Checksum(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalised text without the lines at `lines` (byte offsets of line starts, as
/// [`crate::source::Directive::offset`] gives them), each removed with its line ending.
pub(crate) fn without_lines(text: &str, lines: &[usize]) -> String {
    if lines.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !lines.contains(&offset) {
            out.push_str(line);
        }
        offset += line.len();
    }
    out
}

/// Removes a leading UTF-8 BOM and turns every CRLF into LF. Nothing else is touched.
pub(crate) fn normalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let lf = "CREATE TABLE t (id int);\n-- note\n";
        let crlf = "CREATE TABLE t (id int);\r\n-- note\r\n";
        let bom = "\u{feff}CREATE TABLE t (id int);\r\n-- note\r\n";
        assert_eq!(Checksum::of_text(lf), Checksum::of_text(crlf));
        assert_eq!(Checksum::of_text(lf), Checksum::of_text(bom));
    }

    #[test]
    fn any_edit_changes_the_checksum() {
        let a = Checksum::of_text("CREATE TABLE t (id int);\n");
        assert_ne!(a, Checksum::of_text("CREATE TABLE t (id iNt);\n"));
        assert_ne!(a, Checksum::of_text("CREATE TABLE t (id int); \n"));
        assert_ne!(a, Checksum::of_text("CREATE TABLE t (id int);"));
    }

    #[test]
    fn removed_lines_go_with_their_endings() {
        let text = "-- a\nSELECT 1;\n-- b\nSELECT 2;";
        assert_eq!(without_lines(text, &[0, 15]), "SELECT 1;\nSELECT 2;");
        assert_eq!(without_lines(text, &[]), text);
    }

    #[test]
    fn format_is_sha256_hex() {
        let sum = Checksum::of_text("");
        assert_eq!(
            sum.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Checksum::parse(sum.as_str()), Some(sum));
        assert_eq!(Checksum::parse("md5:abc"), None);
    }
}
