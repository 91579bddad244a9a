//! The event log: reading it, its head anchor, and appending the events that change no
//! migration's status.

use super::error::{OrQueryError, StateError};
use super::store::StateStore;
use crate::db::events::Event;

/// The row `stagegate.chain_head`: the newest event as `append_event` last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub id: i64,
    pub hash: String,
    pub gapless_after: i64,
}

impl StateStore {
    /// The event log in order; empty when the state schema does not exist yet.
    pub async fn events(&mut self) -> Result<Vec<Event>, StateError> {
        let version = self.schema_version().await?;
        self.events_at(version).await
    }

    pub(super) async fn events_at(
        &mut self,
        version: Option<i64>,
    ) -> Result<Vec<Event>, StateError> {
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
        .or_query_error(&self.url)
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
        .or_query_error(&self.url)
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
        .or_query_error(&self.url)?;
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
        .or_query_error(&self.url)
    }

    /// The newest event as the log's own anchor records it: id, hash, and the id after which
    /// ids are consecutive. `None` before the state schema has one.
    pub async fn chain_head(&mut self) -> Result<Option<ChainHead>, StateError> {
        let version = self.schema_version().await?;
        self.chain_head_at(version).await
    }

    pub(super) async fn chain_head_at(
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
            other => other.or_query_error(&self.url),
        }
    }
}
