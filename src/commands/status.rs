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
use crate::source::{self, Version};

/// Discovers and loads the configured migrations, printing discovery warnings.
pub fn load_migrations(config: &Config, printer: &Printer) -> anyhow::Result<Vec<LocalMigration>> {
    load_migrations_from(&config.migrations_dir(), config.migrations.layout, printer)
}

/// As [`load_migrations`], from a directory and layout.
pub fn load_migrations_from(
    dir: &std::path::Path,
    layout: Option<source::Layout>,
    printer: &Printer,
) -> anyhow::Result<Vec<LocalMigration>> {
    let set = source::discover_as(dir, layout)?;
    for warning in &set.warnings {
        printer.warning(warning);
    }
    Ok(deploy::load_local(&set)?)
}

#[derive(Debug, Serialize)]
struct StatusReport {
    environments: Vec<EnvironmentStatus>,
    migrations: Vec<MigrationStatus>,
}

#[derive(Debug, Serialize)]
struct EnvironmentStatus {
    name: String,
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
    #[serde(with = "time::serde::rfc3339")]
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

#[derive(Debug, Serialize)]
struct MigrationStatus {
    version: String,
    name: String,
    /// Checksum of the local file; absent when the file is missing locally.
    checksum: Option<String>,
    environments: BTreeMap<String, Cell>,
}

#[derive(Debug, Serialize)]
struct Cell {
    state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied_at: Option<String>,
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

pub fn run(config: &Config, args: &StatusArgs, printer: &Printer) -> anyhow::Result<Outcome> {
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
    let local = load_migrations(config, printer)?;
    // Every environment shown must be configured with its variables set: a missing variable
    // is a configuration error (exit 2), never an unreachable database.
    let mut targets: Vec<(String, Result<_, String>)> = Vec::new();
    let mut gates = BTreeMap::new();
    for name in &names {
        let env = config.environment(name)?;
        gates.insert(name.clone(), Gates::of(&env));
        targets.push((name.clone(), Ok(env)));
    }
    type Read = Result<(EnvState, Vec<InvalidIndex>), String>;
    let results: Vec<(String, Read)> = db::runtime()?.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (name, env)) in targets.into_iter().enumerate() {
            tasks.spawn(async move {
                let rows = match env {
                    Err(error) => Err(error),
                    Ok(env) => {
                        let (rows, invalid) = tokio::join!(
                            read_rows(&env.url),
                            deploy::concurrent::read_invalid(&env.url)
                        );
                        rows.and_then(|rows| Ok((rows, invalid?)))
                    }
                };
                (index, name, rows)
            });
        }
        let mut out = tasks.join_all().await;
        out.sort_by_key(|(index, _, _)| *index);
        out.into_iter()
            .map(|(_, name, rows)| (name, rows))
            .collect()
    });

    let mut report = StatusReport {
        environments: Vec::new(),
        migrations: Vec::new(),
    };
    let mut per_env: Vec<(String, Option<Vec<Entry>>)> = Vec::new();
    for (name, rows) in results {
        match rows {
            Ok(((rows, last_backup), invalid_indexes)) => {
                report.environments.push(EnvironmentStatus {
                    name: name.clone(),
                    reachable: true,
                    error: None,
                    invalid_indexes,
                    gates: gates.get(&name).cloned(),
                    last_backup,
                });
                per_env.push((name, Some(deploy::compare(&local, &rows))));
            }
            Err(error) => {
                printer.warning(&format!("{name}: {error}"));
                report.environments.push(EnvironmentStatus {
                    name: name.clone(),
                    reachable: false,
                    error: Some(error),
                    invalid_indexes: Vec::new(),
                    gates: gates.get(&name).cloned(),
                    last_backup: None,
                });
                per_env.push((name, None));
            }
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
    for (version, (name, checksum)) in versions {
        let mut environments = BTreeMap::new();
        for (env_name, entries) in &per_env {
            let Some(entries) = entries else { continue };
            let entry = entries.iter().find(|e| e.version == version);
            let cell = match entry {
                Some(entry) => cell(entry),
                None => Cell {
                    state: State::Pending,
                    applied_at: None,
                    recorded_checksum: None,
                    statements_done: None,
                    statements_total: None,
                    error: None,
                    baselined_from: None,
                },
            };
            environments.insert(env_name.clone(), cell);
        }
        report.migrations.push(MigrationStatus {
            version: version.to_string(),
            name,
            checksum,
            environments,
        });
    }

    let text = match args.format {
        TableFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        TableFormat::Table => render(&report),
    };
    super::print_report(&text)?;
    Ok(if report.environments.iter().all(|e| e.reachable) {
        Outcome::Success
    } else {
        Outcome::Execution
    })
}

/// An environment's recorded migrations and its newest backup.
type EnvState = (Vec<MigrationRow>, Option<LastBackup>);

async fn read_rows(url: &crate::config::DatabaseUrl) -> Result<EnvState, String> {
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
        Ok::<_, crate::db::state::StateError>((rows, last))
    }
    .await
    .map_err(|e| e.to_string());
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
        .and_then(|r| r.finished_at)
        .map(super::table::date);
    let partial = matches!(
        entry.state,
        State::Failed | State::Resolved | State::Interrupted
    );
    Cell {
        state: entry.state,
        applied_at: applied_at.clone(),
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

fn render(report: &StatusReport) -> String {
    let mut header = vec!["version", "name"];
    header.extend(report.environments.iter().map(|e| e.name.as_str()));
    let rows = report.migrations.iter().map(|m| {
        let mut row = vec![m.version.clone(), m.name.clone()];
        for env in &report.environments {
            row.push(match m.environments.get(&env.name) {
                None => "unreachable".to_string(),
                Some(cell) => match (cell.state, &cell.applied_at) {
                    (State::Applied, Some(at)) if cell.baselined_from.is_some() => {
                        format!("baselined {at}")
                    }
                    (State::Applied, Some(at)) => format!("applied {at}"),
                    (State::Failed | State::Resolved | State::Interrupted, _) => format!(
                        "{} (statement {} of {})",
                        cell.state.label(),
                        cell.statements_done.unwrap_or(0) + 1,
                        cell.statements_total.unwrap_or(0)
                    ),
                    (state, _) => state.label().to_string(),
                },
            });
        }
        row
    });
    let mut out = super::table::render(&header, rows);
    for env in &report.environments {
        if let Some(gates) = &env.gates {
            let backup = match &env.last_backup {
                Some(last) => format!(
                    "last backup {} ({})",
                    super::table::date(last.at),
                    crate::backup::human_size(last.size)
                ),
                None if env.reachable => "no backup recorded".to_string(),
                None => "last backup unknown".to_string(),
            };
            out.push_str(&format!("{}: {}; {backup}\n", env.name, gates.describe()));
        }
        if let Some(error) = &env.error {
            out.push_str(&format!("{}: unreachable: {error}\n", env.name));
        }
        out.push_str(&deploy::concurrent::render_invalid(
            &env.name,
            &env.invalid_indexes,
        ));
    }
    out
}
