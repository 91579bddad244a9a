//! Database access: user migrations on tokio-postgres ([`session`]), the run's advisory lock
//! ([`lock`]), and stagegate's own state on sqlx ([`state`], [`events`]). Every connection is
//! made from the URL's parsed target ([`crate::target`]); `docs/connections.md` says which
//! driver does what.
//!
//! Connection errors name the server with its password masked; nothing here prints a
//! connection string as given.

pub(crate) mod events;
pub(crate) mod lock;
mod relay;
pub(crate) mod runners;
pub(crate) mod script;
pub(crate) mod session;
pub(crate) mod state;
pub(crate) mod tls;
pub(crate) mod trust;

pub use lock::LOCK_KEY;
pub use session::{ApplyRecord, Finish, Session, Step, Timeouts};
pub use state::{StateStore, known_schema_version};

use tokio_postgres::Client;

use crate::config::DatabaseUrl;
use crate::target::TargetError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    BadUrl(#[from] TargetError),
    #[error("cannot connect to {url}: {}", with_causes(source))]
    Connect {
        url: String,
        source: tokio_postgres::Error,
    },
}

/// An error and its causes on one line (tokio-postgres's TLS errors say only "error
/// performing TLS handshake"; why is in the source).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}

/// Opens a connection to `url`'s target and drives it on the current tokio runtime.
pub async fn connect(url: &DatabaseUrl) -> Result<Client, DbError> {
    let target = url.target()?;
    let connector = target.tls().connector().map_err(|message| TargetError {
        url: target.redacted().to_string(),
        message,
    })?;
    let (client, connection) =
        target
            .session_config()
            .connect(connector)
            .await
            .map_err(|source| DbError::Connect {
                url: target.redacted().to_string(),
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
