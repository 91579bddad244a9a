//! `migrate replace-down`: the way back repaired. A down script is recorded when its
//! migration is applied, and `migrate down` runs only that one; a wrong down (or one that was
//! never written) would otherwise block every rollback past its migration for good.
//!
//! Here a person records the down script as the file is now, or declares that undoing the
//! migration needs nothing (`--no-op`: a `VALIDATE CONSTRAINT`, a comment). It is gated like
//! an apply (the environment's confirmation) and recorded: a `down_replace` event carries the
//! reason and both down checksums. The up script must still be the one applied.

use std::time::Duration;

use super::{LocalMigration, NOOP, confirm};
use crate::config::Environment;
use crate::db::state::{self, RowStatus, StateStore};
use crate::exit;
use crate::progress::Sink;
use crate::source::Version;

pub(crate) struct ReplaceDownRequest<'a> {
    /// `--reason`.
    pub reason: &'a str,
    /// `--no-op`: undoing the migration needs no SQL.
    pub no_op: bool,
    pub confirm: confirm::ConfirmRequest,
    pub migrations_dir: &'a std::path::Path,
}

/// What was replaced.
#[derive(Debug)]
pub(crate) struct Replaced {
    pub label: String,
    pub old: Option<String>,
    pub new: String,
}

pub(crate) async fn replace_down(
    env: &Environment,
    version: &Version,
    request: &ReplaceDownRequest<'_>,
    local: Option<&LocalMigration>,
    lock_wait: Duration,
    progress: &Sink,
) -> anyhow::Result<Replaced> {
    if crate::visible::is_blank(request.reason) {
        anyhow::bail!(
            "--reason must say why the down script changes (it is recorded in the event log)"
        );
    }
    let Some(local) = local else {
        anyhow::bail!(
            "no local migration has version {version}: the down script is read from its file"
        );
    };
    let label = local.migration.label();
    // The new down, read and checked before anything is asked or locked.
    let new = if request.no_op {
        NOOP.to_string()
    } else {
        let Some(down) = local.migration.load_down()? else {
            anyhow::bail!(
                "{label} has no down script with SQL in it{}; write it, or declare that undoing \
                 the migration needs nothing: `stagegate migrate replace-down --env {} {version} \
                 --no-op --reason \"...\"`",
                local
                    .migration
                    .down
                    .as_ref()
                    .map_or(String::new(), |d| format!(" ({})", d.path.display())),
                env.name
            );
        };
        super::runner::check_script(&down, !down.settings.no_transaction)?;
        down.checksum.to_string()
    };
    confirm::check_flags(env, &request.confirm, "replace-down")?;
    let lock = super::runner::lock_alone(env, lock_wait, progress).await?;
    let result = async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        let result = run(env, local, &label, new, request, &mut store).await;
        store.close().await;
        result
    }
    .await;
    lock.release().await;
    result
}

async fn run(
    env: &Environment,
    local: &LocalMigration,
    label: &str,
    new: String,
    request: &ReplaceDownRequest<'_>,
    store: &mut StateStore,
) -> anyhow::Result<Replaced> {
    let rows = super::gates::trusted_snapshot(env, store, "replace-down on")
        .await?
        .rows;
    let canonical = local.canonical();
    let Some(row) = rows.iter().find(|row| row.version == canonical) else {
        anyhow::bail!(
            "`{}` has no record of {label}: only the down script of an applied migration is \
             recorded (a pending one's is read when it is applied)",
            env.name
        );
    };
    if row.status != RowStatus::Applied {
        anyhow::bail!(
            "{label} is {} on `{}`, not applied: only an applied migration's down script can be \
             replaced",
            row.status.as_str(),
            env.name
        );
    }
    if !local.up.matches(&row.checksum) {
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to replace the down script of {label} on `{}`: its up file {} no longer \
             matches what was applied (recorded {}, now {}), so a down written for it may not \
             undo what ran; restore the up file first",
            env.name,
            local.up.path.display(),
            row.checksum,
            local.up.checksum
        )));
    }
    let old = row.down_checksum.clone();
    if old.as_deref() == Some(new.as_str()) {
        anyhow::bail!(
            "{label}: `{}` already records {} as its down; nothing to replace",
            env.name,
            describe(Some(&new))
        );
    }
    let what = format!("replace the down script of {label}");
    let summary = format!(
        "About to {what} on `{}`:\n  recorded now: {}\n  new:          {}\n",
        env.name,
        describe(old.as_deref()),
        describe(Some(&new))
    );
    let os_user = state::os_user();
    confirm::gate(
        env,
        confirm::ConfirmedStep {
            action: "replace-down",
            summary,
            what,
            migrations: vec![row.version_text.clone()],
            plan_hash: None,
            request: &request.confirm,
            migrations_dir: request.migrations_dir,
            os_user: os_user.as_deref(),
        },
        store,
    )
    .await?;
    let detail = serde_json::json!({
        "reason": request.reason.trim(),
        "old_down_checksum": old,
        "new_down_checksum": new,
    })
    .to_string();
    store
        .replace_down(
            &row.version,
            &row.version_text,
            &row.name,
            &row.checksum,
            old.as_deref(),
            &new,
            os_user.as_deref(),
            &detail,
        )
        .await
        .map_err(exit::execution)?;
    Ok(Replaced {
        label: label.to_string(),
        old,
        new,
    })
}

/// A recorded down checksum as people read it.
pub(crate) fn describe(down: Option<&str>) -> String {
    match down {
        None => "no down script".to_string(),
        Some(NOOP) => "a no-op (nothing to undo)".to_string(),
        Some(checksum) => format!("down script {checksum}"),
    }
}
