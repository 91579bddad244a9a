//! `stagegate migrate approve`: a sign-off of one plan, recorded in the event log.

use std::fmt::Write as _;

use crate::cli::ApproveArgs;
use crate::config::Config;
use crate::db;
use crate::deploy::{approve, gates};
use crate::exit::Outcome;
use crate::printer::Printer;

pub(super) fn run(
    config: &Config,
    args: &ApproveArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let promote_source = super::common::promote_source(config, &env)?;
    let local = super::common::load_migrations(config, Some(&env), printer)?;
    let to = super::common::target_version(&local, args.to.as_deref())?;
    let lint_options =
        crate::lint::Options::from_config(&config.lint, None, env.lock_timeout.is_some())
            .map_err(anyhow::Error::msg)?;
    let migrations_dir = config.migrations_dir();
    let request = approve::ApprovalRequest {
        plan_hash: &args.plan_hash,
        reason: &args.reason,
        inputs: gates::Inputs {
            to: to.as_ref(),
            lint: &lint_options,
            promote_source: promote_source.as_ref(),
        },
        migrations_dir: &migrations_dir,
    };
    let approved = db::runtime()?.block_on(approve::approve(&env, &local, &request))?;
    if approved.again {
        printer.note(&format!(
            "`{}` had approved this plan before: recorded again, counted once",
            crate::visible::line(&approved.approver)
        ));
    }
    super::print_report(&render(&approved))?;
    Ok(Outcome::Success)
}

fn render(approved: &approve::Approved) -> String {
    let mut out = String::new();
    let names: Vec<String> = approved
        .approvers
        .iter()
        .map(|n| crate::visible::line(n).into_owned())
        .collect();
    let _ = writeln!(
        out,
        "{}: plan approved by {}\n  plan hash: {}\n  approvals of this plan: {} of {} ({}); \
         the one who applies does not count",
        approved.environment,
        crate::visible::line(&approved.approver),
        approved.plan_hash,
        approved.approvers.len(),
        approved.needed,
        names.join(", ")
    );
    let _ = writeln!(out, "event log head: {}", approved.event_hash);
    out
}
