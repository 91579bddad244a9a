//! The database `check-reversible` runs in: one of its own on the shadow server
//! (`CREATE DATABASE stagegate_reversible_<pid>_<time>`), dropped at the end, or, where
//! the server does not let stagegate create databases, the shadow database itself.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::config::DatabaseUrl;
use crate::db::{self, DbError};

/// Pause between attempts to create or drop a database another session is using.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Prefix of the databases stagegate creates for a check.
pub(crate) const NAME_PREFIX: &str = "stagegate_reversible_";

#[derive(Debug, thiserror::Error)]
pub(crate) enum ScratchError {
    #[error(transparent)]
    Connect(#[from] DbError),
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

/// Where the check runs.
pub(crate) struct ScratchDb {
    /// A connection to the shadow URL's own database, to create and drop the scratch one.
    admin: Client,
    server: DatabaseUrl,
    /// The database the migrations run in.
    pub(crate) url: DatabaseUrl,
    /// Its name.
    pub(crate) name: String,
    /// True when stagegate created it (it is dropped at the end and may be reset); false when
    /// it is the shadow database itself.
    pub(crate) own: bool,
    /// Why stagegate could not create a database of its own, when it could not.
    pub(crate) not_own_reason: Option<String>,
    /// `DROP DATABASE ... WITH (FORCE)` is understood (PostgreSQL 13 and later).
    force: bool,
}

impl ScratchDb {
    /// Connects to `server` and creates a database of its own there; where that is not
    /// permitted (SQLSTATE 42501), the shadow database itself is used (the caller checks that
    /// it holds no objects).
    pub(crate) async fn open(server: &DatabaseUrl) -> Result<ScratchDb, ScratchError> {
        Self::open_with_prefix(server, NAME_PREFIX).await
    }

    /// As [`ScratchDb::open`], the database named `<prefix><pid>_<time>`.
    pub(crate) async fn open_with_prefix(
        server: &DatabaseUrl,
        prefix: &str,
    ) -> Result<ScratchDb, ScratchError> {
        let admin = db::connect(server).await?;
        let version: i32 = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|source| DbError::Connect {
                url: server.redacted(),
                source,
            })?
            .get(0);
        let name = unique_name(prefix);
        let mut scratch = ScratchDb {
            admin,
            server: server.clone(),
            url: with_database(server, &name),
            name,
            own: true,
            not_own_reason: None,
            force: version >= 130_000,
        };
        match scratch.create().await {
            Ok(()) => Ok(scratch),
            Err(ScratchError::Create { source, .. })
                if source.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                let current: String = scratch
                    .admin
                    .query_one("SELECT current_database()", &[])
                    .await
                    .map_err(|source| DbError::Connect {
                        url: server.redacted(),
                        source,
                    })?
                    .get(0);
                scratch.not_own_reason = Some(
                    source
                        .as_db_error()
                        .map_or_else(|| source.to_string(), |e| e.message().to_string()),
                );
                scratch.url = server.clone();
                scratch.name = current;
                scratch.own = false;
                Ok(scratch)
            }
            Err(error) => Err(error),
        }
    }

    /// The shadow server, password masked.
    pub(crate) fn server(&self) -> String {
        self.server.redacted()
    }

    async fn create(&self) -> Result<(), ScratchError> {
        self.create_as(&self.name, None).await
    }

    /// `CREATE DATABASE name [TEMPLATE template]`, retried while another session holds the
    /// template (a session that is still closing).
    async fn create_as(&self, name: &str, template: Option<&str>) -> Result<(), ScratchError> {
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
                    return Err(ScratchError::Create {
                        name: name.to_string(),
                        server: self.server.redacted(),
                        source,
                    });
                }
            }
        }
    }

    async fn drop_database(&self) -> Result<(), ScratchError> {
        self.drop_named(&self.name).await
    }

    async fn drop_named(&self, name: &str) -> Result<(), ScratchError> {
        let force = if self.force { " WITH (FORCE)" } else { "" };
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
                    return Err(ScratchError::Drop {
                        name: name.to_string(),
                        server: self.server.redacted(),
                        source,
                    });
                }
            }
        }
    }

    /// Drops the database and creates it again, empty. Only for a database of its own.
    pub(crate) async fn reset(&self) -> Result<(), ScratchError> {
        debug_assert!(self.own);
        self.drop_database().await?;
        self.create().await
    }

    /// The name of the copy [`ScratchDb::save`] makes.
    fn saved_name(&self) -> String {
        format!("{}_saved", self.name)
    }

    /// Copies the database (`CREATE DATABASE <name>_saved TEMPLATE <name>`), so that
    /// [`ScratchDb::restore`] can bring it back. No session may be connected to it. Only for a
    /// database of its own.
    pub(crate) async fn save(&self) -> Result<(), ScratchError> {
        debug_assert!(self.own);
        self.drop_named(&self.saved_name()).await?;
        self.create_as(&self.saved_name(), Some(&self.name)).await
    }

    /// Replaces the database by the copy [`ScratchDb::save`] made, and drops the copy.
    pub(crate) async fn restore(&self) -> Result<(), ScratchError> {
        debug_assert!(self.own);
        self.drop_database().await?;
        self.create_as(&self.name, Some(&self.saved_name())).await?;
        self.drop_named(&self.saved_name()).await
    }

    /// Runs `work` on this database, cancelled by Ctrl-C, then removes the database whatever
    /// the outcome. A failure to remove it is the error (naming `by_hand`, the SQL that does
    /// it) when `work` succeeded, and a warning beside `work`'s own error when it did not.
    pub(crate) async fn run_then_remove<T>(
        self,
        work: impl AsyncFnOnce(&ScratchDb) -> anyhow::Result<T>,
        by_hand: &str,
        printer: &crate::printer::Printer,
    ) -> anyhow::Result<T> {
        let result = tokio::select! {
            result = work(&self) => result,
            _ = tokio::signal::ctrl_c() => Err(crate::exit::execution(anyhow::anyhow!(
                "interrupted (Ctrl-C)"
            ))),
        };
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

    /// Drops the database if stagegate created it. Sessions still connected to it (a
    /// statement cancelled by Ctrl-C) are ended by the server.
    pub(crate) async fn remove(self) -> Result<(), ScratchError> {
        if self.own {
            self.drop_named(&self.saved_name()).await?;
            self.drop_database().await
        } else {
            Ok(())
        }
    }
}

/// `stagegate_reversible_<pid>_<nanoseconds since the epoch, hex>`: unique on the server for
/// runs of this host, and a plain identifier (no quoting needed).
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}{}_{nanos:x}", std::process::id())
}

/// `url` with its database replaced by `database` (a plain identifier): the path of a URL
/// (and any `dbname` query parameter), or a `dbname=` setting added to a `key=value` string
/// (the last setting of a key wins).
pub(crate) fn with_database(url: &DatabaseUrl, database: &str) -> DatabaseUrl {
    let text = url.expose();
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
        return DatabaseUrl::new(format!("{text} dbname={database}"));
    };
    let (base, query) = text
        .split_once('?')
        .map_or((text, None), |(base, query)| (base, Some(query)));
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    let query = query.map(|query| {
        query
            .split('&')
            .filter(|param| {
                !param
                    .split_once('=')
                    .is_some_and(|(key, _)| key.eq_ignore_ascii_case("dbname"))
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    DatabaseUrl::new(match query.filter(|q| !q.is_empty()) {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(url: &str) -> String {
        with_database(&DatabaseUrl::new(url), "x")
            .expose()
            .to_string()
    }

    #[test]
    fn database_is_replaced_in_every_form() {
        assert_eq!(
            swap("postgres://u:pw@h:5/postgres"),
            "postgres://u:pw@h:5/x"
        );
        assert_eq!(swap("postgres://u@h"), "postgres://u@h/x");
        assert_eq!(
            swap("postgresql://h/app?sslmode=require&dbname=app"),
            "postgresql://h/x?sslmode=require"
        );
        assert_eq!(
            swap("postgres://h1,h2/app?dbname=app"),
            "postgres://h1,h2/x"
        );
        assert_eq!(
            swap("host=h user=u dbname=app"),
            "host=h user=u dbname=app dbname=x"
        );
    }

    #[test]
    fn names_are_plain_identifiers_with_the_prefix() {
        let name = unique_name(NAME_PREFIX);
        assert!(name.starts_with(NAME_PREFIX), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        assert!(name.len() < 64, "{name}");
    }
}
