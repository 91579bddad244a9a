//! What several commands share: loading the configured migrations, the `--to` version, the
//! promotion source, and the plan and run tables. Commands use each other only through this
//! module.

use std::fmt::Write as _;

use crate::config::Config;
use crate::deploy::plan::{Plan, PlannedMigration};
use crate::deploy::{self, LocalMigration};
use crate::printer::Printer;
use crate::source::{self, Version};

use super::table::{self, wrap};

/// Discovers and loads the configured migrations, printing discovery warnings; an Alembic
/// project's revisions are rendered for `env` (or for no environment).
pub(super) fn load_migrations(
    config: &Config,
    env: Option<&crate::config::Environment>,
    printer: &Printer,
) -> anyhow::Result<Vec<LocalMigration>> {
    load_migrations_from(&MigrationSource::of(config), env, printer)
}

/// Where the configured migrations are, owned (to read them on another thread).
#[derive(Debug, Clone)]
pub(super) struct MigrationSource {
    pub dir: std::path::PathBuf,
    pub layout: Option<source::Layout>,
    pub down_dir: Option<std::path::PathBuf>,
    pub ignore: Vec<String>,
    pub alembic: crate::config::AlembicConfig,
    pub root: std::path::PathBuf,
}

impl MigrationSource {
    pub(super) fn of(config: &Config) -> MigrationSource {
        MigrationSource {
            dir: config.migrations_dir(),
            layout: config.migrations.layout,
            down_dir: config.down_dir(),
            ignore: config.migrations.ignore.clone(),
            alembic: config.alembic.clone(),
            root: config.root.clone(),
        }
    }
}

/// As [`load_migrations`], from a [`MigrationSource`].
pub(super) fn load_migrations_from(
    from: &MigrationSource,
    env: Option<&crate::config::Environment>,
    printer: &Printer,
) -> anyhow::Result<Vec<LocalMigration>> {
    let mut set = source::discover_as(&from.dir, from.layout)?;
    set.silence(&from.ignore);
    if let Some(dir) = &from.down_dir {
        source::attach_down_dir(&mut set, dir)?;
    }
    for warning in &set.warnings {
        printer.warning(warning);
    }
    crate::alembic::render_configured(&from.alembic, &from.root, &mut set, env)?;
    let local = deploy::load_local(&set)?;
    printer.detail(&format!(
        "migrations: {} in {}",
        local.len(),
        from.dir.display()
    ));
    Ok(local)
}

/// The environment a gated one promotes from, with its variables expanded: reading its
/// state needs its URL, so a missing variable is a configuration error here too.
pub(super) fn promote_source(
    config: &Config,
    env: &crate::config::Environment,
) -> anyhow::Result<Option<crate::config::Environment>> {
    match &env.promote_from {
        None => Ok(None),
        Some(from) => Ok(Some(config.environment(from).map_err(|error| {
            anyhow::anyhow!(
                "`{}` promotes from `{from}`, whose state the promotion gate reads: {error}",
                env.name
            )
        })?)),
    }
}

/// The migrations a run applied or reverted, as a table, and the event log's head after it.
pub(super) fn runs(
    migrations: &[crate::deploy::runner::AppliedMigration],
    environment: &str,
    head: Option<&str>,
) -> String {
    let mut out = super::table::render_fit(
        &["version", "name", "mode", "statements", "attempts", "time"],
        migrations
            .iter()
            .map(|a| {
                vec![
                    a.version.clone(),
                    a.name.clone(),
                    a.mode.to_string(),
                    a.statements.to_string(),
                    a.attempts.to_string(),
                    format!("{}ms", a.duration_ms),
                ]
            })
            .collect(),
        &[1],
        12,
        None,
    );
    if let Some(head) = head {
        let _ = writeln!(
            out,
            "event log head: {head} (keep it: `stagegate audit --env {environment} --verify \
             --head {head}`)"
        );
    }
    out
}

/// `--to`: a version that exists locally.
pub(super) fn target_version(
    local: &[LocalMigration],
    to: Option<&str>,
) -> anyhow::Result<Option<Version>> {
    let Some(text) = to else {
        return Ok(None);
    };
    if Version::parse_recorded(text).is_none() {
        anyhow::bail!("--to {text}: not a migration version");
    }
    match local.iter().find(|m| m.migration.version.matches(text)) {
        Some(found) => Ok(Some(found.migration.version.clone())),
        None => {
            anyhow::bail!("--to {text}: no migration with that version in the migrations directory")
        }
    }
}

/// The plan for people.
pub(super) fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for `{}`: {} migration(s) to apply",
        plan.environment,
        plan.migrations.len()
    );
    if !plan.migrations.is_empty() {
        out.push_str(&migrations_table(&plan.migrations));
    }
    if !plan.refusals.is_empty() {
        let _ = writeln!(out, "apply would refuse:");
        for refusal in &plan.refusals {
            out.push_str(&wrap(&format!("  - {}", refusal.message), 2));
        }
    }
    let _ = writeln!(out, "gates:");
    for gate in &plan.gates {
        let status = match gate.status {
            "not-configured" => "not configured",
            other => other,
        };
        if gate.detail.is_empty() {
            let _ = writeln!(out, "  {:<13}{status}", gate.name);
        } else {
            out.push_str(&wrap(
                &format!("  {:<13}{status}: {}", gate.name, gate.detail),
                13,
            ));
        }
    }
    if !plan.approvals.is_empty() {
        let _ = writeln!(out, "approvals of this plan:");
        for a in &plan.approvals {
            out.push_str(&wrap(
                &format!(
                    "  {} at {} ({}): {}",
                    crate::visible::line(&a.approver),
                    table::date(a.at),
                    a.counts.label(),
                    crate::visible::line(&a.reason)
                ),
                4,
            ));
        }
    }
    if plan.findings.is_empty() {
        let _ = writeln!(out, "lint findings: none");
    } else {
        let _ = writeln!(out, "lint findings:");
        for f in &plan.findings {
            out.push_str(&wrap(&format!("  {}", f.describe()), 2));
        }
    }
    if !plan.locks.is_empty() {
        let _ = writeln!(out, "locks:");
        for l in &plan.locks {
            out.push_str(&wrap(
                &format!(
                    "  {}: {} on {} ({}, blocks {})",
                    l.version,
                    l.lock,
                    l.table,
                    effect_label(l.effect),
                    l.blocks
                ),
                2,
            ));
        }
    }
    // As status shows them, whole: the statement that removes one is for copying.
    out.push_str(&deploy::concurrent::render_invalid(
        &plan.environment,
        &plan.invalid_indexes,
    ));
    // The hash on a line of its own: with the label it would not fit 80 columns.
    let _ = writeln!(out, "plan hash:\n  {}", plan.hash);
    out
}

/// The pending migrations as a table that fits 80 columns with 14-digit versions and
/// `no-transaction` modes: version, name (cut as far as needed; --format json has it whole),
/// mode, statements and checksum; each migration's timeouts, verify script, way back and
/// reason on a line of its own after the table.
fn migrations_table(migrations: &[PlannedMigration]) -> String {
    let mut out = table::render_fit(
        &["version", "name", "mode", "statements", "checksum"],
        migrations
            .iter()
            .map(|m| {
                let statements = if m.resume_from > 0 {
                    format!("{} (resume at {})", m.statements, m.resume_from + 1)
                } else {
                    m.statements.to_string()
                };
                vec![
                    m.version.clone(),
                    m.name.clone(),
                    m.mode.to_string(),
                    statements,
                    table::short_hash(&m.checksum),
                ]
            })
            .collect(),
        &[1],
        8,
        None,
    );
    for m in migrations {
        out.push_str(&wrap(
            &format!(
                "  {}: lock_timeout {}, statement_timeout {}, verify {}, down {}, why {}",
                m.version,
                m.lock_timeout.as_deref().unwrap_or("-"),
                m.statement_timeout.as_deref().unwrap_or("-"),
                if m.has_verify { "yes" } else { "no" },
                m.way_back.label(),
                m.reason
            ),
            2,
        ));
    }
    out
}

fn effect_label(effect: crate::analyze::Effect) -> &'static str {
    match effect {
        crate::analyze::Effect::Brief => "brief",
        crate::analyze::Effect::Scan => "scans the table",
        crate::analyze::Effect::Rewrite => "rewrites the table",
    }
}

/// A dry run with `--scratch` (`migrate apply`, `migrate down`, whose reports are `R`).
pub(super) struct DryRunOnCopy<R> {
    /// The command, for people: "migrate apply --dry-run --scratch".
    pub command: &'static str,
    /// What runs on the copy: "the plan", "the down scripts".
    pub what: &'static str,
    /// What the run on the copy did to a migration: "applied", "reverted".
    pub done: &'static str,
    /// The migrations a report says were run, and the run's wall time in milliseconds.
    pub ran: fn(&R) -> (&[crate::deploy::runner::AppliedMigration], u128),
}

/// `migrate apply|down --dry-run --scratch` (`flag`: the scratch server given, or empty): `run`
/// first judges `env` from read-only queries (`copy` false: the command's own dry run, whose
/// refusal or error ends it before anything is copied; the promotion gate reads the real
/// source), then runs for real on a scratch copy of its database (`copy` true,
/// [`on_scratch_copy`]), whose errors are the command's. Prints the first run's report
/// (`render`) and what the second did. Nothing is written to `env`'s database.
pub(super) fn dry_run_on_copy<R>(
    config: &Config,
    env: &crate::config::Environment,
    flag: &str,
    kind: &DryRunOnCopy<R>,
    printer: &Printer,
    run: impl AsyncFn(
        &crate::config::Environment,
        Vec<LocalMigration>,
        bool,
        &crate::progress::Sink,
    ) -> anyhow::Result<R>,
    render: impl FnOnce(&R) -> String,
) -> anyhow::Result<crate::exit::Outcome> {
    let local = load_migrations(config, Some(env), printer)?;
    let scratch_server = crate::scratch::ScratchServer::resolve(config, Some(flag), printer)?;
    let sink = super::sink(printer);
    let (planned, ran) = crate::db::runtime()?.block_on(async {
        let planned = run(env, local.clone(), false, &sink).await?;
        let ran = on_scratch_copy(
            config,
            env,
            &scratch_server,
            kind.command,
            kind.what,
            printer,
            async |copy: &crate::config::Environment| run(copy, local.clone(), true, &sink).await,
        )
        .await?;
        Ok::<_, anyhow::Error>((planned, ran))
    })?;
    let mut out = render(&planned);
    let (migrations, elapsed_ms) = (kind.ran)(&ran);
    let _ = write!(out, "on a scratch copy of `{}` (dropped): ", env.name);
    out.push_str(&done_in(kind.done, migrations, elapsed_ms));
    if !migrations.is_empty() {
        out.push_str(&runs(migrations, &env.name, None));
    }
    let _ = writeln!(out, "dry run: nothing was changed on `{}`", env.name);
    super::print_report(&out)?;
    Ok(crate::exit::Outcome::Success)
}

/// What `migrate apply` or `migrate down` did to `environment`: "staging: reverted 1
/// migration(s) in 80ms", the runs and the event log's head.
pub(super) fn run_summary(
    environment: &str,
    done: &str,
    migrations: &[crate::deploy::runner::AppliedMigration],
    elapsed_ms: u128,
    head: Option<&str>,
) -> String {
    let mut out = format!("{environment}: ");
    out.push_str(&done_in(done, migrations, elapsed_ms));
    out.push_str(&runs(migrations, environment, head));
    out
}

/// "applied 2 migration(s) in 1.2s" and a newline.
fn done_in(
    done: &str,
    migrations: &[crate::deploy::runner::AppliedMigration],
    elapsed_ms: u128,
) -> String {
    format!(
        "{done} {} migration(s) in {}\n",
        migrations.len(),
        crate::human::elapsed_ms(elapsed_ms)
    )
}

/// Prefix of the scratch databases the dry runs with `--scratch` create.
const COPY_PREFIX: &str = "stagegate_dryrun_";

/// The dry runs with `--scratch` (`migrate apply`, `migrate down`): `work` runs on a copy of
/// `env`'s database (pg_dump piped into pg_restore, no file written) in a scratch database
/// stagegate creates on `server` and drops at the end, whatever the outcome. The copy is
/// bound to `env`'s name, so the same gates judge it; it has no confirmation, backup,
/// approvals or after-apply/after-down check of its own (those were judged on `env`, or are
/// not run by a dry run). `what` says what runs there, `command` what made the copy (both for
/// people). Nothing is written to `env`'s database.
async fn on_scratch_copy<T>(
    config: &Config,
    env: &crate::config::Environment,
    server: &crate::scratch::ScratchServer,
    command: &str,
    what: &str,
    printer: &Printer,
    work: impl AsyncFnOnce(&crate::config::Environment) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let version = {
        let client = crate::db::connect(&env.url)
            .await
            .map_err(crate::exit::execution)?;
        crate::backup::server_version(&client)
            .await
            .map_err(crate::exit::execution)?
    };
    let tools = crate::programs::client_tools(config.backup.pg_dump.as_deref(), &version).map_err(
        |attempts| {
            crate::backup::BackupError::NoPgDump {
                env: env.name.clone(),
                server: version.text.clone(),
                attempts,
            }
            .into_exit()
        },
    )?;
    let scratch = server.database(COPY_PREFIX).await?;
    printer.note(&format!(
        "copying `{}` into scratch database {} (dropped at the end)",
        env.name, scratch.name
    ));
    let by_hand = format!("drop it by hand: DROP DATABASE {}", scratch.name);
    let run = async |scratch: &crate::scratch::ScratchDb| {
        crate::backup::copy(
            &tools.pg_dump,
            &tools.pg_restore,
            env.url.target()?,
            scratch.url.target()?,
        )
        .await
        .map_err(|message| {
            crate::exit::execution(anyhow::anyhow!(
                "copying `{}` into scratch database {}: {message}",
                env.name,
                scratch.name
            ))
        })?;
        let copy = crate::config::Environment {
            url: scratch.url.clone(),
            confirm: None,
            backup: None,
            approvals: 0,
            approvers: None,
            after_apply: None,
            after_down: None,
            ..env.clone()
        };
        bind_copy(&copy, command).await?;
        printer.note(&format!(
            "running {what} on the copy of `{}` in {}",
            env.name, scratch.name
        ));
        work(&copy).await
    };
    scratch.run_then_remove(run, &by_hand, printer).await
}

/// Binds a copy whose state names its environment to this scratch database, as the copy it
/// is (the binding's server identity is the original's).
async fn bind_copy(copy: &crate::config::Environment, command: &str) -> anyhow::Result<()> {
    let mut store = crate::db::state::StateStore::connect(&copy.url)
        .await
        .map_err(crate::exit::execution)?;
    let result = async {
        if store.binding().await?.is_some() {
            let detail = serde_json::json!({
                "environment": copy.name,
                "reason": format!("a scratch copy for `{command}`"),
            });
            store
                .bind(
                    &copy.name,
                    crate::db::state::os_user().as_deref(),
                    &detail.to_string(),
                )
                .await?;
        }
        Ok::<_, crate::db::state::StateError>(())
    }
    .await
    .map_err(crate::exit::execution);
    store.close().await;
    result
}
