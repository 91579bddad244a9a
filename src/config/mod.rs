//! `stagegate.toml`: where migrations live, lint settings, and the environments on the way to
//! production.
//!
//! The file is found in the current directory or above it (or named with `--config`). Paths
//! inside it are relative to the file's directory. `${VAR}` references are expanded when an
//! environment is used, so a deploy to staging does not need production's variables.

mod interpolate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub(crate) use crate::duration::HumanDuration;
use crate::source::Layout;
pub(crate) use crate::target::{DatabaseUrl, redact, redact_text};
use interpolate::{InterpolateError, interpolate};

/// The file name searched for.
pub(crate) const CONFIG_FILE: &str = "stagegate.toml";

/// Default PostgreSQL major version that lint rules assume.
pub const DEFAULT_POSTGRES_VERSION: u32 = 15;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("environment `{environment}`: invalid connection string {url}: {message}")]
    BadUrl {
        environment: String,
        url: String,
        message: String,
    },
    #[error("environment `{environment}`: variable {variable} is not set")]
    MissingVariable {
        environment: String,
        variable: String,
    },
    #[error("environment `{environment}`: malformed variable reference `{reference}` in {field}")]
    MalformedVariable {
        environment: String,
        field: &'static str,
        reference: String,
    },
    #[error(
        "no environment `{name}` in {source_name}{}{}",
        did_you_mean(name, known),
        known_list(known)
    )]
    UnknownEnvironment {
        name: String,
        source_name: String,
        known: Vec<String>,
    },
}

/// The `[scratch]` table, given under its name or its former one, `[shadow]`; both given and
/// different is an error (which one was meant is not known).
fn scratch_table(
    scratch: Option<ScratchConfig>,
    shadow: Option<ScratchConfig>,
) -> Result<ScratchConfig, String> {
    match (scratch, shadow) {
        (Some(scratch), Some(shadow)) => {
            let same = scratch.url.as_ref().map(DatabaseUrl::expose)
                == shadow.url.as_ref().map(DatabaseUrl::expose)
                && scratch.bin_dir == shadow.bin_dir;
            if same {
                Ok(scratch)
            } else {
                Err(
                    "[scratch] and [shadow] are both given and differ: [shadow] is the former \
                     name of [scratch]; keep one of them"
                        .to_string(),
                )
            }
        }
        (Some(table), None) | (None, Some(table)) => Ok(table),
        (None, None) => Ok(ScratchConfig::default()),
    }
}

/// ": did you mean `production`?" where one configured name is a likely misspelling of `name`.
fn did_you_mean(name: &str, known: &[String]) -> String {
    let lower = name.to_lowercase();
    let close = known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d);
    close.map_or_else(String::new, |(_, k)| format!(": did you mean `{k}`?"))
}

/// Levenshtein distance: insertions, deletions and substitutions of characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (no environments are configured: add an [environments.<name>] table)".to_string()
    } else {
        format!(" (configured: {})", known.join(", "))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    migrations: MigrationsConfig,
    #[serde(default)]
    lint: LintConfig,
    #[serde(default)]
    migrate: MigrateConfig,
    scratch: Option<ScratchConfig>,
    /// `[shadow]`: the former name of `[scratch]`, still accepted.
    shadow: Option<ScratchConfig>,
    #[serde(default)]
    backup: BackupToolsConfig,
    #[serde(default)]
    alembic: AlembicConfig,
    #[serde(default)]
    environments: BTreeMap<String, RawEnvironment>,
}

/// `[alembic]`: how an Alembic project's revisions are rendered (`layout = "alembic"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlembicConfig {
    /// The Python that has the project's Alembic installed (a path relative to the config
    /// file, or a program name looked up on PATH). Default: `python3`.
    #[serde(default)]
    pub python: Option<PathBuf>,
    /// The environment variable the project's `env.py` reads the database URL from
    /// (`DATABASE_URL`, ...). When rendering for an environment it holds that environment's
    /// URL without its password; otherwise a placeholder PostgreSQL URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// How long rendering every revision may take. Default: 2min.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

impl AlembicConfig {
    /// The Python to run, resolved against the config file's directory when it is a path.
    pub fn python(&self, root: &Path) -> PathBuf {
        match &self.python {
            Some(python) if python.components().count() > 1 => root.join(python),
            Some(python) => python.clone(),
            None => PathBuf::from("python3"),
        }
    }
}

/// `[migrate]`: how apply runs, in every environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateConfig {
    /// Before a concurrent index build, drop an INVALID index of the same name that an earlier
    /// failed build left (concurrently, recorded as a `repair` event) instead of refusing.
    #[serde(default)]
    pub drop_invalid_indexes: bool,
}

/// `[scratch]` (or `[shadow]`, its former name): the scratch server of every command that uses
/// one (`lint --scratch`, `trace`, `report --scratch`, `check-reversible`, the dry runs with
/// `--scratch`, `backup verify --scratch`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScratchConfig {
    /// A database stagegate may modify freely (`--scratch` overrides). Without one, a throwaway
    /// cluster is started from the local server binaries.
    #[serde(default)]
    pub url: Option<DatabaseUrl>,
    /// Where initdb, pg_ctl and postgres live, for the throwaway cluster (relative to the
    /// config file). Default: `pg_config --bindir`, PATH, then the distributions' versioned
    /// directories.
    #[serde(default)]
    pub bin_dir: Option<PathBuf>,
}

/// `[backup]`: the programs backups are taken and checked with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupToolsConfig {
    /// The pg_dump to use (relative to the config file); pg_restore is looked for beside it.
    /// Default: PATH, then the distributions' versioned directories matching the server.
    #[serde(default)]
    pub pg_dump: Option<PathBuf>,
}

/// `[migrations]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationsConfig {
    /// Directory of migration files, relative to the config file.
    #[serde(default = "default_migrations_dir")]
    pub dir: PathBuf,
    /// Force a layout instead of detecting it.
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Down and verify scripts kept in a directory of their own, relative to the config file
    /// (for runners that take every `.sql` file of `dir`, as the Supabase CLI does).
    #[serde(default)]
    pub down_dir: Option<PathBuf>,
    /// Entries the runner ignores too (a one-off data script beside diesel's migration
    /// directories) that need no warning: globs over the entry's name in `dir` (`*`, `?`).
    #[serde(default)]
    pub ignore: Vec<String>,
}

impl Default for MigrationsConfig {
    fn default() -> Self {
        MigrationsConfig {
            dir: default_migrations_dir(),
            layout: None,
            down_dir: None,
            ignore: Vec::new(),
        }
    }
}

fn default_migrations_dir() -> PathBuf {
    PathBuf::from("migrations")
}

/// `[lint]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// PostgreSQL major version the migrations run on.
    #[serde(default = "default_postgres_version")]
    pub postgres_version: u32,
    /// Fail on warnings too.
    #[serde(default)]
    pub deny_warnings: bool,
    /// Rules (codes or names) that never run.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Severity overrides: rule code or name -> `error`, `warning` or `info`.
    #[serde(default)]
    pub severity: BTreeMap<String, String>,
    /// The newest migration version known to be released (run in production): the tables
    /// that later migrations create are still new for the migrations after them.
    #[serde(default)]
    pub released: Option<String>,
    /// With facts from a database (`--env`, `--scratch`): a table with fewer rows than this
    /// (its `reltuples` estimate) is small, and a lock on it brief.
    #[serde(default)]
    pub small_table_rows: Option<i64>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            postgres_version: default_postgres_version(),
            deny_warnings: false,
            disable: Vec::new(),
            severity: BTreeMap::new(),
            released: None,
            small_table_rows: None,
        }
    }
}

fn default_postgres_version() -> u32 {
    DEFAULT_POSTGRES_VERSION
}

/// What lint findings do to an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LintGate {
    /// Findings are not looked at.
    Off,
    /// Findings are shown; the apply goes on.
    #[default]
    Warn,
    /// Error-level findings without an allow directive block the apply.
    Deny,
}

/// `backup = { dir = "...", keep = 10 }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    dir: String,
    #[serde(default = "default_keep")]
    keep: u32,
}

fn default_keep() -> u32 {
    10
}

/// `confirm = true` (type the environment's name) or `confirm = "CONFIRM"` (type that phrase).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawConfirm {
    Flag(bool),
    Phrase(String),
}

impl Default for RawConfirm {
    fn default() -> Self {
        RawConfirm::Flag(false)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    url: DatabaseUrl,
    #[serde(default)]
    promote_from: Option<String>,
    #[serde(default)]
    min_soak: Option<HumanDuration>,
    #[serde(default)]
    confirm: RawConfirm,
    #[serde(default)]
    backup: Option<RawBackup>,
    #[serde(default)]
    lock_timeout: Option<HumanDuration>,
    #[serde(default)]
    statement_timeout: Option<HumanDuration>,
    #[serde(default = "default_lock_retries")]
    lock_retries: u32,
    #[serde(default)]
    lint: LintGate,
    #[serde(default)]
    approvals: u32,
    #[serde(default)]
    approvers: Option<Vec<String>>,
    #[serde(default)]
    after_apply: Option<RawCheck>,
    #[serde(default)]
    after_down: Option<RawCheck>,
}

fn default_lock_retries() -> u32 {
    3
}

/// `after_apply = { run = "...", timeout = "3m", retries = 2, interval = "10s" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    run: String,
    #[serde(default)]
    timeout: Option<HumanDuration>,
    #[serde(default)]
    retries: u32,
    #[serde(default)]
    interval: Option<HumanDuration>,
}

/// A command run after `migrate apply` (`after_apply`) or `migrate down` (`after_down`)
/// committed something: a health check against the application. Recorded; it never rolls
/// back by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterCheck {
    /// The shell command as configured (`${VAR}` not expanded), for the record.
    pub configured: String,
    /// The shell command with `${VAR}` expanded, run with `sh -c`.
    pub run: String,
    /// How long one attempt may take before its process group is killed.
    pub timeout: HumanDuration,
    /// Attempts after the first that failed.
    pub retries: u32,
    /// The wait between two attempts.
    pub interval: HumanDuration,
}

/// The timeout of one attempt of an after_apply/after_down command when none is configured.
pub(crate) const DEFAULT_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The wait between two attempts when none is configured.
pub(crate) const DEFAULT_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Where backups of an environment go and how many are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    pub dir: PathBuf,
    pub keep: u32,
}

/// One environment, with every `${VAR}` expanded and relative paths resolved.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub url: DatabaseUrl,
    /// Every migration applied here must have succeeded there first, with the same checksum.
    pub promote_from: Option<String>,
    /// ... and at least this long ago.
    pub min_soak: Option<HumanDuration>,
    /// A typed confirmation is required: the text to type (the environment's name for
    /// `confirm = true`, else the configured phrase).
    pub confirm: Option<String>,
    /// A verified backup is taken before the first statement.
    pub backup: Option<BackupConfig>,
    pub lock_timeout: Option<HumanDuration>,
    pub statement_timeout: Option<HumanDuration>,
    /// How often a statement that hit lock_timeout is retried.
    pub lock_retries: u32,
    pub lint: LintGate,
    /// `approvals = N`: distinct approvers of the plan hash (`migrate approve`), other than
    /// the one applying, needed before apply runs; 0: no approvals gate.
    pub approvals: u32,
    /// `approvers = [...]`: who may approve (identities as stagegate records them: the CI
    /// actor in CI, else the OS user); `None`: anyone.
    pub approvers: Option<Vec<String>>,
    /// `after_apply`: run after an apply that applied something.
    pub after_apply: Option<AfterCheck>,
    /// `after_down`: run after a `migrate down` that reverted something.
    pub after_down: Option<AfterCheck>,
}

impl Environment {
    /// Whether this environment needs confirmation, a backup or a promotion check.
    pub fn is_gated(&self) -> bool {
        self.confirm.is_some()
            || self.backup.is_some()
            || self.promote_from.is_some()
            || self.approvals > 0
    }
}

/// The loaded configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from; `None` when no stagegate.toml was found and defaults apply.
    pub path: Option<PathBuf>,
    /// The directory relative paths are resolved against.
    pub root: PathBuf,
    pub migrations: MigrationsConfig,
    pub lint: LintConfig,
    pub migrate: MigrateConfig,
    /// `[scratch]`, with `bin_dir` resolved against the config file's directory.
    pub scratch: ScratchConfig,
    /// `[backup]`, with `pg_dump` resolved against the config file's directory.
    pub backup: BackupToolsConfig,
    /// `[alembic]`.
    pub alembic: AlembicConfig,
    environments: BTreeMap<String, RawEnvironment>,
}

impl Config {
    /// Loads `explicit` if given, else the nearest stagegate.toml at or above `cwd`, else
    /// defaults rooted at `cwd`.
    pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Self::from_file(&cwd.join(path)),
            None => match find_config(cwd) {
                Some(path) => Self::from_file(&path),
                None => Ok(Self::defaults(cwd)),
            },
        }
    }

    /// The configuration used where no stagegate.toml exists.
    pub fn defaults(root: &Path) -> Config {
        let raw = RawConfig::default();
        Config {
            path: None,
            root: root.to_path_buf(),
            migrations: raw.migrations,
            lint: raw.lint,
            migrate: raw.migrate,
            scratch: ScratchConfig::default(),
            backup: raw.backup,
            alembic: raw.alembic,
            environments: raw.environments,
        }
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        // A regular file only: a linked config could show a file from outside the
        // repository in a parse error.
        let text =
            crate::regular_file::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Self::parse(&text, path)
    }

    /// Parses configuration text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: redact_text(error.to_string().trim_end()),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        for (name, env) in &raw.environments {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "environment name `{name}` may only contain letters, digits, `-` and `_`"
                )));
            }
            if let Some(from) = env
                .promote_from
                .as_ref()
                .filter(|from| !raw.environments.contains_key(*from))
            {
                return Err(invalid(format!(
                    "environment `{name}`: promote_from names `{from}`, which is not configured"
                )));
            }
            if let RawConfirm::Phrase(phrase) = &env.confirm
                && crate::visible::is_blank(phrase)
            {
                return Err(invalid(format!(
                    "environment `{name}`: confirm = \"{}\" shows nothing: use true (type the \
                     environment's name) or a phrase of visible characters to type",
                    crate::visible::line(phrase)
                )));
            }
            if env.approvers.is_some() && env.approvals == 0 {
                return Err(invalid(format!(
                    "environment `{name}`: approvers needs approvals = N (how many of them must \
                     approve)"
                )));
            }
            if let Some(approvers) = &env.approvers {
                if let Some(blank) = approvers.iter().find(|a| crate::visible::is_blank(a)) {
                    return Err(invalid(format!(
                        "environment `{name}`: approvers has a name that shows nothing (`{}`)",
                        crate::visible::line(blank)
                    )));
                }
                let distinct: std::collections::BTreeSet<&str> =
                    approvers.iter().map(|a| a.trim()).collect();
                if (distinct.len() as u64) < u64::from(env.approvals) {
                    return Err(invalid(format!(
                        "environment `{name}`: approvals = {} but approvers names only {} \
                         distinct approver(s): the gate could never pass",
                        env.approvals,
                        distinct.len()
                    )));
                }
            }
            for (key, check) in [
                ("after_apply", &env.after_apply),
                ("after_down", &env.after_down),
            ] {
                if let Some(check) = check
                    && crate::visible::is_blank(&check.run)
                {
                    return Err(invalid(format!(
                        "environment `{name}`: {key}.run shows nothing: give the command to run"
                    )));
                }
                if let Some(timeout) = check.as_ref().and_then(|c| c.timeout)
                    && timeout.0.is_zero()
                {
                    return Err(invalid(format!(
                        "environment `{name}`: {key}.timeout must be longer than 0"
                    )));
                }
            }
            if env.min_soak.is_some() && env.promote_from.is_none() {
                return Err(invalid(format!(
                    "environment `{name}`: min_soak needs promote_from (soak where?)"
                )));
            }
        }
        if let Some(cycle) = promotion_cycle(&raw.environments) {
            return Err(invalid(format!(
                "promote_from forms a cycle: {}",
                cycle.join(" -> ")
            )));
        }
        if !(9..=30).contains(&raw.lint.postgres_version) {
            return Err(invalid(format!(
                "[lint] postgres_version = {} is not a PostgreSQL major version (9 to 30)",
                raw.lint.postgres_version
            )));
        }
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        let mut scratch = scratch_table(raw.scratch, raw.shadow).map_err(invalid)?;
        scratch.bin_dir = scratch.bin_dir.map(|dir| root.join(dir));
        let mut backup = raw.backup;
        backup.pg_dump = backup.pg_dump.map(|file| root.join(file));
        Ok(Config {
            path: Some(path.to_path_buf()),
            root,
            migrations: raw.migrations,
            lint: raw.lint,
            migrate: raw.migrate,
            scratch,
            backup,
            alembic: raw.alembic,
            environments: raw.environments,
        })
    }

    /// `[scratch] url` with its variables expanded from the process environment.
    pub fn scratch_url(&self) -> Result<Option<DatabaseUrl>, ConfigError> {
        let Some(url) = &self.scratch.url else {
            return Ok(None);
        };
        interpolate(url.expose(), crate::target::child::variable)
            .map(|text| Some(DatabaseUrl::new(text)))
            .map_err(|error| match error {
                InterpolateError::Missing(variable) => ConfigError::MissingVariable {
                    environment: "[scratch]".to_string(),
                    variable,
                },
                InterpolateError::Malformed(reference) => ConfigError::MalformedVariable {
                    environment: "[scratch]".to_string(),
                    field: "url",
                    reference: redact(&reference),
                },
            })
    }

    /// The migrations directory, resolved against the config file's directory.
    pub fn migrations_dir(&self) -> PathBuf {
        self.root.join(&self.migrations.dir)
    }

    /// `[migrations] down_dir`, resolved against the config file's directory.
    pub fn down_dir(&self) -> Option<PathBuf> {
        self.migrations
            .down_dir
            .as_ref()
            .map(|dir| self.root.join(dir))
    }

    /// The configured migrations: `dir` read as `layout` (detected when unset), with the
    /// scripts of `down_dir` paired with them and the `ignore`d entries' warnings dropped.
    pub fn discover(&self) -> Result<crate::source::MigrationSet, crate::source::SourceError> {
        let mut set = crate::source::discover_as(&self.migrations_dir(), self.migrations.layout)?;
        set.silence(&self.migrations.ignore);
        if let Some(dir) = self.down_dir() {
            crate::source::attach_down_dir(&mut set, &dir)?;
        }
        Ok(set)
    }

    /// Names of the configured environments, in promotion order where one exists
    /// (staging before production), otherwise alphabetical.
    pub fn environment_names(&self) -> Vec<String> {
        let depths = promotion_depths(&self.environments, |e| e.promote_from.as_deref());
        let mut names: Vec<(usize, &String)> = self
            .environments
            .keys()
            .zip(depths)
            .map(|(name, depth)| (depth, name))
            .collect();
        names.sort();
        names.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// One environment with its variables expanded from the process environment.
    pub fn environment(&self, name: &str) -> Result<Environment, ConfigError> {
        self.environment_with(name, crate::target::child::variable)
    }

    /// An environment's lock_timeout, without expanding its variables (lint needs no URL).
    pub fn environment_lock_timeout(
        &self,
        name: &str,
    ) -> Result<Option<HumanDuration>, ConfigError> {
        match self.environments.get(name) {
            Some(raw) => Ok(raw.lock_timeout),
            None => self
                .environment_with(name, |_| None)
                .map(|e| e.lock_timeout),
        }
    }

    /// Whether the runner sets a lock_timeout for the migrations it runs in `env`, or, without
    /// one, in every configured environment (none configured: no). Lint's SG116 asks this.
    pub fn runner_sets_lock_timeout(&self, env: Option<&str>) -> Result<bool, ConfigError> {
        match env {
            Some(name) => Ok(self.environment_lock_timeout(name)?.is_some()),
            None => Ok(!self.environments.is_empty()
                && self
                    .environments
                    .values()
                    .all(|raw| raw.lock_timeout.is_some())),
        }
    }

    /// As [`Config::environment`], with variables looked up by `lookup`.
    pub fn environment_with(
        &self,
        name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Environment, ConfigError> {
        let raw = self
            .environments
            .get(name)
            .ok_or_else(|| ConfigError::UnknownEnvironment {
                name: name.to_string(),
                source_name: self.path.as_ref().map_or_else(
                    || format!("(no {CONFIG_FILE} found)"),
                    |p| p.display().to_string(),
                ),
                known: self.environment_names(),
            })?;
        let expand = |field: &'static str, text: &str| {
            interpolate(text, &lookup).map_err(|error| match error {
                InterpolateError::Missing(variable) => ConfigError::MissingVariable {
                    environment: name.to_string(),
                    variable,
                },
                InterpolateError::Malformed(reference) => ConfigError::MalformedVariable {
                    environment: name.to_string(),
                    field,
                    reference: redact(&reference),
                },
            })
        };
        let url = DatabaseUrl::new(expand("url", raw.url.expose())?);
        // A connection string that cannot be read is the configuration's fault (exit 2),
        // found before any command tries to connect.
        if let Err(error) = url.target() {
            return Err(ConfigError::BadUrl {
                environment: name.to_string(),
                url: error.url,
                message: error.message,
            });
        }
        let check = |key: &'static str, raw: &Option<RawCheck>| {
            raw.as_ref()
                .map(|check| {
                    Ok::<_, ConfigError>(AfterCheck {
                        configured: check.run.clone(),
                        run: expand(key, &check.run)?,
                        timeout: check
                            .timeout
                            .unwrap_or(HumanDuration(DEFAULT_CHECK_TIMEOUT)),
                        retries: check.retries,
                        interval: check
                            .interval
                            .unwrap_or(HumanDuration(DEFAULT_CHECK_INTERVAL)),
                    })
                })
                .transpose()
        };
        let after_apply = check("after_apply.run", &raw.after_apply)?;
        let after_down = check("after_down.run", &raw.after_down)?;
        // The command runs without the password (its environment holds none); a `${VAR}`
        // that put it on its command line would show it to every process on the host.
        if let Ok(target) = url.target()
            && let Some(key) = [("after_apply", &after_apply), ("after_down", &after_down)]
                .into_iter()
                .find_map(|(key, c)| {
                    c.as_ref()
                        .is_some_and(|c| target.password_in(&c.run))
                        .then_some(key)
                })
        {
            return Err(ConfigError::Invalid {
                path: self
                    .path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(CONFIG_FILE)),
                message: format!(
                    "environment `{name}`: {key}.run would carry the database password on its \
                     command line; the command gets STAGEGATE_ENV, STAGEGATE_VERSIONS and \
                     STAGEGATE_EVENT_HEAD, never the password"
                ),
            });
        }
        let backup = match &raw.backup {
            Some(backup) => Some(BackupConfig {
                dir: self.root.join(expand("backup.dir", &backup.dir)?),
                keep: backup.keep,
            }),
            None => None,
        };
        Ok(Environment {
            name: name.to_string(),
            url,
            promote_from: raw.promote_from.clone(),
            min_soak: raw.min_soak,
            confirm: match &raw.confirm {
                RawConfirm::Flag(false) => None,
                RawConfirm::Flag(true) => Some(name.to_string()),
                // Typed answers are compared without their surrounding blanks.
                RawConfirm::Phrase(phrase) => Some(phrase.trim().to_string()),
            },
            backup,
            lock_timeout: raw.lock_timeout,
            statement_timeout: raw.statement_timeout,
            lock_retries: raw.lock_retries,
            lint: raw.lint,
            approvals: raw.approvals,
            approvers: raw
                .approvers
                .as_ref()
                .map(|names| names.iter().map(|n| n.trim().to_string()).collect()),
            after_apply,
            after_down,
        })
    }
}

/// The nearest stagegate.toml in `start` or one of its ancestors.
pub(crate) fn find_config(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|path| path.is_file())
}

/// The first cycle of `promote_from` links (by the name it starts from), closed by its
/// first name again. Linear in the number of environments: each is walked once (a config
/// of thousands of environments loads in milliseconds).
fn promotion_cycle(envs: &BTreeMap<String, RawEnvironment>) -> Option<Vec<String>> {
    // 0: not walked yet; 1: on the walk under way; 2: done, on no cycle.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in envs.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut walk: Vec<&str> = Vec::new();
        let mut current = Some(start.as_str());
        while let Some(name) = current {
            match state.get(name) {
                Some(1) => {
                    let at = walk.iter().position(|n| *n == name).unwrap_or(0);
                    let mut cycle: Vec<String> = walk[at..].iter().map(|n| n.to_string()).collect();
                    cycle.push(name.to_string());
                    return Some(cycle);
                }
                Some(_) => break,
                None => {}
            }
            if !envs.contains_key(name) {
                break;
            }
            state.insert(name, 1);
            walk.push(name);
            current = envs.get(name).and_then(|e| e.promote_from.as_deref());
        }
        for name in walk {
            state.insert(name, 2);
        }
    }
    None
}

/// How many `promote_from` links lead from each environment (in `envs`' order) to one
/// promoted from nowhere (or from an environment that is not configured); each environment
/// is walked once. The links are acyclic (checked when the config is read).
fn promotion_depths<E>(
    envs: &BTreeMap<String, E>,
    from: impl Fn(&E) -> Option<&str>,
) -> Vec<usize> {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for start in envs.keys() {
        if depth.contains_key(start.as_str()) {
            continue;
        }
        // The environments whose depth is not known yet, from `start` towards the root.
        let mut walk: Vec<&str> = Vec::new();
        let mut current = start.as_str();
        // The depth of the last one walked.
        let last = loop {
            walk.push(current);
            match envs.get(current).and_then(&from) {
                None => break 0,
                Some(next) if !envs.contains_key(next) => break 1,
                Some(next) => {
                    if let Some(&known) = depth.get(next) {
                        break known + 1;
                    }
                    if walk.len() > envs.len() {
                        break 0;
                    }
                    current = next;
                }
            }
        };
        for (below, name) in (last..).zip(walk.into_iter().rev()) {
            depth.entry(name).or_insert(below);
        }
    }
    envs.keys().map(|name| depth[name.as_str()]).collect()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    const SAMPLE: &str = r#"
[migrations]
dir = "db/migrations"

[lint]
postgres_version = 14

[environments.staging]
url = "${STAGING_DATABASE_URL}"
lock_timeout = "3s"

[environments.production]
url = "${PRODUCTION_DATABASE_URL}"
promote_from = "staging"
min_soak = "30m"
confirm = true
backup = { dir = "backups/${DEPLOY_REGION:-eu}", keep = 5 }
statement_timeout = "15min"
lint = "deny"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/repo/stagegate.toml"))
    }

    #[test]
    fn parses_environments_and_resolves_paths() {
        let config = parse(SAMPLE).unwrap();
        assert_eq!(
            config.migrations_dir(),
            PathBuf::from("/repo/db/migrations")
        );
        assert_eq!(config.lint.postgres_version, 14);
        assert_eq!(config.environment_names(), ["staging", "production"]);
        let prod = config
            .environment_with("production", |v| {
                (v == "PRODUCTION_DATABASE_URL").then(|| "postgres://app:hunter2@prod/app".into())
            })
            .unwrap();
        assert_eq!(prod.promote_from.as_deref(), Some("staging"));
        assert_eq!(prod.min_soak.unwrap().to_string(), "30min");
        assert!(prod.confirm.as_deref() == Some("production") && prod.is_gated());
        let typo = config.environment("prodution").unwrap_err().to_string();
        assert!(typo.contains("did you mean `production`?"), "{typo}");
        let far = config.environment("qa").unwrap_err().to_string();
        assert!(!far.contains("did you mean"), "{far}");
        assert_eq!(
            prod.backup.as_ref().unwrap().dir,
            PathBuf::from("/repo/backups/eu")
        );
        assert_eq!(prod.backup.as_ref().unwrap().keep, 5);
        assert_eq!(prod.lint, LintGate::Deny);
        assert_eq!(prod.lock_retries, 3);
        assert!(
            !format!("{prod:?}").contains("hunter2"),
            "Debug must redact: {prod:?}"
        );
        assert_eq!(prod.url.expose(), "postgres://app:hunter2@prod/app");
    }

    #[test]
    fn missing_variable_names_environment_and_variable() {
        let config = parse(SAMPLE).unwrap();
        let error = config.environment_with("production", |_| None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment `production`: variable PRODUCTION_DATABASE_URL is not set"
        );
        // Staging's own variable is all staging needs.
        let staging = config
            .environment_with("staging", |v| {
                (v == "STAGING_DATABASE_URL").then(|| "postgres://s/db".into())
            })
            .unwrap();
        assert_eq!(staging.lock_timeout.unwrap().to_string(), "3s");
        assert!(!staging.is_gated());
    }

    #[test]
    fn unknown_field_is_an_error_with_its_location() {
        let error =
            parse("[environments.staging]\nurl = \"x\"\nlock_timout = \"3s\"\n").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/repo/stagegate.toml"), "{message}");
        assert!(message.contains("unknown field `lock_timout`"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn bad_duration_is_an_error() {
        let error = parse("[environments.staging]\nurl = \"x\"\nlock_timeout = \"3 parsecs\"\n")
            .unwrap_err();
        assert!(
            error.to_string().contains("unknown unit `parsecs`"),
            "{error}"
        );
    }

    #[test]
    fn promotion_must_name_a_configured_environment_without_cycles() {
        let error =
            parse("[environments.prod]\nurl = \"x\"\npromote_from = \"stage\"\n").unwrap_err();
        assert!(
            error.to_string().contains("promote_from names `stage`"),
            "{error}"
        );
        let error = parse(
            "[environments.a]\nurl = \"x\"\npromote_from = \"b\"\n[environments.b]\nurl = \"y\"\npromote_from = \"a\"\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("cycle"), "{error}");
    }

    /// A long promotion chain, as a config of thousands of environments has: its order is
    /// the chain's, and a cycle anywhere in it is named from where it closes.
    #[test]
    fn a_long_promotion_chain_is_ordered_and_its_cycles_found() {
        let chain = |n: usize, closing: Option<usize>| {
            let mut text = String::new();
            for i in 0..n {
                let _ = write!(text, "[environments.e{i:05}]\nurl = \"x\"\n");
                // Each promotes from the next: e00000 is promoted last.
                if i + 1 < n {
                    let _ = writeln!(text, "promote_from = \"e{:05}\"", i + 1);
                } else if let Some(to) = closing {
                    let _ = writeln!(text, "promote_from = \"e{to:05}\"");
                }
            }
            text
        };
        let config = parse(&chain(3_000, None)).unwrap();
        let names = config.environment_names();
        assert_eq!(names.len(), 3_000);
        assert_eq!(names[0], "e02999");
        assert_eq!(names[2_999], "e00000");
        assert!(names.windows(2).all(|w| w[0] > w[1]));
        let error = parse(&chain(3_000, Some(2_990))).unwrap_err().to_string();
        assert!(
            error.contains("promote_from forms a cycle: e02990 -> e02991")
                && error.ends_with("e02999 -> e02990"),
            "{error}"
        );
    }

    #[test]
    fn unknown_environment_lists_the_known_ones() {
        let config = parse(SAMPLE).unwrap();
        let error = config.environment("prod").unwrap_err().to_string();
        assert!(error.contains("no environment `prod`"), "{error}");
        assert!(error.contains("staging, production"), "{error}");
        let none = Config::defaults(Path::new("/x"))
            .environment("staging")
            .unwrap_err()
            .to_string();
        assert!(none.contains("no environments are configured"), "{none}");
    }

    #[test]
    fn literal_passwords_stay_out_of_errors_and_debug_output() {
        let error = parse("[environments.s]\nurl = postgres://u:hunter2@h/db\n")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
        let config = parse("[environments.s]\nurl = \"postgres://u:hunter2@h/db\"\n").unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(
            config.environment("s").unwrap().url.expose(),
            "postgres://u:hunter2@h/db"
        );
    }

    #[test]
    fn malformed_reference_does_not_leak_the_url() {
        let config = parse("[environments.s]\nurl = \"postgres://u:pw@h/${DB\"\n").unwrap();
        let error = config
            .environment_with("s", |_| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("malformed variable reference"), "{error}");
        assert!(!error.contains("pw@"), "{error}");
    }

    #[test]
    fn finds_the_config_in_a_parent_directory() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[lint]\npostgres_version = 13\n",
        )
        .unwrap();
        let config = Config::load(None, &nested).unwrap();
        assert_eq!(config.lint.postgres_version, 13);
        assert_eq!(config.root, dir.path());
        let empty = tempfile::tempdir().unwrap();
        let defaults = Config::load(None, empty.path()).unwrap();
        assert!(defaults.path.is_none());
        assert_eq!(defaults.migrations_dir(), empty.path().join("migrations"));
    }

    #[test]
    fn approvals_and_after_checks_are_read_and_checked() {
        let config = parse(
            "[environments.prod]\nurl = \"postgres://u:s3cret-pw@db/app\"\napprovals = 2\n\
             approvers = [\" alice \", \"bob\"]\n\
             after_apply = { run = \"curl -f ${HEALTH_URL}\", timeout = \"3m\", retries = 2, \
             interval = \"10s\" }\n",
        )
        .unwrap();
        let prod = config
            .environment_with("prod", |var| {
                (var == "HEALTH_URL").then(|| "https://app/health".to_string())
            })
            .unwrap();
        assert_eq!(prod.approvals, 2);
        assert!(prod.is_gated());
        assert_eq!(
            prod.approvers.as_deref(),
            Some(&["alice".to_string(), "bob".to_string()][..])
        );
        let check = prod.after_apply.unwrap();
        assert_eq!(check.run, "curl -f https://app/health");
        assert_eq!(check.configured, "curl -f ${HEALTH_URL}");
        assert_eq!(
            (
                check.retries,
                check.timeout.0.as_secs(),
                check.interval.0.as_secs()
            ),
            (2, 180, 10)
        );
        assert!(prod.after_down.is_none());

        let invalid = |text: &str| parse(text).unwrap_err().to_string();
        let base = "[environments.prod]\nurl = \"postgres://db/app\"\n";
        assert!(
            invalid(&format!("{base}approvers = [\"alice\"]\n"))
                .contains("approvers needs approvals"),
        );
        assert!(
            invalid(&format!(
                "{base}approvals = 3\napprovers = [\"a\", \"b\", \"a\"]\n"
            ))
            .contains("only 2 distinct approver(s)"),
        );
        assert!(
            invalid(&format!("{base}after_down = {{ run = \" \" }}\n"))
                .contains("after_down.run shows nothing")
        );
        assert!(
            invalid(&format!(
                "{base}after_apply = {{ run = \"x\", tries = 2 }}\n"
            ))
            .contains("tries")
        );
        // The password never goes on the command line.
        let leaky = parse(
            "[environments.prod]\nurl = \"postgres://u:s3cret-pw@db/app\"\n\
             after_apply = { run = \"check ${DB}\" }\n",
        )
        .unwrap();
        let error = leaky
            .environment_with("prod", |_| {
                Some("postgres://u:s3cret-pw@db/app".to_string())
            })
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("would carry the database password"),
            "{error}"
        );
        assert!(!error.contains("s3cret-pw"), "{error}");
    }

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stagegate.toml.example");
        let config = Config::from_file(&path).unwrap();
        let names = config.environment_names();
        assert!(names.len() >= 2, "{names:?}");
        for name in &names {
            config
                .environment_with(name, |var| Some(format!("postgres://localhost/{var}")))
                .unwrap();
        }
    }
}
