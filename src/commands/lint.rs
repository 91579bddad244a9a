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
use crate::lint::catalog::{Catalog, Source};
use crate::lint::emit::{self, Emitter, FileReport, LintSummary};
use crate::lint::{self, Analysis, Input, Options, RunState};
use crate::printer::Printer;
use crate::scratch::ScratchDb;
use crate::source::{self, ScriptBody, ScriptRef, Version};

pub(super) fn run(config: &Config, args: &LintArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let mut options = options(config, args)?;
    let deny_warnings = args.deny_warnings || config.lint.deny_warnings;
    // Every directory is checked whole before the first line of the report.
    let paths = targets(config, args);
    if args.changed_since.is_some() && paths.iter().any(|p| p == Path::new("-")) {
        anyhow::bail!("lint -: a script read from stdin has no git history for --changed-since");
    }
    let targets = paths
        .iter()
        .map(|path| target(config, path, args.env.as_deref(), printer))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let knowledge = Knowledge::read(config, args, &paths)?;
    let base = report_base(config);
    options.catalog = load_catalog(config, args, &paths, printer)?.map(std::sync::Arc::new);
    // `-`: the one script read from stdin, loaded in place of a file.
    let stdin = targets.iter().find_map(|target| match target {
        LintTarget::Stdin(text) => Some(text.clone()),
        _ => None,
    });

    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let color = args.output.is_none() && printer.color_stdout;
    let mut emitter = emitter(args.format, color);

    let mut run = RunState::default();
    let mut summary = LintSummary::default();
    emitter.begin(&mut out).context("writing the report")?;
    let mut broken = 0usize;
    let workers = args
        .jobs
        .map_or_else(crate::parallel::default_workers, usize::from);
    for target in targets {
        let items = scripts_of(target, printer, &mut broken);
        // Scripts are read and analysed ahead on the workers, a few at a time; the rules
        // run here, in file order, as each script's run state depends on the ones before.
        let prepare = |item| prepare(item, stdin.as_deref(), &base);
        crate::parallel::ordered(items, workers, PARSE_AHEAD * workers, prepare, |prepared| {
            // Only a directory changed since it was checked fails here.
            let PreparedScript {
                script_ref,
                version,
                loaded,
            } = prepared?;
            let (script, analysis, path) = match loaded {
                Ok(Some(loaded)) => loaded,
                Ok(None) => return Ok(()),
                Err(error) => {
                    printer.error(&error.to_string());
                    broken += 1;
                    return Ok(());
                }
            };
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
            let edited_since = match change {
                Some(FileChange::Edited) => knowledge.changed.as_ref().map(|c| c.reference()),
                _ => None,
            };
            let input = Input {
                edited_since,
                ..Input::of_body(&script).unreleased(knowledge.unreleased(version.as_ref(), change))
            };
            let mut result = lint::lint_analyzed(input, &analysis, &options, &mut run);
            if let (Some(version), true) = (&version, script_ref.is_alembic()) {
                name_revision(&mut result.findings, version, &script);
            }
            if let Some(error) = run.take_error() {
                return Err(anyhow::Error::new(error).context(format!(
                    "linting {}: the run's schema facts spilled to a temporary file could not \
                     be read back",
                    script.path.display()
                )));
            }
            if !reported {
                return Ok(());
            }
            summary.files += 1;
            summary.statements += result.statements;
            summary.suppressed += result.suppressed;
            summary.counts.add(&result.findings);
            let file = FileReport {
                path: &path,
                text: &script.text,
                findings: &result.findings,
            };
            emitter.file(&mut out, &file).context("writing the report")
        })?;
    }
    emitter
        .finish(&mut out, &summary)
        .context("writing the report")?;
    out.flush().context("writing the report")?;
    if broken > 0 {
        printer.error(&format!(
            "{broken} migration file(s) could not be read or have bad directives; fix them and lint again"
        ));
        return Ok(Outcome::Usage);
    }
    let failed = summary.counts.errors > 0 || (deny_warnings && summary.counts.warnings > 0);
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

/// The emitter of the format asked for. Without `--format`, text; in GitHub Actions with
/// workflow annotations as well.
fn emitter(format: Option<LintFormat>, color: bool) -> Box<dyn Emitter> {
    match format {
        None | Some(LintFormat::Text) => Box::new(emit::Text {
            color,
            annotations: format.is_none()
                && std::env::var(crate::env_vars::GITHUB_ACTIONS).is_ok_and(|v| v == "true"),
        }),
        Some(LintFormat::Json) => Box::new(emit::Json::default()),
        Some(LintFormat::Sarif) => Box::new(emit::Sarif::default()),
        Some(LintFormat::Github) => Box::new(emit::Github),
        Some(LintFormat::Markdown) => Box::new(emit::Markdown::default()),
        Some(LintFormat::Gitlab) => Box::new(emit::Gitlab::default()),
    }
}

fn options(config: &Config, args: &LintArgs) -> anyhow::Result<Options> {
    let lock_timeout_configured = config.runner_sets_lock_timeout(args.env.as_deref())?;
    let mut options =
        Options::from_config(&config.lint, args.postgres_version, lock_timeout_configured)
            .map_err(|message| anyhow::anyhow!("{message}"))?;
    options
        .select(&args.select, &args.ignore)
        .map_err(|message| anyhow::anyhow!("{message}"))?;
    Ok(options)
}

/// The facts of `--scratch` or else `--env`'s database; `None` without either (plain lint
/// touches no database).
fn load_catalog(
    config: &Config,
    args: &LintArgs,
    paths: &[PathBuf],
    printer: &Printer,
) -> anyhow::Result<Option<Catalog>> {
    let catalog = if let Some(flag) = &args.scratch.url {
        scratch_catalog(config, flag, paths, printer)?
    } else if let Some(name) = &args.env {
        let env = config.environment(name)?;
        crate::db::runtime()?
            .block_on(Catalog::load(&env.url, Source::Env(name.clone())))
            .map_err(crate::exit::execution)?
    } else {
        return Ok(None);
    };
    printer.note(&format!(
        "lint: facts no migration shows are read from the catalog of {} ({} tables)",
        catalog
            .source
            .as_ref()
            .map_or_else(String::new, Source::label),
        catalog.table_count()
    ));
    Ok(Some(catalog))
}

/// Prefix of the scratch databases `lint --scratch` creates.
const NAME_PREFIX: &str = "stagegate_lint_";

/// The catalog of a scratch database holding the migrations of `[migrations] dir` older than
/// the oldest one linted (all of them for a script without a version, such as stdin's).
fn scratch_catalog(
    config: &Config,
    flag: &str,
    paths: &[PathBuf],
    printer: &Printer,
) -> anyhow::Result<Catalog> {
    let layout = config.migrations.layout;
    let dir = config.migrations_dir();
    let set = if dir.is_dir() {
        Some(source::discover_as(&dir, layout)?)
    } else {
        printer.warning(&format!(
            "--scratch: {} is not a directory, so no migrations are applied to the scratch database",
            dir.display()
        ));
        None
    };
    let mut oldest: Option<Version> = None;
    for path in paths {
        let version = if path == Path::new("-") {
            None
        } else if path.is_dir() {
            source::discover_as(path, layout)?
                .migrations
                .first()
                .map(|m| m.version.clone())
        } else {
            source::lone_version(path)
        };
        if let Some(version) = version
            && oldest.as_ref().is_none_or(|o| version < *o)
        {
            oldest = Some(version);
        }
    }
    let earlier = set
        .iter()
        .flat_map(|set| &set.migrations)
        .filter(|m| oldest.as_ref().is_none_or(|o| m.version < *o))
        .map(|m| Ok((m.label(), m.load_up()?)))
        .collect::<Result<Vec<_>, source::SourceError>>()?;
    let server = crate::scratch::ScratchServer::resolve(config, Some(flag), printer)?;
    crate::db::runtime()?.block_on(async {
        let scratch = server.database(NAME_PREFIX).await?;
        printer.note(&format!(
            "lint: applying {} earlier migration(s) to scratch database {} (dropped at the end)",
            earlier.len(),
            scratch.name
        ));
        let by_hand = format!("drop it by hand: DROP DATABASE {}", scratch.name);
        let progress = |line: &str| printer.note(&format!("lint: {line}"));
        let work = async |scratch: &ScratchDb| {
            if let Err(message) = crate::trace::apply_all(scratch, &earlier, &progress).await? {
                return Err(crate::exit::execution(anyhow::anyhow!(
                    "--scratch: the scratch database refused an earlier migration: {message}"
                )));
            }
            Catalog::load(&scratch.url, Source::Scratch)
                .await
                .map_err(crate::exit::execution)
        };
        scratch.run_then_remove(work, &by_hand, printer).await
    })
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
        // Revision ids too: an Alembic revision's canonical version is its id.
        .filter_map(|row| Version::parse_recorded(&row.version_text))
        .map(|version| version_hash(&version))
        .collect())
}

/// The name a script read from stdin (`lint -`) is reported under.
pub(super) const STDIN_NAME: &str = "<stdin>";

/// What to lint: the paths given, or the configured migrations directory.
fn targets(config: &Config, args: &LintArgs) -> Vec<PathBuf> {
    if args.paths.is_empty() {
        vec![config.migrations_dir()]
    } else {
        args.paths.clone()
    }
}

/// A path to lint, checked.
enum LintTarget {
    /// A migrations directory, checked whole, to be read window by window.
    Dir(source::Windows),
    /// A file, linted whatever its name.
    File(PathBuf),
    /// The revisions of an Alembic project, rendered (only `only`'s when a revision file was
    /// named).
    Alembic {
        set: source::MigrationSet,
        only: Option<PathBuf>,
    },
    /// `-`: one script read from stdin. It has no version, so, like a lone file, it counts as
    /// released: a table it creates is new only within it.
    Stdin(String),
}

/// Checks a path given to lint: a directory is read as a migration set and checked whole
/// (its discovery errors come before any output, its warnings are printed once).
fn target(
    config: &Config,
    path: &Path,
    env: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<LintTarget> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .context("reading the script from stdin (lint -)")?;
        let text = String::from_utf8(bytes).map_err(|error| {
            anyhow::anyhow!(
                "{STDIN_NAME}: not UTF-8 (first bad byte at offset {})",
                error.utf8_error().valid_up_to()
            )
        })?;
        return Ok(LintTarget::Stdin(text));
    }
    let alembic_dir = match path.extension() {
        Some(ext) if ext == "py" => path.parent(),
        _ if path.is_dir() => Some(path),
        _ => None,
    };
    let alembic = match alembic_dir {
        Some(dir)
            if matches!(
                config.migrations.layout,
                None | Some(source::Layout::Alembic)
            ) =>
        {
            source::alembic::find_project(dir)?
        }
        _ => None,
    };
    if let Some(project) = alembic {
        let mut set = source::alembic::discover(&project)?;
        for warning in &set.warnings {
            printer.warning(warning);
        }
        let env = match env {
            Some(name) => Some(config.environment(name)?),
            None => None,
        };
        crate::alembic::render_configured(&config.alembic, &config.root, &mut set, env.as_ref())?;
        if let Some(rendering) = set.alembic.as_ref().and_then(|a| a.rendering.as_ref()) {
            printer.detail(&format!(
                "lint: {} revision(s) of {} rendered by {}",
                set.migrations.len(),
                project.ini.display(),
                rendering.tools
            ));
        }
        let only = (!path.is_dir()).then(|| path.to_path_buf());
        return Ok(LintTarget::Alembic { set, only });
    }
    if path.is_dir() {
        let windows = source::scan_windows(path, config.migrations.layout, source::LINT_WINDOW)?;
        let checked = windows.check()?;
        for warning in &checked.warnings {
            printer.warning(warning);
        }
        if checked.migrations == 0 {
            anyhow::bail!(
                "{}: no {} migration in this directory, so nothing was linted; it holds {}. \
                 Point lint at the migrations directory ([migrations] dir and layout in \
                 stagegate.toml), or name a file to lint it whatever its name",
                path.display(),
                windows.layout(),
                what_is_there(path)
            );
        }
        return Ok(LintTarget::Dir(windows));
    }
    if !path.exists() {
        anyhow::bail!(
            "{}: no such file or directory (lint takes files or directories; the default is [migrations] dir)",
            path.display()
        );
    }
    Ok(LintTarget::File(path.to_path_buf()))
}

/// What a directory without migrations holds instead, by kind: "3 `.py` files, 1 directory".
fn what_is_there(dir: &Path) -> String {
    // Directories, then files by extension ("" for none).
    let mut directories = 0usize;
    let mut files: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            directories += 1;
        } else {
            let ext = Path::new(&name)
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default();
            *files.entry(ext).or_default() += 1;
        }
    }
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts: Vec<String> = files
        .into_iter()
        .map(|(ext, n)| {
            if ext.is_empty() {
                plural(n, "file without an extension", "files without an extension")
            } else {
                plural(n, &format!("`.{ext}` file"), &format!("`.{ext}` files"))
            }
        })
        .collect();
    if directories > 0 {
        parts.push(plural(directories, "directory", "directories"));
    }
    if parts.is_empty() {
        "nothing (it is empty)".to_string()
    } else {
        parts.join(", ")
    }
}

/// The directory the reported paths are relative to: the root of the git work tree that
/// holds the configuration's directory, else that directory. Code scanning (SARIF), GitLab's
/// Code Quality widget and workflow annotations expect repository-relative paths.
fn report_base(config: &Config) -> PathBuf {
    let root = config
        .root
        .canonicalize()
        .unwrap_or_else(|_| config.root.clone());
    root.ancestors()
        .find(|dir| dir.join(".git").exists())
        .map_or_else(|| root.clone(), Path::to_path_buf)
}

/// `path` as the report shows it: relative to `base` where it lies inside it, else as given.
fn shown_path(base: &Path, path: &Path) -> String {
    if path == Path::new(STDIN_NAME) {
        return path.display().to_string();
    }
    path.canonicalize()
        .ok()
        .and_then(|absolute| {
            absolute
                .strip_prefix(base)
                .ok()
                .map(|relative| relative.display().to_string())
        })
        .unwrap_or_else(|| path.display().to_string())
}

/// A script with the version of its migration, when it has one.
type VersionedScript = (ScriptRef, Option<Version>);

/// The up scripts of a directory (in version order, one window of names at a time), or the
/// file itself.
fn scripts_of(
    target: LintTarget,
    printer: &Printer,
    broken: &mut usize,
) -> Box<dyn Iterator<Item = Result<VersionedScript, source::SourceError>>> {
    let path = match target {
        // The warnings were printed when the directory was checked.
        LintTarget::Dir(windows) => {
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
        LintTarget::File(path) => path,
        LintTarget::Alembic { set, only } => {
            return Box::new(
                set.migrations
                    .into_iter()
                    .filter(move |m| only.as_ref().is_none_or(|only| same_file(only, &m.up.path)))
                    .map(|m| Ok((m.up, Some(m.version)))),
            );
        }
        LintTarget::Stdin(text) => {
            return Box::new(std::iter::once(Ok((
                source::lone_script(PathBuf::from(STDIN_NAME), &text),
                None,
            ))));
        }
    };
    let version = source::lone_version(&path);
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
    Box::new(std::iter::once(Ok((
        source::lone_script(path, &text),
        version,
    ))))
}

/// Findings in an Alembic revision's rendered SQL: each names the revision, and points at
/// the line of the revision file holding the operation that rendered it.
fn name_revision(findings: &mut [lint::Finding], version: &Version, script: &ScriptBody) {
    let slug = source::alembic::file_slug(&script.path, version.as_str());
    for finding in findings {
        finding.message = format!("revision {version} ({slug}): {}", finding.message);
        if let Some(line) = source::alembic::source_line(&script.text, finding.span.start) {
            finding.line = line;
            finding.end_line = line;
            finding.column = 1;
            finding.end_column = 1;
        }
    }
}

/// True when two paths name the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Scripts read and analysed ahead of the one being linted, per worker thread: enough to
/// keep the workers busy while the rules run, few enough that memory stays flat (a window
/// holds that many scripts' text and statements).
const PARSE_AHEAD: usize = 4;

/// A script read and analysed on a worker thread, ready for the rules.
struct PreparedScript {
    script_ref: ScriptRef,
    version: Option<Version>,
    /// The script, its statements and its path as the report shows it (see [`shown_path`]:
    /// a few system calls, made here rather than on the thread that runs the rules); `None`
    /// for a blank script.
    loaded: Result<Option<(ScriptBody, Analysis, String)>, source::SourceError>,
}

/// Reads and analyses the next script (what needs no run state).
fn prepare(
    item: Result<VersionedScript, source::SourceError>,
    stdin: Option<&str>,
    base: &Path,
) -> Result<PreparedScript, source::SourceError> {
    let (script_ref, version) = item?;
    let loaded = load(&script_ref, stdin).map(|script| {
        script.map(|script| {
            let analysis = Analysis::of(&script.text);
            let shown = shown_path(base, &script.path);
            (script, analysis, shown)
        })
    });
    Ok(PreparedScript {
        script_ref,
        version,
        loaded,
    })
}

/// Loads a script (from the text read from stdin when it is the one named `-`); blank
/// scripts have nothing to lint.
fn load(
    script_ref: &ScriptRef,
    stdin: Option<&str>,
) -> Result<Option<ScriptBody>, source::SourceError> {
    let script = match stdin {
        Some(text) if script_ref.path == Path::new(STDIN_NAME) => {
            script_ref.load_body_from(text)?
        }
        _ => script_ref.load_body()?,
    };
    Ok((!script.is_blank()).then_some(script))
}
