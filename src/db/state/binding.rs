//! The binding of a database to its environment, and the server identity it holds.

use time::OffsetDateTime;

use super::error::{OrQueryError, StateError};
use super::store::StateStore;

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

impl StateStore {
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
        .or_query_error(&self.url)
    }

    /// The environment this database is bound to; `None` before the first apply bound it (or
    /// before the state schema has the table).
    pub async fn binding(&mut self) -> Result<Option<Binding>, StateError> {
        let version = self.schema_version().await?;
        self.binding_at(version).await
    }

    pub(super) async fn binding_at(
        &mut self,
        version: Option<i64>,
    ) -> Result<Option<Binding>, StateError> {
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
        .or_query_error(&self.url)?;
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
        .or_query_error(&self.url)
    }
}
