//! Taking one backup: the snapshot, pg_dump and the counts in it, the checks, the record.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;

use super::BackupError;
use super::archive::{self, last_lines};
use super::manifest::{self, Manifest, TableCount};
use crate::config::{BackupToolsConfig, Environment};
use crate::db::state::{self, StateStore};
use crate::db::{self, DbError};
use crate::human;
use crate::programs::{self, ClientTools, PgVersion};
use crate::progress::Progress;
use crate::sql::quote_ident;
use crate::target::Target;

/// How often a dump's progress is looked at.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Without a terminal, a note this often for a dump that takes long.
const NOTE_EVERY: Duration = Duration::from_secs(30);

/// What [`take`] made.
#[derive(Debug, Clone)]
pub(crate) struct BackupRecord {
    pub path: PathBuf,
    pub manifest: Manifest,
}

/// Takes a verified backup of `env` into its `backup.dir` and records it in `store` (the
/// environment's own state store; its schema is created when missing). The snapshot and the
/// counts use a connection of their own. `why` goes into the record.
///
/// Ctrl-C, SIGTERM or SIGHUP while the archive is written or checked ends it with
/// [`BackupError::Interrupted`]: pg_dump is killed and the partial file removed.
///
/// Call it under the run's advisory lock, before the migration session runs anything.
pub(crate) async fn take(
    env: &Environment,
    tools: &BackupToolsConfig,
    store: &mut StateStore,
    progress: &dyn Progress,
    why: &str,
) -> Result<BackupRecord, BackupError> {
    let config = env
        .backup
        .as_ref()
        .ok_or_else(|| BackupError::NotConfigured {
            env: env.name.clone(),
        })?;
    let name = env.name.as_str();
    let errors = Errors(name);
    let target = env
        .url
        .target()
        .map_err(|e| errors.connect(DbError::BadUrl(e)))?;
    let client = db::connect(&env.url).await.map_err(|e| errors.connect(e))?;
    let server = server_version(&client).await.map_err(|e| errors.query(e))?;
    let tools = programs::client_tools(tools.pg_dump.as_deref(), &server).map_err(|attempts| {
        BackupError::NoPgDump {
            env: name.to_string(),
            server: server.text.clone(),
            attempts,
        }
    })?;
    store
        .ensure_schema()
        .await
        .map_err(|source| BackupError::State {
            env: name.to_string(),
            source,
        })?;
    let dir = std::path::absolute(&config.dir).unwrap_or_else(|_| config.dir.clone());
    archive::create_dir(&dir)
        .map_err(|e| errors.io("cannot create the backup directory", &dir, e))?;
    progress.note(&format!(
        "backing up `{name}` (PostgreSQL {}) with {} {} into {}",
        server.text,
        tools.pg_dump.display(),
        tools.version.text,
        dir.display()
    ));

    let started = Instant::now();
    let written =
        crate::signals::or_interrupted(write(env, target, &client, &tools, &dir, progress)).await;
    let (partial, tables, size, sha256) = match written {
        Ok(written) => {
            let _ = client.batch_execute("COMMIT").await;
            written?
        }
        Err(signal) => {
            // pg_dump is killed and the partial file gone (both dropped with `write`); the
            // count the snapshot connection may still be waiting for is cancelled, and the
            // connection closes with the client.
            if let Ok(connector) = target.tls().connector() {
                let _ = client.cancel_token().cancel_query(connector).await;
            }
            return Err(BackupError::Interrupted {
                env: name.to_string(),
                signal,
            });
        }
    };

    // Quick and not interrupted: a file in place is recorded, or removed.
    let (path, file) = archive::persist(partial, &dir, name, time::OffsetDateTime::now_utc())
        .map_err(|(path, source)| {
            errors.io("cannot move the finished archive to", &path, source)
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
    if let Err(source) = store
        .record_run_event(
            "backup",
            Some(&file),
            Some(&sha256),
            os_user.as_deref(),
            &detail,
        )
        .await
    {
        // A file the log does not vouch for is not a backup: never leave one behind.
        let _ = std::fs::remove_file(&path);
        return Err(BackupError::State {
            env: name.to_string(),
            source,
        });
    }
    progress.note(&format!(
        "backup of `{name}`: {} ({}, {}) in {}",
        path.display(),
        human::bytes(size),
        sha256,
        human::elapsed(started.elapsed())
    ));
    manifest::prune(store, name, &dir, config, progress).await;
    Ok(BackupRecord { path, manifest })
}

/// The archive, written and checked but not yet in place: the partial file (removed if
/// dropped), the tables counted in its snapshot, its size and SHA-256.
type Written = (tempfile::NamedTempFile, Vec<TableCount>, u64, String);

/// Steps 2 and 3 of the module's list: the snapshot, pg_dump with the counts beside it, then
/// `pg_restore --list` and the hash. The snapshot's transaction stays open on `client`.
async fn write(
    env: &Environment,
    target: &Target,
    client: &tokio_postgres::Client,
    tools: &ClientTools,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Written, BackupError> {
    let name = env.name.as_str();
    let errors = Errors(name);
    // The snapshot the archive and the counts share; it lives as long as this transaction.
    let mut begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".to_string();
    if let Some(timeout) = env.lock_timeout {
        begin.push_str(&format!(
            "; SET LOCAL lock_timeout = '{}'",
            timeout.to_postgres()
        ));
    }
    client
        .batch_execute(&begin)
        .await
        .map_err(|e| errors.query(e))?;
    let snapshot: String = client
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(|e| errors.query(e))?
        .get(0);
    let tables = user_tables(client).await.map_err(|e| errors.query(e))?;

    let partial =
        archive::partial(dir).map_err(|e| errors.io("cannot create a file in", dir, e))?;
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

    let dump = run_dump(&tools.pg_dump, &args, target, partial.path(), progress);
    let counts = count_rows(client, &tables);
    let (dumped, counted) = tokio::join!(dump, counts);
    dumped.map_err(|mut message| {
        // pg_dump enforces --lock-wait-timeout with a statement timeout on its LOCK TABLE.
        if let Some(timeout) = env.lock_timeout
            && message.contains("LOCK TABLE")
            && message.contains("timeout")
        {
            message.push_str(&format!(
                " (it waited longer than the environment's lock_timeout of {timeout} for a \
                 table lock: another session holds a conflicting lock)"
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
    archive::list_archive(&tools.pg_restore, partial.path())
        .await
        .map_err(|message| BackupError::Unreadable {
            env: name.to_string(),
            program: tools.pg_restore.clone(),
            message,
        })?;
    let (size, sha256) = archive::hash_file(partial.path())
        .map_err(|e| errors.io("cannot read", partial.path(), e))?;
    Ok((partial, tables, size, sha256))
}

/// Errors of one environment's backup.
#[derive(Clone, Copy)]
struct Errors<'a>(&'a str);

impl Errors<'_> {
    fn connect(self, source: DbError) -> BackupError {
        BackupError::Connect {
            env: self.0.to_string(),
            source,
        }
    }

    fn query(self, source: tokio_postgres::Error) -> BackupError {
        BackupError::Query {
            env: self.0.to_string(),
            source,
        }
    }

    fn io(self, what: &'static str, path: &Path, source: std::io::Error) -> BackupError {
        BackupError::Io {
            env: self.0.to_string(),
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The server's version (`server_version_num`, and `server_version`'s first word).
pub(crate) async fn server_version(
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

/// Runs pg_dump against `target`, showing progress; on failure, what it said. Dropping the
/// future kills it.
async fn run_dump(
    program: &Path,
    args: &[OsString],
    target: &Target,
    file: &Path,
    progress: &dyn Progress,
) -> Result<(), String> {
    let mut command = programs::tokio_command(program);
    target
        .child_env("stagegate-backup")
        .map_err(|e| format!("cannot write a passfile: {e}"))?
        .apply_tokio(&mut command);
    let mut child = command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    // The passfile is the child's alone from here on.
    drop(command);
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
                    human::bytes(bytes),
                    human::elapsed(started.elapsed())
                );
                if progress.status(&line) {
                    drew = true;
                } else if last_note.elapsed() >= NOTE_EVERY {
                    progress.note(&line);
                    last_note = Instant::now();
                }
            }
        }
    };
    if drew {
        progress.status_end();
    }
    let status = status.map_err(|e| format!("waiting for it: {e}"))?;
    let said = stderr_text.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    Err(format!("{status}: {}", last_lines(&said)))
}
