//! `stagegate migrate baseline`.

use std::fmt::Write as _;

use crate::cli::BaselineArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::baseline::{self, BaselineOptions, BaselineReport, BaselineSource};
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::Version;

pub(super) fn run(
    config: &Config,
    args: &BaselineArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let source = match &args.to {
        Some(text) => BaselineSource::UpTo(Version::parse_recorded(text).ok_or_else(|| {
            anyhow::anyhow!("--to {text}: not a migration version or revision id")
        })?),
        None => BaselineSource::Runner(args.from),
    };
    let local = super::common::load_migrations(config, Some(&env), printer)?;
    let dir = config.migrations_dir();
    let options = BaselineOptions {
        source,
        reason: &args.reason,
        confirm: super::terminal::request(args.confirm.clone(), Some(args.reason.clone())),
        lock_wait: db::lock::configured_wait().map_err(anyhow::Error::msg)?,
        migrations_dir: &dir,
    };
    let report = db::runtime()?.block_on(baseline::baseline(
        &env,
        &local,
        &options,
        &super::sink(printer),
    ))?;
    super::print_report(&render(&env.name, &report))?;
    Ok(Outcome::Success)
}

fn render(env: &str, report: &BaselineReport) -> String {
    let mut out = String::new();
    if report.recorded.is_empty() {
        writeln!(
            out,
            "{env}: nothing to baseline from {}; no SQL was run",
            report.source
        )
        .ok();
    } else {
        writeln!(
            out,
            "{env}: baselined {} migration(s) from {}, recorded as applied; no SQL was run",
            report.recorded.len(),
            report.source
        )
        .ok();
        for label in &report.recorded {
            writeln!(out, "  baselined  {label}").ok();
        }
    }
    for label in &report.already {
        writeln!(
            out,
            "  already    {label} (recorded by stagegate; left as it is)"
        )
        .ok();
    }
    for label in &report.pending {
        writeln!(out, "  pending    {label} (not applied there)").ok();
    }
    for version in &report.without_file {
        writeln!(
            out,
            "  no file    {version} (applied there, but no local migration has this version; \
             not recorded)"
        )
        .ok();
    }
    out
}
