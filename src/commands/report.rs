//! `stagegate report`: one document per release for the DBA (see `docs/report.md`).

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::Context;

use crate::cli::{ReportArgs, ReportFormat};
use crate::config::{Config, Environment};
use crate::db;
use crate::db::state::{MigrationRow, StateStore};
use crate::deploy::{self, LocalMigration};
use crate::exit::{self, Outcome};
use crate::lint;
use crate::printer::Printer;
use crate::report::{self, ReleaseReport, ReportMigration, scratch};
use crate::scratch::ScratchDb;
use crate::source::Version;
use crate::trace::Planned;

/// Prefix of the scratch databases `report --scratch` creates.
const NAME_PREFIX: &str = "stagegate_report_";

pub(super) fn run(
    config: &Config,
    args: &ReportArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    // --env must be configured with its variables set (exit 2 otherwise).
    let env = args
        .env
        .as_deref()
        .map(|name| config.environment(name))
        .transpose()?;
    if let Some(text) = &args.since
        && Version::parse_recorded(text).is_none()
    {
        anyhow::bail!("--since {text}: not a migration version or revision id");
    }
    let local = super::common::load_migrations(config, None, printer)?;
    let since = since_version(config, args.since.as_deref(), &local)?;
    let runtime = db::runtime()?;
    let reads = read_environments(config, env.as_ref(), &local, printer, &runtime)?;
    let (kind, selected) = select(&local, since.as_ref(), env.as_ref(), &reads);
    printer.detail(&format!("report: {} migration(s)", selected.len()));

    // With --env, the environment's catalog (read only, ACCESS SHARE on the catalog tables
    // only, never waiting on a table a migration holds) makes the findings precise and gives
    // the sizes.
    let catalog = match &env {
        Some(env) => Some(std::sync::Arc::new(
            runtime
                .block_on(lint::catalog::Catalog::load(
                    &env.url,
                    lint::catalog::Source::Env(env.name.clone()),
                ))
                .map_err(exit::execution)?,
        )),
        None => None,
    };
    let mut migrations = report_migrations(config, &selected, env.as_ref(), catalog, &reads)?;
    let scratch = match &args.scratch.url {
        Some(flag) if !migrations.is_empty() => {
            with_scratch(config, flag, &local, &mut migrations, printer, &runtime)?
        }
        _ => report::ScratchInfo {
            computed: false,
            server: None,
            stopped: None,
        },
    };

    // The sign-off, judged by the same pipeline `migrate plan` runs.
    let sign_off = match &env {
        Some(env) if env.approvals > 0 => {
            let plan = runtime.block_on(plan_of(config, env, &local))?;
            report::SignOff::of(env, &plan)
        }
        _ => None,
    };
    let summary = report::ReleaseSummary::of(&migrations);
    let report = ReleaseReport {
        environment: env.as_ref().map(|e| e.name.clone()),
        selection: report::Selection {
            kind,
            since: args.since.clone(),
        },
        environments: reads.environments,
        migrations,
        scratch,
        summary,
        sign_off,
    };
    write_report(args, &report, printer)?;
    // A report is not a gate: findings do not change the exit code.
    Ok(Outcome::Success)
}

/// The local migration `--since` names (a version, or an Alembic revision id), for its place
/// in the order.
fn since_version(
    config: &Config,
    since: Option<&str>,
    local: &[LocalMigration],
) -> anyhow::Result<Option<Version>> {
    let Some(text) = since else {
        return Ok(None);
    };
    match local.iter().find(|m| m.migration.version.matches(text)) {
        Some(found) => Ok(Some(found.migration.version.clone())),
        None => anyhow::bail!(
            "--since {text}: no migration with that version in {}",
            config.migrations_dir().display()
        ),
    }
}

/// Every configured environment as read: whether it was, and its migrations compared with
/// the local ones.
struct Reads {
    environments: Vec<report::EnvironmentRead>,
    entries_of: BTreeMap<String, Vec<deploy::Entry>>,
}

/// Reads the state of every configured environment at once. One that cannot be read (its
/// variables not set, or its server not answering) is shown as unreachable, except `--env`
/// itself, which fails the report.
fn read_environments(
    config: &Config,
    env: Option<&Environment>,
    local: &[LocalMigration],
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Reads> {
    let mut targets: Vec<(String, Result<Environment, String>)> = Vec::new();
    for name in &config.environment_names() {
        match (env, config.environment(name)) {
            (Some(e), _) if e.name == *name => targets.push((name.clone(), Ok(e.clone()))),
            (_, Ok(e)) => targets.push((name.clone(), Ok(e))),
            (_, Err(error)) => targets.push((name.clone(), Err(error.to_string()))),
        }
    }
    let reads: Vec<(String, Result<Vec<MigrationRow>, String>)> =
        runtime.block_on(super::read_each(targets, |target| async move {
            match target {
                Err(error) => Err(error),
                Ok(env) => read_rows(&env).await,
            }
        }));
    let mut environments = Vec::new();
    let mut entries_of = BTreeMap::new();
    for (name, rows) in &reads {
        match rows {
            Ok(rows) => {
                entries_of.insert(name.clone(), deploy::compare(local, rows.clone()));
            }
            Err(error) => {
                if env.is_some_and(|e| e.name == *name) {
                    return Err(exit::execution(anyhow::anyhow!(
                        "--env {name}: cannot read its migration state: {error}"
                    )));
                }
                printer.warning(&format!("{name}: unreachable: {error}"));
            }
        }
        environments.push(report::EnvironmentRead {
            name: name.clone(),
            reachable: rows.is_ok(),
            error: rows.as_ref().err().cloned(),
        });
    }
    Ok(Reads {
        environments,
        entries_of,
    })
}

/// The reported migrations and the selection's kind: after `--since`, else those pending on
/// `--env`, else all.
fn select<'a>(
    local: &'a [LocalMigration],
    since: Option<&Version>,
    env: Option<&Environment>,
    reads: &Reads,
) -> (&'static str, Vec<&'a LocalMigration>) {
    match (since, env) {
        (Some(since), _) => (
            "since",
            local
                .iter()
                .filter(|m| m.migration.version > *since)
                .collect(),
        ),
        (None, Some(env)) => {
            let entries = &reads.entries_of[&env.name];
            let pending = deploy::plan::pending(entries, None);
            (
                "pending",
                local
                    .iter()
                    .filter(|m| pending.iter().any(|e| e.version == m.migration.version))
                    .collect(),
            )
        }
        (None, None) => ("all", local.iter().collect()),
    }
}

/// The selected migrations linted, with their status in every environment and, with the
/// catalog of `--env`, the sizes of the tables they touch.
fn report_migrations(
    config: &Config,
    selected: &[&LocalMigration],
    env: Option<&Environment>,
    catalog: Option<std::sync::Arc<lint::catalog::Catalog>>,
    reads: &Reads,
) -> anyhow::Result<Vec<ReportMigration>> {
    // Already applied on --env (a `--since` selection): linted without today's catalog.
    let applied = |local: &LocalMigration| {
        env.and_then(|env| reads.entries_of.get(&env.name))
            .and_then(|entries| {
                entries
                    .iter()
                    .find(|e| e.version == local.migration.version)
            })
            .is_some_and(|e| {
                matches!(
                    e.state,
                    deploy::State::Applied | deploy::State::ChecksumMismatch
                )
            })
    };
    let linted = report::findings(config, selected, env, catalog.clone(), &applied)?;
    let mut migrations: Vec<ReportMigration> = selected
        .iter()
        .zip(linted)
        .map(|(local, linted)| {
            let mut m = ReportMigration::new(local, linted);
            for read in &reads.environments {
                let status = match (&read.error, reads.entries_of.get(&read.name)) {
                    (Some(error), _) => report::unreachable(error),
                    (None, Some(entries)) => report::env_status(
                        entries
                            .iter()
                            .find(|e| e.version == local.migration.version),
                    ),
                    (None, None) => report::unreachable("not read"),
                };
                m.statuses.insert(read.name.clone(), status);
            }
            m
        })
        .collect();
    if let Some(catalog) = &catalog {
        for m in &mut migrations {
            let touched = m.touched();
            m.tables = Some(report::sizes::of(catalog, &touched));
        }
    }
    Ok(migrations)
}

/// The scratch part added to `migrations`: each one's traced locks and schema diff.
fn with_scratch(
    config: &Config,
    flag: &str,
    local: &[LocalMigration],
    migrations: &mut [ReportMigration],
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<report::ScratchInfo> {
    let scratched = on_scratch(config, flag, local, migrations, printer, runtime)?;
    for result in scratched.results {
        if let Some(m) = migrations
            .iter_mut()
            .find(|m| m.version == result.traced.version)
        {
            m.traced = Some(report::traced_summary(&result.traced));
            m.diff = result.traced.error.is_none().then_some(result.diff);
        }
    }
    Ok(report::ScratchInfo {
        computed: true,
        server: Some(scratched.server),
        stopped: scratched.stopped,
    })
}

/// The report in its format, on stdout or into `--output`.
fn write_report(
    args: &ReportArgs,
    report: &ReleaseReport,
    printer: &Printer,
) -> anyhow::Result<()> {
    let text = match args.format {
        ReportFormat::Markdown => report::document::render(report, &report::markdown::Markdown),
        ReportFormat::Html => report::document::render(report, &report::html::Html),
        ReportFormat::Json => crate::json::to_string(report)?,
    };
    match &args.output {
        None if matches!(args.format, ReportFormat::Json) => super::print_document(&text)?,
        None => super::print_report(&text)?,
        Some(path) => {
            write_atomically(path, &text)?;
            printer.note(&format!(
                "report: {} migration(s) written to {}",
                report.summary.migrations,
                path.display()
            ));
        }
    }
    Ok(())
}

/// The plan of `env` (every pending migration), as `migrate plan` evaluates it.
async fn plan_of(
    config: &Config,
    env: &Environment,
    local: &[LocalMigration],
) -> anyhow::Result<deploy::plan::Plan> {
    let promote_source = match &env.promote_from {
        Some(from) => Some(config.environment(from)?),
        None => None,
    };
    let lint = lint::Options::from_config(&config.lint, None, env.lock_timeout.is_some())
        .map_err(anyhow::Error::msg)?;
    let mut store = StateStore::connect(&env.url)
        .await
        .map_err(exit::execution)?;
    let inputs = deploy::gates::Inputs {
        to: None,
        lint: &lint,
        promote_source: promote_source.as_ref(),
    };
    let evaluation = deploy::gates::evaluate(env, &mut store, local, &inputs).await;
    store.close().await;
    Ok(evaluation?.plan)
}

async fn read_rows(env: &Environment) -> Result<Vec<MigrationRow>, String> {
    let mut store = StateStore::connect(&env.url)
        .await
        .map_err(|e| e.to_string())?;
    let rows = store.migrations().await.map_err(|e| e.to_string());
    store.close().await;
    rows
}

/// The scratch part: the local migrations up to the last reported one, the reported ones
/// traced.
fn on_scratch(
    config: &Config,
    flag: &str,
    local: &[LocalMigration],
    migrations: &[ReportMigration],
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<scratch::Scratched> {
    let reported = |l: &LocalMigration| {
        let version = l.migration.version.to_string();
        migrations.iter().any(|m| m.version == version)
    };
    let last = local.iter().rposition(reported).unwrap_or(0);
    let planned: Vec<Planned> = local
        .iter()
        .take(last + 1)
        .map(|l| Planned {
            migration: l.migration.clone(),
            up: l.up.clone(),
            traced: reported(l),
        })
        .collect();
    let server = crate::scratch::ScratchServer::resolve(config, Some(flag), printer)?;
    runtime.block_on(async {
        let scratch = server.database(NAME_PREFIX).await?;
        let pg_dump = crate::reversible::dump::pg_dump_for(
            config.backup.pg_dump.as_deref(),
            &scratch.version,
        );
        printer.note(&format!(
            "report: applying {} migration(s) on scratch database {} (dropped at the end)",
            planned.len(),
            scratch.name
        ));
        let progress = |line: &str| printer.note(line);
        let by_hand = format!(
            "drop it by hand: DROP DATABASE {0}; DROP DATABASE IF EXISTS {0}_saved",
            scratch.name
        );
        let work = async |scratch: &ScratchDb| {
            let pg_dump = pg_dump.map_err(exit::execution)?;
            scratch::on_scratch(scratch, &planned, &pg_dump, &progress).await
        };
        scratch.run_then_remove(work, &by_hand, printer).await
    })
}

/// Writes `text` to `path` through a temporary file in the same directory, renamed over it.
fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Readable as any file the user writes (a temporary file starts private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
