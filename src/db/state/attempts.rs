//! What a run writes about an attempt: a no-transaction migration or down script about to
//! run, and a failed one (each a row of `stagegate.migrations` and, for a failure, its event).

use sqlx::Connection;

use super::error::{OrQueryError, StateError};
use super::store::{StateStore, begin_locked};
use crate::db::events::{Track, VouchedProgress};

/// What an event of one migration names: its version as written, its name and checksum,
/// and who acted.
pub(super) struct EventIds<'a> {
    pub version_text: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub os_user: Option<&'a str>,
}

/// What the log vouches for of `track`'s statements of a migration: its latest start or
/// progress event's count (`None`: there is none), read inside `tx`.
async fn logged_progress(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    track: Track,
    version_text: &str,
) -> Result<Option<VouchedProgress>, sqlx::Error> {
    let detail = sqlx::query_scalar!(
        r#"SELECT detail FROM stagegate.events
           WHERE version = $1 AND kind IN ($2, $3) ORDER BY id DESC LIMIT 1"#,
        version_text,
        track.start_kind(),
        track.progress_kind(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(detail.flatten().and_then(|d| VouchedProgress::parse(&d)))
}

/// Appends a `track` progress event recording `done` of `total` statements (and their
/// checksum) unless the log already vouches for that count: a count recorded otherwise than
/// by a statement's own record (a failure's, a human's settling) is in the log before the
/// row says it. Inside `tx`, which holds the events lock; the row is then anchored on the
/// event that follows (the failure's or the resolve's).
pub(super) async fn vouch_count(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    track: Track,
    ids: &EventIds<'_>,
    done: i32,
    total: i32,
    done_checksum: Option<&str>,
) -> Result<(), sqlx::Error> {
    let logged = logged_progress(tx, track, ids.version_text).await?;
    if VouchedProgress::vouches(logged.as_ref(), done, done_checksum) {
        return Ok(());
    }
    sqlx::query_scalar!(
        r#"SELECT stagegate.append_event($1, $2, $3, $4, $5,
                                         stagegate.progress_detail($6, $7, $8)) AS "hash!""#,
        track.progress_kind(),
        ids.version_text,
        ids.name,
        ids.checksum,
        ids.os_user,
        done,
        total,
        done_checksum,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
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
    pub name: &'a str,
    pub os_user: Option<&'a str>,
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

impl StateStore {
    /// Records that a no-transaction migration is about to run (or resume) at statement
    /// `statements_done`, with its `apply_start` event (the running row is anchored on it),
    /// unless it is already applied (another run got there first).
    pub async fn start_running(&mut self, record: &RunningRecord<'_>) -> Result<(), StateError> {
        let url = &self.url;
        let mut tx = self.conn.begin().await.or_query_error(url)?;
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
        .or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        if !started {
            return Err(StateError::AlreadyApplied {
                url: self.url.clone(),
                version: record.version_text.to_string(),
            });
        }
        Ok(())
    }

    /// Records a failed attempt and appends its `failure` event, in one transaction (after an
    /// `apply_progress` event with its statements done when the log does not hold that count
    /// already: a transactional attempt's 0 after an earlier no-transaction one, a killed
    /// statement the catalog shows finished). Returns false, writing nothing, when the
    /// migration is recorded as applied (another run applied it: this attempt's failure
    /// changes nothing of that). `done_checksum` is `None` only with no statement done.
    pub async fn record_failure(&mut self, record: &FailureRecord<'_>) -> Result<bool, StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        let applied = sqlx::query_scalar!(
            r#"SELECT status = 'applied' AS "applied!" FROM stagegate.migrations
               WHERE version = $1"#,
            record.version,
        )
        .fetch_optional(&mut *tx)
        .await
        .or_query_error(url)?
        .unwrap_or(false);
        if applied {
            return Ok(false);
        }
        let ids = EventIds {
            version_text: record.version_text,
            name: record.name,
            checksum: record.checksum,
            os_user: record.os_user,
        };
        vouch_count(
            &mut tx,
            Track::Up,
            &ids,
            record.statements_done,
            record.statements_total,
            record.done_checksum,
        )
        .await
        .or_query_error(url)?;
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
        .or_query_error(url)?;
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
        .or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(true)
    }

    /// Records that a no-transaction down script is about to run (or resume) at down
    /// statement `statements_done`, with its `down_start` event (the row is anchored on it):
    /// the row becomes `reverting`, unless it is no longer applied (or reverting) with the
    /// checksums the run read.
    pub async fn start_reverting(
        &mut self,
        record: &RevertingRecord<'_>,
    ) -> Result<(), StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        let found = sqlx::query_scalar!(
            r#"SELECT version FROM stagegate.migrations
               WHERE version = $1 AND checksum = $2
                 AND down_checksum IS NOT DISTINCT FROM $3
                 AND (status = 'applied'
                      OR (status = 'reverting' AND down_statements_done = $4))"#,
            record.version,
            record.checksum,
            record.down_checksum,
            record.statements_done,
        )
        .fetch_optional(&mut *tx)
        .await
        .or_query_error(url)?;
        if found.is_none() {
            return Err(StateError::NotApplied {
                url: self.url.clone(),
                version: record.version_text.to_string(),
            });
        }
        let hash = sqlx::query_scalar!(
            r#"SELECT stagegate.append_event('down_start', $1, $2, $3, $4,
                                             stagegate.progress_detail($5, $6, $7)) AS "hash!""#,
            record.version_text,
            record.name,
            record.checksum,
            record.os_user,
            record.statements_done,
            record.statements_total,
            record.done_checksum,
        )
        .fetch_one(&mut *tx)
        .await
        .or_query_error(url)?;
        sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET status = 'reverting', down_statements_done = $2, down_statements_total = $3,
                   down_done_checksum = $4, error = NULL, running_statement = NULL,
                   running_pid = NULL, running_since = NULL, event_hash = $5
               WHERE version = $1"#,
            record.version,
            record.statements_done,
            record.statements_total,
            record.done_checksum,
            hash,
        )
        .execute(&mut *tx)
        .await
        .or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(())
    }

    /// Records a failed down and appends its `down_failure` event, in one transaction. A down
    /// in a transaction was rolled back, so the row stays `applied`; a no-transaction one
    /// stays `reverting` at the statements it got done (after a `down_progress` event with
    /// them when the log does not hold that count already). Returns false, writing nothing, when
    /// the row is neither (another run reverted it meanwhile).
    pub async fn record_down_failure(
        &mut self,
        record: &DownFailureRecord<'_>,
    ) -> Result<bool, StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        let found = sqlx::query!(
            r#"SELECT status AS "status!", down_statements_total FROM stagegate.migrations
               WHERE version = $1 AND checksum = $2"#,
            record.version,
            record.checksum,
        )
        .fetch_optional(&mut *tx)
        .await
        .or_query_error(url)?;
        let Some(found) = found.filter(|f| matches!(f.status.as_str(), "applied" | "reverting"))
        else {
            return Ok(false);
        };
        if found.status == "reverting" {
            let ids = EventIds {
                version_text: record.version_text,
                name: record.name,
                checksum: record.checksum,
                os_user: record.os_user,
            };
            vouch_count(
                &mut tx,
                Track::Down,
                &ids,
                record.statements_done,
                found
                    .down_statements_total
                    .unwrap_or(record.statements_done),
                record.done_checksum,
            )
            .await
            .or_query_error(url)?;
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
        .or_query_error(url)?;
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
        .or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(true)
    }
}
