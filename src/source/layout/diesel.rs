//! diesel: a directory `<version>_<name>/` (versions like `2021-02-02-153240`) holding
//! `up.sql`, an optional `down.sql` (and our `verify.sql`), and an optional
//! `metadata.toml` whose `run_in_transaction = false` runs the migration without a
//! transaction.

use std::path::Path;

use super::split_version_and_name;
use crate::regular_file::{self, Kind};
use crate::source::entry::{File, Item, ListingEntry, Role, Slot, io_error, push};
use crate::source::{Section, SourceError, read_text};

/// Reads a directory `2021-02-02-153240_create_users` (or `00000000000000_setup`) as its
/// version and name.
pub(in crate::source) fn split_dir(dir_name: &str) -> Option<(&str, &str)> {
    let (version, name) = split_version_and_name(dir_name)?;
    if version.contains(['.', '_']) {
        return None;
    }
    Some((version, name))
}

/// What an entry that is not a migration of this layout should be instead.
pub(super) const HINT: &str = "a directory <version>_<name>/ with up.sql";

/// True when a directory entry is a diesel migration: its name, and an `up.sql` in it.
pub(super) fn detect(entry: &ListingEntry) -> bool {
    split_dir(entry.name).is_some()
        && regular_file::kind(&entry.path().join("up.sql")).is_ok_and(|kind| kind.is_some())
}

/// Whether a diesel migration holds the file at `path`: a regular file is; nothing (or a
/// directory) is not; a link or a special file is refused.
fn holds(path: &Path) -> Result<bool, SourceError> {
    match regular_file::kind(path) {
        Ok(Some(Kind::File)) => Ok(true),
        Ok(None | Some(Kind::Dir)) => Ok(false),
        Ok(Some(Kind::Other(what))) => Err(io_error(path, regular_file::refusal(what))),
        Err(error) => Err(io_error(path, error)),
    }
}

/// Adds the scripts of a migration directory; false when the entry is not one.
pub(super) fn add(items: &mut Vec<Item>, entry: &ListingEntry) -> Result<bool, SourceError> {
    let Some((version, _)) = split_dir(entry.name) else {
        return Ok(false);
    };
    let path = entry.path();
    let up = path.join("up.sql");
    let down = path.join("down.sql");
    let verify = path.join("verify.sql");
    let no_transaction = no_transaction(&path.join("metadata.toml"))?;
    let slot = |file| Slot {
        entry: entry.index,
        file,
        section: Section::Whole,
        no_transaction,
    };
    if !holds(&up)? {
        if holds(&down)? {
            return Err(SourceError::DownWithoutUp {
                path: down,
                expected: up,
            });
        }
        return Ok(false);
    }
    push(items, Role::Up, version, slot(File::DieselUp));
    if holds(&down)? {
        push(items, Role::Down, version, slot(File::DieselDown));
    }
    if holds(&verify)? {
        push(items, Role::Verify, version, slot(File::DieselVerify));
    }
    Ok(true)
}

/// diesel's `metadata.toml` with `run_in_transaction = false`.
fn no_transaction(path: &Path) -> Result<bool, SourceError> {
    if !holds(path)? {
        return Ok(false);
    }
    let text = read_text(path)?;
    let table: toml::Table =
        text.parse()
            .map_err(|error: toml::de::Error| SourceError::Metadata {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
    match table.get("run_in_transaction") {
        None => Ok(false),
        Some(toml::Value::Boolean(run)) => Ok(!run),
        Some(other) => Err(SourceError::Metadata {
            path: path.to_path_buf(),
            message: format!("run_in_transaction must be true or false, found {other}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diesel_dirs() {
        assert_eq!(
            split_dir("2021-02-02-153240_create_users"),
            Some(("2021-02-02-153240", "create_users"))
        );
        assert!(split_dir("00000000000000_diesel_initial_setup").is_some());
        assert!(split_dir("helpers").is_none());
        assert!(split_dir("1.2_dotted").is_none());
    }
}
