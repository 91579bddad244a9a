//! The event log's hash chain, recomputed independently of the database.
//!
//! Events are written by the SQL function `stagegate.append_event` (migrations/0001_state.sql),
//! which hashes `stagegate.event_text(...)`. This module rebuilds the same text from the stored
//! fields, so `stagegate audit --verify` does not trust the database's own arithmetic.

use serde::Serialize;
use time::OffsetDateTime;

use crate::source::Checksum;

/// `prev_hash` of the first event.
pub(crate) const GENESIS: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One row of `stagegate.events`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(serialize_with = "crate::json::utc")]
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

/// The text an event's hash covers; must match `stagegate.event_text` in SQL: each field's
/// length in UTF-8 bytes (state schema 6 on). [`verify_chain`] writes it into one buffer.
#[cfg(test)]
pub(crate) fn event_text(event: &Event) -> String {
    event_text_with(event, str::len)
}

/// The text as state schemas before 6 hashed it: each field's length in the database's own
/// encoding. In a single-byte encoding (LATIN1, WIN1252, ...) that is one byte per character;
/// in UTF-8 it is [`event_text`]'s.
fn legacy_event_text(event: &Event) -> String {
    event_text_with(event, |text| text.chars().count())
}

fn event_text_with(event: &Event, length: impl Fn(&str) -> usize) -> String {
    let mut text = String::new();
    write_event_text(&mut text, event, length);
    text
}

/// Writes the text an event's hash covers into `out` (emptied first): one buffer reused for
/// every event of a chain instead of a string per field.
fn write_event_text(out: &mut String, event: &Event, length: impl Fn(&str) -> usize) {
    use std::fmt::Write as _;
    out.clear();
    let micros = event.at.unix_timestamp_nanos() / 1_000;
    let _ = write!(out, "{micros}");
    let fields = [
        Some(event.kind.as_str()),
        event.version.as_deref(),
        event.name.as_deref(),
        event.checksum.as_deref(),
        Some(event.db_user.as_str()),
        event.os_user.as_deref(),
        event.detail.as_deref(),
        Some(event.prev_hash.as_str()),
    ];
    for field in fields {
        out.push('|');
        match field {
            Some(text) => {
                let _ = write!(out, "{}:", length(text));
                out.push_str(text);
            }
            None => out.push('-'),
        }
    }
}

/// `sha256:<hex>` of the event's text.
#[cfg(test)]
pub(crate) fn event_hash(event: &Event) -> String {
    Checksum::of_normalized(&event_text(event)).to_string()
}

/// Why an event does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ChainBreak {
    /// The first event that does not match.
    pub id: i64,
    pub problem: String,
}

/// Walks the events in id order and returns the first that does not match: its stored hash
/// differs from the recomputed one (the event was edited), or its `prev_hash` is not the hash
/// of the event before it (an event was removed, inserted or re-chained).
pub(crate) fn verify_chain(events: &[Event]) -> Result<(), ChainBreak> {
    let mut expected_prev = GENESIS.to_string();
    let mut text = String::new();
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
        write_event_text(&mut text, event, str::len);
        let mut computed = Checksum::of_normalized(&text).to_string();
        // An event written by a state schema before 6 in a single-byte database (see
        // `legacy_event_text`); the chain goes on from its hash as recorded.
        if computed != event.hash && !text.is_ascii() {
            let legacy = Checksum::of_normalized(&legacy_event_text(event)).to_string();
            if legacy == event.hash {
                computed = legacy;
            }
        }
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

/// One thing `audit --verify` found wrong, beyond the chain itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Mismatch {
    /// The event concerned, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<i64>,
    /// The migration concerned, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub problem: String,
    /// A `running` row that no start or progress event vouches for (written by hand, or by
    /// a stagegate older than state schema 10 that was interrupted): `migrate resolve` of that
    /// migration may settle it, on a human's word; nothing else acts on it.
    #[serde(skip)]
    pub resolvable: bool,
}

/// What a state row says, as far as the log can vouch for it.
#[derive(Debug, Clone)]
pub(crate) struct RowAnchor<'a> {
    pub version_text: &'a str,
    /// `applied`, `failed`, `running`, `reverted` or `reverting`.
    pub status: &'a str,
    pub checksum: &'a str,
    pub event_hash: Option<&'a str>,
    /// Statements recorded done (a no-transaction migration; 0 otherwise) and their
    /// checksum: a `running` or `failed` row's must be its latest progress event's.
    pub statements_done: i32,
    pub done_checksum: Option<&'a str>,
    /// Down statements recorded done (a no-transaction down; 0 when none) and their
    /// checksum: a `reverting` row's must be its latest down progress event's.
    pub down_statements_done: i32,
    pub down_done_checksum: Option<&'a str>,
}

/// The log's own record of its newest event (`stagegate.chain_head`).
#[derive(Debug, Clone)]
pub(crate) struct HeadAnchor<'a> {
    pub id: i64,
    pub hash: &'a str,
    pub gapless_after: i64,
}

/// Everything `audit --verify` checks besides the chain: ids without gaps (above the point
/// from which they are assigned gaplessly), the head anchor (which must be there when the
/// schema has one, `head_expected`, and the log is not empty), a head hash kept elsewhere, and
/// each state row against its migration's latest event (kind, checksum and hash), and every
/// migration the log speaks of has its row. The chain itself is [`verify_chain`].
pub(crate) fn verify_anchors(
    events: &[Event],
    rows: &[RowAnchor<'_>],
    head: Option<&HeadAnchor<'_>>,
    head_expected: bool,
    expected_head: Option<&str>,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if head.is_none() && head_expected && !events.is_empty() {
        // Without it the newest events could be cut away unseen, and ids never checked.
        out.push(Mismatch {
            resolvable: false,
            event: events.last().map(|e| e.id),
            version: None,
            problem: format!(
                "the log's head anchor (the row of stagegate.chain_head) is missing while the                  log holds {} event(s): it was removed, so a cut tail of the log would not show",
                events.len()
            ),
        });
    }
    let gapless_after = head.map_or(i64::MAX, |h| h.gapless_after);
    for pair in events.windows(2) {
        if pair[0].id >= gapless_after && pair[1].id != pair[0].id + 1 {
            out.push(Mismatch {
                resolvable: false,
                event: Some(pair[1].id),
                version: None,
                problem: format!(
                    "event ids jump from {} to {}: {} event(s) were removed",
                    pair[0].id,
                    pair[1].id,
                    pair[1].id - pair[0].id - 1
                ),
            });
        }
    }
    let last = events.last();
    if let Some(head) = head {
        let (last_id, last_hash) = last.map_or((0, GENESIS), |e| (e.id, e.hash.as_str()));
        if head.id != last_id || head.hash != last_hash {
            out.push(Mismatch {
                resolvable: false,
                event: last.map(|e| e.id),
                version: None,
                problem: format!(
                    "the log's head anchor names event {} ({}) but the newest event is {last_id}                      ({last_hash}): the tail of the log was removed or rewritten",
                    head.id, head.hash
                ),
            });
        }
    }
    if let Some(expected) = expected_head
        && !events.iter().any(|e| e.hash == expected)
    {
        out.push(Mismatch {
            resolvable: false,
            event: None,
            version: None,
            problem: format!(
                "the head {expected} given with --head is not in the log: events were removed                  or rewritten since it was printed"
            ),
        });
    }
    // The newest event of each migration that changes its row (a `repair` written while an
    // attempt runs changes nothing of it), and its newest progress event of each script.
    let mut latest: std::collections::HashMap<&str, &Event> = std::collections::HashMap::new();
    let mut progress: std::collections::HashMap<(&str, Track), &Event> =
        std::collections::HashMap::new();
    for event in events.iter().filter(|e| e.kind != "repair") {
        if let Some(version) = &event.version {
            latest.insert(version.as_str(), event);
            if let Some(track) = Track::of_kind(&event.kind) {
                progress.insert((version.as_str(), track), event);
            }
        }
    }
    for row in rows {
        let event = latest.remove(row.version_text);
        if let Some(attempt) = Attempt::of_status(row.status) {
            let logged = progress.get(&(row.version_text, attempt.track)).copied();
            out.extend(attempt_row(row, attempt, event, logged));
            continue;
        }
        let mismatch = |event: Option<&Event>, problem: String| Mismatch {
            resolvable: false,
            event: event.map(|e| e.id),
            version: Some(row.version_text.to_string()),
            problem,
        };
        let expected_kinds: &[&str] = match row.status {
            // A failed down (rolled back) leaves the row applied, anchored on its event.
            "applied" => &["apply", "baseline", "down_failure", "down_replace"],
            "reverted" => &["down"],
            "abandoned" => &["abandon"],
            _ => &[],
        };
        let Some(event) = event else {
            if !expected_kinds.is_empty() {
                out.push(mismatch(
                    None,
                    format!(
                        "the state row says {} but the log has no event for this migration",
                        row.status
                    ),
                ));
            }
            continue;
        };
        if expected_kinds.is_empty() {
            continue;
        }
        if !expected_kinds.contains(&event.kind.as_str()) {
            out.push(mismatch(
                Some(event),
                format!(
                    "the state row says {} but the migration's latest event is a `{}`",
                    row.status, event.kind
                ),
            ));
        } else {
            out.extend(anchored(row, event, false).map(|problem| mismatch(Some(event), problem)));
        }
    }
    // A migration the log speaks of whose state row is gone.
    let mut orphans: Vec<&Event> = latest
        .into_values()
        .filter(|e| {
            matches!(
                e.kind.as_str(),
                "apply"
                    | "failure"
                    | "resolve"
                    | "down"
                    | "baseline"
                    | "down_failure"
                    | "abandon"
                    | "down_replace"
                    | "apply_start"
                    | "apply_progress"
                    | "down_start"
                    | "down_progress"
            )
        })
        .collect();
    orphans.sort_by_key(|e| e.id);
    for event in orphans {
        out.push(Mismatch {
            resolvable: false,
            event: Some(event.id),
            version: event.version.clone(),
            problem: format!(
                "the log records a `{}` of this migration but there is no state row for it",
                event.kind
            ),
        });
    }
    out
}

/// Which script of a migration a no-transaction attempt runs: its up script (state schema
/// 10) or its down script (state schema 12). Each has its own progress events: the attempt's
/// start, then one per statement recorded done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Track {
    Up,
    Down,
}

impl Track {
    /// The kind of the event that starts (or resumes) an attempt.
    pub(crate) fn start_kind(self) -> &'static str {
        match self {
            Track::Up => "apply_start",
            Track::Down => "down_start",
        }
    }

    /// The kind of the event of one statement recorded done (or of a count recorded when an
    /// attempt stopped or was settled).
    pub(crate) fn progress_kind(self) -> &'static str {
        match self {
            Track::Up => "apply_progress",
            Track::Down => "down_progress",
        }
    }

    /// The script whose progress an event of `kind` records, if it is a progress event.
    pub(crate) fn of_kind(kind: &str) -> Option<Track> {
        [Track::Up, Track::Down]
            .into_iter()
            .find(|t| kind == t.start_kind() || kind == t.progress_kind())
    }

    /// What a row says of this script's progress: statements done and their checksum.
    fn count<'a>(self, row: &RowAnchor<'a>) -> (i32, Option<&'a str>) {
        match self {
            Track::Up => (row.statements_done, row.done_checksum),
            Track::Down => (row.down_statements_done, row.down_done_checksum),
        }
    }

    fn statements(self) -> &'static str {
        match self {
            Track::Up => "statement(s)",
            Track::Down => "down statement(s)",
        }
    }

    /// The state schema from which the log vouches for this script's progress.
    fn since_schema(self) -> u32 {
        match self {
            Track::Up => 10,
            Track::Down => 12,
        }
    }
}

/// What a progress event vouches for: statements done, of how many, and their checksum
/// (`stagegate.progress_detail`; no checksum when none is done and none was known).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct VouchedProgress {
    pub statements_done: i32,
    pub statements_total: i32,
    pub done_checksum: Option<String>,
}

impl VouchedProgress {
    /// The progress an event records, if it is a progress event with its detail.
    pub(crate) fn of(event: &Event) -> Option<VouchedProgress> {
        Track::of_kind(&event.kind)?;
        VouchedProgress::parse(event.detail.as_deref()?)
    }

    /// A progress event's detail.
    pub(crate) fn parse(detail: &str) -> Option<VouchedProgress> {
        serde_json::from_str(detail).ok()
    }

    /// Whether the log, whose latest progress event of a script records `logged` (`None`:
    /// there is none, so nothing of the script is done), vouches for `done` statements with
    /// `done_checksum`. Their checksum matters only when some are done: a resume at the first
    /// statement reads none. The one rule for the check of a row ([`verify_anchors`]) and for
    /// a writer deciding whether the count it records needs a progress event of its own.
    pub(crate) fn vouches(
        logged: Option<&VouchedProgress>,
        done: i32,
        done_checksum: Option<&str>,
    ) -> bool {
        match logged {
            None => done == 0,
            Some(p) => {
                p.statements_done == done
                    && (done == 0 || p.done_checksum.as_deref() == done_checksum)
            }
        }
    }
}

/// The count the log vouches for of `track`'s statements of the migration `version_text`:
/// its latest start or progress event's (`None`: it has none, so none are done).
pub(crate) fn logged_progress(
    events: &[Event],
    version_text: &str,
    track: Track,
) -> Option<VouchedProgress> {
    events
        .iter()
        .rev()
        .filter(|e| e.version.as_deref() == Some(version_text))
        .find(|e| Track::of_kind(&e.kind) == Some(track))
        .and_then(VouchedProgress::of)
}

/// How a row of a status stands to the progress events of its attempt.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    /// The script whose statements the row counts.
    track: Track,
    /// The attempt may be running (or was killed while it ran): the row is anchored on the
    /// script's latest start or progress event.
    runs: bool,
    /// The events that leave a stopped attempt's row as it is: it is anchored on one of
    /// these, and its count is the latest progress event's.
    stopped: &'static [&'static str],
}

impl Attempt {
    fn of_status(status: &str) -> Option<Attempt> {
        let (track, runs, stopped): (_, _, &'static [&'static str]) = match status {
            "running" => (Track::Up, true, &[]),
            "failed" => (Track::Up, false, &["failure", "resolve"]),
            // A no-transaction down running (or killed), or stopped: failed, or its unknown
            // statement settled.
            "reverting" => (Track::Down, true, &["down_failure", "resolve"]),
            _ => return None,
        };
        Some(Attempt {
            track,
            runs,
            stopped,
        })
    }
}

/// The checksum and the anchor of a row whose latest event is `event`, of a kind its status
/// allows: `strict` when the row must name the event (a running attempt's); otherwise a row
/// written before rows named their events (state schema 2) may name none.
fn anchored(row: &RowAnchor<'_>, event: &Event, strict: bool) -> Option<String> {
    if event.checksum.as_deref() != Some(row.checksum) {
        return Some(format!(
            "the state row's checksum {} differs from {} in its latest event",
            row.checksum,
            event.checksum.as_deref().unwrap_or("-")
        ));
    }
    match row.event_hash {
        Some(anchor) if anchor == event.hash => None,
        _ if strict => Some(format!(
            "the state row says {} but does not name the migration's latest event {} (it names \
             {}): the row was written by hand or events were removed",
            row.status,
            event.hash,
            row.event_hash.unwrap_or("none")
        )),
        None => None,
        Some(anchor) => Some(format!(
            "the state row was last changed by event {anchor}, which is not in the log (its \
             latest event here is {}): events were removed",
            event.hash
        )),
    }
}

/// The rule for a row of an attempt: `running` and `failed` (the up script), `reverting`
/// (a no-transaction down script). Every attempt starts with a start event and each
/// statement recorded done appends a progress event, in the statement's own transaction;
/// a count recorded otherwise (a failure's, or one a human settled with `migrate resolve`)
/// appends a progress event too. So a row verifies only on the log's word:
///
/// - running (or killed): its latest event is the script's latest start or progress event,
///   the row names it, and its checksum, statements done and their checksum are the
///   event's; moved further by hand, it does not verify (nothing resumes on its word);
/// - stopped (failed, or settled): its latest event is one that stops the attempt, and its
///   statements done are the script's latest progress event's (none: nothing done); a count
///   changed by hand is a finding `migrate resolve` settles, back at the log's count;
/// - a `running` or `reverting` row with no such event (written by hand, or by a stagegate
///   older than the log's progress events that was interrupted) is a finding `migrate
///   resolve` may settle, on the word of a human who checked what ran.
///
/// `event` is the migration's latest event, `logged` its latest progress event of the
/// attempt's script.
fn attempt_row(
    row: &RowAnchor<'_>,
    attempt: Attempt,
    event: Option<&Event>,
    logged: Option<&Event>,
) -> Option<Mismatch> {
    let track = attempt.track;
    let statements = track.statements();
    let (done, done_checksum) = track.count(row);
    let mismatch = |event: Option<&Event>, problem: String| Mismatch {
        event: event.map(|e| e.id),
        version: Some(row.version_text.to_string()),
        problem,
        resolvable: false,
    };
    let running = event.filter(|e| attempt.runs && Track::of_kind(&e.kind) == Some(track));
    let Some(event) = running.or(event.filter(|e| attempt.stopped.contains(&e.kind.as_str())))
    else {
        let latest = event.map_or_else(
            || "the log has no event for this migration".to_string(),
            |e| format!("the migration's latest event is a `{}`", e.kind),
        );
        if !attempt.runs {
            return Some(mismatch(
                event,
                format!("the state row says {} but {latest}", row.status),
            ));
        }
        return Some(Mismatch {
            resolvable: true,
            ..mismatch(
                event,
                format!(
                    "the state row says {} ({done} {statements} done) but {latest}, not the \
                     start of an attempt: the row was written by hand, or by a stagegate older \
                     than state schema {} that was interrupted mid-run; check which of its \
                     {statements} ran, then `stagegate migrate resolve {} --env <env> --reason \
                     \"...\"` settles it",
                    row.status,
                    track.since_schema(),
                    row.version_text
                ),
            )
        });
    };
    if let Some(problem) = anchored(row, event, running.is_some()) {
        return Some(mismatch(Some(event), problem));
    }
    // A running attempt's latest event is its latest progress event.
    let vouched = match logged.map(|e| (e, VouchedProgress::of(e))) {
        None => None,
        Some((logged, None)) => {
            return Some(mismatch(
                Some(logged),
                format!(
                    "its latest progress event, a `{}`, records no progress",
                    logged.kind
                ),
            ));
        }
        Some((_, Some(progress))) => Some(progress),
    };
    if VouchedProgress::vouches(vouched.as_ref(), done, done_checksum) {
        return None;
    }
    let (logged_done, logged_checksum) = vouched.as_ref().map_or((0, "none"), |p| {
        (
            p.statements_done,
            p.done_checksum.as_deref().unwrap_or("none"),
        )
    });
    let problem = format!(
        "the state row says {done} {statements} done ({}) but {} records {logged_done} \
         ({logged_checksum}): the row was changed by hand",
        done_checksum.unwrap_or("none"),
        if vouched.is_some() {
            "its latest progress event"
        } else {
            "the log (no progress event)"
        },
    );
    if running.is_some() {
        return Some(mismatch(logged, problem));
    }
    // A stopped attempt: resolving it puts the count back where the log has it.
    Some(Mismatch {
        resolvable: true,
        ..mismatch(
            logged.or(Some(event)),
            format!(
                "{problem}, or left by a stagegate older than state schema {}; `stagegate \
                 migrate resolve {} --env <env> --reason \"...\"` settles it at the count the \
                 log records{}",
                track.since_schema(),
                row.version_text,
                if vouched.is_some() {
                    ""
                } else {
                    " (with none, at the row's, on your word: check which of its statements ran)"
                }
            ),
        )
    })
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

    #[test]
    fn an_event_hashed_with_single_byte_lengths_by_an_older_schema_verifies() {
        // What append_event before schema 6 wrote in a LATIN1 database: `é` counted as one.
        let mut old = event(GENESIS);
        old.detail = Some("déjà vu".into());
        old.hash = Checksum::of_normalized(&legacy_event_text(&old)).to_string();
        assert_ne!(old.hash, event_hash(&old));
        let mut next = event(&old.hash);
        next.id = 2;
        next.hash = event_hash(&next);
        assert_eq!(verify_chain(&[old.clone(), next.clone()]), Ok(()));
        // Edited, it still fails either way.
        let mut edited = old.clone();
        edited.detail = Some("deja vu!".into());
        assert_eq!(verify_chain(&[edited, next]).unwrap_err().id, 1);
    }

    fn chain(count: usize) -> Vec<Event> {
        let mut events: Vec<Event> = Vec::new();
        for i in 0..count {
            let mut e = event(events.last().map_or(GENESIS, |p: &Event| p.hash.as_str()));
            e.id = i as i64 + 1;
            e.version = Some(format!("{}", i + 1));
            e.checksum = Some(format!("sha256:{i}"));
            e.hash = event_hash(&e);
            events.push(e);
        }
        events
    }

    #[test]
    fn anchors_show_a_removed_tail_an_edited_row_and_a_gap() {
        let events = chain(3);
        let hashes: Vec<String> = events.iter().map(|e| e.hash.clone()).collect();
        let sums: Vec<String> = (0..3).map(|i| format!("sha256:{i}")).collect();
        let versions = ["1", "2", "3"];
        let rows: Vec<RowAnchor<'_>> = (0..3)
            .map(|i| RowAnchor {
                version_text: versions[i],
                status: "applied",
                checksum: &sums[i],
                event_hash: Some(&hashes[i]),
                statements_done: 0,
                done_checksum: None,
                down_statements_done: 0,
                down_done_checksum: None,
            })
            .collect();
        let head = HeadAnchor {
            id: 3,
            hash: &hashes[2],
            gapless_after: 0,
        };
        assert_eq!(
            verify_anchors(&events, &rows, Some(&head), true, Some(&hashes[2])),
            []
        );

        // The newest event removed: the chain of the rest is intact, the anchors are not.
        let cut = &events[..2];
        assert_eq!(verify_chain(cut), Ok(()));
        let found = verify_anchors(cut, &rows, Some(&head), true, Some(&hashes[2]));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].problem.contains("head anchor"));
        assert!(found[1].problem.contains("given with --head"));
        assert!(found[2].problem.contains("no event for this migration"));

        // An edited checksum in a state row.
        let mut edited = rows.clone();
        edited[1].checksum = "sha256:forged";
        let found = verify_anchors(&events, &edited, Some(&head), true, None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version.as_deref(), Some("2"));
        assert!(found[0].problem.contains("differs from sha256:1"));

        // A gap in the ids, where ids are gapless.
        let mut gapped = events.clone();
        gapped.remove(1);
        let gap_rows = [rows[0].clone(), rows[2].clone()];
        let found = verify_anchors(&gapped, &gap_rows, None, false, None);
        assert!(
            found.is_empty(),
            "no anchor: ids before gapless numbering may have gaps"
        );
        let found = verify_anchors(&gapped, &gap_rows, Some(&head), true, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].problem.contains("jump from 1 to 3"), "{found:?}");

        // A backup event (no migration) appended at the end changes nothing but the head.
        let mut with_backup = events.clone();
        let mut backup = event(&hashes[2]);
        backup.id = 4;
        backup.kind = "backup".into();
        backup.version = None;
        backup.name = Some("stagegate-staging-20261202T161530.123Z.dump".into());
        backup.hash = event_hash(&backup);
        with_backup.push(backup.clone());
        let backup_head = HeadAnchor {
            id: 4,
            hash: &backup.hash,
            gapless_after: 0,
        };
        assert_eq!(verify_chain(&with_backup), Ok(()));
        assert_eq!(
            verify_anchors(
                &with_backup,
                &rows,
                Some(&backup_head),
                true,
                Some(&hashes[2])
            ),
            []
        );

        // The anchor row removed (with the newest event): that alone is a finding.
        let found = verify_anchors(cut, &rows[..2], None, true, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].problem.contains("head anchor"), "{found:?}");
        assert_eq!(verify_anchors(&[], &[], None, true, None), []);

        // A state row deleted: the log still speaks of the migration.
        let found = verify_anchors(&events, &rows[1..], Some(&head), true, None);
        assert_eq!(found.len(), 1);
        assert!(found[0].problem.contains("no state row"));
    }

    /// The first id assigned gaplessly is `gapless_after + 1`: a jump right after the event
    /// `gapless_after` is a removal. (Mutant: `>=` turned into `>` in the gap check.)
    #[test]
    fn a_gap_right_after_the_gapless_point_is_found() {
        let events = chain(3);
        let mut gapped = events.clone();
        gapped.remove(1);
        let at = |gapless_after| HeadAnchor {
            id: 3,
            hash: &events[2].hash,
            gapless_after,
        };
        // (The log's own checks; its migrations have no state rows here.)
        let log_only = |found: Vec<Mismatch>| -> Vec<Mismatch> {
            found.into_iter().filter(|m| m.version.is_none()).collect()
        };
        let found = log_only(verify_anchors(&gapped, &[], Some(&at(1)), true, None));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].event, Some(3));
        assert!(found[0].problem.contains("jump from 1 to 3"), "{found:?}");
        // Ids up to the gapless point may have gaps of their own (a rolled-back append of
        // an older version): 2 may be missing when 2 is the point.
        assert_eq!(
            log_only(verify_anchors(&gapped, &[], Some(&at(2)), true, None)),
            []
        );
    }

    /// The newest event rewritten with a hash recomputed to match: the chain holds, but the
    /// head anchor still has the old hash. (Mutant: the head check comparing the anchor's
    /// event id but not its hash.)
    #[test]
    fn a_rewritten_newest_event_shows_against_the_head_anchor() {
        let events = chain(3);
        let head = HeadAnchor {
            id: 3,
            hash: &events[2].hash,
            gapless_after: 0,
        };
        let mut rewritten = events.clone();
        rewritten[2].detail = Some("{\"forged\": true}".into());
        rewritten[2].hash = event_hash(&rewritten[2]);
        assert_eq!(verify_chain(&rewritten), Ok(()));
        // (The log's own checks; its migrations have no state rows here.)
        let log_only = |found: Vec<Mismatch>| -> Vec<Mismatch> {
            found.into_iter().filter(|m| m.version.is_none()).collect()
        };
        let found = log_only(verify_anchors(&rewritten, &[], Some(&head), true, None));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].event, Some(3));
        assert!(found[0].problem.contains("head anchor"), "{found:?}");
        assert_eq!(
            log_only(verify_anchors(&events, &[], Some(&head), true, None)),
            []
        );
    }

    /// Every status a state row can claim is held against the migration's latest event: a
    /// row set by hand to `failed` or `reverted` over an `apply`, or to `reverting` over a
    /// `down` (a finding `migrate resolve` may settle, as for a `running` row), shows; so does
    /// one with no event at all. (Mutants: a status's arm deleted from the match, so rows of
    /// that status went unchecked; found by cargo-mutants.)
    #[test]
    fn each_row_status_is_checked_against_the_latest_event() {
        let events = chain(1);
        let checksum = "sha256:0";
        let row = |status| RowAnchor {
            version_text: "1",
            status,
            checksum,
            event_hash: Some(&events[0].hash),
            statements_done: 0,
            done_checksum: None,
            down_statements_done: 0,
            down_done_checksum: None,
        };
        assert_eq!(
            verify_anchors(&events, &[row("applied")], None, false, None),
            []
        );
        let with_kind = |kind: &str| {
            let mut event = events[0].clone();
            event.kind = kind.into();
            event.hash = event_hash(&event);
            event
        };
        for (status, kind) in [("failed", "apply"), ("reverted", "apply")] {
            let event = with_kind(kind);
            let anchored = RowAnchor {
                event_hash: Some(&event.hash),
                ..row(status)
            };
            let found =
                verify_anchors(std::slice::from_ref(&event), &[anchored], None, false, None);
            assert_eq!(found.len(), 1, "{status}: {found:?}");
            assert_eq!(
                found[0].problem,
                format!(
                    "the state row says {status} but the migration's latest event is a `{kind}`"
                ),
            );
        }
        let event = with_kind("down");
        let reverting = RowAnchor {
            event_hash: Some(&event.hash),
            ..row("reverting")
        };
        let found = verify_anchors(
            std::slice::from_ref(&event),
            &[reverting],
            None,
            false,
            None,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].resolvable, "{found:?}");
        assert!(
            found[0].problem.starts_with(
                "the state row says reverting (0 down statement(s) done) but the migration's \
                 latest event is a `down`, not the start of an attempt"
            ),
            "{found:?}"
        );
        // Each status passes over the events that lead to it.
        for (status, kind) in [
            ("failed", "failure"),
            ("failed", "resolve"),
            ("reverted", "down"),
            ("reverting", "down_failure"),
            ("applied", "down_replace"),
        ] {
            let event = with_kind(kind);
            let anchored = RowAnchor {
                event_hash: Some(&event.hash),
                ..row(status)
            };
            assert_eq!(
                verify_anchors(std::slice::from_ref(&event), &[anchored], None, false, None),
                [],
                "{status} after {kind}"
            );
        }
        // No event for the migration at all.
        for status in ["applied", "failed", "reverted", "reverting"] {
            let found = verify_anchors(&[], &[row(status)], None, false, None);
            assert_eq!(found.len(), 1, "{status}: {found:?}");
            assert!(
                found[0].problem.contains("the log has no event"),
                "{found:?}"
            );
        }
        // A running row with no start event is a finding `migrate resolve` may settle.
        let found = verify_anchors(
            &[],
            &[RowAnchor {
                event_hash: None,
                ..row("running")
            }],
            None,
            false,
            None,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].resolvable, "{found:?}");
    }

    /// A `running` row verifies only on its attempt's latest start or progress event, named
    /// by the row, with the statements done and their checksum that event records; on any
    /// other event, on none, or moved further than the event says, it does not.
    #[test]
    fn a_running_row_verifies_only_on_its_latest_progress_event() {
        let events = chain(1);
        let progress = |kind: &str, done: i32| {
            let mut event = events[0].clone();
            event.kind = kind.into();
            event.detail = Some(format!(
                r#"{{"statements_done": {done}, "statements_total": 4, "done_checksum": "sha256:d{done}"}}"#
            ));
            event.hash = event_hash(&event);
            event
        };
        let sums: Vec<String> = (0..5).map(|i| format!("sha256:d{i}")).collect();
        fn running<'a>(
            event_hash: Option<&'a str>,
            done: i32,
            sums: &'a [String],
        ) -> RowAnchor<'a> {
            RowAnchor {
                version_text: "1",
                status: "running",
                checksum: "sha256:0",
                event_hash,
                statements_done: done,
                done_checksum: Some(&sums[done as usize]),
                down_statements_done: 0,
                down_done_checksum: None,
            }
        }
        for (kind, done) in [
            ("apply_start", 0),
            ("apply_start", 2),
            ("apply_progress", 3),
        ] {
            let event = progress(kind, done);
            let hash = event.hash.as_str();
            let one = std::slice::from_ref(&event);
            assert_eq!(
                verify_anchors(one, &[running(Some(hash), done, &sums)], None, false, None),
                [],
                "{kind} {done}"
            );
            // A forged count: further than the log says.
            let found = verify_anchors(
                one,
                &[running(Some(hash), done + 1, &sums)],
                None,
                false,
                None,
            );
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].problem.contains("statement(s) done") && !found[0].resolvable,
                "{found:?}"
            );
            // Not naming the event.
            let found = verify_anchors(one, &[running(None, done, &sums)], None, false, None);
            assert!(found[0].problem.contains("does not name"), "{found:?}");
        }
        // The checksum of the attempt is the event's.
        let event = progress("apply_progress", 1);
        let mut other = running(Some(&event.hash), 1, &sums);
        other.checksum = "sha256:edited";
        let found = verify_anchors(std::slice::from_ref(&event), &[other], None, false, None);
        assert!(found[0].problem.contains("checksum"), "{found:?}");
        // Over an event that starts no attempt (an older stagegate's run, or a forged row),
        // and with no event at all: a finding `migrate resolve` may settle.
        for kind in ["failure", "resolve", "down", "apply", "baseline", "abandon"] {
            let mut event = events[0].clone();
            event.kind = kind.into();
            event.hash = event_hash(&event);
            let found = verify_anchors(
                std::slice::from_ref(&event),
                &[running(Some(&event.hash), 0, &sums)],
                None,
                false,
                None,
            );
            assert_eq!(found.len(), 1, "{kind}: {found:?}");
            assert!(found[0].resolvable, "{found:?}");
            assert!(
                found[0]
                    .problem
                    .contains(&format!("the migration's latest event is a `{kind}`")),
                "{found:?}"
            );
        }
        let found = verify_anchors(&[], &[running(Some("gone"), 0, &sums)], None, false, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].problem.contains("no event"), "{found:?}");
        // A repair written mid-attempt does not hide the progress event before it.
        let start = progress("apply_start", 0);
        let mut repair = events[0].clone();
        repair.id = 2;
        repair.kind = "repair".into();
        repair.prev_hash = start.hash.clone();
        repair.hash = event_hash(&repair);
        let hash = start.hash.clone();
        assert_eq!(
            verify_anchors(
                &[start, repair],
                &[running(Some(&hash), 0, &sums)],
                None,
                false,
                None
            ),
            []
        );
    }

    /// Events of migration 1 (checksum `sha256:0`), chained, each of `kind` with, for a
    /// progress event, `done` statements of 4 done and their checksum `sha256:d<done>`.
    fn history(steps: &[(&str, i32)]) -> Vec<Event> {
        let mut events: Vec<Event> = Vec::new();
        for (i, (kind, done)) in steps.iter().enumerate() {
            let mut e = event(events.last().map_or(GENESIS, |p: &Event| p.hash.as_str()));
            e.id = i as i64 + 1;
            e.kind = (*kind).into();
            e.checksum = Some("sha256:0".into());
            if Track::of_kind(kind).is_some() {
                e.detail = Some(format!(
                    r#"{{"statements_done": {done}, "statements_total": 4, "done_checksum": "sha256:d{done}"}}"#
                ));
            }
            e.hash = event_hash(&e);
            events.push(e);
        }
        events
    }

    const SUMS: [&str; 5] = [
        "sha256:d0",
        "sha256:d1",
        "sha256:d2",
        "sha256:d3",
        "sha256:d4",
    ];

    /// A row of migration 1 anchored on the newest of `events`: `done` up statements or, for
    /// `reverting`, down statements.
    fn attempt<'a>(events: &'a [Event], status: &'a str, done: i32) -> RowAnchor<'a> {
        let (up, down) = if status == "reverting" {
            (4, done)
        } else {
            (done, 0)
        };
        RowAnchor {
            version_text: "1",
            status,
            checksum: "sha256:0",
            event_hash: events.last().map(|e| e.hash.as_str()),
            statements_done: up,
            done_checksum: Some(SUMS[up as usize]),
            down_statements_done: down,
            down_done_checksum: Some(SUMS[down as usize]),
        }
    }

    fn check(events: &[Event], row: RowAnchor<'_>) -> Vec<Mismatch> {
        verify_anchors(events, &[row], None, false, None)
    }

    /// The one rule for a count: the log's latest progress event's, checksum included when
    /// some are done; with no progress event, none done.
    #[test]
    fn the_log_vouches_for_a_count_only_as_its_latest_progress_event_records_it() {
        let logged = |done: i32, sum: Option<&str>| VouchedProgress {
            statements_done: done,
            statements_total: 4,
            done_checksum: sum.map(str::to_string),
        };
        assert!(VouchedProgress::vouches(None, 0, None));
        assert!(VouchedProgress::vouches(None, 0, Some("sha256:x")));
        assert!(!VouchedProgress::vouches(None, 1, Some("sha256:d1")));
        let two = logged(2, Some("sha256:d2"));
        assert!(VouchedProgress::vouches(Some(&two), 2, Some("sha256:d2")));
        assert!(!VouchedProgress::vouches(Some(&two), 3, Some("sha256:d2")));
        assert!(!VouchedProgress::vouches(Some(&two), 1, Some("sha256:d2")));
        assert!(!VouchedProgress::vouches(
            Some(&two),
            2,
            Some("sha256:other")
        ));
        assert!(!VouchedProgress::vouches(Some(&two), 2, None));
        // None done: the checksum is not read by any resume.
        assert!(VouchedProgress::vouches(
            Some(&logged(0, None)),
            0,
            Some("x")
        ));
        assert!(!VouchedProgress::vouches(Some(&logged(0, None)), 1, None));
    }

    /// A `failed` row's statements done are its attempt's latest progress event's: more (or
    /// fewer) than that, or any with no progress event, is a finding `migrate resolve`
    /// settles; the progress of the down script does not count for the up.
    #[test]
    fn a_failed_row_verifies_only_at_the_count_of_its_latest_progress_event() {
        // Two statements done, the third failed: its failure event follows the progress.
        let events = history(&[
            ("apply_start", 0),
            ("apply_progress", 1),
            ("apply_progress", 2),
            ("failure", 0),
        ]);
        assert_eq!(check(&events, attempt(&events, "failed", 2)), []);
        for forged in [3, 4, 1, 0] {
            let found = check(&events, attempt(&events, "failed", forged));
            assert_eq!(found.len(), 1, "{forged}: {found:?}");
            assert!(found[0].resolvable, "{found:?}");
            assert_eq!(found[0].event, Some(3), "names the progress event");
            assert!(
                found[0].problem.starts_with(&format!(
                    "the state row says {forged} statement(s) done (sha256:d{forged}) but its \
                     latest progress event records 2 (sha256:d2)"
                )),
                "{found:?}"
            );
        }
        // The right count with another checksum.
        let mut other = attempt(&events, "failed", 2);
        other.done_checksum = Some("sha256:edited");
        assert_eq!(check(&events, other).len(), 1);
        // Resolved, then settled by a human at 3: the log holds the 3 before the resolve.
        let settled = history(&[
            ("apply_start", 0),
            ("apply_progress", 1),
            ("failure", 0),
            ("apply_progress", 3),
            ("resolve", 0),
        ]);
        assert_eq!(check(&settled, attempt(&settled, "failed", 3)), []);
        assert_eq!(check(&settled, attempt(&settled, "failed", 1)).len(), 1);
        // A transactional attempt writes no progress: none done verifies, any count does not.
        let plain = history(&[("failure", 0)]);
        assert_eq!(check(&plain, attempt(&plain, "failed", 0)), []);
        let found = check(&plain, attempt(&plain, "failed", 2));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].resolvable, "{found:?}");
        assert!(
            found[0]
                .problem
                .contains("but the log (no progress event) records 0"),
            "{found:?}"
        );
        // Down progress vouches for nothing of the up script.
        let down = history(&[("down_start", 2), ("down_progress", 2), ("failure", 0)]);
        assert_eq!(check(&down, attempt(&down, "failed", 2)).len(), 1);
        // A repair written after the failure changes nothing.
        let mut repaired = events.clone();
        let mut repair = event(&events[3].hash);
        repair.id = 5;
        repair.kind = "repair".into();
        repair.hash = event_hash(&repair);
        repaired.push(repair);
        let row = RowAnchor {
            event_hash: Some(&events[3].hash),
            ..attempt(&events, "failed", 2)
        };
        assert_eq!(check(&repaired, row), []);
    }

    /// A `reverting` row is held to its down script's progress events as a `running` row is
    /// to its up script's (by the same rule): running (or killed), anchored on the latest
    /// `down_start` or `down_progress` at its count; stopped (a failed down, or settled),
    /// at the latest one's count; and with none, a finding `migrate resolve` may settle.
    #[test]
    fn a_reverting_row_verifies_only_on_its_down_progress_events() {
        let running = history(&[
            ("apply", 0),
            ("down_start", 0),
            ("down_progress", 1),
            ("down_progress", 2),
        ]);
        assert_eq!(check(&running, attempt(&running, "reverting", 2)), []);
        // Moved further than the log says: a resume would skip a down statement.
        let found = check(&running, attempt(&running, "reverting", 3));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].resolvable, "{found:?}");
        assert!(
            found[0].problem.starts_with(
                "the state row says 3 down statement(s) done (sha256:d3) but its latest \
                 progress event records 2"
            ),
            "{found:?}"
        );
        // Not naming the latest event.
        let stale = RowAnchor {
            event_hash: Some(&running[2].hash),
            ..attempt(&running, "reverting", 2)
        };
        let found = check(&running, stale);
        assert!(found[0].problem.contains("does not name"), "{found:?}");
        // The up count of a reverting row is not the down script's business.
        let mut up = attempt(&running, "reverting", 2);
        up.statements_done = 1;
        assert_eq!(check(&running, up), []);

        // Stopped: a failed down, then settled at 3 by a human.
        let failed = history(&[
            ("apply", 0),
            ("down_start", 0),
            ("down_progress", 1),
            ("down_failure", 0),
        ]);
        assert_eq!(check(&failed, attempt(&failed, "reverting", 1)), []);
        let found = check(&failed, attempt(&failed, "reverting", 2));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].resolvable, "{found:?}");
        let settled = history(&[
            ("down_start", 0),
            ("down_failure", 0),
            ("down_progress", 3),
            ("resolve", 0),
        ]);
        assert_eq!(check(&settled, attempt(&settled, "reverting", 3)), []);

        // Up progress does not vouch for a down: a reverting row anchored on an apply (a
        // down an older stagegate left) is a finding `migrate resolve` may settle.
        let legacy = history(&[("apply_start", 0), ("apply_progress", 1), ("apply", 0)]);
        let found = check(&legacy, attempt(&legacy, "reverting", 1));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].resolvable, "{found:?}");
        assert!(
            found[0]
                .problem
                .contains("older than state schema 12 that was interrupted"),
            "{found:?}"
        );
        // Nor does an up attempt's progress, newest or not, vouch for a reverting row (nor a
        // down's for a running one): each is held to its own script's events.
        let up = history(&[("apply_start", 0), ("apply_progress", 1)]);
        let found = check(&up, attempt(&up, "reverting", 0));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].resolvable && found[0].problem.contains("is a `apply_progress`, not the"),
            "{found:?}"
        );
        let found = check(&running, attempt(&running, "running", 2));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].resolvable && found[0].problem.contains("is a `down_progress`, not the"),
            "{found:?}"
        );
        // Its down events gone with the row still naming them: not vouched either.
        let found = check(&running[..1], attempt(&running, "reverting", 2));
        assert_eq!(found.len(), 1, "{found:?}");
        // A log that speaks of a down whose row is gone.
        let found = verify_anchors(&running, &[], None, false, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .problem
                .contains("records a `down_progress` of this migration but there is no state row"),
            "{found:?}"
        );
    }
}
