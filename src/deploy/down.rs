//! `migrate down`: revert the newest applied migrations of one environment with their down
//! scripts, guarded.
//!
//! Order of business: advisory lock (bounded wait) -> state -> which migrations (newest first,
//! in reverse apply order) -> refusals (no down script, an empty one, a down script or up file
//! that changed since the apply, a target that is not applied, one that is not the newest:
//! exit 3, all reported at once) -> data-loss guard (read-only queries) -> gates -> run. Each
//! down script runs through the same executor as an up ([`super::runner`]), recorded
//! `reverted` by `stagegate.record_revert` in its own transaction.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::SimpleQueryMessage;

use super::runner::{self, AppliedMigration, Job, Runner, check_script, sql_statements};
use super::{Entry, LocalMigration, State};
use crate::analyze::{self, Change, ObjectKind, TypeChange};
use crate::config::Environment;
use crate::db::lock::AdvisoryLock;
use crate::db::session::{self, Finish, RevertRecord, Session, Timeouts};
use crate::db::state::{self, MigrationRow, StateStore};
use crate::exit;
use crate::progress::Sink;
use crate::source::{Script, Version};
use crate::sql::Class;

/// Which migrations to revert.
#[derive(Debug, Clone)]
pub(crate) enum DownTarget {
    /// The newest N applied.
    Steps(u32),
    /// Every applied migration newer than this one (it stays applied).
    To(Version),
}

/// How down is asked to run.
#[derive(Debug, Clone)]
pub(crate) struct DownOptions {
    pub target: DownTarget,
    pub dry_run: bool,
    /// A dry run that sends no statement of the scripts to the environment even where it is
    /// not gated (`--scratch`: a scratch copy runs them).
    pub read_only: bool,
    pub allow_data_loss: bool,
    pub lock_wait: Duration,
    pub drop_invalid_indexes: bool,
    /// `--confirm` and `--reason`.
    pub confirm: super::confirm::ConfirmRequest,
    /// The migrations directory, whose git commit is recorded with a confirmation.
    pub migrations_dir: std::path::PathBuf,
    /// `[backup]`: the pg_dump the backup gate uses.
    pub backup_tools: crate::config::BackupToolsConfig,
}

/// Data a down script would destroy, found in the live database.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Loss {
    pub version: String,
    pub line: usize,
    /// `table orders`, `column orders.email`.
    pub object: String,
    /// Rows (a table) or non-null values (a column), counted up to [`COUNT_CAP`].
    pub rows: u64,
    pub what: String,
}

/// Counting stops here: "at least" is enough to refuse.
pub(crate) const COUNT_CAP: u64 = 1_000_000;

impl Loss {
    fn describe(&self) -> String {
        let count = if self.rows >= COUNT_CAP {
            format!("{COUNT_CAP}+")
        } else {
            self.rows.to_string()
        };
        format!(
            "{} line {}: {} on {}, which holds {count} {}",
            self.version,
            self.line,
            self.what,
            self.object,
            if self.what.contains("column") || self.what.contains("type") {
                "non-null value(s)"
            } else {
                "row(s)"
            }
        )
    }
}

/// One statement of a dry run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DryStatement {
    pub line: usize,
    pub statement: String,
    /// Rows the statement reported (INSERT/UPDATE/DELETE/...), when it reports any.
    pub rows: Option<u64>,
    /// Why it was not run (it cannot run inside a transaction block).
    pub skipped: Option<String>,
}

/// One down script as a dry run ran it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DryRun {
    pub version: String,
    pub name: String,
    pub statements: Vec<DryStatement>,
    /// What it dropped (rolled back), or, when `read_only`, what its statements drop.
    pub dropped: Vec<String>,
    pub created: Vec<String>,
    /// The environment is gated: no statement of the script was run there; what is shown
    /// comes from the statements and read-only queries.
    pub read_only: bool,
}

/// What down did (or, with `--dry-run`, did and rolled back).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DownReport {
    pub environment: String,
    pub dry_run: bool,
    pub reverted: Vec<AppliedMigration>,
    pub dry: Vec<DryRun>,
    /// Data the down destroys, let through by `--allow-data-loss`.
    pub data_loss: Vec<Loss>,
    pub elapsed_ms: u128,
    pub head: Option<String>,
}

/// Runs `migrate down` for `env`. `local` reads the migration files while the connections
/// are set up.
pub(crate) async fn down(
    env: &Environment,
    local: impl Future<Output = anyhow::Result<Vec<LocalMigration>>>,
    options: &DownOptions,
    progress: &Sink,
) -> anyhow::Result<DownReport> {
    let started = Instant::now();
    let (local, mut c, ()) = runner::Connections::open(
        env,
        local,
        options.lock_wait,
        started,
        progress,
        async |_| Ok(()),
    )
    .await?;
    let result = down_locked(
        env,
        &mut c.lock,
        &mut c.store,
        &c.session,
        &local,
        options,
        progress,
        started,
    )
    .await;
    c.close().await;
    result
}

/// A migration to revert, with its down script.
struct Reversal<'a> {
    entry: &'a Entry,
    row: &'a MigrationRow,
    down: Script,
}

#[allow(clippy::too_many_arguments)]
async fn down_locked(
    env: &Environment,
    lock: &mut AdvisoryLock,
    store: &mut StateStore,
    session: &Session,
    local: &[LocalMigration],
    options: &DownOptions,
    progress: &Sink,
    started: Instant,
) -> anyhow::Result<DownReport> {
    // The gates apply and plan judge first: rows that verify, on this environment's database.
    let rows = super::gates::trusted_snapshot(env, store, "roll back")
        .await?
        .rows;
    let entries = super::compare(local, rows);
    let mut report = DownReport {
        environment: env.name.clone(),
        dry_run: options.dry_run,
        reverted: Vec::new(),
        dry: Vec::new(),
        data_loss: Vec::new(),
        elapsed_ms: 0,
        head: None,
    };
    let targets = select(&env.name, &entries, &options.target).map_err(refuse(&env.name))?;
    if targets.is_empty() {
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    let targets = check_targets(&env.name, &entries, &targets).map_err(refuse(&env.name))?;

    // The data-loss guard, on the live database, read-only.
    let (losses, unclassified) = data_loss(env, session, &targets)
        .await
        .map_err(exit::execution)?;
    if !options.allow_data_loss && (!losses.is_empty() || !unclassified.is_empty()) {
        let mut message = format!(
            "refusing to roll back `{}`: the down script(s) would destroy data; nothing was run",
            env.name
        );
        for loss in &losses {
            let _ = write!(message, "\n  - {}", loss.describe());
        }
        for line in &unclassified {
            let _ = write!(message, "\n  - {line}");
        }
        message.push_str(
            "\n  back the data up (or move it) first, then run again with --allow-data-loss",
        );
        return Err(exit::refused(anyhow::anyhow!(message)));
    }
    report.data_loss = losses;

    if options.dry_run {
        report.dry = if env.is_gated() || options.read_only {
            read_only_dry_run(env, &targets)
        } else {
            dry_run(env, session, &targets)
                .await
                .map_err(exit::execution)?
        };
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }

    store.ensure_schema().await?;
    let os_user = state::os_user();
    // The confirmation and a fresh backup, right before the first statement.
    let what = format!("roll back {} migration(s)", targets.len());
    super::confirm::gate(
        env,
        super::confirm::ConfirmedStep {
            action: "down",
            summary: summary(env, &targets, &report.data_loss, &what),
            what,
            migrations: targets
                .iter()
                .map(|t| t.entry.version.to_string())
                .collect(),
            plan_hash: None,
            request: &options.confirm,
            migrations_dir: &options.migrations_dir,
            os_user: os_user.as_deref(),
        },
        store,
    )
    .await?;
    crate::backup::gate(
        env,
        &options.backup_tools,
        store,
        &**progress,
        "migrate down",
    )
    .await?;
    let (interrupted, watcher) = runner::watch_signals(session, progress);
    let mut outcome = Ok(());
    for target in &targets {
        let label = target.entry.label();
        if let Err(error) = interrupted
            .may_start(lock, &format!("reverting {label}"))
            .await
        {
            outcome = Err(error);
            break;
        }
        let statements = sql_statements(&target.down.text);
        let no_transaction = target.down.settings.no_transaction;
        let resume = match (target.row.status, target.row.down_statements_done) {
            (state::RowStatus::Reverting, Some(done)) if done > 0 => Some((
                usize::try_from(done).unwrap_or(0),
                target.row.down_done_checksum.clone().unwrap_or_default(),
            )),
            _ => None,
        };
        let job = Job {
            label,
            version: &target.entry.version,
            script: &target.down,
            verify: None,
            finish: Finish::Revert(RevertRecord {
                version: target.row.version.clone(),
                version_text: target.row.version_text.clone(),
                name: target.row.name.clone(),
                checksum: target.row.checksum.clone(),
                down_checksum: target.row.down_checksum.clone(),
                no_transaction,
                os_user: os_user.clone(),
                statements_total: i32::try_from(statements.len()).unwrap_or(i32::MAX),
                checks: target
                    .entry
                    .local
                    .as_ref()
                    .and_then(|l| l.migration.bookkeeping.as_ref())
                    .map_or_else(String::new, |b| b.down.clone()),
            }),
            timeouts: down_timeouts(env, &target.down),
            resume,
        };
        let run = Runner {
            env,
            session,
            store: &mut *store,
            progress,
            interrupted: &interrupted,
            os_user: os_user.as_deref(),
            drop_invalid_indexes: options.drop_invalid_indexes,
        };
        match run.run(job).await {
            Ok(done) => report.reverted.push(done),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    watcher.abort();
    report.elapsed_ms = started.elapsed().as_millis();
    if let Ok(Some(head)) = store.chain_head().await {
        report.head = Some(head.hash);
    }
    outcome.map(|()| report)
}

/// A refusal of the whole down, naming the environment.
fn refuse(env: &str) -> impl Fn(Vec<String>) -> anyhow::Error + '_ {
    move |problems| {
        let mut message = format!(
            "refusing to roll back `{env}`: {} problem(s), nothing was run",
            problems.len()
        );
        for problem in problems {
            let _ = write!(message, "\n  - {problem}");
        }
        exit::refused(anyhow::anyhow!(message))
    }
}

/// What a person confirms before a down: the migrations in the order they are reverted, the
/// data that `--allow-data-loss` lets go, and where the backup goes.
fn summary(env: &Environment, targets: &[Reversal<'_>], losses: &[Loss], what: &str) -> String {
    let mut out = format!("About to {what} on `{}`, newest first:\n", env.name);
    for target in targets {
        let statements = sql_statements(&target.down.text).len();
        let _ = writeln!(
            out,
            "  {} {} ({}, {statements} statement(s))",
            target.entry.version,
            target.entry.name,
            if target.down.settings.no_transaction {
                "no-transaction"
            } else {
                "transaction"
            }
        );
    }
    if !losses.is_empty() {
        let _ = writeln!(out, "Data that will be lost (--allow-data-loss):");
        for loss in losses {
            let _ = writeln!(out, "  {}", loss.describe());
        }
    }
    if let Some(backup) = super::confirm::backup_line(env) {
        let _ = writeln!(out, "Backup: {backup}, before the first statement");
    }
    out
}

/// The timeouts a down script runs with: its directives over the environment's settings.
fn down_timeouts(env: &Environment, down: &Script) -> Timeouts {
    Timeouts {
        lock_timeout: down.settings.lock_timeout.or(env.lock_timeout),
        statement_timeout: down.settings.statement_timeout.or(env.statement_timeout),
    }
}

/// Applied migrations (and a partly reverted one), newest first in apply order.
fn applied(entries: &[Entry]) -> Vec<&Entry> {
    let mut applied: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.row.is_some()
                && matches!(
                    e.state,
                    State::Applied
                        | State::ChecksumMismatch
                        | State::MissingLocally
                        | State::Reverting
                )
        })
        .collect();
    let at = |e: &Entry| {
        e.row
            .as_ref()
            .map(|r| r.finished_at.unwrap_or(r.started_at))
    };
    applied.sort_by(|a, b| {
        // A partly reverted one is always first: it must be finished before anything else.
        (b.state == State::Reverting)
            .cmp(&(a.state == State::Reverting))
            .then(at(b).cmp(&at(a)))
            .then(b.version.cmp(&a.version))
    });
    applied
}

/// The migrations to revert, in the order they are reverted.
fn select<'a>(
    env: &str,
    entries: &'a [Entry],
    target: &DownTarget,
) -> Result<Vec<&'a Entry>, Vec<String>> {
    let applied = applied(entries);
    match target {
        DownTarget::Steps(steps) => {
            let steps = usize::try_from(*steps).unwrap_or(usize::MAX);
            if steps > applied.len() {
                return Err(vec![format!(
                    "--steps {steps}: only {} migration(s) are applied in `{env}`",
                    applied.len()
                )]);
            }
            Ok(applied[..steps].to_vec())
        }
        DownTarget::To(to) => {
            // A revision id names its revision whatever its place in the graph's order.
            let Some(entry) = entries.iter().find(|e| e.version.matches(to.as_str())) else {
                return Err(vec![format!(
                    "--to {to}: no migration {to} is known locally or recorded in `{env}`"
                )]);
            };
            if !matches!(entry.state, State::Applied | State::ChecksumMismatch) {
                return Err(vec![format!(
                    "--to {to}: {} is not applied in `{env}` (it is {}); --to names the newest \
                     migration that stays applied",
                    entry.label(),
                    entry.state.label()
                )]);
            }
            Ok(applied
                .into_iter()
                .filter(|e| e.version > entry.version)
                .collect())
        }
    }
}

/// Checks each target; every problem is reported at once.
fn check_targets<'a>(
    env: &str,
    entries: &'a [Entry],
    targets: &[&'a Entry],
) -> Result<Vec<Reversal<'a>>, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    // Reverting happens in reverse apply order: a target must not have been applied before
    // a migration that stays applied.
    let order = applied(entries);
    let chosen: HashSet<String> = targets.iter().map(|e| e.version.to_string()).collect();
    for (index, entry) in order.iter().enumerate() {
        if !chosen.contains(&entry.version.to_string()) {
            continue;
        }
        if let Some(later) = order[..index]
            .iter()
            .find(|e| !chosen.contains(&e.version.to_string()))
        {
            problems.push(format!(
                "{} is not the newest applied migration: {} was applied after it and stays \
                 applied (migrations are reverted in reverse apply order)",
                entry.label(),
                later.label()
            ));
        }
    }
    // A failed or interrupted attempt anywhere leaves the database in a state no down
    // script was written for.
    for refusal in super::refusals(env, entries) {
        if matches!(
            refusal.kind,
            super::RefusalKind::UnresolvedFailure | super::RefusalKind::Interrupted
        ) {
            problems.push(refusal.message);
        }
    }
    for entry in targets {
        let label = entry.label();
        let row = entry.row.as_ref().expect("applied entries have a row");
        // A down statement sent outside a transaction whose end was not recorded: its run
        // died while the server ran it. Running it again could fail, or do it twice.
        if row.status == state::RowStatus::Reverting
            && let Some(k) = row.running_statement
        {
            problems.push(format!(
                "{label} was interrupted while its down statement {k} ran (the process was \
                 killed?), and whether it took effect is not known; check the database, then \
                 run {}",
                super::statement_hint(&row.version_text, env)
            ));
            continue;
        }
        let Some(local) = &entry.local else {
            problems.push(format!(
                "{label} has no file in the migrations directory, so no down script"
            ));
            continue;
        };
        if entry.state == State::ChecksumMismatch {
            problems.push(format!(
                "the up file {} no longer matches what was applied (recorded {}, now {}): its \
                 down script may not undo what ran; restore the file",
                local.up.path.display(),
                row.checksum,
                local.up.checksum
            ));
        }
        let replace = |env: &str, no_op: bool| {
            format!(
                "`stagegate migrate replace-down --env {env} {}{} --reason \"...\"`",
                row.version_text,
                if no_op { " --no-op" } else { "" }
            )
        };
        // Declared a no-op (`migrate replace-down --no-op`): nothing runs, the record says
        // reverted.
        if row.down_checksum.as_deref() == Some(super::NOOP) {
            let path = local
                .migration
                .down
                .as_ref()
                .map_or_else(|| local.up.path.clone(), |d| d.path.clone());
            out.push(Reversal {
                entry,
                row,
                down: crate::source::Script {
                    path,
                    text: String::new(),
                    first_line: 1,
                    checksum: crate::source::Checksum::of_normalized(""),
                    text_checksum: crate::source::Checksum::of_normalized(""),
                    rendered_checksum: None,
                    directives: Vec::new(),
                    settings: crate::source::ScriptSettings::default(),
                },
            });
            continue;
        }
        let Some(down_ref) = &local.migration.down else {
            if let Some(error) = &local.migration.down_error {
                problems.push(format!(
                    "{label}'s downgrade() could not be rendered to SQL ({error}), so there is \
                     no down script to run; make downgrade() render offline, as `alembic \
                     downgrade --sql` needs"
                ));
                continue;
            }
            problems.push(format!(
                "{label} has no down script; write one and record it with {}, or declare that \
                 undoing it needs nothing: {}",
                replace(env, false),
                replace(env, true)
            ));
            continue;
        };
        let down = match down_ref.load() {
            Ok(down) => down,
            Err(error) => {
                problems.push(error.to_string());
                continue;
            }
        };
        let bookkeeping_only = local.up.reverts_by_bookkeeping(&down);
        if down.is_blank() && !bookkeeping_only {
            problems.push(format!(
                "the down script {} of {label} is empty (comments only); if undoing it needs \
                 nothing, declare so: {}",
                down.path.display(),
                replace(env, true)
            ));
            continue;
        }
        match &row.down_checksum {
            // Nothing to match: an Alembic revision's scripts are its file, whose checksum is
            // the up checksum checked above.
            _ if bookkeeping_only => {}
            None => problems.push(format!(
                "{label} was applied without a down script (none is recorded for it), so {} \
                 was written since and cannot be matched with what was applied; once it is \
                 reviewed, record it: {}",
                down.path.display(),
                replace(env, false)
            )),
            Some(recorded) if !down.matches(recorded) => problems.push(format!(
                "the down script {} changed since {label} was applied (recorded {recorded}, \
                 now {}); restore it as it was, or record the new one as its down: {}",
                down.path.display(),
                down.checksum,
                replace(env, false)
            )),
            Some(_) => {}
        }
        if let Err(error) = check_script(&down, !down.settings.no_transaction) {
            problems.push(error.to_string());
        }
        out.push(Reversal { entry, row, down });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `"schema"."name"` for a normalised name (lower-case unless it was quoted).
fn quoted(name: &str) -> String {
    crate::sql::quote_parts(name.split('.'))
}

/// One check the guard makes on the live database.
enum Probe {
    Rows {
        table: String,
    },
    Values {
        table: String,
        column: String,
    },
    Narrowing {
        table: String,
        column: String,
        to: analyze::ColumnType,
        using: bool,
    },
    Schema {
        schema: String,
    },
    /// The tables that reference `table` by foreign key, recursively (`TRUNCATE ... CASCADE`).
    Referencing {
        table: String,
    },
    TypeColumns {
        name: String,
    },
}

/// What destroys data in the down scripts, counted on the live database, and the statements
/// the analyzer could not classify.
async fn data_loss(
    env: &Environment,
    session: &Session,
    targets: &[Reversal<'_>],
) -> anyhow::Result<(Vec<Loss>, Vec<String>)> {
    let mut created: HashSet<String> = HashSet::new();
    let mut probes: Vec<(String, usize, String, Probe)> = Vec::new();
    let mut unclassified = Vec::new();
    for target in targets {
        let version = target.entry.label();
        let text = &target.down.text;
        for statement in analyze::analyze(text) {
            let line = target.down.first_line + text[..statement.span.start].matches('\n').count();
            let head: String = text[statement.span.clone()]
                .split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ");
            for change in &statement.changes {
                let mut probe = |what: &str, p: Probe| {
                    probes.push((version.clone(), line, what.to_string(), p));
                };
                match change {
                    Change::CreateTable { table, .. } => {
                        created.insert(format!("table {table}"));
                    }
                    Change::AddColumn { table, column, .. } => {
                        created.insert(format!("column {table}.{}", column.name));
                    }
                    Change::CreateSchema { name, .. } => {
                        created.insert(format!("schema {name}"));
                    }
                    Change::CreateEnum { name, .. } | Change::CreateDomain { name, .. } => {
                        created.insert(format!("type {name}"));
                    }
                    Change::Drop {
                        kind: ObjectKind::Table,
                        names,
                        ..
                    } => {
                        for name in names {
                            if !created.contains(&format!("table {name}")) {
                                probe(
                                    "DROP TABLE",
                                    Probe::Rows {
                                        table: name.clone(),
                                    },
                                );
                            }
                        }
                    }
                    Change::Drop {
                        kind: ObjectKind::Schema,
                        names,
                        cascade: true,
                        ..
                    } => {
                        for name in names {
                            if !created.contains(&format!("schema {name}")) {
                                probe(
                                    "DROP SCHEMA ... CASCADE",
                                    Probe::Schema {
                                        schema: name.clone(),
                                    },
                                );
                            }
                        }
                    }
                    Change::Drop {
                        kind: kind @ (ObjectKind::Type | ObjectKind::Domain),
                        names,
                        cascade: true,
                        ..
                    } => {
                        for name in names {
                            if !created.contains(&format!("type {name}")) {
                                let what = format!(
                                    "DROP {} ... CASCADE drops the column",
                                    kind.noun().to_uppercase()
                                );
                                probe(&what, Probe::TypeColumns { name: name.clone() });
                            }
                        }
                    }
                    Change::DropColumn { table, column, .. }
                        if !created.contains(&format!("table {table}"))
                            && !created.contains(&format!("column {table}.{column}")) =>
                    {
                        probe(
                            "DROP COLUMN drops the column",
                            Probe::Values {
                                table: table.clone(),
                                column: column.clone(),
                            },
                        );
                    }
                    Change::AlterColumnType {
                        table,
                        column,
                        to,
                        using,
                        ..
                    } if !created.contains(&format!("table {table}"))
                        && !created.contains(&format!("column {table}.{column}")) =>
                    {
                        probe(
                            "ALTER COLUMN TYPE narrows the column",
                            Probe::Narrowing {
                                table: table.clone(),
                                column: column.clone(),
                                to: to.clone(),
                                using: *using,
                            },
                        );
                    }
                    Change::Truncate { tables, cascade } => {
                        for table in tables {
                            if !created.contains(&format!("table {table}")) {
                                probe(
                                    "TRUNCATE",
                                    Probe::Rows {
                                        table: table.clone(),
                                    },
                                );
                                if *cascade {
                                    probe(
                                        "TRUNCATE ... CASCADE empties the referencing table",
                                        Probe::Referencing {
                                            table: table.clone(),
                                        },
                                    );
                                }
                            }
                        }
                    }
                    Change::Delete { table, reach }
                        if !created.contains(&format!("table {table}")) =>
                    {
                        let what = if *reach != crate::analyze::Reach::All {
                            "DELETE (with a WHERE clause stagegate cannot evaluate)"
                        } else {
                            "DELETE"
                        };
                        probe(
                            what,
                            Probe::Rows {
                                table: table.clone(),
                            },
                        );
                    }
                    Change::Unrecognised { .. }
                    | Change::DynamicSql { .. }
                    | Change::SyntaxError { .. } => unclassified.push(format!(
                        "{version} line {line}: `{head}` could not be classified, so stagegate \
                         cannot tell whether it destroys data; review it"
                    )),
                    _ => {}
                }
            }
        }
    }
    if probes.is_empty() {
        return Ok((Vec::new(), unclassified));
    }
    let client = session.client();
    let mut begin = String::from("BEGIN READ ONLY;");
    if let Some(lock) = env.lock_timeout {
        let _ = write!(begin, "SET LOCAL lock_timeout = '{}';", lock.to_postgres());
    } else {
        begin.push_str("SET LOCAL lock_timeout = '5s';");
    }
    client
        .batch_execute(&begin)
        .await
        .context("starting the data-loss checks")?;
    let result = run_probes(client, &probes).await;
    let _ = client.batch_execute("ROLLBACK").await;
    Ok((result?, unclassified))
}

async fn run_probes(
    client: &tokio_postgres::Client,
    probes: &[(String, usize, String, Probe)],
) -> anyhow::Result<Vec<Loss>> {
    let count = |sql: String| async move {
        let row = client
            .query_one(&sql, &[])
            .await
            .with_context(|| format!("data-loss check `{sql}`"))?;
        Ok::<u64, anyhow::Error>(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    };
    let mut losses = Vec::new();
    for (version, line, what, probe) in probes {
        let mut found: Vec<(String, u64)> = Vec::new();
        match probe {
            Probe::Rows { table } => {
                let exists: bool = client
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quoted(table)])
                    .await?
                    .get(0);
                if exists {
                    let n = count(format!(
                        "SELECT count(*) FROM (SELECT FROM {} LIMIT {COUNT_CAP}) s",
                        quoted(table)
                    ))
                    .await?;
                    found.push((format!("table {table}"), n));
                }
            }
            Probe::Values { table, column } | Probe::Narrowing { table, column, .. } => {
                let ty = client
                    .query_opt(
                        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                         WHERE a.attrelid = to_regclass($1) AND a.attname = $2 \
                         AND NOT a.attisdropped AND a.attnum > 0",
                        &[&quoted(table), column],
                    )
                    .await?
                    .map(|row| row.get::<_, String>(0));
                let Some(ty) = ty else { continue };
                if let Probe::Narrowing { to, using, .. } = probe {
                    let from = analyze::ColumnType::parse(&ty);
                    if analyze::type_change(&from, to, *using) != TypeChange::Narrowing {
                        continue;
                    }
                }
                let n = count(format!(
                    "SELECT count(*) FROM (SELECT FROM {} WHERE {} IS NOT NULL LIMIT {COUNT_CAP}) s",
                    quoted(table),
                    quoted(column)
                ))
                .await?;
                found.push((format!("column {table}.{column} ({ty})"), n));
            }
            Probe::Schema { schema } => {
                let tables = client
                    .query(
                        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
                        &[schema],
                    )
                    .await?;
                for row in tables {
                    let table: String = row.get(0);
                    let n = count(format!(
                        "SELECT count(*) FROM (SELECT FROM {table} LIMIT {COUNT_CAP}) s"
                    ))
                    .await?;
                    found.push((format!("table {table}"), n));
                }
            }
            Probe::Referencing { table } => {
                let referencing = client
                    .query(
                        "WITH RECURSIVE r(oid) AS (SELECT to_regclass($1)::oid \
                         UNION SELECT c.conrelid FROM pg_constraint c JOIN r ON c.confrelid = r.oid \
                         WHERE c.contype = 'f') \
                         SELECT r.oid::regclass::text FROM r \
                         WHERE r.oid IS NOT NULL AND r.oid <> to_regclass($1)::oid ORDER BY 1",
                        &[&quoted(table)],
                    )
                    .await?;
                for row in referencing {
                    let other: String = row.get(0);
                    let n = count(format!(
                        "SELECT count(*) FROM (SELECT FROM {other} LIMIT {COUNT_CAP}) s"
                    ))
                    .await?;
                    found.push((format!("table {other}"), n));
                }
            }
            Probe::TypeColumns { name } => {
                let columns = client
                    .query(
                        "SELECT format('%I.%I', n.nspname, c.relname), a.attname FROM pg_attribute a \
                         JOIN pg_class c ON c.oid = a.attrelid \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE a.atttypid = to_regtype($1) AND NOT a.attisdropped AND a.attnum > 0 \
                         AND c.relkind IN ('r', 'p') ORDER BY 1, 2",
                        &[&quoted(name)],
                    )
                    .await?;
                for row in columns {
                    let (table, column): (String, String) = (row.get(0), row.get(1));
                    let n = count(format!(
                        "SELECT count(*) FROM (SELECT FROM {table} WHERE {} IS NOT NULL LIMIT {COUNT_CAP}) s",
                        quoted(&column)
                    ))
                    .await?;
                    found.push((format!("column {table}.{column} (type {name})"), n));
                }
            }
        }
        for (object, rows) in found {
            if rows > 0 {
                losses.push(Loss {
                    version: version.clone(),
                    line: *line,
                    object,
                    rows,
                    what: what.clone(),
                });
            }
        }
    }
    Ok(losses)
}

/// The user objects of the database, each as `kind name`, for what a dry run dropped.
const OBJECTS: &str = "\
    SELECT CASE WHEN c.relkind IN ('r', 'p') THEN 'table' WHEN c.relkind = 'v' THEN 'view' \
                WHEN c.relkind = 'm' THEN 'materialized view' WHEN c.relkind = 'S' THEN 'sequence' \
                ELSE 'index' END || ' ' || c.oid::regclass::text \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I') \
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'stagegate', 'pg_toast') \
      AND n.nspname NOT LIKE 'pg_temp%' \
    UNION ALL \
    SELECT 'column ' || c.oid::regclass::text || '.' || quote_ident(a.attname) \
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') \
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'stagegate', 'pg_toast') \
    UNION ALL \
    SELECT 'type ' || t.oid::regtype::text FROM pg_type t \
    JOIN pg_namespace n ON n.oid = t.typnamespace \
    WHERE t.typtype IN ('e', 'd') \
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'stagegate') \
    UNION ALL \
    SELECT 'schema ' || quote_ident(nspname) FROM pg_namespace \
    WHERE nspname NOT IN ('information_schema', 'stagegate', 'public') AND nspname NOT LIKE 'pg\\_%'";

async fn objects(client: &tokio_postgres::Client) -> anyhow::Result<HashSet<String>> {
    Ok(client
        .query(OBJECTS, &[])
        .await
        .context("listing the database's objects")?
        .into_iter()
        .map(|row| row.get::<_, String>(0))
        .collect())
}

/// A dry run on a gated environment (confirmation, backup or promotion), or one asked to
/// read only (`--scratch`): the scripts' statements are never sent there, not even in a
/// transaction that is rolled back (their locks alone would block production). It lists
/// them, with what they drop as the analyzer reads them; the data-loss guard has already
/// counted what that holds, read-only.
fn read_only_dry_run(env: &Environment, targets: &[Reversal<'_>]) -> Vec<DryRun> {
    let why = if env.is_gated() {
        format!(
            "`{}` is gated, so a dry run sends no statement of the script there",
            env.name
        )
    } else {
        format!(
            "with --scratch, a dry run sends no statement of the script to `{}`",
            env.name
        )
    };
    targets
        .iter()
        .map(|target| {
            let text = &target.down.text;
            let statements = sql_statements(text)
                .iter()
                .map(|statement| DryStatement {
                    line: target.down.first_line + statement.line - 1,
                    statement: short(statement.text(text)),
                    rows: None,
                    skipped: Some(why.clone()),
                })
                .collect();
            let mut dropped = Vec::new();
            for change in analyze::analyze(text).iter().flat_map(|a| &a.changes) {
                match change {
                    Change::Drop { kind, names, .. } => {
                        dropped.extend(names.iter().map(|name| format!("{} {name}", kind.noun())))
                    }
                    Change::DropColumn { table, column, .. } => {
                        dropped.push(format!("column {table}.{column}"));
                    }
                    _ => {}
                }
            }
            DryRun {
                version: target.entry.version.to_string(),
                name: target.entry.name.clone(),
                statements,
                dropped,
                created: Vec::new(),
                read_only: true,
            }
        })
        .collect()
}

/// A statement on one line, at most 80 characters.
fn short(sql: &str) -> String {
    let short: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    short.chars().take(80).collect()
}

/// Runs every down script in one transaction, statement by statement, and rolls it all
/// back. What the statement classifier says must not run there is reported, not run: the
/// script's own transaction control (its COMMIT would commit the dry run) and what cannot
/// run inside a transaction block.
async fn dry_run(
    env: &Environment,
    session: &Session,
    targets: &[Reversal<'_>],
) -> anyhow::Result<Vec<DryRun>> {
    let client = session.client();
    client.batch_execute("BEGIN").await?;
    let result = dry_run_body(env, client, targets).await;
    let _ = client.batch_execute("ROLLBACK").await;
    result
}

async fn dry_run_body(
    env: &Environment,
    client: &tokio_postgres::Client,
    targets: &[Reversal<'_>],
) -> anyhow::Result<Vec<DryRun>> {
    let mut out = Vec::new();
    for target in targets {
        let timeouts = down_timeouts(env, &target.down);
        let mut settings = String::from("RESET lock_timeout;RESET statement_timeout;");
        if let Some(lock) = timeouts.lock_timeout {
            let _ = write!(
                settings,
                "SET LOCAL lock_timeout = '{}';",
                lock.to_postgres()
            );
        }
        if let Some(statement) = timeouts.statement_timeout {
            let _ = write!(
                settings,
                "SET LOCAL statement_timeout = '{}';",
                statement.to_postgres()
            );
        }
        client.batch_execute(&settings).await?;
        let before = objects(client).await?;
        let text = &target.down.text;
        let mut statements = Vec::new();
        let plan = check_script(&target.down, !target.down.settings.no_transaction)?;
        for planned in &plan.statements {
            let sql = planned.text(text);
            let line = target.down.first_line + planned.raw.line - 1;
            let short = short(sql);
            let skipped = match planned.class {
                Class::Transaction(control) => Some(format!(
                    "{}: transaction control; the dry run's own transaction stays open and is \
                     rolled back",
                    control.label()
                )),
                Class::NoTransactionBlock => Some(
                    "cannot run inside a transaction block, so a dry run does not run it"
                        .to_string(),
                ),
                _ => None,
            };
            if let Some(why) = skipped {
                statements.push(DryStatement {
                    line,
                    statement: short,
                    rows: None,
                    skipped: Some(why),
                });
                continue;
            }
            client.batch_execute("SAVEPOINT stagegate_dry").await?;
            match client.simple_query(sql).await {
                Ok(messages) => {
                    let rows = messages.iter().rev().find_map(|m| match m {
                        SimpleQueryMessage::CommandComplete(n) => Some(*n),
                        _ => None,
                    });
                    client.batch_execute("RELEASE stagegate_dry").await?;
                    statements.push(DryStatement {
                        line,
                        statement: short,
                        rows,
                        skipped: None,
                    });
                }
                Err(error) if session::needs_no_transaction_block(&error) => {
                    client
                        .batch_execute("ROLLBACK TO SAVEPOINT stagegate_dry")
                        .await?;
                    statements.push(DryStatement {
                        line,
                        statement: short,
                        rows: None,
                        skipped: Some(
                            "cannot run inside a transaction block, so a dry run does not run it"
                                .to_string(),
                        ),
                    });
                }
                Err(error) => {
                    anyhow::bail!(
                        "dry run of {}: {} line {line} failed: {}; the down would fail there \
                         (everything was rolled back)",
                        target.entry.label(),
                        target.down.path.display(),
                        session::describe_error(&error, sql, line)
                    );
                }
            }
        }
        let after = objects(client).await?;
        let dropped_tables: HashSet<String> = before
            .difference(&after)
            .filter_map(|o| o.strip_prefix("table ").map(|t| format!("{t}.")))
            .collect();
        let mut dropped: Vec<String> = before
            .difference(&after)
            .filter(|o| {
                !o.strip_prefix("column ")
                    .is_some_and(|c| dropped_tables.iter().any(|t| c.starts_with(t.as_str())))
            })
            .cloned()
            .collect();
        dropped.sort();
        let mut created: Vec<String> = after.difference(&before).cloned().collect();
        created.sort();
        out.push(DryRun {
            version: target.entry.version.to_string(),
            name: target.entry.name.clone(),
            statements,
            dropped,
            created,
            read_only: false,
        });
    }
    Ok(out)
}
