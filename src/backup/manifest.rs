//! What a backup records about itself (the `backup` event's detail), the archive's file
//! name, and pruning old archives to `keep`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::BackupConfig;
use crate::db::state::{StateError, StateStore};
use crate::progress::Progress;
use crate::sql::quote_ident;

/// Start of every archive's file name: `stagegate-<env>-<UTC time>.dump`.
const FILE_PREFIX: &str = "stagegate-";
pub(super) const FILE_SUFFIX: &str = ".dump";

/// The rows of one table, counted in the dump's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub schema: String,
    pub table: String,
    pub rows: i64,
}

impl TableCount {
    /// `schema.table`, quoted where needed, for messages and SQL.
    pub fn label(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

/// What the `backup` event records (its `detail`, as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// File name, inside `dir`.
    pub file: String,
    /// Absolute directory the file was written to.
    pub dir: PathBuf,
    pub size: u64,
    /// `sha256:<hex>` of the file.
    pub sha256: String,
    pub server_version: String,
    pub server_version_num: u32,
    pub pg_dump: PathBuf,
    pub pg_dump_version: String,
    /// Every table whose data the archive holds, with its rows in the dump's snapshot.
    pub tables: Vec<TableCount>,
    /// What the backup was taken for (`backup create`, `migrate apply`, ...).
    pub why: String,
}

impl Manifest {
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }
}

/// A backup the event log records.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// The event's id.
    pub event: i64,
    pub at: OffsetDateTime,
    pub manifest: Manifest,
}

/// The backups `store` records, oldest first (events whose detail is not a manifest are
/// left out).
pub(crate) async fn recorded(store: &mut StateStore) -> Result<Vec<Recorded>, StateError> {
    Ok(store
        .backup_events()
        .await?
        .into_iter()
        .filter_map(|event| {
            let manifest: Manifest = serde_json::from_str(event.detail.as_deref()?).ok()?;
            Some(Recorded {
                event: event.id,
                at: event.at,
                manifest,
            })
        })
        .collect())
}

/// `stagegate-<env>-20261202T161530.123Z.dump` (`-1`, `-2`, ... before `.dump` when that
/// name is taken).
pub(super) fn file_name(env: &str, at: OffsetDateTime, attempt: u32) -> String {
    let suffix = if attempt == 0 {
        String::new()
    } else {
        format!("-{attempt}")
    };
    format!(
        "{FILE_PREFIX}{env}-{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z{suffix}{FILE_SUFFIX}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Whether `file` has the name [`file_name`] gives a backup of `env`.
pub(super) fn is_own_file_name(env: &str, file: &str) -> bool {
    let Some(rest) = file
        .strip_prefix(FILE_PREFIX)
        .and_then(|r| r.strip_prefix(env))
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(FILE_SUFFIX))
    else {
        return false;
    };
    let bytes = rest.as_bytes();
    bytes.len() >= 20
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'.'
        && bytes[16..19].iter().all(u8::is_ascii_digit)
        && bytes[19] == b'Z'
        && (bytes.len() == 20
            || (bytes[20] == b'-'
                && bytes.len() > 21
                && bytes[21..].iter().all(u8::is_ascii_digit)))
}

/// Removes the oldest of this environment's backups in `dir` beyond `keep`: only files named
/// as stagegate names them that the event log records; the newest is always kept. Problems
/// are warnings: the backup just taken stands.
pub(super) async fn prune(
    store: &mut StateStore,
    env: &str,
    dir: &Path,
    config: &BackupConfig,
    progress: &dyn Progress,
) {
    let keep = usize::try_from(config.keep.max(1)).unwrap_or(usize::MAX);
    let recorded = match recorded(store).await {
        Ok(recorded) => recorded,
        Err(error) => {
            progress.warning(&format!("not pruning old backups of `{env}`: {error}"));
            return;
        }
    };
    // Newest first, each file once, only stagegate's own names in this directory.
    let mut seen = BTreeSet::new();
    let own: Vec<PathBuf> = recorded
        .iter()
        .rev()
        .filter(|r| r.manifest.dir == dir && is_own_file_name(env, &r.manifest.file))
        .filter(|r| seen.insert(r.manifest.file.clone()))
        .map(|r| r.manifest.path())
        .filter(|path| path.is_file())
        .collect();
    for path in own.into_iter().skip(keep) {
        match std::fs::remove_file(&path) {
            Ok(()) => {
                progress.note(&format!(
                    "pruned {} (keep = {})",
                    path.display(),
                    config.keep
                ));
            }
            Err(error) => progress.warning(&format!(
                "cannot remove old backup {}: {error}",
                path.display()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_file_names_are_recognised_and_nothing_else() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_692_130_123_000_000).unwrap();
        let name = file_name("prod-eu", at, 0);
        assert_eq!(name, "stagegate-prod-eu-20251202T161530.123Z.dump");
        assert!(is_own_file_name("prod-eu", &name));
        assert!(is_own_file_name("prod-eu", &file_name("prod-eu", at, 3)));
        assert!(!is_own_file_name("prod", &name), "another environment's");
        assert!(!is_own_file_name(
            "prod-eu",
            "stagegate-prod-eu-latest.dump"
        ));
        assert!(!is_own_file_name("prod-eu", "nightly.dump"));
        assert!(!is_own_file_name("prod-eu", &format!("{name}.bak")));
    }

    /// Pruning deletes only files with stagegate's own name, so each part of the name is
    /// checked on its own: a name wrong in one place only is never taken for a backup. (The
    /// mutants: any `&&` of `is_own_file_name` made `||`, `bytes.len() > 21` made `>=`.)
    #[test]
    fn a_name_wrong_in_one_place_is_not_an_own_file_name() {
        let own = |rest: &str| is_own_file_name("prod", &format!("stagegate-prod-{rest}.dump"));
        assert!(own("20251202T161530.123Z"));
        assert!(own("20251202T161530.123Z-3"));
        assert!(own("20251202T161530.123Z-12"));
        for wrong in [
            "20251202T161530.123",    // too short
            "2025120xT161530.123Z",   // the date
            "20251202x161530.123Z",   // the `T`
            "20251202T16153x.123Z",   // the time
            "20251202T161530x123Z",   // the `.`
            "20251202T161530.12xZ",   // the milliseconds
            "20251202T161530.123x",   // the `Z`
            "20251202T161530.123Z5",  // no `-` before the attempt
            "20251202T161530.123Z-",  // `-` and no attempt
            "20251202T161530.123Z-x", // an attempt that is not a number
            "20251202T161530.123Z-3x",
            "2025120xT161530.123Z-3",
            "20251202T161530.123x-3",
        ] {
            assert!(!own(wrong), "`{wrong}` taken for an own file name");
        }
    }

    #[test]
    fn labels_quote_what_needs_quoting() {
        let count = |schema: &str, table: &str| TableCount {
            schema: schema.into(),
            table: table.into(),
            rows: 0,
        };
        assert_eq!(count("public", "users").label(), "public.users");
        assert_eq!(count("shop", "Orders").label(), "shop.\"Orders\"");
        assert_eq!(count("public", "order").label(), "public.\"order\"");
    }
}
