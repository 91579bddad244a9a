//! `migrate apply`: run the pending migrations of one environment.
//!
//! Order of business: configured gates (refuse, exit 3) -> file checks (psql meta-commands,
//! exit 2) -> advisory lock (bounded wait) -> state schema version -> refusals (drift,
//! missing, out of order, unresolved failure: exit 3) -> plan hash -> run. Each migration runs
//! in its own transaction, with its record written in that transaction; a no-transaction one
//! runs statement by statement, recording progress so a failure can resume where it stopped.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::concurrent;
use super::confirm;
use super::gates;
use super::plan::{self, Plan};
use super::runner::{self, Job, Runner, check_script, prefix_checksum, sql_statements};
use super::{Entry, LocalMigration, State};
use crate::config::Environment;
use crate::db::lock::AdvisoryLock;
use crate::db::session::{ApplyRecord, Finish, Session};
use crate::db::state::{self, FailureRecord, StateStore};
use crate::exit;
use crate::progress::Sink;
use crate::source::Version;

pub(crate) use super::runner::AppliedMigration;

/// How apply is asked to run.
#[derive(Debug, Clone)]
pub(crate) struct ApplyOptions {
    pub to: Option<Version>,
    pub dry_run: bool,
    pub plan_hash: Option<String>,
    pub lock_wait: Duration,
    /// Lint settings for the plan's findings and the `lint = "deny"` gate.
    pub lint: crate::lint::Options,
    /// `[migrate] drop_invalid_indexes`.
    pub drop_invalid_indexes: bool,
    /// The environment named by `promote_from`, whose state the promotion gate reads.
    pub promote_source: Option<Environment>,
    /// `--confirm` and `--reason`.
    pub confirm: confirm::ConfirmRequest,
    /// The migrations directory, whose git commit is recorded with a confirmation.
    pub migrations_dir: std::path::PathBuf,
    /// `[backup]`: the pg_dump the backup gate uses.
    pub backup_tools: crate::config::BackupToolsConfig,
}

/// What apply did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ApplyReport {
    pub environment: String,
    pub dry_run: bool,
    pub plan: Plan,
    pub applied: Vec<AppliedMigration>,
    /// Wall time of the whole command, from start to the last record.
    pub elapsed_ms: u128,
    /// Hash of the newest event after the run: keep it (CI logs do) to show a truncated log
    /// later (`stagegate audit --verify --head HASH`).
    pub head: Option<String>,
}

/// Runs `migrate apply` for `env`. `local` reads the migration files; it runs while the
/// connections are being set up.
pub(crate) async fn apply(
    env: &Environment,
    local: impl Future<Output = anyhow::Result<Vec<LocalMigration>>>,
    options: &ApplyOptions,
    progress: &Sink,
) -> anyhow::Result<ApplyReport> {
    let started = Instant::now();
    if options.dry_run {
        let (local, store) = tokio::join!(local, StateStore::connect(&env.url));
        let local = local?;
        let mut store = store.map_err(exit::execution)?;
        let evaluation = gates::evaluate(env, &mut store, &local, &inputs(options)).await;
        store.close().await;
        let plan = checked_plan(env, evaluation?, options)?.plan;
        return Ok(ApplyReport {
            environment: env.name.clone(),
            dry_run: true,
            plan,
            applied: Vec::new(),
            elapsed_ms: started.elapsed().as_millis(),
            head: None,
        });
    }

    // The state is read and verified under the lock while the files are still being read.
    let (local, mut c, facts) = runner::Connections::open(
        env,
        local,
        options.lock_wait,
        started,
        progress,
        async |store| gates::read(env, store).await,
    )
    .await?;
    let result = apply_locked(
        env,
        &mut c.lock,
        &mut c.store,
        &c.session,
        &local,
        facts,
        options,
        progress,
        started,
    )
    .await;
    c.close().await;
    result
}

/// What the gate pipeline needs from apply's options.
fn inputs(options: &ApplyOptions) -> gates::Inputs<'_> {
    gates::Inputs {
        to: options.to.as_ref(),
        lint: &options.lint,
        promote_source: options.promote_source.as_ref(),
    }
}

/// The evaluation, refused (exit 3) when any refusal or gate refuses, every one listed, or
/// when the plan changed since it was reviewed (`--plan-hash`).
fn checked_plan(
    env: &Environment,
    evaluation: gates::Evaluation,
    options: &ApplyOptions,
) -> anyhow::Result<gates::Evaluation> {
    if let Some(message) = gates::plan_refusal(&evaluation.plan) {
        return Err(exit::refused(anyhow::anyhow!(message)));
    }
    let plan = &evaluation.plan;
    if let Some(expected) = &options.plan_hash
        && *expected != plan.hash
    {
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to apply to `{}`: the plan changed since it was reviewed (plan hash is now \
             {}, expected {expected}); run `stagegate migrate plan --env {}{}` again",
            env.name,
            plan.hash,
            env.name,
            options
                .to
                .as_ref()
                .map_or_else(String::new, |to| format!(" --to {to}"))
        )));
    }
    Ok(evaluation)
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    env: &Environment,
    lock: &mut AdvisoryLock,
    store: &mut StateStore,
    session: &Session,
    local: &[LocalMigration],
    facts: gates::Facts,
    options: &ApplyOptions,
    progress: &Sink,
    started: Instant,
) -> anyhow::Result<ApplyReport> {
    let os_user = state::os_user();
    // A killed run's no-transaction attempt is settled first: how far it got, read from the
    // server, is recorded as a failed attempt that a human then resolves.
    let mut evaluation = gates::judge(env, facts, local, &inputs(options)).await?;
    let trusted = |e: &gates::Evaluation| {
        e.plan
            .gates
            .iter()
            .all(|g| !matches!(g.name, "state" | "environment") || g.status != "refuse")
    };
    if trusted(&evaluation)
        && evaluation
            .entries
            .iter()
            .any(|e| e.state == State::Interrupted)
    {
        store.ensure_schema().await.map_err(exit::execution)?;
        settle_interrupted(
            &env.name,
            &evaluation.entries,
            session,
            store,
            os_user.as_deref(),
            progress,
        )
        .await?;
        evaluation = gates::evaluate(env, store, local, &inputs(options)).await?;
    }
    let evaluation = checked_plan(env, evaluation, options)?;
    let entries = &evaluation.entries;
    for change in super::rendering_changes(entries) {
        progress.warning(&change);
    }
    let plan = evaluation.plan.clone();
    let mut report = ApplyReport {
        environment: env.name.clone(),
        dry_run: false,
        plan,
        applied: Vec::new(),
        elapsed_ms: 0,
        head: None,
    };
    if report.plan.migrations.is_empty() {
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    let pending = plan::pending(entries, options.to.as_ref());
    let scripts: Vec<&LocalMigration> = pending.iter().filter_map(|e| e.local.as_ref()).collect();
    check_scripts(&scripts)?;
    // What plan would have shown about what is about to run (infos stay in plan).
    for finding in &report.plan.findings {
        if finding.severity != "info" {
            progress.warning(&format!("lint: {}", finding.describe()));
        }
    }

    // The gates that need a person or a copy, in the order of DESIGN.md §4: every gate the
    // pipeline judges has passed.
    if let Some(gate) = report.plan.gates.iter().find(|g| g.status == "pending") {
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to apply to `{}`: the {} gate was not checked; nothing was run",
            env.name,
            gate.name
        )));
    }
    store.ensure_schema().await?;
    let what = format!("apply {} migration(s)", report.plan.migrations.len());
    confirm::gate(
        env,
        confirm::ConfirmedStep {
            action: "apply",
            summary: confirm::summary(
                env,
                &report.plan,
                &what,
                confirm::backup_line(env).as_deref(),
            ),
            what,
            migrations: report
                .plan
                .migrations
                .iter()
                .map(|m| m.version.clone())
                .collect(),
            plan_hash: Some(&report.plan.hash),
            request: &options.confirm,
            migrations_dir: &options.migrations_dir,
            os_user: os_user.as_deref(),
        },
        store,
    )
    .await?;
    gates::bind_if_unbound(env, &evaluation, store, os_user.as_deref()).await?;
    if let Some(backup) = crate::backup::gate(
        env,
        &options.backup_tools,
        store,
        &**progress,
        "migrate apply",
    )
    .await?
    {
        report.plan.set_gate(plan::Gate {
            name: "backup",
            status: "pass",
            detail: format!("{} ({})", backup.path.display(), backup.manifest.sha256),
        });
    }

    // Ctrl-C, SIGTERM and SIGHUP: ask the server to cancel the running statement; the run
    // then records the failure and ends. The handler lives as long as this run.
    let (interrupted, watcher) = runner::watch_signals(session, progress);

    let mut outcome = Ok(());
    for entry in pending {
        if let Err(error) = interrupted.may_start(lock, &entry.label()).await {
            outcome = Err(error);
            break;
        }
        let run = Runner {
            env,
            session,
            store: &mut *store,
            progress,
            interrupted: &interrupted,
            os_user: os_user.as_deref(),
            drop_invalid_indexes: options.drop_invalid_indexes,
        };
        let job = match up_job(env, entry, os_user.as_deref()) {
            Ok(job) => job,
            Err(error) => {
                outcome = Err(error);
                break;
            }
        };
        match run.run(job.as_job()).await {
            Ok(applied) => report.applied.push(applied),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    watcher.abort();
    report.elapsed_ms = started.elapsed().as_millis();
    if let Ok(Some(head)) = store.chain_head().await {
        if outcome.is_err() {
            progress.note(&format!("event log head: {}", head.hash));
        }
        report.head = Some(head.hash);
    }
    outcome.map(|()| report)
}

/// Records each interrupted no-transaction attempt (a `running` row whose run died) as a
/// failed one, with how far the server got: statements that ran in a transaction of their
/// own are recorded with it; for one that ran bare, the catalog tells where it can (an index
/// build is done when its index exists and is valid), and otherwise the row keeps the
/// statement as uncertain for a human to settle with `migrate resolve --statement`.
async fn settle_interrupted(
    env: &str,
    entries: &[Entry],
    session: &Session,
    store: &mut StateStore,
    os_user: Option<&str>,
    progress: &Sink,
) -> anyhow::Result<()> {
    for entry in entries.iter().filter(|e| e.state == State::Interrupted) {
        let (Some(row), Some(local)) = (&entry.row, &entry.local) else {
            continue;
        };
        let label = entry.label();
        let statements = sql_statements(&local.up.text);
        let total = statements.len();
        let done = usize::try_from(row.statements_done.max(0))
            .unwrap_or(0)
            .min(total);
        let (done, uncertain, what) = match row.running_statement {
            None => (
                done,
                None,
                format!(
                    "statements 1 to {done} are done, each recorded in its own transaction; \
                     statement {} did not take effect",
                    done + 1
                ),
            ),
            Some(k) => {
                let index = usize::try_from(k.max(1) - 1)
                    .unwrap_or(0)
                    .min(total.max(1) - 1);
                if let (Some(pid), Some(since)) = (row.running_pid, row.running_since)
                    && backend_alive(session, pid, since)
                        .await
                        .map_err(exit::execution)?
                {
                    return Err(exit::refused(anyhow::anyhow!(
                        "{label}: statement {k} is still running on the server (pid {pid}, \
                         started by a stagegate run that is gone); wait for it to end, or \
                         cancel it with `SELECT pg_cancel_backend({pid})`, then apply again"
                    )));
                }
                let statement = &statements[index];
                let line = local.up.first_line + statement.line - 1;
                let sql = statement.text(&local.up.text);
                match concurrent::outcome(session.client(), sql)
                    .await
                    .map_err(exit::execution)?
                {
                    concurrent::BareOutcome::Ran(why) => (
                        index + 1,
                        None,
                        format!("statement {k} (line {line}) finished on the server: {why}"),
                    ),
                    concurrent::BareOutcome::NotRun(why) => (
                        index,
                        None,
                        format!("statement {k} (line {line}) did not take effect: {why}"),
                    ),
                    concurrent::BareOutcome::Invalid(indexes) => (
                        index,
                        None,
                        format!(
                            "statement {k} (line {line}) failed on the server and left {}",
                            concurrent::leftovers(&indexes)
                        ),
                    ),
                    concurrent::BareOutcome::Unknown => (
                        index,
                        Some(k),
                        format!(
                            "statement {k} (line {line}) was running on the server when the \
                             run died, and whether it finished cannot be read from the \
                             catalog; check the database, then {}",
                            super::statement_hint(&entry.version.to_string(), env)
                        ),
                    ),
                }
            }
        };
        let message = format!(
            "{label} was interrupted (its stagegate process died) at statement {} of {total}: \
             {what}",
            (done + 1).min(total)
        );
        progress.warning(&message);
        let done_checksum = prefix_checksum(&local.up.text, &statements[..done]);
        store
            .record_failure(&FailureRecord {
                version: &row.version,
                version_text: &row.version_text,
                name: &row.name,
                checksum: &row.checksum,
                no_transaction: true,
                rolled_back: false,
                os_user,
                statements_done: i32::try_from(done).unwrap_or(i32::MAX),
                statements_total: i32::try_from(total).unwrap_or(i32::MAX),
                done_checksum: Some(&done_checksum),
                uncertain_statement: uncertain,
                error: &message,
            })
            .await
            .map_err(exit::execution)?;
    }
    Ok(())
}

/// True when backend `pid`, started no later than `since`, is still connected.
async fn backend_alive(
    session: &Session,
    pid: i32,
    since: time::OffsetDateTime,
) -> Result<bool, tokio_postgres::Error> {
    let since = since.unix_timestamp_nanos() as f64 / 1e9;
    let row = session
        .client()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 \
                 AND backend_start <= to_timestamp($2::float8))",
            &[&pid, &since],
        )
        .await?;
    Ok(row.get(0))
}

/// Refuses scripts stagegate cannot run as they are: psql meta-commands, COPY data, and
/// transaction control in a migration that runs in a transaction (a COMMIT in the file, or in
/// its verify script, would commit half a migration without its record and before its check).
/// Checked in chunks on worker threads, in order: the first refusal in file order is the one
/// returned.
fn check_scripts(local: &[&LocalMigration]) -> anyhow::Result<()> {
    let workers = if local.len() < CHECK_CHUNK * 2 {
        1
    } else {
        crate::parallel::default_workers().min(4)
    };
    crate::parallel::ordered(
        local.chunks(CHECK_CHUNK),
        workers,
        workers * 2,
        |part| part.iter().map(|m| check_one(m)).collect::<Vec<_>>(),
        |checked| checked.into_iter().collect::<anyhow::Result<()>>(),
    )
}

/// Scripts checked by one worker at a time ([`check_scripts`]).
const CHECK_CHUNK: usize = 32;

/// [`check_scripts`] of one migration: its up script and its verify script.
fn check_one(migration: &LocalMigration) -> anyhow::Result<()> {
    // An Alembic revision that renders no SQL (a merge, an `upgrade()` that is `pass`) is
    // applied for its bookkeeping alone.
    if migration.up.is_blank() && migration.up.rendered_checksum.is_none() {
        return Err(crate::source::SourceError::EmptyUp {
            path: migration.up.path.clone(),
        }
        .into());
    }
    let in_transaction = !migration.up.settings.no_transaction;
    check_script(&migration.up, in_transaction)?;
    if let Some(verify) = migration
        .migration
        .load_verify()
        .context("reading the verify script")?
    {
        // A verify script always runs inside a transaction.
        check_script(&verify, true)?;
    }
    Ok(())
}

/// An up script with what it is run and recorded with.
struct UpJob {
    label: String,
    version: Version,
    local: LocalMigration,
    verify: Option<crate::source::Script>,
    record: ApplyRecord,
    timeouts: crate::db::session::Timeouts,
    resume: Option<(usize, String)>,
}

impl UpJob {
    fn as_job(&self) -> Job<'_> {
        Job {
            label: self.label.clone(),
            version: &self.version,
            script: &self.local.up,
            verify: self.verify.as_ref(),
            finish: Finish::Apply(self.record.clone()),
            timeouts: self.timeouts,
            resume: self.resume.clone(),
        }
    }
}

/// The executor's job for a pending migration: its up script and verify script, recorded
/// applied (with its down script's checksum) at the end; a no-transaction one resumes where
/// a failed attempt of it stopped.
fn up_job(env: &Environment, entry: &Entry, os_user: Option<&str>) -> anyhow::Result<UpJob> {
    let local = entry.local.as_ref().expect("pending entries are local");
    let down = local
        .migration
        .load_down()
        .context("reading the down script")?;
    let verify = local
        .migration
        .load_verify()
        .context("reading the verify script")?;
    let statements = sql_statements(&local.up.text);
    let record = ApplyRecord {
        version: entry.version.canonical(),
        version_text: entry.version.to_string(),
        name: entry.name.clone(),
        checksum: local.up.checksum.to_string(),
        down_checksum: down.map(|d| d.checksum.to_string()),
        verify_checksum: verify.as_ref().map(|v| v.checksum.to_string()),
        no_transaction: local.up.settings.no_transaction,
        os_user: os_user.map(str::to_string),
        statements_total: i32::try_from(statements.len()).unwrap_or(i32::MAX),
        done_checksum: None,
        checks: format!(
            "{}{}",
            concurrent::parent_index_checks(statements.iter().map(|s| s.text(&local.up.text))),
            local
                .migration
                .bookkeeping
                .as_ref()
                .map_or("", |b| b.up.as_str())
        ),
        rendered: local.up.rendered_checksum.as_ref().map(|checksum| {
            (
                checksum.to_string(),
                local
                    .migration
                    .bookkeeping
                    .as_ref()
                    .map_or_else(String::new, |b| b.rendered_by.clone()),
            )
        }),
    };
    let resume = match &entry.row {
        Some(row)
            if local.up.settings.no_transaction
                && entry.state != State::FailedRolledBack
                && !row.rolled_back
                && row.statements_done > 0 =>
        {
            Some((
                usize::try_from(row.statements_done).unwrap_or(0),
                row.done_checksum.clone().unwrap_or_default(),
            ))
        }
        _ => None,
    };
    Ok(UpJob {
        label: entry.label(),
        version: entry.version.clone(),
        local: local.clone(),
        verify,
        record,
        timeouts: plan::timeouts(env, entry),
        resume,
    })
}
