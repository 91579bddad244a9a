//! `stagegate migrate plan`: what apply would do, without taking the lock or changing anything.

use crate::cli::{PlanArgs, PlanFormat};
use crate::config::Config;
use crate::db;
use crate::db::state::StateStore;
use crate::deploy;
use crate::exit::{self, Outcome};
use crate::printer::Printer;

pub(super) fn run(config: &Config, args: &PlanArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let promote_source = super::common::promote_source(config, &env)?;
    let local = super::common::load_migrations(config, Some(&env), printer)?;
    let to = super::common::target_version(&local, args.to.as_deref())?;
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
        PlanFormat::Text => super::print_report(&super::common::render_text(&plan))?,
        PlanFormat::Json => super::print_document(&crate::json::to_string(&plan)?)?,
    }
    // A plan that apply would refuse says so with the same exit code, from the same test.
    Ok(if deploy::gates::plan_refusal(&plan).is_none() {
        Outcome::Success
    } else {
        Outcome::Refused
    })
}
