//! `stagegate init`

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::InitArgs;
use crate::config::CONFIG_FILE;
use crate::exit::Outcome;
use crate::source::Layout;

/// The commented example configuration, shipped inside the binary.
const EXAMPLE: &str = include_str!("../../stagegate.toml.example");

const GITATTRIBUTES_LINE: &str = "*.sql text eol=lf";

pub(super) fn run(args: &InitArgs, printer: &crate::printer::Printer) -> anyhow::Result<Outcome> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let report = init(&cwd, args, &mut |line| printer.note(line))?;
    super::print_report(&report)?;
    Ok(Outcome::Success)
}

/// Where migration runners keep their migrations by default, relative to the project root
/// (diesel.toml's `[migrations_directory] dir` is read first).
const RUNNER_DIRS: [&str; 6] = [
    "migrations",                      // sqlx, diesel, golang-migrate
    SUPABASE_DIR,                      // the Supabase CLI
    "db/migrations",                   // dbmate
    "db/migration",                    // Flyway (a filesystem location)
    "src/main/resources/db/migration", // Flyway (classpath:db/migration)
    "sql",                             // Flyway command line
];

/// The Supabase CLI's migrations: `<timestamp>_<name>.sql`, every one applied by `supabase db
/// push`, so down scripts go to [`SUPABASE_DOWN_DIR`] instead.
const SUPABASE_DIR: &str = "supabase/migrations";
const SUPABASE_DOWN_DIR: &str = "supabase/down";

/// An existing migrations directory and its layout, found under `root`.
struct Found {
    dir: String,
    layout: Layout,
    count: usize,
    why: String,
}

/// The first directory a runner would use that holds migrations stagegate can read. A
/// directory of `.sql` files without versions (applied by hand with psql) is named, with the
/// commands that give them versions, in `unversioned`.
fn detect(
    root: &Path,
    note: &mut dyn FnMut(&str),
    unversioned: &mut Option<String>,
) -> Option<Found> {
    let mut candidates: Vec<(String, String)> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(root.join("diesel.toml"))
        && let Ok(value) = text.parse::<toml::Table>()
        && let Some(dir) = value
            .get("migrations_directory")
            .and_then(|m| m.get("dir"))
            .and_then(|d| d.as_str())
    {
        candidates.push((
            dir.trim_end_matches('/').to_string(),
            "diesel.toml's [migrations_directory] dir".to_string(),
        ));
    }
    // An Alembic project: alembic.ini here or in a directory of its own (backend/, ...).
    if root.join(crate::source::alembic::INI_FILE).is_file() {
        candidates.push((".".to_string(), "alembic.ini".to_string()));
    }
    let mut subdirs: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(crate::source::alembic::INI_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| !name.starts_with('.'))
        .collect();
    subdirs.sort();
    for dir in subdirs {
        candidates.push((dir, "alembic.ini".to_string()));
    }
    for dir in RUNNER_DIRS {
        candidates.push((dir.to_string(), "a runner's default place".to_string()));
    }
    for (dir, why) in candidates {
        let path = root.join(&dir);
        if !path.is_dir() {
            continue;
        }
        match crate::source::discover(&path) {
            Ok(set) if !set.migrations.is_empty() => {
                return Some(Found {
                    dir,
                    layout: set.layout,
                    count: set.migrations.len(),
                    why,
                });
            }
            Ok(_) => {
                if unversioned.is_none() {
                    let files = unversioned_files(root, &dir);
                    if !files.is_empty() {
                        note(&renumber_advice(root, &dir, &files));
                        *unversioned = Some(dir);
                    }
                }
            }
            Err(error) => note(&format!("{dir}/ not used: {error}")),
        }
    }
    None
}

/// The `.sql` files directly in `root/dir` (none of them a migration stagegate can read), in
/// the order they were added to git (by name where git does not say).
fn unversioned_files(root: &Path, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        // A name with control characters is not printed into a command to paste.
        .filter(|name| {
            name.ends_with(".sql") && !name.starts_with('.') && !name.chars().any(char::is_control)
        })
        .collect();
    names.sort();
    let added = |name: &str| -> Option<i64> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["log", "--diff-filter=A", "--format=%at", "--reverse", "--"])
            .arg(Path::new(dir).join(name))
            .output()
            .ok()?;
        String::from_utf8(out.stdout)
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    };
    let mut keyed: Vec<(i64, String)> = names
        .into_iter()
        .map(|name| (added(&name).unwrap_or(i64::MAX), name))
        .collect();
    // Stable: files added in one commit keep their name order.
    keyed.sort_by_key(|(at, _)| *at);
    keyed.into_iter().map(|(_, name)| name).collect()
}

/// What init says of a directory of `.sql` files without versions: the `git mv` (or `mv`)
/// commands that give them versions in `files`' order, and the baseline that follows.
fn renumber_advice(root: &Path, dir: &str, files: &[String]) -> String {
    let in_git = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mv = if in_git { "git mv" } else { "mv" };
    let width = files.len().to_string().len().max(4);
    let mut text = format!(
        "{dir}/ holds {} .sql file(s) without a version, which stagegate cannot order (it reads \
         <version>_<name>.sql). To give them versions in the order they were {} ({}):",
        files.len(),
        if in_git { "added to git" } else { "named" },
        if in_git {
            "git keeps their history"
        } else {
            "not a git repository"
        }
    );
    for (index, name) in files.iter().enumerate() {
        let stem = name.strip_suffix(".sql").unwrap_or(name);
        let new = format!("{:0width$}_{stem}.sql", index + 1);
        text.push_str(&format!(
            "\n  {mv} {} {}",
            shell_quote(&format!("{dir}/{name}")),
            shell_quote(&format!("{dir}/{new}"))
        ));
    }
    text.push_str(&format!(
        "\nthen, on each database where they were applied by hand, record them as applied: \
         `stagegate migrate baseline --env <name> --to {} --reason \"applied by hand\"`",
        files.len()
    ));
    text
}

/// `text` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/+=:,@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Creates stagegate.toml, the migrations directory and .gitattributes under `root`. Without
/// `--dir` or `--layout`, an existing migrations directory and its layout are used, and `note`
/// says what was found and why.
pub(super) fn init(
    root: &Path,
    args: &InitArgs,
    note: &mut dyn FnMut(&str),
) -> anyhow::Result<String> {
    let config_path = root.join(CONFIG_FILE);
    if config_path.exists() {
        anyhow::bail!("{} already exists; edit it instead", config_path.display());
    }
    let mut unversioned = None;
    let found = match (&args.dir, args.layout) {
        (Some(_), Some(_)) => None,
        (Some(dir), None) => {
            let path = root.join(dir);
            match crate::source::discover(&path) {
                Ok(set) if !set.migrations.is_empty() => Some(Found {
                    dir: dir.to_string_lossy().into_owned(),
                    layout: set.layout,
                    count: set.migrations.len(),
                    why: "--dir".to_string(),
                }),
                _ => None,
            }
        }
        (None, _) => detect(root, note, &mut unversioned),
    };
    if let Some(found) = &found
        && found.layout != Layout::Alembic
    {
        note(&format!(
            "found {} migration(s) in {}/ ({}), {} layout (from their file names){}",
            found.count,
            found.dir,
            found.why,
            found.layout,
            match args.layout {
                Some(layout) if layout != found.layout => format!("; --layout {layout} is used"),
                _ => String::new(),
            }
        ));
    }
    let dir_path = match (&args.dir, &found) {
        (Some(dir), _) => dir.clone(),
        (None, Some(found)) => found.dir.clone().into(),
        (None, None) => unversioned
            .clone()
            .unwrap_or_else(|| "migrations".to_string())
            .into(),
    };
    let layout = args
        .layout
        .or(found.as_ref().map(|f| f.layout))
        .unwrap_or(Layout::Sqlx);
    let dir = dir_path.to_string_lossy().replace('\\', "/");
    let mut config = config_text(&dir, layout.name());
    let supabase = dir.trim_end_matches('/') == SUPABASE_DIR;
    if supabase {
        config = config.replacen(
            "# down_dir = \"supabase/down\"",
            &format!("down_dir = {}", toml_string(SUPABASE_DOWN_DIR)),
            1,
        );
        note(&format!(
            "a Supabase project: down scripts go to {SUPABASE_DOWN_DIR}/ (`supabase db push` \
             would run any .sql file in {SUPABASE_DIR}/); connect through the direct \
             connection or the session pooler (port 5432), never the transaction pooler \
             (port 6543)"
        ));
    }
    if layout == Layout::Alembic {
        let settings = alembic_settings(root, &dir_path);
        for line in settings.describe(&dir, found.as_ref()) {
            note(&line);
        }
        if let Some(python) = &settings.python {
            config = config.replacen(
                "# python = \"backend/.venv/bin/python\"",
                &format!("python = {}", toml_string(python)),
                1,
            );
        }
        if let Some(var) = &settings.url_env {
            config = config.replacen(
                "# url_env = \"DATABASE_URL\"",
                &format!("url_env = {}", toml_string(var)),
                1,
            );
        }
    }
    let mut report = String::new();

    std::fs::write(&config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    report.push_str(&format!("created {}\n", config_path.display()));

    let mut dirs = vec![root.join(&dir_path)];
    if supabase {
        dirs.push(root.join(SUPABASE_DOWN_DIR));
    }
    for migrations in dirs {
        if !migrations.exists() {
            std::fs::create_dir_all(&migrations)
                .with_context(|| format!("cannot create {}", migrations.display()))?;
            report.push_str(&format!("created {}/\n", migrations.display()));
        }
    }

    let attributes = root.join(".gitattributes");
    let existing = match std::fs::read_to_string(&attributes) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", attributes.display()));
        }
    };
    if !existing
        .lines()
        .any(|line| line.trim() == GITATTRIBUTES_LINE)
    {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(
            "# Migrations are checksummed; keep their line endings stable across platforms.\n",
        );
        text.push_str(GITATTRIBUTES_LINE);
        text.push('\n');
        std::fs::write(&attributes, text)
            .with_context(|| format!("cannot write {}", attributes.display()))?;
        let verb = if existing.is_empty() {
            "created"
        } else {
            "updated"
        };
        report.push_str(&format!("{verb} {}\n", attributes.display()));
    }
    if found.is_some() && layout == Layout::Alembic {
        report.push_str(
            "next: set the environment variables named in stagegate.toml, run `stagegate \
             verify` and `stagegate lint`, then, for a database Alembic already upgraded, \
             record its revisions (alembic_version) as applied: `stagegate migrate baseline \
             --env <name> --reason \"...\"`\n",
        );
    } else if found.is_some() {
        report.push_str(
            "next: set the environment variables named in stagegate.toml, run `stagegate \
             verify`, then record what another runner applied: `stagegate migrate baseline \
             --env <name> --reason \"...\"`\n",
        );
    } else {
        report.push_str("next: set the environment variables named in stagegate.toml, then `stagegate new <name>`\n");
    }
    Ok(report)
}

/// What init found out about an Alembic project.
struct AlembicSettings {
    /// alembic.ini's `script_location`, relative to the root where it lies under it.
    script_location: Option<String>,
    /// A virtual environment's Python beside alembic.ini or at the root (relative), or the
    /// active one's (`VIRTUAL_ENV`).
    python: Option<String>,
    /// The Alembic version that Python (or `python3`, when none was found) has, or why it has
    /// none.
    alembic: Result<String, String>,
    /// The variable env.py reads its URL from.
    url_env: Option<String>,
    /// alembic.ini's `sqlalchemy.url`, when env.py reads no variable.
    ini_url: Option<String>,
    /// Revisions and heads of the graph.
    heads: usize,
}

impl AlembicSettings {
    /// What init says it found, one line each: the project, the Python, the URL.
    fn describe(&self, dir: &str, found: Option<&Found>) -> Vec<String> {
        let mut lines = Vec::new();
        let ini = if dir == "." {
            "alembic.ini".to_string()
        } else {
            format!("{dir}/alembic.ini")
        };
        let count = found.map_or(0, |f| f.count);
        lines.push(format!(
            "found an Alembic project: {ini}, script_location {}, {count} revision(s), {} \
             head(s); the revisions are ordered by their graph (alembic layout)",
            self.script_location.as_deref().unwrap_or("(unreadable)"),
            self.heads
        ));
        let python = self.python.as_deref().unwrap_or("python3");
        lines.push(match (&self.python, &self.alembic) {
            (_, Ok(version)) => format!(
                "revisions are rendered offline with {python} (Alembic {version}): [alembic] \
                 python"
            ),
            (Some(_), Err(why)) => format!(
                "{python} was found but cannot import Alembic ({why}): install the project's \
                 requirements into it, or set [alembic] python to the Python that has them"
            ),
            (None, Err(why)) => format!(
                "no virtual environment beside {ini} or here, and {python} cannot import \
                 Alembic ({why}): set [alembic] python in stagegate.toml to the Python that \
                 has the project's Alembic and SQLAlchemy"
            ),
        });
        lines.push(match (&self.url_env, &self.ini_url) {
            (Some(var), _) => format!(
                "env.py reads the database URL from ${var}: stagegate sets it when rendering \
                 (the environment's URL without its password, or a placeholder PostgreSQL URL \
                 for lint), so env.py needs no database: [alembic] url_env"
            ),
            (None, Some(url)) if url.starts_with("postgres") => format!(
                "env.py reads no URL variable; alembic.ini's sqlalchemy.url ({}) picks the \
                 dialect when rendering (offline rendering never connects)",
                crate::target::redact(url)
            ),
            (None, _) => "env.py reads no URL variable and alembic.ini's sqlalchemy.url is \
                 not a PostgreSQL URL: stagegate gives it a placeholder PostgreSQL URL when \
                 rendering (offline rendering never connects); if env.py takes its URL from \
                 elsewhere, name the variable in [alembic] url_env"
                .to_string(),
        });
        lines
    }
}

/// For an Alembic project in `dir`: where it is, the Python to render it with, and how its
/// env.py finds a URL.
fn alembic_settings(root: &Path, dir: &Path) -> AlembicSettings {
    let mut venvs = vec![
        dir.join(".venv"),
        dir.join("venv"),
        PathBuf::from(".venv"),
        PathBuf::from("venv"),
    ];
    // The virtual environment init runs in, where it is part of the project.
    if let Some(active) = std::env::var_os("VIRTUAL_ENV").map(PathBuf::from)
        && let (Ok(active), Ok(base)) = (active.canonicalize(), root.canonicalize())
        && let Ok(relative) = active.strip_prefix(&base)
    {
        venvs.push(relative.to_path_buf());
    }
    let python = venvs
        .into_iter()
        .map(|venv| venv.join("bin/python"))
        .find(|python| root.join(python).exists())
        .map(|p| p.to_string_lossy().replace('\\', "/"));
    let program = python
        .as_ref()
        .map_or_else(|| PathBuf::from("python3"), |p| root.join(p));
    let alembic = alembic_version(&program);
    let ini = root.join(dir).join(crate::source::alembic::INI_FILE);
    let project = crate::source::alembic::read_project(&ini).ok();
    let script_location = project.as_ref().map(|p| {
        let base = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let location = p
            .script_location
            .canonicalize()
            .unwrap_or_else(|_| p.script_location.clone());
        location
            .strip_prefix(&base)
            .map_or_else(|_| location.clone(), Path::to_path_buf)
            .to_string_lossy()
            .replace('\\', "/")
    });
    let heads = project
        .as_ref()
        .and_then(|p| crate::source::alembic::read_graph(p).ok())
        .map_or(0, |(graph, _)| graph.heads.len());
    let url_env = project
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p.script_location.join("env.py")).ok())
        .and_then(|env_py| url_variable(&env_py));
    let ini_url = std::fs::read_to_string(&ini)
        .ok()
        .and_then(|text| crate::source::alembic::ini_value(&text, "alembic", "sqlalchemy.url"));
    AlembicSettings {
        script_location,
        python,
        alembic,
        url_env,
        ini_url,
        heads,
    }
}

/// The version of Alembic `python` imports, or why it imports none.
fn alembic_version(python: &Path) -> Result<String, String> {
    let output = std::process::Command::new(python)
        .args(["-c", "import alembic; print(alembic.__version__)"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr
            .lines()
            .last()
            .unwrap_or("it failed")
            .trim()
            .to_string())
    }
}

/// The environment variable an env.py reads a URL from (`os.environ["DATABASE_URL"]`,
/// `os.getenv("DB_URL")`, `os.environ.get(...)`): the first whose name mentions a URL, a DSN
/// or a database.
fn url_variable(env_py: &str) -> Option<String> {
    for opener in [
        "os.environ[",
        "os.getenv(",
        "os.environ.get(",
        "environ.get(",
        "getenv(",
    ] {
        for (at, _) in env_py.match_indices(opener) {
            let rest = env_py[at + opener.len()..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let name: String = rest[1..].chars().take_while(|c| *c != quote).collect();
            let upper = name.to_ascii_uppercase();
            if ["URL", "DSN", "DATABASE"].iter().any(|k| upper.contains(k)) {
                return Some(name);
            }
        }
    }
    None
}

/// The example configuration with the chosen directory and layout filled in.
fn config_text(dir: &str, layout: &str) -> String {
    EXAMPLE
        .replacen(
            "dir = \"migrations\"",
            &format!("dir = {}", toml_string(dir)),
            1,
        )
        .replacen("# layout = \"sqlx\"", &format!("layout = \"{layout}\""), 1)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn init_writes_a_config_that_loads() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(".gitattributes"), "*.png binary").unwrap();
        let args = InitArgs {
            layout: Some(Layout::Diesel),
            dir: Some("db/migrations".into()),
        };
        let report = init(root.path(), &args, &mut |_| {}).unwrap();
        assert!(report.contains("created"), "{report}");
        let config = Config::from_file(&root.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(config.migrations_dir(), root.path().join("db/migrations"));
        assert_eq!(config.migrations.layout, Some(Layout::Diesel));
        assert!(root.path().join("db/migrations").is_dir());
        let attributes = std::fs::read_to_string(root.path().join(".gitattributes")).unwrap();
        assert!(attributes.starts_with("*.png binary\n"), "{attributes}");
        assert!(
            attributes.lines().any(|l| l == GITATTRIBUTES_LINE),
            "{attributes}"
        );
        // A second init refuses instead of overwriting.
        let error = init(root.path(), &args, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(error.contains("already exists"), "{error}");
    }

    fn detected(files: &[(&str, &str)]) -> (Config, Vec<String>) {
        let root = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = root.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let args = InitArgs {
            layout: None,
            dir: None,
        };
        let mut notes = Vec::new();
        init(root.path(), &args, &mut |n| notes.push(n.to_string())).unwrap();
        let config = Config::from_file(&root.path().join(CONFIG_FILE)).unwrap();
        let dir = config
            .migrations_dir()
            .strip_prefix(root.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        notes.push(dir);
        (config, notes)
    }

    #[test]
    fn init_finds_an_existing_diesel_project() {
        let (config, notes) = detected(&[
            (
                "migrations/00000000000000_diesel_initial_setup/up.sql",
                "SELECT 1;\n",
            ),
            (
                "migrations/2021-02-02-153240_create_users/up.sql",
                "CREATE TABLE users ();\n",
            ),
            (
                "migrations/2021-02-02-153240_create_users/down.sql",
                "DROP TABLE users;\n",
            ),
        ]);
        assert_eq!(config.migrations.layout, Some(Layout::Diesel), "{notes:?}");
        assert!(
            notes[0].contains("found 2 migration(s) in migrations/"),
            "{notes:?}"
        );
        assert_eq!(notes.last().unwrap(), "migrations");
    }

    #[test]
    fn init_finds_flyway_and_dbmate_places_and_diesel_toml() {
        let (config, notes) = detected(&[(
            "src/main/resources/db/migration/V1__init.sql",
            "CREATE TABLE t ();\n",
        )]);
        assert_eq!(config.migrations.layout, Some(Layout::Flyway), "{notes:?}");
        assert_eq!(notes.last().unwrap(), "src/main/resources/db/migration");
        let (config, notes) = detected(&[(
            "db/migrations/20240101120000_init.sql",
            "-- migrate:up\nCREATE TABLE t ();\n-- migrate:down\nDROP TABLE t;\n",
        )]);
        assert_eq!(config.migrations.layout, Some(Layout::Dbmate), "{notes:?}");
        assert_eq!(notes.last().unwrap(), "db/migrations");
        let (config, notes) = detected(&[
            (
                "diesel.toml",
                "[migrations_directory]\ndir = \"schema/changes\"\n",
            ),
            (
                "schema/changes/2021-02-02-153240_init/up.sql",
                "CREATE TABLE t ();\n",
            ),
        ]);
        assert_eq!(config.migrations.layout, Some(Layout::Diesel), "{notes:?}");
        assert!(notes[0].contains("diesel.toml"), "{notes:?}");
        assert_eq!(notes.last().unwrap(), "schema/changes");
    }

    #[test]
    fn init_in_an_empty_repository_keeps_the_defaults() {
        let (config, notes) = detected(&[]);
        assert_eq!(config.migrations.layout, Some(Layout::Sqlx));
        assert_eq!(notes, ["migrations"]);
    }
}
