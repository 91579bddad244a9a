//! `stagegate migrate rebind`.

use crate::cli::RebindArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::gates;
use crate::exit::Outcome;
use crate::printer::Printer;

pub(super) fn run(
    config: &Config,
    args: &RebindArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let owner = |name: &str| config.environment(name).ok();
    let (previous, identity) = db::runtime()?.block_on(gates::rebind(
        &env,
        owner,
        &args.reason,
        &args.confirm,
        super::terminal::here(),
        &config.migrations_dir(),
        db::lock::configured_wait().map_err(anyhow::Error::msg)?,
        &super::sink(printer),
    ))?;
    super::print_report(&format!(
        "{}: this database (server {identity}) is now bound to `{}`{}\n",
        env.name,
        env.name,
        previous.map_or_else(String::new, |b| format!(
            " (it was bound to `{}` on server {})",
            b.environment, b.identity
        ))
    ))?;
    Ok(Outcome::Success)
}
