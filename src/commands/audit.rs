//! `stagegate audit`: the event log of an environment, and a check of its hash chain.

use serde::Serialize;

use crate::cli::{AuditArgs, TableFormat};
use crate::config::Config;
use crate::db;
use crate::db::events::{self, ChainBreak, Event};
use crate::db::state::{StateError, StateStore};
use crate::exit::{self, Outcome};
use crate::printer::Printer;

#[derive(Debug, Serialize)]
struct AuditReport<'a> {
    environment: &'a str,
    events: &'a [Event],
    /// Hash of the newest event: keep it elsewhere to notice a rewritten chain later.
    head: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_mismatch: Option<&'a ChainBreak>,
}

/// Exit codes: 0; 3 when `--verify` finds the chain broken (the log cannot be trusted, like
/// drift); 4 when the database cannot be read.
pub fn run(config: &Config, args: &AuditArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let events = db::runtime()?.block_on(async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        let events = store.events().await.map_err(|e| match e {
            StateError::NewerSchema { .. } => exit::refused(e),
            other => exit::execution(other),
        })?;
        store.close().await;
        Ok::<_, anyhow::Error>(events)
    })?;
    let check = args.verify.then(|| events::verify_chain(&events));
    let broken = check.as_ref().and_then(|c| c.as_ref().err());
    let report = AuditReport {
        environment: &env.name,
        events: &events,
        head: events.last().map(|e| e.hash.as_str()),
        verified: check.as_ref().map(Result::is_ok),
        first_mismatch: broken,
    };
    let text = match args.format {
        TableFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        TableFormat::Table => render(&report),
    };
    super::print_report(&text)?;
    match broken {
        Some(mismatch) => {
            printer.error(&format!(
                "the event log of `{}` was tampered with: event {} does not match: {}",
                env.name, mismatch.id, mismatch.problem
            ));
            Ok(Outcome::Refused)
        }
        None => Ok(Outcome::Success),
    }
}

fn render(report: &AuditReport<'_>) -> String {
    let mut out = format!("event log of `{}`\n", report.environment);
    if report.events.is_empty() {
        out.push_str("no events recorded\n");
        return out;
    }
    out.push_str(&super::table::render(
        &[
            "id",
            "at (UTC)",
            "kind",
            "migration",
            "who",
            "detail",
            "hash",
        ],
        report.events.iter().map(|e| {
            let migration = match (&e.version, &e.name) {
                (Some(v), Some(n)) => format!("{v}_{n}"),
                (Some(v), None) => v.clone(),
                _ => String::new(),
            };
            let who = match &e.os_user {
                Some(os) => format!("{} ({os})", e.db_user),
                None => e.db_user.clone(),
            };
            let mut detail = e.detail.clone().unwrap_or_default();
            if detail.chars().count() > 60 {
                detail = detail.chars().take(57).collect::<String>() + "...";
            }
            vec![
                e.id.to_string(),
                super::table::date(e.at),
                e.kind.clone(),
                migration,
                who,
                detail,
                e.hash.chars().take(19).collect(),
            ]
        }),
    ));
    if let Some(head) = report.head {
        out.push_str(&format!("head: {head}\n"));
    }
    match (report.verified, report.first_mismatch) {
        (Some(true), _) => out.push_str(&format!(
            "verified: the hash chain of {} event(s) is intact\n",
            report.events.len()
        )),
        (_, Some(mismatch)) => out.push_str(&format!(
            "verify FAILED: event {} does not match: {}\n",
            mismatch.id, mismatch.problem
        )),
        _ => {}
    }
    out
}
