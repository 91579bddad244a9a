//! The one script executor: every place that runs a migration's statements runs them here,
//! `migrate apply` and `migrate down` (through [`crate::deploy::runner`], which adds
//! retries, index checks and messages) as well as trace, check-reversible and report, which
//! run migrations on a scratch database and record nothing ([`run`]).
//!
//! The script runs from its plan ([`crate::sql::classify::plan`]) on a clean session
//! ([`Session::reset`]):
//!
//! - a transactional script as one unit ([`transaction`]): the reset, BEGIN, `SET LOCAL`
//!   timeouts, the script, its verify script, the record and COMMIT, pipelined in one round
//!   trip; the change and its record commit together or not at all;
//! - a no-transaction script unit by unit: a statement in a transaction of its own with its
//!   record ([`statement`]; bare when it refuses a transaction block), an explicit
//!   `BEGIN ... COMMIT` block of the file as one unit whose records go right before its own
//!   COMMIT, so they commit with it or not at all ([`block`]).
//!
//! What is recorded is SQL given by the caller (the state store's recording functions); with
//! none, the same statements run in the same units and nothing is recorded.

use tokio_postgres::error::{ErrorPosition, SqlState};

use super::session::{self, Finish, RESET_SQL, ScriptError, Session, Step, Timeouts};
use crate::exit;
use crate::source::Script;
use crate::sql::classify::{self, Unit};

/// A transactional unit: what [`transaction`] sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transaction<'a> {
    /// Reset the session first ([`RESET_SQL`], in the same transaction): the start of a
    /// migration. (Rolled back with it on failure; every attempt sends it again.)
    pub(crate) fresh: bool,
    pub(crate) timeouts: &'a Timeouts,
    pub(crate) script: &'a str,
    pub(crate) verify: Option<&'a str>,
    /// SQL that records the unit, run last before COMMIT (empty: nothing is recorded).
    pub(crate) record: &'a str,
}

// The executor's unit as a method of the session (defined here, beside the executor, so
// that the session needs nothing of it).
impl Session {
    /// Runs `script` (and `verify`) in one transaction with the timeouts set locally, records
    /// it (`finish`: applied or reverted) in the same transaction, and commits; on any error
    /// nothing of it remains. The executor's [`transaction`], as it is.
    pub async fn run_in_transaction(
        &self,
        timeouts: &Timeouts,
        script: &str,
        verify: Option<&str>,
        finish: &Finish,
    ) -> Result<(), ScriptError> {
        let record = finish.sql();
        let unit = Transaction {
            fresh: false,
            timeouts,
            script,
            verify,
            record: &record,
        };
        transaction(self, &unit).await
    }
}

/// Runs `unit` in one transaction and commits; on any error the transaction is rolled back
/// and nothing of it remains. One round trip: the script, the verify script and the record
/// with COMMIT are separate simple queries (nothing a script leaves open, a quote or a
/// comment, can reach the next), written together and answered in order.
pub(crate) async fn transaction(
    session: &Session,
    unit: &Transaction<'_>,
) -> Result<(), ScriptError> {
    let result = transaction_body(session, unit).await;
    if result.is_err() {
        // The server already aborted the transaction; a failed ROLLBACK means the
        // connection is gone, which rolls it back as well.
        let _ = session.run("ROLLBACK").await;
    }
    result
}

async fn transaction_body(session: &Session, unit: &Transaction<'_>) -> Result<(), ScriptError> {
    let client = session.client();
    // The reset, BEGIN and the settings go in front of the script, in one simple query: if
    // any of it fails nothing after it runs, and statements before BEGIN in one query join
    // the transaction it opens. The prefix has no newline, so error positions still give the
    // script's own line numbers.
    let mut prefix = String::new();
    if unit.fresh {
        prefix.push_str(RESET_SQL);
        prefix.push(';');
    }
    prefix.push_str("BEGIN;");
    prefix.push_str(&unit.timeouts.set_sql(true));
    let prefix_chars = prefix.chars().count();
    let sent = format!("{prefix}{}", unit.script);
    // The record and COMMIT share one simple query, in this order by construction: if the
    // record fails, COMMIT is never reached. The SAVEPOINT in front fails (25P01) unless a
    // transaction block is open: a script that ended the transaction with its own COMMIT and
    // then failed in autocommit never gets recorded as applied.
    let finish = if unit.record.is_empty() {
        "SAVEPOINT stagegate_open;RELEASE stagegate_open;COMMIT".to_string()
    } else {
        format!(
            "SAVEPOINT stagegate_open;RELEASE stagegate_open;{};COMMIT",
            unit.record
        )
    };
    // Once one query fails the server has aborted the transaction, and every later one fails
    // with 25P02 without running; the first error is the one that counts.
    let (up_result, verify_result, finish_result) = tokio::join!(
        biased;
        client.batch_execute(&sent),
        async {
            match unit.verify {
                Some(verify) => client.batch_execute(verify).await,
                None => Ok(()),
            }
        },
        client.batch_execute(&finish),
    );
    if let Err(source) = up_result {
        return Err(ScriptError {
            step: Step::Script,
            source,
            prefix_chars,
        });
    }
    if let Err(source) = verify_result {
        return Err(ScriptError {
            step: Step::Verify,
            source,
            prefix_chars: 0,
        });
    }
    match finish_result {
        Err(source) if source.code() == Some(&SqlState::NO_ACTIVE_SQL_TRANSACTION) => {
            // The script (or verify script) ran to its end but committed on its own, so its
            // work is already committed: record it on its own, as it stands.
            if unit.record.is_empty() {
                return Ok(());
            }
            client
                .batch_execute(unit.record)
                .await
                .map_err(|source| ScriptError {
                    step: Step::Record,
                    source,
                    prefix_chars: 0,
                })
        }
        result => result.map_err(|source| {
            // Errors inside the record carry the function in their context; COMMIT's do not.
            let in_record = source
                .as_db_error()
                .and_then(|e| e.where_())
                .is_some_and(|context| context.contains("stagegate."));
            ScriptError {
                step: if in_record {
                    Step::Record
                } else {
                    Step::Commit
                },
                source,
                prefix_chars: 0,
            }
        }),
    }
}

/// Runs one statement of a no-transaction script in a transaction of its own with `record`
/// (its progress record), so the two commit together; a statement that refuses a
/// transaction block (CREATE INDEX CONCURRENTLY, ...) is [`NeedsNoTransaction`]: nothing
/// ran, and the caller runs it bare.
pub(crate) async fn statement(
    session: &Session,
    statement: &str,
    record: &str,
) -> Result<Result<(), ScriptError>, NeedsNoTransaction> {
    // The last statement of a file may lack its `;`.
    let statement = if statement.trim_end().ends_with(';') {
        statement.to_string()
    } else {
        format!("{statement}\n;")
    };
    let result = transaction(
        session,
        &Transaction {
            fresh: false,
            timeouts: &Timeouts::default(),
            script: &statement,
            verify: None,
            record,
        },
    )
    .await;
    match result {
        Err(error)
            if matches!(error.step, Step::Script)
                && session::needs_no_transaction_block(&error.source) =>
        {
            Err(NeedsNoTransaction)
        }
        other => Ok(other),
    }
}

/// The statement refused to run inside a transaction block (SQLSTATE 25001); nothing ran.
#[derive(Debug)]
pub(crate) struct NeedsNoTransaction;

/// Runs an explicit transaction block of a no-transaction script as one unit: `statements`
/// from its BEGIN to the COMMIT or ROLLBACK that ends it (`commits`: a COMMIT). `records`
/// (its progress records, or empty) go inside the block right before its COMMIT, so they
/// commit with it or not at all; a block the file rolls back records them in a transaction
/// of their own. On failure, the index of the statement that failed and its error; the block
/// is then rolled back on the server.
pub(crate) async fn block(
    session: &Session,
    statements: &[&str],
    records: &str,
    commits: bool,
) -> Result<(), (usize, tokio_postgres::Error)> {
    let Some((end, body)) = statements.split_last() else {
        return Ok(());
    };
    let result = async {
        for (index, sql) in body.iter().enumerate() {
            session.run(sql).await.map_err(|error| (index, error))?;
        }
        let last = statements.len() - 1;
        if commits {
            // The records, then the file's own COMMIT: one transaction.
            if !records.is_empty() {
                session.run(records).await.map_err(|error| (last, error))?;
            }
            session.run(end).await.map_err(|error| (last, error))
        } else {
            // The file rolls its block back: nothing of it stays, and the records say so in
            // a transaction of their own.
            session.run(end).await.map_err(|error| (last, error))?;
            if records.is_empty() {
                return Ok(());
            }
            session
                .run(&format!("BEGIN;{records};COMMIT"))
                .await
                .map_err(|error| (last, error))
        }
    }
    .await;
    if result.is_err() {
        // Whatever failed, the block is not committed; end it on the server (a warning only
        // when COMMIT already ended it).
        let _ = session.run("ROLLBACK").await;
    }
    result
}

/// Finds the statement of a transactional script that fails, after the whole script failed
/// without an error position: runs `statements` one by one (on a clean session, with the
/// same timeouts) in a transaction that is always rolled back (safe, as the script itself ran
/// in one). Gives the index of the first that fails, or `None` when each ran (or the
/// transaction could not be opened).
pub(crate) async fn locate_failing_statement(
    session: &Session,
    timeouts: &Timeouts,
    statements: &[&str],
) -> Option<usize> {
    let begin = format!("{RESET_SQL};BEGIN;{}", timeouts.set_sql(true));
    if session.run(&begin).await.is_err() {
        let _ = session.run("ROLLBACK").await;
        return None;
    }
    let mut failed = None;
    for (index, statement) in statements.iter().enumerate() {
        if session.run(statement).await.is_err() {
            failed = Some(index);
            break;
        }
    }
    let _ = session.run("ROLLBACK").await;
    failed
}

/// Runs `script` (and `verify`) on `session` as `migrate apply` runs it, recording nothing:
/// for trace, check-reversible and report on a scratch database. `Ok(Err(message))` when the
/// script cannot be run or the database refused it; `Err` when the connection is lost.
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
    if let Some(verify) = verify
        && let Err(message) = plan_of(verify, true)
    {
        return Ok(Err(format!("verify script: {message}")));
    }
    let timeouts = Timeouts::default();
    if wrapped {
        let unit = Transaction {
            fresh: true,
            timeouts: &timeouts,
            script: &script.text,
            verify: verify.map(|v| v.text.as_str()),
            record: "",
        };
        return match transaction(session, &unit).await {
            Ok(()) => Ok(Ok(())),
            Err(error) => failed_transaction(session, &error, script, verify, &plan).await,
        };
    }
    if let Err(error) = session.reset().await {
        return statement_error(&error, "", 1);
    }
    let text = &script.text;
    let line_of = |index: usize| script.first_line + plan.statements[index].raw.line - 1;
    for unit in &plan.units {
        match *unit {
            Unit::Block { first, last } => {
                let texts: Vec<&str> = plan.statements[first..=last]
                    .iter()
                    .map(|s| s.text(text))
                    .collect();
                let commits = plan.statements[last].class
                    == crate::sql::Class::Transaction(crate::sql::TxnControl::Commit);
                if let Err((index, error)) = block(session, &texts, "", commits).await {
                    return statement_error(&error, texts[index], line_of(first + index));
                }
            }
            _ => {
                let index = unit.first();
                let sql = plan.statements[index].text(text);
                if sql.trim_end_matches(';').trim().is_empty() {
                    continue;
                }
                let result = match statement(session, sql, "").await {
                    Ok(result) => result.map_err(|e| e.source),
                    Err(NeedsNoTransaction) => session.run(sql).await,
                };
                if let Err(error) = result {
                    return statement_error(&error, sql, line_of(index));
                }
            }
        }
    }
    if let Some(verify) = verify {
        // Apply runs the verify script of a no-transaction migration in a transaction with
        // its record.
        let unit = Transaction {
            fresh: false,
            timeouts: &timeouts,
            script: "",
            verify: Some(&verify.text),
            record: "",
        };
        if let Err(error) = transaction(session, &unit).await {
            return failed_transaction(session, &error, script, Some(verify), &plan).await;
        }
    }
    Ok(Ok(()))
}

/// The finding for a transactional unit that failed: the statement that failed, from the
/// error's position or, without one, by running the statements again one by one in a
/// transaction that is rolled back (a scratch database: no locks to hold back for).
async fn failed_transaction(
    session: &Session,
    error: &ScriptError,
    script: &Script,
    verify: Option<&Script>,
    plan: &classify::ScriptPlan,
) -> anyhow::Result<Result<(), String>> {
    if error.source.as_db_error().is_none() {
        return statement_error(&error.source, "", 1);
    }
    let (failed, failed_plan, label) = match (&error.step, verify) {
        (Step::Verify, Some(verify)) => match plan_of(verify, true) {
            Ok(verify_plan) => (verify, verify_plan, "verify script: "),
            Err(message) => return Ok(Err(format!("verify script: {message}"))),
        },
        (Step::Script, _) => (script, plan.clone(), ""),
        (Step::Commit, _) => {
            return Ok(statement_error(&error.source, "", 1)?.map_err(|m| format!("COMMIT: {m}")));
        }
        _ => return statement_error(&error.source, "", 1),
    };
    let text = failed.text.as_str();
    let prefix_chars = match error.step {
        Step::Script => error.prefix_chars,
        _ => 0,
    };
    if session::error_offset(&error.source, text, prefix_chars).is_some() {
        let message =
            session::describe_error_after(&error.source, text, failed.first_line, prefix_chars);
        return Ok(Err(format!("{label}{message}")));
    }
    let texts: Vec<&str> = failed_plan
        .statements
        .iter()
        .map(|s| s.text(text))
        .collect();
    // A transactional verify script ran after the script, in its transaction: so does the
    // search for the failing statement.
    let before: Vec<&str> = match (&error.step, script.settings.no_transaction) {
        (Step::Verify, false) => plan
            .statements
            .iter()
            .map(|s| s.text(&script.text))
            .collect(),
        _ => Vec::new(),
    };
    let all: Vec<&str> = before.iter().chain(&texts).copied().collect();
    let index = locate_failing_statement(session, &Timeouts::default(), &all)
        .await
        .and_then(|i| i.checked_sub(before.len()))
        .or_else(|| texts.len().checked_sub(1));
    let Some(index) = index else {
        return Ok(statement_error(&error.source, "", 1)?.map_err(|m| format!("{label}{m}")));
    };
    let line = failed.first_line + failed_plan.statements[index].raw.line - 1;
    Ok(statement_error(&error.source, texts[index], line)?.map_err(|m| format!("{label}{m}")))
}

/// The plan of `script`, or why it cannot be run (with file lines).
fn plan_of(script: &Script, wrapped: bool) -> Result<classify::ScriptPlan, String> {
    classify::plan(&script.text, wrapped).map_err(|problems| {
        problems
            .iter()
            .map(|p| format!("line {}: {}", script.first_line + p.line - 1, p.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
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
