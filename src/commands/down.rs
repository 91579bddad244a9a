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
        read_only: args.shadow.is_some(),
        allow_data_loss: args.allow_data_loss,
        lock_wait: db::lock::configured_wait().map_err(anyhow::Error::msg)?,
        drop_invalid_indexes: config.migrate.drop_invalid_indexes,
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
        let local = async move {
            tokio::task::spawn_blocking(move || {
                super::common::load_migrations_from(&from, Some(&env_copy), &printer_copy)
            })
            .await?
        };
        down::down(&env, local, &options, &super::sink(printer)).await
    })?;
    for loss in &report.data_loss {
        printer.warning(&format!(
            "--allow-data-loss: {} on {} ({} row(s) or value(s))",
            loss.what, loss.object, loss.rows
        ));
    }
    super::print_report(&render(&report))?;
    // Only after a run that committed something; the lock is released by now.
    let versions: Vec<String> = report.reverted.iter().map(|m| m.version.clone()).collect();
    let check = if report.dry_run {
        None
    } else {
        super::after::run(
            &runtime,
            &env,
            crate::deploy::after::Action::Down,
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

/// `migrate down --dry-run --shadow`: the gates and the data-loss guard judge the environment
/// and its dry run reads only, then the down scripts run for real on a scratch copy of its
/// database (`common::on_scratch_copy`, as `migrate apply --dry-run --shadow` runs the plan),
/// whose errors are this command's. Nothing is written to the environment's database.
fn on_scratch_copy(
    config: &Config,
    env: &crate::config::Environment,
    flag: &str,
    options: &DownOptions,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let local = super::common::load_migrations(config, Some(env), printer)?;
    let scratch_server = crate::scratch::ScratchServer::resolve(config, Some(flag), printer)?;
    let sink = super::sink(printer);
    let (planned, ran) = db::runtime()?.block_on(async {
        let planned =
            down::down(env, std::future::ready(Ok(local.clone())), options, &sink).await?;
        let ran = super::common::on_scratch_copy(
            config,
            env,
            &scratch_server,
            "migrate down --dry-run --shadow",
            "the down scripts",
            printer,
            async |copy: &crate::config::Environment| {
                let options = DownOptions {
                    dry_run: false,
                    read_only: false,
                    confirm: crate::deploy::confirm::Request::default(),
                    ..options.clone()
                };
                down::down(copy, std::future::ready(Ok(local.clone())), &options, &sink).await
            },
        )
        .await?;
        Ok::<_, anyhow::Error>((planned, ran))
    })?;
    for loss in &planned.data_loss {
        printer.warning(&format!(
            "--allow-data-loss: {} on {} ({} row(s) or value(s))",
            loss.what, loss.object, loss.rows
        ));
    }
    let mut out = render(&planned);
    let _ = writeln!(
        out,
        "on a scratch copy of `{}` (dropped): reverted {} migration(s) in {}",
        env.name,
        ran.reverted.len(),
        crate::human::elapsed(std::time::Duration::from_millis(
            u64::try_from(ran.elapsed_ms).unwrap_or(u64::MAX)
        ))
    );
    if !ran.reverted.is_empty() {
        out.push_str(&super::common::runs(&ran.reverted, &env.name, None));
    }
    let _ = writeln!(out, "dry run: nothing was changed on `{}`", env.name);
    super::print_report(&out)?;
    Ok(Outcome::Success)
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
    let _ = writeln!(
        out,
        "{}: reverted {} migration(s) in {}",
        report.environment,
        report.reverted.len(),
        crate::human::elapsed(std::time::Duration::from_millis(
            u64::try_from(report.elapsed_ms).unwrap_or(u64::MAX)
        ))
    );
    out.push_str(&super::common::runs(
        &report.reverted,
        &report.environment,
        report.head.as_deref(),
    ));
    out
}
