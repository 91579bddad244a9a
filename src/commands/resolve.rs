//! `stagegate migrate resolve`.

use crate::cli::ResolveArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::resolve;
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::Version;

pub(super) fn run(
    config: &Config,
    args: &ResolveArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let version = Version::parse_recorded(&args.version).ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` is not a migration version or revision id",
            args.version
        )
    })?;
    let lock_wait = db::lock::configured_wait().map_err(anyhow::Error::msg)?;
    // The file tells which statement an uncertain one is, and the checksum of those done.
    let local = super::common::load_migrations(config, Some(&env), printer)?
        .into_iter()
        .find(|m| m.migration.version.matches(&args.version));
    let request = resolve::ResolveRequest {
        reason: &args.reason,
        statement: args.statement,
        abandon: args.abandon,
        confirm: super::terminal::request(args.confirm.clone(), Some(args.reason.clone())),
        migrations_dir: &config.migrations_dir(),
    };
    let label = db::runtime()?.block_on(resolve::resolve(
        &env,
        &version,
        &request,
        local.as_ref(),
        lock_wait,
        &super::sink(printer),
    ))?;
    super::print_report(&if args.abandon {
        format!(
            "{}: abandoned the failed attempt of {label}; it is never run again, and the \
             migrations after it apply\n",
            env.name
        )
    } else {
        format!(
            "{}: resolved the failed attempt of {label}; the next apply runs it again (a \
             no-transaction migration resumes at the statement that failed)\n",
            env.name
        )
    })?;
    Ok(Outcome::Success)
}
