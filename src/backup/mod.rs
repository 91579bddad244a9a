//! Backups: `pg_dump --format=custom` of an environment, checked, recorded and pruned.
//!
//! [`take`] is the whole of it, for `backup create` and for `migrate apply` / `migrate down`
//! before their first statement ([`gate`]):
//!
//! 1. pg_dump is found by the one finder of PostgreSQL's programs
//!    ([`crate::programs::client_tools`]): `[backup] pg_dump` when configured (then only that
//!    one), else PATH, `pg_config --bindir`, then the distributions' directories for the
//!    server's major version; one older than the server is refused. pg_restore must sit
//!    beside it.
//! 2. A connection of its own opens a REPEATABLE READ transaction and exports its snapshot;
//!    pg_dump runs with `--snapshot` while that connection counts every table's rows in the
//!    same snapshot, so the counts are exactly what the archive holds.
//! 3. The archive is written to a temporary file (0600) in the backup directory (created
//!    0700), checked with `pg_restore --list`, hashed, and renamed into place; any failure,
//!    and Ctrl-C, SIGTERM or SIGHUP meanwhile, removes the partial file ([`archive`]).
//! 4. A `backup` event records the manifest ([`Manifest`]); then older backups are pruned to
//!    `keep`: only files with stagegate's name that the event log records, never the newest.
//!
//! pg_dump and pg_restore get the connection from the target's libpq environment
//! ([`crate::target::child`]): no `PG*` variable of the caller's, the password in a passfile
//! no other process can open and that lives only as long as the child. Nothing secret is on
//! their command line or on disk.

mod archive;
mod error;
mod manifest;
mod take;

pub use archive::hash_file;
pub(crate) use archive::{copy, list_archive, restore};
pub(crate) use error::BackupError;
pub use manifest::Manifest;
pub(crate) use manifest::{Recorded, recorded};
pub(crate) use take::{BackupRecord, server_version, take};

use crate::config::{BackupToolsConfig, Environment};
use crate::db::state::StateStore;
use crate::progress::Progress;

/// The backup gate of `migrate apply` and `migrate down`: when `env` configures `backup`, a
/// verified backup (noted on stderr), else nothing. Errors carry their exit code.
pub(crate) async fn gate(
    env: &Environment,
    tools: &BackupToolsConfig,
    store: &mut StateStore,
    progress: &dyn Progress,
    why: &str,
) -> anyhow::Result<Option<BackupRecord>> {
    if env.backup.is_none() {
        return Ok(None);
    }
    let backup = take(env, tools, store, progress, why)
        .await
        .map_err(BackupError::into_exit)?;
    progress.note(&format!(
        "backup of `{}`: {} ({}, {})",
        env.name,
        backup.path.display(),
        crate::human::bytes(backup.manifest.size),
        backup.manifest.sha256
    ));
    Ok(Some(backup))
}
