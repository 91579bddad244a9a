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
    /// execution error (4); a missing `backup = {...}` is a configuration error (2); a state
    /// store error has its own ([`StateError::outcome`]).
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            BackupError::NotConfigured { .. } => Outcome::Usage,
            BackupError::Connect { .. }
            | BackupError::Query { .. }
            | BackupError::Interrupted { .. } => Outcome::Execution,
            // The state store's own code: a newer state schema refuses (3), else 4.
            BackupError::State { source, .. } => source.outcome(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::classify;
    use crate::target::TargetError;

    /// Each error's exit code, from [`BackupError::outcome`] and through [`BackupError::into_exit`]
    /// as the top of the run reads it. (The mutants: an arm of either match deleted, so the
    /// error falls to another code.)
    #[test]
    fn each_backup_error_ends_the_run_with_its_documented_code() {
        let env = || "prod".to_string();
        let message = || "it failed".to_string();
        let state_connect = StateError::Connect {
            url: "postgres://db/prod".into(),
            message: message(),
        };
        let newer = StateError::NewerSchema {
            url: "postgres://db/prod".into(),
            found: 99,
            known: 1,
        };
        let cases = [
            (BackupError::NotConfigured { env: env() }, Outcome::Usage),
            (
                BackupError::NoPgDump {
                    env: env(),
                    server: "17.2".into(),
                    attempts: Vec::new(),
                },
                Outcome::Refused,
            ),
            (
                BackupError::Io {
                    env: env(),
                    what: "cannot read",
                    path: PathBuf::from("backups/x.dump"),
                    source: std::io::Error::other("disk"),
                },
                Outcome::Refused,
            ),
            (
                BackupError::Dump {
                    env: env(),
                    program: PathBuf::from("pg_dump"),
                    message: message(),
                },
                Outcome::Refused,
            ),
            (
                BackupError::Count {
                    env: env(),
                    table: "public.users".into(),
                    message: message(),
                },
                Outcome::Refused,
            ),
            (
                BackupError::Unreadable {
                    env: env(),
                    program: PathBuf::from("pg_restore"),
                    message: message(),
                },
                Outcome::Refused,
            ),
            (
                BackupError::Interrupted {
                    env: env(),
                    signal: "SIGTERM",
                },
                Outcome::Execution,
            ),
            (
                BackupError::Connect {
                    env: env(),
                    source: DbError::BadUrl(TargetError {
                        url: "postgres://db/prod".into(),
                        message: message(),
                    }),
                },
                Outcome::Execution,
            ),
            (
                BackupError::State {
                    env: env(),
                    source: state_connect,
                },
                Outcome::Execution,
            ),
            (
                BackupError::State {
                    env: env(),
                    source: newer,
                },
                Outcome::Refused,
            ),
        ];
        for (error, expected) in cases {
            let text = error.to_string();
            assert_eq!(error.outcome(), expected, "{text}");
            assert_eq!(classify(&error.into_exit()), expected, "{text} (into_exit)");
        }
    }

    /// A missing or too old pg_dump says how to name one. (The mutant: `tried` returning an
    /// empty or another text.)
    #[test]
    fn no_usable_pg_dump_says_how_to_name_one() {
        let error = BackupError::NoPgDump {
            env: "prod".into(),
            server: "17.2".into(),
            attempts: Vec::new(),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("no usable pg_dump to back up `prod` (server 17.2): ")
                && text.ends_with(
                    "; set [backup] pg_dump in stagegate.toml to a pg_dump at least as new as \
                     the server"
                ),
            "{text}"
        );
    }
}
