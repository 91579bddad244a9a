//! `stagegate new <name>`

use std::time::SystemTime;

use crate::cli::NewArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::{self, MigrationSet, SourceError};

pub(super) fn run(config: &Config, args: &NewArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let dir = config.migrations_dir();
    let fallback = args
        .layout
        .or(config.migrations.layout)
        .unwrap_or(source::Layout::Sqlx);
    let set = match source::discover_as(&dir, config.migrations.layout) {
        Ok(set) if set.migrations.is_empty() => MigrationSet {
            layout: fallback,
            ..set
        },
        Ok(set) => {
            if let Some(wanted) = args.layout.filter(|wanted| *wanted != set.layout) {
                anyhow::bail!(
                    "--layout {wanted}, but {} holds {} migrations",
                    dir.display(),
                    set.layout
                );
            }
            set
        }
        Err(SourceError::MissingDir { .. }) => MigrationSet {
            dir: dir.clone(),
            layout: fallback,
            migrations: Vec::new(),
            warnings: Vec::new(),
            ignored: Vec::new(),
            alembic: None,
        },
        Err(error) => return Err(error.into()),
    };
    for warning in &set.warnings {
        printer.warning(warning);
    }
    let down_dir = config.down_dir();
    let created = source::create_new(
        &set,
        &args.name,
        !args.no_down,
        down_dir.as_deref(),
        SystemTime::now(),
    )?;
    let mut report = format!("created {}\n", created.up.display());
    if let Some(down) = created.down.filter(|down| *down != created.up) {
        report.push_str(&format!("created {}\n", down.display()));
    }
    super::print_report(&report)?;
    Ok(Outcome::Success)
}
