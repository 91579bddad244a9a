//! Backups: `pg_dump --format=custom` of an environment, checked, recorded and pruned.
//!
//! [`take`] is the whole of it, for `backup create` and for `migrate apply` / `migrate down`
//! before their first statement:
//!
//! 1. pg_dump is found ([`find_tools`]): `[backup] pg_dump` when configured (then only that
//!    one), else PATH, then the distributions' directories for the server's major version;
//!    one older than the server is refused. pg_restore must sit beside it.
//! 2. A connection of its own opens a REPEATABLE READ transaction and exports its snapshot;
//!    pg_dump runs with `--snapshot` while that connection counts every table's rows in the
//!    same snapshot, so the counts are exactly what the archive holds.
//! 3. The archive is written to a temporary file (0600) in the backup directory (created
//!    0700), checked with `pg_restore --list`, hashed, and renamed into place; any failure
//!    removes the partial file.
//! 4. A `backup` event records the manifest ([`Manifest`]); then older backups are pruned to
//!    `keep`: only files with stagegate's name that the event log records, never the newest.
//!
//! pg_dump and pg_restore get the connection through `PG*` variables and the password
//! through a 0600 passfile: nothing secret is on their command line.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt as _;

use crate::config::{BackupConfig, BackupToolsConfig, DatabaseUrl, Environment};
use crate::db::state::{self, StateError, StateStore};
use crate::db::{self, DbError, tls};
use crate::exit::{self, Outcome};
use crate::printer::Printer;

/// Start of every archive's file name: `stagegate-<env>-<UTC time>.dump`.
const FILE_PREFIX: &str = "stagegate-";
const FILE_SUFFIX: &str = ".dump";

/// How often a dump's progress is looked at.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Without a terminal, a note this often for a dump that takes long.
const NOTE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "environment `{env}` has no backup configured: add `backup = {{ dir = \"backups/{env}\", \
         keep = 10 }}` to [environments.{env}] in stagegate.toml"
    )]
    NotConfigured { env: String },
    #[error(
        "no usable pg_dump to back up `{env}` (server {server}): {}",
        tried(attempts)
    )]
    NoPgDump {
        env: String,
        server: String,
        attempts: Vec<Attempt>,
    },
    #[error("backing up `{env}`: {what} {}: {source}", path.display())]
    Io {
        env: String,
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("backing up `{env}`: {} failed: {message}; the partial file was removed", program.display())]
    Dump {
        env: String,
        program: PathBuf,
        message: String,
    },
    #[error("backing up `{env}`: counting the rows of {table} in the dump's snapshot: {message}")]
    Count {
        env: String,
        table: String,
        message: String,
    },
    #[error(
        "backing up `{env}`: the archive does not pass `{} --list` ({message}); it was removed",
        program.display()
    )]
    Unreadable {
        env: String,
        program: PathBuf,
        message: String,
    },
    #[error("backing up `{env}`: {source}")]
    Connect { env: String, source: DbError },
    #[error("backing up `{env}`: {}", db::with_causes(source))]
    Query {
        env: String,
        source: tokio_postgres::Error,
    },
    #[error("backing up `{env}`: recording the backup: {source}")]
    State { env: String, source: StateError },
}

impl BackupError {
    /// The exit code this error ends a run with: a backup that cannot be taken refuses the
    /// run (3); a database that cannot be reached or written is an execution error (4); a
    /// missing `backup = {...}` is a configuration error (2).
    pub fn outcome(&self) -> Outcome {
        match self {
            BackupError::NotConfigured { .. } => Outcome::Usage,
            BackupError::Connect { .. } | BackupError::Query { .. } => Outcome::Execution,
            BackupError::State {
                source: StateError::NewerSchema { .. },
                ..
            } => Outcome::Refused,
            BackupError::State { .. } => Outcome::Execution,
            _ => Outcome::Refused,
        }
    }

    /// As an error that carries its exit code ([`BackupError::outcome`]).
    pub fn into_exit(self) -> anyhow::Error {
        match self.outcome() {
            Outcome::Refused => exit::refused(self),
            Outcome::Execution => exit::execution(self),
            _ => anyhow::Error::new(self),
        }
    }
}

/// One pg_dump that was looked at, and why it was not used.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub program: PathBuf,
    pub why: String,
}

fn tried(attempts: &[Attempt]) -> String {
    let list: Vec<String> = attempts
        .iter()
        .map(|a| format!("{}: {}", a.program.display(), a.why))
        .collect();
    format!(
        "tried {}; set [backup] pg_dump in stagegate.toml to a pg_dump at least as new as the \
         server",
        list.join("; ")
    )
}

/// A PostgreSQL version as `server_version_num` writes it (150020 for 15.20, 90624 for 9.6.24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgVersion {
    pub num: u32,
    pub text: String,
}

impl PgVersion {
    /// The major version as a number comparable across the 9.x and the 10+ numbering
    /// (906 for 9.6, 1500 for 15).
    pub fn major(&self) -> u32 {
        if self.num >= 100_000 {
            self.num / 10_000 * 100
        } else {
            self.num / 100
        }
    }

    /// The major version as people write it (`9.6`, `15`).
    pub fn major_text(&self) -> String {
        if self.num >= 100_000 {
            (self.num / 10_000).to_string()
        } else {
            format!("{}.{}", self.num / 10_000, self.num / 100 % 100)
        }
    }

    /// Reads `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` or `... 9.6.24`.
    pub fn from_tool_output(output: &str) -> Option<PgVersion> {
        let rest = output.split("(PostgreSQL)").nth(1)?.trim_start();
        let text: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Vec<u32> = text
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let num = match parts.as_slice() {
            [major, ..] if *major >= 10 => major * 10_000 + parts.get(1).copied().unwrap_or(0),
            [major, minor, patch @ ..] => {
                major * 10_000 + minor * 100 + patch.first().copied().unwrap_or(0)
            }
            _ => return None,
        };
        Some(PgVersion {
            num,
            text: text.trim_end_matches('.').to_string(),
        })
    }
}

/// The pg_dump chosen for a server, and pg_restore beside it.
#[derive(Debug, Clone)]
pub struct Tools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    pub version: PgVersion,
}

/// Where pg_dump is looked for when `[backup] pg_dump` is not set: every `pg_dump` on PATH,
/// then the distributions' directories for the server's major version.
fn candidates(server_major: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        out.extend(std::env::split_paths(&path).map(|dir| dir.join("pg_dump")));
    }
    for dir in [
        format!("/usr/lib/postgresql/{server_major}/bin"),
        format!("/usr/pgsql-{server_major}/bin"),
        format!("/opt/homebrew/opt/postgresql@{server_major}/bin"),
        format!("/usr/local/opt/postgresql@{server_major}/bin"),
        format!("/Applications/Postgres.app/Contents/Versions/{server_major}/bin"),
        format!("/usr/local/pgsql-{server_major}/bin"),
    ] {
        out.push(Path::new(&dir).join("pg_dump"));
    }
    let mut seen = BTreeSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// Finds a pg_dump at least as new as `server` (and pg_restore beside it). With
/// `configured`, only that one is considered: the configuration said which to use.
pub async fn find_tools(
    env: &str,
    configured: Option<&Path>,
    server: &PgVersion,
) -> Result<Tools, BackupError> {
    let (list, searched) = match configured {
        Some(path) => (vec![path.to_path_buf()], false),
        None => (candidates(&server.major_text()), true),
    };
    let mut attempts = Vec::new();
    for program in list {
        if searched && !program.is_file() {
            continue;
        }
        match check_tool(&program, server).await {
            Ok(tools) => return Ok(tools),
            Err(why) => attempts.push(Attempt { program, why }),
        }
    }
    if attempts.is_empty() {
        attempts.push(Attempt {
            program: PathBuf::from("pg_dump"),
            why: format!(
                "not on PATH, nor in /usr/lib/postgresql/{0}/bin, /usr/pgsql-{0}/bin or \
                 /opt/homebrew/opt/postgresql@{0}/bin (install the PostgreSQL {0} client \
                 programs)",
                server.major_text()
            ),
        });
    }
    Err(BackupError::NoPgDump {
        env: env.to_string(),
        server: server.text.clone(),
        attempts,
    })
}

async fn check_tool(program: &Path, server: &PgVersion) -> Result<Tools, String> {
    if !program.exists() {
        return Err("does not exist".to_string());
    }
    let output = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(30), output).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("cannot run it: {error}")),
        Err(_) => return Err("`--version` did not answer within 30s".to_string()),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`--version` failed ({}): {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    let Some(version) = PgVersion::from_tool_output(&stdout) else {
        return Err(format!(
            "`--version` printed `{}`, not a PostgreSQL version",
            stdout.trim()
        ));
    };
    if version.major() < server.major() {
        return Err(format!(
            "it is version {}, older than the server ({}); pg_dump must be at least the \
             server's major version",
            version.text, server.text
        ));
    }
    let pg_restore = program.with_file_name("pg_restore");
    if !pg_restore.is_file() {
        return Err(format!(
            "there is no pg_restore beside it ({} does not exist)",
            pg_restore.display()
        ));
    }
    Ok(Tools {
        pg_dump: program.to_path_buf(),
        pg_restore,
        version,
    })
}

/// The rows of one table, counted in the dump's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub schema: String,
    pub table: String,
    pub rows: i64,
}

impl TableCount {
    /// `schema.table`, quoted where needed, for messages.
    pub fn label(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

/// What the `backup` event records (its `detail`, as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// File name, inside `dir`.
    pub file: String,
    /// Absolute directory the file was written to.
    pub dir: PathBuf,
    pub size: u64,
    /// `sha256:<hex>` of the file.
    pub sha256: String,
    pub server_version: String,
    pub server_version_num: u32,
    pub pg_dump: PathBuf,
    pub pg_dump_version: String,
    /// Every table whose data the archive holds, with its rows in the dump's snapshot.
    pub tables: Vec<TableCount>,
    /// What the backup was taken for (`backup create`, `migrate apply`, ...).
    pub why: String,
}

impl Manifest {
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }
}

/// A backup the event log records.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The event's id.
    pub event: i64,
    pub at: OffsetDateTime,
    pub manifest: Manifest,
}

/// What [`take`] made.
#[derive(Debug, Clone)]
pub struct BackupRecord {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// Hash of the `backup` event.
    pub event_hash: String,
    /// Older backups removed to keep `keep`.
    pub pruned: Vec<PathBuf>,
}

/// The backup gate of `migrate apply` and `migrate down`: when `env` configures `backup`, a
/// verified backup (noted on stderr), else nothing. Errors carry their exit code.
pub async fn gate(
    env: &Environment,
    tools: &BackupToolsConfig,
    store: &mut StateStore,
    printer: &Printer,
    why: &str,
) -> anyhow::Result<Option<BackupRecord>> {
    if env.backup.is_none() {
        return Ok(None);
    }
    let backup = take(env, tools, store, printer, why)
        .await
        .map_err(BackupError::into_exit)?;
    printer.note(&format!(
        "backup of `{}`: {} ({}, {})",
        env.name,
        backup.path.display(),
        human_size(backup.manifest.size),
        backup.manifest.sha256
    ));
    Ok(Some(backup))
}

/// Takes a verified backup of `env` into its `backup.dir` and records it in `store` (the
/// environment's own state store; its schema is created when missing). The snapshot and the
/// counts use a connection of their own. `why` goes into the record.
///
/// Call it under the run's advisory lock, before the migration session runs anything.
pub async fn take(
    env: &Environment,
    tools: &BackupToolsConfig,
    store: &mut StateStore,
    printer: &Printer,
    why: &str,
) -> Result<BackupRecord, BackupError> {
    let config = env
        .backup
        .as_ref()
        .ok_or_else(|| BackupError::NotConfigured {
            env: env.name.clone(),
        })?;
    let name = env.name.as_str();
    let connect_error = |source| BackupError::Connect {
        env: name.to_string(),
        source,
    };
    let query_error = |source| BackupError::Query {
        env: name.to_string(),
        source,
    };
    let client = db::connect(&env.url).await.map_err(connect_error)?;
    let server = server_version(&client).await.map_err(query_error)?;
    let tools = find_tools(name, tools.pg_dump.as_deref(), &server).await?;
    store
        .ensure_schema()
        .await
        .map_err(|source| BackupError::State {
            env: name.to_string(),
            source,
        })?;
    let dir = absolute(&config.dir);
    create_dir(&dir).map_err(|source| BackupError::Io {
        env: name.to_string(),
        what: "cannot create the backup directory",
        path: dir.clone(),
        source,
    })?;
    printer.note(&format!(
        "backing up `{name}` (PostgreSQL {}) with {} {} into {}",
        server.text,
        tools.pg_dump.display(),
        tools.version.text,
        dir.display()
    ));

    // The snapshot the archive and the counts share; it lives as long as this transaction.
    let mut begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".to_string();
    if let Some(timeout) = env.lock_timeout {
        begin.push_str(&format!(
            "; SET LOCAL lock_timeout = '{}'",
            timeout.to_postgres()
        ));
    }
    client.batch_execute(&begin).await.map_err(query_error)?;
    let snapshot: String = client
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(query_error)?
        .get(0);
    let tables = user_tables(&client).await.map_err(query_error)?;

    let partial = tempfile::Builder::new()
        .prefix(".stagegate-partial-")
        .suffix(FILE_SUFFIX)
        .tempfile_in(&dir)
        .map_err(|source| BackupError::Io {
            env: name.to_string(),
            what: "cannot create a file in",
            path: dir.clone(),
            source,
        })?;
    set_mode(partial.path(), 0o600).map_err(|source| BackupError::Io {
        env: name.to_string(),
        what: "cannot restrict the permissions of",
        path: partial.path().to_path_buf(),
        source,
    })?;
    let connection = Connection::for_child(&env.url).map_err(|message| BackupError::Dump {
        env: name.to_string(),
        program: tools.pg_dump.clone(),
        message,
    })?;
    let mut args: Vec<OsString> = vec![
        "--format=custom".into(),
        "--no-password".into(),
        format!("--snapshot={snapshot}").into(),
    ];
    if let Some(timeout) = env.lock_timeout {
        args.push(format!("--lock-wait-timeout={}", timeout.as_millis()).into());
    }
    let mut file_arg = OsString::from("--file=");
    file_arg.push(partial.path());
    args.push(file_arg);

    let started = Instant::now();
    let dump = run_dump(&tools.pg_dump, &args, &connection, partial.path(), printer);
    let counts = count_rows(&client, &tables);
    let (dumped, counted) = tokio::join!(dump, counts);
    let _ = client.batch_execute("COMMIT").await;
    dumped.map_err(|mut message| {
        // pg_dump enforces --lock-wait-timeout with a statement timeout on its LOCK TABLE.
        if let Some(timeout) = env.lock_timeout
            && message.contains("LOCK TABLE")
            && message.contains("timeout")
        {
            message.push_str(&format!(
                " (it waited longer than the environment's lock_timeout of {timeout} for a                  table lock: another session holds a conflicting lock)"
            ));
        }
        BackupError::Dump {
            env: name.to_string(),
            program: tools.pg_dump.clone(),
            message,
        }
    })?;
    let tables = counted.map_err(|(table, error)| BackupError::Count {
        env: name.to_string(),
        table,
        message: db::with_causes(&error),
    })?;

    list_archive(&tools.pg_restore, partial.path())
        .await
        .map_err(|message| BackupError::Unreadable {
            env: name.to_string(),
            program: tools.pg_restore.clone(),
            message,
        })?;
    let (size, sha256) = hash_file(partial.path()).map_err(|source| BackupError::Io {
        env: name.to_string(),
        what: "cannot read",
        path: partial.path().to_path_buf(),
        source,
    })?;
    let (path, file) = persist(partial, &dir, name).map_err(|(path, source)| BackupError::Io {
        env: name.to_string(),
        what: "cannot move the finished archive to",
        path,
        source,
    })?;
    let manifest = Manifest {
        file: file.clone(),
        dir: dir.clone(),
        size,
        sha256: sha256.clone(),
        server_version: server.text.clone(),
        server_version_num: server.num,
        pg_dump: tools.pg_dump.clone(),
        pg_dump_version: tools.version.text.clone(),
        tables,
        why: why.to_string(),
    };
    let detail = serde_json::to_string(&manifest).expect("a manifest serialises");
    let os_user = state::os_user();
    let event_hash = match store
        .record_run_event(
            "backup",
            Some(&file),
            Some(&sha256),
            os_user.as_deref(),
            &detail,
        )
        .await
    {
        Ok(hash) => hash,
        Err(source) => {
            // A file the log does not vouch for is not a backup: never leave one behind.
            let _ = std::fs::remove_file(&path);
            return Err(BackupError::State {
                env: name.to_string(),
                source,
            });
        }
    };
    printer.note(&format!(
        "backup of `{name}`: {} ({}, {}) in {}",
        path.display(),
        human_size(size),
        sha256,
        elapsed(started.elapsed())
    ));
    let pruned = prune(store, name, &dir, config, printer).await;
    Ok(BackupRecord {
        path,
        manifest,
        event_hash,
        pruned,
    })
}

/// The server's version (`server_version_num`, and `server_version`'s first word).
pub async fn server_version(
    client: &tokio_postgres::Client,
) -> Result<PgVersion, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
            &[],
        )
        .await?;
    let num: i32 = row.get(0);
    let text: String = row.get(1);
    Ok(PgVersion {
        num: u32::try_from(num).unwrap_or(0),
        text: text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    })
}

/// The tables pg_dump writes data for: ordinary tables (partitions included; a partitioned
/// parent holds no rows of its own) outside the system schemas, not temporary, not part of
/// an extension.
async fn user_tables(
    client: &tokio_postgres::Client,
) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND c.relpersistence <> 't'
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.deptype = 'e')
             ORDER BY 1, 2",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Counts the rows of each table; on failure, which table and why.
async fn count_rows(
    client: &tokio_postgres::Client,
    tables: &[(String, String)],
) -> Result<Vec<TableCount>, (String, tokio_postgres::Error)> {
    let mut out = Vec::with_capacity(tables.len());
    for (schema, table) in tables {
        let label = format!("{}.{}", quote_ident(schema), quote_ident(table));
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM ONLY {label}"), &[])
            .await
            .map_err(|e| (label.clone(), e))?
            .get(0);
        out.push(TableCount {
            schema: schema.clone(),
            table: table.clone(),
            rows,
        });
    }
    Ok(out)
}

/// `"name"` with inner quotes doubled, unless it is a plain lower-case identifier.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// How a child program (pg_dump, pg_restore) reaches a database: `PG*` variables and a
/// passfile, never the command line.
pub struct Connection {
    vars: Vec<(&'static str, OsString)>,
    /// 0600, removed when dropped.
    passfile: Option<tempfile::NamedTempFile>,
    /// The same target as a libpq connection string without the password.
    conninfo: String,
}

/// Variables that would change where a child connects or how, cleared before ours are set.
const INHERITED_PG_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGSSLROOTCERT",
    "PGCONNECT_TIMEOUT",
    "PGTARGETSESSIONATTRS",
];

impl Connection {
    pub fn for_child(url: &DatabaseUrl) -> Result<Connection, String> {
        let (config, tls) = db::parse(url).map_err(|e| e.to_string())?;
        let mut vars: Vec<(&'static str, OsString)> = Vec::new();
        let mut info: Vec<(&str, String)> = Vec::new();
        match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => {
                vars.push(("PGHOST", host.into()));
                info.push(("host", host.clone()));
            }
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(dir)) => {
                vars.push(("PGHOST", dir.clone().into_os_string()));
                info.push(("host", dir.display().to_string()));
            }
            None => {}
        }
        if let Some(port) = config.get_ports().first() {
            vars.push(("PGPORT", port.to_string().into()));
            info.push(("port", port.to_string()));
        }
        if let Some(user) = config.get_user() {
            vars.push(("PGUSER", user.into()));
            info.push(("user", user.to_string()));
        }
        if let Some(dbname) = config.get_dbname() {
            vars.push(("PGDATABASE", dbname.into()));
            info.push(("dbname", dbname.to_string()));
        }
        let mode = match tls.mode {
            tls::SslMode::Disable => "disable",
            tls::SslMode::Allow => "allow",
            tls::SslMode::Prefer => "prefer",
            tls::SslMode::Require => "require",
            tls::SslMode::VerifyCa => "verify-ca",
            tls::SslMode::VerifyFull => "verify-full",
        };
        vars.push(("PGSSLMODE", mode.into()));
        if tls.mode != tls::SslMode::Prefer {
            info.push(("sslmode", mode.to_string()));
        }
        if let Some(root) = &tls.root_cert {
            vars.push(("PGSSLROOTCERT", root.clone().into_os_string()));
            info.push(("sslrootcert", root.display().to_string()));
        }
        if let Some(options) = config.get_options() {
            vars.push(("PGOPTIONS", options.into()));
            info.push(("options", options.to_string()));
        }
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(db::DEFAULT_CONNECT_TIMEOUT);
        vars.push((
            "PGCONNECT_TIMEOUT",
            timeout.as_secs().max(2).to_string().into(),
        ));
        vars.push(("PGAPPNAME", "stagegate-backup".into()));
        let passfile = match config.get_password() {
            Some(password) => {
                let password = String::from_utf8_lossy(password);
                let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
                let mut file = tempfile::Builder::new()
                    .prefix("stagegate-pgpass-")
                    .tempfile()
                    .map_err(|e| format!("cannot write a passfile: {e}"))?;
                set_mode(file.path(), 0o600).map_err(|e| format!("passfile: {e}"))?;
                std::io::Write::write_all(&mut file, format!("*:*:*:*:{escaped}\n").as_bytes())
                    .map_err(|e| format!("cannot write a passfile: {e}"))?;
                vars.push(("PGPASSFILE", file.path().as_os_str().to_owned()));
                Some(file)
            }
            None => None,
        };
        let conninfo = info
            .iter()
            .map(|(key, value)| format!("{key}={}", conninfo_value(value)))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Connection {
            vars,
            passfile,
            conninfo,
        })
    }

    /// A `tokio::process::Command` for `program` with these connection settings.
    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        for name in INHERITED_PG_VARS {
            command.env_remove(name);
        }
        command.envs(self.vars.iter().map(|(k, v)| (k, v)));
        command.stdin(Stdio::null()).kill_on_drop(true);
        command
    }

    /// The target as a libpq connection string, without the password (for a command a
    /// person pastes: libpq then takes the password from PGPASSWORD or ~/.pgpass).
    pub fn conninfo(&self) -> &str {
        &self.conninfo
    }

    pub fn has_password(&self) -> bool {
        self.passfile.is_some()
    }
}

fn conninfo_value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\']) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Runs pg_dump, showing progress; on failure, what it said.
async fn run_dump(
    program: &Path,
    args: &[OsString],
    connection: &Connection,
    file: &Path,
    printer: &Printer,
) -> Result<(), String> {
    let mut child = connection
        .command(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_text = tokio::spawn(async move {
        let mut buffer = Vec::new();
        let _ = stderr.read_to_end(&mut buffer).await;
        String::from_utf8_lossy(&buffer).into_owned()
    });
    let started = Instant::now();
    let mut last_note = Instant::now();
    let mut drew = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            () = tokio::time::sleep(PROGRESS_EVERY) => {
                let bytes = std::fs::metadata(file).map_or(0, |m| m.len());
                let line = format!(
                    "pg_dump: {} written, {}",
                    human_size(bytes),
                    elapsed(started.elapsed())
                );
                if printer.progress(&line) {
                    drew = true;
                } else if last_note.elapsed() >= NOTE_EVERY {
                    printer.note(&line);
                    last_note = Instant::now();
                }
            }
        }
    };
    if drew {
        printer.progress_end();
    }
    let status = status.map_err(|e| format!("waiting for it: {e}"))?;
    let said = stderr_text.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    Err(format!("{status}: {}", last_lines(&said)))
}

/// `pg_restore --list FILE`: the archive's table of contents, or why it cannot be read.
pub async fn list_archive(pg_restore: &Path, file: &Path) -> Result<String, String> {
    let output = tokio::process::Command::new(pg_restore)
        .arg("--list")
        .arg(file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{}: {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Restores `file` into the database `connection` names (`pg_restore --no-owner`); what
/// pg_restore said when it reported errors.
pub async fn restore(
    pg_restore: &Path,
    connection: &Connection,
    file: &Path,
) -> Result<(), String> {
    let output = connection
        .command(pg_restore)
        .arg("--no-password")
        // pg_restore needs the flag to restore at all; the password stays in the passfile.
        .arg(format!("--dbname={}", connection.conninfo()))
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg(file)
        .output()
        .await
        .map_err(|e| format!("cannot run it: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr))
        ))
    }
}

/// The last few lines a program wrote, redacted, on one line.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    let joined = lines[start..].join(" / ");
    if joined.is_empty() {
        "no message".to_string()
    } else {
        crate::config::redact_text(&joined)
    }
}

/// Size and `sha256:<hex>` of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, format!("sha256:{hex}")))
}

/// Moves the finished archive to its name, never over an existing file.
fn persist(
    partial: tempfile::NamedTempFile,
    dir: &Path,
    env: &str,
) -> Result<(PathBuf, String), (PathBuf, std::io::Error)> {
    let mut partial = partial;
    let mut attempt = 0;
    loop {
        let file = file_name(env, OffsetDateTime::now_utc(), attempt);
        let path = dir.join(&file);
        match partial.persist_noclobber(&path) {
            Ok(_) => return Ok((path, file)),
            Err(error)
                if error.error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 9 =>
            {
                partial = error.file;
                attempt += 1;
            }
            Err(error) => return Err((path, error.error)),
        }
    }
}

/// `stagegate-<env>-20261202T161530.123Z.dump` (`-1`, `-2`, ... before `.dump` when that
/// name is taken).
fn file_name(env: &str, at: OffsetDateTime, attempt: u32) -> String {
    let suffix = if attempt == 0 {
        String::new()
    } else {
        format!("-{attempt}")
    };
    format!(
        "{FILE_PREFIX}{env}-{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z{suffix}{FILE_SUFFIX}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Whether `file` has the name [`file_name`] gives a backup of `env`.
pub fn is_own_file_name(env: &str, file: &str) -> bool {
    let Some(rest) = file
        .strip_prefix(FILE_PREFIX)
        .and_then(|r| r.strip_prefix(env))
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(FILE_SUFFIX))
    else {
        return false;
    };
    let bytes = rest.as_bytes();
    bytes.len() >= 20
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'.'
        && bytes[16..19].iter().all(u8::is_ascii_digit)
        && bytes[19] == b'Z'
        && (bytes.len() == 20
            || (bytes[20] == b'-'
                && bytes.len() > 21
                && bytes[21..].iter().all(u8::is_ascii_digit)))
}

/// The backups `store` records, oldest first (events whose detail is not a manifest are
/// left out).
pub async fn recorded(store: &mut StateStore) -> Result<Vec<Recorded>, StateError> {
    Ok(store
        .backup_events()
        .await?
        .into_iter()
        .filter_map(|event| {
            let manifest: Manifest = serde_json::from_str(event.detail.as_deref()?).ok()?;
            Some(Recorded {
                event: event.id,
                at: event.at,
                manifest,
            })
        })
        .collect())
}

/// Removes the oldest of this environment's backups in `dir` beyond `keep`: only files named
/// as stagegate names them that the event log records; the newest is always kept. Problems
/// are warnings: the backup just taken stands.
async fn prune(
    store: &mut StateStore,
    env: &str,
    dir: &Path,
    config: &BackupConfig,
    printer: &Printer,
) -> Vec<PathBuf> {
    let keep = usize::try_from(config.keep.max(1)).unwrap_or(usize::MAX);
    let recorded = match recorded(store).await {
        Ok(recorded) => recorded,
        Err(error) => {
            printer.warning(&format!("not pruning old backups of `{env}`: {error}"));
            return Vec::new();
        }
    };
    // Newest first, each file once, only stagegate's own names in this directory.
    let mut seen = BTreeSet::new();
    let own: Vec<PathBuf> = recorded
        .iter()
        .rev()
        .filter(|r| r.manifest.dir == dir && is_own_file_name(env, &r.manifest.file))
        .filter(|r| seen.insert(r.manifest.file.clone()))
        .map(|r| r.manifest.path())
        .filter(|path| path.is_file())
        .collect();
    let mut pruned = Vec::new();
    for path in own.into_iter().skip(keep) {
        match std::fs::remove_file(&path) {
            Ok(()) => {
                printer.note(&format!(
                    "pruned {} (keep = {})",
                    path.display(),
                    config.keep
                ));
                pruned.push(path);
            }
            Err(error) => printer.warning(&format!(
                "cannot remove old backup {}: {error}",
                path.display()
            )),
        }
    }
    pruned
}

/// Creates `dir` (and its parents) with mode 0700 where missing.
fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `812 B`, `4.0 KiB`, `1.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn elapsed(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

/// `text` quoted for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_both_numbering_schemes() {
        let v15 =
            PgVersion::from_tool_output("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n")
                .unwrap();
        assert_eq!(
            (v15.num, v15.major(), v15.text.as_str()),
            (150020, 1500, "15.20")
        );
        let v96 = PgVersion::from_tool_output("pg_dump (PostgreSQL) 9.6.24").unwrap();
        assert_eq!(
            (v96.num, v96.major(), v96.major_text()),
            (90624, 906, "9.6".into())
        );
        let devel = PgVersion::from_tool_output("pg_dump (PostgreSQL) 18devel").unwrap();
        assert_eq!(devel.major_text(), "18");
        assert!(PgVersion::from_tool_output("pg_dump 1.0").is_none());
        assert!(v96.major() < v15.major());
    }

    #[test]
    fn own_file_names_are_recognised_and_nothing_else() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_692_130_123_000_000).unwrap();
        let name = file_name("prod-eu", at, 0);
        assert_eq!(name, "stagegate-prod-eu-20251202T161530.123Z.dump");
        assert!(is_own_file_name("prod-eu", &name));
        assert!(is_own_file_name("prod-eu", &file_name("prod-eu", at, 3)));
        assert!(!is_own_file_name("prod", &name), "another environment's");
        assert!(!is_own_file_name(
            "prod-eu",
            "stagegate-prod-eu-latest.dump"
        ));
        assert!(!is_own_file_name("prod-eu", "nightly.dump"));
        assert!(!is_own_file_name("prod-eu", &format!("{name}.bak")));
    }

    #[test]
    fn child_connection_keeps_the_password_out_of_vars_and_conninfo() {
        let url = DatabaseUrl::new(
            "postgres://app:hun%3Ater%5C2@db.internal:6432/app%20db?sslmode=require",
        );
        let connection = Connection::for_child(&url).unwrap();
        assert_eq!(
            connection.conninfo(),
            "host=db.internal port=6432 user=app dbname='app db' sslmode=require"
        );
        assert!(connection.has_password());
        for (_, value) in &connection.vars {
            assert!(!value.to_string_lossy().contains("hun"), "{value:?}");
        }
        let passfile = connection.passfile.as_ref().unwrap();
        let text = std::fs::read_to_string(passfile.path()).unwrap();
        assert_eq!(text, "*:*:*:*:hun\\:ter\\\\2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(passfile.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn quoting_for_sql_and_shell() {
        assert_eq!(quote_ident("users"), "users");
        assert_eq!(quote_ident("Users"), "\"Users\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(shell_quote("/tmp/x.dump"), "/tmp/x.dump");
        assert_eq!(shell_quote("host=h dbname=x"), "'host=h dbname=x'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
