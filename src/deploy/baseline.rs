//! `migrate baseline`: adopt a database another runner migrated.
//!
//! The versions that runner's own table says are applied (or, with `--to V`, every local
//! migration up to V) are recorded as applied and marked baselined, each with a `baseline`
//! event carrying the reason. No migration's SQL runs. Where the runner kept a checksum
//! (sqlx's SHA-384, Flyway's CRC32) it is compared with the file first: a file edited since
//! the runner applied it is refused, and nothing is recorded.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::LocalMigration;
use super::confirm;
use crate::config::Environment;
use crate::db::runners::{self, ForeignRunner, RowKind, RunnerChecksum, RunnerRow, RunnerTable};
use crate::db::state::{BaselineRecord, MigrationRow, RowStatus, StateStore};
use crate::exit;
use crate::progress::Sink;
use crate::source::Version;
use sha2::{Digest, Sha256, Sha384};

/// Where the list of applied versions comes from.
#[derive(Debug, Clone)]
pub(crate) enum BaselineSource {
    /// The runner's table; `None`: the one runner table the database has.
    Runner(Option<ForeignRunner>),
    /// `--to V`: every local migration up to and including V.
    UpTo(Version),
}

pub(crate) struct BaselineOptions<'a> {
    pub source: BaselineSource,
    pub reason: &'a str,
    pub confirm: confirm::ConfirmRequest,
    pub lock_wait: Duration,
    pub migrations_dir: &'a Path,
}

/// What a baseline did.
#[derive(Debug, Default)]
pub(crate) struct BaselineReport {
    /// `sqlx (public._sqlx_migrations)` or `--to 3`.
    pub source: String,
    /// Labels recorded as baselined now.
    pub recorded: Vec<String>,
    /// Labels stagegate had already recorded as applied; left as they were.
    pub already: Vec<String>,
    /// Local migrations the runner did not apply: they stay pending.
    pub pending: Vec<String>,
    /// Versions the runner applied that have no local file: not recorded.
    pub without_file: Vec<String>,
}

/// A local migration chosen for the baseline, with what the runner's row said of it.
struct Chosen<'a> {
    local: &'a LocalMigration,
    row: Option<&'a RunnerRow>,
}

pub(crate) async fn baseline(
    env: &Environment,
    local: &[LocalMigration],
    options: &BaselineOptions<'_>,
    progress: &Sink,
) -> anyhow::Result<BaselineReport> {
    if crate::visible::is_blank(options.reason) {
        anyhow::bail!(
            "--reason must say why these migrations count as applied (it is recorded in the \
             event log)"
        );
    }
    confirm::check_flags(env, &options.confirm, "baseline")?;
    let lock = super::runner::lock_alone(env, options.lock_wait, progress).await?;
    let result = async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        let result = run(env, local, options, &mut store, progress).await;
        store.close().await;
        result
    }
    .await;
    lock.release().await;
    result
}

async fn run(
    env: &Environment,
    local: &[LocalMigration],
    options: &BaselineOptions<'_>,
    store: &mut StateStore,
    progress: &Sink,
) -> anyhow::Result<BaselineReport> {
    let mut report = BaselineReport::default();
    let runner_rows: Vec<RunnerRow>;
    let (chosen, table) = match &options.source {
        BaselineSource::UpTo(to) => {
            // A version, or an Alembic revision id.
            let Some(target) = local
                .iter()
                .find(|m| m.migration.version.matches(to.as_str()))
            else {
                anyhow::bail!(
                    "--to {to}: no local migration has that version (see `stagegate migrate \
                     status --env {}`)",
                    env.name
                );
            };
            report.source = format!("--to {to}");
            // It and what comes before it: for a revision, the revisions it follows.
            let chosen: Vec<Chosen> = local
                .iter()
                .filter(|m| {
                    m.migration.version == target.migration.version
                        || m.migration.precedes(&target.migration)
                })
                .map(|local| Chosen { local, row: None })
                .collect();
            (chosen, None)
        }
        BaselineSource::Runner(wanted) => {
            let table = pick_table(env, store, *wanted).await?;
            progress.note(&format!(
                "reading {} ({}'s table) in `{}`",
                table.display(),
                table.runner,
                env.name
            ));
            runner_rows = runners::read(store, &table)
                .await
                .map_err(exit::execution)?;
            report.source = format!("{} ({})", table.runner, table.display());
            let chosen = choose(&table, local, &runner_rows, &mut report)?;
            (chosen, Some(table))
        }
    };
    if let Some(table) = &table {
        let mismatches = checksum_mismatches(table, &chosen);
        if !mismatches.is_empty() {
            let mut message = format!(
                "refusing to baseline `{}`: {} file(s) differ from what {} applied (edited \
                 since); nothing was recorded:",
                env.name,
                mismatches.len(),
                table.runner
            );
            for mismatch in &mismatches {
                write!(message, "\n  {mismatch}").ok();
            }
            write!(
                message,
                "\nrestore the files as they were applied, or, once you have checked the \
                 database matches them, baseline by hand: `stagegate migrate baseline --env {} \
                 --to VERSION --reason \"...\"`",
                env.name
            )
            .ok();
            return Err(exit::refused(anyhow::anyhow!(message)));
        }
    }
    // Only on this environment's database, with rows that verify.
    let snapshot = super::gates::trusted_snapshot(env, store, "baseline").await?;
    let recorded_rows = snapshot.rows;
    let mut to_record: Vec<&Chosen> = Vec::new();
    let mut conflicts = Vec::new();
    for choice in &chosen {
        let canonical = choice.local.canonical();
        match recorded_rows.iter().find(|r| r.version == canonical) {
            None => to_record.push(choice),
            Some(MigrationRow {
                status: RowStatus::Applied,
                ..
            }) => report.already.push(choice.local.migration.label()),
            Some(row) => conflicts.push(format!(
                "{}: stagegate recorded it as {} here",
                choice.local.migration.label(),
                row.status.as_str()
            )),
        }
    }
    if !conflicts.is_empty() {
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to baseline `{}`: stagegate has its own record of {} of these \
             migration(s), which baseline does not overwrite; nothing was recorded:\n  {}\nsee \
             `stagegate migrate status --env {}`",
            env.name,
            conflicts.len(),
            conflicts.join("\n  "),
            env.name
        )));
    }
    if to_record.is_empty() {
        return Ok(report);
    }
    let os_user = crate::db::state::os_user();
    let what = format!("baseline {} migration(s)", to_record.len());
    let mut summary = format!(
        "{what} on `{}` from {}: recorded as applied, no SQL is run\n",
        env.name, report.source
    );
    for choice in &to_record {
        writeln!(summary, "  {}", choice.local.migration.label()).ok();
    }
    confirm::gate(
        env,
        confirm::ConfirmedStep {
            action: "baseline",
            summary,
            what,
            migrations: to_record
                .iter()
                .map(|c| c.local.migration.version.to_string())
                .collect(),
            plan_hash: None,
            request: &options.confirm,
            migrations_dir: options.migrations_dir,
            os_user: os_user.as_deref(),
        },
        store,
    )
    .await?;
    // After the gate, so that a refusal leaves the database as it was. Like the first
    // apply, the first baseline binds the database to this environment: another name for it
    // then refuses ([`super::gates::environment_gate`]).
    store.ensure_schema().await.map_err(exit::execution)?;
    let identity = store.server_identity().await.map_err(exit::execution)?;
    super::gates::bind_unbound(
        env,
        snapshot.binding.as_ref(),
        &identity,
        "first baseline",
        store,
        os_user.as_deref(),
    )
    .await?;
    let mut owned = Vec::with_capacity(to_record.len());
    for choice in &to_record {
        let migration = &choice.local.migration;
        let down = migration.load_down()?;
        let verify = migration.load_verify()?;
        let statements = super::runner::sql_statements(&choice.local.up.text).len();
        let detail = serde_json::json!({
            "reason": options.reason.trim(),
            "from": table.as_ref().map_or("manual", |t| t.runner.name()),
            "table": table.as_ref().map(RunnerTable::display),
            "runner_version": choice.row.map(|r| r.version.clone()),
            "runner_checksum": choice.row.and_then(|r| r.checksum.as_ref()).map(checksum_text),
        })
        .to_string();
        owned.push((
            choice,
            down.map(|d| d.checksum.to_string()),
            verify.map(|v| v.checksum.to_string()),
            i32::try_from(statements).unwrap_or(i32::MAX),
            detail,
        ));
    }
    let canonicals: Vec<String> = to_record.iter().map(|c| c.local.canonical()).collect();
    let checksums: Vec<String> = to_record
        .iter()
        .map(|c| c.local.up.checksum.to_string())
        .collect();
    let records: Vec<BaselineRecord> = owned
        .iter()
        .zip(canonicals.iter().zip(&checksums))
        .map(
            |((choice, down, verify, total, detail), (canonical, checksum))| BaselineRecord {
                version: canonical,
                version_text: choice.local.migration.version.as_str(),
                name: &choice.local.migration.name,
                checksum,
                down_checksum: down.as_deref(),
                verify_checksum: verify.as_deref(),
                no_transaction: choice.local.up.settings.no_transaction,
                os_user: os_user.as_deref(),
                statements_total: *total,
                applied_at: choice.row.and_then(|r| r.applied_at),
                from: table.as_ref().map_or("manual", |t| t.runner.name()),
                detail,
            },
        )
        .collect();
    store.baseline(&records).await.map_err(exit::execution)?;
    report.recorded = to_record
        .iter()
        .map(|c| c.local.migration.label())
        .collect();
    Ok(report)
}

/// The runner table to read: the one named, else the only one there.
async fn pick_table(
    env: &Environment,
    store: &mut StateStore,
    wanted: Option<ForeignRunner>,
) -> anyhow::Result<RunnerTable> {
    let tables = runners::find_tables(store).await.map_err(exit::execution)?;
    let by_hand = format!(
        "`stagegate migrate baseline --env {} --to VERSION --reason \"...\"`",
        env.name
    );
    match wanted {
        Some(runner) => tables
            .into_iter()
            .find(|t| t.runner == runner)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`{}` has no {} table ({}) on its search path; to record migrations as \
                     applied by hand: {by_hand}",
                    env.name,
                    runner,
                    runner.table_description()
                )
            }),
        None => match tables.len() {
            0 => anyhow::bail!(
                "`{}` has no migration runner's table on its search path (_sqlx_migrations, \
                 __diesel_schema_migrations, flyway_schema_history, schema_migrations, \
                 _prisma_migrations, goose_db_version, alembic_version) nor supabase_migrations.schema_migrations; \
                 to record migrations as applied by hand: {by_hand}",
                env.name
            ),
            1 => Ok(tables.into_iter().next().expect("one table")),
            _ => anyhow::bail!(
                "`{}` has tables of more than one runner ({}); say which one to read: `stagegate \
                 migrate baseline --env {} --from {} --reason \"...\"`",
                env.name,
                tables
                    .iter()
                    .map(|t| format!("{} ({})", t.runner, t.display()))
                    .collect::<Vec<_>>()
                    .join(", "),
                env.name,
                tables[0].runner
            ),
        },
    }
}

/// The local migrations the runner's rows say are applied; a failed or dirty record refuses.
fn choose<'a>(
    table: &RunnerTable,
    local: &'a [LocalMigration],
    rows: &'a [RunnerRow],
    report: &mut BaselineReport,
) -> anyhow::Result<Vec<Chosen<'a>>> {
    let runner = table.runner;
    if let Some(failed) = rows.iter().find(|r| r.kind == RowKind::Failed) {
        let fix = match runner {
            ForeignRunner::GolangMigrate => format!(
                "golang-migrate marks version {} dirty: a migration failed part way. Repair the \
                 database, then `migrate force VERSION` with golang-migrate, and baseline again",
                failed.version
            ),
            ForeignRunner::Sqlx => format!(
                "_sqlx_migrations records version {} as not successful (a failed \
                 no-transaction migration). Repair it with sqlx first, then baseline again",
                failed.version
            ),
            ForeignRunner::Prisma => format!(
                "_prisma_migrations records migration {} as started and not finished (a failed \
                 migration). Repair it with Prisma first (`prisma migrate resolve`), then \
                 baseline again",
                failed.script.as_deref().unwrap_or(&failed.version)
            ),
            _ => format!(
                "{} records version {} as failed. Repair it with {runner} first (`flyway \
                 repair`), then baseline again",
                table.display(),
                failed.version
            ),
        };
        return Err(exit::refused(anyhow::anyhow!(
            "refusing to baseline from {}: {fix}; nothing was recorded",
            table.display()
        )));
    }
    // The versions applied, by local index; the runner's row kept for its checksum.
    let mut applied: Vec<Option<&RunnerRow>> = vec![None; local.len()];
    let mut chosen_flags = vec![false; local.len()];
    for row in rows {
        let matching = local
            .iter()
            .position(|m| m.migration.version.matches(&row.version));
        match row.kind {
            RowKind::Applied => match matching {
                Some(index) => {
                    chosen_flags[index] = true;
                    applied[index] = Some(row);
                }
                None => report.without_file.push(row.version.clone()),
            },
            RowKind::Undone => {
                if let Some(index) = matching {
                    chosen_flags[index] = false;
                    applied[index] = None;
                }
            }
            // An Alembic head: the revision and every revision it follows (down revisions
            // and dependencies, whatever their place in the order).
            RowKind::UpTo if runner == ForeignRunner::Alembic => {
                let Some(index) = matching.filter(|i| local[*i].migration.ancestors.is_some())
                else {
                    return Err(exit::refused(anyhow::anyhow!(
                        "refusing to baseline from {}: it names revision {}, which no revision \
                         file here has (a revision not in this checkout, or the database of \
                         another project); nothing was recorded",
                        table.display(),
                        row.version
                    )));
                };
                let head = &local[index].migration;
                for (at, migration) in local.iter().enumerate() {
                    if at == index || migration.migration.precedes(head) {
                        chosen_flags[at] = true;
                    }
                }
            }
            RowKind::UpTo => {
                let Some(upto) = Version::parse(&row.version) else {
                    anyhow::bail!(
                        "{}: version `{}` is not one stagegate can read",
                        table.display(),
                        row.version
                    );
                };
                if matching.is_none() {
                    report.without_file.push(row.version.clone());
                }
                for (index, migration) in local.iter().enumerate() {
                    if migration.migration.version <= upto && !chosen_flags[index] {
                        chosen_flags[index] = true;
                    }
                }
            }
            RowKind::Failed => unreachable!("refused above"),
        }
    }
    let mut chosen = Vec::new();
    for (index, migration) in local.iter().enumerate() {
        if chosen_flags[index] {
            chosen.push(Chosen {
                local: migration,
                row: applied[index],
            });
        } else {
            report.pending.push(migration.migration.label());
        }
    }
    Ok(chosen)
}

/// One line per chosen file whose checksum differs from the runner's record.
fn checksum_mismatches(table: &RunnerTable, chosen: &[Chosen]) -> Vec<String> {
    let mut out = Vec::new();
    for choice in chosen {
        let Some(recorded) = choice.row.and_then(|r| r.checksum.as_ref()) else {
            continue;
        };
        let path = &choice.local.migration.up.path;
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                out.push(format!("{}: cannot read it: {error}", path.display()));
                continue;
            }
        };
        let here = match recorded {
            RunnerChecksum::Sha384(_) => RunnerChecksum::Sha384(Sha384::digest(&bytes).to_vec()),
            RunnerChecksum::Crc32(_) => RunnerChecksum::Crc32(flyway_checksum(&bytes)),
            RunnerChecksum::Sha256Hex(_) => RunnerChecksum::Sha256Hex(hex(&Sha256::digest(&bytes))),
        };
        if here != *recorded && !prisma_line_endings_match(recorded, &bytes) {
            out.push(format!(
                "{}: {} in {}, {} for the file",
                path.display(),
                checksum_text(recorded),
                table.display(),
                checksum_text(&here)
            ));
        }
    }
    out
}

fn checksum_text(checksum: &RunnerChecksum) -> String {
    match checksum {
        RunnerChecksum::Sha384(bytes) => format!("sha384:{}", hex(bytes)),
        RunnerChecksum::Crc32(value) => format!("crc32:{value}"),
        RunnerChecksum::Sha256Hex(value) => format!("sha256:{value}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        write!(text, "{byte:02x}").ok();
    }
    text
}

/// Prisma accepts a file whose checksum matches with its line endings turned either way (git
/// may have checked it out with the other ones): so does the baseline.
fn prisma_line_endings_match(recorded: &RunnerChecksum, bytes: &[u8]) -> bool {
    let RunnerChecksum::Sha256Hex(recorded) = recorded else {
        return false;
    };
    let text = String::from_utf8_lossy(bytes);
    let lf = text.replace("\r\n", "\n");
    let crlf = lf.replace('\n', "\r\n");
    [lf, crlf]
        .iter()
        .any(|variant| hex(&Sha256::digest(variant.as_bytes())) == *recorded)
}

/// Flyway's checksum of a SQL migration: the file read line by line as Java's
/// `BufferedReader.readLine` does (a line ends at `\n`, `\r` or `\r\n`, which are not part of
/// it), a UTF-8 BOM removed from the first line, and CRC32 (IEEE) over the lines' bytes one
/// after the other; stored as a signed 32-bit integer. So line endings do not change it.
pub(crate) fn flyway_checksum(bytes: &[u8]) -> i32 {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut crc = Crc32::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                crc.update(&bytes[start..i]);
                start = i + 1;
            }
            b'\r' => {
                crc.update(&bytes[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    crc.update(&bytes[start..]);
    crc.finish() as i32
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as `java.util.zip.CRC32`.
struct Crc32 {
    value: u32,
}

const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

impl Crc32 {
    fn new() -> Crc32 {
        Crc32 { value: 0xFFFF_FFFF }
    }

    fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.value =
                CRC32_TABLE[((self.value ^ u32::from(byte)) & 0xFF) as usize] ^ (self.value >> 8);
        }
    }

    fn finish(&self) -> u32 {
        self.value ^ 0xFFFF_FFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        let mut crc = Crc32::new();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xCBF4_3926);
    }

    #[test]
    fn flyway_checksum_ignores_line_endings_and_the_bom() {
        let lf = flyway_checksum(b"CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n");
        assert_eq!(
            lf,
            flyway_checksum(b"CREATE TABLE t (a int);\r\nINSERT INTO t VALUES (1);\r\n")
        );
        assert_eq!(
            lf,
            flyway_checksum(b"\xef\xbb\xbfCREATE TABLE t (a int);\rINSERT INTO t VALUES (1);")
        );
        // The lines' bytes, one after the other, without their endings.
        let mut crc = Crc32::new();
        crc.update(b"CREATE TABLE t (a int);INSERT INTO t VALUES (1);");
        assert_eq!(lf, crc.finish() as i32);
        assert_ne!(lf, flyway_checksum(b"CREATE TABLE t (a bigint);\n"));
    }
}
