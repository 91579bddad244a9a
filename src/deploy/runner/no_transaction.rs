//! The runner of a no-transaction migration: its statements run one by one outside a
//! transaction, each recorded done as it completes (a statement that fits in a transaction
//! block runs in one of its own with its record), explicit transaction blocks of the script
//! run as one unit, and a failure or interrupt is recorded with the statements done, so a
//! later run resumes after them.

use std::time::Instant;

use super::{
    AppliedMigration, Failed, Job, Runner, backoff, prefix_checksum, record_failure, sql_statements,
};
use crate::db::script;
use crate::db::session::{self, Direction, Finish, Step, Timeouts};
use crate::db::state::{RevertingRecord, RunningRecord};
use crate::deploy::concurrent::{self, Shape};
use crate::exit;
use crate::source::Script;
use crate::sql::classify::{ScriptPlan, Unit};
use crate::sql::{self, RawStatement};

/// What every statement of one no-transaction run reads.
struct Run<'r> {
    label: &'r str,
    direction: Direction,
    /// The script's text.
    text: &'r str,
    /// Where the script starts in its file.
    first_line: usize,
    statements: &'r [RawStatement],
    shapes: Vec<Shape>,
    /// Canonical version, version as written, name and (up) checksum of the record.
    version: &'r str,
    version_text: &'r str,
    repair_name: &'r str,
    checksum: &'r str,
}

/// One statement run on its own (not in an explicit transaction block of the script).
struct Statement<'s> {
    /// 0-based.
    index: usize,
    /// 1-based: the statements done once it is.
    number: usize,
    /// `number` as the progress record counts it.
    k: i32,
    sql: &'s str,
    /// Its line in the file.
    line: usize,
    /// `statement N of M (line L)`.
    at: String,
    /// Checksum of the statements done once it is.
    done_checksum: String,
    shape: &'s Shape,
}

impl<'r> Run<'r> {
    fn new(job: &'r Job<'r>, statements: &'r [RawStatement]) -> Run<'r> {
        let text = job.script.text.as_str();
        let (version, version_text, repair_name, checksum) = job.ids();
        Run {
            label: &job.label,
            direction: job.direction(),
            text,
            first_line: job.script.first_line,
            statements,
            shapes: statements.iter().map(|s| Shape::of(s.text(text))).collect(),
            version,
            version_text,
            repair_name,
            checksum,
        }
    }

    fn statement(&self, index: usize) -> Statement<'_> {
        let statement = &self.statements[index];
        let line = self.first_line + statement.line - 1;
        let number = index + 1;
        Statement {
            index,
            number,
            k: i32::try_from(number).unwrap_or(i32::MAX),
            sql: statement.text(self.text),
            line,
            at: format!(
                "statement {number} of {} (line {line})",
                self.statements.len()
            ),
            done_checksum: prefix_checksum(self.text, &self.statements[..number]),
            shape: &self.shapes[index],
        }
    }
}

/// The statement plan of the script. It was checked before the run started (`check_script`).
fn checked_plan(label: &str, text: &str) -> anyhow::Result<ScriptPlan> {
    sql::classify::plan(text, false).map_err(|problems| {
        exit::refused(anyhow::anyhow!(
            "{label}: {}",
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// The first statement of the explicit transaction block `resume_from` is in, or
/// `resume_from`: a block is done only as a whole, so a resume never starts inside one (a
/// record from an older stagegate may point there).
fn block_start(plan: &ScriptPlan, resume_from: usize) -> usize {
    plan.units
        .iter()
        .find(|u| u.first() <= resume_from && resume_from <= u.last())
        .map_or(resume_from, Unit::first)
}

/// How the verify-and-record transaction after the last statement failed.
fn finish_failure(
    label: &str,
    error: &session::ScriptError,
    verify: Option<&Script>,
    statements: usize,
) -> Failed {
    if matches!(error.step, Step::Record) && session::is_double_record(&error.source) {
        return Failed::by_other_run(format!(
            "{label} was recorded by another run meanwhile: {}",
            session::describe_error(&error.source, "", 1)
        ));
    }
    let (script, first_line) = match (&error.step, verify) {
        (Step::Verify, Some(v)) => (v.text.as_str(), v.first_line),
        _ => ("", 1),
    };
    Failed::at(
        statements,
        format!(
            "{label}: {} after all statements ran: {}",
            match error.step {
                _ if session::is_parent_index_invalid(&error.source) => {
                    "a partitioned index is still invalid"
                }
                Step::Verify => "the verify script failed",
                Step::Commit => "COMMIT failed",
                Step::Script | Step::Record => "recording failed",
            },
            session::describe_error(&error.source, script, first_line)
        ),
    )
}

impl Runner<'_> {
    pub(super) async fn no_transaction(
        mut self,
        mut job: Job<'_>,
    ) -> anyhow::Result<AppliedMigration> {
        let script = job.script;
        let text = &script.text;
        let plan = checked_plan(&job.label, text)?;
        let statements = &sql_statements(text)[..];
        let started = Instant::now();
        let resume_from = block_start(&plan, self.resume_point(&mut job, statements)?);
        self.record_start(&job, statements, resume_from).await?;
        let mut attempts = 1;
        let failure = self
            .run_all(&mut job, &plan, statements, resume_from, &mut attempts)
            .await
            .err();
        // Leave the session as a transactional migration expects it.
        let _ = self
            .session
            .set_session_timeouts(false, &Timeouts::default())
            .await;
        if let Some(failed) = failure {
            return Err(self.report_failure(&job, statements, failed).await);
        }
        let elapsed = started.elapsed();
        self.progress
            .note(&format!("  done in {}ms", elapsed.as_millis()));
        Ok(AppliedMigration {
            version: job.version.to_string(),
            name: job.ids().2.to_string(),
            mode: "no-transaction",
            statements: statements.len() - resume_from,
            attempts,
            duration_ms: elapsed.as_millis(),
        })
    }

    /// Where a failed run of this file stopped (0 for a first run), refused when the
    /// statements it got done changed in the file since; says where the run starts.
    fn resume_point(
        &self,
        job: &mut Job<'_>,
        statements: &[RawStatement],
    ) -> anyhow::Result<usize> {
        let label = &job.label;
        let text = &job.script.text;
        let (resume_from, recorded) = match job.resume.take() {
            Some((done, recorded)) => (done.min(statements.len()), recorded),
            None => (0, String::new()),
        };
        if resume_from > 0 {
            let now = prefix_checksum(text, &statements[..resume_from]);
            if recorded != now {
                return Err(exit::refused(anyhow::anyhow!(
                    "refusing to resume {label}: its first {resume_from} statement(s) already \
                     ran, but they changed in the file since (recorded {recorded}, now {now}); \
                     only the failed statement and those after it may be fixed"
                )));
            }
            self.progress.note(&format!(
                "resuming {label} (no transaction) at statement {} of {}",
                resume_from + 1,
                statements.len()
            ));
        } else {
            self.progress.note(&format!(
                "{} {label} (no transaction, {} statement(s))",
                job.verb(),
                statements.len()
            ));
        }
        Ok(resume_from)
    }

    /// Records the migration running (up) or reverting (down), `resume_from` statements done.
    async fn record_start(
        &mut self,
        job: &Job<'_>,
        statements: &[RawStatement],
        resume_from: usize,
    ) -> anyhow::Result<()> {
        let done_checksum = prefix_checksum(&job.script.text, &statements[..resume_from]);
        let statements_done = i32::try_from(resume_from).unwrap_or(i32::MAX);
        let statements_total = i32::try_from(statements.len()).unwrap_or(i32::MAX);
        let started_record = match &job.finish {
            Finish::Apply(record) => {
                self.store
                    .start_running(&RunningRecord {
                        version: &record.version,
                        version_text: &record.version_text,
                        name: &record.name,
                        checksum: &record.checksum,
                        down_checksum: record.down_checksum.as_deref(),
                        verify_checksum: record.verify_checksum.as_deref(),
                        os_user: self.os_user,
                        statements_done,
                        statements_total,
                        done_checksum: &done_checksum,
                    })
                    .await
            }
            Finish::Revert(record) => {
                self.store
                    .start_reverting(&RevertingRecord {
                        version: &record.version,
                        version_text: &record.version_text,
                        name: &record.name,
                        os_user: self.os_user,
                        checksum: &record.checksum,
                        down_checksum: record.down_checksum.as_deref(),
                        statements_done,
                        statements_total,
                        done_checksum: &done_checksum,
                    })
                    .await
            }
        };
        started_record.map_err(exit::execution)
    }

    /// The run proper: resets the session, runs the statements and blocks from
    /// `resume_from` on, then verifies and records the migration.
    async fn run_all(
        &mut self,
        job: &mut Job<'_>,
        plan: &ScriptPlan,
        statements: &[RawStatement],
        resume_from: usize,
        attempts: &mut u32,
    ) -> Result<(), Failed> {
        if let Err(error) = self.session.set_session_timeouts(true, &job.timeouts).await {
            return Err(Failed::at(
                resume_from,
                format!(
                    "{}: could not reset the session before it: {}",
                    job.label,
                    session::describe_error(&error, "", 1)
                ),
            ));
        }
        self.run_units(job, plan, statements, resume_from, attempts)
            .await?;
        self.finish(job, statements).await
    }

    /// A statement that fits in a transaction block runs in one of its own with its record;
    /// an explicit block of the file runs as one unit with its records.
    async fn run_units(
        &mut self,
        job: &Job<'_>,
        plan: &ScriptPlan,
        statements: &[RawStatement],
        resume_from: usize,
        attempts: &mut u32,
    ) -> Result<(), Failed> {
        let run = Run::new(job, statements);
        for unit in plan.units.iter().filter(|u| u.first() >= resume_from) {
            match *unit {
                Unit::Block { first, last } => {
                    self.run_block(job, plan, first, last, attempts).await?;
                }
                Unit::Alone(index) => self.run_statement(&run, index, attempts).await?,
            }
        }
        Ok(())
    }

    /// One statement on its own: an invalid leftover of its index dealt with first, run
    /// with lock-timeout retries, and, when it ran outside a transaction block, checked and
    /// recorded done.
    async fn run_statement(
        &mut self,
        run: &Run<'_>,
        index: usize,
        attempts: &mut u32,
    ) -> Result<(), Failed> {
        let statement = run.statement(index);
        self.clear_invalid_leftover(run, &statement).await?;
        let wrapped = self.run_with_retries(run, &statement, attempts).await?;
        if !wrapped {
            self.record_done_outside(run, &statement).await?;
        }
        Ok(())
    }

    /// IF NOT EXISTS would skip an invalid leftover of an earlier failed build and leave the
    /// index unusable (and a unique one enforcing nothing): it is dropped first with
    /// `drop_invalid_indexes`, else the statement is refused.
    async fn clear_invalid_leftover(
        &mut self,
        run: &Run<'_>,
        s: &Statement<'_>,
    ) -> Result<(), Failed> {
        let Shape::BuildIndex {
            index: Some(name),
            table,
            ..
        } = s.shape
        else {
            return Ok(());
        };
        match concurrent::named_index(self.session.client(), name, table).await {
            Ok(Some(found)) if !found.valid && self.drop_invalid_indexes => {
                self.drop_invalid_leftover(run, s, &found.name).await
            }
            Ok(Some(found)) if !found.valid => Err(Failed::refused(
                s.index,
                format!(
                    "{}: {} builds index {} concurrently, but an INVALID index of that name is \
                     left from an earlier failed build; {}, then apply again",
                    run.label,
                    s.at,
                    found.name,
                    concurrent::drop_advice(&found.name)
                ),
            )),
            Ok(_) => Ok(()),
            Err(error) => Err(Failed::at(s.index, error.to_string())),
        }
    }

    /// Drops the INVALID index `name` before the statement builds it again, and records the
    /// repair (a failure to record it is a warning).
    async fn drop_invalid_leftover(
        &mut self,
        run: &Run<'_>,
        s: &Statement<'_>,
        name: &str,
    ) -> Result<(), Failed> {
        let (label, at) = (run.label, &s.at);
        let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {name}");
        self.progress.warning(&format!(
            "{label}: {at}: dropping the INVALID index {name} left by an earlier failed build \
             before building it again ([migrate] drop_invalid_indexes)"
        ));
        if let Err(error) = self.session.run(&drop).await {
            return Err(Failed::at(
                s.index,
                format!(
                    "{label}: {at}: `{drop}` failed: {}",
                    session::describe_error(&error, "", 1)
                ),
            ));
        }
        let detail = format!("{drop} (invalid leftover, before {at})");
        if let Err(error) = self
            .store
            .record_event(
                "repair",
                run.version_text,
                run.repair_name,
                run.checksum,
                self.os_user,
                &detail,
            )
            .await
        {
            self.progress
                .warning(&format!("could not record the repair: {error}"));
        }
        Ok(())
    }

    /// Runs the statement, retrying a lock timeout; `Ok(true)` when it ran in a transaction
    /// block with its record, `Ok(false)` when it ran outside one.
    async fn run_with_retries(
        &self,
        run: &Run<'_>,
        s: &Statement<'_>,
        attempts: &mut u32,
    ) -> Result<bool, Failed> {
        let mut wrap = s.shape.fits_in_transaction();
        // A concurrent build that fails leaves an INVALID leftover; running it again needs
        // a human first.
        let retryable = !matches!(
            s.shape,
            Shape::BuildIndex { .. } | Shape::Reindex { .. } | Shape::DropIndex { .. }
        );
        let mut attempt = 1;
        loop {
            let (error, prefix_chars) = match self.attempt_statement(run, s, &mut wrap).await {
                Ok(()) => return Ok(wrap),
                Err(failed) => failed,
            };
            if retryable && self.retries_lock_timeout(&error, attempt) {
                let pause = backoff(attempt);
                self.progress.warning(&format!(
                    "{}: {} hit the lock timeout on attempt {attempt}; retrying in {}ms",
                    run.label,
                    s.at,
                    pause.as_millis()
                ));
                tokio::time::sleep(pause).await;
                attempt += 1;
                *attempts += 1;
                continue;
            }
            return Err(self.statement_failure(run, s, &error, prefix_chars).await);
        }
    }

    /// One try of the statement: in a transaction block with its progress record while
    /// `wrap`, else on its own after recording its start. A statement that refuses the
    /// transaction block (nothing ran) clears `wrap` and runs on its own. On failure, the
    /// error and the characters sent in front of the statement.
    async fn attempt_statement(
        &self,
        run: &Run<'_>,
        s: &Statement<'_>,
        wrap: &mut bool,
    ) -> Result<(), (tokio_postgres::Error, usize)> {
        if *wrap {
            let record = run
                .direction
                .progress_sql(run.version, s.k, &s.done_checksum);
            match script::statement(self.session, s.sql, &record).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(error)) => return Err((error.source, error.prefix_chars)),
                // Nothing ran: it refused the transaction block.
                Err(script::NeedsNoTransaction) => *wrap = false,
            }
        }
        match self
            .session
            .record_statement_start(run.direction, run.version, s.k)
            .await
        {
            Ok(()) => self.session.run(s.sql).await.map_err(|e| (e, 0)),
            Err(error) => Err((error, 0)),
        }
    }

    /// How the statement failed, for good: recorded by another run meanwhile, interrupted,
    /// or failed (with the INVALID leftovers a failed build left).
    async fn statement_failure(
        &self,
        run: &Run<'_>,
        s: &Statement<'_>,
        error: &tokio_postgres::Error,
        prefix_chars: usize,
    ) -> Failed {
        let (label, at) = (run.label, &s.at);
        if session::is_double_record(error) {
            return Failed::by_other_run(format!(
                "{label}: {at} was recorded by another run meanwhile ({}); this run stops \
                 without running it",
                session::describe_error(error, "", 1)
            ));
        }
        let described = session::describe_error_after(error, s.sql, s.line, prefix_chars);
        let mut message = match self.interrupted.get() {
            Some(signal) if session::is_cancelled(error) => format!(
                "{label} interrupted ({signal}) at {at}: the statement was cancelled on the \
                 server ({described})"
            ),
            _ => format!("{label} failed at {at}: {described}"),
        };
        if let Some(left) = self.leftovers(s.shape).await {
            message.push_str(&format!("; the failed build left {left}"));
        }
        Failed::at(s.index, message)
    }

    /// The statement ran outside a transaction: an index build is done only when its index
    /// exists and is valid; then the statement is recorded done.
    async fn record_done_outside(&self, run: &Run<'_>, s: &Statement<'_>) -> Result<(), Failed> {
        if let Some(problem) = self.built_index_problem(s).await {
            return Err(Failed::at(
                s.index,
                format!("{}: {} ran, but {problem}", run.label, s.at),
            ));
        }
        self.session
            .record_progress(run.direction, run.version, s.k, &s.done_checksum)
            .await
            .map_err(|error| {
                Failed::at(
                    s.number,
                    format!(
                        "{}: {} ran, but recording it failed: {}",
                        run.label,
                        s.at,
                        session::describe_error(&error, "", 1)
                    ),
                )
            })
    }

    /// What is wrong with the index a concurrent build named once it ran, if anything.
    async fn built_index_problem(&self, s: &Statement<'_>) -> Option<String> {
        let Shape::BuildIndex {
            index: Some(name),
            table,
            ..
        } = s.shape
        else {
            return None;
        };
        match concurrent::named_index(self.session.client(), name, table).await {
            Ok(Some(found)) if found.valid => None,
            Ok(Some(found)) => Some(format!(
                "its index {} is INVALID afterwards; {}",
                found.name,
                concurrent::drop_advice(&found.name)
            )),
            Ok(None) => Some(format!("no index {name} exists on {table} afterwards")),
            Err(error) => Some(error.to_string()),
        }
    }

    /// Verifies and records the migration together after its last statement: a failed check
    /// leaves the migration failed at its end, resumable once fixed.
    async fn finish(&self, job: &mut Job<'_>, statements: &[RawStatement]) -> Result<(), Failed> {
        let verify = job.verify;
        if let Finish::Apply(record) = &mut job.finish {
            record.done_checksum = Some(prefix_checksum(&job.script.text, statements));
        }
        let record = job.finish.sql();
        let unit = script::Transaction {
            fresh: false,
            timeouts: &Timeouts::default(),
            script: "",
            verify: verify.map(|v| v.text.as_str()),
            record: &record,
        };
        script::transaction(self.session, &unit)
            .await
            .map_err(|error| finish_failure(&job.label, &error, verify, statements.len()))
    }

    /// Records the failure (unless another run recorded the migration meanwhile) and the
    /// error to end the run with: what stays in effect and how to go on.
    async fn report_failure(
        &mut self,
        job: &Job<'_>,
        statements: &[RawStatement],
        failed: Failed,
    ) -> anyhow::Error {
        if failed.by_other_run {
            return exit::execution(anyhow::anyhow!(failed.message));
        }
        let done = failed.done;
        let done_checksum = prefix_checksum(&job.script.text, &statements[..done]);
        record_failure(
            self.store,
            self.progress,
            self.os_user,
            job,
            done,
            Some(&done_checksum),
            &failed.message,
        )
        .await;
        let next = match job.direction() {
            Direction::Up => format!(
                "{done} of {} statement(s) are applied and stay applied (no transaction); \
                 after repairing, `stagegate migrate resolve {} --env {} --reason \"...\"` (or a \
                 fixed file) lets apply resume at statement {}",
                statements.len(),
                job.version,
                self.env.name,
                done + 1
            ),
            Direction::Down => format!(
                "{done} of {} down statement(s) ran and stay in effect (no transaction); \
                 after repairing, `stagegate migrate down --env {} --steps 1` resumes at \
                 statement {} (the statements before it must not change)",
                statements.len(),
                self.env.name,
                done + 1
            ),
        };
        let error = anyhow::anyhow!(
            "{}\n  file: {}\n  {next}",
            failed.message,
            job.script.path.display(),
        );
        if failed.refused {
            exit::refused(error)
        } else {
            exit::execution(error)
        }
    }
}
