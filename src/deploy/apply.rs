//! `migrate apply`: run the pending migrations of one environment.
//!
//! Order of business: configured gates (refuse, exit 3) -> file checks (psql meta-commands,
//! exit 2) -> advisory lock (bounded wait) -> state schema version -> refusals (drift,
//! missing, out of order, unresolved failure: exit 3) -> plan hash -> run. Each migration runs
//! in its own transaction, with its record written in that transaction; a no-transaction one
//! runs statement by statement, recording progress so a failure can resume where it stopped.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::NoTls;

use super::concurrent::{self, Shape};
use super::confirm;
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
    /// `[migrate] drop_invalid_indexes`.
    pub drop_invalid_indexes: bool,
    /// The environment named by `promote_from`, whose state the promotion gate reads.
    pub promote_source: Option<Environment>,
    /// `--confirm` and `--reason`.
    pub confirm: confirm::Request,
    /// The migrations directory, whose git commit is recorded with a confirmation.
    pub migrations_dir: std::path::PathBuf,
    /// `[backup]`: the pg_dump the backup gate uses.
    pub backup_tools: crate::config::BackupToolsConfig,
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
    /// Wall time of the whole command, from start to the last record.
    pub elapsed_ms: u128,
    /// Hash of the newest event after the run: keep it (CI logs do) to show a truncated log
    /// later (`stagegate audit --verify --head HASH`).
    pub head: Option<String>,
}

/// Runs `migrate apply` for `env`. `local` reads the migration files; it runs while the
/// connections are being set up.
pub async fn apply(
    env: &Environment,
    local: impl Future<Output = anyhow::Result<Vec<LocalMigration>>>,
    options: &ApplyOptions,
    printer: &Printer,
) -> anyhow::Result<ApplyReport> {
    let started = Instant::now();
    if options.dry_run {
        let (local, store) = tokio::join!(local, StateStore::connect(&env.url));
        let local = local?;
        let mut store = store.map_err(exit::execution)?;
        let entries = read_entries(&mut store, &local).await;
        store.close().await;
        let entries = entries?;
        let mut plan = prepare_entries(env, &entries, options)?;
        let pending = plan::pending(&entries, options.to.as_ref());
        promotion_gate(env, &mut plan, &pending, options).await?;
        return Ok(ApplyReport {
            environment: env.name.clone(),
            dry_run: true,
            plan,
            applied: Vec::new(),
            elapsed_ms: started.elapsed().as_millis(),
            head: None,
        });
    }

    let (local, lock, store, session) = tokio::join!(
        local,
        AdvisoryLock::acquire(&env.url, options.lock_wait, |holder| {
            printer.note(&format!(
                "waiting up to {}s for another stagegate run on `{}` ({})",
                options.lock_wait.as_secs(),
                env.name,
                holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
            ));
        }),
        StateStore::connect(&env.url),
        Session::connect(&env.url)
    );
    // A problem with the files is reported before one with the database; a lock that was
    // taken is given back either way.
    let (local, mut lock, mut store, session) = match (local, lock, store, session) {
        (Ok(local), Ok(lock), Ok(store), Ok(session)) => (local, lock, store, session),
        (local, lock, store, session) => {
            let lock_error = match lock {
                Ok(lock) => {
                    lock.release().await;
                    None
                }
                Err(error) if error.is_busy() => Some(exit::refused(error)),
                Err(error) => Some(exit::execution(error)),
            };
            return Err(match (local, lock_error, store, session) {
                (Err(error), _, _, _) => error,
                (_, Some(error), _, _) => error,
                (_, None, Err(error), _) => exit::execution(error),
                (_, None, _, Err(error)) => exit::execution(error),
                (Ok(_), None, Ok(_), Ok(_)) => unreachable!("all four succeeded"),
            });
        }
    };
    // The migration connection of a killed run may still be finishing what it was sent: wait
    // for it, within what is left of the bound, before reading the state.
    let remaining = options.lock_wait.saturating_sub(started.elapsed());
    let result = match session
        .take_run_lock(&env.url, remaining, |holder| {
            printer.note(&format!(
                "waiting for the migration connection of an earlier run on `{}` to finish ({})",
                env.name,
                holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
            ));
        })
        .await
    {
        Ok(()) => {
            apply_locked(
                env, &mut lock, &mut store, &session, &local, options, printer, started,
            )
            .await
        }
        Err(error) if error.is_busy() => Err(exit::refused(error)),
        Err(error) => Err(exit::execution(error)),
    };
    store.close().await;
    drop(session);
    lock.release().await;
    result
}

/// Where each migration stands in the environment.
async fn read_entries(
    store: &mut StateStore,
    local: &[LocalMigration],
) -> anyhow::Result<Vec<Entry>> {
    let rows = store.migrations().await?;
    Ok(super::compare(local, &rows))
}

/// The promotion gate, read live from the source environment; refuses (exit 3) unless every
/// pending migration succeeded there.
async fn promotion_gate(
    env: &Environment,
    plan: &mut Plan,
    pending: &[&Entry],
    options: &ApplyOptions,
) -> anyhow::Result<()> {
    let Some(source) = &options.promote_source else {
        return Ok(());
    };
    if pending.is_empty() {
        plan.set_gate(plan::Gate {
            name: "promotion",
            status: "pass",
            detail: format!("promote_from = \"{}\": nothing to promote", source.name),
        });
        return Ok(());
    }
    plan.set_gate(super::promote::gate(env, source, pending).await);
    match plan::gate_refusal(&env.name, &plan.gates) {
        Some(message) => Err(exit::refused(anyhow::anyhow!(message))),
        None => Ok(()),
    }
}

/// The confirmation gate (a prompt on a terminal, else `--confirm`), then its record in the
/// event log with who confirmed, from where and why.
async fn confirmation_gate(
    env: &Environment,
    plan: &Plan,
    store: &mut StateStore,
    options: &ApplyOptions,
    os_user: Option<&str>,
) -> anyhow::Result<()> {
    let what = format!("apply {} migration(s)", plan.migrations.len());
    let backup = env
        .backup
        .as_ref()
        .map(|b| format!("pg_dump into {}", b.dir.display()));
    let confirmation = {
        let (env, plan, request) = (env.clone(), plan.clone(), options.confirm.clone());
        let what = what.clone();
        tokio::task::spawn_blocking(move || {
            confirm::obtain(
                &env,
                &plan,
                &what,
                backup.as_deref(),
                &request,
                &mut confirm::Stdio,
            )
        })
        .await
        .context("the confirmation prompt")??
    };
    let Some(confirmation) = confirmation else {
        return Ok(());
    };
    let who = {
        let dir = options.migrations_dir.clone();
        tokio::task::spawn_blocking(move || super::who::Who::here(&dir))
            .await
            .unwrap_or_default()
    };
    let detail = serde_json::json!({
        "environment": env.name,
        "action": "apply",
        "method": confirmation.method,
        "reason": confirmation.reason,
        "plan_hash": plan.hash,
        "migrations": plan.migrations.iter().map(|m| &m.version).collect::<Vec<_>>(),
        "who": who,
    });
    store.ensure_schema().await.map_err(exit::execution)?;
    store
        .record_run_event("confirmation", None, None, os_user, &detail.to_string())
        .await
        .map_err(exit::execution)?;
    Ok(())
}

/// Refusals, the plan, the lint gate and the plan hash, once the entries are read.
fn prepare_entries(
    env: &Environment,
    entries: &[Entry],
    options: &ApplyOptions,
) -> anyhow::Result<Plan> {
    let refusals = super::refusals(&env.name, entries);
    if !refusals.is_empty() {
        return Err(exit::refused(anyhow::anyhow!(super::refusal_message(
            &env.name, &refusals
        ))));
    }
    let plan = plan::build(env, entries, options.to.as_ref(), Vec::new(), &options.lint);
    // The lint gate can only judge once the pending files are read.
    if let Some(message) = plan::gate_refusal(&env.name, &plan.gates) {
        return Err(exit::refused(anyhow::anyhow!(message)));
    }
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
    Ok(plan)
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    env: &Environment,
    lock: &mut AdvisoryLock,
    store: &mut StateStore,
    session: &Session,
    local: &[LocalMigration],
    options: &ApplyOptions,
    printer: &Printer,
    started: Instant,
) -> anyhow::Result<ApplyReport> {
    let os_user = state::os_user();
    // A killed run's no-transaction attempt is settled first: how far it got, read from the
    // server, is recorded as a failed attempt that a human then resolves.
    let mut entries = read_entries(store, local).await?;
    if entries.iter().any(|e| e.state == State::Interrupted) {
        store.ensure_schema().await.map_err(exit::execution)?;
        settle_interrupted(&entries, session, store, os_user.as_deref(), printer).await?;
        entries = read_entries(store, local).await?;
    }
    let plan = prepare_entries(env, &entries, options)?;
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
    let pending = plan::pending(&entries, options.to.as_ref());
    check_scripts(pending.iter().filter_map(|e| e.local.as_ref()))?;

    // The gates that need a database or a person, in the order of DESIGN.md §4.
    promotion_gate(env, &mut report.plan, &pending, options).await?;
    store.ensure_schema().await?;
    confirmation_gate(env, &report.plan, store, options, os_user.as_deref()).await?;
    if env.backup.is_some() {
        let backup =
            crate::backup::take(env, &options.backup_tools, store, printer, "migrate apply")
                .await
                .map_err(crate::backup::BackupError::into_exit)?;
        printer.note(&format!(
            "backup of `{}`: {} ({}, {})",
            env.name,
            backup.path.display(),
            crate::backup::human_size(backup.manifest.size),
            backup.manifest.sha256
        ));
        report.plan.set_gate(plan::Gate {
            name: "backup",
            status: "pass",
            detail: format!("{} ({})", backup.path.display(), backup.manifest.sha256),
        });
    }
    if let Some(gate) = report.plan.gates.iter().find(|g| g.status == "pending") {
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to apply to `{}`: the {} gate was not checked; nothing was run",
            env.name,
            gate.name
        )));
    }

    // Ctrl-C, SIGTERM and SIGHUP: ask the server to cancel the running statement; the run
    // then records the failure and ends. The handler lives as long as this run.
    let interrupted = Arc::new(Interrupt::default());
    let watcher = {
        let interrupted = Arc::clone(&interrupted);
        let token = session.cancel_token();
        let printer = *printer;
        tokio::spawn(async move {
            let Some(signal) = next_signal().await else {
                return;
            };
            interrupted.set(signal);
            printer.note(&format!(
                "interrupted ({signal}): cancelling the running statement on the server (again \
                 to exit without waiting)"
            ));
            let _ = token.cancel_query(NoTls).await;
            if next_signal().await.is_some() {
                // The connections close with the process, which releases the lock; what
                // the server was doing is left as an interrupted attempt.
                printer.error("interrupted twice: exiting without recording the outcome");
                std::process::exit(i32::from(exit::Outcome::Execution.code()));
            }
        })
    };

    let mut outcome = Ok(());
    for entry in pending {
        if let Some(signal) = interrupted.get() {
            outcome = Err(exit::execution(anyhow::anyhow!(
                "interrupted ({signal}) before {}; it was not started",
                entry.label()
            )));
            break;
        }
        // Never run a migration without the lock: another run may have taken it.
        if let Err(error) = lock.check().await {
            outcome = Err(exit::execution(anyhow::anyhow!(
                "{error} ({} was not started)",
                entry.label()
            )));
            break;
        }
        let run = Runner {
            env,
            session,
            store: &mut *store,
            printer,
            interrupted: &interrupted,
            os_user: os_user.as_deref(),
            drop_invalid_indexes: options.drop_invalid_indexes,
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
    report.elapsed_ms = started.elapsed().as_millis();
    if let Ok(Some(head)) = store.chain_head().await {
        if outcome.is_err() {
            printer.note(&format!("event log head: {}", head.hash));
        }
        report.head = Some(head.hash);
    }
    outcome.map(|()| report)
}

/// Which signal interrupted the run, once one did.
#[derive(Debug, Default)]
struct Interrupt(std::sync::OnceLock<&'static str>);

impl Interrupt {
    fn set(&self, signal: &'static str) {
        let _ = self.0.set(signal);
    }

    fn get(&self) -> Option<&'static str> {
        self.0.get().copied()
    }
}

/// The next of Ctrl-C, SIGTERM and SIGHUP, by name; `None` if none can be listened for.
async fn next_signal() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C");
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.ok().map(|()| "Ctrl-C"),
            _ = term.recv() => Some("SIGTERM"),
            _ = hup.recv() => Some("SIGHUP"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}

/// Records each interrupted no-transaction attempt (a `running` row whose run died) as a
/// failed one, with how far the server got: statements that ran in a transaction of their
/// own are recorded with it; for one that ran bare, the catalog tells where it can (an index
/// build is done when its index exists and is valid), and otherwise the row keeps the
/// statement as uncertain for a human to settle with `migrate resolve --statement`.
async fn settle_interrupted(
    entries: &[Entry],
    session: &Session,
    store: &mut StateStore,
    os_user: Option<&str>,
    printer: &Printer,
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
                    concurrent::Outcome::Ran(why) => (
                        index + 1,
                        None,
                        format!("statement {k} (line {line}) finished on the server: {why}"),
                    ),
                    concurrent::Outcome::NotRun(why) => (
                        index,
                        None,
                        format!("statement {k} (line {line}) did not take effect: {why}"),
                    ),
                    concurrent::Outcome::Invalid(indexes) => (
                        index,
                        None,
                        format!(
                            "statement {k} (line {line}) failed on the server and left {}",
                            concurrent::leftovers(&indexes)
                        ),
                    ),
                    concurrent::Outcome::Unknown => (
                        index,
                        Some(k),
                        format!(
                            "statement {k} (line {line}) was running on the server when the \
                             run died, and whether it finished cannot be read from the \
                             catalog; check the database, then `stagegate migrate resolve {} \
                             --statement ran|not-run --reason ...`",
                            entry.version
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
        printer.warning(&message);
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

/// The SQL statements of a script, without psql meta-commands and COPY data.
pub fn sql_statements(text: &str) -> Vec<sql::RawStatement> {
    sql::split(text)
        .into_iter()
        .filter(|s| s.kind == RawKind::Sql)
        .collect()
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
    interrupted: &'a Interrupt,
    os_user: Option<&'a str>,
    drop_invalid_indexes: bool,
}

/// Pause before retry `attempt` (1-based) after a lock timeout.
fn backoff(attempt: u32) -> Duration {
    // 0.5 s, 1 s, 2 s, ... at most 10 s.
    Duration::from_millis(500u64.saturating_mul(1 << (attempt - 1).min(5)))
        .min(Duration::from_secs(10))
}

/// SHA-256 over the first statements of a script, to check on resume that they did not change.
pub fn prefix_checksum(text: &str, statements: &[sql::RawStatement]) -> String {
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
        let statements = sql_statements(&local.up.text);
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
            checks: concurrent::parent_index_checks(
                statements.iter().map(|s| s.text(&local.up.text)),
            ),
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
            let interrupted = self.interrupted.get();
            if error.is_lock_timeout() && attempt < attempts_allowed && interrupted.is_none() {
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
                _ if session::is_parent_index_invalid(&error.source) => {
                    "left a partitioned index invalid"
                }
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
            if matches!(error.step, Step::Record) && session::is_double_record(&error.source) {
                // Another run applied it while this one ran (its lock was lost, or it was
                // killed and its connection finished): this run's transaction rolled back.
                return Err(exit::execution(anyhow::anyhow!(
                    "{label} was applied by another run while this one ran it: {described}\n  \
                     file: {file}\n  this run's transaction was rolled back, so {label} took \
                     effect once"
                )));
            }
            if let Some(signal) = interrupted
                && session::is_cancelled(&error.source)
            {
                message = format!(
                    "{label} interrupted ({signal}): the running statement was cancelled on the \
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
                uncertain_statement: None,
                error: &message,
            };
            record_failure(self.store, self.printer, &failure).await;
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
        // A statement that fits in a transaction block runs in one of its own with its
        // record, unless the file opens and closes transactions itself.
        let shapes: Vec<Shape> = statements.iter().map(|s| Shape::of(s.text(text))).collect();
        let own_transactions = shapes.contains(&Shape::TransactionControl);
        let client = self.session.client();
        let mut attempts = 1;
        let failure: Option<Failed> = 'run: {
            if let Err(error) = self.session.set_session_timeouts(&timeouts).await {
                break 'run Some(Failed::at(resume_from, error.to_string()));
            }
            for (index, statement) in statements.iter().enumerate().skip(resume_from) {
                let sql = statement.text(text);
                let line = local.up.first_line + statement.line - 1;
                let number = index + 1;
                let k = i32::try_from(number).unwrap_or(i32::MAX);
                let done_checksum = prefix_checksum(text, &statements[..number]);
                let shape = &shapes[index];
                let at = format!("statement {number} of {} (line {line})", statements.len());
                // IF NOT EXISTS would skip an invalid leftover of an earlier failed build and
                // leave the index unusable (and a unique one enforcing nothing).
                if let Shape::BuildIndex {
                    index: Some(name),
                    table,
                    ..
                } = shape
                {
                    match concurrent::named_index(client, name, table).await {
                        Ok(Some(found)) if !found.valid && self.drop_invalid_indexes => {
                            let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {}", found.name);
                            self.printer.warning(&format!(
                                "{label}: {at}: dropping the INVALID index {} left by an earlier \
                                 failed build before building it again ([migrate] \
                                 drop_invalid_indexes)",
                                found.name
                            ));
                            if let Err(error) = self.session.run(&drop).await {
                                break 'run Some(Failed::at(
                                    index,
                                    format!(
                                        "{label}: {at}: `{drop}` failed: {}",
                                        session::describe_error(&error, "", 1)
                                    ),
                                ));
                            }
                            let detail = format!("{drop} (invalid leftover, before {at})");
                            if let Err(error) = self
                                .store
                                .record_event(
                                    "repair",
                                    &record.version_text,
                                    &record.name,
                                    &record.checksum,
                                    self.os_user,
                                    &detail,
                                )
                                .await
                            {
                                self.printer
                                    .warning(&format!("could not record the repair: {error}"));
                            }
                        }
                        Ok(Some(found)) if !found.valid => {
                            break 'run Some(Failed::refused(
                                index,
                                format!(
                                    "{label}: {at} builds index {} concurrently, but an \
                                     INVALID index of that name is left from an earlier failed \
                                     build; {}, then apply again",
                                    found.name,
                                    concurrent::drop_advice(&found.name)
                                ),
                            ));
                        }
                        Ok(_) => {}
                        Err(error) => break 'run Some(Failed::at(index, error.to_string())),
                    }
                }
                let mut wrap = !own_transactions && shape.fits_in_transaction();
                // A concurrent build that fails leaves an INVALID leftover; running it again
                // needs a human first.
                let retryable = !matches!(
                    shape,
                    Shape::BuildIndex { .. } | Shape::Reindex { .. } | Shape::DropIndex { .. }
                );
                let mut attempt = 1;
                loop {
                    let result = if wrap {
                        match self
                            .session
                            .run_statement_recorded(sql, &record.version, k, &done_checksum)
                            .await
                        {
                            Ok(()) => Ok(()),
                            Err(error)
                                if matches!(error.step, Step::Up)
                                    && session::needs_no_transaction_block(&error.source) =>
                            {
                                // Nothing ran: it refused the transaction block.
                                wrap = false;
                                continue;
                            }
                            Err(error) => Err((error.source, error.prefix_chars)),
                        }
                    } else {
                        match self
                            .session
                            .record_statement_start(&record.version, k)
                            .await
                        {
                            Ok(()) => self.session.run(sql).await.map_err(|e| (e, 0)),
                            Err(error) => Err((error, 0)),
                        }
                    };
                    let (error, prefix_chars) = match result {
                        Ok(()) => break,
                        Err(failed) => failed,
                    };
                    if session::is_lock_timeout(&error)
                        && retryable
                        && attempt <= self.env.lock_retries
                        && self.interrupted.get().is_none()
                    {
                        let pause = backoff(attempt);
                        self.printer.warning(&format!(
                            "{label}: {at} hit the lock timeout on attempt {attempt}; retrying \
                             in {}ms",
                            pause.as_millis()
                        ));
                        tokio::time::sleep(pause).await;
                        attempt += 1;
                        attempts += 1;
                        continue;
                    }
                    if session::is_double_record(&error) {
                        break 'run Some(Failed::by_other_run(format!(
                            "{label}: {at} was recorded by another run meanwhile ({}); this run \
                             stops without running it",
                            session::describe_error(&error, "", 1)
                        )));
                    }
                    let described = session::describe_error_after(&error, sql, line, prefix_chars);
                    let mut message = match self.interrupted.get() {
                        Some(signal) if session::is_cancelled(&error) => format!(
                            "{label} interrupted ({signal}) at {at}: the statement was \
                             cancelled on the server ({described})"
                        ),
                        _ => format!("{label} failed at {at}: {described}"),
                    };
                    if let Some(left) = self.leftovers(shape).await {
                        message.push_str(&format!("; the failed build left {left}"));
                    }
                    break 'run Some(Failed::at(index, message));
                }
                if !wrap {
                    // It ran outside a transaction: an index build is done only when its
                    // index exists and is valid; then the statement is recorded done.
                    if let Shape::BuildIndex {
                        index: Some(name),
                        table,
                        ..
                    } = shape
                    {
                        let problem = match concurrent::named_index(client, name, table).await {
                            Ok(Some(found)) if found.valid => None,
                            Ok(Some(found)) => Some(format!(
                                "its index {} is INVALID afterwards; {}",
                                found.name,
                                concurrent::drop_advice(&found.name)
                            )),
                            Ok(None) => {
                                Some(format!("no index {name} exists on {table} afterwards"))
                            }
                            Err(error) => Some(error.to_string()),
                        };
                        if let Some(problem) = problem {
                            break 'run Some(Failed::at(
                                index,
                                format!("{label}: {at} ran, but {problem}"),
                            ));
                        }
                    }
                    if let Err(error) = self
                        .session
                        .record_progress(&record.version, k, &done_checksum)
                        .await
                    {
                        break 'run Some(Failed::at(
                            number,
                            format!(
                                "{label}: {at} ran, but recording it failed: {}",
                                session::describe_error(&error, "", 1)
                            ),
                        ));
                    }
                }
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
                if matches!(error.step, Step::Record) && session::is_double_record(&error.source) {
                    break 'run Some(Failed::by_other_run(format!(
                        "{label} was recorded by another run meanwhile: {}",
                        session::describe_error(&error.source, "", 1)
                    )));
                }
                let (script, first_line) = match (&error.step, verify) {
                    (Step::Verify, Some(v)) => (v.text.as_str(), v.first_line),
                    _ => ("", 1),
                };
                break 'run Some(Failed::at(
                    statements.len(),
                    format!(
                        "{label}: {} after all statements ran: {}",
                        match error.step {
                            _ if session::is_parent_index_invalid(&error.source) => {
                                "a partitioned index is still invalid"
                            }
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
        if let Some(failed) = failure {
            if failed.by_other_run {
                return Err(exit::execution(anyhow::anyhow!(failed.message)));
            }
            let done = failed.done;
            let done_checksum = prefix_checksum(text, &statements[..done]);
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
                uncertain_statement: None,
                error: &failed.message,
            };
            record_failure(self.store, self.printer, &failure).await;
            let error = anyhow::anyhow!(
                "{}\n  file: {}\n  {done} of {} statement(s) are applied and stay applied (no \
                 transaction); after repairing, `stagegate migrate resolve {} --env {} --reason \
                 ...` (or a fixed file) lets apply resume at statement {}",
                failed.message,
                local.up.path.display(),
                statements.len(),
                entry.version,
                self.env.name,
                done + 1
            );
            return Err(if failed.refused {
                exit::refused(error)
            } else {
                exit::execution(error)
            });
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

    /// The INVALID indexes a failed concurrent build or reindex left on its table, described.
    async fn leftovers(&self, shape: &Shape) -> Option<String> {
        let client = self.session.client();
        let table = match shape {
            Shape::BuildIndex { table, .. }
            | Shape::Reindex {
                table: Some(table), ..
            } => table.clone(),
            Shape::Reindex {
                index: Some(index), ..
            } => concurrent::table_of(client, index).await.ok().flatten()?,
            _ => return None,
        };
        let invalid = concurrent::invalid_indexes(client, &table).await.ok()?;
        (!invalid.is_empty()).then(|| concurrent::leftovers(&invalid))
    }
}

/// How a no-transaction migration stopped.
struct Failed {
    /// Statements done (and recorded) when it stopped.
    done: usize,
    message: String,
    /// A refusal (exit 3) rather than a failure (exit 4).
    refused: bool,
    /// Another run recorded it meanwhile: this run records nothing.
    by_other_run: bool,
}

impl Failed {
    fn at(done: usize, message: String) -> Failed {
        Failed {
            done,
            message,
            refused: false,
            by_other_run: false,
        }
    }

    fn refused(done: usize, message: String) -> Failed {
        Failed {
            refused: true,
            ..Failed::at(done, message)
        }
    }

    fn by_other_run(message: String) -> Failed {
        Failed {
            by_other_run: true,
            ..Failed::at(0, message)
        }
    }
}

/// Records a failed attempt; a failure to record is a warning (the run fails either way).
async fn record_failure(store: &mut StateStore, printer: &Printer, failure: &FailureRecord<'_>) {
    match store.record_failure(failure).await {
        Ok(true) => {}
        Ok(false) => printer.warning(&format!(
            "{} is recorded as applied by another run; this attempt's failure is not recorded",
            failure.version_text
        )),
        Err(error) => printer.warning(&format!("could not record the failure: {error}")),
    }
}
