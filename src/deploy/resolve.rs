//! `migrate resolve`: a human says a failed attempt's damage is repaired.
//!
//! The failed row stays `failed`, now with the time and reason of the resolution, and a
//! `resolve` event is appended. The next apply runs the migration again; a no-transaction one
//! resumes at the statement that failed (the ones before it stay applied).

use std::time::Duration;

use super::{LocalMigration, confirm};
use crate::config::Environment;
use crate::db::events::{self, Track, VouchedProgress};
use crate::db::state::{self, StateStore};
use crate::exit;
use crate::progress::Sink;
use crate::source::Version;

/// `--statement`: what a human found of a statement whose end was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatementOutcome {
    /// It took effect: apply resumes after it
    Ran,
    /// It did not take effect: apply runs it again
    NotRun,
}

impl StatementOutcome {
    /// As the resolve event's reason records it.
    fn word(self) -> &'static str {
        match self {
            StatementOutcome::Ran => "ran",
            StatementOutcome::NotRun => "not run",
        }
    }
}

/// What `migrate resolve` was asked.
pub(crate) struct ResolveRequest<'a> {
    /// `--reason`: what was repaired, or why the migration is given up.
    pub reason: &'a str,
    /// `--statement`.
    pub statement: Option<StatementOutcome>,
    /// `--abandon`: give the failed migration up instead of running it again.
    pub abandon: bool,
    /// `--confirm` (with `--reason`), for a gated environment.
    pub confirm: confirm::ConfirmRequest,
    /// The migrations directory, whose git commit a confirmation records.
    pub migrations_dir: &'a std::path::Path,
}

/// Resolves (or abandons) the failed attempt of `version` in `env`, after the environment's
/// confirmation gate; returns the recorded version's label.
pub(crate) async fn resolve(
    env: &Environment,
    version: &Version,
    request: &ResolveRequest<'_>,
    local: Option<&LocalMigration>,
    lock_wait: Duration,
    progress: &Sink,
) -> anyhow::Result<String> {
    let (reason, statement) = (request.reason, request.statement);
    let action = if request.abandon {
        "abandon"
    } else {
        "resolve"
    };
    if crate::visible::is_blank(reason) {
        anyhow::bail!(
            "--reason must say what was repaired or why it is given up (it is recorded in the \
             event log)"
        );
    }
    // Flags that can never pass refuse before any connection is made.
    confirm::check_flags(env, &request.confirm, action)?;
    let lock = super::runner::lock_alone(env, lock_wait, progress).await?;
    let result = async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        // Only on this environment's database, with rows that verify (but the one settled).
        let snapshot =
            super::gates::settling_snapshot(env, &mut store, "resolve on", Some(version)).await?;
        let unvouched = super::gates::unvouched(&snapshot, version);
        let Some(row) = snapshot
            .rows
            .iter()
            .find(|row| version.matches(&row.version_text))
        else {
            anyhow::bail!(
                "`{}` has no record of migration {version}; nothing to resolve",
                env.name
            );
        };
        let label = format!("{}_{}", row.version_text, row.name);
        if request.abandon {
            let abandonable = matches!(
                row.status,
                state::RowStatus::Failed | state::RowStatus::Running
            );
            if !abandonable {
                anyhow::bail!(
                    "{label} is {} in `{}`: only a failed or interrupted attempt can be \
                     abandoned",
                    row.status.as_str(),
                    env.name
                );
            }
            if let (Some(pid), Some(since)) = (row.running_pid, row.running_since)
                && backend_alive(&mut store, pid, since).await?
            {
                return Err(exit::refused(anyhow::anyhow!(
                    "{label}: statement {} is still running on the server (pid {pid}); wait \
                     for it to end, or cancel it, before giving the migration up",
                    row.running_statement.unwrap_or(0)
                )));
            }
        }
        confirm_step(env, &mut store, request, action, row, &label).await?;
        if request.abandon {
            let abandoned = store
                .abandon(&row.version, state::os_user().as_deref(), reason)
                .await
                .map_err(exit::execution)?;
            store.close().await;
            if !abandoned {
                anyhow::bail!(
                    "{label} has no failed attempt to abandon in `{}` (another run changed it)",
                    env.name
                );
            }
            return Ok(label);
        }
        let logged = |track| {
            unvouched
                .then(|| events::logged_progress(&snapshot.events, &row.version_text, track))
                .flatten()
        };
        if row.status == state::RowStatus::Reverting {
            let request = DownSettling {
                reason,
                statement,
                unvouched,
                logged: logged(Track::Down),
            };
            let resolved =
                resolve_down(env, &mut store, row, &label, &request, local, progress).await;
            store.close().await;
            return resolved.map(|()| label);
        }
        // A statement the server may or may not have finished needs a human's word; a count
        // the log does not vouch for is put back at the log's (with none, the row's stands
        // on the human's word).
        let (settled, reason) = match (row.running_statement, statement) {
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
                let (done, checksum) = counted(&local.up.text, k, outcome);
                (
                    Some((done, Some(checksum), unvouched)),
                    format!("{reason} (statement {k}: {})", outcome.word()),
                )
            }
            (None, Some(_)) => anyhow::bail!(
                "{label}: --statement is for an attempt whose last statement's outcome is \
                 unknown; this one has none"
            ),
            (None, None) if unvouched => {
                let (done, checksum, whose) = recount(
                    progress,
                    &label,
                    "statement(s)",
                    logged(Track::Up),
                    (row.statements_done, row.done_checksum.clone()),
                );
                (
                    Some((done, checksum, true)),
                    format!("{reason} ({done} statement(s) done, {whose})"),
                )
            }
            (None, None) => (None, reason.to_string()),
        };
        let resolved = store
            .resolve(
                &row.version,
                state::os_user().as_deref(),
                &reason,
                settled.as_ref().map(|(done, sum, reopen)| state::Settled {
                    done: *done,
                    done_checksum: sum.as_deref(),
                    reopen: *reopen,
                }),
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

/// Whether the backend that ran an interrupted statement still runs (the same pid, started
/// before the statement was).
async fn backend_alive(
    store: &mut StateStore,
    pid: i32,
    since: time::OffsetDateTime,
) -> anyhow::Result<bool> {
    let alive: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND backend_start <= $2)",
    )
    .bind(pid)
    .bind(since)
    .fetch_one(store.connection())
    .await
    .map_err(|e| exit::execution(anyhow::anyhow!(state::describe(&e))))?;
    Ok(alive)
}

/// The environment's confirmation gate for a resolve or an abandon of `row`, recorded in the
/// event log like an apply's.
async fn confirm_step(
    env: &Environment,
    store: &mut StateStore,
    request: &ResolveRequest<'_>,
    action: &'static str,
    row: &state::MigrationRow,
    label: &str,
) -> anyhow::Result<()> {
    // An ungated environment: the resolve event itself records the reason.
    if env.confirm.is_none() && request.confirm.flag.is_none() {
        return Ok(());
    }
    let what = if request.abandon {
        format!("abandon the failed attempt of {label}")
    } else {
        format!("resolve the failed attempt of {label}")
    };
    let summary = format!(
        "About to {what} on `{}`:\n  status {}, {} of {} statement(s) done{}\n",
        env.name,
        row.status.as_str(),
        row.statements_done,
        row.statements_total,
        row.error
            .as_deref()
            .map_or(String::new(), |e| format!("\n  error: {e}"))
    );
    confirm::gate(
        env,
        confirm::ConfirmedStep {
            action,
            summary,
            what,
            migrations: vec![row.version_text.clone()],
            plan_hash: None,
            request: &request.confirm,
            migrations_dir: request.migrations_dir,
            os_user: state::os_user().as_deref(),
        },
        store,
    )
    .await
}

/// What `migrate resolve` was asked of a partly reverted migration, and what the log says of
/// it.
struct DownSettling<'a> {
    reason: &'a str,
    statement: Option<StatementOutcome>,
    /// The row's count is not one the log vouches for (see [`super::gates::unvouched`]).
    unvouched: bool,
    /// The log's count of its down statements, when `unvouched`.
    logged: Option<VouchedProgress>,
}

/// A partly reverted no-transaction migration whose down statement's end was not recorded
/// (the process died while the server ran it): a person says whether it took effect. Or one
/// whose count of down statements done the log does not vouch for: it is put back at the
/// log's count (with none, the row's stands on the person's word).
async fn resolve_down(
    env: &Environment,
    store: &mut StateStore,
    row: &state::MigrationRow,
    label: &str,
    request: &DownSettling<'_>,
    local: Option<&LocalMigration>,
    progress: &Sink,
) -> anyhow::Result<()> {
    let version = &row.version_text;
    let (reason, unvouched) = (request.reason, request.unvouched);
    let (done, checksum, reason) = match (row.running_statement, request.statement) {
        (None, None) if unvouched => {
            let (done, checksum, whose) = recount(
                progress,
                label,
                "down statement(s)",
                request.logged.clone(),
                (
                    row.down_statements_done.unwrap_or(0),
                    row.down_done_checksum.clone(),
                ),
            );
            let reason = format!("{reason} ({done} down statement(s) done, {whose})");
            (done, checksum, reason)
        }
        (None, _) => anyhow::bail!(
            "{label} is partly reverted, and no down statement's outcome is unknown: run \
             `stagegate migrate down --env {}` again to finish it (nothing to resolve)",
            env.name
        ),
        (Some(k), None) => {
            return Err(exit::refused(anyhow::anyhow!(
                "{label}: down statement {k} was running on the server when its run died, and \
                 whether it took effect is not known; check the database, then say so: {}",
                super::statement_hint(version, &env.name)
            )));
        }
        (Some(k), Some(outcome)) => {
            let Some(local) = local else {
                anyhow::bail!("{label}: no local file, so its down statements cannot be counted");
            };
            let Some(down) = local.migration.load_down()? else {
                anyhow::bail!(
                    "{label}: its down script is gone, so its statements cannot be counted"
                );
            };
            let (done, checksum) = counted(&down.text, k, outcome);
            let reason = format!("{reason} (down statement {k}: {})", outcome.word());
            (done, Some(checksum), reason)
        }
    };
    let resolved = store
        .resolve_down(
            &row.version,
            state::os_user().as_deref(),
            &reason,
            state::Settled {
                done,
                done_checksum: checksum.as_deref(),
                reopen: unvouched,
            },
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

/// Statements done of `script` once statement `k`'s outcome is known, and their checksum.
fn counted(script: &str, k: i32, outcome: StatementOutcome) -> (i32, String) {
    let done = match outcome {
        StatementOutcome::Ran => k,
        StatementOutcome::NotRun => k - 1,
    };
    let statements = super::runner::sql_statements(script);
    let count = usize::try_from(done.max(0))
        .unwrap_or(0)
        .min(statements.len());
    (
        done,
        super::runner::prefix_checksum(script, &statements[..count]),
    )
}

/// The count a row the log does not vouch for is settled at: the log's (`logged`), said
/// when it differs from the row's; with none in the log, the row's own (`row`), on the word
/// of the person resolving it. The last value says which, for the resolve event's reason.
fn recount(
    progress: &Sink,
    label: &str,
    statements: &str,
    logged: Option<VouchedProgress>,
    row: (i32, Option<String>),
) -> (i32, Option<String>, &'static str) {
    let Some(logged) = logged else {
        return (row.0, row.1, "as the state row says, on this word");
    };
    if logged.statements_done != row.0 {
        progress.note(&format!(
            "{label}: the state row said {} {statements} done, the event log records {}; \
             resolved at the log's count",
            row.0, logged.statements_done
        ));
    }
    (
        logged.statements_done,
        logged.done_checksum,
        "as the event log records",
    )
}
