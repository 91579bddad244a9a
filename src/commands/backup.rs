//! `stagegate backup create|list|verify`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backup::{self, BackupError, Manifest, Recorded};
use crate::cli::{BackupEnvArgs, BackupListArgs, BackupVerifyArgs, TableFormat};
use crate::config::{Config, DatabaseUrl, Environment};
use crate::db;
use crate::db::lock::{self, AdvisoryLock};
use crate::db::state::{StateError, StateStore};
use crate::exit::{self, Outcome};
use crate::human;
use crate::printer::Printer;
use crate::scratch::{ScratchDb, ScratchServer};
use crate::target::Target;

/// Prefix of the scratch databases `backup verify --scratch` restores into.
const NAME_PREFIX: &str = "stagegate_backup_";

fn state_error(error: StateError) -> anyhow::Error {
    match error {
        StateError::NewerSchema { .. } => exit::refused(error),
        other => exit::execution(other),
    }
}

/// `backup create`: exit 0 with the file, its size and SHA-256 on stdout; 2 when the
/// environment has no `backup = {...}`; 3 when no backup could be taken (pg_dump missing,
/// older than the server or failing, the archive unreadable); 4 when the database fails.
pub(super) fn create(
    config: &Config,
    args: &BackupEnvArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    if env.backup.is_none() {
        return Err(BackupError::NotConfigured { env: env.name }.into());
    }
    let wait = lock::configured_wait().map_err(anyhow::Error::msg)?;
    let record = db::runtime()?.block_on(async {
        // One stagegate run per database: a backup does not start while an apply runs.
        let lock = AdvisoryLock::acquire(&env.url, wait, |holder| {
            printer.note(&format!(
                "waiting up to {}s for another stagegate run on `{}` ({})",
                wait.as_secs(),
                env.name,
                holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
            ));
        })
        .await
        .map_err(|error| {
            if error.is_busy() {
                exit::refused(error)
            } else if error.is_pooler() {
                anyhow::Error::from(error)
            } else {
                exit::execution(error)
            }
        })?;
        let result = async {
            let mut store = StateStore::connect(&env.url)
                .await
                .map_err(exit::execution)?;
            let taken = backup::take(&env, &config.backup, &mut store, printer, "backup create")
                .await
                .map_err(BackupError::into_exit);
            store.close().await;
            taken
        }
        .await;
        lock.release().await;
        result
    })?;
    let manifest = &record.manifest;
    let mut out = String::new();
    let _ = writeln!(out, "file:   {}", record.path.display());
    let _ = writeln!(
        out,
        "size:   {} ({} bytes)",
        human::bytes(manifest.size),
        manifest.size
    );
    let _ = writeln!(out, "sha256: {}", manifest.sha256);
    let rows: i64 = manifest.tables.iter().map(|t| t.rows).sum();
    let _ = writeln!(
        out,
        "tables: {} ({rows} rows, counted in the dump's snapshot)",
        manifest.tables.len()
    );
    super::print_report(&out)?;
    Ok(Outcome::Success)
}

#[derive(Debug, Serialize)]
struct ListedBackup {
    event: i64,
    #[serde(serialize_with = "crate::json::utc")]
    at: time::OffsetDateTime,
    file: String,
    path: PathBuf,
    size: u64,
    sha256: String,
    /// The file exists with the recorded size.
    present: bool,
    server_version: String,
    pg_dump_version: String,
    tables: usize,
    rows: i64,
    why: String,
    /// Restores it into the database it was taken from (objects it holds are dropped first).
    restore_command: String,
}

/// `backup list`: exit 0; 4 when the database cannot be read.
pub(super) fn list(
    config: &Config,
    args: &BackupListArgs,
    _printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let target = env.url.target()?;
    let recorded = read_recorded(&env.url)?;
    let listed: Vec<ListedBackup> = recorded
        .iter()
        .map(|r| {
            let path = r.manifest.path();
            let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == r.manifest.size);
            ListedBackup {
                event: r.event,
                at: r.at,
                file: r.manifest.file.clone(),
                size: r.manifest.size,
                sha256: r.manifest.sha256.clone(),
                present,
                server_version: r.manifest.server_version.clone(),
                pg_dump_version: r.manifest.pg_dump_version.clone(),
                tables: r.manifest.tables.len(),
                rows: r.manifest.tables.iter().map(|t| t.rows).sum(),
                why: r.manifest.why.clone(),
                restore_command: restore_command(&r.manifest, target),
                path,
            }
        })
        .collect();
    match args.format {
        TableFormat::Json => super::print_document(&crate::json::to_string(serde_json::json!({
            "environment": env.name,
            "backups": listed,
        }))?)?,
        TableFormat::Table => {
            super::print_report(&render_list(&env, &listed, target.has_password()))?
        }
    }
    Ok(Outcome::Success)
}

fn read_recorded(url: &DatabaseUrl) -> anyhow::Result<Vec<Recorded>> {
    db::runtime()?.block_on(async {
        let mut store = StateStore::connect(url).await.map_err(exit::execution)?;
        let recorded = backup::recorded(&mut store).await.map_err(state_error);
        store.close().await;
        recorded
    })
}

/// The pg_restore beside the pg_dump that made the archive, restoring into the database it
/// came from.
fn restore_command(manifest: &Manifest, target: &Target) -> String {
    let pg_restore = manifest.pg_dump.with_file_name("pg_restore");
    format!(
        "{} --clean --if-exists --single-transaction --dbname={} {}",
        shell_quote(&pg_restore.display().to_string()),
        shell_quote(&target.conninfo()),
        shell_quote(&manifest.path().display().to_string())
    )
}

/// `text` quoted for a POSIX shell.
fn shell_quote(text: &str) -> String {
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

fn render_list(env: &Environment, listed: &[ListedBackup], has_password: bool) -> String {
    let mut out = format!("backups of `{}`\n", env.name);
    if listed.is_empty() {
        out.push_str("no backups recorded\n");
        return out;
    }
    out.push_str(&super::table::render_fit(
        &[
            "at (UTC)", "file", "size", "sha256", "on disk", "tables", "why",
        ],
        listed
            .iter()
            .map(|b| {
                vec![
                    super::table::date(b.at),
                    b.file.clone(),
                    human::bytes(b.size),
                    super::table::short_hash(&b.sha256),
                    if b.present { "yes" } else { "missing" }.to_string(),
                    format!("{} ({} rows)", b.tables, b.rows),
                    b.why.clone(),
                ]
            })
            .collect(),
        // file, why: the file names are whole in the restore commands below.
        &[1, 6],
        12,
        None,
    ));
    out.push_str(
        "\nto restore one into the database it was taken from (what the archive holds is \
         dropped and recreated, in one transaction):\n",
    );
    for b in listed.iter().rev() {
        let _ = writeln!(out, "  # {} ({})", b.file, super::table::date(b.at));
        let _ = writeln!(out, "  {}", b.restore_command);
    }
    if has_password {
        out.push_str(
            "the password is not part of the command: give it with PGPASSWORD or ~/.pgpass\n",
        );
    }
    out
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    environment: String,
    file: PathBuf,
    sha256: String,
    checks: Vec<Check>,
    ok: bool,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

/// `backup verify`: exit 0 when every check passes; 3 when one does not (SHA-256, size,
/// table of contents, restored row counts); 2 for a file that is not a recorded backup of
/// the environment; 4 when a database fails.
pub(super) fn verify(
    config: &Config,
    args: &BackupVerifyArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let into = args.restore_into.as_deref().map(DatabaseUrl::new);
    if let Some(into) = &into {
        refuse_same_database(&env, into)?;
    }
    let recorded = read_recorded(&env.url)?;
    let chosen = match &args.file {
        Some(file) => find_recorded(&env, &recorded, file)?,
        None => recorded.last().ok_or_else(|| {
            anyhow::anyhow!(
                "no backups of `{}` are recorded; take one with `stagegate backup create --env {}`",
                env.name,
                env.name
            )
        })?,
    };
    let manifest = &chosen.manifest;
    let path = match &args.file {
        Some(file) => file.clone(),
        None => manifest.path(),
    };
    let mut checks = Vec::new();
    let hashed = backup::hash_file(&path);
    let readable = match hashed {
        Err(error) => {
            checks.push(Check {
                name: "file",
                ok: false,
                detail: format!("cannot read {}: {error}", path.display()),
            });
            false
        }
        Ok((size, sha256)) => {
            checks.push(Check {
                name: "sha256",
                ok: sha256 == manifest.sha256,
                detail: if sha256 == manifest.sha256 {
                    format!("{sha256} as recorded")
                } else {
                    format!(
                        "sha256 mismatch: the file hashes to {sha256}, the backup was recorded \
                         as {}",
                        manifest.sha256
                    )
                },
            });
            checks.push(Check {
                name: "size",
                ok: size == manifest.size,
                detail: if size == manifest.size {
                    format!("{size} bytes as recorded")
                } else {
                    format!("{size} bytes, recorded as {}", manifest.size)
                },
            });
            true
        }
    };
    if readable {
        // The scratch server lives (a throwaway cluster runs) until the checks are done.
        let scratch_server = match &args.scratch.url {
            Some(flag) => Some(ScratchServer::resolve(
                config,
                Some(flag.as_str()),
                printer,
            )?),
            None => None,
        };
        db::runtime()?.block_on(async {
            let server = server_version_of(&env).await?;
            let tools = crate::programs::client_tools(config.backup.pg_dump.as_deref(), &server)
                .map_err(|attempts| {
                    BackupError::NoPgDump {
                        env: env.name.clone(),
                        server: server.text.clone(),
                        attempts,
                    }
                    .into_exit()
                })?;
            checks.push(contents_check(&tools.pg_restore, &path, manifest).await);
            if !checks.iter().all(|c| c.ok) {
                return Ok(());
            }
            if let Some(into) = &into {
                checks
                    .push(restore_check(&tools.pg_restore, into, &path, manifest, printer).await?);
            } else if let Some(scratch_server) = &scratch_server {
                let scratch = scratch_server.database(NAME_PREFIX).await?;
                let by_hand = format!("drop it by hand: DROP DATABASE {}", scratch.name);
                let restored = async |scratch: &ScratchDb| {
                    restore_check(&tools.pg_restore, &scratch.url, &path, manifest, printer).await
                };
                checks.push(scratch.run_then_remove(restored, &by_hand, printer).await?);
            }
            Ok::<_, anyhow::Error>(())
        })?;
    }
    let ok = checks.iter().all(|c| c.ok);
    let report = VerifyReport {
        environment: env.name.clone(),
        file: path,
        sha256: manifest.sha256.clone(),
        checks,
        ok,
    };
    match args.format {
        TableFormat::Json => super::print_document(&crate::json::to_string(&report)?)?,
        TableFormat::Table => super::print_report(&render_verify(&report))?,
    }
    if let Some(failed) = report.checks.iter().find(|c| !c.ok) {
        printer.error(&format!(
            "backup {} of `{}` does not verify: {}",
            report.file.display(),
            report.environment,
            failed.detail
        ));
        return Ok(Outcome::Refused);
    }
    Ok(Outcome::Success)
}

fn find_recorded<'a>(
    env: &Environment,
    recorded: &'a [Recorded],
    file: &Path,
) -> anyhow::Result<&'a Recorded> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    recorded
        .iter()
        .rev()
        .find(|r| r.manifest.file == name)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not a backup recorded for `{}` (its event log knows {} backup(s); \
                 `stagegate backup list --env {}` shows them)",
                file.display(),
                env.name,
                recorded.len(),
                env.name
            )
        })
}

async fn server_version_of(env: &Environment) -> anyhow::Result<crate::programs::PgVersion> {
    let client = db::connect(&env.url).await.map_err(exit::execution)?;
    backup::server_version(&client)
        .await
        .map_err(exit::execution)
}

/// The archive's table of contents lists data for every table the manifest counted.
async fn contents_check(pg_restore: &Path, file: &Path, manifest: &Manifest) -> Check {
    let list = match backup::list_archive(pg_restore, file).await {
        Ok(list) => list,
        Err(message) => {
            return Check {
                name: "contents",
                ok: false,
                detail: format!(
                    "`{} --list` cannot read it: {message}",
                    pg_restore.display()
                ),
            };
        }
    };
    let entries = list
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .count();
    let missing: Vec<String> = manifest
        .tables
        .iter()
        .filter(|t| {
            let needle = format!(" TABLE DATA {} {} ", t.schema, t.table);
            !list.lines().any(|line| line.contains(&needle))
        })
        .map(|t| t.label())
        .collect();
    if missing.is_empty() {
        Check {
            name: "contents",
            ok: true,
            detail: format!(
                "{entries} entries; data of all {} recorded tables",
                manifest.tables.len()
            ),
        }
    } else {
        Check {
            name: "contents",
            ok: false,
            detail: format!(
                "the table of contents has no data for {} recorded table(s): {}",
                missing.len(),
                missing.join(", ")
            ),
        }
    }
}

/// Restores into `into` and compares each table's rows with the manifest.
async fn restore_check(
    pg_restore: &Path,
    into: &DatabaseUrl,
    file: &Path,
    manifest: &Manifest,
    printer: &Printer,
) -> anyhow::Result<Check> {
    let client = db::connect(into).await.map_err(exit::execution)?;
    let existing: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_%'",
            &[],
        )
        .await
        .map_err(exit::execution)?
        .get(0);
    if existing > 0 {
        printer.warning(&format!(
            "the database {into} already holds {existing} table(s); the backup is restored on \
             top of them"
        ));
    }
    printer.note(&format!("restoring {} into {into}", file.display()));
    let restored = backup::restore(pg_restore, into.target()?, file).await;
    let mut differences = Vec::new();
    for table in &manifest.tables {
        let sql = format!("SELECT count(*) FROM ONLY {}", table.label());
        match client.query_one(&sql, &[]).await {
            Ok(row) => {
                let found: i64 = row.get(0);
                if found != table.rows {
                    differences.push(format!(
                        "{}: {} rows recorded, {found} after restore",
                        table.label(),
                        table.rows
                    ));
                }
            }
            Err(error) => differences.push(format!(
                "{}: {} rows recorded, cannot count after restore ({})",
                table.label(),
                table.rows,
                db::with_causes(&error)
            )),
        }
    }
    let mut problems = Vec::new();
    if let Err(message) = restored {
        problems.push(format!("pg_restore reported errors ({message})"));
    }
    if !differences.is_empty() {
        problems.push(format!(
            "{} table(s) differ: {}",
            differences.len(),
            differences.join("; ")
        ));
    }
    Ok(if problems.is_empty() {
        Check {
            name: "restore",
            ok: true,
            detail: format!(
                "restored into {into}; the row counts of all {} tables match the counts taken in \
                 the dump's snapshot",
                manifest.tables.len()
            ),
        }
    } else {
        Check {
            name: "restore",
            ok: false,
            detail: format!("restored into {into}: {}", problems.join("; ")),
        }
    })
}

/// The environment's own database would get the backup restored over the live data.
fn refuse_same_database(env: &Environment, into: &DatabaseUrl) -> anyhow::Result<()> {
    if env.url.target()?.same_database(into.target()?) {
        anyhow::bail!(
            "--restore-into names the database of `{}` itself ({into}); verify restores into \
             another database, never into the one that was backed up",
            env.name
        );
    }
    Ok(())
}

fn render_verify(report: &VerifyReport) -> String {
    let mut out = format!(
        "backup {} of `{}`\n",
        report.file.display(),
        report.environment
    );
    for check in &report.checks {
        let _ = writeln!(
            out,
            "  {:<8} {}  {}",
            check.name,
            if check.ok { "ok" } else { "FAILED" },
            check.detail
        );
    }
    out.push_str(if report.ok {
        "verified\n"
    } else {
        "verify FAILED\n"
    });
    out
}
