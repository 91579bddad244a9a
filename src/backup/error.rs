//! What can go wrong taking a backup, and the exit code each ends a run with.

use std::path::PathBuf;

use crate::db::state::StateError;
use crate::db::{self, DbError};
use crate::exit::{self, Outcome};
use crate::programs::Attempt;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    #[error(
        "environment `{env}` has no backup configured: add `backup = {{ dir = \"backups/{env}\", \
         keep = 10 }}` to [environments.{env}] in stagegate.toml"
    )]
    NotConfigured { env: String },
    #[error(
        "no usable pg_dump to back up `{env}` (server {server}): {}",
        tried(attempts)
    )]
    NoPgDump {
        env: String,
        server: String,
        attempts: Vec<Attempt>,
    },
    #[error("backing up `{env}`: {what} {}: {source}", path.display())]
    Io {
        env: String,
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("backing up `{env}`: {} failed: {message}; the partial file was removed", program.display())]
    Dump {
        env: String,
        program: PathBuf,
        message: String,
    },
    #[error("backing up `{env}`: counting the rows of {table} in the dump's snapshot: {message}")]
    Count {
        env: String,
        table: String,
        message: String,
    },
    #[error(
        "backing up `{env}`: the archive does not pass `{} --list` ({message}); it was removed",
        program.display()
    )]
    Unreadable {
        env: String,
        program: PathBuf,
        message: String,
    },
    #[error("backing up `{env}`: interrupted ({signal}); the partial file was removed")]
    Interrupted { env: String, signal: &'static str },
    #[error("backing up `{env}`: {source}")]
    Connect { env: String, source: DbError },
    #[error("backing up `{env}`: {}", db::with_causes(source))]
    Query {
        env: String,
        source: tokio_postgres::Error,
    },
    #[error("backing up `{env}`: recording the backup: {source}")]
    State { env: String, source: StateError },
}

impl BackupError {
    /// The exit code this error ends a run with: a backup that cannot be taken refuses the
    /// run (3); a database that cannot be reached or written, or an interrupted run, is an
    /// execution error (4); a missing `backup = {...}` is a configuration error (2).
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            BackupError::NotConfigured { .. } => Outcome::Usage,
            BackupError::Connect { .. }
            | BackupError::Query { .. }
            | BackupError::Interrupted { .. } => Outcome::Execution,
            BackupError::State {
                source: StateError::NewerSchema { .. },
                ..
            } => Outcome::Refused,
            BackupError::State { .. } => Outcome::Execution,
            _ => Outcome::Refused,
        }
    }

    /// As an error that carries its exit code ([`BackupError::outcome`]).
    pub(crate) fn into_exit(self) -> anyhow::Error {
        match self.outcome() {
            Outcome::Refused => exit::refused(self),
            Outcome::Execution => exit::execution(self),
            _ => anyhow::Error::new(self),
        }
    }
}

fn tried(attempts: &[Attempt]) -> String {
    format!(
        "{}; set [backup] pg_dump in stagegate.toml to a pg_dump at least as new as the server",
        crate::programs::describe_attempts(attempts)
    )
}
