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
    if let Some(flag) = &args.scratch.url {
        return super::common::dry_run_on_copy(
            config,
            &env,
            flag,
            &ON_COPY,
            printer,
            async |on, local, copy, sink| {
                let on_copy = ApplyOptions {
                    dry_run: false,
                    plan_hash: None,
                    confirm: confirm::ConfirmRequest::default(),
                    ..options.clone()
                };
                let options = if copy { &on_copy } else { &options };
                apply::apply(on, std::future::ready(Ok(local)), options, sink).await
            },
            |planned| super::common::render_text(&planned.plan),
        );
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
    super::after::after_run(
        &runtime,
        &env,
        crate::deploy::after::Action::Apply,
        &report.applied,
        report.dry_run,
        report.head.as_deref(),
        printer,
    )
}

/// `migrate apply --dry-run --scratch`: the gates judge the environment from read-only queries
/// (a plan they refuse runs nowhere), then the plan runs on a scratch copy of its database
/// (as `migrate down --dry-run --scratch` runs the down scripts).
const ON_COPY: super::common::DryRunOnCopy<ApplyReport> = super::common::DryRunOnCopy {
    command: "migrate apply --dry-run --scratch",
    what: "the plan",
    done: "applied",
    ran: |report| (&report.applied, report.elapsed_ms),
};

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
    super::common::run_summary(
        &report.environment,
        "applied",
        &report.applied,
        report.elapsed_ms,
        report.head.as_deref(),
    )
}
