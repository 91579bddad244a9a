//! What every JSON output has in common (documented in docs/json.md): a top-level `version`
//! of its schema, and timestamps as RFC 3339 strings in UTC (`2026-11-21T11:40:05.123456Z`).

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The schema version of the JSON outputs that carry no version of their own. A change that
/// removes or renames a field, or changes its type, raises it; a new field does not.
pub(crate) const VERSION: u32 = 1;

/// `report` with `"version": VERSION` in front of its own fields.
#[derive(Debug, Serialize)]
pub(crate) struct Versioned<T: Serialize> {
    pub version: u32,
    #[serde(flatten)]
    pub report: T,
}

impl<T: Serialize> Versioned<T> {
    pub(crate) fn new(report: T) -> Versioned<T> {
        Versioned {
            version: VERSION,
            report,
        }
    }
}

/// `report` with its version, pretty-printed and ending in a newline.
pub(crate) fn to_string<T: Serialize>(report: T) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(&Versioned::new(report))?;
    text.push('\n');
    Ok(text)
}

/// A time as RFC 3339 in UTC, whatever offset it carries.
pub(crate) fn utc_text(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("a time of a database timestamp formats as RFC 3339")
}

/// `#[serde(serialize_with = "crate::json::utc")]`.
pub(crate) fn utc<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&utc_text(*at))
}

/// `#[serde(serialize_with = "crate::json::utc_option")]`: `null` for `None`.
pub(crate) fn utc_option<S: Serializer>(
    at: &Option<OffsetDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&utc_text(*at)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(utc_text(at), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn version_comes_first() {
        #[derive(Serialize)]
        struct R {
            a: u8,
        }
        assert_eq!(
            serde_json::to_string(&Versioned::new(R { a: 1 })).unwrap(),
            r#"{"version":1,"a":1}"#
        );
    }
}
