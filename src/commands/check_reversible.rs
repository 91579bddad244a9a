//! `stagegate check-reversible`: up, down and up again of each migration on a scratch
//! database, with the schema compared after each down.

use crate::cli::{CheckReversibleArgs, PlanFormat};
use crate::config::Config;
use crate::db;
use crate::exit::{self, Outcome};
use crate::printer::Printer;
use crate::reversible::{self, dump, report};
use crate::scratch::ScratchDb;
use crate::scratch::ScratchServer;
use crate::source::{self, Version};

/// Prefix of the scratch databases `check-reversible` creates.
const NAME_PREFIX: &str = "stagegate_reversible_";

pub(super) fn run(
    config: &Config,
    args: &CheckReversibleArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let dir = args.path.clone().unwrap_or_else(|| config.migrations_dir());
    let mut set = match &args.path {
        Some(_) => source::discover_as(&dir, config.migrations.layout)?,
        None => config.discover()?,
    };
    for warning in &set.warnings {
        printer.warning(warning);
    }
    // An Alembic project's upgrades and downgrades as Alembic renders them, as apply and
    // down run them.
    crate::alembic::render_configured(&config.alembic, &config.root, &mut set, None)?;
    let prepared = reversible::prepare(&set)?;
    let from = from_version(&set, &dir, args.from.as_deref())?;
    let server = ScratchServer::resolve(config, args.scratch.url.as_deref(), printer)?;
    let report = db::runtime()?.block_on(async {
        let scratch = server.database(NAME_PREFIX).await?;
        let pg_dump = dump::pg_dump_for(config.backup.pg_dump.as_deref(), &scratch.version);
        printer.note(&format!(
            "check-reversible: {} migration(s) in {}, on scratch database {} (dropped at the end)",
            prepared.len(),
            dir.display(),
            scratch.name
        ));
        let progress = |line: &str| printer.note(line);
        let by_hand = format!("drop it by hand: DROP DATABASE {}", scratch.name);
        let checked = async |scratch: &ScratchDb| {
            let pg_dump = pg_dump.map_err(exit::execution)?;
            reversible::check(scratch, &pg_dump, &prepared, from.as_ref(), &progress).await
        };
        scratch.run_then_remove(checked, &by_hand, printer).await
    })?;
    match args.format {
        PlanFormat::Text => super::print_report(&report::text(&report))?,
        PlanFormat::Json => super::print_document(&report::json(&report))?,
    }
    Ok(if report.reversible {
        Outcome::Success
    } else {
        Outcome::Findings
    })
}

/// `--from`: a version of the set.
fn from_version(
    set: &source::MigrationSet,
    dir: &std::path::Path,
    from: Option<&str>,
) -> anyhow::Result<Option<Version>> {
    let Some(text) = from else {
        return Ok(None);
    };
    // A version, or an Alembic revision id: the set's own migration gives its place.
    match set.find(text) {
        Some(migration) => Ok(Some(migration.version.clone())),
        None => anyhow::bail!(
            "--from {text}: no migration with that version in {}",
            dir.display()
        ),
    }
}
