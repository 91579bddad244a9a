//! `stagegate migrate apply`.

use std::fmt::Write as _;

use crate::cli::ApplyArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::apply::{self, ApplyOptions, ApplyReport};
use crate::deploy::confirm;
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::Version;

pub fn run(config: &Config, args: &ApplyArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let confirm = confirm::Request {
        flag: args.confirm.confirm.clone(),
        reason: args.confirm.reason.clone(),
    };
    // Flags that can never pass refuse before any connection is made.
    confirm::check_flags(&env, &confirm, "apply")?;
    let promote_source = promote_source(config, &env)?;
    let to = match &args.to {
        Some(text) => Some(
            Version::parse_recorded(text)
                .ok_or_else(|| anyhow::anyhow!("--to {text}: not a migration version"))?,
        ),
        None => None,
    };
    let options = ApplyOptions {
        to: to.clone(),
        dry_run: args.dry_run,
        plan_hash: args.plan_hash.clone(),
        lock_wait: db::lock::configured_wait().map_err(anyhow::Error::msg)?,
        lint: crate::lint::Options::from_config(&config.lint, None, env.lock_timeout.is_some())
            .map_err(anyhow::Error::msg)?,
        drop_invalid_indexes: config.migrate.drop_invalid_indexes,
        promote_source,
        confirm,
        migrations_dir: config.migrations_dir(),
        backup_tools: config.backup.clone(),
    };
    let from = super::status::MigrationSource::of(config);
    let env_copy = env.clone();
    let printer_copy = *printer;
    let runtime = db::runtime()?;
    let report = runtime.block_on(async {
        // Read the files on a worker thread while the connections are set up.
        let local = async move {
            let local = tokio::task::spawn_blocking(move || {
                super::status::load_migrations_from(&from, Some(&env_copy), &printer_copy)
            })
            .await??;
            super::plan::target_version(&local, to.as_ref().map(Version::as_str))?;
            Ok(local)
        };
        apply::apply(&env, local, &options, &super::sink(printer)).await
    })?;
    super::print_report(&render(&report))?;
    // Only after a run that committed something; the lock is released by now.
    let versions: Vec<String> = report.applied.iter().map(|m| m.version.clone()).collect();
    let check = if report.dry_run {
        None
    } else {
        super::after::run(
            &runtime,
            &env,
            crate::deploy::after::Action::Apply,
            &versions,
            report.head.as_deref(),
            printer,
        )?
    };
    if let Some(check) = &check {
        super::print_report(&super::after::render(check))?;
    }
    Ok(super::after::finish(&env, check.as_ref(), printer))
}

/// The environment a gated one promotes from, with its variables expanded: reading its
/// state needs its URL, so a missing variable is a configuration error here too.
pub fn promote_source(
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

fn render(report: &ApplyReport) -> String {
    let mut out = String::new();
    if report.dry_run {
        out.push_str(&super::plan::render_text(&report.plan));
        out.push_str("dry run: nothing was changed\n");
        return out;
    }
    if report.applied.is_empty() {
        let _ = writeln!(out, "{}: up to date, nothing to apply", report.environment);
        return out;
    }
    let _ = writeln!(
        out,
        "{}: applied {} migration(s) in {}",
        report.environment,
        report.applied.len(),
        crate::human::elapsed(std::time::Duration::from_millis(
            u64::try_from(report.elapsed_ms).unwrap_or(u64::MAX)
        ))
    );
    out.push_str(&runs(
        &report.applied,
        &report.environment,
        report.head.as_deref(),
    ));
    out
}

/// The migrations a run applied or reverted, as a table, and the event log's head after it.
pub fn runs(
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
