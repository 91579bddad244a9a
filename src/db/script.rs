//! Running a script as `migrate apply` runs it, recording nothing: for trace, check-reversible
//! and report, which run migrations on a scratch database. The script runs from its plan
//! ([`crate::sql::classify::plan`]), the one apply runs from, on a clean session
//! ([`Session::reset`]): in one transaction with its verify script, or, marked
//! no-transaction, unit by unit (an explicit `BEGIN ... COMMIT` block as the block it is).
//! Statements are sent one by one, so an error names the line of the one that failed.

use tokio_postgres::error::ErrorPosition;

use super::session::{self, Session};
use crate::exit;
use crate::source::Script;
use crate::sql::classify::{self, Unit};

/// Runs `script` (and `verify`) on `session`. `Ok(Err(message))` when the script cannot be
/// run or the database refused it; `Err` when the connection is lost.
pub(crate) async fn run(
    session: &Session,
    script: &Script,
    verify: Option<&Script>,
) -> anyhow::Result<Result<(), String>> {
    let wrapped = !script.settings.no_transaction;
    let plan = match plan_of(script, wrapped) {
        Ok(plan) => plan,
        Err(message) => return Ok(Err(message)),
    };
    let verify = match verify.map(|v| plan_of(v, true).map(|p| (v, p))).transpose() {
        Ok(verify) => verify,
        Err(message) => return Ok(Err(format!("verify script: {message}"))),
    };
    if let Err(error) = session.reset().await {
        return statement_error(&error, "", 1);
    }
    let send = |sql: &'static str| session.run(sql);
    if wrapped {
        if let Err(error) = send("BEGIN").await {
            return statement_error(&error, "", 1);
        }
        let mut result = statements(session, script, &plan, 0..plan.statements.len()).await?;
        if result.is_ok()
            && let Some((verify, verify_plan)) = &verify
        {
            result = statements(
                session,
                verify,
                verify_plan,
                0..verify_plan.statements.len(),
            )
            .await?
            .map_err(|message| format!("verify script: {message}"));
        }
        if result.is_err() {
            // A failed ROLLBACK means the connection is gone; the next statement says so.
            let _ = send("ROLLBACK").await;
            return Ok(result);
        }
        return match send("COMMIT").await {
            Ok(()) => Ok(Ok(())),
            Err(error) => Ok(statement_error(&error, "", 1)?.map_err(|m| format!("COMMIT: {m}"))),
        };
    }
    for unit in &plan.units {
        let result = statements(session, script, &plan, unit.first()..unit.last() + 1).await?;
        if let Err(message) = result {
            if let Unit::Block { .. } = unit {
                // The block is aborted on the server: end it, as apply does.
                let _ = send("ROLLBACK").await;
            }
            return Ok(Err(message));
        }
    }
    if let Some((verify, verify_plan)) = &verify {
        // Apply runs the verify script of a no-transaction migration in a transaction with
        // its record.
        if let Err(error) = send("BEGIN").await {
            return statement_error(&error, "", 1);
        }
        let result = statements(
            session,
            verify,
            verify_plan,
            0..verify_plan.statements.len(),
        )
        .await?
        .map_err(|message| format!("verify script: {message}"));
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = send(end).await;
        if result.is_err() {
            return Ok(result);
        }
        if let Err(error) = ended {
            return statement_error(&error, "", 1);
        }
    }
    Ok(Ok(()))
}

/// The plan of `script`, or why it cannot be run (with file lines).
fn plan_of(script: &Script, wrapped: bool) -> Result<classify::Plan, String> {
    classify::plan(&script.text, wrapped).map_err(|problems| {
        problems
            .iter()
            .map(|p| format!("line {}: {}", script.first_line + p.line - 1, p.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Sends statements `range` of `plan` one by one, stopping at the first error.
async fn statements(
    session: &Session,
    script: &Script,
    plan: &classify::Plan,
    range: std::ops::Range<usize>,
) -> anyhow::Result<Result<(), String>> {
    for planned in &plan.statements[range] {
        let sql = planned.text(&script.text);
        if sql.trim_end_matches(';').trim().is_empty() {
            continue;
        }
        let line = script.first_line + planned.raw.line - 1;
        if let Err(error) = session.run(sql).await {
            return statement_error(&error, sql, line);
        }
    }
    Ok(Ok(()))
}

/// A statement's error as a finding (`Ok(Err(message))`: the message, SQLSTATE, line,
/// detail and hint), or, when it is not the database refusing SQL (the connection was lost),
/// as an error of the run. `line` is the statement's first line in its file.
pub(crate) fn statement_error(
    error: &tokio_postgres::Error,
    statement: &str,
    line: usize,
) -> anyhow::Result<Result<(), String>> {
    let Some(db) = error.as_db_error() else {
        return Err(exit::execution(anyhow::anyhow!(
            "lost the scratch database: {}",
            super::with_causes(error)
        )));
    };
    let mut message = session::describe_error(error, statement, line);
    if !matches!(db.position(), Some(ErrorPosition::Original(_))) && !statement.is_empty() {
        // Without a position the error is the statement's as a whole.
        let head = format!("{} ({})", db.message(), db.code().code());
        if let Some(rest) = message.strip_prefix(&head) {
            message = format!("{head} at line {line}{rest}");
        }
    }
    Ok(Err(message))
}
