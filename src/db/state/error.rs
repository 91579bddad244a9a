//! What goes wrong in the state store, and how it reads. Every failed query becomes a
//! [`StateError::Query`] through [`query_error`] ([`OrQueryError::or_query_error`] after an
//! `.await`).

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot connect to {url}: no answer within {seconds}s")]
    ConnectTimeout { url: String, seconds: u64 },
    #[error(
        "the stagegate state schema in {url} is at version {found}, newer than this stagegate \
         knows ({known}); a newer stagegate has been used on this database: upgrade stagegate \
         (this is {})",
        env!("CARGO_PKG_VERSION")
    )]
    NewerSchema { url: String, found: i64, known: i64 },
    // The causes are shown by `describe` and kept out of the error chain (not `source`):
    // sqlx's own text of a server error adds the server's source line ("at line 948"), and
    // the chain would print the cause a second time.
    #[error(
        "setting up the stagegate state schema in {url}: {}",
        describe_migrate(cause)
    )]
    Migrate {
        url: String,
        cause: sqlx::migrate::MigrateError,
    },
    #[error("reading or writing stagegate state in {url}: {}", describe(cause))]
    Query { url: String, cause: sqlx::Error },
    #[error(
        "migration {version} is already recorded as applied in {url} (another run applied it \
         meanwhile); this run does not run it"
    )]
    AlreadyApplied { url: String, version: String },
    #[error(
        "migration {version} is no longer recorded as applied with the checksums this run read \
         in {url} (another run changed it meanwhile); this run does not revert it"
    )]
    NotApplied { url: String, version: String },
}

/// A sqlx error for people: for a server error its severity (when not ERROR), message,
/// SQLSTATE, detail and hint, never the server's source file, line or routine.
pub(crate) fn describe(error: &sqlx::Error) -> String {
    use std::fmt::Write as _;
    let sqlx::Error::Database(db) = error else {
        return error.to_string();
    };
    let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() else {
        return db.message().to_string();
    };
    let mut out = String::new();
    let severity = format!("{:?}", pg.severity()).to_uppercase();
    if severity != "ERROR" {
        let _ = write!(out, "{severity}: ");
    }
    let _ = write!(out, "{} ({})", pg.message(), pg.code());
    if let Some(detail) = pg.detail() {
        let _ = write!(out, "; detail: {detail}");
    }
    if let Some(hint) = pg.hint() {
        let _ = write!(out, "; hint: {hint}");
    }
    out
}

/// As [`describe`], for the state schema's own migrations.
fn describe_migrate(error: &sqlx::migrate::MigrateError) -> String {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::Execute(error) => describe(error),
        MigrateError::ExecuteMigration(error, version) => {
            format!("state migration {version}: {}", describe(error))
        }
        other => other.to_string(),
    }
}

impl StateError {
    /// The exit code this error ends a run with: a state schema newer than this binary is a
    /// refusal (3), everything else a database failure (4). [`crate::commands::classify`] finds
    /// it anywhere in an error's chain, so commands need not map it themselves.
    pub fn outcome(&self) -> crate::exit::Outcome {
        match self {
            StateError::NewerSchema { .. } => crate::exit::Outcome::Refused,
            _ => crate::exit::Outcome::Execution,
        }
    }
}

/// A failed query on the state database at `url` (its password masked).
pub(super) fn query_error(url: &str, cause: sqlx::Error) -> StateError {
    StateError::Query {
        url: url.to_string(),
        cause,
    }
}

/// A sqlx result whose error is a failed query on the state database.
pub(super) trait OrQueryError<T> {
    /// The error as [`query_error`] of `url`.
    fn or_query_error(self, url: &str) -> Result<T, StateError>;
}

impl<T> OrQueryError<T> for Result<T, sqlx::Error> {
    fn or_query_error(self, url: &str) -> Result<T, StateError> {
        self.map_err(|cause| query_error(url, cause))
    }
}
