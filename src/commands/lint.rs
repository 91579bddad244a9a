//! `stagegate lint`: check migrations for hazards, one script in memory at a time.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{LintArgs, LintFormat};
use crate::config::Config;
use crate::db::state::{RowStatus, StateStore};
use crate::exit::Outcome;
use crate::git::{ChangedSince, FileChange};
use crate::lint::report::{self, JsonFinding, JsonSummary, JsonWriter};
use crate::lint::{self, Counts, Input, Options, RunState};
use crate::printer::Printer;
use crate::source::{self, Script, ScriptRef, Section, Version};

pub fn run(config: &Config, args: &LintArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let format = args.format;
    if !matches!(format, LintFormat::Text | LintFormat::Json) {
        anyhow::bail!(
            "`stagegate lint --format {}` is not implemented yet (use text or json)",
            format_name(format)
        );
    }
    let options = options(config, args)?;
    let deny_warnings = args.deny_warnings || config.lint.deny_warnings;
    // Every directory is checked whole before the first line of the report.
    let paths = targets(config, args);
    let targets = paths
        .iter()
        .map(|path| target(config, path, printer))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let knowledge = Knowledge::read(config, args, &paths)?;

    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let color = args.output.is_none() && printer.color_stdout;

    let mut run = RunState::default();
    let mut totals = Totals::default();
    let mut json = match format {
        LintFormat::Json => Some(JsonWriter::begin(&mut out).context("writing the report")?),
        _ => None,
    };
    let mut broken = 0usize;
    for target in targets {
        for item in scripts_of(target, printer, &mut broken) {
            // Only a directory changed since it was checked fails here.
            let (script_ref, version) = item?;
            let change = knowledge
                .changed
                .as_ref()
                .map(|c| c.change(&script_ref.path));
            // With --changed-since, the files as they were at the ref are read for what they
            // create, and not reported.
            let reported = !matches!(
                change,
                Some(FileChange::Unchanged | FileChange::LineEndings)
            );
            let script = match load(&script_ref) {
                Ok(Some(script)) => script,
                Ok(None) => continue,
                Err(error) => {
                    printer.error(&error.to_string());
                    broken += 1;
                    continue;
                }
            };
            let edited_since = match change {
                Some(FileChange::Edited) => knowledge.changed.as_ref().map(|c| c.reference()),
                _ => None,
            };
            let input = Input {
                edited_since,
                ..Input::of(&script).unreleased(knowledge.unreleased(version.as_ref(), change))
            };
            let result = lint::lint_script(input, &options, &mut run);
            if let Some(error) = run.take_error() {
                return Err(anyhow::Error::new(error).context(format!(
                    "linting {}: the run's schema facts spilled to a temporary file could not \
                     be read back",
                    script.path.display()
                )));
            }
            if !reported {
                continue;
            }
            let path = script.path.display().to_string();
            totals.files += 1;
            totals.statements += result.statements;
            totals.suppressed += result.suppressed;
            totals.counts.add(&result.findings);
            match &mut json {
                Some(writer) => {
                    for finding in &result.findings {
                        let entry = JsonFinding {
                            path: path.clone(),
                            finding,
                            snippet: report::snippet(&script.text, finding),
                        };
                        writer
                            .finding(&mut out, &entry)
                            .context("writing the report")?;
                    }
                }
                None => {
                    let text = report::render_text(&path, &script.text, &result.findings, color);
                    out.write_all(text.as_bytes())
                        .context("writing the report")?;
                }
            }
        }
    }
    match json {
        Some(writer) => {
            let summary = JsonSummary {
                files: totals.files,
                statements: totals.statements,
                errors: totals.counts.errors,
                warnings: totals.counts.warnings,
                infos: totals.counts.infos,
                suppressed: totals.suppressed,
            };
            writer
                .finish(&mut out, &summary)
                .context("writing the report")?;
        }
        None => {
            let summary = report::text_summary(
                totals.counts,
                totals.files,
                totals.statements,
                totals.suppressed,
            );
            out.write_all(summary.as_bytes())
                .context("writing the report")?;
        }
    }
    out.flush().context("writing the report")?;
    if broken > 0 {
        printer.error(&format!(
            "{broken} migration file(s) could not be read or have bad directives; fix them and lint again"
        ));
        return Ok(Outcome::Usage);
    }
    let failed = totals.counts.errors > 0 || (deny_warnings && totals.counts.warnings > 0);
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

#[derive(Default)]
struct Totals {
    files: usize,
    statements: usize,
    suppressed: usize,
    counts: Counts,
}

fn format_name(format: LintFormat) -> &'static str {
    match format {
        LintFormat::Text => "text",
        LintFormat::Json => "json",
        LintFormat::Sarif => "sarif",
        LintFormat::Github => "github",
        LintFormat::Markdown => "markdown",
    }
}

fn options(config: &Config, args: &LintArgs) -> anyhow::Result<Options> {
    let lock_timeout_configured = match &args.env {
        Some(env) => config.environment_lock_timeout(env)?.is_some(),
        None => false,
    };
    Options::from_config(&config.lint, args.postgres_version, lock_timeout_configured)
        .map_err(|message| anyhow::anyhow!("{message}"))
}

/// What the run knows about which migrations are released. A migration is known to be
/// unreleased only when every source given says so (one that has run on the `--env`, or that
/// existed at the `--changed-since` ref, may hold rows and readers by now); without any
/// source, every migration counts as released.
#[derive(Debug, Default)]
struct Knowledge {
    /// `[lint] released`: migrations up to this version are released.
    released: Option<Version>,
    /// `--env`: hashes of the canonical versions that have run there.
    applied: Option<HashSet<u64>>,
    /// `--changed-since`: the files that differ from the ref.
    changed: Option<ChangedSince>,
}

impl Knowledge {
    fn read(config: &Config, args: &LintArgs, paths: &[PathBuf]) -> anyhow::Result<Knowledge> {
        let released = match &config.lint.released {
            Some(text) => Some(Version::parse(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "[lint] released = `{text}`: not a migration version (digits, as in the file names)"
                )
            })?),
            None => None,
        };
        let applied = match &args.env {
            Some(name) => Some(applied_versions(config, name)?),
            None => None,
        };
        let changed = match &args.changed_since {
            Some(reference) => Some(ChangedSince::read(reference, paths)?),
            None => None,
        };
        Ok(Knowledge {
            released,
            applied,
            changed,
        })
    }

    /// The migration of this version (if it has one) and git change is known to be unreleased.
    fn unreleased(&self, version: Option<&Version>, change: Option<FileChange>) -> bool {
        let mut known = false;
        if let Some(released) = &self.released {
            match version {
                Some(version) if version > released => known = true,
                _ => return false,
            }
        }
        if let Some(applied) = &self.applied {
            match version {
                Some(version) if !applied.contains(&version_hash(version)) => known = true,
                _ => return false,
            }
        }
        if let Some(change) = change {
            if change != FileChange::Added {
                return false;
            }
            known = true;
        }
        known
    }
}

fn version_hash(version: &Version) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    version.canonical().hash(&mut hasher);
    hasher.finish()
}

/// The versions that have run on the environment (applied, or failed or interrupted part way
/// without a rollback), read live from its state with read-only queries.
fn applied_versions(config: &Config, name: &str) -> anyhow::Result<HashSet<u64>> {
    let env = config.environment(name)?;
    let rows = crate::db::runtime()?
        .block_on(async {
            let mut store = StateStore::connect(&env.url).await?;
            let rows = store.migrations().await;
            store.close().await;
            rows
        })
        .with_context(|| format!("reading which migrations have run on `{name}` (--env)"))?;
    Ok(rows
        .iter()
        .filter(|row| !(row.status == RowStatus::Failed && row.rolled_back))
        .filter_map(|row| Version::parse(&row.version_text))
        .map(|version| version_hash(&version))
        .collect())
}

/// What to lint: the paths given, or the configured migrations directory.
fn targets(config: &Config, args: &LintArgs) -> Vec<PathBuf> {
    if args.paths.is_empty() {
        vec![config.migrations_dir()]
    } else {
        args.paths.clone()
    }
}

/// A path to lint, checked.
enum Target {
    /// A migrations directory, checked whole, to be read window by window.
    Dir(source::Windows),
    /// A file, linted whatever its name.
    File(PathBuf),
}

/// Checks a path given to lint: a directory is read as a migration set and checked whole
/// (its discovery errors come before any output, its warnings are printed once).
fn target(config: &Config, path: &Path, printer: &Printer) -> anyhow::Result<Target> {
    if path.is_dir() {
        let windows = source::scan_windows(path, config.migrations.layout, source::LINT_WINDOW)?;
        let checked = windows.check()?;
        for warning in &checked.warnings {
            printer.warning(warning);
        }
        return Ok(Target::Dir(windows));
    }
    if !path.exists() {
        anyhow::bail!(
            "{}: no such file or directory (lint takes files or directories; the default is [migrations] dir)",
            path.display()
        );
    }
    Ok(Target::File(path.to_path_buf()))
}

/// A script with the version of its migration, when it has one.
type Versioned = (ScriptRef, Option<Version>);

/// The up scripts of a directory (in version order, one window of names at a time), or the
/// file itself.
fn scripts_of(
    target: Target,
    printer: &Printer,
    broken: &mut usize,
) -> Box<dyn Iterator<Item = Result<Versioned, source::SourceError>>> {
    let path = match target {
        // The warnings were printed when the directory was checked.
        Target::Dir(windows) => {
            return Box::new(windows.flat_map(|window| -> Box<dyn Iterator<Item = _>> {
                match window {
                    Ok(listing) => Box::new((0..listing.len()).map(move |index| {
                        let migration = listing.migration(index);
                        Ok((migration.up, Some(migration.version)))
                    })),
                    Err(error) => Box::new(std::iter::once(Err(error))),
                }
            }));
        }
        Target::File(path) => path,
    };
    let version = file_version(&path);
    // A file named on the command line is linted whatever its name; a dbmate file is read
    // for its up section.
    let text = match source::read_text(&path) {
        Ok(text) => text,
        Err(error) => {
            printer.error(&error.to_string());
            *broken += 1;
            return Box::new(std::iter::empty());
        }
    };
    let marker = text
        .lines()
        .find(|line| line.trim_start().starts_with("-- migrate:up"));
    Box::new(std::iter::once(Ok((
        ScriptRef {
            section: if marker.is_some() {
                Section::DbmateUp
            } else {
                Section::Whole
            },
            layout_no_transaction: marker.is_some_and(|m| m.contains("transaction:false")),
            path,
        },
        version,
    ))))
}

/// The version a lone file's name starts with (`20240101000000_x.up.sql`, `V3__x.sql`), or,
/// for a diesel `up.sql`, its directory's.
fn file_version(path: &Path) -> Option<Version> {
    let name = path.file_name()?.to_str()?;
    let name = if name == "up.sql" {
        path.parent()?.file_name()?.to_str()?
    } else {
        name
    };
    let name = name.strip_prefix('V').unwrap_or(name);
    let digits = name.split("__").next()?;
    let digits = if name.contains("__") {
        digits
    } else {
        digits.split('_').next()?
    };
    Version::parse(digits)
}

/// Loads a script; blank scripts have nothing to lint.
fn load(script_ref: &ScriptRef) -> Result<Option<Script>, source::SourceError> {
    let script = script_ref.load()?;
    Ok((!script.is_blank()).then_some(script))
}
