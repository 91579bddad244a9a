//! `stagegate migrate apply`.

use std::fmt::Write as _;

use crate::cli::ApplyArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::apply::{self, ApplyOptions, ApplyReport};
use crate::exit::Outcome;
use crate::printer::Printer;

pub fn run(config: &Config, args: &ApplyArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    if let Some(confirm) = &args.confirm.confirm
        && *confirm != env.name
    {
        anyhow::bail!(
            "--confirm names `{confirm}` but the target is `{}`; it must name the target",
            env.name
        );
    }
    let local = super::status::load_migrations(config, printer)?;
    let to = super::plan::target_version(&local, args.to.as_deref())?;
    let options = ApplyOptions {
        to,
        dry_run: args.dry_run,
        plan_hash: args.plan_hash.clone(),
        lock_wait: db::lock::configured_wait().map_err(anyhow::Error::msg)?,
    };
    let report = db::runtime()?.block_on(apply::apply(&env, local, &options, printer))?;
    super::print_report(&render(&report))?;
    Ok(Outcome::Success)
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
    let total: u128 = report.applied.iter().map(|a| a.duration_ms).sum();
    let _ = writeln!(
        out,
        "{}: applied {} migration(s) in {total}ms",
        report.environment,
        report.applied.len()
    );
    out.push_str(&super::table::render(
        &["version", "name", "mode", "statements", "attempts", "time"],
        report.applied.iter().map(|a| {
            vec![
                a.version.clone(),
                a.name.clone(),
                a.mode.to_string(),
                a.statements.to_string(),
                a.attempts.to_string(),
                format!("{}ms", a.duration_ms),
            ]
        }),
    ));
    out
}
