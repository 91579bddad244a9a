//! `stagegate verify`: is the migration directory well-formed?

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::git::{ChangedSince, FileChange};
use crate::printer::Printer;
use crate::source::{self, SourceError, Version};

pub fn run(config: &Config, args: &VerifyArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    if !args.envs.is_empty() {
        anyhow::bail!("`stagegate verify --env` is not implemented yet (it needs the state store)");
    }
    let dir = config.migrations_dir();
    let set = source::discover_as(&dir, config.migrations.layout)?;
    // Every entry that was not read as a migration (and is not a file the runners leave
    // there) is a problem: a file of the wrong layout would silently never run.
    let mut messages = skipped_problems(&set, config.migrations.layout, &dir);
    let mut problems: Vec<SourceError> = Vec::new();
    let (mut with_down, mut no_transaction) = (0, 0);
    for migration in &set.migrations {
        match migration.load_up() {
            Ok(up) => {
                no_transaction += usize::from(up.settings.no_transaction);
                // Not written yet (as `stagegate new` leaves it): fine to keep, but apply
                // refuses it.
                if up.is_blank() {
                    printer.warning(&format!(
                        "{}: up script is empty; `migrate apply` refuses it until it is written",
                        up.path.display()
                    ));
                }
            }
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
    messages.extend(problems.iter().map(ToString::to_string));
    if let Some(reference) = &args.against {
        messages.extend(history_problems(&set, &dir, reference)?);
    }
    for message in &messages {
        printer.error(message);
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
    if messages.is_empty() {
        report.push_str("ok\n");
        super::print_report(&report)?;
        Ok(Outcome::Success)
    } else {
        let _ = writeln!(
            report,
            "{} problem(s); nothing can be applied until they are fixed",
            messages.len()
        );
        super::print_report(&report)?;
        Ok(Outcome::Usage)
    }
}

/// At most this many skipped entries are named; the rest are counted.
const SKIPPED_SHOWN: usize = 10;

/// The entries discovery skipped, one message each (the first [`SKIPPED_SHOWN`], then how
/// many more), and, when nothing at all was read, a message saying so with the layout the
/// files look like when it is another one.
fn skipped_problems(
    set: &source::MigrationSet,
    configured: Option<source::Layout>,
    dir: &Path,
) -> Vec<String> {
    let skipped = &set.warnings;
    let mut messages: Vec<String> = skipped.iter().take(SKIPPED_SHOWN).cloned().collect();
    if skipped.len() > SKIPPED_SHOWN {
        messages.push(format!(
            "and {} more skipped entries in {}",
            skipped.len() - SKIPPED_SHOWN,
            dir.display()
        ));
    }
    if set.migrations.is_empty() && !skipped.is_empty() {
        let detected = configured
            .and_then(|_| source::discover_as(dir, None).ok())
            .filter(|other| other.layout != set.layout && !other.migrations.is_empty());
        let hint = match detected {
            Some(other) => format!(
                "; its files look like {} migrations ({} of them): set `layout = \"{}\"` under \
                 [migrations] in stagegate.toml",
                other.layout,
                other.migrations.len(),
                other.layout
            ),
            None => String::new(),
        };
        messages.push(format!(
            "{}: no {} migrations found, but {} entries were skipped{hint}",
            dir.display(),
            set.layout,
            skipped.len()
        ));
    }
    messages
}

/// What changed in the migration history since `reference`: migrations (any of their scripts)
/// that existed there and were edited (line endings aside) or deleted, and migrations added
/// since with a version older than the newest one that existed there (it would run out of
/// order on databases that are already past it).
fn history_problems(
    set: &source::MigrationSet,
    dir: &Path,
    reference: &str,
) -> anyhow::Result<Vec<String>> {
    let changed = ChangedSince::read(reference, &[dir.to_path_buf()])?;
    let mut problems = Vec::new();
    let mut newest_at_ref: Option<&Version> = None;
    for migration in &set.migrations {
        let up = changed.change(&migration.up.path);
        if up != FileChange::Added {
            newest_at_ref = newest_at_ref.max(Some(&migration.version));
        }
        let scripts = std::iter::once(&migration.up)
            .chain(&migration.down)
            .chain(&migration.verify);
        for script in scripts {
            if changed.change(&script.path) == FileChange::Edited {
                problems.push(format!(
                    "{}: existed at `{reference}` and was edited since; applied history is immutable: restore it and put the change in a new migration",
                    script.path.display()
                ));
            }
        }
    }
    if let Some(newest) = newest_at_ref {
        for migration in &set.migrations {
            if changed.change(&migration.up.path) == FileChange::Added
                && &migration.version < newest
            {
                problems.push(format!(
                    "{}: added since `{reference}` with version {}, older than {} which existed there; databases already past {} would run it out of order: give it a newer version",
                    migration.up.path.display(),
                    migration.version,
                    newest,
                    newest
                ));
            }
        }
    }
    let here = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    for path in changed.deleted() {
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let shown = here
            .as_ref()
            .and_then(|here| path.strip_prefix(here).ok())
            .unwrap_or(path);
        problems.push(format!(
            "{}: existed at `{reference}` and was deleted; applied history is immutable: restore it",
            shown.display()
        ));
    }
    Ok(problems)
}
