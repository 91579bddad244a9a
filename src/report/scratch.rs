//! The part of the report made on a scratch database: per reported migration, the schema
//! before and after it (`pg_dump --schema-only`, normalised as check-reversible compares
//! schemas) and its trace (locks and rewrites seen in a rolled-back run).
//!
//! The migrations before the first reported one are applied first; each reported one is
//! dumped before, traced, applied for real, and dumped after.

use std::path::Path;

use crate::exit;
use crate::reversible::dump::{self, Schema};
use crate::scratch::ScratchDb;
use crate::trace::{Planned, Stepper, TracedMigration};

/// What the scratch database showed of one reported migration.
#[derive(Debug, Clone)]
pub(crate) struct ScratchResult {
    pub(crate) traced: TracedMigration,
    /// Unified diff of the normalised schema before and after it; empty when it changed no
    /// schema (or when it failed: see `traced.error`).
    pub(crate) diff: String,
}

/// Every reported migration handled, and why it stopped early, if it did.
#[derive(Debug, Clone)]
pub(crate) struct Scratched {
    /// `server_version` of the scratch server.
    pub(crate) server: String,
    pub(crate) results: Vec<ScratchResult>,
    pub(crate) stopped: Option<String>,
}

fn dump_of(program: &Path, scratch: &ScratchDb) -> anyhow::Result<Schema> {
    Schema::dump(program, &scratch.url).map_err(exit::execution)
}

/// Runs `planned` on `scratch` (a database of its own): the ones not `traced` are applied,
/// the traced ones (the reported migrations) are dumped, traced, applied and dumped again.
/// A migration that fails stops the run; the results so far are kept.
pub(crate) async fn on_scratch(
    scratch: &ScratchDb,
    planned: &[Planned],
    pg_dump: &Path,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Scratched> {
    let mut stepper = Stepper::open(scratch).await?;
    let mut results = Vec::new();
    let mut stopped = None;
    // The schema as it is now, when nothing was applied since it was dumped.
    let mut current: Option<Schema> = None;
    let last = planned.iter().rposition(|p| p.traced);
    for p in planned.iter().take(last.map_or(0, |l| l + 1)) {
        let label = p.migration.label();
        if !p.traced {
            progress(&format!(
                "applying {label} (before the reported migrations)"
            ));
            if let Err(error) = stepper.apply(&p.up).await? {
                stopped = Some(format!(
                    "{label}, applied before the reported migrations, failed: {error}"
                ));
                break;
            }
            current = None;
            continue;
        }
        progress(&format!("tracing and applying {label}"));
        let before = match current.take() {
            Some(schema) => schema,
            None => dump_of(pg_dump, scratch)?,
        };
        let traced = stepper.trace(p).await?;
        if traced.error.is_some() {
            stopped = Some(format!(
                "{label} failed when traced; the migrations after it were not run"
            ));
            results.push(ScratchResult {
                traced,
                diff: String::new(),
            });
            break;
        }
        if let Err(error) = stepper.apply(&p.up).await? {
            stopped = Some(format!(
                "{label} was traced but failed when applied: {error}; the migrations after it \
                 were not run"
            ));
            results.push(ScratchResult {
                traced,
                diff: String::new(),
            });
            break;
        }
        let after = dump_of(pg_dump, scratch)?;
        let diff = dump::diff(&before, &after, ("before", "after"))
            .map(|d| d.unified)
            .unwrap_or_default();
        results.push(ScratchResult { traced, diff });
        current = Some(after);
    }
    Ok(Scratched {
        server: stepper.server.clone(),
        results,
        stopped,
    })
}
