//! `check-reversible`: does each migration's down script undo its up script?
//!
//! On a scratch database ([`ScratchDb`]), for each migration in version order: dump the schema
//! ([`dump`]), run the up script, run the down script, dump again and compare, then run the up
//! script again so the next migration starts from the schema it was written for. Migrations
//! before `--from` are only applied. What each check found is a [`ReversibilityReport`]; rendering it is
//! [`report`]'s business, printing it the command's.
//!
//! Scripts run as `migrate apply` runs them: a transactional script (with its verify script)
//! in one transaction, a `no-transaction` one statement by statement. A down that failed in a
//! transaction left the schema after the up script, so checking goes on from there; a down
//! that changed the schema into something else (or stopped halfway outside a transaction)
//! leaves the database in no known state, so it is dropped, created again and brought to the
//! schema after that up script before the next migration.

pub(crate) mod dump;
pub(crate) mod report;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::db::session::Session;
use crate::exit;
use crate::scratch::ScratchDb;
use crate::source::{Migration, MigrationSet, Script, SourceError, Version};
use dump::{Schema, SchemaDiff};

/// Version of the JSON report's shape.
pub(crate) const JSON_VERSION: u32 = 1;

/// A migration with its scripts read and checked, before anything runs.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) migration: Migration,
    pub(crate) up: Script,
    pub(crate) verify: Option<Script>,
    pub(crate) down: Down,
}

/// The down script of a migration.
#[derive(Debug, Clone)]
pub(crate) enum Down {
    /// There is none.
    Missing,
    /// There is one, with nothing but comments and whitespace in it.
    Empty(PathBuf),
    Script(Script),
}

/// Reads every script of the set, so a broken file is an error before anything runs.
pub(crate) fn prepare(set: &MigrationSet) -> Result<Vec<Prepared>, SourceError> {
    set.migrations
        .iter()
        .map(|migration| {
            let up = migration.load_up()?;
            let down = match &migration.down {
                None => Down::Missing,
                Some(reference) => {
                    let script = reference.load()?;
                    if script.is_blank() && !up.reverts_by_bookkeeping(&script) {
                        Down::Empty(script.path)
                    } else {
                        Down::Script(script)
                    }
                }
            };
            Ok(Prepared {
                up,
                verify: migration.load_verify()?,
                migration: migration.clone(),
                down,
            })
        })
        .collect()
}

/// What the check found for one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Reversibility {
    /// Up, down and up again ran, and the down restored the schema.
    Ok,
    /// The down script failed.
    DownFailed,
    /// The down script ran, but the schema is not the one before the up script.
    SchemaDiffers,
    /// There is no down script.
    NoDown,
    /// The down script holds only comments.
    EmptyDown,
    /// The up script failed; the check stopped there.
    UpFailed,
    /// The down restored the schema, but the up script failed when run again.
    UpAgainFailed,
    /// Before `--from`: applied, not checked.
    Applied,
    /// After a failed up script (or a database that could not be reset): not run.
    NotChecked,
}

impl Reversibility {
    /// True for the statuses that make the check fail.
    pub(crate) fn is_finding(self) -> bool {
        !matches!(self, Reversibility::Ok | Reversibility::Applied)
    }
}

/// One migration's result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckedMigration {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) status: Reversibility,
    /// The script the status is about (the down script, or the up script that failed).
    pub(crate) file: Option<PathBuf>,
    /// The database error, with its line in `file`.
    pub(crate) error: Option<String>,
    /// For `schema-differs`: the unified diff of the normalised schema dumps, before the up
    /// script (`-`) and after the down script (`+`).
    pub(crate) diff: Option<String>,
    /// For `schema-differs`: objects the down script left behind.
    pub(crate) left_over: Vec<String>,
    /// For `schema-differs`: objects that existed before the up script and are gone.
    pub(crate) missing: Vec<String>,
    /// For `schema-differs`: objects in both, with the lines that differ.
    pub(crate) changed: Vec<String>,
}

impl CheckedMigration {
    fn new(migration: &Migration, status: Reversibility) -> CheckedMigration {
        CheckedMigration {
            version: migration.version.to_string(),
            name: migration.name.clone(),
            status,
            file: None,
            error: None,
            diff: None,
            left_over: Vec::new(),
            missing: Vec::new(),
            changed: Vec::new(),
        }
    }

    fn failed(
        migration: &Migration,
        status: Reversibility,
        file: &Path,
        error: String,
    ) -> CheckedMigration {
        CheckedMigration {
            file: Some(file.to_path_buf()),
            error: Some(error),
            ..CheckedMigration::new(migration, status)
        }
    }

    fn differs(migration: &Migration, file: &Path, diff: SchemaDiff) -> CheckedMigration {
        CheckedMigration {
            file: Some(file.to_path_buf()),
            error: Some(diff.summary()),
            diff: Some(diff.unified),
            left_over: diff.left_over,
            missing: diff.missing,
            changed: diff.changed,
            ..CheckedMigration::new(migration, Reversibility::SchemaDiffers)
        }
    }

    /// `<version>_<name>`.
    pub(crate) fn label(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Counts over the migrations.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ReversibilitySummary {
    /// Migrations whose down script was checked (or found missing or empty).
    pub(crate) checked: usize,
    pub(crate) reversible: usize,
    pub(crate) not_reversible: usize,
    /// Before `--from`.
    pub(crate) applied_only: usize,
    pub(crate) not_checked: usize,
}

/// The whole check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReversibilityReport {
    pub(crate) version: u32,
    /// True when every checked migration is reversible and none was left unchecked.
    pub(crate) reversible: bool,
    pub(crate) migrations: Vec<CheckedMigration>,
    pub(crate) summary: ReversibilitySummary,
    /// Why the check stopped before the last migration, if it did.
    pub(crate) stopped: Option<String>,
}

impl ReversibilityReport {
    fn new(migrations: Vec<CheckedMigration>, stopped: Option<String>) -> ReversibilityReport {
        let mut summary = ReversibilitySummary::default();
        for checked in &migrations {
            match checked.status {
                Reversibility::Applied => summary.applied_only += 1,
                Reversibility::NotChecked => summary.not_checked += 1,
                Reversibility::Ok => {
                    summary.checked += 1;
                    summary.reversible += 1;
                }
                _ => {
                    summary.checked += 1;
                    summary.not_reversible += 1;
                }
            }
        }
        ReversibilityReport {
            version: JSON_VERSION,
            reversible: !migrations.iter().any(|c| c.status.is_finding()),
            migrations,
            summary,
            stopped,
        }
    }
}

/// Runs the check on `scratch`. Database errors in the scripts are findings; a lost
/// connection, a failed pg_dump or a scratch database that cannot be used are errors.
pub(crate) async fn check(
    scratch: &ScratchDb,
    pg_dump: &Path,
    migrations: &[Prepared],
    from: Option<&Version>,
    progress: &dyn Fn(&str),
) -> anyhow::Result<ReversibilityReport> {
    let mut checker = Checker {
        scratch,
        pg_dump,
        session: Some(connect(scratch).await?),
        progress,
    };
    let mut results = Vec::with_capacity(migrations.len());
    let mut stopped: Option<String> = None;
    for (index, prepared) in migrations.iter().enumerate() {
        let migration = &prepared.migration;
        if stopped.is_some() {
            results.push(CheckedMigration::new(migration, Reversibility::NotChecked));
            continue;
        }
        let label = migration.label();
        let later = migrations.len() - index - 1;
        let up_failed = |error: String| {
            (
                CheckedMigration::failed(
                    migration,
                    Reversibility::UpFailed,
                    &prepared.up.path,
                    error,
                ),
                format!(
                    "the up script of {label} failed, so the {later} migration(s) after it \
                     could not start from the schema they were written for and were not checked"
                ),
            )
        };
        if from.is_some_and(|from| migration.version < *from) {
            (checker.progress)(&format!("applying {label} (before --from, not checked)"));
            match checker.up(prepared).await? {
                Ok(()) => results.push(CheckedMigration::new(migration, Reversibility::Applied)),
                Err(error) => {
                    let (checked, why) = up_failed(error);
                    results.push(checked);
                    stopped = Some(why);
                }
            }
            continue;
        }
        (checker.progress)(&format!("checking {label}: up, down, up"));
        let before = checker.dump().await?;
        if let Err(error) = checker.up(prepared).await? {
            let (checked, why) = up_failed(error);
            results.push(checked);
            stopped = Some(why);
            continue;
        }
        let (checked, reset) = checker.down(prepared, &before).await?;
        results.push(checked);
        if reset
            && later > 0
            && let Some(why) = checker.reset(&migrations[..=index], &label).await?
        {
            stopped = Some(why);
        }
    }
    Ok(ReversibilityReport::new(results, stopped))
}

struct Checker<'a> {
    scratch: &'a ScratchDb,
    pg_dump: &'a Path,
    /// `None` only while the scratch database is recreated.
    session: Option<Session>,
    progress: &'a dyn Fn(&str),
}

impl Checker<'_> {
    fn session(&self) -> &Session {
        self.session.as_ref().expect("a session outside reset")
    }

    async fn dump(&self) -> anyhow::Result<Schema> {
        let program = self.pg_dump.to_path_buf();
        let url = self.scratch.url.clone();
        tokio::task::spawn_blocking(move || Schema::dump(&program, &url))
            .await
            .map_err(|e| exit::execution(anyhow::anyhow!("pg_dump: {e}")))?
            .map_err(exit::execution)
    }

    /// Steps 4 to 7 of a check, after the up script ran: the down script, the comparison, the
    /// up script again. Also says whether the database must be rebuilt before the next
    /// migration.
    async fn down(
        &self,
        prepared: &Prepared,
        before: &Schema,
    ) -> anyhow::Result<(CheckedMigration, bool)> {
        let migration = &prepared.migration;
        let down = match &prepared.down {
            Down::Missing => {
                // An Alembic downgrade() that raised when rendered: the error says why.
                let checked = CheckedMigration {
                    error: migration.down_error.clone(),
                    ..CheckedMigration::new(migration, Reversibility::NoDown)
                };
                return Ok((checked, false));
            }
            Down::Empty(path) => {
                let checked = CheckedMigration {
                    file: Some(path.clone()),
                    ..CheckedMigration::new(migration, Reversibility::EmptyDown)
                };
                return Ok((checked, false));
            }
            Down::Script(down) => down,
        };
        if let Err(error) = self.run(down, None).await? {
            // In a transaction, the failed down was rolled back: the schema is the one after
            // the up script. Outside one, it stopped halfway.
            let checked =
                CheckedMigration::failed(migration, Reversibility::DownFailed, &down.path, error);
            return Ok((checked, down.settings.no_transaction));
        }
        let after = self.dump().await?;
        let labels = (
            &format!("schema before the up script of {}", migration.label()),
            "schema after its down script",
        );
        if let Some(diff) = dump::reversal_diff(before, &after, (labels.0, labels.1)) {
            return Ok((CheckedMigration::differs(migration, &down.path, diff), true));
        }
        Ok(match self.up(prepared).await? {
            Ok(()) => (CheckedMigration::new(migration, Reversibility::Ok), false),
            Err(error) => (
                CheckedMigration::failed(
                    migration,
                    Reversibility::UpAgainFailed,
                    &prepared.up.path,
                    error,
                ),
                true,
            ),
        })
    }

    /// The up script (and its verify script).
    async fn up(&self, prepared: &Prepared) -> anyhow::Result<Result<(), String>> {
        self.run(&prepared.up, prepared.verify.as_ref()).await
    }

    /// Runs `script` as apply would ([`crate::db::script::run`]). `Ok(Err(message))` when
    /// the database refused it.
    async fn run(
        &self,
        script: &Script,
        verify: Option<&Script>,
    ) -> anyhow::Result<Result<(), String>> {
        match crate::db::script::run(self.session(), script, verify).await? {
            Ok(()) => Ok(Ok(())),
            Err(message) if script.settings.no_transaction => Ok(Err(message)),
            Err(message) => Ok(Err(self.explain(message).await)),
        }
    }

    /// Adds what the schema shows to an error: a constraint that does not exist because the
    /// up script made it as a unique index.
    async fn explain(&self, message: String) -> String {
        let Some(name) = missing_constraint(&message) else {
            return message;
        };
        let is_index = self
            .session()
            .client()
            .query_one(
                "SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind IN ('i', 'I')",
                &[&name],
            )
            .await
            .is_ok_and(|row| row.get::<_, i64>(0) > 0);
        if is_index {
            format!(
                "{message}; {name} is an index, not a constraint (CREATE UNIQUE INDEX makes no \
                 constraint): drop it with DROP INDEX {name}"
            )
        } else {
            message
        }
    }

    /// Brings the scratch database back to the schema after the up scripts of `done`;
    /// `Some(reason)` when that is not possible and the check must stop.
    async fn reset(&mut self, done: &[Prepared], label: &str) -> anyhow::Result<Option<String>> {
        (self.progress)(&format!(
            "recreating the scratch database and applying the {} up script(s) through {label}",
            done.len()
        ));
        // Its session must go before the database can.
        self.session = None;
        self.scratch.reset().await.map_err(exit::execution)?;
        self.session = Some(connect(self.scratch).await?);
        for prepared in done {
            if let Err(error) = self.up(prepared).await? {
                return Ok(Some(format!(
                    "the up script of {} failed when the scratch database was rebuilt after \
                     {label} ({error}), so the later migrations were not checked",
                    prepared.migration.label()
                )));
            }
        }
        Ok(None)
    }
}

async fn connect(scratch: &ScratchDb) -> anyhow::Result<Session> {
    Session::connect(&scratch.url)
        .await
        .map_err(exit::execution)
}

/// The name in `constraint "NAME" of relation "TABLE" does not exist (42704)`.
fn missing_constraint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("constraint \"")?;
    let (name, rest) = rest.split_once('"')?;
    (rest.starts_with(" of relation ") && rest.contains("does not exist (42704)"))
        .then(|| name.to_string())
}
