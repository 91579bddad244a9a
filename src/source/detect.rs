//! Which layout a directory is in, from its entries.

use std::path::Path;

use super::SourceError;
use super::entry::ListingEntry;
use super::layout::{self, Layout};

/// Finds which layout a directory's entries are in, shown in any order; an empty directory
/// counts as sqlx. The result does not depend on the order: each layout is named by its
/// first entry in name order, and of the files that cannot be read the first in name order
/// is reported.
#[derive(Debug, Default)]
pub(super) struct Detector {
    /// Each layout seen, with its first entry name.
    found: Vec<(Layout, String)>,
    failed: Option<(String, SourceError)>,
}

impl Detector {
    pub(super) fn see(&mut self, entry: &ListingEntry) {
        let layout = match layout::detect(entry) {
            Ok(Some(layout)) => layout,
            Ok(None) => return,
            Err(error) => {
                if self
                    .failed
                    .as_ref()
                    .is_none_or(|(first, _)| entry.name < first.as_str())
                {
                    self.failed = Some((entry.name.to_string(), error));
                }
                return;
            }
        };
        match self.found.iter_mut().find(|(l, _)| *l == layout) {
            Some((_, first)) => {
                if entry.name < first.as_str() {
                    *first = entry.name.to_string();
                }
            }
            None => self.found.push((layout, entry.name.to_string())),
        }
    }

    pub(super) fn finish(mut self, dir: &Path) -> Result<Layout, SourceError> {
        if let Some((_, error)) = self.failed {
            return Err(error);
        }
        self.found.sort_by(|a, b| a.1.cmp(&b.1));
        match self.found.as_slice() {
            [] => Ok(Layout::Sqlx),
            [(layout, _)] => Ok(*layout),
            _ => Err(SourceError::AmbiguousLayout {
                dir: dir.to_path_buf(),
                found: self
                    .found
                    .iter()
                    .map(|(layout, name)| format!("{layout}: {name}"))
                    .collect(),
            }),
        }
    }
}
