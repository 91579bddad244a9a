//! Database access: user migrations on tokio-postgres ([`session`]), the run's advisory lock
//! ([`lock`]), and stagegate's own state on sqlx ([`state`], [`events`]).
//!
//! Connection errors name the server with its password masked; nothing here prints a
//! connection string as given.

pub mod events;
pub mod lock;
pub mod runners;
pub mod session;
pub mod state;
pub mod tls;

use std::time::Duration;

use tokio_postgres::Client;

use crate::config::DatabaseUrl;

/// Applied when the connection string sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid connection string {url}: {message}")]
    BadUrl { url: String, message: String },
    #[error("cannot connect to {url}: {}", with_causes(source))]
    Connect {
        url: String,
        source: tokio_postgres::Error,
    },
}

/// An error and its causes on one line (tokio-postgres's TLS errors say only "error
/// performing TLS handshake"; why is in the source).
pub fn with_causes(error: &dyn std::error::Error) -> String {
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

/// Opens a connection and drives it on the current tokio runtime.
pub async fn connect(url: &DatabaseUrl) -> Result<Client, DbError> {
    let (mut config, tls) = parse(url)?;
    let connector = tls.connector().map_err(|message| DbError::BadUrl {
        url: url.redacted(),
        message,
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("stagegate");
    }
    let (client, connection) =
        config
            .connect(connector)
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

/// A connection string as tokio-postgres's configuration and the TLS settings it carries
/// (which tokio-postgres could not read: see [`tls`]).
pub fn parse(url: &DatabaseUrl) -> Result<(tokio_postgres::Config, tls::Tls), DbError> {
    let bad = |message: String| DbError::BadUrl {
        url: url.redacted(),
        message: crate::config::redact_text(&message),
    };
    let (rest, tls) = tls::split(url.expose()).map_err(bad)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e: tokio_postgres::Error| bad(e.to_string()))?;
    config.ssl_mode(tls.driver_mode());
    Ok((config, tls))
}

/// A single-threaded tokio runtime for one command's database work.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
