//! Rendering an Alembic project's revisions: the SQL of every revision's `upgrade()` and
//! `downgrade()` as Alembic writes it offline (`--sql`), from one run of the project's own
//! Python with a small driver script shipped in the binary ([`DRIVER`]).
//!
//! The revision graph is read from the files ([`crate::source::alembic`]); this module only
//! runs Alembic, with a time limit, and fills each revision's scripts with what it rendered.
//! The child gets the environment's connection settings (libpq's variables, the password in
//! a passfile only it can read) and, in the variable the project's `env.py` reads its URL
//! from, the environment's URL without its password (offline mode never connects: the URL
//! only picks the dialect); without an environment, a placeholder URL of PostgreSQL's dialect.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::source::alembic::{AlembicSet, Bookkeeping, Rendering};
use crate::source::{MigrationSet, SourceError};
use crate::sql::quote_ident;
use crate::target::child::ChildEnv;

/// The driver, run with `python -c` from the directory of `alembic.ini`.
pub(crate) const DRIVER: &str = include_str!("driver.py");

/// The URL given to `env.py` when no environment is involved (lint, verify, trace).
pub(crate) const PLACEHOLDER_URL: &str = "postgresql://stagegate@localhost:5432/stagegate";

/// How long rendering may take by default.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How to run Alembic.
pub(crate) struct RenderOptions<'a> {
    /// The Python with Alembic installed (the project's virtual environment's).
    pub python: PathBuf,
    /// The variable `env.py` reads the database URL from, if it reads one.
    pub url_env: Option<String>,
    /// The URL to give it: the environment's (without password), or [`PLACEHOLDER_URL`].
    pub url: String,
    /// The environment's libpq settings, when one is involved.
    pub child_env: Option<&'a ChildEnv>,
    pub timeout: Duration,
}

/// Why the revisions could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot run {python} to render the Alembic revisions: {source} (set [alembic] python in stagegate.toml to the Python that has Alembic installed)", python = python.display())]
    Start {
        python: PathBuf,
        source: std::io::Error,
    },
    #[error("rendering the Alembic revisions with {python} took longer than {secs}s and was stopped (set [alembic] timeout)", python = python.display(), secs = timeout.as_secs())]
    Timeout { python: PathBuf, timeout: Duration },
    #[error("rendering the Alembic revisions with {python} failed (exit {code}):\n{stderr}", python = python.display())]
    Failed {
        python: PathBuf,
        code: String,
        stderr: String,
    },
    #[error("Alembic could not render the revisions offline: {message}\n{stderr}")]
    Alembic { message: String, stderr: String },
    #[error(
        "{} revision(s) cannot be rendered offline (Alembic's --sql mode runs no query: a \
         revision that reads the database must be split, or its data step written as SQL):{}",
        failures.len(),
        failures.iter().map(|f| format!("\n  - {f}")).collect::<String>()
    )]
    Revisions { failures: Vec<String> },
    #[error("Alembic rendered no SQL for revision {id} ({}); is it in the versions directory Alembic reads?", path.display())]
    Missing { id: String, path: PathBuf },
    #[error("{0}")]
    Io(String),
}

impl From<RenderError> for SourceError {
    fn from(error: RenderError) -> SourceError {
        SourceError::Alembic {
            path: PathBuf::new(),
            message: error.to_string(),
        }
    }
}

/// What the driver writes.
#[derive(Debug, Deserialize)]
struct Output {
    alembic: String,
    sqlalchemy: String,
    version_table: Option<String>,
    version_table_schema: Option<String>,
    revisions: BTreeMap<String, Rendered>,
    failure: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Rendered {
    upgrade: Option<String>,
    downgrade: Option<String>,
    upgrade_autocommit: bool,
    downgrade_autocommit: bool,
    upgrade_error: Option<String>,
    downgrade_error: Option<String>,
}

/// Renders every revision of an Alembic set and fills its scripts; sets that are not
/// Alembic's are left as they are.
pub(crate) fn render(set: &mut MigrationSet, options: &RenderOptions) -> Result<(), RenderError> {
    let Some(alembic) = set.alembic.clone() else {
        return Ok(());
    };
    if alembic.rendering.is_some() {
        return Ok(());
    }
    let output = run(&alembic.project.ini, options)?;
    let (stderr, output) = output;
    if let Some(failure) = output.failure {
        return Err(RenderError::Alembic {
            message: failure,
            stderr: tail(&stderr),
        });
    }
    let mut failures = Vec::new();
    for migration in &mut set.migrations {
        let id = migration.version.as_str().to_string();
        let Some(rendered) = output.revisions.get(&id) else {
            return Err(RenderError::Missing {
                id,
                path: migration.up.path.clone(),
            });
        };
        if let Some(error) = &rendered.upgrade_error {
            failures.push(format!(
                "{id} ({}): upgrade(): {error}",
                migration.up.path.display()
            ));
            continue;
        }
        migration.up.rendered = rendered.upgrade.as_deref().map(Arc::from);
        migration.up.layout_no_transaction = rendered.upgrade_autocommit;
        match (&rendered.downgrade_error, &mut migration.down) {
            (Some(error), _) => {
                migration.down_error = Some(error.clone());
                migration.down = None;
            }
            (None, Some(down)) => {
                down.rendered = rendered.downgrade.as_deref().map(Arc::from);
                down.layout_no_transaction = rendered.downgrade_autocommit;
            }
            (None, None) => {}
        }
    }
    if !failures.is_empty() {
        return Err(RenderError::Revisions { failures });
    }
    let table = output
        .version_table
        .unwrap_or_else(|| "alembic_version".to_string());
    let version_table = match output.version_table_schema {
        Some(schema) => format!("{}.{}", quote_ident(&schema), quote_ident(&table)),
        None => quote_ident(&table),
    };
    let tools = format!(
        "alembic {}, SQLAlchemy {}",
        output.alembic, output.sqlalchemy
    );
    for migration in &mut set.migrations {
        migration.bookkeeping = Some(Arc::new(Bookkeeping::of(
            &alembic.graph,
            migration.version.as_str(),
            &version_table,
            &tools,
        )));
    }
    set.alembic = Some(Arc::new(AlembicSet {
        project: alembic.project.clone(),
        graph: alembic.graph.clone(),
        rendering: Some(Rendering { tools }),
    }));
    Ok(())
}

/// The last lines of the child's stderr, for an error message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines.len().saturating_sub(20);
    lines[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the driver; its stderr and its output.
fn run(ini: &Path, options: &RenderOptions) -> Result<(String, Output), RenderError> {
    let io = |what: &str, error: std::io::Error| RenderError::Io(format!("{what}: {error}"));
    let out_dir = tempfile::tempdir().map_err(|e| io("creating a temporary directory", e))?;
    let out_path = out_dir.path().join("rendered.json");
    let ini = ini.canonicalize().unwrap_or_else(|_| ini.to_path_buf());
    let dir = ini
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut command = std::process::Command::new(&options.python);
    command
        .arg("-c")
        .arg(DRIVER)
        .arg(&ini)
        .arg(&out_path)
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(env) = options.child_env {
        env.apply(&mut command);
    }
    if let Some(name) = &options.url_env {
        command.env(name, &options.url);
    }
    // For an env.py that reads alembic.ini's sqlalchemy.url instead (the driver sets it when
    // the ini's is not PostgreSQL's).
    command.env("STAGEGATE_ALEMBIC_URL", &options.url);
    let mut child = command.spawn().map_err(|source| RenderError::Start {
        python: options.python.clone(),
        source,
    })?;
    let mut stderr_pipe = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > options.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RenderError::Timeout {
                    python: options.python.clone(),
                    timeout: options.timeout,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return Err(io("waiting for the renderer", error)),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(RenderError::Failed {
            python: options.python.clone(),
            code: status
                .code()
                .map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
            stderr: tail(&stderr),
        });
    }
    let text =
        std::fs::read_to_string(&out_path).map_err(|e| io("reading what Alembic rendered", e))?;
    let output: Output = serde_json::from_str(&text)
        .map_err(|e| RenderError::Io(format!("reading what Alembic rendered: {e}")))?;
    Ok((stderr, output))
}

/// Renders an Alembic set for `env` (its URL and connection settings), or for no
/// environment (a placeholder URL), with the `[alembic]` settings of `config`. Sets of other
/// layouts are left as they are.
pub(crate) fn render_configured(
    config: &crate::config::AlembicConfig,
    root: &Path,
    set: &mut MigrationSet,
    env: Option<&crate::config::Environment>,
) -> anyhow::Result<()> {
    if set.alembic.is_none() {
        return Ok(());
    }
    let (url, child_env) = match env {
        Some(env) => {
            let target = env.url.target()?;
            (
                target.url_without_password(),
                Some(target.child_env("stagegate-alembic")?),
            )
        }
        None => (PLACEHOLDER_URL.to_string(), None),
    };
    let options = RenderOptions {
        python: config.python(root),
        url_env: config.url_env.clone(),
        url,
        child_env: child_env.as_ref(),
        timeout: config.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
    };
    render(set, &options).map_err(|error| match error {
        // The program failed: exit 4; what Alembic said about the project: exit 2.
        RenderError::Start { .. }
        | RenderError::Timeout { .. }
        | RenderError::Failed { .. }
        | RenderError::Io(_) => crate::exit::execution(error),
        _ => anyhow::Error::new(error),
    })
}
