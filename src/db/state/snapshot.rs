//! Everything of one database's state read at one instant.

use super::binding::Binding;
use super::error::{OrQueryError, StateError};
use super::log::ChainHead;
use super::rows::MigrationRow;
use super::store::StateStore;
use crate::db::events::Event;

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

impl StateStore {
    /// Rows, events, head anchor and binding in one read-only snapshot (REPEATABLE READ), so
    /// an event appended meanwhile by another session cannot look like a mismatch.
    pub async fn snapshot(&mut self) -> Result<Snapshot, StateError> {
        // Both ends of the transaction as simple queries: one round trip each, where a
        // prepared statement takes two on a fresh connection (its preparation, then its run).
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut self.conn)
            .await
            .or_query_error(&self.url)?;
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
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
        read
    }
}
