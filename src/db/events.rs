//! The event log's hash chain, recomputed independently of the database.
//!
//! Events are written by the SQL function `stagegate.append_event` (migrations/0001_state.sql),
//! which hashes `stagegate.event_text(...)`. This module rebuilds the same text from the stored
//! fields, so `stagegate audit --verify` does not trust the database's own arithmetic.

use serde::Serialize;
use time::OffsetDateTime;

use crate::source::Checksum;

/// `prev_hash` of the first event.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One row of `stagegate.events`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub kind: String,
    pub version: Option<String>,
    pub name: Option<String>,
    pub checksum: Option<String>,
    pub db_user: String,
    pub os_user: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The text an event's hash covers; must match `stagegate.event_text` in SQL.
pub fn event_text(event: &Event) -> String {
    let micros = event.at.unix_timestamp_nanos() / 1_000;
    let field = |value: Option<&str>| match value {
        Some(text) => format!("{}:{text}", text.len()),
        None => "-".to_string(),
    };
    [
        micros.to_string(),
        field(Some(&event.kind)),
        field(event.version.as_deref()),
        field(event.name.as_deref()),
        field(event.checksum.as_deref()),
        field(Some(&event.db_user)),
        field(event.os_user.as_deref()),
        field(event.detail.as_deref()),
        field(Some(&event.prev_hash)),
    ]
    .join("|")
}

/// `sha256:<hex>` of the event's text.
pub fn event_hash(event: &Event) -> String {
    Checksum::of_normalized(&event_text(event)).to_string()
}

/// Why an event does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The first event that does not match.
    pub id: i64,
    pub problem: String,
}

/// Walks the events in id order and returns the first that does not match: its stored hash
/// differs from the recomputed one (the event was edited), or its `prev_hash` is not the hash
/// of the event before it (an event was removed, inserted or re-chained).
pub fn verify_chain(events: &[Event]) -> Result<(), ChainBreak> {
    let mut expected_prev = GENESIS.to_string();
    for event in events {
        if event.prev_hash != expected_prev {
            return Err(ChainBreak {
                id: event.id,
                problem: format!(
                    "its prev_hash is {} but the event before it hashes to {expected_prev} \
                     (an event was removed, inserted or edited)",
                    event.prev_hash
                ),
            });
        }
        let computed = event_hash(event);
        if computed != event.hash {
            return Err(ChainBreak {
                id: event.id,
                problem: format!(
                    "its content hashes to {computed} but {} is recorded (the event was edited)",
                    event.hash
                ),
            });
        }
        expected_prev = computed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(prev: &str) -> Event {
        let mut event = Event {
            id: 1,
            at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).unwrap(),
            kind: "apply".into(),
            version: Some("1".into()),
            name: Some("create_ü".into()),
            checksum: None,
            db_user: "postgres".into(),
            os_user: Some("ci".into()),
            detail: None,
            prev_hash: prev.into(),
            hash: String::new(),
        };
        event.hash = event_hash(&event);
        event
    }

    #[test]
    fn text_is_length_prefixed_with_byte_lengths() {
        let e = event(GENESIS);
        assert_eq!(
            event_text(&e),
            format!("1700000000123456|5:apply|1:1|9:create_ü|-|8:postgres|2:ci|-|71:{GENESIS}")
        );
    }

    #[test]
    fn an_edited_event_breaks_the_chain() {
        let first = event(GENESIS);
        let mut second = event(&first.hash);
        second.id = 2;
        assert_eq!(verify_chain(&[first.clone(), second.clone()]), Ok(()));

        let mut edited = first.clone();
        edited.detail = Some("x".into());
        assert_eq!(verify_chain(&[edited, second.clone()]).unwrap_err().id, 1);

        let mut rechained = second.clone();
        rechained.prev_hash = GENESIS.into();
        rechained.hash = event_hash(&rechained);
        assert_eq!(verify_chain(&[first, rechained]).unwrap_err().id, 2);
        assert_eq!(
            verify_chain(&[second]).unwrap_err().id,
            2,
            "first event removed"
        );
    }
}
