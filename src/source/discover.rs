//! Reading a migrations directory into a [`MigrationSet`], or into the compact [`Listing`]
//! that [`MigrationSet`] is built from ([`super::windows`] reads it window by window).
//! What is a migration is each layout's to say ([`super::layout`]); this module reads a
//! directory's entries as one layout's.

use std::path::Path;

use super::detect::Detector;
use super::entry::{Item, ListingEntry};
use super::layout::{self, Layout};
use super::listing::{Entries, Listing, list};
use super::{MigrationSet, SourceError};

/// Reads `dir`, detecting its layout.
pub fn discover(dir: &Path) -> Result<MigrationSet, SourceError> {
    discover_as(dir, None)
}

/// Reads `dir` as `layout`, or detects the layout when `None`.
///
/// A directory of an Alembic project (the one holding `alembic.ini`, or its script location
/// or versions directory) is read as one: its revisions in graph order, not yet rendered.
pub(crate) fn discover_as(dir: &Path, layout: Option<Layout>) -> Result<MigrationSet, SourceError> {
    if matches!(layout, None | Some(Layout::Alembic)) {
        match layout::alembic::find_project(dir)? {
            Some(project) => return layout::alembic::discover(&project),
            None if layout == Some(Layout::Alembic) => {
                return Err(SourceError::Alembic {
                    path: dir.to_path_buf(),
                    message: format!(
                        "{}: no {} here or above it naming this directory (the alembic layout \
                         reads an Alembic project: set [migrations] dir to the directory of \
                         its alembic.ini)",
                        dir.display(),
                        layout::alembic::INI_FILE
                    ),
                });
            }
            None => {}
        }
    }
    Ok(scan_as(dir, layout)?.into_set())
}

/// Reads `dir` as `layout` (detected when `None`) into a compact [`Listing`]: the same
/// migrations, checks and errors as [`discover_as`].
pub fn scan_as(dir: &Path, layout: Option<Layout>) -> Result<Listing, SourceError> {
    let (entries, unreadable_names) = list(dir)?;
    let layout = match layout {
        Some(layout) => layout,
        None => {
            let mut detector = Detector::default();
            for entry in entries.iter(dir) {
                detector.see(&entry);
            }
            detector.finish(dir)?
        }
    };
    let read = read_entries(dir, layout, &entries);
    let ignored: Vec<super::Ignored> = read
        .ignored
        .iter()
        .map(|(index, warning)| super::Ignored {
            name: entries.name(*index).to_string(),
            warning: warning.clone(),
        })
        .collect();
    // Every skipped entry is warned about, in name order; those the runner ignores too are
    // also kept apart.
    let mut skipped = read.warnings;
    skipped.extend(read.ignored);
    skipped.sort_by_key(|(index, _)| *index);
    let mut warnings = unreadable_names;
    warnings.extend(skipped.into_iter().map(|(_, warning)| warning));
    let listing = Listing {
        dir: dir.to_path_buf(),
        layout,
        groups: Vec::new(),
        warnings,
        ignored,
        entries,
    };
    listing.group(read.items, read.failed.map(|(_, error)| error))
}

/// Documentation and editor files next to migrations, and the runners' own files (dot
/// files such as diesel's `.diesel_lock` or `.gitkeep` never reach here), are not worth a
/// warning.
pub(super) fn is_ignorable(entry: &ListingEntry) -> bool {
    let lower = entry.name.to_ascii_lowercase();
    !entry.is_dir()
        && (lower.starts_with("readme")
            || lower.ends_with(".md")
            || lower.ends_with(".txt")
            || lower == "diesel.toml")
}

/// The warning for an entry `layout` skipped.
pub(super) fn unknown_entry_warning(entry: &ListingEntry, layout: Layout) -> String {
    if runner_ignores(entry, layout) {
        return format!(
            "{}: skipped, {layout} ignores it too (only directories are migrations); add it to \
             `ignore` under [migrations] in stagegate.toml to silence this",
            entry.path().display()
        );
    }
    format!(
        "{}: skipped, {}",
        entry.path().display(),
        layout::not_a_migration(layout, entry.name)
    )
}

/// True for an entry the layout's own runner ignores as well, so that stagegate skipping it
/// changes nothing: a file beside diesel's migration directories (a one-off data script).
pub(super) fn runner_ignores(entry: &ListingEntry, layout: Layout) -> bool {
    layout == Layout::Diesel && !entry.is_dir()
}

/// What reading entries found: the scripts in reading order, the entries skipped (with a
/// warning), and the error that stopped the reading (with its entry).
pub(super) struct Read {
    pub(super) items: Vec<Item>,
    pub(super) warnings: Vec<(u32, String)>,
    /// Skipped entries the runner ignores too ([`runner_ignores`]).
    pub(super) ignored: Vec<(u32, String)>,
    pub(super) failed: Option<(u32, SourceError)>,
}

/// Reads entries in name order as `layout`'s scripts, stopping at the first error.
pub(super) fn read_entries(dir: &Path, layout: Layout, entries: &Entries) -> Read {
    let mut items = Vec::with_capacity(entries.len());
    let mut warnings = Vec::new();
    let mut ignored = Vec::new();
    let mut failed = None;
    for index in 0..entries.len() {
        let entry = entries.get(dir, index);
        let added = layout::add(layout, &mut items, &entry);
        match added {
            Ok(true) => {}
            Ok(false) if is_ignorable(&entry) => {}
            Ok(false) if runner_ignores(&entry, layout) => {
                ignored.push((entry.index, unknown_entry_warning(&entry, layout)));
            }
            Ok(false) => warnings.push((entry.index, unknown_entry_warning(&entry, layout))),
            Err(error) => {
                failed = Some((entry.index, error));
                break;
            }
        }
    }
    Read {
        items,
        warnings,
        ignored,
        failed,
    }
}
