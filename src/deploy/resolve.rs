//! `migrate resolve`: a human says a failed attempt's damage is repaired.
//!
//! The failed row stays `failed`, now with the time and reason of the resolution, and a
//! `resolve` event is appended. The next apply runs the migration again; a no-transaction one
//! resumes at the statement that failed (the ones before it stay applied).

use std::time::Duration;

use crate::config::Environment;
use crate::db::lock::AdvisoryLock;
use crate::db::state::{self, StateStore};
use crate::exit;
use crate::printer::Printer;
use crate::source::Version;

/// Resolves the failed attempt of `version` in `env`; returns the recorded version's label.
pub async fn resolve(
    env: &Environment,
    version: &Version,
    reason: &str,
    lock_wait: Duration,
    printer: &Printer,
) -> anyhow::Result<String> {
    if reason.trim().is_empty() {
        anyhow::bail!("--reason must say what was repaired (it is recorded in the event log)");
    }
    let lock = AdvisoryLock::acquire(&env.url, lock_wait, |holder| {
        printer.note(&format!(
            "waiting for another stagegate run on `{}` ({})",
            env.name,
            holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
        ));
    })
    .await
    .map_err(|e| match e {
        crate::db::lock::LockError::Busy { .. } => exit::refused(e),
        other => exit::execution(other),
    })?;
    let result = async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        let rows = store.migrations().await.map_err(|e| match e {
            state::StateError::NewerSchema { .. } => exit::refused(e),
            other => exit::execution(other),
        })?;
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
        let resolved = store
            .resolve(&row.version, state::os_user().as_deref(), reason)
            .await
            .map_err(exit::execution)?;
        store.close().await;
        if !resolved {
            anyhow::bail!(
                "{label} has no unresolved failed attempt in `{}` (its status is {}{})",
                env.name,
                match row.status {
                    state::RowStatus::Applied => "applied",
                    state::RowStatus::Failed => "failed",
                    state::RowStatus::Running => "running",
                },
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
