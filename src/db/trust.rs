//! Whether a database's recorded state can be trusted: the one check `audit --verify` makes,
//! and that apply, `migrate down` and the promotion gate make before they act on a row.
//!
//! A [`Snapshot`] (rows, events, head anchor and binding, read in one transaction) verifies
//! when its hash chain is intact ([`events::verify_chain`]), the anchors hold
//! ([`events::verify_anchors`]: every row matches its migration's latest event, the head
//! anchor names the newest event, ids have no gaps) and the binding row matches its newest
//! `bind` event. A row written, deleted or changed by hand shows here, so nothing acts on it.

use std::collections::HashMap;

use super::events::{self, ChainBreak, Event, HeadAnchor, Mismatch, RowAnchor};
use super::state::Snapshot;

/// What the check found; empty when the state verifies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verdict {
    /// The first event that does not fit the chain.
    pub broken: Option<ChainBreak>,
    /// Rows, anchors and binding that do not match the log.
    pub problems: Vec<Mismatch>,
}

impl Verdict {
    pub(crate) fn verified(&self) -> bool {
        self.broken.is_none() && self.problems.is_empty()
    }

    /// Each finding on a line of its own, as `audit --verify` words them.
    pub(crate) fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(broken) = &self.broken {
            out.push(format!(
                "event {} does not match: {}",
                broken.id, broken.problem
            ));
        }
        out.extend(self.problems.iter().map(describe));
        out
    }
}

/// A mismatch for people: the event, the migration, the problem.
pub(crate) fn describe(mismatch: &Mismatch) -> String {
    let mut text = String::new();
    if let Some(id) = mismatch.event {
        text.push_str(&format!("event {id}: "));
    }
    if let Some(version) = &mismatch.version {
        text.push_str(&format!("migration {version}: "));
    }
    text.push_str(&mismatch.problem);
    text
}

/// Checks `snapshot`; `expected_head` is a head hash kept elsewhere (`audit --head`).
pub(crate) fn verify(snapshot: &Snapshot, expected_head: Option<&str>) -> Verdict {
    let broken = events::verify_chain(&snapshot.events).err();
    let anchors: Vec<RowAnchor<'_>> = snapshot
        .rows
        .iter()
        .map(|row| RowAnchor {
            version_text: &row.version_text,
            status: row.status.as_str(),
            checksum: &row.checksum,
            event_hash: row.event_hash.as_deref(),
            statements_done: row.statements_done,
            done_checksum: row.done_checksum.as_deref(),
            down_statements_done: row.down_statements_done.unwrap_or(0),
            down_done_checksum: row.down_done_checksum.as_deref(),
        })
        .collect();
    let head = snapshot.head.as_ref().map(|h| HeadAnchor {
        id: h.id,
        hash: &h.hash,
        gapless_after: h.gapless_after,
    });
    let mut problems = events::verify_anchors(
        &snapshot.events,
        &anchors,
        head.as_ref(),
        snapshot.head_expected(),
        expected_head,
    );
    problems.extend(verify_binding(snapshot));
    Verdict { broken, problems }
}

/// The binding row against the newest `bind` event: same environment, anchored on that
/// event; a log that records a binding whose row is gone is a finding too (without the row,
/// any environment name would bind the database anew).
fn verify_binding(snapshot: &Snapshot) -> Vec<Mismatch> {
    let latest = snapshot.events.iter().rev().find(|e| e.kind == "bind");
    let mismatch = |event: Option<&Event>, problem: String| Mismatch {
        resolvable: false,
        event: event.map(|e| e.id),
        version: None,
        problem,
    };
    match (&snapshot.binding, latest) {
        (None, None) => Vec::new(),
        (None, Some(event)) => vec![mismatch(
            Some(event),
            format!(
                "the log binds this database to `{}` but the binding row \
                 (stagegate.binding) is gone",
                event.name.as_deref().unwrap_or("-")
            ),
        )],
        (Some(binding), None) => vec![mismatch(
            None,
            format!(
                "the binding row names `{}` but the log has no `bind` event",
                binding.environment
            ),
        )],
        (Some(binding), Some(event)) => {
            if event.name.as_deref() != Some(binding.environment.as_str()) {
                vec![mismatch(
                    Some(event),
                    format!(
                        "the binding row names `{}` but the newest `bind` event names `{}`",
                        binding.environment,
                        event.name.as_deref().unwrap_or("-")
                    ),
                )]
            } else if binding.event_hash != event.hash {
                vec![mismatch(
                    Some(event),
                    format!(
                        "the binding row was written by event {}, which is not the newest \
                         `bind` event ({})",
                        binding.event_hash, event.hash
                    ),
                )]
            } else {
                Vec::new()
            }
        }
    }
}

/// The newest event of each migration, by the version as written (`version_text`).
pub(crate) fn latest_events(events: &[Event]) -> HashMap<&str, &Event> {
    let mut latest = HashMap::new();
    for event in events {
        if let Some(version) = &event.version {
            latest.insert(version.as_str(), event);
        }
    }
    latest
}
