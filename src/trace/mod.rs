//! `stagegate trace`: run migrations statement by statement on a scratch database and record
//! what each statement really does: the table locks it takes (`pg_locks`), the relations it
//! rewrites (`pg_class.relfilenode` changes) and how long it runs; then compare that with the
//! static lock model ([`crate::analyze::locks`]).
//!
//! The scratch database is one of its own on the scratch server
//! ([`crate::scratch::ScratchDb`]). The migrations before each traced one are
//! applied as `migrate apply` runs them. A transactional migration is traced in one
//! transaction and rolled back; a `no-transaction` one runs statement by statement on a
//! database saved beforehand (`CREATE DATABASE ... TEMPLATE`) and is undone by restoring that
//! copy. Either way, when a later migration is traced, the migration is then applied for real
//! so the later one starts from the schema it was written for. See `docs/trace.md`.

pub(crate) mod report;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use tokio_postgres::Client;

use crate::analyze::{self, Effect, LockMode};
use crate::db::session::{self, Session};
use crate::exit;
use crate::scratch::ScratchDb;
use crate::source::{Migration, Script};
use crate::sql;

/// Version of the JSON report's shape.
pub(crate) const JSON_VERSION: u32 = 1;

/// A migration of the set, with its up script read, and whether it is traced.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) migration: Migration,
    pub(crate) up: Script,
    pub(crate) traced: bool,
}

/// A lock seen on a relation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct SeenLock {
    pub(crate) relation: String,
    /// table, index, sequence, view, materialized view, ...
    pub(crate) kind: &'static str,
    pub(crate) mode: LockMode,
    /// The relation did not exist before the statement (made by it: nobody else can see it).
    pub(crate) new: bool,
}

/// A relation whose storage was replaced.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Rewritten {
    pub(crate) relation: String,
    pub(crate) kind: &'static str,
}

/// What the lock model expected of a statement on one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Expected {
    pub(crate) table: String,
    pub(crate) mode: LockMode,
    pub(crate) rewrite: bool,
}

/// One traced statement.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TracedStatement {
    /// First line in the file.
    pub(crate) line: usize,
    pub(crate) sql: String,
    /// How the locks were seen: `held` (queried in the statement's transaction right after it)
    /// or `sampled` (polled from a second session while it ran outside a transaction).
    pub(crate) observed: &'static str,
    /// The locks this statement took (not held before it), per relation and mode.
    pub(crate) locks: Vec<SeenLock>,
    /// For `held`: every lock the session holds after the statement, earlier ones included.
    pub(crate) held: Vec<SeenLock>,
    pub(crate) rewrites: Vec<Rewritten>,
    pub(crate) ms: f64,
    pub(crate) expected: Vec<Expected>,
    /// Where the lock model and the trace disagree.
    pub(crate) disagreements: Vec<String>,
    /// Why the statement was not run (transaction control inside a traced transaction).
    pub(crate) skipped: Option<String>,
}

/// One traced migration.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TracedMigration {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    pub(crate) no_transaction: bool,
    pub(crate) statements: Vec<TracedStatement>,
    /// The statement that failed, with its line.
    pub(crate) error: Option<String>,
}

impl TracedMigration {
    pub(crate) fn label(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// The whole trace.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TraceReport {
    pub(crate) version: u32,
    /// `server_version` of the scratch server.
    pub(crate) server: String,
    pub(crate) migrations: Vec<TracedMigration>,
    /// Why the trace stopped before the last traced migration, if it did.
    pub(crate) stopped: Option<String>,
    /// Statements where the lock model and the trace disagree.
    pub(crate) disagreements: usize,
}

impl TraceReport {
    /// True when a traced statement or an earlier migration failed.
    pub(crate) fn failed(&self) -> bool {
        self.stopped.is_some() || self.migrations.iter().any(|m| m.error.is_some())
    }
}

/// A user relation as `pg_class` shows it.
#[derive(Debug, Clone)]
struct Relation {
    name: String,
    relkind: String,
    filenode: i64,
}

type RelationSnapshot = HashMap<i64, Relation>;

const SNAPSHOT_SQL: &str = "\
SELECT c.oid::int8, CASE WHEN n.nspname = 'public' THEN c.relname::text \
ELSE n.nspname || '.' || c.relname END, c.relkind::text, c.relfilenode::int8 \
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";

const OWN_LOCKS_SQL: &str = "\
SELECT l.relation::int8, l.mode FROM pg_locks l \
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted \
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

const OTHER_LOCKS_SQL: &str = "\
SELECT l.relation::int8, l.mode FROM pg_locks l \
WHERE l.pid = $1 AND l.locktype = 'relation' AND l.granted \
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// A transaction with a snapshot, in the sampling session.
const HOLD_SNAPSHOT_SQL: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1";

/// The traced session waits for a lock (the sampling session's snapshot, or another).
const WAITING_SQL: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)";

fn kind_of(relkind: &str) -> &'static str {
    match relkind {
        "r" => "table",
        "p" => "partitioned table",
        "i" | "I" => "index",
        "S" => "sequence",
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        "t" => "toast table",
        "c" => "composite type",
        _ => "relation",
    }
}

/// Table-like relations: the ones the lock model names.
fn is_table_like(relkind: &str) -> bool {
    matches!(relkind, "r" | "p" | "m" | "v" | "f")
}

fn mode_of(pg_mode: &str) -> Option<LockMode> {
    Some(match pg_mode {
        "AccessShareLock" => LockMode::AccessShare,
        "RowShareLock" => LockMode::RowShare,
        "RowExclusiveLock" => LockMode::RowExclusive,
        "ShareUpdateExclusiveLock" => LockMode::ShareUpdateExclusive,
        "ShareLock" => LockMode::Share,
        "ShareRowExclusiveLock" => LockMode::ShareRowExclusive,
        "ExclusiveLock" => LockMode::Exclusive,
        "AccessExclusiveLock" => LockMode::AccessExclusive,
        _ => return None,
    })
}

async fn snapshot(client: &Client) -> Result<RelationSnapshot, tokio_postgres::Error> {
    Ok(client
        .query(SNAPSHOT_SQL, &[])
        .await?
        .iter()
        .map(|row| {
            (
                row.get::<_, i64>(0),
                Relation {
                    name: row.get(1),
                    relkind: row.get(2),
                    filenode: row.get(3),
                },
            )
        })
        .collect())
}

/// (oid, mode) pairs of relation locks.
type RawLocks = BTreeSet<(i64, LockMode)>;

fn raw_locks(rows: &[tokio_postgres::Row]) -> RawLocks {
    rows.iter()
        .filter_map(|row| Some((row.get::<_, i64>(0), mode_of(row.get::<_, &str>(1))?)))
        .collect()
}

/// Names the locks on user relations (known before or after the statement); the catalog
/// locks of the lock query itself and of the server's own work are left out.
fn named(locks: &RawLocks, after: &RelationSnapshot, before: &RelationSnapshot) -> Vec<SeenLock> {
    let mut out: Vec<SeenLock> = locks
        .iter()
        .filter_map(|(oid, mode)| {
            let relation = after.get(oid).or_else(|| before.get(oid))?;
            Some(SeenLock {
                relation: relation.name.clone(),
                kind: kind_of(&relation.relkind),
                mode: *mode,
                new: !before.contains_key(oid),
            })
        })
        .collect();
    out.sort();
    out
}

fn rewrites(before: &RelationSnapshot, after: &RelationSnapshot) -> Vec<Rewritten> {
    let mut out: Vec<Rewritten> = before
        .iter()
        .filter_map(|(oid, old)| {
            let new = after.get(oid)?;
            (old.filenode != 0 && new.filenode != old.filenode).then(|| Rewritten {
                relation: new.name.clone(),
                kind: kind_of(&new.relkind),
            })
        })
        .collect();
    out.sort();
    out
}

/// What the lock model says of the statement at `span` of `script`, per table: the strongest
/// mode, and whether a change rewrites it.
fn expected(
    analyzed: &[analyze::Analyzed],
    span: &std::ops::Range<usize>,
    pg: u32,
) -> Vec<Expected> {
    let mut by_table: BTreeMap<String, (LockMode, bool)> = BTreeMap::new();
    for statement in analyzed
        .iter()
        .filter(|a| a.span.start >= span.start && a.span.start < span.end)
    {
        for change in &statement.changes {
            for lock in analyze::locks(change, pg) {
                let entry = by_table
                    .entry(lock.table.clone())
                    .or_insert((lock.mode, false));
                entry.0 = entry.0.max(lock.mode);
                entry.1 |= lock.effect == Effect::Rewrite;
            }
        }
    }
    by_table
        .into_iter()
        .map(|(table, (mode, rewrite))| Expected {
            table,
            mode,
            rewrite,
        })
        .collect()
}

/// The disagreements between the lock model and what was seen, on relations that existed
/// before the statement (a new table's locks are nobody's concern).
fn compare(
    expected: &[Expected],
    taken: &[SeenLock],
    held: &[SeenLock],
    rewritten: &[Rewritten],
    before: &RelationSnapshot,
    sampled: bool,
) -> Vec<String> {
    let how = if sampled { " (sampled)" } else { "" };
    let existed = |name: &str| {
        before
            .values()
            .any(|r| r.name == name && is_table_like(&r.relkind))
    };
    let strongest = |locks: &[SeenLock], name: &str| {
        locks
            .iter()
            .filter(|l| l.relation == name)
            .map(|l| l.mode)
            .max()
    };
    let mut out = Vec::new();
    for e in expected.iter().filter(|e| existed(&e.table)) {
        let holds = held
            .iter()
            .any(|l| l.relation == e.table && l.mode == e.mode);
        let took = strongest(taken, &e.table);
        let saw = took.or_else(|| strongest(held, &e.table));
        let agrees = holds && took.is_none_or(|m| m <= e.mode);
        if !agrees {
            out.push(match saw {
                Some(mode) => format!(
                    "lint expected {} on {}, trace saw {}{how}",
                    e.mode.label(),
                    e.table,
                    mode.label()
                ),
                None => format!(
                    "lint expected {} on {}, trace saw no lock on it{how}",
                    e.mode.label(),
                    e.table
                ),
            });
        }
        if e.rewrite && !rewritten.iter().any(|r| r.relation == e.table) {
            out.push(format!(
                "lint predicted a rewrite of {}, trace saw none",
                e.table
            ));
        }
    }
    for r in rewritten.iter().filter(|r| {
        matches!(r.kind, "table" | "materialized view")
            && !expected.iter().any(|e| e.rewrite && e.table == r.relation)
    }) {
        out.push(format!(
            "trace saw a rewrite of {} that lint did not predict",
            r.relation
        ));
    }
    let mut unexpected: BTreeMap<&str, LockMode> = BTreeMap::new();
    for lock in taken.iter().filter(|l| {
        l.mode >= LockMode::ShareUpdateExclusive
            && existed(&l.relation)
            && !expected.iter().any(|e| e.table == l.relation)
    }) {
        let entry = unexpected.entry(&lock.relation).or_insert(lock.mode);
        *entry = (*entry).max(lock.mode);
    }
    for (relation, mode) in unexpected {
        out.push(format!(
            "trace saw {} on {relation} that lint did not predict{how}",
            mode.label()
        ));
    }
    out
}

/// A statement of a script, ready to run.
struct TraceStep<'a> {
    line: usize,
    sql: &'a str,
    span: std::ops::Range<usize>,
    class: sql::Class,
}

/// The SQL statements of a script, from its plan: what apply would refuse (psql
/// meta-commands, COPY data, misplaced transaction control) is refused here too.
fn steps(script: &Script) -> Result<Vec<TraceStep<'_>>, String> {
    let plan =
        sql::classify::plan(&script.text, !script.settings.no_transaction).map_err(|problems| {
            problems
                .iter()
                .map(|p| format!("line {}: {}", script.first_line + p.line - 1, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    Ok(plan
        .statements
        .into_iter()
        .filter(|s| !s.text(&script.text).trim_end_matches(';').trim().is_empty())
        .map(|s| TraceStep {
            // An Alembic revision's statement is shown at its operation's line in the .py file.
            line: script
                .rendered_checksum
                .as_ref()
                .and_then(|_| crate::source::alembic::source_line(&script.text, s.raw.span.start))
                .unwrap_or(script.first_line + s.raw.line - 1),
            sql: s.raw.text(&script.text),
            span: s.raw.span.clone(),
            class: s.class,
        })
        .collect())
}

/// A statement's error as a message, or, when the connection is gone, an error of the run.
fn refused(error: &tokio_postgres::Error, statement: &str, line: usize) -> anyhow::Result<String> {
    if error.as_db_error().is_none() {
        return Err(lost(error));
    }
    let message = session::describe_error(error, statement, line);
    Ok(
        if message.contains(&format!("line {line}")) || statement.is_empty() {
            message
        } else {
            format!("{message} (statement at line {line})")
        },
    )
}

fn lost(error: &tokio_postgres::Error) -> anyhow::Error {
    exit::execution(anyhow::anyhow!(
        "lost the scratch database: {}",
        crate::db::with_causes(error)
    ))
}

/// Applies `scripts` on `scratch` in order, each as `migrate apply` would (what `lint
/// --scratch` needs before it reads the catalog). `Ok(Err(message))` names the first
/// migration the database refused.
pub(crate) async fn apply_all(
    scratch: &ScratchDb,
    scripts: &[(String, Script)],
    progress: &dyn Fn(&str),
) -> anyhow::Result<Result<(), String>> {
    let tracer = Tracer {
        scratch,
        session: Some(connect(scratch).await?),
    };
    for (label, script) in scripts {
        progress(&format!("applying {label}"));
        if let Err(error) = tracer.apply(script).await? {
            return Ok(Err(format!("{label} failed: {error}")));
        }
    }
    Ok(Ok(()))
}

/// Runs the trace on `scratch` (a database of its own).
pub(crate) async fn trace(
    scratch: &ScratchDb,
    planned: &[Planned],
    progress: &dyn Fn(&str),
) -> anyhow::Result<TraceReport> {
    let mut tracer = Tracer {
        scratch,
        session: Some(connect(scratch).await?),
    };
    let (server, num): (String, i32) = {
        let row = tracer
            .client()
            .query_one(
                "SELECT current_setting('server_version'), \
                 current_setting('server_version_num')::int",
                &[],
            )
            .await
            .map_err(|e| lost(&e))?;
        (row.get(0), row.get(1))
    };
    let pg = u32::try_from(num / 10_000).unwrap_or(15);
    let last = planned.iter().rposition(|p| p.traced).unwrap_or(0);
    let mut migrations = Vec::new();
    let mut stopped = None;
    for (index, p) in planned.iter().enumerate().take(last + 1) {
        let label = p.migration.label();
        if !p.traced {
            progress(&format!("applying {label} (not traced)"));
            if let Err(error) = tracer.apply(&p.up).await? {
                stopped = Some(format!(
                    "{label}, applied before a traced migration, failed: {error}; nothing \
                     after it was traced"
                ));
                break;
            }
            continue;
        }
        progress(&format!("tracing {label}"));
        let traced = if p.up.settings.no_transaction {
            tracer.trace_on_its_own(p, pg).await?
        } else {
            tracer.trace_in_transaction(p, pg).await?
        };
        let failed = traced.error.is_some();
        migrations.push(traced);
        if failed {
            if index < last {
                stopped = Some(format!(
                    "{label} failed while traced, so the migrations after it were not traced"
                ));
            }
            break;
        }
        if index < last
            && let Err(error) = tracer.apply(&p.up).await?
        {
            stopped = Some(format!(
                "{label} was traced but failed when applied for the migrations after it: \
                 {error}"
            ));
            break;
        }
    }
    let disagreements = migrations
        .iter()
        .flat_map(|m| &m.statements)
        .filter(|s| !s.disagreements.is_empty())
        .count();
    Ok(TraceReport {
        version: JSON_VERSION,
        server,
        migrations,
        stopped,
        disagreements,
    })
}

/// One migration at a time on a scratch database, for callers that do more between them
/// (`report` dumps the schema before and after each): apply as `migrate apply` would, or
/// trace (rolled back) as [`trace`] does.
pub(crate) struct Stepper<'a> {
    tracer: Tracer<'a>,
    /// PostgreSQL major version of the scratch server.
    pg: u32,
    /// `server_version` of the scratch server.
    pub(crate) server: String,
}

impl<'a> Stepper<'a> {
    pub(crate) async fn open(scratch: &'a ScratchDb) -> anyhow::Result<Stepper<'a>> {
        let tracer = Tracer {
            scratch,
            session: Some(connect(scratch).await?),
        };
        let row = tracer
            .client()
            .query_one(
                "SELECT current_setting('server_version'), \
                 current_setting('server_version_num')::int",
                &[],
            )
            .await
            .map_err(|e| lost(&e))?;
        let num: i32 = row.get(1);
        Ok(Stepper {
            server: row.get(0),
            pg: u32::try_from(num / 10_000).unwrap_or(15),
            tracer,
        })
    }

    /// Applies the up script for real; `Ok(Err(message))` when the database refused it.
    pub(crate) async fn apply(&self, script: &Script) -> anyhow::Result<Result<(), String>> {
        self.tracer.apply(script).await
    }

    /// Traces the migration and leaves the database as it was.
    pub(crate) async fn trace(&mut self, p: &Planned) -> anyhow::Result<TracedMigration> {
        if p.up.settings.no_transaction {
            self.tracer.trace_on_its_own(p, self.pg).await
        } else {
            self.tracer.trace_in_transaction(p, self.pg).await
        }
    }
}

async fn connect(scratch: &ScratchDb) -> anyhow::Result<Session> {
    Session::connect(&scratch.url)
        .await
        .map_err(exit::execution)
}

struct Tracer<'a> {
    scratch: &'a ScratchDb,
    /// `None` only while the database is saved or restored.
    session: Option<Session>,
}

impl Tracer<'_> {
    fn client(&self) -> &Client {
        self.session
            .as_ref()
            .expect("a session outside save and restore")
            .client()
    }

    fn new_migration(p: &Planned) -> TracedMigration {
        TracedMigration {
            version: p.migration.version.to_string(),
            name: p.migration.name.clone(),
            file: p.up.path.clone(),
            no_transaction: p.up.settings.no_transaction,
            statements: Vec::new(),
            error: None,
        }
    }

    /// Applies `script` as `migrate apply` would ([`crate::db::script::run`]).
    /// `Ok(Err(message))` when the database refused it.
    async fn apply(&self, script: &Script) -> anyhow::Result<Result<(), String>> {
        crate::db::script::run(
            self.session
                .as_ref()
                .expect("a session outside save and restore"),
            script,
            None,
        )
        .await
    }

    /// A transactional migration: every statement in one transaction, with the locks the
    /// session holds queried after each; rolled back at the end.
    async fn trace_in_transaction(&self, p: &Planned, pg: u32) -> anyhow::Result<TracedMigration> {
        let mut traced = Self::new_migration(p);
        let steps = match steps(&p.up) {
            Ok(steps) => steps,
            Err(message) => {
                traced.error = Some(message);
                return Ok(traced);
            }
        };
        let analyzed = analyze::analyze(&p.up.text);
        let client = self.client();
        // A clean session, as apply gives each migration.
        client
            .batch_execute(session::RESET_SQL)
            .await
            .map_err(|e| lost(&e))?;
        let mut before = snapshot(client).await.map_err(|e| lost(&e))?;
        client.batch_execute("BEGIN").await.map_err(|e| lost(&e))?;
        let mut held_before = RawLocks::new();
        for step in &steps {
            // The plan lets only savepoints through here: they nest in the traced
            // transaction and run as they would in apply's.
            let expected = expected(&analyzed, &step.span, pg);
            let start = Instant::now();
            let result = client.batch_execute(step.sql).await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if let Err(error) = result {
                traced.error = Some(refused(&error, step.sql, step.line)?);
                break;
            }
            let after = snapshot(client).await.map_err(|e| lost(&e))?;
            let held = raw_locks(
                &client
                    .query(OWN_LOCKS_SQL, &[])
                    .await
                    .map_err(|e| lost(&e))?,
            );
            let new: RawLocks = held.difference(&held_before).copied().collect();
            let taken = named(&new, &after, &before);
            let held_named = named(&held, &after, &before);
            let rewritten = rewrites(&before, &after);
            let disagreements = compare(&expected, &taken, &held_named, &rewritten, &before, false);
            traced.statements.push(TracedStatement {
                locks: taken,
                held: held_named,
                rewrites: rewritten,
                ms,
                disagreements,
                ..statement(step, "held", expected)
            });
            before = after;
            held_before = held;
        }
        // A failed ROLLBACK means the connection is gone: the next request says so.
        let _ = client.batch_execute("ROLLBACK").await;
        Ok(traced)
    }

    /// A no-transaction migration: the database is saved, each statement runs on its own
    /// (in a transaction of its own when it may, so its locks can be queried; else with a
    /// second session sampling them while it runs), then the saved copy is restored.
    async fn trace_on_its_own(&mut self, p: &Planned, pg: u32) -> anyhow::Result<TracedMigration> {
        let mut traced = Self::new_migration(p);
        let steps = match steps(&p.up) {
            Ok(steps) => steps,
            Err(message) => {
                traced.error = Some(message);
                return Ok(traced);
            }
        };
        self.session = None;
        self.scratch.save().await.map_err(exit::execution)?;
        self.session = Some(connect(self.scratch).await?);
        let result = self
            .statements_on_their_own(p, pg, &steps, &mut traced)
            .await;
        self.session = None;
        self.scratch.restore().await.map_err(exit::execution)?;
        self.session = Some(connect(self.scratch).await?);
        result?;
        Ok(traced)
    }

    async fn statements_on_their_own(
        &self,
        p: &Planned,
        pg: u32,
        steps: &[TraceStep<'_>],
        traced: &mut TracedMigration,
    ) -> anyhow::Result<()> {
        let analyzed = analyze::analyze(&p.up.text);
        let client = self.client();
        client
            .batch_execute(session::RESET_SQL)
            .await
            .map_err(|e| lost(&e))?;
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .map_err(|e| lost(&e))?
            .get(0);
        let poller = Session::connect(&self.scratch.url)
            .await
            .map_err(exit::execution)?;
        for step in steps {
            let expected = expected(&analyzed, &step.span, pg);
            if let sql::Class::Transaction(control) = step.class {
                // Each statement is traced in a transaction of its own (rolled back with the
                // database afterwards), so the script's blocks are not opened.
                traced.statements.push(TracedStatement {
                    skipped: Some(format!(
                        "{}: each statement is traced in a transaction of its own",
                        control.label()
                    )),
                    ..statement(step, "held", expected)
                });
                continue;
            }
            let before = snapshot(client).await.map_err(|e| lost(&e))?;
            // First in a transaction of its own, where its locks can be queried after it.
            client.batch_execute("BEGIN").await.map_err(|e| lost(&e))?;
            let start = Instant::now();
            let result = client.batch_execute(step.sql).await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            match result {
                Ok(()) => {
                    let after = snapshot(client).await.map_err(|e| lost(&e))?;
                    let held = raw_locks(
                        &client
                            .query(OWN_LOCKS_SQL, &[])
                            .await
                            .map_err(|e| lost(&e))?,
                    );
                    if let Err(error) = client.batch_execute("COMMIT").await {
                        traced.error = Some(refused(&error, step.sql, step.line)?);
                        return Ok(());
                    }
                    let taken = named(&held, &after, &before);
                    let rewritten = rewrites(&before, &after);
                    let disagreements =
                        compare(&expected, &taken, &taken, &rewritten, &before, false);
                    traced.statements.push(TracedStatement {
                        held: taken.clone(),
                        locks: taken,
                        rewrites: rewritten,
                        ms,
                        disagreements,
                        ..statement(step, "held", expected)
                    });
                    continue;
                }
                Err(error) if session::needs_no_transaction_block(&error) => {
                    client
                        .batch_execute("ROLLBACK")
                        .await
                        .map_err(|e| lost(&e))?;
                }
                Err(error) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    traced.error = Some(refused(&error, step.sql, step.line)?);
                    return Ok(());
                }
            }
            // It refused a transaction block (CREATE INDEX CONCURRENTLY and the like): run it
            // as it is, sampling its locks from the second session until it returns. The
            // second session first opens a snapshot: a statement that waits for older
            // snapshots (CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY) then waits for it,
            // holding its locks, so they are seen however fast it is; the snapshot ends as
            // soon as the statement is seen waiting.
            poller
                .client()
                .batch_execute(HOLD_SNAPSHOT_SQL)
                .await
                .map_err(|e| lost(&e))?;
            let done = std::cell::Cell::new(false);
            let start = Instant::now();
            let run = async {
                let result = client.batch_execute(step.sql).await;
                done.set(true);
                result
            };
            let sample = async {
                let mut seen = RawLocks::new();
                let mut holding = true;
                while !done.get() {
                    seen.extend(raw_locks(
                        &poller.client().query(OTHER_LOCKS_SQL, &[&pid]).await?,
                    ));
                    if holding {
                        let waiting: bool = poller
                            .client()
                            .query_one(WAITING_SQL, &[&pid])
                            .await?
                            .get(0);
                        if waiting {
                            // What it holds while it waits, then let it go on.
                            seen.extend(raw_locks(
                                &poller.client().query(OTHER_LOCKS_SQL, &[&pid]).await?,
                            ));
                            poller.client().batch_execute("COMMIT").await?;
                            holding = false;
                        }
                    }
                    tokio::task::yield_now().await;
                }
                if holding {
                    poller.client().batch_execute("COMMIT").await?;
                }
                Ok(seen)
            };
            let (result, seen) = tokio::join!(run, sample);
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let seen = seen.map_err(|e| lost(&e))?;
            if let Err(error) = result {
                traced.error = Some(refused(&error, step.sql, step.line)?);
                return Ok(());
            }
            let after = snapshot(client).await.map_err(|e| lost(&e))?;
            let taken = named(&seen, &after, &before);
            let rewritten = rewrites(&before, &after);
            let disagreements = compare(&expected, &taken, &taken, &rewritten, &before, true);
            traced.statements.push(TracedStatement {
                locks: taken,
                rewrites: rewritten,
                ms,
                disagreements,
                ..statement(step, "sampled", expected)
            });
        }
        Ok(())
    }
}

fn statement(
    step: &TraceStep<'_>,
    observed: &'static str,
    expected: Vec<Expected>,
) -> TracedStatement {
    TracedStatement {
        line: step.line,
        sql: step.sql.trim().to_string(),
        observed,
        locks: Vec::new(),
        held: Vec::new(),
        rewrites: Vec::new(),
        ms: 0.0,
        expected,
        disagreements: Vec::new(),
        skipped: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn before(tables: &[&str]) -> RelationSnapshot {
        tables
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    i as i64,
                    Relation {
                        name: (*name).to_string(),
                        relkind: "r".to_string(),
                        filenode: i as i64 + 100,
                    },
                )
            })
            .collect()
    }

    fn lock(relation: &str, mode: LockMode) -> SeenLock {
        SeenLock {
            relation: relation.to_string(),
            kind: "table",
            mode,
            new: false,
        }
    }

    #[test]
    fn agreement_is_quiet_and_each_kind_of_disagreement_is_named() {
        let snapshot = before(&["t", "u"]);
        let expected = vec![Expected {
            table: "t".to_string(),
            mode: LockMode::AccessExclusive,
            rewrite: true,
        }];
        let ae = vec![lock("t", LockMode::AccessExclusive)];
        let rewritten = vec![Rewritten {
            relation: "t".to_string(),
            kind: "table",
        }];
        assert!(compare(&expected, &ae, &ae, &rewritten, &snapshot, false).is_empty());
        let share = vec![lock("t", LockMode::Share)];
        assert_eq!(
            compare(&expected, &share, &share, &[], &snapshot, false),
            [
                "lint expected ACCESS EXCLUSIVE on t, trace saw SHARE",
                "lint predicted a rewrite of t, trace saw none"
            ]
        );
        let other = vec![
            lock("t", LockMode::AccessExclusive),
            lock("u", LockMode::Share),
        ];
        let u_rewritten = vec![
            rewritten[0].clone(),
            Rewritten {
                relation: "u".to_string(),
                kind: "table",
            },
        ];
        assert_eq!(
            compare(&expected, &other, &other, &u_rewritten, &snapshot, false),
            [
                "trace saw a rewrite of u that lint did not predict",
                "trace saw SHARE on u that lint did not predict"
            ]
        );
        // A table made by the statement itself is nobody's concern.
        let new = vec![lock("fresh", LockMode::AccessExclusive)];
        assert!(compare(&[], &new, &new, &[], &snapshot, false).is_empty());
    }
}
