//! The session user migrations run on (tokio-postgres).
//!
//! Whole scripts go through the simple-query protocol (`batch_execute`), exactly as psql would
//! send them. A transactional migration runs as BEGIN, `SET LOCAL` timeouts, the up script, the
//! verify script, `stagegate.record_apply(...)`, COMMIT: the change and its record commit
//! together or not at all, in two round trips (three with a verify script).

use std::fmt::Write as _;

use tokio_postgres::error::SqlState;
use tokio_postgres::{CancelToken, Client, Statement};

use super::DbError;
use crate::config::{DatabaseUrl, HumanDuration};

/// `lock_timeout` and `statement_timeout` for one migration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub lock_timeout: Option<HumanDuration>,
    pub statement_timeout: Option<HumanDuration>,
}

impl Timeouts {
    /// `SET [LOCAL] ...` statements for these timeouts (empty when none is set).
    fn set_sql(&self, local: bool) -> String {
        let scope = if local { "LOCAL " } else { "" };
        let mut sql = String::new();
        if let Some(lock) = self.lock_timeout {
            let _ = write!(sql, "SET {scope}lock_timeout = '{}';", lock.to_postgres());
        }
        if let Some(statement) = self.statement_timeout {
            let _ = write!(
                sql,
                "SET {scope}statement_timeout = '{}';",
                statement.to_postgres()
            );
        }
        sql
    }
}

/// What `stagegate.record_apply` stores for a migration.
#[derive(Debug, Clone)]
pub struct ApplyRecord {
    pub version: String,
    pub version_text: String,
    pub name: String,
    pub checksum: String,
    pub down_checksum: Option<String>,
    pub verify_checksum: Option<String>,
    pub no_transaction: bool,
    pub os_user: Option<String>,
    pub statements_total: i32,
    pub done_checksum: Option<String>,
}

/// Where a script failed.
#[derive(Debug)]
pub enum Step {
    Up,
    Verify,
    Record,
}

/// A failed run of a script.
#[derive(Debug)]
pub struct ScriptError {
    pub step: Step,
    pub source: tokio_postgres::Error,
    /// Characters sent in front of the script (BEGIN and settings); error positions count them.
    pub prefix_chars: usize,
}

impl ScriptError {
    pub fn is_lock_timeout(&self) -> bool {
        is_lock_timeout(&self.source)
    }
}

/// SQLSTATE 55P03: `lock_timeout` fired (or NOWAIT failed).
pub fn is_lock_timeout(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// SQLSTATE 57014: the statement was cancelled (cancel request or statement_timeout).
pub fn is_cancelled(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::QUERY_CANCELED)
}

/// The connection user migrations run on.
pub struct Session {
    client: Client,
    /// `stagegate.record_apply(...)`, prepared on first use.
    record_statement: tokio::sync::OnceCell<Statement>,
}

impl Session {
    pub async fn connect(url: &DatabaseUrl) -> Result<Session, DbError> {
        Ok(Session {
            client: super::connect(url).await?,
            record_statement: tokio::sync::OnceCell::new(),
        })
    }

    /// A token that asks the server to cancel whatever this session is running.
    pub fn cancel_token(&self) -> CancelToken {
        self.client.cancel_token()
    }

    /// Runs `up` (and `verify`) in one transaction with the timeouts set locally, records the
    /// migration applied in the same transaction, and commits. On any error the transaction
    /// is rolled back and nothing of it remains.
    pub async fn run_in_transaction(
        &self,
        timeouts: &Timeouts,
        up: &str,
        verify: Option<&str>,
        record: &ApplyRecord,
    ) -> Result<(), ScriptError> {
        let result = self.transaction_body(timeouts, up, verify, record).await;
        if result.is_err() {
            // The server already aborted the transaction; a failed ROLLBACK means the
            // connection is gone, which rolls it back as well.
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
        result
    }

    async fn transaction_body(
        &self,
        timeouts: &Timeouts,
        up: &str,
        verify: Option<&str>,
        record: &ApplyRecord,
    ) -> Result<(), ScriptError> {
        let prefix = format!("BEGIN;{}", timeouts.set_sql(true));
        let prefix_chars = prefix.chars().count();
        let at = |step: Step| {
            move |source| ScriptError {
                prefix_chars: if matches!(step, Step::Up) {
                    prefix_chars
                } else {
                    0
                },
                step,
                source,
            }
        };
        // BEGIN and the settings go in front of the script, in one simple query: one round
        // trip, and if any of it fails nothing after it runs. The prefix has no newline, so
        // error positions still give the script's own line numbers.
        let sent = format!("{prefix}{up}");
        self.client
            .batch_execute(&sent)
            .await
            .map_err(at(Step::Up))?;
        if let Some(verify) = verify {
            self.client
                .batch_execute(verify)
                .await
                .map_err(at(Step::Verify))?;
        }
        // The record and COMMIT are pipelined (sent together, one round trip). If the record
        // fails, the server answers COMMIT of the aborted transaction with a rollback.
        let (recorded, committed) = tokio::join!(
            self.record_apply(record),
            self.client.batch_execute("COMMIT")
        );
        recorded.map_err(at(Step::Record))?;
        committed.map_err(at(Step::Record))
    }

    /// Sets the timeouts for the session (no-transaction migrations run outside a
    /// transaction, so `SET LOCAL` would not last); `RESET`s what is not set.
    pub async fn set_session_timeouts(
        &self,
        timeouts: &Timeouts,
    ) -> Result<(), tokio_postgres::Error> {
        let mut sql = String::from("RESET lock_timeout;RESET statement_timeout;");
        sql.push_str(&timeouts.set_sql(false));
        self.client.batch_execute(&sql).await
    }

    /// Runs one statement (or a whole script) as it is, outside any transaction.
    pub async fn run(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(sql).await
    }

    /// `stagegate.record_apply(...)` in whatever transaction state the session is in.
    pub async fn record_apply(&self, record: &ApplyRecord) -> Result<(), tokio_postgres::Error> {
        let statement = self
            .record_statement
            .get_or_try_init(|| {
                self.client.prepare(
                    "SELECT stagegate.record_apply($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
            })
            .await?;
        self.client
            .execute(
                statement,
                &[
                    &record.version,
                    &record.version_text,
                    &record.name,
                    &record.checksum,
                    &record.down_checksum,
                    &record.verify_checksum,
                    &record.no_transaction,
                    &record.os_user,
                    &record.statements_total,
                    &record.done_checksum,
                ],
            )
            .await
            .map(drop)
    }
}

/// A database error as one readable line or a few: SQLSTATE, message, where in the script
/// (from the error position, for a script whose first line is `first_line` of its file), detail
/// and hint.
pub fn describe_error(error: &tokio_postgres::Error, script: &str, first_line: usize) -> String {
    describe_error_after(error, script, first_line, 0)
}

/// As [`describe_error`] for a script that was sent after `prefix_chars` other characters.
pub fn describe_error_after(
    error: &tokio_postgres::Error,
    script: &str,
    first_line: usize,
    prefix_chars: usize,
) -> String {
    let Some(db) = error.as_db_error() else {
        return error.to_string();
    };
    let mut out = format!("{} ({})", db.message(), db.code().code());
    if let Some(tokio_postgres::error::ErrorPosition::Original(position)) = db.position() {
        // 1-based position in characters.
        let offset = script
            .char_indices()
            .nth((*position as usize).saturating_sub(1 + prefix_chars))
            .map_or(script.len(), |(i, _)| i);
        let line = first_line + script[..offset].matches('\n').count();
        let _ = write!(out, " at line {line}");
    }
    if let Some(detail) = db.detail() {
        let _ = write!(out, "; detail: {detail}");
    }
    if let Some(hint) = db.hint() {
        let _ = write!(out, "; hint: {hint}");
    }
    if let Some(context) = db.where_() {
        let _ = write!(out, "; context: {}", context.replace('\n', " / "));
    }
    out
}
