//! `stagegate audit`: the event log of an environment, and a check of its hash chain.

use serde::Serialize;

use crate::cli::{AuditArgs, TableFormat};
use crate::config::Config;
use crate::db;
use crate::db::events::{ChainBreak, Event, Mismatch};
use crate::db::state::StateStore;
use crate::db::trust;
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
    /// With --verify: gaps, anchors and state rows that do not match the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [Mismatch]>,
}

/// Exit codes: 0; 3 when `--verify` finds the chain broken (the log cannot be trusted, like
/// drift); 4 when the database cannot be read.
pub(super) fn run(config: &Config, args: &AuditArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let env = config.environment(&args.env)?;
    let verify = args.verify;
    let snapshot = db::runtime()?.block_on(async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        // One snapshot: an event appended meanwhile is either in it whole or not at all.
        let snapshot = store.snapshot().await?;
        store.close().await;
        Ok::<_, anyhow::Error>(snapshot)
    })?;
    let events = &snapshot.events;
    let verdict = verify.then(|| trust::verify(&snapshot, args.head.as_deref()));
    let broken = verdict.as_ref().and_then(|v| v.broken.as_ref());
    let problems: Option<&[Mismatch]> = verdict.as_ref().map(|v| v.problems.as_slice());
    let intact = verdict.as_ref().is_none_or(trust::Verdict::verified);
    let report = AuditReport {
        environment: &env.name,
        events,
        head: events.last().map(|e| e.hash.as_str()),
        verified: verify.then_some(intact),
        first_mismatch: broken,
        problems,
    };
    match args.format {
        TableFormat::Json => super::print_document(&crate::json::to_string(&report)?)?,
        TableFormat::Table => super::print_report(&render(&report))?,
    }
    if let Some(mismatch) = broken {
        printer.error(&format!(
            "the event log of `{}` was tampered with: event {} does not match: {}",
            env.name, mismatch.id, mismatch.problem
        ));
        return Ok(Outcome::Refused);
    }
    if let Some(first) = problems.and_then(|p| p.first()) {
        printer.error(&format!(
            "the event log of `{}` does not match its anchors: {}",
            env.name,
            trust::describe(first)
        ));
        return Ok(Outcome::Refused);
    }
    Ok(Outcome::Success)
}

fn render(report: &AuditReport<'_>) -> String {
    let mut out = format!("event log of `{}`\n", report.environment);
    if report.events.is_empty() {
        out.push_str("no events recorded\n");
        return out;
    }
    out.push_str(&super::table::render_fit(
        &["id", "at (UTC)", "kind", "migration", "who", "detail"],
        report
            .events
            .iter()
            .map(|e| {
                // The version alone, and the OS user where known, else the database user: the
                // names, both users and each event's hash are in --format json.
                let migration = e.version.clone().unwrap_or_default();
                let (approver, summary) = summary(e);
                let who = approver
                    .or_else(|| e.os_user.clone())
                    .unwrap_or_else(|| e.db_user.clone());
                let detail = summary.unwrap_or_else(|| e.detail.clone().unwrap_or_default());
                vec![
                    e.id.to_string(),
                    super::table::date(e.at),
                    e.kind.clone(),
                    migration,
                    who,
                    detail,
                ]
            })
            .collect(),
        &[4, 5],
        12,
        None,
    ));
    if let Some(head) = report.head {
        out.push_str(&format!("head: {head}\n"));
    }
    match (report.verified, report.first_mismatch) {
        (Some(true), _) => out.push_str(&format!(
            "verified: the hash chain of {} event(s) is intact, without gaps, and matches the \
             state of every migration and the log's head\n",
            report.events.len()
        )),
        (_, Some(mismatch)) => out.push_str(&format!(
            "verify FAILED: event {} does not match: {}\n",
            mismatch.id, mismatch.problem
        )),
        _ => {}
    }
    if report.first_mismatch.is_none() {
        for problem in report.problems.unwrap_or_default() {
            out.push_str(&format!("verify FAILED: {}\n", trust::describe(problem)));
        }
    }
    out
}

/// For an approval and an after_apply / after_down event, who (the approver) and a line
/// that fits the table in place of the JSON (`--format json` has it whole).
fn summary(event: &Event) -> (Option<String>, Option<String>) {
    let Some(detail) = event
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
    else {
        return (None, None);
    };
    let text = |key: &str| detail[key].as_str().unwrap_or("-").to_string();
    match event.kind.as_str() {
        crate::deploy::approvals::KIND => (
            detail["approver"].as_str().map(str::to_string),
            Some(format!(
                "approved plan {}: {}",
                super::table::short_hash(&text("plan_hash")),
                text("reason")
            )),
        ),
        "after_apply" | "after_down" => {
            let exit = detail["exit_code"]
                .as_i64()
                .map_or_else(String::new, |code| format!(" (exit {code})"));
            (
                None,
                Some(format!(
                    "{}{exit}, {} attempt(s), {}ms: {}",
                    text("status"),
                    detail["attempts"].as_u64().unwrap_or(0),
                    detail["duration_ms"].as_u64().unwrap_or(0),
                    text("command")
                )),
            )
        }
        _ => (None, None),
    }
}
