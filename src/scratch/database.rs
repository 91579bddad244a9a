//! The scratch database: one of stagegate's own on the scratch server
//! (`CREATE DATABASE <prefix><pid>_<time>`), dropped at the end. Every command that works on
//! a scratch server (lint --scratch, trace, report --scratch, check-reversible, backup verify
//! --scratch) makes one; none runs anything in a database it did not create.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::config::DatabaseUrl;
use crate::db::{self, DbError};
use crate::programs::PgVersion;

/// Pause between attempts to create or drop a database another session is using.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub(crate) enum ScratchDbError {
    #[error(transparent)]
    Connect(#[from] DbError),
    #[error(
        "reading the version of the scratch server {server}: {}",
        db::with_causes(source)
    )]
    Version {
        server: String,
        source: tokio_postgres::Error,
    },
    #[error(
        "cannot create a database of its own on {server} ({reason}): stagegate works in a \
         scratch database it creates and drops, never in one that exists; let the user create \
         databases (ALTER ROLE ... CREATEDB) or point --scratch (STAGEGATE_SCRATCH_URL, [scratch] \
         url) at another server"
    )]
    NotPermitted { server: String, reason: String },
    #[error(
        "cannot create the scratch database {name} on {server}: {}",
        db::with_causes(source)
    )]
    Create {
        name: String,
        server: String,
        source: tokio_postgres::Error,
    },
    #[error(
        "cannot drop the scratch database {name} on {server}: {}",
        db::with_causes(source)
    )]
    Drop {
        name: String,
        server: String,
        source: tokio_postgres::Error,
    },
}

/// A database of stagegate's own on the scratch server.
pub(crate) struct ScratchDb {
    /// A connection to the server URL's own database, to create and drop the scratch one.
    admin: Client,
    server: DatabaseUrl,
    /// The database the work runs in.
    pub(crate) url: DatabaseUrl,
    /// Its name.
    pub(crate) name: String,
    /// The server's version.
    pub(crate) version: PgVersion,
}

impl ScratchDb {
    /// Connects to `server` and creates a database named `<prefix><pid>_<time>` there. A
    /// server that does not let its user create databases is refused with the fix.
    pub(crate) async fn open(
        server: &DatabaseUrl,
        prefix: &str,
    ) -> Result<ScratchDb, ScratchDbError> {
        let admin = db::connect(server).await?;
        let version = crate::backup::server_version(&admin)
            .await
            .map_err(|source| ScratchDbError::Version {
                server: server.redacted(),
                source,
            })?;
        let name = unique_name(prefix);
        let scratch = ScratchDb {
            admin,
            server: server.clone(),
            url: server.with_database(&name),
            name,
            version,
        };
        match scratch.create_as(&scratch.name, None).await {
            Ok(()) => Ok(scratch),
            Err(ScratchDbError::Create { source, .. })
                if source.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                Err(ScratchDbError::NotPermitted {
                    server: server.redacted(),
                    reason: source
                        .as_db_error()
                        .map_or_else(|| source.to_string(), |e| e.message().to_string()),
                })
            }
            Err(error) => Err(error),
        }
    }

    /// `DROP DATABASE ... WITH (FORCE)` is understood (PostgreSQL 13 and later).
    fn force(&self) -> bool {
        self.version.num >= 130_000
    }

    /// `CREATE DATABASE name [TEMPLATE template]`, retried while another session holds the
    /// template (a session that is still closing).
    async fn create_as(&self, name: &str, template: Option<&str>) -> Result<(), ScratchDbError> {
        let sql = match template {
            Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
            None => format!("CREATE DATABASE {name}"),
        };
        let mut attempt = 0;
        loop {
            match self.admin.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                // Another session on template1 blocks copying it for a moment.
                Err(source) if source.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(source) => {
                    return Err(ScratchDbError::Create {
                        name: name.to_string(),
                        server: self.server.redacted(),
                        source,
                    });
                }
            }
        }
    }

    async fn drop_named(&self, name: &str) -> Result<(), ScratchDbError> {
        let force = if self.force() { " WITH (FORCE)" } else { "" };
        let sql = format!("DROP DATABASE IF EXISTS {name}{force}");
        let mut attempt = 0;
        loop {
            match self.admin.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                // Before PostgreSQL 13 a session that is still closing blocks the drop.
                Err(source) if source.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(source) => {
                    return Err(ScratchDbError::Drop {
                        name: name.to_string(),
                        server: self.server.redacted(),
                        source,
                    });
                }
            }
        }
    }

    /// Drops the database and creates it again, empty.
    pub(crate) async fn reset(&self) -> Result<(), ScratchDbError> {
        self.drop_named(&self.name).await?;
        self.create_as(&self.name, None).await
    }

    /// The name of the copy [`ScratchDb::save`] makes.
    fn saved_name(&self) -> String {
        format!("{}_saved", self.name)
    }

    /// Copies the database (`CREATE DATABASE <name>_saved TEMPLATE <name>`), so that
    /// [`ScratchDb::restore`] can bring it back. No session may be connected to it.
    pub(crate) async fn save(&self) -> Result<(), ScratchDbError> {
        self.drop_named(&self.saved_name()).await?;
        self.create_as(&self.saved_name(), Some(&self.name)).await
    }

    /// Replaces the database by the copy [`ScratchDb::save`] made, and drops the copy.
    pub(crate) async fn restore(&self) -> Result<(), ScratchDbError> {
        self.drop_named(&self.name).await?;
        self.create_as(&self.name, Some(&self.saved_name())).await?;
        self.drop_named(&self.saved_name()).await
    }

    /// Runs `work` on this database, cancelled by Ctrl-C, SIGTERM or SIGHUP, then removes the
    /// database whatever the outcome. A failure to remove it is the error (naming `by_hand`,
    /// the SQL that does it) when `work` succeeded, and a warning beside `work`'s own error
    /// when it did not.
    pub(crate) async fn run_then_remove<T>(
        self,
        work: impl AsyncFnOnce(&ScratchDb) -> anyhow::Result<T>,
        by_hand: &str,
        printer: &crate::printer::Printer,
    ) -> anyhow::Result<T> {
        let result = crate::signals::or_interrupted(work(&self))
            .await
            .unwrap_or_else(|signal| {
                Err(crate::exit::execution(anyhow::anyhow!(
                    "interrupted ({signal})"
                )))
            });
        match (result, self.remove().await) {
            (result, Ok(())) => result,
            (Ok(_), Err(error)) => Err(crate::exit::execution(anyhow::anyhow!(
                "{error}; {by_hand}"
            ))),
            (Err(error), Err(drop_error)) => {
                printer.warning(&format!("{drop_error}; {by_hand}"));
                Err(error)
            }
        }
    }

    /// Drops the database (and its saved copy). Sessions still connected to it (a statement
    /// cancelled by Ctrl-C) are ended by the server.
    pub(crate) async fn remove(self) -> Result<(), ScratchDbError> {
        self.drop_named(&self.saved_name()).await?;
        self.drop_named(&self.name).await
    }
}

/// `<prefix><pid>_<nanoseconds since the epoch, hex>`: unique on the server for runs of this
/// host, and a plain identifier (no quoting needed).
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}{}_{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_identifiers_with_the_prefix() {
        let name = unique_name("stagegate_reversible_");
        assert!(name.starts_with("stagegate_reversible_"), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        assert!(name.len() < 64, "{name}");
    }
}
