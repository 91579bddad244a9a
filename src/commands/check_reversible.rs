//! `stagegate check-reversible`: up, down and up again of each migration on a scratch
//! database, with the schema compared after each down.

use crate::cli::{CheckReversibleArgs, PlanFormat};
use crate::config::{Config, DatabaseUrl};
use crate::db;
use crate::exit::{self, Outcome};
use crate::printer::Printer;
use crate::reversible::database::ScratchDb;
use crate::reversible::{self, dump, report};
use crate::source::{self, Version};

pub fn run(
    config: &Config,
    args: &CheckReversibleArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let dir = args.path.clone().unwrap_or_else(|| config.migrations_dir());
    let set = source::discover_as(&dir, config.migrations.layout)?;
    for warning in &set.warnings {
        printer.warning(warning);
    }
    let prepared = reversible::prepare(&set)?;
    let from = match args.from.as_deref() {
        None => None,
        Some(text) => {
            let version = Version::parse(text)
                .ok_or_else(|| anyhow::anyhow!("--from {text}: not a migration version"))?;
            if set.find(text).is_none() {
                anyhow::bail!(
                    "--from {text}: no migration with that version in {}",
                    dir.display()
                );
            }
            Some(version)
        }
    };
    let shadow = resolve_shadow(config, args.shadow.as_deref(), printer)?;
    let pg_dump = dump::pg_dump_program(config);
    let report = db::runtime()?.block_on(async {
        let scratch = ScratchDb::open(&shadow.url())
            .await
            .map_err(exit::execution)?;
        if scratch.own {
            printer.note(&format!(
                "check-reversible: {} migration(s) in {}, on scratch database {} (dropped at the end)",
                prepared.len(),
                dir.display(),
                scratch.name
            ));
        } else {
            printer.warning(&format!(
                "cannot create a database of its own on {} ({}): checking in the shadow \
                 database {} itself if it is empty; the migrations stay applied there",
                scratch.server(),
                scratch.not_own_reason.as_deref().unwrap_or_default(),
                scratch.name
            ));
        }
        let progress = |line: &str| printer.note(line);
        let checked = tokio::select! {
            result = reversible::check(&scratch, &pg_dump, &prepared, from.as_ref(), &progress) => result,
            _ = tokio::signal::ctrl_c() => Err(exit::execution(anyhow::anyhow!(
                "interrupted (Ctrl-C)"
            ))),
        };
        let name = scratch.name.clone();
        let own = scratch.own;
        let removed = scratch.remove().await;
        match (checked, removed) {
            (Ok(report), Ok(())) => Ok(report),
            (Ok(_), Err(error)) => Err(exit::execution(anyhow::anyhow!(
                "{error}; drop it by hand: DROP DATABASE {name}"
            ))),
            (Err(error), Ok(())) => Err(error),
            (Err(error), Err(drop_error)) => {
                if own {
                    printer.warning(&format!(
                        "{drop_error}; drop it by hand: DROP DATABASE {name}"
                    ));
                }
                Err(error)
            }
        }
    })?;
    let text = match args.format {
        PlanFormat::Text => report::text(&report),
        PlanFormat::Json => report::json(&report),
    };
    super::print_report(&text)?;
    Ok(if report.reversible {
        Outcome::Success
    } else {
        Outcome::Findings
    })
}

/// The scratch server named by the user.
struct GivenShadow(DatabaseUrl);

impl GivenShadow {
    fn url(&self) -> DatabaseUrl {
        self.0.clone()
    }
}

/// Where the scratch database lives: `--shadow` (or `STAGEGATE_SHADOW_URL`), else
/// `[shadow] url`. The one place to change when a throwaway cluster becomes the fallback.
fn resolve_shadow(
    config: &Config,
    flag: Option<&str>,
    _printer: &Printer,
) -> anyhow::Result<GivenShadow> {
    if let Some(url) = flag.filter(|url| !url.is_empty()) {
        return Ok(GivenShadow(DatabaseUrl::new(url)));
    }
    if let Some(url) = config.shadow_url()? {
        return Ok(GivenShadow(url));
    }
    anyhow::bail!("no scratch database: pass --shadow URL or set [shadow] url")
}
