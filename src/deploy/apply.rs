//! `migrate apply`: run the pending migrations of one environment.
//!
//! Order of business: configured gates (refuse, exit 3) -> file checks (psql meta-commands,
//! exit 2) -> advisory lock (bounded wait) -> state schema version -> refusals (drift,
//! missing, out of order, unresolved failure: exit 3) -> plan hash -> run. Each migration runs
//! in its own transaction, with its record written in that transaction; a no-transaction one
//! runs statement by statement, recording progress so a failure can resume where it stopped.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::NoTls;

use super::plan::{self, Plan};
use super::{Entry, LocalMigration, State};
use crate::config::Environment;
use crate::db::lock::AdvisoryLock;
use crate::db::session::{self, ApplyRecord, Session, Step, Timeouts};
use crate::db::state::{self, FailureRecord, RunningRecord, StateStore};
use crate::exit;
use crate::printer::Printer;
use crate::source::{Checksum, Version};
use crate::sql::{self, RawKind};

/// How apply is asked to run.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub to: Option<Version>,
    pub dry_run: bool,
    pub plan_hash: Option<String>,
    pub lock_wait: Duration,
    /// Lint settings for the plan's findings and the `lint = "deny"` gate.
    pub lint: crate::lint::Options,
}

/// One migration that ran.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedMigration {
    pub version: String,
    pub name: String,
    pub mode: &'static str,
    pub statements: usize,
    pub attempts: u32,
    pub duration_ms: u128,
}

/// What apply did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub environment: String,
    pub dry_run: bool,
    pub plan: Plan,
    pub applied: Vec<AppliedMigration>,
}

/// Runs `migrate apply` for `env`. `local` reads the migration files; it runs while the
/// connections are being set up.
pub async fn apply(
    env: &Environment,
    local: impl Future<Output = anyhow::Result<Vec<LocalMigration>>>,
    options: &ApplyOptions,
    printer: &Printer,
) -> anyhow::Result<ApplyReport> {
    // Gates first: a gated environment is refused before any connection is made (the lint
    // gate, which needs the files and the state, is checked again in `prepare`).
    let gates = plan::gates(env, &[]);
    if let Some(message) = plan::gate_refusal(&env.name, &gates) {
        return Err(exit::refused(anyhow::anyhow!(message)));
    }

    if options.dry_run {
        let (local, store) = tokio::join!(local, StateStore::connect(&env.url));
        let local = local?;
        let mut store = store.map_err(exit::execution)?;
        let plan = prepare(env, &mut store, &local, options).await?;
        store.close().await;
        return Ok(ApplyReport {
            environment: env.name.clone(),
            dry_run: true,
            plan,
            applied: Vec::new(),
        });
    }

    let (local, lock, store) = tokio::join!(
        local,
        AdvisoryLock::acquire(&env.url, options.lock_wait, |holder| {
            printer.note(&format!(
                "waiting up to {}s for another stagegate run on `{}` ({})",
                options.lock_wait.as_secs(),
                env.name,
                holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
            ));
        }),
        StateStore::connect(&env.url)
    );
    // A problem with the files is reported before one with the database; a lock that was
    // taken is given back either way.
    let (local, lock, mut store) = match (local, lock, store) {
        (Ok(local), Ok(lock), Ok(store)) => (local, lock, store),
        (local, lock, store) => {
            let lock_error = match lock {
                Ok(lock) => {
                    lock.release().await;
                    None
                }
                Err(error @ crate::db::lock::LockError::Busy { .. }) => Some(exit::refused(error)),
                Err(error) => Some(exit::execution(error)),
            };
            return Err(match (local, lock_error, store) {
                (Err(error), _, _) => error,
                (_, Some(error), _) => error,
                (_, None, Err(error)) => exit::execution(error),
                (Ok(_), None, Ok(_)) => unreachable!("all three succeeded"),
            });
        }
    };
    let result = apply_locked(env, &mut store, &local, options, printer).await;
    store.close().await;
    lock.release().await;
    result
}

/// Reads the state, refuses what must not run, builds the plan and checks its hash.
async fn prepare(
    env: &Environment,
    store: &mut StateStore,
    local: &[LocalMigration],
    options: &ApplyOptions,
) -> anyhow::Result<Plan> {
    let rows = store.migrations().await.map_err(|e| match e {
        state::StateError::NewerSchema { .. } => exit::refused(e),
        other => exit::execution(other),
    })?;
    let entries = super::compare(local, &rows);
    let refusals = super::refusals(&entries);
    if !refusals.is_empty() {
        return Err(exit::refused(anyhow::anyhow!(super::refusal_message(
            &env.name, &refusals
        ))));
    }
    let plan = plan::build(
        env,
        &entries,
        options.to.as_ref(),
        Vec::new(),
        &options.lint,
    );
    // The lint gate can only judge once the pending files are read.
    if let Some(message) = plan::gate_refusal(&env.name, &plan.gates) {
        return Err(exit::refused(anyhow::anyhow!(message)));
    }
    if let Some(expected) = &options.plan_hash
        && *expected != plan.hash
    {
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to apply to `{}`: the plan changed since it was reviewed (plan hash is now \
             {}, expected {expected}); run `stagegate migrate plan --env {}` again",
            env.name,
            plan.hash,
            env.name
        )));
    }
    Ok(plan)
}

async fn apply_locked(
    env: &Environment,
    store: &mut StateStore,
    local: &[LocalMigration],
    options: &ApplyOptions,
    printer: &Printer,
) -> anyhow::Result<ApplyReport> {
    let plan = prepare(env, store, local, options).await?;
    let mut report = ApplyReport {
        environment: env.name.clone(),
        dry_run: false,
        plan,
        applied: Vec::new(),
    };
    if report.plan.migrations.is_empty() {
        return Ok(report);
    }
    // The entries again, to run them (prepare has checked them).
    let rows = store.migrations().await.map_err(exit::execution)?;
    let entries = super::compare(local, &rows);
    let pending = plan::pending(&entries, options.to.as_ref());
    check_scripts(pending.iter().filter_map(|e| e.local.as_ref()))?;

    store.ensure_schema().await.map_err(|e| match e {
        state::StateError::NewerSchema { .. } => exit::refused(e),
        other => exit::execution(other),
    })?;
    let session = Session::connect(&env.url).await.map_err(exit::execution)?;

    // Ctrl-C: ask the server to cancel the running statement; the run then records the
    // failure and ends. The handler lives as long as this run.
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = {
        let interrupted = Arc::clone(&interrupted);
        let token = session.cancel_token();
        let printer = *printer;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
                printer.note(
                    "interrupted: cancelling the running statement on the server (Ctrl-C again \
                     to exit without waiting)",
                );
                let _ = token.cancel_query(NoTls).await;
                if tokio::signal::ctrl_c().await.is_ok() {
                    // The connections close with the process, which releases the lock; what
                    // the server was doing is left as an interrupted attempt.
                    printer.error("interrupted twice: exiting without recording the outcome");
                    std::process::exit(i32::from(exit::Outcome::Execution.code()));
                }
            }
        })
    };

    let os_user = state::os_user();
    let mut outcome = Ok(());
    for entry in pending {
        if interrupted.load(Ordering::SeqCst) {
            outcome = Err(exit::execution(anyhow::anyhow!(
                "interrupted (Ctrl-C) before {}; it was not started",
                entry.label()
            )));
            break;
        }
        let run = Runner {
            env,
            session: &session,
            store: &mut *store,
            printer,
            interrupted: &interrupted,
            os_user: os_user.as_deref(),
        };
        match run.migration(entry).await {
            Ok(applied) => report.applied.push(applied),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    watcher.abort();
    outcome.map(|()| report)
}

/// Refuses scripts stagegate cannot run as they are: psql meta-commands, COPY data, and
/// transaction control in a migration that runs in a transaction (a COMMIT in the file, or in
/// its verify script, would commit half a migration without its record and before its check).
fn check_scripts<'a>(local: impl Iterator<Item = &'a LocalMigration>) -> anyhow::Result<()> {
    for migration in local {
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
    }
    Ok(())
}

fn check_script(script: &crate::source::Script, in_transaction: bool) -> anyhow::Result<()> {
    for statement in sql::split(&script.text) {
        let line = script.first_line + statement.line - 1;
        let what = match statement.kind {
            RawKind::Sql if in_transaction => {
                let text = statement.text(&script.text);
                match transaction_control(text) {
                    Some(word) => {
                        anyhow::bail!(
                            "{}:{line}: `{word}` in a script that stagegate runs in a \
                             transaction of its own; remove the transaction control from the \
                             file (or mark the migration `-- stagegate:no-transaction`)",
                            script.path.display()
                        );
                    }
                    None => continue,
                }
            }
            RawKind::Sql => continue,
            RawKind::PsqlMeta => format!(
                "psql meta-command `{}`",
                statement.text(&script.text).trim()
            ),
            RawKind::CopyData => "COPY ... FROM stdin data".to_string(),
        };
        anyhow::bail!(
            "{}:{line}: {what} cannot be run by stagegate, which sends SQL to the server \
             directly; remove it from the migration",
            script.path.display()
        );
    }
    Ok(())
}

/// The transaction-control keyword a statement starts with, if any.
fn transaction_control(statement: &str) -> Option<String> {
    let mut words = statement
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase);
    let first = words.next()?;
    match first.as_str() {
        "BEGIN" | "COMMIT" | "ROLLBACK" | "END" | "ABORT" => Some(first),
        "START" | "PREPARE" if words.next().as_deref() == Some("TRANSACTION") => {
            Some(format!("{first} TRANSACTION"))
        }
        _ => None,
    }
}

struct Runner<'a> {
    env: &'a Environment,
    session: &'a Session,
    store: &'a mut StateStore,
    printer: &'a Printer,
    interrupted: &'a AtomicBool,
    os_user: Option<&'a str>,
}

/// Pause before retry `attempt` (1-based) after a lock timeout.
fn backoff(attempt: u32) -> Duration {
    // 0.5 s, 1 s, 2 s, ... at most 10 s.
    Duration::from_millis(500u64.saturating_mul(1 << (attempt - 1).min(5)))
        .min(Duration::from_secs(10))
}

/// SHA-256 over the first statements of a script, to check on resume that they did not change.
fn prefix_checksum(text: &str, statements: &[sql::RawStatement]) -> String {
    let mut joined = String::new();
    for statement in statements {
        joined.push_str(statement.text(text));
        joined.push('\0');
    }
    Checksum::of_normalized(&joined).to_string()
}

impl Runner<'_> {
    async fn migration(self, entry: &Entry) -> anyhow::Result<AppliedMigration> {
        let local = entry.local.as_ref().expect("pending entries are local");
        let down = local
            .migration
            .load_down()
            .context("reading the down script")?;
        let verify = local
            .migration
            .load_verify()
            .context("reading the verify script")?;
        let statements: Vec<sql::RawStatement> = sql::split(&local.up.text)
            .into_iter()
            .filter(|s| s.kind == RawKind::Sql)
            .collect();
        let record = ApplyRecord {
            version: entry.version.canonical(),
            version_text: entry.version.to_string(),
            name: entry.name.clone(),
            checksum: local.up.checksum.to_string(),
            down_checksum: down.map(|d| d.checksum.to_string()),
            verify_checksum: verify.as_ref().map(|v| v.checksum.to_string()),
            no_transaction: local.up.settings.no_transaction,
            os_user: self.os_user.map(str::to_string),
            statements_total: i32::try_from(statements.len()).unwrap_or(i32::MAX),
            done_checksum: None,
        };
        let timeouts = plan::timeouts(self.env, entry);
        if local.up.settings.no_transaction {
            self.no_transaction(entry, local, &statements, verify.as_ref(), record, timeouts)
                .await
        } else {
            self.in_transaction(
                entry,
                local,
                statements.len(),
                verify.as_ref(),
                record,
                timeouts,
            )
            .await
        }
    }

    async fn in_transaction(
        self,
        entry: &Entry,
        local: &LocalMigration,
        statements: usize,
        verify: Option<&crate::source::Script>,
        record: ApplyRecord,
        timeouts: Timeouts,
    ) -> anyhow::Result<AppliedMigration> {
        let label = entry.label();
        let started = Instant::now();
        let attempts_allowed = self.env.lock_retries + 1;
        let mut attempt = 1;
        self.printer.note(&format!(
            "applying {label} (transaction, {statements} statement(s))"
        ));
        loop {
            let result = self
                .session
                .run_in_transaction(
                    &timeouts,
                    &local.up.text,
                    verify.map(|v| v.text.as_str()),
                    &record,
                )
                .await;
            let error = match result {
                Ok(()) => {
                    let elapsed = started.elapsed();
                    self.printer
                        .note(&format!("  done in {}ms", elapsed.as_millis()));
                    return Ok(AppliedMigration {
                        version: entry.version.to_string(),
                        name: entry.name.clone(),
                        mode: "transaction",
                        statements,
                        attempts: attempt,
                        duration_ms: elapsed.as_millis(),
                    });
                }
                Err(error) => error,
            };
            let interrupted = self.interrupted.load(Ordering::SeqCst);
            if error.is_lock_timeout() && attempt < attempts_allowed && !interrupted {
                let pause = backoff(attempt);
                self.printer.warning(&format!(
                    "{label}: lock timeout on attempt {attempt} of {attempts_allowed} ({}); \
                     the transaction was rolled back, retrying in {}ms",
                    session::describe_error(&error.source, &local.up.text, local.up.first_line),
                    pause.as_millis()
                ));
                tokio::time::sleep(pause).await;
                attempt += 1;
                continue;
            }
            let (script, first_line, file) = match error.step {
                Step::Verify => {
                    let v = verify.expect("verify failed, so it exists");
                    (v.text.as_str(), v.first_line, v.path.display().to_string())
                }
                Step::Up | Step::Record | Step::Commit => (
                    local.up.text.as_str(),
                    local.up.first_line,
                    local.up.path.display().to_string(),
                ),
            };
            let what = match error.step {
                Step::Up => "failed",
                Step::Verify => "verify script failed",
                Step::Record => "could not be recorded",
                Step::Commit => "failed at COMMIT",
            };
            let described = session::describe_error_after(
                &error.source,
                script,
                first_line,
                error.prefix_chars,
            );
            let mut message = format!("{label} {what}: {described}");
            if interrupted && session::is_cancelled(&error.source) {
                message = format!(
                    "{label} interrupted (Ctrl-C): the running statement was cancelled on the \
                     server ({described})"
                );
            } else if error.is_lock_timeout() {
                message.push_str(&format!(" (after {attempt} attempt(s))"));
            }
            let failure = FailureRecord {
                version: &record.version,
                version_text: &record.version_text,
                name: &record.name,
                checksum: &record.checksum,
                no_transaction: false,
                rolled_back: true,
                os_user: self.os_user,
                statements_done: 0,
                statements_total: record.statements_total,
                done_checksum: None,
                error: &message,
            };
            if let Err(record_error) = self.store.record_failure(&failure).await {
                self.printer
                    .warning(&format!("could not record the failure: {record_error}"));
            }
            return Err(exit::execution(anyhow::anyhow!(
                "{message}\n  file: {file}\n  the transaction was rolled back: nothing of \
                 {label} was applied"
            )));
        }
    }

    async fn no_transaction(
        self,
        entry: &Entry,
        local: &LocalMigration,
        statements: &[sql::RawStatement],
        verify: Option<&crate::source::Script>,
        mut record: ApplyRecord,
        timeouts: Timeouts,
    ) -> anyhow::Result<AppliedMigration> {
        let label = entry.label();
        let text = &local.up.text;
        let started = Instant::now();
        // Resume where a failed run of this file stopped.
        let resume_from = match &entry.row {
            Some(row) if entry.state != State::FailedRolledBack && !row.rolled_back => {
                usize::try_from(row.statements_done.max(0))
                    .unwrap_or(0)
                    .min(statements.len())
            }
            _ => 0,
        };
        if resume_from > 0 {
            let recorded = entry
                .row
                .as_ref()
                .and_then(|r| r.done_checksum.clone())
                .unwrap_or_default();
            let now = prefix_checksum(text, &statements[..resume_from]);
            if recorded != now {
                return Err(exit::refused(anyhow::anyhow!(
                    "refusing to resume {label}: its first {resume_from} statement(s) already \
                     ran, but they changed in the file since (recorded {recorded}, now {now}); \
                     only the failed statement and those after it may be fixed"
                )));
            }
            self.printer.note(&format!(
                "resuming {label} (no transaction) at statement {} of {}",
                resume_from + 1,
                statements.len()
            ));
        } else {
            self.printer.note(&format!(
                "applying {label} (no transaction, {} statement(s))",
                statements.len()
            ));
        }
        let done_checksum = prefix_checksum(text, &statements[..resume_from]);
        self.store
            .start_running(&RunningRecord {
                version: &record.version,
                version_text: &record.version_text,
                name: &record.name,
                checksum: &record.checksum,
                down_checksum: record.down_checksum.as_deref(),
                verify_checksum: record.verify_checksum.as_deref(),
                os_user: self.os_user,
                statements_done: i32::try_from(resume_from).unwrap_or(i32::MAX),
                statements_total: record.statements_total,
                done_checksum: &done_checksum,
            })
            .await
            .map_err(exit::execution)?;
        let mut attempts = 1;
        let fail = |done: usize, message: String| {
            let done_checksum = prefix_checksum(text, &statements[..done]);
            (done, message, done_checksum)
        };
        let failure = 'run: {
            if let Err(error) = self.session.set_session_timeouts(&timeouts).await {
                break 'run Some(fail(resume_from, error.to_string()));
            }
            for (index, statement) in statements.iter().enumerate().skip(resume_from) {
                let sql = statement.text(text);
                let line = local.up.first_line + statement.line - 1;
                // CREATE INDEX CONCURRENTLY and friends leave an INVALID leftover when they
                // fail; running them again needs a human first.
                let retryable = !sql.to_ascii_uppercase().contains("CONCURRENTLY");
                let mut attempt = 1;
                loop {
                    match self.session.run(sql).await {
                        Ok(()) => break,
                        Err(error)
                            if session::is_lock_timeout(&error)
                                && retryable
                                && attempt <= self.env.lock_retries
                                && !self.interrupted.load(Ordering::SeqCst) =>
                        {
                            let pause = backoff(attempt);
                            self.printer.warning(&format!(
                                "{label}: statement {} (line {line}) hit the lock timeout on \
                                 attempt {attempt}; retrying in {}ms",
                                index + 1,
                                pause.as_millis()
                            ));
                            tokio::time::sleep(pause).await;
                            attempt += 1;
                            attempts += 1;
                        }
                        Err(error) => {
                            let described = session::describe_error(&error, sql, line);
                            let message = if self.interrupted.load(Ordering::SeqCst)
                                && session::is_cancelled(&error)
                            {
                                format!(
                                    "{label} interrupted (Ctrl-C) at statement {} of {} (line \
                                     {line}): the statement was cancelled on the server \
                                     ({described})",
                                    index + 1,
                                    statements.len()
                                )
                            } else {
                                format!(
                                    "{label} failed at statement {} of {} (line {line}): \
                                     {described}",
                                    index + 1,
                                    statements.len()
                                )
                            };
                            break 'run Some(fail(index, message));
                        }
                    }
                }
                let done = index + 1;
                self.store
                    .progress(
                        &record.version,
                        i32::try_from(done).unwrap_or(i32::MAX),
                        &prefix_checksum(text, &statements[..done]),
                    )
                    .await
                    .map_err(exit::execution)?;
            }
            record.done_checksum = Some(prefix_checksum(text, statements));
            // Verify and record together: a failed check leaves the migration failed at its
            // end, resumable once fixed.
            let result = self
                .session
                .run_in_transaction(
                    &Timeouts::default(),
                    "",
                    verify.map(|v| v.text.as_str()),
                    &record,
                )
                .await;
            if let Err(error) = result {
                let (script, first_line) = match (&error.step, verify) {
                    (Step::Verify, Some(v)) => (v.text.as_str(), v.first_line),
                    _ => ("", 1),
                };
                break 'run Some(fail(
                    statements.len(),
                    format!(
                        "{label}: {} after all statements ran: {}",
                        match error.step {
                            Step::Verify => "the verify script failed",
                            Step::Commit => "COMMIT failed",
                            Step::Up | Step::Record => "recording failed",
                        },
                        session::describe_error(&error.source, script, first_line)
                    ),
                ));
            }
            None
        };
        // Leave the session as a transactional migration expects it.
        let _ = self
            .session
            .set_session_timeouts(&Timeouts::default())
            .await;
        if let Some((done, message, done_checksum)) = failure {
            let failure = FailureRecord {
                version: &record.version,
                version_text: &record.version_text,
                name: &record.name,
                checksum: &record.checksum,
                no_transaction: true,
                rolled_back: false,
                os_user: self.os_user,
                statements_done: i32::try_from(done).unwrap_or(i32::MAX),
                statements_total: record.statements_total,
                done_checksum: Some(&done_checksum),
                error: &message,
            };
            if let Err(record_error) = self.store.record_failure(&failure).await {
                self.printer
                    .warning(&format!("could not record the failure: {record_error}"));
            }
            return Err(exit::execution(anyhow::anyhow!(
                "{message}\n  file: {}\n  {done} of {} statement(s) are applied and stay \
                 applied (no transaction); after repairing, `stagegate migrate resolve {} \
                 --reason ...` (or a fixed file) lets apply resume at statement {}",
                local.up.path.display(),
                statements.len(),
                entry.version,
                done + 1
            )));
        }
        let elapsed = started.elapsed();
        self.printer
            .note(&format!("  done in {}ms", elapsed.as_millis()));
        Ok(AppliedMigration {
            version: entry.version.to_string(),
            name: entry.name.clone(),
            mode: "no-transaction",
            statements: statements.len() - resume_from,
            attempts,
            duration_ms: elapsed.as_millis(),
        })
    }
}
