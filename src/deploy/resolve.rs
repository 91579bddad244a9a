//! `migrate resolve`: a human says a failed attempt's damage is repaired.
//!
//! The failed row stays `failed`, now with the time and reason of the resolution, and a
//! `resolve` event is appended. The next apply runs the migration again; a no-transaction one
//! resumes at the statement that failed (the ones before it stay applied).

use std::time::Duration;

use super::LocalMigration;
use crate::cli::StatementOutcome;
use crate::config::Environment;
use crate::db::state::{self, StateStore};
use crate::exit;
use crate::progress::Sink;
use crate::source::Version;

/// Resolves the failed attempt of `version` in `env`; returns the recorded version's label.
pub async fn resolve(
    env: &Environment,
    version: &Version,
    reason: &str,
    statement: Option<StatementOutcome>,
    local: Option<&LocalMigration>,
    lock_wait: Duration,
    progress: &Sink,
) -> anyhow::Result<String> {
    if crate::visible::is_blank(reason) {
        anyhow::bail!("--reason must say what was repaired (it is recorded in the event log)");
    }
    let lock = super::runner::lock_alone(env, lock_wait, progress).await?;
    let result = async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        let rows = store.migrations().await?;
        let Some(row) = rows
            .iter()
            .find(|row| Version::parse(&row.version_text).is_some_and(|v| v == *version))
        else {
            anyhow::bail!(
                "`{}` has no record of migration {version}; nothing to resolve",
                env.name
            );
        };
        let label = format!("{}_{}", row.version_text, row.name);
        if row.status == state::RowStatus::Reverting {
            let resolved =
                resolve_down(env, &mut store, row, &label, reason, statement, local).await;
            store.close().await;
            return resolved.map(|()| label);
        }
        // A statement the server may or may not have finished needs a human's word.
        let settled = match (row.running_statement, statement) {
            (Some(k), None) => {
                return Err(exit::refused(anyhow::anyhow!(
                    "{label}: statement {k} was running on the server when its run died, and \
                     whether it took effect is not known; check the database, then say so: {}",
                    super::statement_hint(&version.to_string(), &env.name)
                )));
            }
            (Some(k), Some(outcome)) => {
                let Some(local) = local else {
                    anyhow::bail!("{label}: no local file, so its statements cannot be counted");
                };
                let done = match outcome {
                    StatementOutcome::Ran => k,
                    StatementOutcome::NotRun => k - 1,
                };
                let statements = super::runner::sql_statements(&local.up.text);
                let count = usize::try_from(done.max(0))
                    .unwrap_or(0)
                    .min(statements.len());
                Some((
                    done,
                    super::runner::prefix_checksum(&local.up.text, &statements[..count]),
                ))
            }
            (None, Some(_)) => anyhow::bail!(
                "{label}: --statement is for an attempt whose last statement's outcome is \
                 unknown; this one has none"
            ),
            (None, None) => None,
        };
        let reason = match (row.running_statement, statement) {
            (Some(k), Some(StatementOutcome::Ran)) => format!("{reason} (statement {k}: ran)"),
            (Some(k), Some(StatementOutcome::NotRun)) => {
                format!("{reason} (statement {k}: not run)")
            }
            _ => reason.to_string(),
        };
        let resolved = store
            .resolve(
                &row.version,
                state::os_user().as_deref(),
                &reason,
                settled.as_ref().map(|(done, sum)| (*done, sum.as_str())),
            )
            .await
            .map_err(exit::execution)?;
        store.close().await;
        if !resolved {
            anyhow::bail!(
                "{label} has no unresolved failed attempt in `{}` (its status is {}{})",
                env.name,
                row.status.as_str(),
                if row.resolved_at.is_some() {
                    ", already resolved"
                } else {
                    ""
                }
            );
        }
        Ok(label)
    }
    .await;
    lock.release().await;
    result
}

/// A partly reverted no-transaction migration whose down statement's end was not recorded
/// (the process died while the server ran it): a person says whether it took effect.
async fn resolve_down(
    env: &Environment,
    store: &mut StateStore,
    row: &state::MigrationRow,
    label: &str,
    reason: &str,
    statement: Option<StatementOutcome>,
    local: Option<&LocalMigration>,
) -> anyhow::Result<()> {
    let version = &row.version_text;
    let Some(k) = row.running_statement else {
        anyhow::bail!(
            "{label} is partly reverted, and no down statement's outcome is unknown: run \
             `stagegate migrate down --env {}` again to finish it (nothing to resolve)",
            env.name
        );
    };
    let Some(outcome) = statement else {
        return Err(exit::refused(anyhow::anyhow!(
            "{label}: down statement {k} was running on the server when its run died, and \
             whether it took effect is not known; check the database, then say so: {}",
            super::statement_hint(version, &env.name)
        )));
    };
    let Some(local) = local else {
        anyhow::bail!("{label}: no local file, so its down statements cannot be counted");
    };
    let Some(down) = local.migration.load_down()? else {
        anyhow::bail!("{label}: its down script is gone, so its statements cannot be counted");
    };
    let done = match outcome {
        StatementOutcome::Ran => k,
        StatementOutcome::NotRun => k - 1,
    };
    let statements = super::runner::sql_statements(&down.text);
    let count = usize::try_from(done.max(0))
        .unwrap_or(0)
        .min(statements.len());
    let checksum = super::runner::prefix_checksum(&down.text, &statements[..count]);
    let reason = match outcome {
        StatementOutcome::Ran => format!("{reason} (down statement {k}: ran)"),
        StatementOutcome::NotRun => format!("{reason} (down statement {k}: not run)"),
    };
    let resolved = store
        .resolve_down(
            &row.version,
            state::os_user().as_deref(),
            &reason,
            done,
            &checksum,
        )
        .await
        .map_err(exit::execution)?;
    if !resolved {
        anyhow::bail!(
            "{label}: its state changed meanwhile; look at `stagegate migrate status --env {}`",
            env.name
        );
    }
    Ok(())
}
