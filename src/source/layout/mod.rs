//! The migration layouts: how each names its files, and what it reads from them. Each layout
//! is one module; this one dispatches on [`Layout`] to them.

pub(crate) mod alembic;
mod dbmate;
mod diesel;
mod flyway;
mod sqlx;

use serde::{Deserialize, Serialize};

use super::entry::{File, Item, ListingEntry, Role, Slot, push};
use super::{Section, SourceError, Version};
pub(super) use dbmate::sections as dbmate_sections;
pub(crate) use sqlx::autocommit_file_name;
pub(super) use sqlx::split_name as sqlx_split_name;

/// How a project names its migration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// <version>_<name>.up.sql and .down.sql, or <version>_<name>.sql (sqlx, golang-migrate)
    Sqlx,
    /// V<version>__<name>.sql and U<version>__<name>.sql
    Flyway,
    /// <version>_<name>/up.sql and down.sql, with an optional metadata.toml
    Diesel,
    /// <version>_<name>.sql with -- migrate:up and -- migrate:down sections
    Dbmate,
    /// alembic.ini and <script_location>/versions/*.py, ordered by the revision graph
    Alembic,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Sqlx => "sqlx",
            Layout::Flyway => "flyway",
            Layout::Diesel => "diesel",
            Layout::Dbmate => "dbmate",
            Layout::Alembic => "alembic",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A file name read as a migration script, its parts borrowed from the name: discovery
/// reads every name once per window, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NameParts<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub role: Role,
    /// True for `<version>_<name>.sql`, which is either an up-only sqlx file or a dbmate file.
    pub plain: bool,
}

/// `<version>_<name>` with a version of digits (or digits and dashes for diesel).
fn split_version_and_name(stem: &str) -> Option<(&str, &str)> {
    let (version, name) = stem.split_once('_')?;
    if name.is_empty() || !Version::is_valid(version) {
        return None;
    }
    Some((version, name))
}

/// True when `layout`'s migrations are directories (diesel), false when they are files.
pub(super) fn migrations_are_dirs(layout: Layout) -> bool {
    layout == Layout::Diesel
}

/// Where the version starts in a migration's entry name (after flyway's `V` or `U`).
pub(super) fn version_start(layout: Layout) -> usize {
    usize::from(layout == Layout::Flyway)
}

/// The version and descriptive name in an entry name the layout accepted.
pub(super) fn read_label(layout: Layout, name: &str) -> (Version, String) {
    let read = match layout {
        Layout::Sqlx | Layout::Dbmate => sqlx::split_name(name).map(|n| (n.version, n.name)),
        Layout::Flyway => flyway::split_name(name).map(|n| (n.version, n.name)),
        Layout::Diesel => diesel::split_dir(name),
        Layout::Alembic => None,
    };
    let (version, name) = read.expect("an entry name discovery accepted");
    let version = Version::parse(version).expect("a version discovery accepted");
    (version, name.to_string())
}

/// The part of a name that holds the version if `layout` reads the name as a migration's.
pub(super) fn version_prefix(layout: Layout, name: &str) -> Option<&str> {
    match layout {
        Layout::Flyway => flyway::version_prefix(name),
        _ => name.split_once('_').map(|(version, _)| version),
    }
}

/// Whether an entry of `kind` may be one of `layout`'s migrations: a directory for diesel, a
/// file otherwise; a link or a special file may (to be refused by [`add`] when it is named
/// as one).
pub(super) fn may_hold_migration(layout: Layout, kind: crate::regular_file::Kind) -> bool {
    use crate::regular_file::Kind;
    match kind {
        Kind::Other(_) => true,
        Kind::File | Kind::Dir => kind.is_dir() == migrations_are_dirs(layout),
    }
}

/// The version of an entry `layout` may read as a migration (before looking inside it), by
/// its name alone: a directory for diesel, a file otherwise. The entries [`add`] skips by
/// their name give `None`.
pub(super) fn name_version(layout: Layout, name: &str) -> Option<&str> {
    match layout {
        Layout::Diesel => diesel::split_dir(name).map(|(version, _)| version),
        Layout::Sqlx => sqlx::split_name(name).map(|named| named.version),
        Layout::Flyway => flyway::split_name(name).map(|named| named.version),
        Layout::Dbmate => dbmate::name_version(name),
        Layout::Alembic => None,
    }
}

/// Adds the scripts of one directory entry read as `layout`'s; false when the entry is not
/// a migration of that layout.
pub(super) fn add(
    layout: Layout,
    items: &mut Vec<Item>,
    entry: &ListingEntry,
) -> Result<bool, SourceError> {
    // A link or a special file named as a migration is refused, never followed.
    if name_version(layout, entry.name).is_some()
        && let Some(refused) = entry.refused()
    {
        return Err(refused);
    }
    match layout {
        Layout::Diesel => {
            if entry.is_dir() {
                diesel::add(items, entry)
            } else {
                Ok(false)
            }
        }
        Layout::Sqlx => {
            Ok(!entry.is_dir() && add_named(items, entry, sqlx::split_name(entry.name)))
        }
        Layout::Flyway => {
            Ok(!entry.is_dir() && add_named(items, entry, flyway::split_name(entry.name)))
        }
        Layout::Dbmate => {
            if entry.is_dir() {
                Ok(false)
            } else {
                dbmate::add(items, entry)
            }
        }
        // Alembic revisions are read as a graph, never name by name.
        Layout::Alembic => Ok(false),
    }
}

/// Adds a script whose file name says all about it (sqlx, flyway).
fn add_named(items: &mut Vec<Item>, entry: &ListingEntry, named: Option<NameParts>) -> bool {
    let Some(named) = named else { return false };
    push(
        items,
        named.role,
        named.version,
        Slot {
            entry: entry.index,
            file: File::Itself,
            section: Section::Whole,
            no_transaction: false,
        },
    );
    true
}

/// Why an entry `layout` skipped is not one of its migrations.
pub(super) fn not_a_migration(layout: Layout, name: &str) -> String {
    if layout == Layout::Flyway
        && let Some(why) = flyway::unsupported(name)
    {
        return why.to_string();
    }
    let hint = match layout {
        Layout::Sqlx => sqlx::HINT,
        Layout::Flyway => flyway::HINT,
        Layout::Diesel => diesel::HINT,
        Layout::Dbmate => dbmate::HINT,
        Layout::Alembic => "an Alembic revision file, <revision>_<slug>.py",
    };
    format!("not a {layout} migration ({hint})")
}

/// The layout a directory entry is a migration of, if any: a diesel directory, a flyway
/// name, or a sqlx name (dbmate when a file of up-only name has a `-- migrate:up` marker).
/// An entry named as a migration of any layout that is a link or a special file is refused.
pub(super) fn detect(entry: &ListingEntry) -> Result<Option<Layout>, SourceError> {
    if let Some(refused) = entry.refused() {
        let named = diesel::split_dir(entry.name).is_some()
            || flyway::split_name(entry.name).is_some()
            || sqlx::split_name(entry.name).is_some();
        return if named { Err(refused) } else { Ok(None) };
    }
    if entry.is_dir() {
        return Ok(diesel::detect(entry).then_some(Layout::Diesel));
    }
    if flyway::split_name(entry.name).is_some() {
        return Ok(Some(Layout::Flyway));
    }
    match sqlx::split_name(entry.name) {
        None => Ok(None),
        Some(named) if !named.plain => Ok(Some(Layout::Sqlx)),
        Some(_) if dbmate::has_marker(&entry.path())? => Ok(Some(Layout::Dbmate)),
        Some(_) => Ok(Some(Layout::Sqlx)),
    }
}
