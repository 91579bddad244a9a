//! The migrations' recorded state: one row of `stagegate.migrations` per migration, read
//! from today's schema or an older one.

use time::OffsetDateTime;

use super::error::{OrQueryError, StateError, query_error};
use super::schema::known_schema_version;
use super::store::StateStore;

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

impl StateStore {
    /// Every recorded migration; empty when the state schema does not exist yet.
    pub async fn migrations(&mut self) -> Result<Vec<MigrationRow>, StateError> {
        let version = self.schema_version().await?;
        self.migrations_at(version).await
    }

    /// [`StateStore::migrations`] of a state schema at `version` (read just before).
    pub(super) async fn migrations_at(
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
        .or_query_error(&self.url)?;
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
                .or_query_error(&self.url)?;
        rows.iter()
            .map(|text| {
                serde_json::from_str::<OlderRow>(text)
                    .map(OlderRow::into_row)
                    .map_err(|error| query_error(&self.url, sqlx::Error::Decode(Box::new(error))))
            })
            .collect()
    }
}
