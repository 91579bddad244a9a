//! A person settling a failed or interrupted attempt: `migrate resolve` (and `--abandon`),
//! each with its event.

use super::error::{OrQueryError, StateError};
use super::store::{StateStore, begin_locked};

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
    /// there is no unresolved failed attempt of `version`. `settled` is what a human said of a
    /// statement whose end was not known: how many statements are done, and their checksum.
    pub async fn resolve(
        &mut self,
        version: &str,
        os_user: Option<&str>,
        reason: &str,
        settled: Option<(i32, &str)>,
    ) -> Result<bool, StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
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
        .or_query_error(url)?;
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
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
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
        .or_query_error(url)?;
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
        append_resolve(&mut tx, &event).await.or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(true)
    }
}
