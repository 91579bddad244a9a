//! `stagegate verify`: is the migration directory well-formed?

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::git::{ChangedSince, FileChange};
use crate::printer::Printer;
use crate::source::{self, SourceError, Version};

pub(super) fn run(
    config: &Config,
    args: &VerifyArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let dir = config.migrations_dir();
    let mut set = config.discover()?;
    // Every entry that was not read as a migration (and is not a file the runners leave
    // there) is a problem: a file of the wrong layout would silently never run. (An Alembic
    // graph with two heads is among them.)
    let mut messages = skipped_problems(&set, config.migrations.layout, &dir);
    // Entries the runner ignores too are no problem: they never ran with it either.
    for ignored in &set.ignored {
        printer.warning(&ignored.warning);
    }
    // An Alembic project's revisions are rendered, as apply would: one that cannot be is a
    // problem, and then no script can be read.
    let rendered =
        match crate::alembic::render_configured(&config.alembic, &config.root, &mut set, None) {
            Ok(()) => true,
            Err(error) => {
                messages.push(crate::exit::message(&error));
                false
            }
        };
    let mut problems: Vec<SourceError> = Vec::new();
    let (mut with_down, mut no_transaction) = (0, 0);
    for migration in set.migrations.iter().filter(|_| rendered) {
        match migration.load_up() {
            Ok(up) => {
                no_transaction += usize::from(up.settings.no_transaction);
                // Not written yet (as `stagegate new` leaves it): fine to keep, but apply
                // refuses it.
                if up.is_blank() && up.rendered_checksum.is_none() {
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
    let mut unreachable = Vec::new();
    if !args.envs.is_empty() && problems.is_empty() {
        let local = crate::deploy::load_local(&set)?;
        for (env, checked) in recorded_problems(config, &args.envs, &local, printer)? {
            match checked {
                Ok(found) => messages.extend(found),
                Err(error) => unreachable.push(format!("{env}: {error}")),
            }
        }
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
    for environment in &args.envs {
        if !unreachable
            .iter()
            .any(|u| u.starts_with(&format!("{environment}: ")))
        {
            let _ = writeln!(report, "{environment}: recorded checksums compared");
        }
    }
    if messages.is_empty() && unreachable.is_empty() {
        report.push_str("ok\n");
        super::print_report(&report)?;
        Ok(Outcome::Success)
    } else if messages.is_empty() {
        for error in &unreachable {
            printer.error(error);
        }
        super::print_report(&report)?;
        Ok(Outcome::Execution)
    } else {
        for error in &unreachable {
            printer.error(error);
        }
        let _ = writeln!(
            report,
            "{} problem(s); nothing can be applied until they are fixed",
            messages.len()
        );
        super::print_report(&report)?;
        Ok(Outcome::Usage)
    }
}

/// An environment's problems, or why it could not be read.
type EnvProblems = Result<Vec<String>, String>;

/// Per environment, what its record says against the files: a migration applied there whose
/// file changed since (the checksum differs), one applied there whose file is gone, one whose
/// last attempt failed part way. An environment that cannot be read gives its error instead.
fn recorded_problems(
    config: &Config,
    names: &[String],
    local: &[crate::deploy::LocalMigration],
    printer: &Printer,
) -> anyhow::Result<Vec<(String, EnvProblems)>> {
    use crate::deploy::State;
    let mut targets = Vec::new();
    for name in names {
        // A missing variable or an unknown environment is a configuration error (exit 2).
        let env = config.environment(name)?;
        printer.detail(&format!("{name}: reading {}", env.url.redacted()));
        targets.push((name.clone(), env.url));
    }
    let runtime = crate::db::runtime()?;
    let mut out = Vec::new();
    for (name, url) in targets {
        let rows = runtime.block_on(async {
            let mut store = crate::db::state::StateStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = store.migrations().await.map_err(|e| e.to_string());
            store.close().await;
            rows
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                out.push((name, Err(error)));
                continue;
            }
        };
        let mut found = Vec::new();
        for entry in crate::deploy::compare(local, rows) {
            let recorded = entry
                .row
                .as_ref()
                .map(|r| super::table::short_hash(&r.checksum))
                .unwrap_or_default();
            match (entry.state, &entry.local) {
                (State::ChecksumMismatch, Some(file)) => found.push(format!(
                    "{}: applied on {name} with checksum {recorded}, the file now has {}; \
                     applied history is immutable: restore the file and put the change in a \
                     new migration",
                    file.up.path.display(),
                    super::table::short_hash(file.up.checksum.as_str()),
                )),
                (State::MissingLocally, _) => found.push(format!(
                    "{}: applied on {name} (checksum {recorded}) but no file of that version \
                     is in {}: restore it",
                    entry.label(),
                    config.migrations_dir().display()
                )),
                (State::Failed | State::Interrupted, _) => printer.warning(&format!(
                    "{}: its last run on {name} stopped part way; `migrate apply` refuses to go \
                     on until it is resolved (`stagegate migrate resolve --env {name} ...`)",
                    entry.label()
                )),
                _ => {}
            }
        }
        out.push((name, Ok(found)));
    }
    Ok(out)
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
    let ignored: std::collections::HashSet<&str> =
        set.ignored.iter().map(|i| i.warning.as_str()).collect();
    let skipped: Vec<&String> = set
        .warnings
        .iter()
        .filter(|warning| !ignored.contains(warning.as_str()))
        .collect();
    let mut messages: Vec<String> = skipped
        .iter()
        .take(SKIPPED_SHOWN)
        .map(|warning| (*warning).clone())
        .collect();
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
