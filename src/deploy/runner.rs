//! The per-migration executor: one script (an up script with its verify script, or a down
//! script) run in a transaction with its record, or statement by statement with progress
//! records, under the environment's timeouts, with lock-timeout retries and cancellation on
//! Ctrl-C, SIGTERM and SIGHUP. What it records at the end is the job's [`Finish`]: applied
//! (`migrate apply`) or reverted (`migrate down`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::NoTls;

use super::concurrent::{self, Shape};
use crate::config::Environment;
use crate::db::script;
use crate::db::session::{self, Direction, Finish, Session, Step, Timeouts};
use crate::db::state::{DownFailureRecord, FailureRecord, StateStore};
use crate::exit;
use crate::progress::{ProgressEvent, Sink};
use crate::source::{Checksum, Script, Version};
use crate::sql::{self, Class, RawKind, TxnControl};

mod no_transaction;

/// A failed transactional script whose error has no position is run again, statement by
/// statement and rolled back, to find the failing one only when it failed this quickly.
const RERUN_TO_LOCATE: Duration = Duration::from_secs(2);

/// Where a failing statement of a transactional script is, for the error message.
struct Located {
    /// `statement N of M (line L)`.
    short: String,
    /// `statement N at line L: <its first line>`.
    long: String,
}

/// One migration that ran (up or down).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AppliedMigration {
    pub version: String,
    pub name: String,
    pub mode: &'static str,
    pub statements: usize,
    pub attempts: u32,
    pub duration_ms: u128,
}

/// Which signal interrupted the run, once one did.
#[derive(Debug, Default)]
pub(crate) struct Interrupt(std::sync::OnceLock<&'static str>);

impl Interrupt {
    fn set(&self, signal: &'static str) {
        let _ = self.0.set(signal);
    }

    pub(crate) fn get(&self) -> Option<&'static str> {
        self.0.get().copied()
    }

    /// Whether the next migration of a run may start (`what`: its label, or "reverting"
    /// and its label): not after a signal, and never without the lock (another run may have
    /// taken it). The error says it was not started.
    pub(crate) async fn may_start(
        &self,
        lock: &mut crate::db::lock::AdvisoryLock,
        what: &str,
    ) -> anyhow::Result<()> {
        if let Some(signal) = self.get() {
            return Err(exit::execution(anyhow::anyhow!(
                "interrupted ({signal}) before {what}; it was not started"
            )));
        }
        lock.check()
            .await
            .map_err(|error| exit::execution(anyhow::anyhow!("{error} ({what} was not started)")))
    }
}

/// Listens for Ctrl-C, SIGTERM and SIGHUP while a run lasts: the first asks the server to
/// cancel what `session` runs (the run then records the failure and ends); a second is
/// [`ProgressEvent::InterruptedTwice`], on which the command layer ends the process. Abort the
/// returned task when the run ends.
pub(crate) fn watch_signals(
    session: &Session,
    progress: &Sink,
) -> (Arc<Interrupt>, tokio::task::JoinHandle<()>) {
    let interrupted = Arc::new(Interrupt::default());
    let watcher = {
        let interrupted = Arc::clone(&interrupted);
        let token = session.cancel_token();
        let progress = Arc::clone(progress);
        tokio::spawn(async move {
            let Some(signal) = crate::signals::next().await else {
                return;
            };
            interrupted.set(signal);
            progress.note(&format!(
                "interrupted ({signal}): cancelling the running statement on the server (again \
                 to exit without waiting)"
            ));
            let _ = token.cancel_query(NoTls).await;
            if crate::signals::next().await.is_some() {
                // The connections close with the process, which releases the lock; what
                // the server was doing is left as an interrupted attempt.
                progress.emit(ProgressEvent::InterruptedTwice);
            }
        })
    };
    (interrupted, watcher)
}

/// The SQL statements of a script, without psql meta-commands and COPY data.
pub(crate) fn sql_statements(text: &str) -> Vec<sql::RawStatement> {
    sql::split(text)
        .into_iter()
        .filter(|s| s.kind == RawKind::Sql)
        .collect()
}

/// Refuses a script stagegate cannot run as it is (the statement classifier's plan of it):
/// psql meta-commands, COPY data, and transaction control where it would break the run.
/// Every problem is listed, each with its file and line.
pub(crate) fn check_script(
    script: &crate::source::Script,
    in_transaction: bool,
) -> anyhow::Result<sql::classify::ScriptPlan> {
    sql::classify::plan(&script.text, in_transaction).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                format!(
                    "{}:{}: {}",
                    script.path.display(),
                    script.first_line + p.line - 1,
                    p.message
                )
            })
            .collect();
        anyhow::anyhow!(lines.join("\n"))
    })
}

/// Runs one migration's script (up or down) against the environment.
pub(crate) struct Runner<'a> {
    pub env: &'a Environment,
    pub session: &'a Session,
    pub store: &'a mut StateStore,
    pub progress: &'a Sink,
    pub interrupted: &'a Interrupt,
    pub os_user: Option<&'a str>,
    pub drop_invalid_indexes: bool,
}

/// One script for the executor: an up script with its verify script, or a down script. What
/// it records at the end is its [`Finish`]; progress and failures are recorded the same way.
pub(crate) struct Job<'a> {
    /// `<version>_<name>`.
    pub label: String,
    pub version: &'a Version,
    pub script: &'a Script,
    pub verify: Option<&'a Script>,
    pub finish: Finish,
    pub timeouts: Timeouts,
    /// Statements an earlier no-transaction attempt got done, and their recorded checksum.
    pub resume: Option<(usize, String)>,
}

impl Job<'_> {
    fn direction(&self) -> Direction {
        match self.finish {
            Finish::Apply(_) => Direction::Up,
            Finish::Revert(_) => Direction::Down,
        }
    }

    /// Canonical version, version as written, name and (up) checksum of the record.
    fn ids(&self) -> (&str, &str, &str, &str) {
        match &self.finish {
            Finish::Apply(r) => (&r.version, &r.version_text, &r.name, &r.checksum),
            Finish::Revert(r) => (&r.version, &r.version_text, &r.name, &r.checksum),
        }
    }

    fn verb(&self) -> &'static str {
        match self.direction() {
            Direction::Up => "applying",
            Direction::Down => "reverting",
        }
    }

    fn done_word(&self) -> &'static str {
        match self.direction() {
            Direction::Up => "applied",
            Direction::Down => "reverted",
        }
    }
}

/// Pause before retry `attempt` (1-based) after a lock timeout.
fn backoff(attempt: u32) -> Duration {
    // 0.5 s, 1 s, 2 s, ... at most 10 s.
    Duration::from_millis(500u64.saturating_mul(1 << (attempt - 1).min(5)))
        .min(Duration::from_secs(10))
}

/// SHA-256 over the first statements of a script, to check on resume that they did not change.
pub(crate) fn prefix_checksum(text: &str, statements: &[sql::RawStatement]) -> String {
    let mut joined = String::new();
    for statement in statements {
        joined.push_str(statement.text(text));
        joined.push('\0');
    }
    Checksum::of_normalized(&joined).to_string()
}

impl Runner<'_> {
    /// Runs `job`: in one transaction, or statement by statement for a no-transaction script.
    pub(crate) async fn run(self, job: Job<'_>) -> anyhow::Result<AppliedMigration> {
        // Each migration starts from a clean session: nothing an earlier one of the run set
        // (search_path, role, TimeZone, ...) carries over, so one run of several migrations
        // does what running them one at a time does. The executor resets it in the round
        // trip that starts the migration ([`script::Transaction::fresh`], and
        // `set_session_timeouts` for a no-transaction one).
        if job.script.settings.no_transaction {
            self.no_transaction(job).await
        } else {
            self.in_transaction(job).await
        }
    }

    async fn in_transaction(self, job: Job<'_>) -> anyhow::Result<AppliedMigration> {
        let label = job.label.clone();
        let statements = sql_statements(&job.script.text).len();
        let verify = job.verify;
        let timeouts = job.timeouts;
        let started = Instant::now();
        let attempts_allowed = self.env.lock_retries + 1;
        let mut attempt = 1;
        self.progress.note(&format!(
            "{} {label} (transaction, {statements} statement(s))",
            job.verb()
        ));
        let record = job.finish.sql();
        loop {
            let attempt_started = Instant::now();
            let unit = script::Transaction {
                fresh: true,
                timeouts: &timeouts,
                script: &job.script.text,
                verify: verify.map(|v| v.text.as_str()),
                record: &record,
            };
            let result = script::transaction(self.session, &unit).await;
            let error = match result {
                Ok(()) => {
                    let elapsed = started.elapsed();
                    self.progress
                        .note(&format!("  done in {}ms", elapsed.as_millis()));
                    return Ok(AppliedMigration {
                        version: job.version.to_string(),
                        name: job.ids().2.to_string(),
                        mode: "transaction",
                        statements,
                        attempts: attempt,
                        duration_ms: elapsed.as_millis(),
                    });
                }
                Err(error) => error,
            };
            let interrupted = self.interrupted.get();
            if error.is_lock_timeout() && attempt < attempts_allowed && interrupted.is_none() {
                let pause = backoff(attempt);
                self.progress.warning(&format!(
                    "{label}: lock timeout on attempt {attempt} of {attempts_allowed} ({}); \
                     the transaction was rolled back, retrying in {}ms",
                    session::describe_error(&error.source, &job.script.text, job.script.first_line),
                    pause.as_millis()
                ));
                tokio::time::sleep(pause).await;
                attempt += 1;
                continue;
            }
            let (script, first_line, file) = match error.step {
                Step::Verify => {
                    let v = verify.expect("verify failed, so it exists");
                    (v.text.as_str(), v.first_line, v.path.display().to_string())
                }
                Step::Script | Step::Record | Step::Commit => (
                    job.script.text.as_str(),
                    job.script.first_line,
                    job.script.path.display().to_string(),
                ),
            };
            let what = match error.step {
                _ if session::is_parent_index_invalid(&error.source) => {
                    "left a partitioned index invalid"
                }
                Step::Script => "failed",
                Step::Verify => "verify script failed",
                Step::Record => "could not be recorded",
                Step::Commit => "failed at COMMIT",
            };
            let described = session::describe_error_after(
                &error.source,
                script,
                first_line,
                error.prefix_chars,
            );
            let located = match error.step {
                Step::Script if interrupted.is_none() && !error.is_lock_timeout() => {
                    let ran_for = attempt_started.elapsed();
                    Some(
                        self.locate_statement(&error, job.script, &timeouts, ran_for)
                            .await,
                    )
                }
                _ => None,
            };
            let mut message = match &located {
                Some(Ok(at)) => format!("{label} {what} at {}: {described}", at.short),
                _ => format!("{label} {what}: {described}"),
            };
            let located_line = match located {
                Some(Ok(at)) => format!("\n  {}", at.long),
                Some(Err(why)) => format!("\n  the statement could not be located{why}"),
                None => String::new(),
            };
            if matches!(error.step, Step::Record) && session::is_double_record(&error.source) {
                // Another run recorded it while this one ran (its lock was lost, or it was
                // killed and its connection finished): this run's transaction rolled back.
                return Err(exit::execution(anyhow::anyhow!(
                    "{label} was {} by another run while this one ran it: {described}\n  \
                     file: {file}\n  this run's transaction was rolled back, so {label} took \
                     effect once",
                    job.done_word()
                )));
            }
            if let Some(signal) = interrupted
                && session::is_cancelled(&error.source)
            {
                message = format!(
                    "{label} interrupted ({signal}): the running statement was cancelled on the \
                     server ({described})"
                );
            } else if error.is_lock_timeout() {
                message.push_str(&format!(" (after {attempt} attempt(s))"));
            }
            record_failure(
                self.store,
                self.progress,
                self.os_user,
                &job,
                0,
                None,
                &message,
            )
            .await;
            return Err(exit::execution(anyhow::anyhow!(
                "{message}{located_line}\n  file: {file}\n  the transaction was rolled back: \
                 nothing of {label} was {}",
                job.done_word()
            )));
        }
    }

    /// Which statement of a transactional script failed: from the error's position when it
    /// has one (syntax errors, unknown names), else by running the statements one by one in
    /// a transaction that is rolled back, when the failed attempt ran for less than
    /// [`RERUN_TO_LOCATE`] (a longer one would hold its locks as long again). Only a failure
    /// pays for this; a success stays one round trip. `Err` says why it is not known (text
    /// to follow "the statement could not be located").
    async fn locate_statement(
        &self,
        error: &session::ScriptError,
        script: &Script,
        timeouts: &Timeouts,
        ran_for: Duration,
    ) -> Result<Located, String> {
        let text = script.text.as_str();
        let statements: Vec<sql::RawStatement> = sql_statements(text);
        let index = match session::error_offset(&error.source, text, error.prefix_chars) {
            Some(offset) => statements
                .iter()
                .position(|s| offset < s.span.end)
                .or_else(|| statements.len().checked_sub(1))
                .ok_or_else(String::new)?,
            None if ran_for >= RERUN_TO_LOCATE => {
                return Err(format!(
                    " (the migration ran for {:.1}s before it failed: stagegate does not run it \
                     again, holding its locks, to find which statement it was)",
                    ran_for.as_secs_f64()
                ));
            }
            None => {
                let texts: Vec<&str> = statements.iter().map(|s| s.text(text)).collect();
                script::locate_failing_statement(self.session, timeouts, &texts)
                    .await
                    .ok_or_else(String::new)?
            }
        };
        let statement = &statements[index];
        let line = script.first_line + statement.line - 1;
        let first = statement.text(text).lines().next().unwrap_or("").trim_end();
        Ok(Located {
            short: format!(
                "statement {} of {} (line {line})",
                index + 1,
                statements.len()
            ),
            long: format!("statement {} at line {line}: {first}", index + 1),
        })
    }

    /// Runs an explicit transaction block of a no-transaction script (statements
    /// `first..=last`, from its BEGIN to the COMMIT or ROLLBACK that ends it) as one unit.
    /// Its progress records go inside the block, right before its COMMIT, so they commit
    /// with it or not at all: a block the server did not commit leaves nothing recorded, and
    /// the migration resumes at its BEGIN. A lock timeout retries the whole block.
    async fn run_block(
        &self,
        job: &Job<'_>,
        plan: &sql::classify::ScriptPlan,
        first: usize,
        last: usize,
        attempts: &mut u32,
    ) -> Result<(), Failed> {
        let text = &job.script.text;
        let label = &job.label;
        let version = job.ids().0;
        let direction = job.direction();
        let statements = &plan.statements;
        let line_of = |i: usize| job.script.first_line + statements[i].raw.line - 1;
        let at = format!(
            "the transaction block of statements {} to {} (lines {} to {})",
            first + 1,
            last + 1,
            line_of(first),
            line_of(last)
        );
        let raw: Vec<sql::RawStatement> = statements.iter().map(|s| s.raw.clone()).collect();
        let records: Vec<String> = (first + 1..=last + 1)
            .map(|done| {
                direction.progress_sql(
                    version,
                    i32::try_from(done).unwrap_or(i32::MAX),
                    &prefix_checksum(text, &raw[..done]),
                )
            })
            .collect();
        let records = records.join(";");
        let commits = statements[last].class == Class::Transaction(TxnControl::Commit);
        let texts: Vec<&str> = statements[first..=last]
            .iter()
            .map(|s| s.text(text))
            .collect();
        let mut attempt = 1;
        loop {
            let (index, error) = match script::block(self.session, &texts, &records, commits).await
            {
                Ok(()) => return Ok(()),
                Err((index, error)) => (first + index, error),
            };
            if self.retries_lock_timeout(&error, attempt) {
                let pause = backoff(attempt);
                self.progress.warning(&format!(
                    "{label}: {at} hit the lock timeout on attempt {attempt}; the block was \
                     rolled back, retrying in {}ms",
                    pause.as_millis()
                ));
                tokio::time::sleep(pause).await;
                attempt += 1;
                *attempts += 1;
                continue;
            }
            if session::is_double_record(&error) {
                return Err(Failed::by_other_run(format!(
                    "{label}: {at} was recorded by another run meanwhile ({}); this run's block \
                     was rolled back",
                    session::describe_error(&error, "", 1)
                )));
            }
            let sql = statements[index].text(text);
            let described = session::describe_error(&error, sql, line_of(index));
            let message = match self.interrupted.get() {
                Some(signal) if session::is_cancelled(&error) => format!(
                    "{label} interrupted ({signal}) in {at}, at statement {} (line {}): the \
                     statement was cancelled on the server ({described}); the block was rolled \
                     back",
                    index + 1,
                    line_of(index)
                ),
                _ => format!(
                    "{label} failed in {at}, at statement {} (line {}): {described}; the server \
                     rolled the whole block back",
                    index + 1,
                    line_of(index)
                ),
            };
            return Err(Failed::at(first, message));
        }
    }

    /// Whether a statement (or block) that failed with `error` on try `attempt` (1-based) is
    /// tried again: a lock timeout, within the environment's retries, and not after a signal.
    fn retries_lock_timeout(&self, error: &tokio_postgres::Error, attempt: u32) -> bool {
        session::is_lock_timeout(error)
            && attempt <= self.env.lock_retries
            && self.interrupted.get().is_none()
    }

    /// The INVALID indexes a failed concurrent build or reindex left on its table, described.
    async fn leftovers(&self, shape: &Shape) -> Option<String> {
        let client = self.session.client();
        let table = match shape {
            Shape::BuildIndex { table, .. }
            | Shape::Reindex {
                table: Some(table), ..
            } => table.clone(),
            Shape::Reindex {
                index: Some(index), ..
            } => concurrent::table_of(client, index).await.ok().flatten()?,
            _ => return None,
        };
        let invalid = concurrent::invalid_indexes(client, &table).await.ok()?;
        (!invalid.is_empty()).then(|| concurrent::leftovers(&invalid))
    }
}

/// How a no-transaction migration stopped.
struct Failed {
    /// Statements done (and recorded) when it stopped.
    done: usize,
    message: String,
    /// A refusal (exit 3) rather than a failure (exit 4).
    refused: bool,
    /// Another run recorded it meanwhile: this run records nothing.
    by_other_run: bool,
}

impl Failed {
    fn at(done: usize, message: String) -> Failed {
        Failed {
            done,
            message,
            refused: false,
            by_other_run: false,
        }
    }

    fn refused(done: usize, message: String) -> Failed {
        Failed {
            refused: true,
            ..Failed::at(done, message)
        }
    }

    fn by_other_run(message: String) -> Failed {
        Failed {
            by_other_run: true,
            ..Failed::at(0, message)
        }
    }
}

/// Records a failed attempt of `job` (`done` statements done, for a no-transaction one); a
/// failure to record is a warning (the run fails either way).
async fn record_failure(
    store: &mut StateStore,
    progress: &Sink,
    os_user: Option<&str>,
    job: &Job<'_>,
    done: usize,
    done_checksum: Option<&str>,
    error: &str,
) {
    let no_transaction = job.script.settings.no_transaction;
    let statements_done = i32::try_from(done).unwrap_or(i32::MAX);
    let recorded = match &job.finish {
        Finish::Apply(record) => {
            store
                .record_failure(&FailureRecord {
                    version: &record.version,
                    version_text: &record.version_text,
                    name: &record.name,
                    checksum: &record.checksum,
                    no_transaction,
                    rolled_back: !no_transaction,
                    os_user,
                    statements_done,
                    statements_total: record.statements_total,
                    done_checksum,
                    uncertain_statement: None,
                    error,
                })
                .await
        }
        Finish::Revert(record) => {
            store
                .record_down_failure(&DownFailureRecord {
                    version: &record.version,
                    version_text: &record.version_text,
                    name: &record.name,
                    checksum: &record.checksum,
                    os_user,
                    statements_done,
                    done_checksum,
                    error,
                })
                .await
        }
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => progress.warning(&format!(
            "{} was {} by another run; this attempt's failure is not recorded",
            job.ids().1,
            job.done_word()
        )),
        Err(error) => progress.warning(&format!("could not record the failure: {error}")),
    }
}

/// The three connections of a run that changes a database: the advisory lock's, the state
/// store's, and the session that runs the scripts (holding the run lock).
pub(crate) struct Connections {
    pub lock: crate::db::lock::AdvisoryLock,
    pub store: crate::db::state::StateStore,
    pub session: Session,
}

impl Connections {
    /// Connects all three, takes the lock, waits (within what is left of `lock_wait` since
    /// `started`) for the migration connection of a killed earlier run to finish what it was
    /// sent, then runs `read` on the store: all of it while `local` reads the files. A problem
    /// with the files is reported before one with the database; whatever was opened is closed
    /// on failure.
    pub(crate) async fn open<T, R>(
        env: &Environment,
        local: impl std::future::Future<Output = anyhow::Result<T>>,
        lock_wait: Duration,
        started: Instant,
        progress: &Sink,
        read: impl AsyncFnOnce(&mut crate::db::state::StateStore) -> anyhow::Result<R>,
    ) -> anyhow::Result<(T, Connections, R)> {
        let opened = async {
            let mut connections = Self::locked(env, lock_wait, started, progress).await?;
            match read(&mut connections.store).await {
                Ok(read) => Ok((connections, read)),
                Err(error) => {
                    connections.close().await;
                    Err(error)
                }
            }
        };
        match tokio::join!(local, opened) {
            (Ok(local), Ok((connections, read))) => Ok((local, connections, read)),
            (Err(error), opened) => {
                if let Ok((connections, _)) = opened {
                    connections.close().await;
                }
                Err(error)
            }
            (Ok(_), Err(error)) => Err(error),
        }
    }

    /// The three connections, with the lock and the run lock taken.
    async fn locked(
        env: &Environment,
        lock_wait: Duration,
        started: Instant,
        progress: &Sink,
    ) -> anyhow::Result<Connections> {
        use crate::db::lock::{AdvisoryLock, LockError};
        use crate::db::state::StateStore;
        // The lock's pooler probe uses the session as its second client (it holds nothing
        // yet): no connection is opened for the probe alone.
        let locked_session = async {
            let (client, session) =
                tokio::join!(crate::db::connect(&env.url), Session::connect(&env.url));
            let lock = match client {
                Ok(client) => {
                    AdvisoryLock::acquire_on(
                        client,
                        &env.url,
                        lock_wait,
                        note_waiting(env, lock_wait, progress),
                        session.as_ref().ok().map(Session::client),
                    )
                    .await
                }
                Err(error) => Err(LockError::from(error)),
            };
            (lock, session)
        };
        let ((lock, session), store) = tokio::join!(locked_session, StateStore::connect(&env.url));
        let (lock, store, session) = match (lock, store, session) {
            (Ok(lock), Ok(store), Ok(session)) => (lock, store, session),
            (lock, store, session) => {
                let lock_error = match lock {
                    Ok(lock) => {
                        lock.release().await;
                        None
                    }
                    Err(error) if error.is_busy() => Some(exit::refused(error)),
                    Err(error) if error.is_pooler() => Some(anyhow::Error::from(error)),
                    Err(error) => Some(exit::execution(error)),
                };
                return Err(match (lock_error, store, session) {
                    (Some(error), _, _) => error,
                    (None, Err(error), _) => exit::execution(error),
                    (None, _, Err(error)) => exit::execution(error),
                    (None, Ok(_), Ok(_)) => unreachable!("all three succeeded"),
                });
            }
        };
        let connections = Connections {
            lock,
            store,
            session,
        };
        let remaining = lock_wait.saturating_sub(started.elapsed());
        let taken = connections
            .session
            .take_run_lock(&env.url, remaining, |holder| {
                progress.note(&format!(
                    "waiting for the migration connection of an earlier run on `{}` to finish \
                     ({})",
                    env.name,
                    holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
                ));
            })
            .await;
        match taken {
            Ok(()) => Ok(connections),
            Err(error) => {
                connections.close().await;
                Err(if error.is_busy() {
                    exit::refused(error)
                } else {
                    exit::execution(error)
                })
            }
        }
    }

    /// Closes the store and the session, then gives the lock back.
    pub(crate) async fn close(self) {
        self.store.close().await;
        drop(self.session);
        self.lock.release().await;
    }
}

/// What a run says when another stagegate run holds the environment's lock.
fn note_waiting<'a>(
    env: &'a Environment,
    lock_wait: Duration,
    progress: &'a Sink,
) -> impl FnOnce(Option<&crate::db::lock::Holder>) + 'a {
    move |holder| {
        progress.note(&format!(
            "waiting up to {}s for another stagegate run on `{}` ({})",
            lock_wait.as_secs(),
            env.name,
            holder.map_or_else(|| "holder not visible".to_string(), ToString::to_string)
        ));
    }
}

/// Takes the environment's advisory lock alone (for commands that write the state store but
/// run no migration: resolve, baseline), waiting up to `lock_wait`; busy is a refusal.
pub(crate) async fn lock_alone(
    env: &Environment,
    lock_wait: Duration,
    progress: &Sink,
) -> anyhow::Result<crate::db::lock::AdvisoryLock> {
    crate::db::lock::AdvisoryLock::acquire(
        &env.url,
        lock_wait,
        note_waiting(env, lock_wait, progress),
    )
    .await
    .map_err(|e| match e {
        e if e.is_busy() => exit::refused(e),
        e if e.is_pooler() => anyhow::Error::from(e),
        other => exit::execution(other),
    })
}
