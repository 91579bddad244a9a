//! `stagegate migrate replace-down`.

use crate::cli::ReplaceDownArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::replace_down;
use crate::exit::Outcome;
use crate::printer::Printer;
use crate::source::Version;

pub(super) fn run(
    config: &Config,
    args: &ReplaceDownArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let version = Version::parse(&args.version)
        .ok_or_else(|| anyhow::anyhow!("`{}` is not a migration version", args.version))?;
    let lock_wait = db::lock::configured_wait().map_err(anyhow::Error::msg)?;
    let local = super::common::load_migrations(config, Some(&env), printer)?
        .into_iter()
        .find(|m| m.migration.version == version);
    let request = replace_down::ReplaceDownRequest {
        reason: &args.reason,
        no_op: args.no_op,
        confirm: super::terminal::request(args.confirm.clone(), Some(args.reason.clone())),
        migrations_dir: &config.migrations_dir(),
    };
    let replaced = db::runtime()?.block_on(replace_down::replace_down(
        &env,
        &version,
        &request,
        local.as_ref(),
        lock_wait,
        &super::sink(printer),
    ))?;
    super::print_report(&format!(
        "{}: {} now records {} (was {}); `migrate down` {}\n",
        env.name,
        replaced.label,
        replace_down::describe(Some(&replaced.new)),
        replace_down::describe(replaced.old.as_deref()),
        if replaced.new == crate::deploy::NOOP {
            "runs nothing for it and records it reverted"
        } else {
            "runs this down script"
        }
    ))?;
    Ok(Outcome::Success)
}
