//! `stagegate trace`: the locks, rewrites and durations of migrations, statement by
//! statement, on a scratch database.

use std::path::{Path, PathBuf};

use crate::cli::{TraceArgs, TraceFormat};
use crate::config::Config;
use crate::db;
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::scratch::ScratchDb;
use crate::source::{self, MigrationSet};
use crate::trace::{self, Planned, report};

/// Prefix of the scratch databases `trace` creates.
const NAME_PREFIX: &str = "stagegate_trace_";

pub(super) fn run(config: &Config, args: &TraceArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let (mut set, traced) = targets(config, &args.paths)?;
    for warning in &set.warnings {
        printer.warning(warning);
    }
    // An Alembic project's revisions are traced as Alembic renders them, as apply runs them.
    crate::alembic::render_configured(&config.alembic, &config.root, &mut set, None)?;
    let planned = set
        .migrations
        .iter()
        .map(|migration| {
            Ok(Planned {
                up: migration.load_up()?,
                traced: traced.contains(&migration.up.path),
                migration: migration.clone(),
            })
        })
        .collect::<Result<Vec<_>, source::SourceError>>()?;
    if !planned.iter().any(|p| p.traced) {
        anyhow::bail!("no migrations to trace in {}", set.dir.display());
    }
    let server =
        crate::scratch::ScratchServer::resolve(config, args.scratch.url.as_deref(), printer)?;
    let report = db::runtime()?.block_on(async {
        let scratch = server.database(NAME_PREFIX).await?;
        printer.note(&format!(
            "trace: {} migration(s) of {}, on scratch database {} (dropped at the end)",
            planned.iter().filter(|p| p.traced).count(),
            set.dir.display(),
            scratch.name
        ));
        let progress = |line: &str| printer.note(line);
        let by_hand = format!(
            "drop it by hand: DROP DATABASE {0}; DROP DATABASE IF EXISTS {0}_saved",
            scratch.name
        );
        let traced = async |scratch: &ScratchDb| trace::trace(scratch, &planned, &progress).await;
        scratch.run_then_remove(traced, &by_hand, printer).await
    })?;
    match args.format {
        TraceFormat::Text => super::print_report(&report::text(&report))?,
        TraceFormat::Json => super::print_document(&report::json(&report))?,
        TraceFormat::Markdown => super::print_report(&report::markdown(&report))?,
    }
    Ok(if report.failed() {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

/// The migration set and the up scripts to trace. Every path must lie in one migrations
/// directory: a directory is traced whole, a file must be the up script of one of its
/// migrations.
fn targets(config: &Config, paths: &[PathBuf]) -> anyhow::Result<(MigrationSet, Vec<PathBuf>)> {
    let layout = config.migrations.layout;
    if paths.is_empty() {
        let set = source::discover_as(&config.migrations_dir(), layout)?;
        let all = set.migrations.iter().map(|m| m.up.path.clone()).collect();
        return Ok((set, all));
    }
    let mut found: Option<(MigrationSet, PathBuf)> = None;
    let mut traced = Vec::new();
    for path in paths {
        let (dir, file) = if path.is_dir() {
            (path.clone(), None)
        } else if path.is_file() {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            (parent.to_path_buf(), Some(path))
        } else {
            anyhow::bail!("{}: no such file or directory", path.display());
        };
        let canonical = dir
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let set = match &found {
            Some((set, seen)) if *seen == canonical => set,
            Some((set, _)) => anyhow::bail!(
                "{}: not in {}; trace migrations of one directory at a time",
                path.display(),
                set.dir.display()
            ),
            None => {
                let set = source::discover_as(&dir, layout)?;
                &found.insert((set, canonical)).0
            }
        };
        match file {
            None => traced.extend(set.migrations.iter().map(|m| m.up.path.clone())),
            Some(file) => {
                let file_canonical = file.canonicalize()?;
                let migration = set
                    .migrations
                    .iter()
                    .find(|m| {
                        m.up.path
                            .canonicalize()
                            .is_ok_and(|up| up == file_canonical)
                    })
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{}: not the up script of a migration in {}",
                            file.display(),
                            set.dir.display()
                        )
                    })?;
                traced.push(migration.up.path.clone());
            }
        }
    }
    let (set, _) = found.expect("at least one path");
    Ok((set, traced))
}
