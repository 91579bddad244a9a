//! `stagegate migrate plan`: what apply would do, without taking the lock or changing anything.

use std::fmt::Write as _;

use crate::cli::{PlanArgs, PlanFormat};
use crate::config::Config;
use crate::db;
use crate::db::state::StateStore;
use crate::deploy::plan::{Plan, PlannedMigration};
use crate::deploy::{self, LocalMigration};
use crate::exit::{self, Outcome};
use crate::printer::Printer;
use crate::source::Version;

use super::table::{self, wrap};

pub(super) fn run(config: &Config, args: &PlanArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let promote_source = super::apply::promote_source(config, &env)?;
    let local = super::status::load_migrations(config, Some(&env), printer)?;
    let to = target_version(&local, args.to.as_deref())?;
    let lint_options =
        crate::lint::Options::from_config(&config.lint, None, env.lock_timeout.is_some())
            .map_err(anyhow::Error::msg)?;
    let plan = db::runtime()?.block_on(async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        // The same pipeline apply runs, on the same facts.
        let inputs = deploy::gates::Inputs {
            to: to.as_ref(),
            lint: &lint_options,
            promote_source: promote_source.as_ref(),
        };
        let evaluation = deploy::gates::evaluate(&env, &mut store, &local, &inputs).await;
        store.close().await;
        Ok::<_, anyhow::Error>(evaluation?.plan)
    })?;
    match args.format {
        PlanFormat::Text => super::print_report(&render_text(&plan))?,
        PlanFormat::Json => super::print_document(&crate::json::to_string(&plan)?)?,
    }
    // A plan that apply would refuse says so with the same exit code, from the same test.
    Ok(if deploy::gates::plan_refusal(&plan).is_none() {
        Outcome::Success
    } else {
        Outcome::Refused
    })
}

/// `--to`: a version that exists locally.
pub(super) fn target_version(
    local: &[LocalMigration],
    to: Option<&str>,
) -> anyhow::Result<Option<Version>> {
    let Some(text) = to else {
        return Ok(None);
    };
    if Version::parse_recorded(text).is_none() {
        anyhow::bail!("--to {text}: not a migration version");
    }
    match local.iter().find(|m| m.migration.version.matches(text)) {
        Some(found) => Ok(Some(found.migration.version.clone())),
        None => {
            anyhow::bail!("--to {text}: no migration with that version in the migrations directory")
        }
    }
}

/// The plan for people.
pub(super) fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for `{}`: {} migration(s) to apply",
        plan.environment,
        plan.migrations.len()
    );
    if !plan.migrations.is_empty() {
        out.push_str(&migrations_table(&plan.migrations));
    }
    if !plan.refusals.is_empty() {
        let _ = writeln!(out, "apply would refuse:");
        for refusal in &plan.refusals {
            out.push_str(&wrap(&format!("  - {}", refusal.message), 2));
        }
    }
    let _ = writeln!(out, "gates:");
    for gate in &plan.gates {
        let status = match gate.status {
            "not-configured" => "not configured",
            other => other,
        };
        if gate.detail.is_empty() {
            let _ = writeln!(out, "  {:<13}{status}", gate.name);
        } else {
            out.push_str(&wrap(
                &format!("  {:<13}{status}: {}", gate.name, gate.detail),
                13,
            ));
        }
    }
    if !plan.approvals.is_empty() {
        let _ = writeln!(out, "approvals of this plan:");
        for a in &plan.approvals {
            out.push_str(&wrap(
                &format!(
                    "  {} at {} ({}): {}",
                    crate::visible::line(&a.approver),
                    table::date(a.at),
                    a.counts.label(),
                    crate::visible::line(&a.reason)
                ),
                4,
            ));
        }
    }
    if plan.findings.is_empty() {
        let _ = writeln!(out, "lint findings: none");
    } else {
        let _ = writeln!(out, "lint findings:");
        for f in &plan.findings {
            out.push_str(&wrap(&format!("  {}", f.describe()), 2));
        }
    }
    if !plan.locks.is_empty() {
        let _ = writeln!(out, "locks:");
        for l in &plan.locks {
            out.push_str(&wrap(
                &format!(
                    "  {}: {} on {} ({}, blocks {})",
                    l.version,
                    l.lock,
                    l.table,
                    effect_label(l.effect),
                    l.blocks
                ),
                2,
            ));
        }
    }
    // As status shows them, whole: the statement that removes one is for copying.
    out.push_str(&deploy::concurrent::render_invalid(
        &plan.environment,
        &plan.invalid_indexes,
    ));
    // The hash on a line of its own: with the label it would not fit 80 columns.
    let _ = writeln!(out, "plan hash:\n  {}", plan.hash);
    out
}

/// The pending migrations as a table that fits 80 columns with 14-digit versions and
/// `no-transaction` modes: version, name (cut as far as needed; --format json has it whole),
/// mode, statements and checksum; each migration's timeouts, verify script, way back and
/// reason on a line of its own after the table.
fn migrations_table(migrations: &[PlannedMigration]) -> String {
    let mut out = table::render_fit(
        &["version", "name", "mode", "statements", "checksum"],
        migrations
            .iter()
            .map(|m| {
                let statements = if m.resume_from > 0 {
                    format!("{} (resume at {})", m.statements, m.resume_from + 1)
                } else {
                    m.statements.to_string()
                };
                vec![
                    m.version.clone(),
                    m.name.clone(),
                    m.mode.to_string(),
                    statements,
                    table::short_hash(&m.checksum),
                ]
            })
            .collect(),
        &[1],
        8,
        None,
    );
    for m in migrations {
        out.push_str(&wrap(
            &format!(
                "  {}: lock_timeout {}, statement_timeout {}, verify {}, down {}, why {}",
                m.version,
                m.lock_timeout.as_deref().unwrap_or("-"),
                m.statement_timeout.as_deref().unwrap_or("-"),
                if m.has_verify { "yes" } else { "no" },
                m.way_back.label(),
                m.reason
            ),
            2,
        ));
    }
    out
}

fn effect_label(effect: crate::analyze::Effect) -> &'static str {
    match effect {
        crate::analyze::Effect::Brief => "brief",
        crate::analyze::Effect::Scan => "scans the table",
        crate::analyze::Effect::Rewrite => "rewrites the table",
    }
}
