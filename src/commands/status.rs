//! `stagegate migrate status`: what is deployed where.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::{StatusArgs, TableFormat};
use crate::config::Config;
use crate::db;
use crate::db::state::{MigrationRow, StateStore};
use crate::deploy::concurrent::InvalidIndex;
use crate::deploy::{self, Entry, LocalMigration, State};
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::Version;

#[derive(Debug, Serialize)]
struct StatusReport {
    environments: Vec<EnvironmentStatus>,
    migrations: Vec<MigrationStatus>,
}

#[derive(Debug, Serialize)]
struct EnvironmentStatus {
    name: String,
    /// `false` (and only then present) when a variable its URL needs is not set here, so it
    /// was not read: `migrate status` without `--env` in a job that has one environment's
    /// secrets.
    #[serde(skip_serializing_if = "is_true")]
    configured: bool,
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// INVALID indexes there (failed concurrent builds' leftovers).
    invalid_indexes: Vec<InvalidIndex>,
    /// The gates on the way into this environment; absent when its configuration could not
    /// be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    gates: Option<Gates>,
    /// The newest recorded backup, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_backup: Option<LastBackup>,
    /// Counts of the migrations' states here; absent when the environment was not reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<StatusSummary>,
    /// The environment the database is bound to (absent: not bound yet, or not reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    bound_to: Option<String>,
    /// The server's identity, `<system identifier>/<database oid>` (absent: not reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    /// Why apply would refuse this environment's database as another one's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    binding_problems: Vec<String>,
    /// Nothing is recorded here, yet these tables, which pending migrations create, exist:
    /// the migrations were applied another way and need a baseline before apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    existing_tables: Vec<String>,
}

/// How many migrations are in each state in one environment (over every migration, also
/// with --pending).
#[derive(Debug, Clone, Default, Serialize)]
struct StatusSummary {
    applied: usize,
    pending: usize,
    /// Failed, interrupted or part-way reverted: needs a look before apply goes on.
    failed: usize,
    /// Applied, but the file changed since (checksum mismatch).
    drift: usize,
    /// Applied here, but no file of that version exists locally.
    missing_locally: usize,
}

impl StatusSummary {
    fn of(entries: &[Entry]) -> StatusSummary {
        let mut summary = StatusSummary::default();
        for entry in entries {
            // Every state is placed here by name, so a new one (e.g. baselined rows) must
            // choose its count.
            match entry.state {
                State::Applied => summary.applied += 1,
                State::Pending => summary.pending += 1,
                State::ChecksumMismatch => summary.drift += 1,
                State::MissingLocally => summary.missing_locally += 1,
                State::FailedRolledBack
                | State::Failed
                | State::Resolved
                | State::Interrupted
                | State::Reverting => summary.failed += 1,
                // Reverted, and its file is gone, or given up: nothing will run.
                State::Reverted | State::Abandoned => {}
            }
        }
        summary
    }

    fn line(&self) -> String {
        format!(
            "{} applied, {} pending, {} failed, {} drift, {} missing locally",
            self.applied, self.pending, self.failed, self.drift, self.missing_locally
        )
    }
}

#[derive(Debug, Clone, Serialize)]
struct Gates {
    /// Any of the three below is configured.
    gated: bool,
    promote_from: Option<String>,
    /// The text a person types to confirm, when confirmation is required.
    confirm: Option<String>,
    backup: Option<BackupGate>,
}

#[derive(Debug, Clone, Serialize)]
struct BackupGate {
    dir: std::path::PathBuf,
    keep: u32,
}

#[derive(Debug, Clone, Serialize)]
struct LastBackup {
    #[serde(serialize_with = "crate::json::utc")]
    at: time::OffsetDateTime,
    file: String,
    size: u64,
    sha256: String,
}

impl Gates {
    fn of(env: &crate::config::Environment) -> Gates {
        Gates {
            gated: env.is_gated(),
            promote_from: env.promote_from.clone(),
            confirm: env.confirm.clone(),
            backup: env.backup.as_ref().map(|b| BackupGate {
                dir: b.dir.clone(),
                keep: b.keep,
            }),
        }
    }

    fn describe(&self) -> String {
        if !self.gated {
            return "not gated".to_string();
        }
        let mut parts = Vec::new();
        if let Some(from) = &self.promote_from {
            parts.push(format!("promote_from {from}"));
        }
        if let Some(phrase) = &self.confirm {
            parts.push(format!("confirm (type `{phrase}`)"));
        }
        if let Some(backup) = &self.backup {
            parts.push(format!(
                "backup to {} (keep {})",
                backup.dir.display(),
                backup.keep
            ));
        }
        format!("gated: {}", parts.join(", "))
    }
}

fn is_true(value: &bool) -> bool {
    *value
}

#[derive(Debug, Serialize)]
struct MigrationStatus {
    version: String,
    name: String,
    /// Checksum of the local file; absent when the file is missing locally.
    checksum: Option<String>,
    environments: BTreeMap<String, Cell>,
}

/// A migration's state in one environment, or `absent`: no file of that version exists
/// locally and this environment has no record of it (it is neither applied nor pending here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
enum CellState {
    Known(State),
    Absent(&'static str),
}

const ABSENT: CellState = CellState::Absent("absent");

impl CellState {
    fn label(self) -> &'static str {
        match self {
            CellState::Known(state) => state.label(),
            CellState::Absent(_) => "-",
        }
    }
}

#[derive(Debug, Serialize)]
struct Cell {
    state: CellState,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::json::utc_option"
    )]
    applied_at: Option<time::OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statements_done: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statements_total: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Recorded by `migrate baseline` (not run by stagegate): the runner whose table said it
    /// was applied, or `manual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    baselined_from: Option<String>,
}

pub(super) fn run(
    config: &Config,
    args: &StatusArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let names = if args.envs.is_empty() {
        config.environment_names()
    } else {
        args.envs.clone()
    };
    if names.is_empty() {
        anyhow::bail!(
            "no environments are configured: add an [environments.<name>] table to stagegate.toml"
        );
    }
    let local = super::common::load_migrations(config, None, printer)?;
    // An environment named with --env must be configured with its variables set: a missing
    // variable is a configuration error (exit 2), never an unreachable database. Without
    // --env, one whose variables this job lacks (a staging-only CI job) is shown as not
    // configured here, and the others are read.
    let mut targets: Vec<(String, Result<_, String>)> = Vec::new();
    let mut gates = BTreeMap::new();
    let mut not_here: Vec<(String, String)> = Vec::new();
    for name in &names {
        let env = match config.environment(name) {
            Ok(env) => env,
            Err(crate::config::ConfigError::MissingVariable { variable, .. })
                if args.envs.is_empty() =>
            {
                not_here.push((name.clone(), format!("variable {variable} is not set")));
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        printer.detail(&format!("{name}: reading {}", env.url.redacted()));
        gates.insert(name.clone(), Gates::of(&env));
        targets.push((name.clone(), Ok(env)));
    }
    if targets.is_empty() {
        anyhow::bail!(
            "no environment can be read here: {}; set the variables, or name one with --env",
            not_here
                .iter()
                .map(|(name, error)| format!("{name}: {error}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    type EnvRead = Result<(EnvState, Vec<InvalidIndex>), String>;
    // The tables the migrations create are found (every file parsed) only for an
    // environment with nothing recorded, once however many there are.
    let local = std::sync::Arc::new(local);
    let created = std::sync::Arc::new(CreatedTables {
        local: local.clone(),
        tables: std::sync::OnceLock::new(),
    });
    let results: Vec<(String, EnvRead)> =
        db::runtime()?.block_on(super::read_each(targets, |env| {
            let created = created.clone();
            async move {
                let env = env?;
                let (rows, invalid) = tokio::join!(
                    read_rows(&env.url, &created),
                    deploy::concurrent::read_invalid(&env.url)
                );
                rows.and_then(|rows| Ok((rows, invalid?)))
            }
        }));

    let mut report = StatusReport {
        environments: Vec::new(),
        migrations: Vec::new(),
    };
    let mut per_env: Vec<(String, Option<Vec<Entry>>)> = Vec::new();
    for (name, rows) in results {
        match rows {
            Ok(((rows, last_backup, bound_to, identity, existing_tables), invalid_indexes)) => {
                if !existing_tables.is_empty() {
                    printer.warning(&format!(
                        "{name}: no migration is recorded here, but {} table(s) that pending \
                         migrations create already exist ({}): they were applied another way. \
                         Record them as applied before `migrate apply` runs them again: \
                         `stagegate migrate baseline --env {name} --reason \"...\"` (from a \
                         runner's table) or `--to VERSION` (every migration up to VERSION)",
                        existing_tables.len(),
                        existing_tables.join(", ")
                    ));
                }
                report.environments.push(EnvironmentStatus {
                    existing_tables,
                    name: name.clone(),
                    configured: true,
                    reachable: true,
                    error: None,
                    invalid_indexes,
                    gates: gates.get(&name).cloned(),
                    last_backup,
                    summary: None,
                    bound_to,
                    identity: Some(identity),
                    binding_problems: Vec::new(),
                });
                let entries = deploy::compare(&local, rows);
                if let Some(env) = report.environments.last_mut() {
                    env.summary = Some(StatusSummary::of(&entries));
                }
                per_env.push((name, Some(entries)));
            }
            Err(error) => {
                printer.warning(&format!("{name}: {error}"));
                report.environments.push(EnvironmentStatus {
                    name: name.clone(),
                    configured: true,
                    reachable: false,
                    error: Some(error),
                    invalid_indexes: Vec::new(),
                    gates: gates.get(&name).cloned(),
                    last_backup: None,
                    summary: None,
                    bound_to: None,
                    identity: None,
                    binding_problems: Vec::new(),
                    existing_tables: Vec::new(),
                });
                per_env.push((name, None));
            }
        }
    }
    // In the configured order, after the ones read.
    for (name, error) in not_here {
        report.environments.push(EnvironmentStatus {
            name,
            configured: false,
            reachable: false,
            error: Some(error),
            invalid_indexes: Vec::new(),
            gates: None,
            last_backup: None,
            summary: None,
            bound_to: None,
            identity: None,
            binding_problems: Vec::new(),
            existing_tables: Vec::new(),
        });
    }
    binding_problems(&mut report.environments);
    for env in &report.environments {
        for problem in &env.binding_problems {
            printer.warning(&format!("{}: {problem}", env.name));
        }
    }
    // Every version: local ones and those recorded anywhere.
    let mut versions: BTreeMap<Version, (String, Option<String>)> = local
        .iter()
        .map(|m| {
            (
                m.migration.version.clone(),
                (m.migration.name.clone(), Some(m.up.checksum.to_string())),
            )
        })
        .collect();
    for (_, entries) in &per_env {
        for entry in entries.iter().flatten() {
            versions
                .entry(entry.version.clone())
                .or_insert_with(|| (entry.name.clone(), None));
        }
    }
    // Each environment's entries by version: one lookup per cell, not a scan (a table of
    // 10,000 migrations was 10,000 scans of 10,000 entries).
    let by_version: Vec<(&String, Option<BTreeMap<&Version, &Entry>>)> = per_env
        .iter()
        .map(|(name, entries)| {
            (
                name,
                entries.as_ref().map(|entries| {
                    let mut map = BTreeMap::new();
                    for entry in entries {
                        // The first of equal versions, as a scan would find it.
                        map.entry(&entry.version).or_insert(entry);
                    }
                    map
                }),
            )
        })
        .collect();
    for (version, (name, checksum)) in versions {
        let mut environments = BTreeMap::new();
        for (env_name, entries) in &by_version {
            let Some(entries) = entries else { continue };
            let entry = entries.get(&version).copied();
            let cell = match entry {
                Some(entry) => cell(entry),
                None => Cell {
                    // Only a version with a local file is pending; one that exists only in
                    // another environment's record is not here and will not run here.
                    state: if checksum.is_some() {
                        CellState::Known(State::Pending)
                    } else {
                        ABSENT
                    },
                    applied_at: None,
                    recorded_checksum: None,
                    statements_done: None,
                    statements_total: None,
                    error: None,
                    baselined_from: None,
                },
            };
            environments.insert((*env_name).clone(), cell);
        }
        let applied_everywhere = environments
            .values()
            .all(|cell| cell.state == CellState::Known(State::Applied));
        if args.pending && applied_everywhere {
            continue;
        }
        report.migrations.push(MigrationStatus {
            version: version.to_string(),
            name,
            checksum,
            environments,
        });
    }

    match args.format {
        TableFormat::Json => super::print_document(&crate::json::to_string(&report)?)?,
        // Coloured, the table's cells were made visible before the colour went around them.
        TableFormat::Table if printer.color_stdout => {
            super::print_document(&render(&report, args.pending, true))?
        }
        TableFormat::Table => super::print_report(&render(&report, args.pending, false))?,
    }
    Ok(
        if report
            .environments
            .iter()
            .all(|e| e.reachable || !e.configured)
        {
            Outcome::Success
        } else {
            Outcome::Execution
        },
    )
}

/// What the environment gate would say of each environment shown: a database bound to
/// another environment, and two environment names that reach one database.
fn binding_problems(environments: &mut [EnvironmentStatus]) {
    let identities: Vec<(String, Option<String>)> = environments
        .iter()
        .map(|e| (e.name.clone(), e.identity.clone()))
        .collect();
    for env in environments.iter_mut() {
        if let Some(bound) = &env.bound_to
            && *bound != env.name
        {
            env.binding_problems.push(format!(
                "its database is bound to `{bound}`: apply, down, resolve and baseline refuse \
                 here (`stagegate migrate rebind --env {}` if it really moved)",
                env.name
            ));
        }
        let Some(identity) = &env.identity else {
            continue;
        };
        for (other, other_identity) in &identities {
            if *other != env.name && other_identity.as_ref() == Some(identity) {
                env.binding_problems.push(format!(
                    "reaches the same database as `{other}` (server {identity}); only the \
                     environment it is bound to may change it"
                ));
            }
        }
    }
}

/// An environment's recorded migrations, its newest backup, the environment its database is
/// bound to, the server's identity, and (when nothing is recorded) which of `created` exist.
type EnvState = (
    Vec<MigrationRow>,
    Option<LastBackup>,
    Option<String>,
    String,
    Vec<String>,
);

/// The tables the local migrations create, found when first asked for.
struct CreatedTables {
    local: std::sync::Arc<Vec<LocalMigration>>,
    tables: std::sync::OnceLock<Vec<String>>,
}

impl CreatedTables {
    fn get(&self) -> &[String] {
        self.tables.get_or_init(|| created_tables(&self.local))
    }
}

/// The tables the local migrations create (`CREATE TABLE`), each once, in order.
fn created_tables(local: &[LocalMigration]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for migration in local {
        for analyzed in crate::analyze::analyze(&migration.up.text) {
            for change in analyzed.changes {
                if let crate::analyze::Change::CreateTable { table, .. } = change
                    && seen.insert(table.clone())
                {
                    out.push(table);
                }
            }
        }
    }
    out
}

/// Which of `tables` (as migrations name them, `schema.table` or `table`) exist.
async fn existing(store: &mut StateStore, tables: &[String]) -> Result<Vec<String>, String> {
    let quoted: Vec<String> = tables
        .iter()
        .map(|table| {
            table
                .split('.')
                .map(crate::sql::quote_ident)
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    let found: Vec<i32> = sqlx::query_scalar(
        "SELECT (o - 1)::int4 FROM unnest($1::text[]) WITH ORDINALITY AS t(name, o)
         WHERE to_regclass(name) IS NOT NULL ORDER BY o",
    )
    .bind(&quoted)
    .fetch_all(store.connection())
    .await
    .map_err(|e| e.to_string())?;
    Ok(found
        .into_iter()
        .filter_map(|i| tables.get(usize::try_from(i).ok()?).cloned())
        .collect())
}

async fn read_rows(
    url: &crate::config::DatabaseUrl,
    created: &CreatedTables,
) -> Result<EnvState, String> {
    let mut store = StateStore::connect(url).await.map_err(|e| e.to_string())?;
    let read = async {
        let rows = store.migrations().await?;
        let last = crate::backup::recorded(&mut store)
            .await?
            .pop()
            .map(|r| LastBackup {
                at: r.at,
                file: r.manifest.file,
                size: r.manifest.size,
                sha256: r.manifest.sha256,
            });
        let bound_to = store.binding().await?.map(|b| b.environment);
        let identity = store.server_identity().await?;
        Ok::<_, crate::db::state::StateError>((rows, last, bound_to, identity))
    }
    .await
    .map_err(|e| e.to_string());
    let read = match read {
        Ok((rows, last, bound_to, identity)) => {
            let existing = if rows.is_empty() && !created.get().is_empty() {
                existing(&mut store, created.get()).await
            } else {
                Ok(Vec::new())
            };
            existing.map(|existing| (rows, last, bound_to, identity, existing))
        }
        Err(error) => Err(error),
    };
    store.close().await;
    read
}

fn cell(entry: &Entry) -> Cell {
    let row = entry.row.as_ref();
    let applied_at = row
        .filter(|_| {
            matches!(
                entry.state,
                State::Applied | State::ChecksumMismatch | State::MissingLocally
            )
        })
        .and_then(|r| r.finished_at);
    let partial = matches!(
        entry.state,
        State::Failed | State::Resolved | State::Interrupted
    );
    Cell {
        state: CellState::Known(entry.state),
        applied_at,
        recorded_checksum: row
            .filter(|_| entry.state == State::ChecksumMismatch)
            .map(|r| r.checksum.clone()),
        statements_done: row.filter(|_| partial).map(|r| r.statements_done),
        statements_total: row.filter(|_| partial).map(|r| r.statements_total),
        error: row
            .filter(|_| !matches!(entry.state, State::Applied | State::MissingLocally))
            .and_then(|r| r.error.clone()),
        baselined_from: row
            .filter(|_| applied_at.is_some())
            .and_then(|r| r.baselined_from.clone()),
    }
}

fn render(report: &StatusReport, only_pending: bool, color: bool) -> String {
    // Columns for the environments read (or tried); one not configured here has a line below.
    let shown: Vec<&EnvironmentStatus> = report
        .environments
        .iter()
        .filter(|e| e.configured)
        .collect();
    let mut header = vec!["version", "name"];
    header.extend(shown.iter().map(|e| e.name.as_str()));
    // With the time of day where the table fits 80 columns with names of 16 characters, else
    // the date alone (the JSON output and `audit` keep the exact time).
    let cells = |with_time: bool| -> Vec<Vec<String>> {
        report
            .migrations
            .iter()
            .map(|m| {
                let mut row = vec![m.version.clone(), m.name.clone()];
                for env in &shown {
                    row.push(match m.environments.get(&env.name) {
                        None => "unreachable".to_string(),
                        Some(cell) => cell_text(cell, with_time),
                    });
                }
                row
            })
            .collect()
    };
    let mut rows = cells(true);
    let width = |rows: &[Vec<String>]| {
        (0..header.len())
            .map(|column| {
                let cells = rows.iter().map(|row| row[column].chars().count());
                let widest = cells.max().unwrap_or(0).max(header[column].len());
                if column == 1 { widest.min(16) } else { widest }
            })
            .sum::<usize>()
            + 3 * header.len()
            + 1
    };
    if width(&rows) > super::table::WIDTH {
        rows = cells(false);
    }
    // Colour by state: the same words as the legend of the summary lines.
    let states: Vec<Vec<Option<CellState>>> = report
        .migrations
        .iter()
        .map(|m| {
            shown
                .iter()
                .map(|env| m.environments.get(&env.name).map(|c| c.state))
                .collect()
        })
        .collect();
    let paint = |row: usize, column: usize, _: &str| -> Option<&'static str> {
        let state = (*states.get(row)?.get(column.checked_sub(2)?)?)?;
        Some(match state {
            CellState::Known(State::Applied) => "32",
            CellState::Known(State::Pending) => "33",
            CellState::Known(State::MissingLocally | State::ChecksumMismatch) => "35",
            CellState::Known(State::Reverted) | CellState::Absent(_) => return None,
            CellState::Known(_) => "31",
        })
    };
    let table = if report.migrations.is_empty() {
        if only_pending {
            "every migration is applied in every environment shown\n".to_string()
        } else {
            "no migrations\n".to_string()
        }
    } else {
        super::table::render_fit(&header, rows, &[1], 12, color.then_some(&paint as _))
    };
    // The lines below quote server messages and names read from databases; made visible
    // here, as the table's cells are, since a coloured table is written as it is.
    let mut out = String::new();
    for env in &report.environments {
        if let Some(summary) = &env.summary {
            out.push_str(&format!("{}: {}\n", env.name, summary.line()));
        }
    }
    out.push_str(&drift_notes(report));
    for env in &report.environments {
        for problem in &env.binding_problems {
            out.push_str(&format!("{}: WARNING: {problem}\n", env.name));
        }
    }
    for env in &report.environments {
        if let Some(gates) = &env.gates {
            let backup = match &env.last_backup {
                Some(last) => format!(
                    "last backup {} ({})",
                    super::table::date(last.at),
                    crate::human::bytes(last.size)
                ),
                None if env.reachable => "no backup recorded".to_string(),
                None => "last backup unknown".to_string(),
            };
            out.push_str(&format!("{}: {}; {backup}\n", env.name, gates.describe()));
        }
        match &env.error {
            Some(error) if !env.configured => {
                out.push_str(&format!("{}: not configured here: {error}\n", env.name));
            }
            Some(error) => out.push_str(&format!("{}: unreachable: {error}\n", env.name)),
            None => {}
        }
        out.push_str(&deploy::concurrent::render_invalid(
            &env.name,
            &env.invalid_indexes,
        ));
    }
    table + &crate::visible::text(&out)
}

/// The text of one cell of the table.
fn cell_text(cell: &Cell, with_time: bool) -> String {
    match (cell.state, cell.applied_at) {
        (CellState::Known(State::Applied), Some(at)) => {
            let at = super::table::date(at);
            let word = if cell.baselined_from.is_some() {
                "baselined"
            } else {
                "applied"
            };
            if with_time {
                format!("{word} {at}")
            } else {
                format!("{word} {}", &at[..10])
            }
        }
        (CellState::Known(State::Failed | State::Resolved | State::Interrupted), _) => format!(
            "{} (statement {} of {})",
            cell.state.label(),
            cell.statements_done.unwrap_or(0) + 1,
            cell.statements_total.unwrap_or(0)
        ),
        (state, _) => state.label().to_string(),
    }
}

/// One line per drifted migration and environment, with short checksums of the file and
/// of what was applied.
fn drift_notes(report: &StatusReport) -> String {
    let mut out = String::new();
    for migration in &report.migrations {
        for (env, cell) in &migration.environments {
            if cell.state != CellState::Known(State::ChecksumMismatch) {
                continue;
            }
            out.push_str(&format!(
                "{env}: {} changed since it was applied (file {}, applied {})\n",
                migration.version,
                migration
                    .checksum
                    .as_deref()
                    .map_or_else(|| "-".to_string(), super::table::short_hash),
                cell.recorded_checksum
                    .as_deref()
                    .map_or_else(|| "-".to_string(), super::table::short_hash),
            ));
        }
    }
    out
}
