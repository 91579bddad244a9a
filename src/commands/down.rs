//! `stagegate migrate down`.

use std::fmt::Write as _;

use crate::cli::DownArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::down::{self, DownOptions, DownReport, DownTarget};
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::Version;

pub(super) fn run(config: &Config, args: &DownArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let confirm =
        super::terminal::request(args.confirm.confirm.clone(), args.confirm.reason.clone());
    // Flags that can never pass refuse before any connection is made.
    crate::deploy::confirm::check_flags(&env, &confirm, "roll back")?;
    let target = match (&args.steps, &args.to) {
        (Some(steps), _) => DownTarget::Steps(*steps),
        (None, Some(text)) => DownTarget::To(Version::parse_recorded(text).ok_or_else(|| {
            anyhow::anyhow!("--to {text}: not a migration version or revision id")
        })?),
        (None, None) => anyhow::bail!("give --steps N or --to VERSION"),
    };
    let options = DownOptions {
        target,
        dry_run: args.dry_run,
        read_only: args.scratch.given(),
        allow_data_loss: args.allow_data_loss,
        lock_wait: db::lock::configured_wait().map_err(anyhow::Error::msg)?,
        drop_invalid_indexes: config.migrate.drop_invalid_indexes,
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
                let on_copy = DownOptions {
                    dry_run: false,
                    read_only: false,
                    confirm: crate::deploy::confirm::ConfirmRequest::default(),
                    ..options.clone()
                };
                let options = if copy { &on_copy } else { &options };
                down::down(on, std::future::ready(Ok(local)), options, sink).await
            },
            |planned| {
                warn_data_loss(planned, printer);
                render(planned)
            },
        );
    }
    let from = super::common::MigrationSource::of(config);
    let env_copy = env.clone();
    let printer_copy = *printer;
    let runtime = db::runtime()?;
    let report = runtime.block_on(async {
        let local = async move {
            tokio::task::spawn_blocking(move || {
                super::common::load_migrations_from(&from, Some(&env_copy), &printer_copy)
            })
            .await?
        };
        down::down(&env, local, &options, &super::sink(printer)).await
    })?;
    warn_data_loss(&report, printer);
    super::print_report(&render(&report))?;
    super::after::after_run(
        &runtime,
        &env,
        crate::deploy::after::Action::Down,
        &report.reverted,
        report.dry_run,
        report.head.as_deref(),
        printer,
    )
}

/// `migrate down --dry-run --scratch`: the gates and the data-loss guard judge the environment
/// and its dry run reads only, then the down scripts run for real on a scratch copy of its
/// database (as `migrate apply --dry-run --scratch` runs the plan).
const ON_COPY: super::common::DryRunOnCopy<DownReport> = super::common::DryRunOnCopy {
    command: "migrate down --dry-run --scratch",
    what: "the down scripts",
    done: "reverted",
    ran: |report| (&report.reverted, report.elapsed_ms),
};

/// The data a down destroys that `--allow-data-loss` let through, as warnings.
fn warn_data_loss(report: &DownReport, printer: &Printer) {
    for loss in &report.data_loss {
        printer.warning(&format!(
            "--allow-data-loss: {} on {} ({} row(s) or value(s))",
            loss.what, loss.object, loss.rows
        ));
    }
}

fn render(report: &DownReport) -> String {
    let mut out = String::new();
    if report.dry_run {
        if report.dry.is_empty() {
            let _ = writeln!(out, "{}: nothing to revert", report.environment);
        }
        for migration in &report.dry {
            let _ = writeln!(
                out,
                "dry run of the down of {}_{} on `{}`:",
                migration.version, migration.name, report.environment
            );
            for s in &migration.statements {
                let what = match (&s.skipped, s.rows) {
                    (Some(why), _) => format!("not run: {why}"),
                    (None, Some(rows)) => format!("{rows} row(s)"),
                    (None, None) => "done".to_string(),
                };
                let _ = writeln!(out, "  line {}: {}  -> {what}", s.line, s.statement);
            }
            let dropped = if migration.read_only {
                "drops (as its statements read)"
            } else {
                "dropped"
            };
            if migration.dropped.is_empty() {
                let _ = writeln!(out, "  {dropped}: nothing");
            } else {
                let _ = writeln!(out, "  {dropped}: {}", migration.dropped.join(", "));
            }
            if !migration.created.is_empty() {
                let _ = writeln!(out, "  created: {}", migration.created.join(", "));
            }
        }
        if report.dry.iter().any(|m| m.read_only) {
            let _ = writeln!(
                out,
                "dry run: no statement was run on `{}` (read-only queries only); nothing was \
                 changed",
                report.environment
            );
        } else {
            out.push_str("dry run: everything was rolled back, nothing was changed\n");
        }
        return out;
    }
    if report.reverted.is_empty() {
        let _ = writeln!(out, "{}: nothing to revert", report.environment);
        return out;
    }
    super::common::run_summary(
        &report.environment,
        "reverted",
        &report.reverted,
        report.elapsed_ms,
        report.head.as_deref(),
    )
}
