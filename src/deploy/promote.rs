//! The promotion gate: an environment with `promote_from = "staging"` only receives
//! migrations that succeeded on staging with the same up, down and verify scripts, and (with
//! `min_soak`) long enough ago. Staging's state is read live; if it cannot be read, the gate
//! refuses: it never passes on what it could not check.

use std::time::Duration;

use time::OffsetDateTime;

use super::Entry;
use super::plan::Gate;
use crate::config::Environment;
use crate::db::state::{MigrationRow, RowStatus, StateStore};
use crate::human::span;
use crate::source::Checksum;

/// Checks `pending` (the migrations about to run on `env`) against `source`'s recorded
/// state, as of `now`.
pub async fn gate(env: &Environment, source: &Environment, pending: &[&Entry]) -> Gate {
    let rows = match read(source).await {
        Ok(rows) => rows,
        Err(message) => {
            return refuse(format!(
                "promote_from = \"{}\": cannot read `{}`'s state ({message}); the gate cannot \
                 pass on what it could not check",
                source.name, source.name
            ));
        }
    };
    judge(env, source, pending, &rows, OffsetDateTime::now_utc())
}

async fn read(source: &Environment) -> Result<Vec<MigrationRow>, String> {
    let mut store = StateStore::connect(&source.url)
        .await
        .map_err(|e| e.to_string())?;
    let rows = store.migrations().await.map_err(|e| e.to_string());
    store.close().await;
    rows
}

/// The verdict on `pending` from `source`'s rows (pure).
pub fn judge(
    env: &Environment,
    source: &Environment,
    pending: &[&Entry],
    rows: &[MigrationRow],
    now: OffsetDateTime,
) -> Gate {
    let from = &source.name;
    let soak = env.min_soak.map(|s| s.0);
    let mut problems = Vec::new();
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
        }
        let (down, verify) = match (local.migration.load_down(), local.migration.load_verify()) {
            (Ok(down), Ok(verify)) => (down, verify),
            (Err(error), _) | (_, Err(error)) => {
                problems.push(format!("{label}: {error}"));
                continue;
            }
        };
        let mut differs = Vec::new();
        let same =
            |recorded: Option<&str>, now: Option<&Checksum>| recorded == now.map(Checksum::as_str);
        if row.checksum != local.up.checksum.as_str() {
            differs.push(format!(
                "up {} there, {} here",
                row.checksum, local.up.checksum
            ));
        }
        if !same(
            row.down_checksum.as_deref(),
            down.as_ref().map(|d| &d.checksum),
        ) {
            differs.push(format!(
                "down {} there, {} here",
                row.down_checksum.as_deref().unwrap_or("none"),
                down.as_ref().map_or("none", |d| d.checksum.as_str())
            ));
        }
        if !same(
            row.verify_checksum.as_deref(),
            verify.as_ref().map(|v| &v.checksum),
        ) {
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
                "{label}: the file is the one applied on `{from}`, but it renders to other SQL                  now ({here}) than the SQL `{from}` ran ({there}, rendered by {}): a different                  Alembic or SQLAlchemy renders it differently; render with the versions `{from}`                  used, or apply the new rendering on `{from}` first",
                row.rendered_by.as_deref().unwrap_or("an unknown version")
            ));
            continue;
        }
        if let Some(soak) = soak {
            let applied_at = row.finished_at.unwrap_or(row.started_at);
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
    if problems.is_empty() {
        return Gate {
            name: "promotion",
            status: "pass",
            detail: format!(
                "promote_from = \"{from}\": all {} pending migration(s) succeeded on `{from}` \
                 with the same checksums{}",
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
    refuse(detail)
}

fn refuse(detail: String) -> Gate {
    Gate {
        name: "promotion",
        status: "refuse",
        detail,
    }
}
