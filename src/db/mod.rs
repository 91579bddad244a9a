//! Database access: user migrations on tokio-postgres ([`session`]), the run's advisory lock
//! ([`lock`]), and stagegate's own state on sqlx ([`state`], [`events`]).
//!
//! Connection errors name the server with its password masked; nothing here prints a
//! connection string as given.

pub mod events;
pub mod lock;
pub mod session;
pub mod state;

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::config::DatabaseUrl;

/// Applied when the connection string sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid connection string {url}: {source}")]
    BadUrl {
        url: String,
        source: tokio_postgres::Error,
    },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        source: tokio_postgres::Error,
    },
}

/// Opens a connection and drives it on the current tokio runtime.
pub async fn connect(url: &DatabaseUrl) -> Result<Client, DbError> {
    let mut config: tokio_postgres::Config =
        url.expose().parse().map_err(|source| DbError::BadUrl {
            url: url.redacted(),
            source,
        })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("stagegate");
    }
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|source| DbError::Connect {
            url: url.redacted(),
            source,
        })?;
    tokio::spawn(async move {
        // The error, if any, reaches the caller through the client's next request.
        let _ = connection.await;
    });
    Ok(client)
}

/// A single-threaded tokio runtime for one command's database work.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
