//! One function per command. Each returns the outcome to exit with; reports go to stdout.
//!
//! The command layer is the only one that writes to the terminal or ends the process
//! (Cargo.toml's `[lints]` deny it everywhere else).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

mod after;
mod apply;
mod approve;
mod audit;
mod backup;
mod baseline;
mod check_reversible;
mod common;
mod completions;
mod down;
mod init;
mod lint;
mod new;
mod plan;
mod rebind;
mod replace_down;
mod report;
mod resolve;
mod rule;
mod status;
mod table;
mod terminal;
mod trace;
mod verify;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{BackupCommand, Cli, Command, MigrateCommand};
use crate::config::Config;
use crate::exit::Outcome;
use crate::printer::Printer;

/// Runs the parsed command line.
pub fn run(cli: Cli, printer: &Printer) -> anyhow::Result<Outcome> {
    if printer.verbosity == crate::printer::Verbosity::Verbose {
        // Which file the command reads; a broken one is reported by the command itself.
        if let Ok(config) = load_config(&cli) {
            printer.detail(&match &config.path {
                Some(path) => format!("configuration: {}", path.display()),
                None => "configuration: no stagegate.toml found; defaults apply".to_string(),
            });
        }
    }
    match &cli.command {
        Command::Init(args) => init::run(args, printer),
        Command::Completions(args) => completions::run(args),
        Command::New(args) => new::run(&load_config(&cli)?, args, printer),
        Command::Verify(args) => verify::run(&load_config(&cli)?, args, printer),
        Command::Lint(args) => lint::run(&load_config(&cli)?, args, printer),
        Command::Rule(args) => rule::run(args),
        Command::Migrate(MigrateCommand::Status(args)) => {
            status::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Plan(args)) => {
            plan::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Apply(args)) => {
            apply::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Approve(args)) => {
            approve::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Down(args)) => {
            down::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Resolve(args)) => {
            resolve::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Baseline(args)) => {
            baseline::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::Rebind(args)) => {
            rebind::run(&load_config(&cli)?, args, printer)
        }
        Command::Migrate(MigrateCommand::ReplaceDown(args)) => {
            replace_down::run(&load_config(&cli)?, args, printer)
        }
        Command::Audit(args) => audit::run(&load_config(&cli)?, args, printer),
        Command::Backup(BackupCommand::Create(args)) => {
            backup::create(&load_config(&cli)?, args, printer)
        }
        Command::Backup(BackupCommand::List(args)) => {
            backup::list(&load_config(&cli)?, args, printer)
        }
        Command::Backup(BackupCommand::Verify(args)) => {
            backup::verify(&load_config(&cli)?, args, printer)
        }
        Command::Report(args) => report::run(&load_config(&cli)?, args, printer),
        Command::Trace(args) => trace::run(&load_config(&cli)?, args, printer),
        Command::CheckReversible(args) => check_reversible::run(&load_config(&cli)?, args, printer),
    }
}

/// The configuration for this run: `--config`, else the nearest stagegate.toml, else defaults.
pub(crate) fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let cwd = current_dir()?;
    Ok(Config::load(cli.config.as_deref(), &cwd)?)
}

fn current_dir() -> anyhow::Result<PathBuf> {
    std::env::current_dir().context("cannot read the current directory")
}

/// Runs `read` on every environment at once and gives the results in the order of `targets`.
pub(crate) async fn read_each<T, R, F, Fut>(targets: Vec<(String, T)>, read: F) -> Vec<(String, R)>
where
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (name, target)) in targets.into_iter().enumerate() {
        let read = read(target);
        tasks.spawn(async move { (index, name, read.await) });
    }
    let mut out = tasks.join_all().await;
    out.sort_by_key(|(index, _, _)| *index);
    out.into_iter().map(|(_, name, r)| (name, r)).collect()
}

/// Writes a report for people to stdout, with every character a terminal would act on, or
/// that shows nothing, made visible ([`crate::visible::text`]): the names, versions,
/// migration names, SQL and server messages in it come from a pull request or a server. The
/// one place such a report passes through; a closed pipe surfaces as an error that exits 0.
pub(crate) fn print_report(text: &str) -> anyhow::Result<()> {
    print_document(&crate::visible::text(text))
}

/// Writes a document to stdout as it is: JSON (which escapes what it must itself and keeps
/// the exact text), or text whose untrusted parts were made visible already (a coloured
/// table, whose colour escapes are stagegate's own).
pub(crate) fn print_document(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(())
}

/// The exit code for an error: the first [`Failure`] in its chain decides; a state-store error
/// says its own ([`crate::db::state::StateError::outcome`]); a database driver
/// error means 4; everything else is a usage or configuration problem (2).
pub fn classify(error: &anyhow::Error) -> Outcome {
    use crate::exit::Failure;
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

/// The engine's events on the terminal (stderr). A second interruption ends the process
/// here, with the execution exit code, without waiting for the server.
impl crate::progress::Progress for Printer {
    fn emit(&self, event: crate::progress::ProgressEvent<'_>) -> bool {
        use crate::progress::ProgressEvent;
        match event {
            ProgressEvent::Note(message) => self.note(message),
            ProgressEvent::Warning(message) => self.warning(message),
            ProgressEvent::Status(line) => return self.progress(line),
            ProgressEvent::StatusEnd => self.progress_end(),
            ProgressEvent::InterruptedTwice => {
                self.error("interrupted twice: exiting without recording the outcome");
                std::process::exit(i32::from(crate::exit::Outcome::Execution.code()));
            }
        }
        true
    }
}

/// The printer as the engine's event sink.
pub(crate) fn sink(printer: &Printer) -> crate::progress::Sink {
    std::sync::Arc::new(*printer)
}

#[cfg(test)]
mod tests {
    use super::classify;
    use crate::exit::{Outcome, execution, refused};

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
}
