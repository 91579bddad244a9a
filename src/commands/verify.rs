//! `stagegate verify`: is the migration directory well-formed?

use std::fmt::Write as _;

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::{self, SourceError};

pub fn run(config: &Config, args: &VerifyArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    if !args.envs.is_empty() {
        anyhow::bail!("`stagegate verify --env` is not implemented yet (it needs the state store)");
    }
    let dir = config.migrations_dir();
    let set = source::discover_as(&dir, config.migrations.layout)?;
    for warning in &set.warnings {
        printer.warning(warning);
    }
    let mut problems: Vec<SourceError> = Vec::new();
    let (mut with_down, mut no_transaction) = (0, 0);
    for migration in &set.migrations {
        match migration.load_up() {
            Ok(up) => no_transaction += usize::from(up.settings.no_transaction),
            Err(error) => problems.push(error),
        }
        match migration.load_down() {
            Ok(down) => with_down += usize::from(down.is_some()),
            Err(error) => problems.push(error),
        }
        if let Err(error) = migration.load_verify() {
            problems.push(error);
        }
    }
    for problem in &problems {
        printer.error(&problem.to_string());
    }
    let mut report = String::new();
    let _ = writeln!(
        report,
        "{}: {} layout, {} migrations, {} with down scripts, {} outside a transaction",
        dir.display(),
        set.layout,
        set.migrations.len(),
        with_down,
        no_transaction
    );
    if problems.is_empty() {
        report.push_str("ok\n");
        super::print_report(&report)?;
        Ok(Outcome::Success)
    } else {
        let _ = writeln!(
            report,
            "{} problem(s); nothing can be applied until they are fixed",
            problems.len()
        );
        super::print_report(&report)?;
        Ok(Outcome::Usage)
    }
}
