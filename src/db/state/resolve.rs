//! A person settling a failed or interrupted attempt: `migrate resolve` (and `--abandon`),
//! each with its event.

use super::attempts::{EventIds, vouch_count};
use super::error::{OrQueryError, StateError};
use super::store::{StateStore, begin_locked};
use crate::db::events::Track;

/// How a human settles an attempt's count: `done` statements (with their checksum, `None`
/// with none done) count as done, and `reopen` when the row's count is one the log does not
/// vouch for (a resolved attempt is settled again).
#[derive(Debug, Clone, Copy)]
pub struct Settled<'a> {
    pub done: i32,
    pub done_checksum: Option<&'a str>,
    pub reopen: bool,
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

impl StateStore {
    /// Marks a failed attempt resolved and appends its `resolve` event. Returns false when
    /// there is no unresolved failed attempt of `version` (nor one `settled` reopens).
    /// `settled` is what a human said of the statements done (of a statement whose end was
    /// not known), or the log's count put back: the row takes it, and the log holds it (an
    /// `apply_progress` event before the `resolve` one, where it did not yet).
    pub async fn resolve(
        &mut self,
        version: &str,
        os_user: Option<&str>,
        reason: &str,
        settled: Option<Settled<'_>>,
    ) -> Result<bool, StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        let row = sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET status = 'failed', resolved_at = clock_timestamp(), resolved_reason = $2,
                   statements_done = coalesce($3, statements_done),
                   done_checksum = CASE WHEN $3::integer IS NULL THEN done_checksum ELSE $4 END,
                   running_statement = NULL, running_pid = NULL, running_since = NULL
               WHERE version = $1 AND status IN ('failed', 'running')
                 AND (resolved_at IS NULL OR $5)
               RETURNING version_text, name, checksum, statements_done, statements_total,
                         done_checksum"#,
            version,
            reason,
            settled.map(|s| s.done),
            settled.and_then(|s| s.done_checksum),
            settled.is_some_and(|s| s.reopen),
        )
        .fetch_optional(&mut *tx)
        .await
        .or_query_error(url)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let ids = EventIds {
            version_text: &row.version_text,
            name: &row.name,
            checksum: &row.checksum,
            os_user,
        };
        vouch_count(
            &mut tx,
            Track::Up,
            &ids,
            row.statements_done,
            row.statements_total,
            row.done_checksum.as_deref(),
        )
        .await
        .or_query_error(url)?;
        let event = ResolveEvent {
            version,
            version_text: &row.version_text,
            name: &row.name,
            checksum: &row.checksum,
            os_user,
            reason,
        };
        append_resolve(&mut tx, &event).await.or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
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
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
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
        .or_query_error(url)?;
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
        .or_query_error(url)?;
        sqlx::query!(
            "UPDATE stagegate.migrations SET event_hash = $2 WHERE version = $1",
            version,
            hash,
        )
        .execute(&mut *tx)
        .await
        .or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(true)
    }

    /// Settles the down statements of a partly reverted no-transaction migration: whose
    /// process died while the server ran one (`settled.done` down statements count as done,
    /// with the checksum over them, and the running marker is cleared), or whose count the
    /// log does not vouch for (`settled.reopen`: the log's count put back, or, with none, the
    /// row's on a human's word). The log holds the count (a `down_progress` event where it did
    /// not yet) and a `resolve` event is appended. The next `migrate down` resumes after them.
    /// `false` when the row is not such a one.
    pub async fn resolve_down(
        &mut self,
        version: &str,
        os_user: Option<&str>,
        reason: &str,
        settled: Settled<'_>,
    ) -> Result<bool, StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        let row = sqlx::query!(
            r#"UPDATE stagegate.migrations
               SET down_statements_done = $2, down_done_checksum = $3,
                   running_statement = NULL, running_pid = NULL, running_since = NULL
               WHERE version = $1 AND status = 'reverting'
                 AND (running_statement IS NOT NULL OR $4)
               RETURNING version_text, name, checksum, down_statements_total"#,
            version,
            settled.done,
            settled.done_checksum,
            settled.reopen,
        )
        .fetch_optional(&mut *tx)
        .await
        .or_query_error(url)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let ids = EventIds {
            version_text: &row.version_text,
            name: &row.name,
            checksum: &row.checksum,
            os_user,
        };
        vouch_count(
            &mut tx,
            Track::Down,
            &ids,
            settled.done,
            row.down_statements_total.unwrap_or(settled.done),
            settled.done_checksum,
        )
        .await
        .or_query_error(url)?;
        let event = ResolveEvent {
            version,
            version_text: &row.version_text,
            name: &row.name,
            checksum: &row.checksum,
            os_user,
            reason,
        };
        append_resolve(&mut tx, &event).await.or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(true)
    }
}
