//! The documented exit codes, and how an error maps to one.

use std::fmt;
use std::process::ExitCode;

/// What a run ended with; each variant is one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything succeeded.
    Success,
    /// 1: lint found problems at error severity.
    Findings,
    /// 2: bad flags, configuration or migration files.
    Usage,
    /// 3: a gate refused (promotion, confirmation, backup, data-loss guard, drift).
    Refused,
    /// 4: the database or an external program failed.
    Execution,
    /// 5: the migrations were committed, but the `after_apply` / `after_down` command failed
    /// (or timed out); nothing was rolled back.
    AfterCheckFailed,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Findings => 1,
            Outcome::Usage => 2,
            Outcome::Refused => 3,
            Outcome::Execution => 4,
            Outcome::AfterCheckFailed => 5,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// An error that carries the exit code it must end the run with.
///
/// Wrap a cause with [`refused`] or [`execution`]; errors without such a wrapper exit 2.
#[derive(Debug)]
pub struct Failure {
    pub outcome: Outcome,
    pub error: anyhow::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// A gate said no: exit 3.
pub fn refused(error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        outcome: Outcome::Refused,
        error: error.into(),
    })
}

/// The database or an external program failed: exit 4.
pub fn execution(error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        outcome: Outcome::Execution,
        error: error.into(),
    })
}

/// An error and its causes as one message, each cause once: a cause whose text the message
/// already holds (an error that quotes its source) is not repeated.
pub fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The exit code for an error: the first [`Failure`] in its chain decides; a state-store error
/// says its own ([`crate::db::state::StateError::outcome`]); a database driver error means 4; everything else is a usage or configuration problem (2).
pub fn classify(error: &anyhow::Error) -> Outcome {
    for cause in error.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.outcome;
        }
        if let Some(state) = cause.downcast_ref::<crate::db::state::StateError>() {
            return state.outcome();
        }
        if cause.downcast_ref::<tokio_postgres::Error>().is_some() {
            return Outcome::Execution;
        }
    }
    Outcome::Usage
}

/// True when the error is only a closed stdout (`stagegate lint | head`), which exits 0.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_quoted_by_its_error_is_printed_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot connect to db: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        let error = anyhow::Error::new(Quoting {
            source: std::io::Error::other("connection refused"),
        })
        .context("reading state");
        assert_eq!(
            message(&error),
            "reading state: cannot connect to db: connection refused"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(message(&plain), "outer: inner");
    }

    #[test]
    fn failures_keep_their_code_under_context() {
        let error = refused(anyhow::anyhow!("production needs confirmation"))
            .context("applying to production");
        assert_eq!(classify(&error), Outcome::Refused);
        assert_eq!(classify(&anyhow::anyhow!("bad flag")), Outcome::Usage);
        assert_eq!(
            classify(&execution(anyhow::anyhow!("pg_dump failed"))),
            Outcome::Execution
        );
    }

    #[test]
    fn state_errors_carry_their_own_code() {
        use crate::db::state::StateError;
        let newer = anyhow::Error::new(StateError::NewerSchema {
            url: "postgres://db".into(),
            found: 9,
            known: 4,
        })
        .context("reading the state");
        assert_eq!(classify(&newer), Outcome::Refused);
        let down = anyhow::Error::new(StateError::ConnectTimeout {
            url: "postgres://db".into(),
            seconds: 5,
        });
        assert_eq!(classify(&down), Outcome::Execution);
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let error = anyhow::Error::new(io).context("writing the report");
        assert!(is_broken_pipe(&error));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
