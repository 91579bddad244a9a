//! Deploying migrations to an environment: comparing the files with the recorded state,
//! refusing what must not run, planning, applying and resolving.
//!
//! [`compare`] is pure: it takes the local migrations and the rows of `stagegate.migrations`
//! and says, for every version, where it stands. Everything that talks to a database lives in
//! [`apply`], [`resolve`] and the commands.

pub(crate) mod after;
pub(crate) mod apply;
pub(crate) mod approvals;
pub(crate) mod approve;
pub(crate) mod baseline;
pub(crate) mod concurrent;
pub(crate) mod confirm;
pub(crate) mod down;
pub(crate) mod gates;
pub(crate) mod plan;
pub(crate) mod promote;
pub(crate) mod replace_down;
pub(crate) mod resolve;
pub(crate) mod runner;

use serde::Serialize;

use crate::db::state::{MigrationRow, RowStatus};
use crate::source::{Migration, MigrationSet, Script, SourceError, Version};

/// The down checksum recorded for a migration whose down was declared a no-op.
pub(crate) const NOOP: &str = "noop";

/// `text` as one shell word, for a command shown to be copied.
pub(crate) fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A local migration with its up script loaded (text and checksum).
#[derive(Debug, Clone)]
pub(crate) struct LocalMigration {
    pub migration: Migration,
    pub up: Script,
}

impl LocalMigration {
    pub(crate) fn canonical(&self) -> String {
        self.migration.version.canonical()
    }
}

/// The commands that settle a statement whose outcome is unknown, ready to paste: one for
/// "it took effect", one for "it did not".
pub(crate) fn statement_hint(version: &str, env: &str) -> String {
    format!(
        "if it took effect `stagegate migrate resolve {version} --env {env} --statement ran \
         --reason \"...\"`, if not `stagegate migrate resolve {version} --env {env} --statement \
         not-run --reason \"...\"`"
    )
}

/// Loads every up script of the set (checking encoding, directives and emptiness).
pub(crate) fn load_local(set: &MigrationSet) -> Result<Vec<LocalMigration>, SourceError> {
    let load = |migration: &Migration| -> Result<LocalMigration, SourceError> {
        Ok(LocalMigration {
            up: migration.load_up()?,
            migration: migration.clone(),
        })
    };
    // Reading and checksumming the files is most of the CPU a run with nothing pending spends
    // itself (5,000 files: about a third): in chunks on worker threads, in order, the first
    // error in file order the one returned. A few files are read on this thread.
    let count = set.migrations.len();
    let workers = if count < LOAD_CHUNK * 2 {
        1
    } else {
        crate::parallel::default_workers().min(4)
    };
    let mut local = Vec::with_capacity(count);
    crate::parallel::ordered(
        set.migrations.chunks(LOAD_CHUNK),
        workers,
        workers * 2,
        |part| part.iter().map(load).collect::<Vec<_>>(),
        |loaded| {
            for one in loaded {
                local.push(one?);
            }
            Ok::<(), SourceError>(())
        },
    )?;
    Ok(local)
}

/// Migrations loaded by one worker at a time ([`load_local`]).
const LOAD_CHUNK: usize = 128;

/// Where one migration stands in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum State {
    /// Applied, and the file still has the checksum it was applied with.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file changed since.
    ChecksumMismatch,
    /// The last attempt failed and nothing of it remains (it ran in a transaction, which was
    /// rolled back); the next apply tries again.
    FailedRolledBack,
    /// The last attempt failed part way outside a transaction; needs `migrate resolve` or a
    /// fixed file before apply goes on.
    Failed,
    /// A failed attempt that was resolved; the next apply resumes it.
    Resolved,
    /// A no-transaction run was interrupted without recording its end (the process was
    /// killed); treated like a failure.
    Interrupted,
    /// Applied here, but no file of that version exists locally.
    MissingLocally,
    /// A no-transaction down script stopped part way (`migrate down` resumes it).
    Reverting,
    /// Reverted by `migrate down`, and no file of that version exists locally (with its file,
    /// a reverted migration is [`State::Pending`]).
    Reverted,
    /// A failed attempt given up with `migrate resolve --abandon`: never run again (a fix
    /// goes in a new migration), and no longer in the way of the migrations after it.
    Abandoned,
}

impl State {
    pub(crate) fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::ChecksumMismatch => "checksum mismatch",
            State::FailedRolledBack => "failed (rolled back)",
            State::Failed => "failed",
            State::Resolved => "failed, resolved",
            State::Interrupted => "interrupted",
            State::MissingLocally => "missing locally",
            State::Reverting => "partly reverted",
            State::Reverted => "reverted",
            State::Abandoned => "abandoned",
        }
    }

    /// True when apply would (re)run this migration.
    pub(crate) fn is_pending(self) -> bool {
        matches!(
            self,
            State::Pending | State::FailedRolledBack | State::Resolved | State::Failed
        )
    }
}

/// One version in one environment: the local file, the recorded row, or both.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub version: Version,
    pub name: String,
    pub local: Option<LocalMigration>,
    pub row: Option<MigrationRow>,
    pub state: State,
}

impl Entry {
    pub(crate) fn label(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Every version known locally or recorded, in version order, with its state. The rows are
/// moved into the entries (a no-op apply of 5,000 migrations cloned 5,000 rows here).
pub(crate) fn compare(local: &[LocalMigration], rows: Vec<MigrationRow>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::with_capacity(local.len().max(rows.len()));
    let mut by_version: std::collections::HashMap<String, MigrationRow> = rows
        .into_iter()
        .map(|row| (row.version.clone(), row))
        .collect();
    for migration in local {
        let canonical = migration.canonical();
        let row = by_version.remove(canonical.as_str());
        let state = match &row {
            None => State::Pending,
            Some(row) => match row.status {
                RowStatus::Applied if migration.up.matches(&row.checksum) => State::Applied,
                RowStatus::Applied => State::ChecksumMismatch,
                RowStatus::Failed if row.rolled_back => State::FailedRolledBack,
                RowStatus::Failed if row.resolved_at.is_some() => State::Resolved,
                RowStatus::Failed => State::Failed,
                RowStatus::Running if row.resolved_at.is_some() => State::Resolved,
                RowStatus::Running => State::Interrupted,
                RowStatus::Reverted => State::Pending,
                RowStatus::Reverting => State::Reverting,
                RowStatus::Abandoned => State::Abandoned,
            },
        };
        entries.push(Entry {
            version: migration.migration.version.clone(),
            name: migration.migration.name.clone(),
            local: Some(migration.clone()),
            row,
            state,
        });
    }
    for row in by_version.into_values() {
        let Some(version) = Version::parse_recorded(&row.version_text) else {
            continue;
        };
        // A failed attempt of a file that is gone left nothing to point at; it is still shown.
        let state = match row.status {
            RowStatus::Applied => State::MissingLocally,
            RowStatus::Failed if row.rolled_back => State::FailedRolledBack,
            RowStatus::Failed if row.resolved_at.is_some() => State::Resolved,
            RowStatus::Failed => State::Failed,
            RowStatus::Running => State::Interrupted,
            RowStatus::Reverted => State::Reverted,
            RowStatus::Reverting => State::Reverting,
            RowStatus::Abandoned => State::Abandoned,
        };
        entries.push(Entry {
            version,
            name: row.name.clone(),
            local: None,
            row: Some(row),
            state,
        });
    }
    entries.sort_by(|a, b| a.version.cmp(&b.version));
    entries
}

/// Applied revisions whose file is unchanged but whose SQL renders differently now than
/// the SQL that ran (another Alembic or SQLAlchemy): not an edit, and nothing reruns, but
/// worth saying, one line each.
pub(crate) fn rendering_changes(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.state == State::Applied)
        .filter_map(|e| {
            let row = e.row.as_ref()?;
            let there = row.rendered_checksum.as_deref()?;
            let here = e.local.as_ref()?.up.rendered_checksum.as_ref()?;
            (there != here.as_str()).then(|| {
                format!(
                    "{}: the file is unchanged since it was applied, but it renders to other SQL \
                     now ({here}) than the SQL that ran ({there}, rendered by {}): a different \
                     Alembic or SQLAlchemy renders it differently (not an edit; it is not run again)",
                    e.label(),
                    row.rendered_by.as_deref().unwrap_or("an unknown version")
                )
            })
        })
        .collect()
}

/// A reason apply must not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Refusal {
    pub version: String,
    pub kind: RefusalKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RefusalKind {
    ChecksumDrift,
    MissingLocally,
    OutOfOrder,
    UnresolvedFailure,
    Interrupted,
    /// A no-transaction down script stopped part way.
    PartlyReverted,
    /// A file with another checksum than the abandoned migration of its version.
    AbandonedVersion,
}

/// Checks that must pass before anything runs: no applied file was edited, none is missing
/// locally, no pending migration is older than the newest applied one, and no failed
/// no-transaction attempt is left unresolved (unless its file was fixed since).
pub(crate) fn refusals(env: &str, entries: &[Entry]) -> Vec<Refusal> {
    let mut out = Vec::new();
    let newest_applied = entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                State::Applied | State::ChecksumMismatch | State::Reverting
            )
        })
        .map(|e| &e.version)
        .max();
    for entry in entries {
        let label = entry.label();
        let refuse = |kind, message: String| Refusal {
            version: entry.version.to_string(),
            kind,
            message,
        };
        match entry.state {
            State::ChecksumMismatch => {
                let (recorded, now) = checksums(entry);
                out.push(refuse(
                    RefusalKind::ChecksumDrift,
                    format!(
                        "{label} was applied with checksum {recorded} but the file now has \
                         {now}: applied migrations must not be edited (restore the file, and \
                         put the change in a new migration)"
                    ),
                ));
            }
            State::MissingLocally => out.push(refuse(
                RefusalKind::MissingLocally,
                format!(
                    "{label} is applied in this environment but has no file in the migrations \
                     directory (restore it; a branch without it must not deploy here)"
                ),
            )),
            State::Failed => {
                let row = entry.row.as_ref();
                let (recorded, now) = checksums(entry);
                if entry.local.is_none() || recorded == now {
                    out.push(refuse(
                        RefusalKind::UnresolvedFailure,
                        format!(
                            "{label} failed at statement {} of {} and is not resolved; repair \
                             the database, then run {} (or fix the file; or, to give it up, \
                             `stagegate migrate resolve {} --env {env} --abandon --reason \
                             \"...\"`){}",
                            row.map_or(0, |r| r.statements_done + 1),
                            row.map_or(0, |r| r.statements_total),
                            if row.is_some_and(|r| r.running_statement.is_some()) {
                                statement_hint(&entry.version.to_string(), env)
                            } else {
                                format!(
                                    "`stagegate migrate resolve {} --env {env} --reason \"...\"`",
                                    entry.version
                                )
                            },
                            entry.version,
                            row.and_then(|r| r.error.as_deref())
                                .map_or(String::new(), |e| format!("\n    error: {e}")),
                        ),
                    ));
                }
            }
            State::Abandoned => {
                let (recorded, now) = checksums(entry);
                if entry.local.is_some() && recorded != now {
                    out.push(refuse(
                        RefusalKind::AbandonedVersion,
                        format!(
                            "{label} has the version of a migration abandoned here (checksum \
                             {recorded}), but the file now has {now}: an abandoned version never \
                             runs again, so give the new migration a newer version"
                        ),
                    ));
                }
            }
            State::Interrupted => out.push(refuse(
                RefusalKind::Interrupted,
                format!(
                    "{label} was interrupted after statement {} of {} without recording how it \
                     ended (the process was killed?); check the database, then run \
                     `stagegate migrate resolve {} --env {env} --reason \"...\"` (or give it up \
                     with --abandon)",
                    entry.row.as_ref().map_or(0, |r| r.statements_done),
                    entry.row.as_ref().map_or(0, |r| r.statements_total),
                    entry.version
                ),
            )),
            State::Reverting => {
                let row = entry.row.as_ref();
                out.push(refuse(
                    RefusalKind::PartlyReverted,
                    format!(
                        "{label} is partly reverted: its no-transaction down script stopped after \
                         statement {} of {}; run `stagegate migrate down --env {env} --steps 1` \
                         to finish it{}",
                        row.and_then(|r| r.down_statements_done).unwrap_or(0),
                        row.and_then(|r| r.down_statements_total).unwrap_or(0),
                        row.and_then(|r| r.error.as_deref())
                            .map_or(String::new(), |e| format!("\n    error: {e}")),
                    ),
                ));
            }
            _ => {}
        }
        // An Alembic revision is out of order only when an applied one follows it: a
        // branch ranked before an applied one of another branch may still be applied.
        let applied_after = |entry: &Entry| match entry.local.as_ref() {
            Some(local) if local.migration.ancestors.is_some() || entry.version.is_revision() => {
                entries
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.state,
                            State::Applied | State::ChecksumMismatch | State::Reverting
                        )
                    })
                    .filter_map(|e| e.local.as_ref())
                    .find(|later| local.migration.precedes(&later.migration))
                    .map(|later| later.migration.version.clone())
            }
            _ => newest_applied
                .filter(|newest| entry.version < **newest)
                .cloned(),
        };
        if entry.state.is_pending()
            && let Some(newest) = applied_after(entry)
        {
            out.push(refuse(
                RefusalKind::OutOfOrder,
                format!(
                    "{label} is pending but older than {newest}, which is already applied: \
                     migrations must be applied in order (give it a newer version)"
                ),
            ));
        }
    }
    out
}

fn checksums(entry: &Entry) -> (String, String) {
    (
        entry
            .row
            .as_ref()
            .map_or_else(|| "-".to_string(), |r| r.checksum.clone()),
        entry
            .local
            .as_ref()
            .map_or_else(|| "-".to_string(), |l| l.up.checksum.to_string()),
    )
}
