//! The promotion gate: an environment with `promote_from = "staging"` only receives
//! migrations that succeeded on staging with the same up, down and verify scripts, and (with
//! `min_soak`) long enough ago. Staging's state is read live, in one snapshot, and must verify
//! against staging's own event log (as `audit --verify` checks it) and belong to staging (its
//! binding); if it cannot be read or does not verify, the gate refuses: it never passes on what
//! it could not check. The soak counts from the event that recorded the migration there (an
//! `apply`, or a `baseline`, never a date another runner's table gave).

use std::time::Duration;

use time::OffsetDateTime;

use super::Entry;
use super::plan::Gate;
use crate::config::Environment;
use std::collections::HashMap;

use crate::db::events::Event;
use crate::db::state::{MigrationRow, RowStatus, Snapshot, StateStore};
use crate::db::trust;
use crate::human::span;
use crate::source::Script;

/// Checks `pending` (the migrations about to run on `env`) against `source`'s recorded
/// state, as of `now`.
pub(crate) async fn gate(env: &Environment, source: &Environment, pending: &[&Entry]) -> Gate {
    let snapshot = match read(source).await {
        Ok(snapshot) => snapshot,
        Err(message) => {
            return refuse(format!(
                "promote_from = \"{}\": cannot read `{}`'s state ({message}); the gate cannot \
                 pass on what it could not check",
                source.name, source.name
            ));
        }
    };
    if let Some(binding) = &snapshot.binding
        && binding.environment != source.name
    {
        return refuse(format!(
            "promote_from = \"{from}\": the database `{from}` names belongs to `{}`, not to \
             `{from}`; the gate reads only `{from}`'s own state",
            binding.environment,
            from = source.name
        ));
    }
    let verdict = trust::verify(&snapshot, None);
    if !verdict.verified() {
        return refuse(format!(
            "promote_from = \"{from}\": `{from}`'s state does not match its event log \
             (`stagegate audit --env {from} --verify` says the same), so it cannot vouch for \
             anything: {}",
            verdict.findings().join("; "),
            from = source.name
        ));
    }
    let latest = trust::latest_events(&snapshot.events);
    judge(
        env,
        source,
        pending,
        &snapshot.rows,
        &latest,
        OffsetDateTime::now_utc(),
    )
}

async fn read(source: &Environment) -> Result<Snapshot, String> {
    let mut store = StateStore::connect(&source.url)
        .await
        .map_err(|e| e.to_string())?;
    let snapshot = store.snapshot().await.map_err(|e| e.to_string());
    store.close().await;
    snapshot
}

/// The verdict on `pending` from `source`'s verified rows and each migration's latest event
/// there (pure).
pub(crate) fn judge(
    env: &Environment,
    source: &Environment,
    pending: &[&Entry],
    rows: &[MigrationRow],
    latest: &HashMap<&str, &Event>,
    now: OffsetDateTime,
) -> Gate {
    let from = &source.name;
    let soak = env.min_soak.map(|s| s.0);
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut youngest_ok: Option<Duration> = None;
    for entry in pending {
        let Some(local) = &entry.local else { continue };
        let label = entry.label();
        let canonical = entry.version.canonical();
        let Some(row) = rows.iter().find(|r| r.version == canonical) else {
            problems.push(format!("{label}: not applied on `{from}`"));
            continue;
        };
        match row.status {
            RowStatus::Applied => {}
            RowStatus::Failed => {
                problems.push(format!("{label}: failed on `{from}` (not applied there)"));
                continue;
            }
            RowStatus::Running => {
                problems.push(format!(
                    "{label}: still running, or interrupted, on `{from}` (not applied there)"
                ));
                continue;
            }
            RowStatus::Reverted => {
                problems.push(format!(
                    "{label}: reverted on `{from}` (migrate down; not applied there)"
                ));
                continue;
            }
            RowStatus::Reverting => {
                problems.push(format!(
                    "{label}: partly reverted on `{from}` (not applied there)"
                ));
                continue;
            }
            RowStatus::Abandoned => {
                problems.push(format!(
                    "{label}: abandoned on `{from}` after it failed (not applied there)"
                ));
                continue;
            }
        }
        let (down, verify) = match (local.migration.load_down(), local.migration.load_verify()) {
            (Ok(down), Ok(verify)) => (down, verify),
            (Err(error), _) | (_, Err(error)) => {
                problems.push(format!("{label}: {error}"));
                continue;
            }
        };
        let mut differs = Vec::new();
        let same = |recorded: Option<&str>, now: Option<&Script>| match (recorded, now) {
            // A down declared a no-op there: the file has none with SQL in it.
            (None | Some(super::NOOP), None) => true,
            (Some(recorded), Some(now)) => now.matches(recorded),
            _ => false,
        };
        if !local.up.matches(&row.checksum) {
            differs.push(format!(
                "up {} there, {} here",
                row.checksum, local.up.checksum
            ));
        }
        if !same(row.down_checksum.as_deref(), down.as_ref()) {
            differs.push(format!(
                "down {} there, {} here",
                row.down_checksum.as_deref().unwrap_or("none"),
                down.as_ref().map_or("none", |d| d.checksum.as_str())
            ));
        }
        if !same(row.verify_checksum.as_deref(), verify.as_ref()) {
            differs.push(format!(
                "verify {} there, {} here",
                row.verify_checksum.as_deref().unwrap_or("none"),
                verify.as_ref().map_or("none", |v| v.checksum.as_str())
            ));
        }
        if !differs.is_empty() {
            problems.push(format!(
                "{label}: different checksum than the one applied on `{from}` ({})",
                differs.join("; ")
            ));
            continue;
        }
        // The same revision file is not enough where its SQL is rendered (Alembic): the SQL
        // must be the SQL that ran there.
        if let (Some(there), Some(here)) = (&row.rendered_checksum, &local.up.rendered_checksum)
            && there != here.as_str()
        {
            problems.push(format!(
                "{label}: the file is the one applied on `{from}`, but it renders to other SQL \
                 now ({here}) than the SQL `{from}` ran ({there}, rendered by {}): a different \
                 Alembic or SQLAlchemy renders it differently; render it with the versions \
                 `{from}` used",
                row.rendered_by.as_deref().unwrap_or("an unknown version")
            ));
            continue;
        }
        // The event that recorded it applied there: the row verified against it. (After a
        // replaced down script, that event: later than the apply.)
        let Some(event) = latest.get(row.version_text.as_str()).filter(|e| {
            matches!(
                e.kind.as_str(),
                "apply" | "baseline" | "down_failure" | "down_replace"
            )
        }) else {
            problems.push(format!(
                "{label}: `{from}` has no event that records it applied"
            ));
            continue;
        };
        if let Some(runner) = &row.baselined_from {
            notes.push(format!(
                "{label}: baselined on `{from}` from {runner}'s table, not run by stagegate; \
                 its soak counts from the baseline event ({})",
                crate::json::utc_text(event.at)
            ));
        }
        if let Some(soak) = soak {
            // (After a failed down, from that event: later than the apply, so never shorter
            // a wait than the truth.)
            let applied_at = event.at;
            let age = (now - applied_at).max(time::Duration::ZERO);
            let age = Duration::from_secs(age.whole_seconds().max(0) as u64);
            if age < soak {
                problems.push(format!(
                    "{label}: applied on `{from}` {} ago, min_soak is {}: {} remaining",
                    span(age),
                    span(soak),
                    span(soak - age)
                ));
                continue;
            }
            youngest_ok = Some(youngest_ok.map_or(age, |y| y.min(age)));
        }
    }
    let notes: String = notes.iter().map(|n| format!("\n      {n}")).collect();
    if problems.is_empty() {
        return Gate {
            name: "promotion",
            status: "pass",
            detail: format!(
                "promote_from = \"{from}\": all {} pending migration(s) succeeded on `{from}` \
                 with the same checksums{}{notes}",
                pending.len(),
                match (soak, youngest_ok) {
                    (Some(soak), Some(age)) =>
                        format!(", the newest {} ago (min_soak {})", span(age), span(soak)),
                    _ => String::new(),
                }
            ),
        };
    }
    let mut detail = format!(
        "promote_from = \"{from}\": {} of {} pending migration(s) cannot be promoted (apply them \
         to `{from}` first; there is no flag that skips this gate):",
        problems.len(),
        pending.len()
    );
    for problem in problems {
        detail.push_str("\n      ");
        detail.push_str(&problem);
    }
    detail.push_str(&notes);
    refuse(detail)
}

fn refuse(detail: String) -> Gate {
    Gate {
        name: "promotion",
        status: "refuse",
        detail,
    }
}
