//! `stagegate lint`: check migrations for hazards, one script in memory at a time.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{LintArgs, LintFormat};
use crate::config::Config;
use crate::exit::Outcome;
use crate::lint::report::{self, JsonFinding, JsonSummary, JsonWriter};
use crate::lint::{self, Counts, Input, Options, RunState};
use crate::printer::Printer;
use crate::source::{self, Script, ScriptRef, Section};

pub fn run(config: &Config, args: &LintArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    if args.changed_since.is_some() {
        anyhow::bail!(
            "`stagegate lint --changed-since` is not implemented yet; name the files or directories to lint instead"
        );
    }
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
    let targets = targets(config, args)
        .iter()
        .map(|path| target(config, path, printer))
        .collect::<anyhow::Result<Vec<_>>>()?;

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
        for script_ref in scripts_of(target, printer, &mut broken) {
            // Only a directory changed since it was checked fails here.
            let script_ref = script_ref?;
            let script = match load(&script_ref) {
                Ok(Some(script)) => script,
                Ok(None) => continue,
                Err(error) => {
                    printer.error(&error.to_string());
                    broken += 1;
                    continue;
                }
            };
            let result = lint::lint_script(Input::of(&script), &options, &mut run);
            if let Some(error) = run.take_error() {
                return Err(anyhow::Error::new(error).context(format!(
                    "linting {}: the run's schema facts spilled to a temporary file could not \
                     be read back",
                    script.path.display()
                )));
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

/// The up scripts of a directory (in version order, one window of names at a time), or the
/// file itself.
fn scripts_of(
    target: Target,
    printer: &Printer,
    broken: &mut usize,
) -> Box<dyn Iterator<Item = Result<ScriptRef, source::SourceError>>> {
    let path = match target {
        // The warnings were printed when the directory was checked.
        Target::Dir(windows) => return Box::new(windows.ups()),
        Target::File(path) => path,
    };
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
    Box::new(std::iter::once(Ok(ScriptRef {
        section: if marker.is_some() {
            Section::DbmateUp
        } else {
            Section::Whole
        },
        layout_no_transaction: marker.is_some_and(|m| m.contains("transaction:false")),
        path,
    })))
}

/// Loads a script; blank scripts have nothing to lint.
fn load(script_ref: &ScriptRef) -> Result<Option<Script>, source::SourceError> {
    let script = script_ref.load()?;
    Ok((!script.is_blank()).then_some(script))
}
