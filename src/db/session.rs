//! The session user migrations run on (tokio-postgres), and what the executor
//! ([`super::script`]) records with a migration.
//!
//! Whole scripts go through the simple-query protocol (`batch_execute`), exactly as psql would
//! send them.

use std::fmt::Write as _;

use tokio_postgres::error::SqlState;
use tokio_postgres::{CancelToken, Client};

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
    pub(crate) fn set_sql(&self, local: bool) -> String {
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
    /// SQL run in the same transaction just before the record (checks that may refuse it).
    pub checks: String,
    /// For SQL rendered from another file (an Alembic revision): the checksum of the SQL that
    /// runs, and what rendered it; recorded beside the file's checksum.
    pub rendered: Option<(String, String)>,
}

/// What a no-transaction migration's progress records are about: its up script or its down
/// script (`stagegate.record_progress` or `stagegate.record_down_progress`, and the same for
/// a statement's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// `SELECT stagegate.record_[down_]progress(...)` for statement `done`.
    pub(crate) fn progress_sql(self, version: &str, done: i32, done_checksum: &str) -> String {
        let function = match self {
            Direction::Up => "record_progress",
            Direction::Down => "record_down_progress",
        };
        format!(
            "SELECT stagegate.{function}({}, {done}, {})",
            literal(version),
            literal(done_checksum)
        )
    }

    fn statement_start_sql(self, version: &str, index: i32) -> String {
        let function = match self {
            Direction::Up => "record_statement_start",
            Direction::Down => "record_down_statement_start",
        };
        format!("SELECT stagegate.{function}({}, {index})", literal(version))
    }
}

/// What `stagegate.record_revert` checks and stores for a migration whose down script ran.
#[derive(Debug, Clone)]
pub struct RevertRecord {
    pub version: String,
    pub version_text: String,
    pub name: String,
    /// The up checksum and down checksum the row must still have.
    pub checksum: String,
    pub down_checksum: Option<String>,
    pub no_transaction: bool,
    pub os_user: Option<String>,
    /// Statements in the down script.
    pub statements_total: i32,
    /// SQL run in the same transaction just before the record (an Alembic revision's
    /// version-table bookkeeping).
    pub checks: String,
}

/// The last step of a migration's transaction: the record that commits with it.
#[derive(Debug, Clone)]
pub enum Finish {
    /// `stagegate.record_apply`, after the record's checks.
    Apply(ApplyRecord),
    /// `stagegate.record_revert`.
    Revert(RevertRecord),
}

impl Finish {
    /// The SQL that records it (one or more statements, no trailing `;`).
    pub fn sql(&self) -> String {
        match self {
            Finish::Apply(record) => {
                let mut sql = format!("{}{}", record.checks, record_apply_sql(record));
                if let Some((checksum, by)) = &record.rendered {
                    sql.push_str(&format!(
                        ";\nUPDATE stagegate.migrations SET rendered_checksum = {}, rendered_by = {} \
                         WHERE version = {}",
                        literal(checksum),
                        literal(by),
                        literal(&record.version)
                    ));
                }
                sql
            }
            Finish::Revert(record) => format!("{}{}", record.checks, record_revert_sql(record)),
        }
    }
}

/// Where a script failed.
#[derive(Debug)]
pub enum Step {
    /// The up or down script itself.
    Script,
    Verify,
    Record,
    /// COMMIT itself failed (a deferred constraint, a serialization failure).
    Commit,
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
pub(crate) fn is_lock_timeout(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// SQLSTATE 57014: the statement was cancelled (cancel request or statement_timeout).
pub(crate) fn is_cancelled(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::QUERY_CANCELED)
}

/// The connection user migrations run on.
pub struct Session {
    client: Client,
}

impl Session {
    pub async fn connect(url: &DatabaseUrl) -> Result<Session, DbError> {
        Ok(Session {
            client: super::connect(url).await?,
        })
    }

    /// A token that asks the server to cancel whatever this session is running.
    pub fn cancel_token(&self) -> CancelToken {
        self.client.cancel_token()
    }

    /// Takes the run's second advisory lock ([`super::lock::SESSION_KEY`]) on this
    /// connection, waiting at most `wait` for a killed run's connection to finish.
    pub async fn take_run_lock(
        &self,
        url: &DatabaseUrl,
        wait: std::time::Duration,
        on_wait: impl FnOnce(Option<&super::lock::Holder>),
    ) -> Result<(), super::lock::LockError> {
        use super::lock::LockError;
        match super::lock::wait_for(&self.client, super::lock::SESSION_KEY, wait, on_wait).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((holder, waited))) => Err(LockError::SessionBusy {
                url: url.redacted(),
                holder,
                waited,
            }),
            Err(source) => Err(LockError::Query {
                url: url.redacted(),
                source,
            }),
        }
    }

    /// The connection's client, for read-only catalog queries.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sets the timeouts for the session (no-transaction migrations run outside a
    /// transaction, so `SET LOCAL` would not last); `RESET`s what is not set.
    /// With `fresh`, the session is [reset](Session::reset) first, in the same round trip.
    pub async fn set_session_timeouts(
        &self,
        fresh: bool,
        timeouts: &Timeouts,
    ) -> Result<(), tokio_postgres::Error> {
        let mut sql = if fresh {
            format!("{RESET_SQL};")
        } else {
            String::new()
        };
        sql.push_str("RESET lock_timeout;RESET statement_timeout;");
        sql.push_str(&timeouts.set_sql(false));
        self.client.batch_execute(&sql).await
    }

    /// Brings the session back to how it was when it connected, before each migration: no
    /// `SET` (search_path, TimeZone, timeouts, ...), role, session authorization or
    /// temporary table of an earlier migration carries over into the next. Settings given
    /// with the connection are the defaults it returns to; the run's advisory locks stay.
    pub async fn reset(&self) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(RESET_SQL).await
    }

    /// Runs one statement (or a whole script) as it is, outside any transaction.
    pub async fn run(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(sql).await
    }

    /// Records statement `done` of a running no-transaction migration done, on its own.
    pub async fn record_progress(
        &self,
        direction: Direction,
        version: &str,
        done: i32,
        done_checksum: &str,
    ) -> Result<(), tokio_postgres::Error> {
        self.client
            .batch_execute(&direction.progress_sql(version, done, done_checksum))
            .await
    }

    /// Records that statement `index` is about to be sent outside any transaction.
    pub async fn record_statement_start(
        &self,
        direction: Direction,
        version: &str,
        index: i32,
    ) -> Result<(), tokio_postgres::Error> {
        self.client
            .batch_execute(&direction.statement_start_sql(version, index))
            .await
    }
}

/// What [`Session::reset`] sends. (`DISCARD ALL` would also release the run's advisory
/// locks, so it is not used.)
pub(crate) const RESET_SQL: &str =
    "SET SESSION AUTHORIZATION DEFAULT;RESET ROLE;RESET ALL;DISCARD TEMP";

/// SQLSTATE raised by `stagegate.record_apply` for a version already applied.
pub(crate) const ALREADY_APPLIED: &str = "ST001";
/// SQLSTATE raised by the recording functions for progress out of order.
pub(crate) const OUT_OF_ORDER: [&str; 2] = ["ST002", "ST003"];
/// SQLSTATE raised by `stagegate.record_revert` for a row that is not (or no longer) applied
/// with the checksums the run read.
pub(crate) const NOT_APPLIED: &str = "ST005";

/// True when the error is stagegate's refusal to record a migration (or a statement) twice.
pub(crate) fn is_double_record(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|c| {
        c.code() == ALREADY_APPLIED || c.code() == NOT_APPLIED || OUT_OF_ORDER.contains(&c.code())
    })
}

/// SQLSTATE raised when a partitioned index is still invalid at the end of its migration.
pub(crate) const PARENT_INDEX_INVALID: &str = "ST004";

/// True when the error is [`PARENT_INDEX_INVALID`].
pub(crate) fn is_parent_index_invalid(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|c| c.code() == PARENT_INDEX_INVALID)
}

/// True when the statement refused to run inside a transaction block (SQLSTATE 25001).
pub(crate) fn needs_no_transaction_block(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::ACTIVE_SQL_TRANSACTION)
}

/// A string literal that means `text` whatever `standard_conforming_strings` is set to.
fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn optional(text: Option<&str>) -> String {
    text.map_or_else(|| "NULL".to_string(), literal)
}

/// The `SELECT stagegate.record_apply(...)` statement for `record`, with its values as
/// literals so it can share a simple query with COMMIT.
fn record_apply_sql(record: &ApplyRecord) -> String {
    format!(
        "SELECT stagegate.record_apply({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        literal(&record.version),
        literal(&record.version_text),
        literal(&record.name),
        literal(&record.checksum),
        optional(record.down_checksum.as_deref()),
        optional(record.verify_checksum.as_deref()),
        record.no_transaction,
        optional(record.os_user.as_deref()),
        record.statements_total,
        optional(record.done_checksum.as_deref()),
    )
}

/// The `SELECT stagegate.record_revert(...)` statement for `record`.
fn record_revert_sql(record: &RevertRecord) -> String {
    format!(
        "SELECT stagegate.record_revert({}, {}, {}, {}, {}, {}, {}, {})",
        literal(&record.version),
        literal(&record.version_text),
        literal(&record.name),
        literal(&record.checksum),
        optional(record.down_checksum.as_deref()),
        record.no_transaction,
        optional(record.os_user.as_deref()),
        record.statements_total,
    )
}

/// The byte offset in `script` (sent after `prefix_chars` other characters) that the
/// server's error position points at, when the error has one.
pub(crate) fn error_offset(
    error: &tokio_postgres::Error,
    script: &str,
    prefix_chars: usize,
) -> Option<usize> {
    let db = error.as_db_error()?;
    let Some(tokio_postgres::error::ErrorPosition::Original(position)) = db.position() else {
        return None;
    };
    // 1-based position in characters.
    Some(
        script
            .char_indices()
            .nth((*position as usize).saturating_sub(1 + prefix_chars))
            .map_or(script.len(), |(i, _)| i),
    )
}

/// A database error as one readable line or a few: SQLSTATE, message, where in the script
/// (from the error position, for a script whose first line is `first_line` of its file), detail
/// and hint.
pub(crate) fn describe_error(
    error: &tokio_postgres::Error,
    script: &str,
    first_line: usize,
) -> String {
    describe_error_after(error, script, first_line, 0)
}

/// As [`describe_error`] for a script that was sent after `prefix_chars` other characters.
pub(crate) fn describe_error_after(
    error: &tokio_postgres::Error,
    script: &str,
    first_line: usize,
    prefix_chars: usize,
) -> String {
    let Some(db) = error.as_db_error() else {
        return error.to_string();
    };
    let mut out = format!("{} ({})", db.message(), db.code().code());
    if let Some(offset) = error_offset(error, script, prefix_chars) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "E'it''s'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        let record = ApplyRecord {
            version: "1".into(),
            version_text: "0001".into(),
            name: "o'brien".into(),
            checksum: "sha256:00".into(),
            down_checksum: None,
            verify_checksum: None,
            no_transaction: false,
            os_user: Some("ci".into()),
            statements_total: 3,
            done_checksum: None,
            checks: String::new(),
            rendered: None,
        };
        assert_eq!(
            record_apply_sql(&record),
            "SELECT stagegate.record_apply(E'1', E'0001', E'o''brien', E'sha256:00', NULL, NULL, \
             false, E'ci', 3, NULL)"
        );
    }
}
