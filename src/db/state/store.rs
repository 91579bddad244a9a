//! The connection to one database's state schema.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::error::{OrQueryError, StateError};
use crate::config::DatabaseUrl;
use crate::target::Target;

/// A connection to one database's state schema.
pub struct StateStore {
    pub(super) conn: PgConnection,
    /// The database's URL with its password masked.
    pub(super) url: String,
}

/// Connects sqlx to `target`: directly, or, for a target that verifies the server against a
/// root file of its own, through a relay that does the TLS with the session's connector (see
/// [`crate::db::relay`] why).
async fn connect_sqlx(target: &Target) -> Result<PgConnection, String> {
    let options = target.state_options();
    if target.tls().verifies_with_own_root()
        && let Some((host, port)) = target.first_tcp()
    {
        let relay =
            crate::db::relay::start(target.tls(), &host, port, target.connect_timeout()).await?;
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

    /// The connection, for reads of tables that are not stagegate's ([`crate::db::runners`]).
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The database's URL with its password masked.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.url
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// A transaction holding the event log's lock, as every write of a migration's status does
/// first, so that a check of the row and the write after it cannot race.
pub(super) async fn begin_locked<'c>(
    conn: &'c mut PgConnection,
    url: &str,
) -> Result<sqlx::Transaction<'c, sqlx::Postgres>, StateError> {
    let mut tx = conn.begin().await.or_query_error(url)?;
    sqlx::query!("LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .or_query_error(url)?;
    Ok(tx)
}
