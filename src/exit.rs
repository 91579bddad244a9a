//! The documented exit codes and the error that carries one ([`Failure`]). A leaf: every
//! layer wraps its failures here; which code an error chain ends with is decided at the top,
//! in [`crate::commands::classify`], the one place that knows every layer's typed errors.

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
/// Wrap a cause with [`refused`] or [`execution`]; errors without such a wrapper exit 2
/// (see [`crate::commands::classify`]).
#[derive(Debug)]
pub(crate) struct Failure {
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
pub(crate) fn refused(error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        outcome: Outcome::Refused,
        error: error.into(),
    })
}

/// The database or an external program failed: exit 4.
pub(crate) fn execution(error: impl Into<anyhow::Error>) -> anyhow::Error {
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
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let error = anyhow::Error::new(io).context("writing the report");
        assert!(is_broken_pipe(&error));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
