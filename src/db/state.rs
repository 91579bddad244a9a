//! The state store: schema `stagegate` in each target database, owned by sqlx.
//!
//! The schema is created and upgraded by the tool's own migrations (`migrations/`, embedded
//! with `sqlx::migrate!`, tracked in `stagegate._sqlx_migrations` so a project's own sqlx
//! table is never touched). Queries are checked at compile time against the offline data in
//! `.sqlx/`. The one write that must commit together with a user migration,
//! `stagegate.record_apply`, runs on the migration's own connection ([`super::session`]).

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnection;
use time::OffsetDateTime;

use super::events::Event;
use crate::config::DatabaseUrl;
use crate::target::Target;

/// The tool's own migrations, embedded at build time, tracked in [`TRACKING_TABLE`].
fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name(TRACKING_TABLE);
    migrator.create_schema(SCHEMA);
    // Our own advisory lock already serialises runs on a database; sqlx's lock key would be
    // shared with a project's own sqlx migrations.
    migrator.set_locking(false);
    migrator
}

/// Schema holding the state tables.
pub(crate) const SCHEMA: &str = "stagegate";
/// sqlx's tracking table for [`MIGRATOR`], inside [`SCHEMA`].
pub(crate) const TRACKING_TABLE: &str = "stagegate._sqlx_migrations";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot connect to {url}: no answer within {seconds}s")]
    ConnectTimeout { url: String, seconds: u64 },
    #[error(
        "the stagegate state schema in {url} is at version {found}, newer than this stagegate \
         knows ({known}); a newer stagegate has been used on this database: upgrade stagegate \
         (this is {})",
        env!("CARGO_PKG_VERSION")
    )]
    NewerSchema { url: String, found: i64, known: i64 },
    // The causes are shown by `describe` and kept out of the error chain (not `source`):
    // sqlx's own text of a server error adds the server's source line ("at line 948"), and
    // the chain would print the cause a second time.
    #[error(
        "setting up the stagegate state schema in {url}: {}",
        describe_migrate(cause)
    )]
    Migrate {
        url: String,
        cause: sqlx::migrate::MigrateError,
    },
    #[error("reading or writing stagegate state in {url}: {}", describe(cause))]
    Query { url: String, cause: sqlx::Error },
    #[error(
        "migration {version} is already recorded as applied in {url} (another run applied it \
         meanwhile); this run does not run it"
    )]
    AlreadyApplied { url: String, version: String },
    #[error(
        "migration {version} is no longer recorded as applied with the checksums this run read \
         in {url} (another run changed it meanwhile); this run does not revert it"
    )]
    NotApplied { url: String, version: String },
}

/// A sqlx error for people: for a server error its severity (when not ERROR), message,
/// SQLSTATE, detail and hint, never the server's source file, line or routine.
pub(crate) fn describe(error: &sqlx::Error) -> String {
    use std::fmt::Write as _;
    let sqlx::Error::Database(db) = error else {
        return error.to_string();
    };
    let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() else {
        return db.message().to_string();
    };
    let mut out = String::new();
    let severity = format!("{:?}", pg.severity()).to_uppercase();
    if severity != "ERROR" {
        let _ = write!(out, "{severity}: ");
    }
    let _ = write!(out, "{} ({})", pg.message(), pg.code());
    if let Some(detail) = pg.detail() {
        let _ = write!(out, "; detail: {detail}");
    }
    if let Some(hint) = pg.hint() {
        let _ = write!(out, "; hint: {hint}");
    }
    out
}

/// As [`describe`], for the state schema's own migrations.
fn describe_migrate(error: &sqlx::migrate::MigrateError) -> String {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::Execute(error) => describe(error),
        MigrateError::ExecuteMigration(error, version) => {
            format!("state migration {version}: {}", describe(error))
        }
        other => other.to_string(),
    }
}

impl StateError {
    /// The exit code this error ends a run with: a state schema newer than this binary is a
    /// refusal (3), everything else a database failure (4). [`crate::commands::classify`] finds
    /// it anywhere in an error's chain, so commands need not map it themselves.
    pub fn outcome(&self) -> crate::exit::Outcome {
        match self {
            StateError::NewerSchema { .. } => crate::exit::Outcome::Refused,
            _ => crate::exit::Outcome::Execution,
        }
    }
}

/// A failed query on the state database at `url` (its password masked).
fn query_error(url: &str) -> impl Fn(sqlx::Error) -> StateError + Copy + '_ {
    move |cause| StateError::Query {
        url: url.to_string(),
        cause,
    }
}

/// A migration's recorded state (one row of `stagegate.migrations`).
#[derive(Debug, Clone)]
pub struct MigrationRow {
    pub version: String,
    pub version_text: String,
    pub name: String,
    pub checksum: String,
    pub down_checksum: Option<String>,
    pub verify_checksum: Option<String>,
    pub no_transaction: bool,
    pub status: RowStatus,
    pub rolled_back: bool,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub duration_ms: Option<i64>,
    pub db_user: String,
    pub os_user: Option<String>,
    pub statements_done: i32,
    pub statements_total: i32,
    pub done_checksum: Option<String>,
    pub error: Option<String>,
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_reason: Option<String>,
    /// Hash of the event that last changed the row's status.
    pub event_hash: Option<String>,
    /// No-transaction migrations: the statement (1-based) that was sent to the server outside
    /// a transaction and whose end is not recorded, with the backend that ran it.
    pub running_statement: Option<i32>,
    pub running_pid: Option<i32>,
    pub running_since: Option<OffsetDateTime>,
    /// A reverting no-transaction down script: down statements done, of how many, and the
    /// SHA-256 over the done ones.
    pub down_statements_done: Option<i32>,
    pub down_statements_total: Option<i32>,
    pub down_done_checksum: Option<String>,
    /// Recorded by `migrate baseline`, not run by stagegate: the runner whose table said it
    /// was applied (`sqlx`, `diesel`, `flyway`, `dbmate`, `golang-migrate`) or `manual`.
    pub baselined_from: Option<String>,
    /// For SQL rendered from another file (an Alembic revision): the checksum of the SQL that
    /// ran, and what rendered it (`alembic 1.x, SQLAlchemy 2.y`).
    pub rendered_checksum: Option<String>,
    pub rendered_by: Option<String>,
}

/// A row of `stagegate.migrations` as an older state schema has it (`to_jsonb`); the columns
/// added since are absent.
#[derive(Debug, serde::Deserialize)]
struct OlderRow {
    version: String,
    version_text: String,
    name: String,
    checksum: String,
    #[serde(default)]
    down_checksum: Option<String>,
    #[serde(default)]
    verify_checksum: Option<String>,
    no_transaction: bool,
    status: String,
    #[serde(default)]
    rolled_back: bool,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    finished_at: Option<OffsetDateTime>,
    #[serde(default)]
    duration_ms: Option<i64>,
    db_user: String,
    #[serde(default)]
    os_user: Option<String>,
    statements_done: i32,
    statements_total: i32,
    #[serde(default)]
    done_checksum: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    resolved_at: Option<OffsetDateTime>,
    #[serde(default)]
    resolved_reason: Option<String>,
    #[serde(default)]
    event_hash: Option<String>,
    #[serde(default)]
    running_statement: Option<i32>,
    #[serde(default)]
    running_pid: Option<i32>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    running_since: Option<OffsetDateTime>,
    #[serde(default)]
    down_statements_done: Option<i32>,
    #[serde(default)]
    down_statements_total: Option<i32>,
    #[serde(default)]
    down_done_checksum: Option<String>,
    #[serde(default)]
    baselined_from: Option<String>,
    #[serde(default)]
    rendered_checksum: Option<String>,
    #[serde(default)]
    rendered_by: Option<String>,
}

impl OlderRow {
    fn into_row(self) -> MigrationRow {
        MigrationRow {
            version: self.version,
            version_text: self.version_text,
            name: self.name,
            checksum: self.checksum,
            down_checksum: self.down_checksum,
            verify_checksum: self.verify_checksum,
            no_transaction: self.no_transaction,
            status: RowStatus::parse(&self.status),
            rolled_back: self.rolled_back,
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            db_user: self.db_user,
            os_user: self.os_user,
            statements_done: self.statements_done,
            statements_total: self.statements_total,
            done_checksum: self.done_checksum,
            error: self.error,
            resolved_at: self.resolved_at,
            resolved_reason: self.resolved_reason,
            event_hash: self.event_hash,
            running_statement: self.running_statement,
            running_pid: self.running_pid,
            running_since: self.running_since,
            down_statements_done: self.down_statements_done,
            down_statements_total: self.down_statements_total,
            down_done_checksum: self.down_done_checksum,
            baselined_from: self.baselined_from,
            rendered_checksum: self.rendered_checksum,
            rendered_by: self.rendered_by,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Applied,
    Failed,
    /// Written before a no-transaction migration's first statement; left behind when the run
    /// was killed.
    Running,
    /// Its down script ran (`migrate down`): pending again.
    Reverted,
    /// A no-transaction down script is running, or stopped part way.
    Reverting,
    /// A failed attempt a person gave up (`migrate resolve --abandon`): never run again.
    Abandoned,
}

impl RowStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Applied => "applied",
            RowStatus::Failed => "failed",
            RowStatus::Running => "running",
            RowStatus::Reverted => "reverted",
            RowStatus::Reverting => "reverting",
            RowStatus::Abandoned => "abandoned",
        }
    }

    fn parse(text: &str) -> RowStatus {
        match text {
            "applied" => RowStatus::Applied,
            "running" => RowStatus::Running,
            "reverted" => RowStatus::Reverted,
            "reverting" => RowStatus::Reverting,
            "abandoned" => RowStatus::Abandoned,
            _ => RowStatus::Failed,
        }
    }
}

/// What a no-transaction migration records before its first statement.
#[derive(Debug, Clone)]
pub struct RunningRecord<'a> {
    pub version: &'a str,
    pub version_text: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub down_checksum: Option<&'a str>,
    pub verify_checksum: Option<&'a str>,
    pub os_user: Option<&'a str>,
    pub statements_done: i32,
    pub statements_total: i32,
    pub done_checksum: &'a str,
}

/// What a failed attempt records.
#[derive(Debug, Clone)]
pub struct FailureRecord<'a> {
    pub version: &'a str,
    pub version_text: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub no_transaction: bool,
    pub rolled_back: bool,
    pub os_user: Option<&'a str>,
    pub statements_done: i32,
    pub statements_total: i32,
    pub done_checksum: Option<&'a str>,
    /// A statement that may or may not have finished on the server (a killed run's last);
    /// kept on the row until a human says how it ended (`migrate resolve --statement`).
    pub uncertain_statement: Option<i32>,
    pub error: &'a str,
}

/// What a no-transaction down script records before its first (or next) statement.
#[derive(Debug, Clone)]
pub struct RevertingRecord<'a> {
    pub version: &'a str,
    pub version_text: &'a str,
    /// The up and down checksums the run read: the row must still have them.
    pub checksum: &'a str,
    pub down_checksum: Option<&'a str>,
    pub statements_done: i32,
    pub statements_total: i32,
    pub done_checksum: &'a str,
}

/// What a failed down records.
#[derive(Debug, Clone)]
pub struct DownFailureRecord<'a> {
    pub version: &'a str,
    pub version_text: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub os_user: Option<&'a str>,
    /// Down statements done (a no-transaction down), and their checksum.
    pub statements_done: i32,
    pub done_checksum: Option<&'a str>,
    pub error: &'a str,
}

/// What `migrate baseline` records for one migration another runner applied.
#[derive(Debug, Clone)]
pub struct BaselineRecord<'a> {
    pub version: &'a str,
    pub version_text: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub down_checksum: Option<&'a str>,
    pub verify_checksum: Option<&'a str>,
    pub no_transaction: bool,
    pub os_user: Option<&'a str>,
    pub statements_total: i32,
    /// When the other runner applied it, where its table says.
    pub applied_at: Option<OffsetDateTime>,
    /// `sqlx`, `diesel`, `flyway`, `dbmate`, `golang-migrate` or `manual`.
    pub from: &'a str,
    /// The event's detail (JSON: the runner, the reason, what its table said).
    pub detail: &'a str,
}

/// The row `stagegate.chain_head`: the newest event as `append_event` last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub id: i64,
    pub hash: String,
    pub gapless_after: i64,
}

/// The row `stagegate.binding`: the environment this database belongs to, and the server's
/// identity when it was bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub environment: String,
    /// `<system identifier>/<database oid>`, as [`StateStore::server_identity`].
    pub identity: String,
    pub bound_at: OffsetDateTime,
    pub event_hash: String,
}

/// The state of one database read in one snapshot: what `audit --verify` checks, and what
/// apply and the promotion gate act on once it verified.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The state schema's version; `None` when stagegate never ran here.
    pub schema_version: Option<i64>,
    pub rows: Vec<MigrationRow>,
    pub events: Vec<Event>,
    pub head: Option<ChainHead>,
    pub binding: Option<Binding>,
}

impl Snapshot {
    /// Whether the schema has the head anchor (`stagegate.chain_head`, from version 3): when it
    /// has, a missing anchor row is itself a finding.
    pub fn head_expected(&self) -> bool {
        self.schema_version.is_some_and(|v| v >= 3)
    }
}

/// A connection to one database's state schema.
pub struct StateStore {
    conn: PgConnection,
    url: String,
}

/// A `resolve` event of one migration.
struct ResolveEvent<'a> {
    version: &'a str,
    version_text: &'a str,
    name: &'a str,
    checksum: &'a str,
    os_user: Option<&'a str>,
    reason: &'a str,
}

/// Appends a `resolve` event and anchors the migration's row on it, inside `tx` (which holds
/// the events lock).
async fn append_resolve(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    event: &ResolveEvent<'_>,
) -> Result<(), sqlx::Error> {
    let hash = sqlx::query_scalar!(
        r#"SELECT stagegate.append_event('resolve', $1, $2, $3, $4, $5) AS "hash!""#,
        event.version_text,
        event.name,
        event.checksum,
        event.os_user,
        event.reason,
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        "UPDATE stagegate.migrations SET event_hash = $2 WHERE version = $1",
        event.version,
        hash,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The newest state schema version this binary knows.
pub fn known_schema_version() -> i64 {
    migrator().iter().map(|m| m.version).max().unwrap_or(0)
}

/// Connects sqlx to `target`: directly, or, for a target that verifies the server against a
/// root file of its own, through a relay that does the TLS with the session's connector (see
/// [`super::relay`] why).
async fn connect_sqlx(target: &Target) -> Result<PgConnection, String> {
    let options = target.state_options();
    if target.tls().verifies_with_own_root()
        && let Some((host, port)) = target.first_tcp()
    {
        let relay =
            super::relay::start(target.tls(), &host, port, target.connect_timeout()).await?;
        let relayed = options
            .socket(relay.dir())
            .ssl_mode(sqlx::postgres::PgSslMode::Disable);
        return PgConnection::connect_with(&relayed)
            .await
            .map_err(|e| e.to_string());
    }
    PgConnection::connect_with(&options)
        .await
        .map_err(|e| e.to_string())
}

impl StateStore {
    /// Connects; does not create anything.
    pub async fn connect(url: &DatabaseUrl) -> Result<StateStore, StateError> {
        let target = url.target().map_err(|error| StateError::Connect {
            url: error.url.clone(),
            message: format!("invalid connection string: {}", error.message),
        })?;
        let timeout = target.connect_timeout();
        let conn = match tokio::time::timeout(timeout, connect_sqlx(target)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(message)) => {
                return Err(StateError::Connect {
                    url: url.redacted(),
                    message: crate::config::redact(&message),
                });
            }
            Err(_) => {
                return Err(StateError::ConnectTimeout {
                    url: url.redacted(),
                    seconds: timeout.as_secs(),
                });
            }
        };
        Ok(StateStore {
            conn,
            url: url.redacted(),
        })
    }

    /// The connection, for reads of tables that are not stagegate's ([`super::runners`]).
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The database's URL with its password masked.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.url
    }

    fn query_error(&self) -> impl Fn(sqlx::Error) -> StateError + Copy + '_ {
        query_error(&self.url)
    }

    /// The state schema's version here: `None` when stagegate never ran on this database.
    /// A version newer than this binary knows is refused.
    pub async fn schema_version(&mut self) -> Result<Option<i64>, StateError> {
        // The tracking table is created by sqlx at run time, so this query cannot be checked
        // against it at build time. One round trip: a missing table means no state yet.
        let found: Option<i64> = match sqlx::query_scalar(
            "SELECT max(version) FROM stagegate._sqlx_migrations WHERE success",
        )
        .fetch_one(&mut self.conn)
        .await
        {
            Ok(found) => found,
            Err(sqlx::Error::Database(error))
                if matches!(error.code().as_deref(), Some("42P01" | "3F000")) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(self.query_error()(error)),
        };
        let known = known_schema_version();
        match found {
            Some(found) if found > known => Err(StateError::NewerSchema {
                url: self.url.clone(),
                found,
                known,
            }),
            other => Ok(Some(other.unwrap_or(0))),
        }
    }

    /// Creates or upgrades the state schema. Call under the advisory lock.
    pub async fn ensure_schema(&mut self) -> Result<(), StateError> {
        let current = self.schema_version().await?;
        if current == Some(known_schema_version()) {
            return Ok(());
        }
        migrator()
            .run(&mut self.conn)
            .await
            .map_err(|source| StateError::Migrate {
                url: self.url.clone(),
                cause: source,
            })
    }

    /// Brings the state schema to `version` only, as an older stagegate left it: for tests of
    /// the upgrade path.
    #[doc(hidden)]
    pub async fn ensure_schema_at(&mut self, version: i64) -> Result<(), StateError> {
        let mut migrator = migrator();
        migrator.migrations = std::borrow::Cow::Owned(
            migrator
                .migrations
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect(),
        );
        migrator
            .run(&mut self.conn)
            .await
            .map_err(|source| StateError::Migrate {
                url: self.url.clone(),
                cause: source,
            })
    }

    /// Every recorded migration; empty when the state schema does not exist yet.
    pub async fn migrations(&mut self) -> Result<Vec<MigrationRow>, StateError> {
        let version = self.schema_version().await?;
        self.migrations_at(version).await
    }

    /// [`StateStore::migrations`] of a state schema at `version` (read just before).
    async fn migrations_at(
        &mut self,
        version: Option<i64>,
    ) -> Result<Vec<MigrationRow>, StateError> {
        match version {
            None => return Ok(Vec::new()),
            // Written by an older stagegate and not upgraded yet (only a run that changes the
            // state upgrades it): read the columns it has, the newer ones as absent.
            Some(version) if version < known_schema_version() => {
                return self.migrations_of_older_schema().await;
            }
            Some(_) => {}
        }
        let rows = sqlx::query!(
            r#"SELECT version, version_text, name, checksum, down_checksum, verify_checksum,
                      no_transaction, status, rolled_back, started_at, finished_at, duration_ms,
                      db_user, os_user, statements_done, statements_total, done_checksum, error,
                      resolved_at, resolved_reason, event_hash, running_statement, running_pid,
                      running_since, down_statements_done, down_statements_total,
                      down_done_checksum, baselined_from, rendered_checksum, rendered_by
               FROM stagegate.migrations"#
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.query_error())?;
        Ok(rows
            .into_iter()
            .map(|r| MigrationRow {
                version: r.version,
                version_text: r.version_text,
                name: r.name,
                checksum: r.checksum,
                down_checksum: r.down_checksum,
                verify_checksum: r.verify_checksum,
                no_transaction: r.no_transaction,
                status: RowStatus::parse(&r.status),
                rolled_back: r.rolled_back,
                started_at: r.started_at,
                finished_at: r.finished_at,
                duration_ms: r.duration_ms,
                db_user: r.db_user,
                os_user: r.os_user,
                statements_done: r.statements_done,
                statements_total: r.statements_total,
                done_checksum: r.done_checksum,
                error: r.error,
                resolved_at: r.resolved_at,
                resolved_reason: r.resolved_reason,
                event_hash: r.event_hash,
                running_statement: r.running_statement,
                running_pid: r.running_pid,
                running_since: r.running_since,
                down_statements_done: r.down_statements_done,
                down_statements_total: r.down_statements_total,
                down_done_checksum: r.down_done_checksum,
                baselined_from: r.baselined_from,
                rendered_checksum: r.rendered_checksum,
                rendered_by: r.rendered_by,
            })
            .collect())
    }

    /// [`StateStore::migrations`] for a state schema older than this binary's, whose table lacks
    /// some of today's columns: each row as JSON, missing columns read as NULL.
    async fn migrations_of_older_schema(&mut self) -> Result<Vec<MigrationRow>, StateError> {
        let rows: Vec<String> =
            sqlx::query_scalar(r#"SELECT to_jsonb(m)::text FROM stagegate.migrations m"#)
                .fetch_all(&mut self.conn)
                .await
                .map_err(self.query_error())?;
        rows.iter()
            .map(|text| {
                serde_json::from_str::<OlderRow>(text)
                    .map(OlderRow::into_row)
                    .map_err(|error| self.query_error()(sqlx::Error::Decode(Box::new(error))))
            })
            .collect()
    }

    /// The event log in order; empty when the state schema does not exist yet.
    pub async fn events(&mut self) -> Result<Vec<Event>, StateError> {
        let version = self.schema_version().await?;
        self.events_at(version).await
    }

    async fn events_at(&mut self, version: Option<i64>) -> Result<Vec<Event>, StateError> {
        if version.is_none() {
            return Ok(Vec::new());
        }
        sqlx::query_as!(
            Event,
            r#"SELECT id, at, kind, version, name, checksum, db_user, os_user, detail,
                      prev_hash, hash
               FROM stagegate.events ORDER BY id"#
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.query_error())
    }

    /// A transaction holding the event log's lock, as every write of a migration's status
    /// does first, so that a check of the row and the write after it cannot race.
    async fn begin_locked(&mut self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.conn.begin().await.map_err(error)?;
        sqlx::query!("LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        Ok(tx)
    }

    /// Records that a no-transaction migration is about to run (or resume) at statement
    /// `statements_done`, with its `apply_start` event (the running row is anchored on it),
    /// unless it is already applied (another run got there first).
    pub async fn start_running(&mut self, record: &RunningRecord<'_>) -> Result<(), StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.conn.begin().await.map_err(error)?;
        let started = sqlx::query_scalar!(
            r#"SELECT stagegate.record_start($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   AS "started!""#,
            record.version,
            record.version_text,
            record.name,
            record.checksum,
            record.down_checksum,
            record.verify_checksum,
            record.os_user,
            record.statements_done,
            record.statements_total,
            record.done_checksum,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(error)?;
        tx.commit().await.map_err(error)?;
        if !started {
            return Err(StateError::AlreadyApplied {
                url: self.url.clone(),
                version: record.version_text.to_string(),
            });
        }
        Ok(())
    }

    /// Records a failed attempt and appends its `failure` event, in one transaction. Returns
    /// false, writing nothing, when the migration is recorded as applied (another run applied
    /// it: this attempt's failure changes nothing of that).
    pub async fn record_failure(&mut self, record: &FailureRecord<'_>) -> Result<bool, StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        let applied = sqlx::query_scalar!(
            r#"SELECT status = 'applied' AS "applied!" FROM stagegate.migrations
               WHERE version = $1"#,
            record.version,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?
        .unwrap_or(false);
        if applied {
            return Ok(false);
        }
        let hash = sqlx::query_scalar!(
            r#"SELECT stagegate.append_event('failure', $1, $2, $3, $4, $5) AS "hash!""#,
            record.version_text,
            record.name,
            record.checksum,
            record.os_user,
            record.error,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(error)?;
        sqlx::query!(
            r#"INSERT INTO stagegate.migrations AS m
                   (version, version_text, name, checksum, no_transaction, status, rolled_back,
                    started_at, finished_at, duration_ms, db_user, os_user, statements_done,
                    statements_total, done_checksum, error, event_hash, running_statement)
               VALUES ($1, $2, $3, $4, $5, 'failed', $6, clock_timestamp(), clock_timestamp(), 0,
                       current_user, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (version) DO UPDATE SET
                   version_text = excluded.version_text, name = excluded.name,
                   checksum = excluded.checksum, no_transaction = excluded.no_transaction,
                   status = 'failed', rolled_back = excluded.rolled_back,
                   finished_at = clock_timestamp(),
                   duration_ms = (extract(epoch FROM clock_timestamp() - m.started_at) * 1000)::bigint,
                   db_user = excluded.db_user, os_user = excluded.os_user,
                   statements_done = excluded.statements_done,
                   statements_total = excluded.statements_total,
                   done_checksum = coalesce(excluded.done_checksum, m.done_checksum),
                   error = excluded.error, resolved_at = NULL, resolved_reason = NULL,
                   event_hash = excluded.event_hash,
                   running_statement = excluded.running_statement,
                   running_pid = CASE WHEN excluded.running_statement IS NULL THEN NULL
                                      ELSE m.running_pid END,
                   running_since = CASE WHEN excluded.running_statement IS NULL THEN NULL
                                        ELSE m.running_since END"#,
            record.version,
            record.version_text,
            record.name,
            record.checksum,
            record.no_transaction,
            record.rolled_back,
            record.os_user,
            record.statements_done,
            record.statements_total,
            record.done_checksum,
            record.error,
            hash,
            record.uncertain_statement,
        )
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    /// Records that a no-transaction down script is about to run (or resume) at down
    /// statement `statements_done`: the row becomes `reverting`, unless it is no longer
    /// applied (or reverting) with the checksums the run read.
    pub async fn start_reverting(
        &mut self,
        record: &RevertingRecord<'_>,
    ) -> Result<(), StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        let written = sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET status = 'reverting', down_statements_done = $4, down_statements_total = $5,
                   down_done_checksum = $6, error = NULL, running_statement = NULL,
                   running_pid = NULL, running_since = NULL
               WHERE version = $1 AND checksum = $2
                 AND down_checksum IS NOT DISTINCT FROM $3
                 AND (status = 'applied'
                      OR (status = 'reverting' AND down_statements_done = $4))"#,
            record.version,
            record.checksum,
            record.down_checksum,
            record.statements_done,
            record.statements_total,
            record.done_checksum,
        )
        .execute(&mut *tx)
        .await
        .map_err(error)?
        .rows_affected();
        tx.commit().await.map_err(error)?;
        if written == 0 {
            return Err(StateError::NotApplied {
                url: self.url.clone(),
                version: record.version_text.to_string(),
            });
        }
        Ok(())
    }

    /// Records a failed down and appends its `down_failure` event, in one transaction. A down
    /// in a transaction was rolled back, so the row stays `applied`; a no-transaction one
    /// stays `reverting` at the statements it got done. Returns false, writing nothing, when
    /// the row is neither (another run reverted it meanwhile).
    pub async fn record_down_failure(
        &mut self,
        record: &DownFailureRecord<'_>,
    ) -> Result<bool, StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        let found = sqlx::query_scalar!(
            r#"SELECT status AS "status!" FROM stagegate.migrations
               WHERE version = $1 AND checksum = $2"#,
            record.version,
            record.checksum,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        if !matches!(found.as_deref(), Some("applied" | "reverting")) {
            return Ok(false);
        }
        let hash = sqlx::query_scalar!(
            r#"SELECT stagegate.append_event('down_failure', $1, $2, $3, $4, $5) AS "hash!""#,
            record.version_text,
            record.name,
            record.checksum,
            record.os_user,
            record.error,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(error)?;
        sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET error = $2, event_hash = $3,
                   down_statements_done = CASE WHEN status = 'reverting' THEN $4
                                               ELSE down_statements_done END,
                   down_done_checksum = CASE WHEN status = 'reverting'
                                             THEN coalesce($5, down_done_checksum)
                                             ELSE down_done_checksum END,
                   running_statement = NULL, running_pid = NULL, running_since = NULL
               WHERE version = $1"#,
            record.version,
            record.error,
            hash,
            record.statements_done,
            record.done_checksum,
        )
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    /// Marks a failed attempt resolved and appends its `resolve` event. Returns false when
    /// there is no unresolved failed attempt of `version`. `settled` is what a human said of a
    /// statement whose end was not known: how many statements are done, and their checksum.
    pub async fn resolve(
        &mut self,
        version: &str,
        os_user: Option<&str>,
        reason: &str,
        settled: Option<(i32, &str)>,
    ) -> Result<bool, StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        let row = sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET status = 'failed', resolved_at = clock_timestamp(), resolved_reason = $2,
                   statements_done = coalesce($3, statements_done),
                   done_checksum = coalesce($4, done_checksum),
                   running_statement = NULL, running_pid = NULL, running_since = NULL
               WHERE version = $1 AND status IN ('failed', 'running') AND resolved_at IS NULL
               RETURNING version_text, name, checksum"#,
            version,
            reason,
            settled.map(|(done, _)| done),
            settled.map(|(_, checksum)| checksum),
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let event = ResolveEvent {
            version,
            version_text: &row.version_text,
            name: &row.name,
            checksum: &row.checksum,
            os_user,
            reason,
        };
        append_resolve(&mut tx, &event).await.map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    /// Marks a failed (or interrupted) attempt abandoned and appends its `abandon` event: the
    /// migration is never run again and no longer holds back the ones after it. Returns false
    /// when there is no failed or interrupted attempt of `version`.
    pub async fn abandon(
        &mut self,
        version: &str,
        os_user: Option<&str>,
        reason: &str,
    ) -> Result<bool, StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        let row = sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET status = 'abandoned', resolved_at = clock_timestamp(), resolved_reason = $2,
                   running_statement = NULL, running_pid = NULL, running_since = NULL
               WHERE version = $1 AND status IN ('failed', 'running')
               RETURNING version_text, name, checksum"#,
            version,
            reason,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let hash = sqlx::query_scalar!(
            r#"SELECT stagegate.append_event('abandon', $1, $2, $3, $4, $5) AS "hash!""#,
            row.version_text,
            row.name,
            row.checksum,
            os_user,
            reason,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(error)?;
        sqlx::query!(
            "UPDATE stagegate.migrations SET event_hash = $2 WHERE version = $1",
            version,
            hash,
        )
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    /// Settles the down statement of a partly reverted no-transaction migration whose process
    /// died while the server ran it: `done` down statements count as done (with the checksum
    /// over them), the running marker is cleared, and a `resolve` event is appended. The next
    /// `migrate down` resumes after them. `false` when the row is not such a one.
    pub async fn resolve_down(
        &mut self,
        version: &str,
        os_user: Option<&str>,
        reason: &str,
        done: i32,
        done_checksum: &str,
    ) -> Result<bool, StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        let row = sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET down_statements_done = $2, down_done_checksum = $3,
                   running_statement = NULL, running_pid = NULL, running_since = NULL
               WHERE version = $1 AND status = 'reverting' AND running_statement IS NOT NULL
               RETURNING version_text, name, checksum"#,
            version,
            done,
            done_checksum,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let event = ResolveEvent {
            version,
            version_text: &row.version_text,
            name: &row.name,
            checksum: &row.checksum,
            os_user,
            reason,
        };
        append_resolve(&mut tx, &event).await.map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(true)
    }

    /// Records every migration of `records` as applied and baselined, each with its `baseline`
    /// event, in one transaction: all of them or none. A version stagegate already recorded
    /// makes the whole baseline fail (SQLSTATE SG006), writing nothing.
    pub async fn baseline(&mut self, records: &[BaselineRecord<'_>]) -> Result<(), StateError> {
        let url = self.url.clone();
        let error = query_error(&url);
        let mut tx = self.begin_locked().await?;
        for record in records {
            sqlx::query!(
                r#"SELECT stagegate.record_baseline($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                                                   $11, $12)"#,
                record.version,
                record.version_text,
                record.name,
                record.checksum,
                record.down_checksum,
                record.verify_checksum,
                record.no_transaction,
                record.os_user,
                record.statements_total,
                record.applied_at,
                record.from,
                record.detail,
            )
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        }
        tx.commit().await.map_err(error)?;
        Ok(())
    }

    /// Replaces the recorded down checksum of the applied migration `version` with
    /// `new_down` (`noop` for a down declared a no-op) and appends its `down_replace` event,
    /// only if the row is still applied with `checksum` and `old_down` (SQLSTATE SG005
    /// otherwise, writing nothing).
    #[allow(clippy::too_many_arguments)]
    pub async fn replace_down(
        &mut self,
        version: &str,
        version_text: &str,
        name: &str,
        checksum: &str,
        old_down: Option<&str>,
        new_down: &str,
        os_user: Option<&str>,
        detail: &str,
    ) -> Result<(), StateError> {
        let url = self.url.clone();
        let error = |source| StateError::Query {
            url: url.clone(),
            cause: source,
        };
        let mut tx = self.begin_locked().await?;
        sqlx::query("SELECT stagegate.record_down_replace($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(version)
            .bind(version_text)
            .bind(name)
            .bind(checksum)
            .bind(old_down)
            .bind(new_down)
            .bind(os_user)
            .bind(detail)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(())
    }

    /// Appends one event about a run rather than one migration (a confirmation, a backup):
    /// its version is NULL, so it never counts as a migration's latest event. A backup names
    /// its archive's file as `name` and its SHA-256 as `checksum`. Returns the event's hash.
    pub async fn record_run_event(
        &mut self,
        kind: &str,
        name: Option<&str>,
        checksum: Option<&str>,
        os_user: Option<&str>,
        detail: &str,
    ) -> Result<String, StateError> {
        sqlx::query_scalar!(
            r#"SELECT stagegate.append_event($1, NULL::text, $2, $3, $4, $5) AS "hash!""#,
            kind,
            name,
            checksum,
            os_user,
            detail,
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.query_error())
    }

    /// Appends one event that changes no migration's status (a repair).
    pub async fn record_event(
        &mut self,
        kind: &str,
        version_text: &str,
        name: &str,
        checksum: &str,
        os_user: Option<&str>,
        detail: &str,
    ) -> Result<(), StateError> {
        sqlx::query_scalar!(
            r#"SELECT stagegate.append_event($1, $2, $3, $4, $5, $6) AS "hash!""#,
            kind,
            version_text,
            name,
            checksum,
            os_user,
            detail,
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.query_error())?;
        Ok(())
    }

    /// The `backup` events, oldest first; empty when the state schema does not exist yet.
    pub async fn backup_events(&mut self) -> Result<Vec<Event>, StateError> {
        if self.schema_version().await?.is_none() {
            return Ok(Vec::new());
        }
        sqlx::query_as!(
            Event,
            r#"SELECT id, at, kind, version, name, checksum, db_user, os_user, detail,
                      prev_hash, hash
               FROM stagegate.events WHERE kind = 'backup' ORDER BY id"#
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.query_error())
    }

    /// The newest event as the log's own anchor records it: id, hash, and the id after which
    /// ids are consecutive. `None` before the state schema has one.
    pub async fn chain_head(&mut self) -> Result<Option<ChainHead>, StateError> {
        let version = self.schema_version().await?;
        self.chain_head_at(version).await
    }

    async fn chain_head_at(
        &mut self,
        version: Option<i64>,
    ) -> Result<Option<ChainHead>, StateError> {
        if version.is_none_or(|v| v < 3) {
            return Ok(None);
        }
        // A dropped anchor table reads as a missing anchor row: `audit --verify` says so.
        match sqlx::query_as!(
            ChainHead,
            r#"SELECT id, hash, gapless_after FROM stagegate.chain_head"#
        )
        .fetch_optional(&mut self.conn)
        .await
        {
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P01") => {
                Ok(None)
            }
            other => other.map_err(self.query_error()),
        }
    }

    /// This server's identity: `<system identifier>/<database oid>` (the cluster and the
    /// database in it). Two URLs that reach the same database give the same identity.
    pub async fn server_identity(&mut self) -> Result<String, StateError> {
        sqlx::query_scalar!(
            r#"SELECT ((SELECT system_identifier::text FROM pg_control_system()) || '/' ||
                       (SELECT oid::text FROM pg_database WHERE datname = current_database()))
                      AS "identity!""#
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.query_error())
    }

    /// The environment this database is bound to; `None` before the first apply bound it (or
    /// before the state schema has the table).
    pub async fn binding(&mut self) -> Result<Option<Binding>, StateError> {
        let version = self.schema_version().await?;
        self.binding_at(version).await
    }

    async fn binding_at(&mut self, version: Option<i64>) -> Result<Option<Binding>, StateError> {
        if version.is_none_or(|v| v < 6) {
            return Ok(None);
        }
        let row = sqlx::query!(
            r#"SELECT environment, system_identifier || '/' || database_oid::text AS "identity!",
                      bound_at, event_hash
               FROM stagegate.binding"#
        )
        .fetch_optional(&mut self.conn)
        .await
        .map_err(self.query_error())?;
        Ok(row.map(|r| Binding {
            environment: r.environment,
            identity: r.identity,
            bound_at: r.bound_at,
            event_hash: r.event_hash,
        }))
    }

    /// Binds this database to `environment` with the server's identity, and appends its `bind`
    /// event (`detail`: JSON saying why). Returns the event's hash.
    pub async fn bind(
        &mut self,
        environment: &str,
        os_user: Option<&str>,
        detail: &str,
    ) -> Result<String, StateError> {
        sqlx::query_scalar!(
            r#"SELECT stagegate.bind($1, $2, $3) AS "hash!""#,
            environment,
            os_user,
            detail,
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.query_error())
    }

    /// Rows, events, head anchor and binding in one read-only snapshot (REPEATABLE READ), so
    /// an event appended meanwhile by another session cannot look like a mismatch.
    pub async fn snapshot(&mut self) -> Result<Snapshot, StateError> {
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut self.conn)
            .await
            .map_err(self.query_error())?;
        // The schema's version is read once, in the snapshot, and the reads below follow it.
        let read = async {
            let schema_version = self.schema_version().await?;
            if schema_version.is_none() {
                return Ok(Snapshot::default());
            }
            Ok::<_, StateError>(Snapshot {
                schema_version,
                rows: self.migrations_at(schema_version).await?,
                head: self.chain_head_at(schema_version).await?,
                binding: self.binding_at(schema_version).await?,
                events: self.events_at(schema_version).await?,
            })
        }
        .await;
        // Read only: ending it either way changes nothing.
        let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
        read
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// The operating-system user running stagegate, for the record.
pub(crate) use crate::who::os_user;
