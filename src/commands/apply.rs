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

pub(super) fn run(config: &Config, args: &ApplyArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let confirm =
        super::terminal::request(args.confirm.confirm.clone(), args.confirm.reason.clone());
    // Flags that can never pass refuse before any connection is made.
    confirm::check_flags(&env, &confirm, "apply")?;
    let promote_source = super::common::promote_source(config, &env)?;
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
    if let Some(flag) = &args.shadow {
        return on_scratch_copy(config, &env, flag, &options, printer);
    }
    let from = super::common::MigrationSource::of(config);
    let env_copy = env.clone();
    let printer_copy = *printer;
    let runtime = db::runtime()?;
    let report = runtime.block_on(async {
        // Read the files on a worker thread while the connections are set up.
        let local = async move {
            let local = tokio::task::spawn_blocking(move || {
                super::common::load_migrations_from(&from, Some(&env_copy), &printer_copy)
            })
            .await??;
            super::common::target_version(&local, to.as_ref().map(Version::as_str))?;
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

/// `migrate apply --dry-run --shadow`: the gates judge the environment from read-only queries
/// (a plan they refuse runs nowhere), then the plan runs on a scratch copy of its database
/// (`common::on_scratch_copy`, as `migrate down --dry-run --shadow` runs the down scripts);
/// the promotion gate reads the real source. Nothing is written to the environment's database.
fn on_scratch_copy(
    config: &Config,
    env: &crate::config::Environment,
    flag: &str,
    options: &ApplyOptions,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let local = super::common::load_migrations(config, Some(env), printer)?;
    let scratch_server = crate::scratch::ScratchServer::resolve(config, Some(flag), printer)?;
    let sink = super::sink(printer);
    let (planned, ran) = db::runtime()?.block_on(async {
        let planned =
            apply::apply(env, std::future::ready(Ok(local.clone())), options, &sink).await?;
        let ran = super::common::on_scratch_copy(
            config,
            env,
            &scratch_server,
            "migrate apply --dry-run --shadow",
            "the plan",
            printer,
            async |copy: &crate::config::Environment| {
                let options = ApplyOptions {
                    dry_run: false,
                    plan_hash: None,
                    confirm: confirm::Request::default(),
                    ..options.clone()
                };
                apply::apply(copy, std::future::ready(Ok(local.clone())), &options, &sink).await
            },
        )
        .await?;
        Ok::<_, anyhow::Error>((planned, ran))
    })?;
    let mut out = super::common::render_text(&planned.plan);
    let _ = writeln!(
        out,
        "on a scratch copy of `{}` (dropped): applied {} migration(s) in {}",
        env.name,
        ran.applied.len(),
        crate::human::elapsed(std::time::Duration::from_millis(
            u64::try_from(ran.elapsed_ms).unwrap_or(u64::MAX)
        ))
    );
    if !ran.applied.is_empty() {
        out.push_str(&super::common::runs(&ran.applied, &env.name, None));
    }
    let _ = writeln!(out, "dry run: nothing was changed on `{}`", env.name);
    super::print_report(&out)?;
    Ok(Outcome::Success)
}

fn render(report: &ApplyReport) -> String {
    let mut out = String::new();
    if report.dry_run {
        out.push_str(&super::common::render_text(&report.plan));
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
    out.push_str(&super::common::runs(
        &report.applied,
        &report.environment,
        report.head.as_deref(),
    ));
    out
}
