//! A migrations directory read window by window ([`Windows`]): successive listings of a
//! bounded number of migrations, in version order, so that `stagegate lint DIR` holds names
//! that do not grow with the number of migrations.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::detect::Detector;
use super::discover::{is_ignorable, read_entries, unknown_entry_warning};
use super::entry::{ListingEntry, Ordered, io_error};
use super::layout::{self, Layout};
use super::listing::{Entries, Listing, Paired, kind, not_utf8_warning, open};
use super::{ScriptRef, SourceError};
use crate::regular_file::Kind;

/// The window, in migrations, `stagegate lint DIR` (and its benchmark) reads a directory in.
///
/// Each window reads the whole directory again, and `lint` goes through the windows twice
/// (to check, then to lint) after one reading to detect the layout: `1 + 2 * files / window`
/// readings, about 8 ms each for 20,000 names (mostly the kernel's). A window takes at most
/// about 140 bytes per migration while it is read. Measured at 20,000 files, where linting
/// takes about 3 s: windows of 2,048 add about 175 ms to discovery (6 %), 4,096 about 90 ms
/// (3 %) and 8,192 about 50 ms (under 2 %), for peaks of about 0.26, 0.57 and 1.2 MB (the
/// whole listing: 2 MB). 4,096 is the smallest that stays within 3 % there; `cargo bench
/// --bench lint` with `STAGEGATE_BENCH_WINDOW` compares sizes.
pub const LINT_WINDOW: usize = 4_096;

/// Reads `dir` as `layout` (detected when `None`, once, here) as successive [`Listing`]s of
/// at most `window` migrations each (a `window` of 0 counts as 1), in version order.
///
/// Each window reads the directory again and keeps only the entries of the `window`
/// smallest versions after the previous window's, so memory follows `window`, not the
/// directory. Concatenated, the windows hold exactly the migrations of [`scan_as`], in the
/// same order, with the same paths, sections and no-transaction flags; all the scripts of
/// one version land in the same window. Iterating reports an error met in a window; use
/// [`Windows::check`] first to get [`scan_as`]'s error for the whole directory before
/// acting on any window.
pub fn scan_windows(
    dir: &Path,
    layout: Option<Layout>,
    window: usize,
) -> Result<Windows, SourceError> {
    let layout = match layout {
        Some(layout) => {
            open(dir)?;
            layout
        }
        None => {
            let mut detector = Detector::default();
            for entry in open(dir)? {
                let entry = entry.map_err(|source| io_error(dir, source))?;
                let os_name = entry.file_name();
                let Some(name) = os_name.to_str() else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                detector.see(&ListingEntry {
                    index: 0,
                    dir,
                    name,
                    kind: kind(&entry),
                });
            }
            detector.finish(dir)?
        }
    };
    Ok(Windows {
        dir: dir.to_path_buf(),
        layout,
        window: window.max(1),
        after: None,
        done: false,
    })
}

/// A migrations directory read window by window; see [`scan_windows`]. Each item is the
/// next window's [`Listing`]; iteration stops after the first error.
///
/// The first window also carries the warnings about entries that are not migrations
/// (whatever their place in version order); a diesel directory without scripts is warned
/// about in the window of its version. Each warning is given once.
#[derive(Debug)]
pub struct Windows {
    dir: PathBuf,
    layout: Layout,
    window: usize,
    /// The last version of the previous window.
    after: Option<Box<str>>,
    done: bool,
}

/// What [`Windows::check`] found in a directory without errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryCheck {
    /// The warnings [`scan_as`] gives, in the same order.
    pub warnings: Vec<String>,
    /// Number of migrations.
    pub migrations: usize,
}

impl Windows {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The layout, as given or detected.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Reads every window once, from the first, to check the whole directory, keeping no
    /// window: directory reads (and, for dbmate and diesel, the section markers and
    /// `metadata.toml` files), no script text. Gives the error [`scan_as`] gives, or its
    /// warnings. Does not move this iterator.
    pub fn check(&self) -> Result<DirectoryCheck, SourceError> {
        let mut after: Option<Box<str>> = None;
        let mut unreadable = Vec::new();
        let mut unknown: Vec<(Box<str>, String)> = Vec::new();
        let mut migrations = 0;
        // The first error that stops a reading in name order, the first duplicate in
        // reading order, and the orphan script of the smallest canonical version.
        let mut failed: Option<(Box<str>, SourceError)> = None;
        let mut duplicate: Option<((Box<str>, u8), SourceError)> = None;
        let mut orphan: Option<(String, SourceError)> = None;
        loop {
            let selected = select(&self.dir, self.layout, self.window, after.as_deref())?;
            let Selected {
                entries,
                last,
                more,
                unreadable: unreadable_names,
                unknown: unknown_entries,
            } = selected;
            let window = read_window(&self.dir, self.layout, entries);
            if let Some((index, _)) = &window.failed {
                let name = window.listing.entries.name(*index);
                if failed.as_ref().is_none_or(|(first, _)| name < &**first) {
                    failed = window.failed.map(|(_, error)| (name.into(), error));
                }
            }
            if let Some(((entry, role), error)) = window.paired.duplicate {
                let key = (window.listing.entries.name(entry).into(), role);
                if duplicate.as_ref().is_none_or(|(first, _)| key < *first) {
                    duplicate = Some((key, error));
                }
            }
            if let Some((canonical, error)) = window.paired.orphan
                && orphan.as_ref().is_none_or(|(first, _)| canonical < *first)
            {
                orphan = Some((canonical, error));
            }
            migrations += window.paired.groups.len();
            unreadable.extend(unreadable_names);
            unknown.extend(unknown_entries);
            unknown.extend(window.warnings);
            if !more {
                break;
            }
            after = last;
        }
        if let Some((name, error)) = failed {
            // As in `scan_as`, a duplicate whose scripts both come before the failing entry
            // (in name order) is reported instead. A version keeps its first script in name
            // order, so such a duplicate, if any, is the first one found in all windows.
            return Err(match duplicate {
                Some(((second, _), duplicate)) if second < name => duplicate,
                _ => error,
            });
        }
        if let Some((_, error)) = duplicate {
            return Err(error);
        }
        if let Some((_, error)) = orphan {
            return Err(error);
        }
        unknown.sort_by(|a, b| a.0.cmp(&b.0));
        unreadable.extend(unknown.into_iter().map(|(_, warning)| warning));
        Ok(DirectoryCheck {
            warnings: unreadable,
            migrations,
        })
    }

    /// The up scripts of every window, in version order, one window in memory at a time.
    pub fn ups(self) -> impl Iterator<Item = Result<ScriptRef, SourceError>> {
        self.flat_map(|window| -> Box<dyn Iterator<Item = _>> {
            match window {
                Ok(listing) => Box::new((0..listing.len()).map(move |index| Ok(listing.up(index)))),
                Err(error) => Box::new(std::iter::once(Err(error))),
            }
        })
    }
}

impl Iterator for Windows {
    type Item = Result<Listing, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let first = self.after.is_none();
        let selected = match select(&self.dir, self.layout, self.window, self.after.as_deref()) {
            Ok(selected) => selected,
            Err(error) => {
                self.done = true;
                return Some(Err(error));
            }
        };
        self.done = !selected.more;
        if !first && selected.entries.len() == 0 {
            // The directory changed since the previous window.
            self.done = true;
            return None;
        }
        self.after = selected.last;
        let mut warnings = selected.unknown;
        let window = read_window(&self.dir, self.layout, selected.entries);
        warnings.extend(window.warnings);
        warnings.sort_by(|a, b| a.0.cmp(&b.0));
        let mut listing = window.listing;
        listing.warnings = selected.unreadable;
        listing
            .warnings
            .extend(warnings.into_iter().map(|(_, warning)| warning));
        let result = listing.finish(window.paired, window.failed.map(|(_, error)| error));
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

/// The entries one reading of the directory keeps for its window, their names in one
/// buffer. When the list grows by half (and past the window), it is trimmed in place to the
/// scripts of the window's smallest versions, so it holds at most about one and a half
/// windows of names.
#[derive(Debug, Default)]
struct Candidates {
    /// The names, whole, one after the other: UTF-8.
    text: Vec<u8>,
    list: Vec<Candidate>,
    /// Versions after this one no longer fit in the window (set by the first trim that
    /// drops a version), with its [`Ordered::number`].
    bound: Option<(Box<str>, u64)>,
    /// The length of `list` that triggers the next trim.
    limit: usize,
}

/// An entry kept for a window: its name in [`Candidates::text`] and its version, a part of
/// the name.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    start: u32,
    len: u16,
    version_start: u16,
    version_len: u16,
    kind: Kind,
    /// [`Ordered::number`] of the version.
    number: u64,
}

impl Candidate {
    fn name(self, text: &[u8]) -> &[u8] {
        let start = self.start as usize;
        &text[start..start + usize::from(self.len)]
    }

    fn version(self, text: &[u8]) -> Ordered<'_> {
        let start = self.start as usize + usize::from(self.version_start);
        Ordered {
            text: &text[start..start + usize::from(self.version_len)],
            number: self.number,
        }
    }
}

impl Candidates {
    /// True when `version` may still belong to the window.
    fn fits(&self, version: Ordered) -> bool {
        self.bound.as_ref().is_none_or(|(text, number)| {
            let bound = Ordered {
                text: text.as_bytes(),
                number: *number,
            };
            version.cmp(bound) != Ordering::Greater
        })
    }

    /// Keeps an entry whose name holds `version`; true when the list was trimmed, dropping
    /// versions.
    fn push(
        &mut self,
        dir: &Path,
        name: &str,
        version: Ordered,
        kind: Kind,
        window: usize,
    ) -> Result<bool, SourceError> {
        let too_long = || io_error(dir, std::io::Error::other("directory entry name too long"));
        // `version` is a part of `name`.
        let version_start = version.text.as_ptr() as usize - name.as_ptr() as usize;
        let candidate = Candidate {
            start: u32::try_from(self.text.len()).map_err(|_| too_long())?,
            len: u16::try_from(name.len()).map_err(|_| too_long())?,
            version_start: u16::try_from(version_start).map_err(|_| too_long())?,
            version_len: u16::try_from(version.text.len()).map_err(|_| too_long())?,
            kind,
            number: version.number,
        };
        let limit = self.limit.max(window.saturating_add(window / 2));
        // Grow by half, not twice (and the list not much past the next trim).
        if self.list.len() == self.list.capacity() {
            let room = limit.saturating_sub(self.list.len()).max(16);
            self.list
                .reserve_exact((self.list.len() / 2).clamp(16, room));
        }
        if self.text.capacity() - self.text.len() < name.len() {
            self.text
                .reserve_exact(name.len().max(self.text.len() / 2).max(1024));
        }
        self.list.push(candidate);
        self.text.extend_from_slice(name.as_bytes());
        if self.list.len() < limit {
            return Ok(false);
        }
        Ok(self.trim(window))
    }

    /// Keeps the scripts of the `window` smallest versions, in version order; true when
    /// versions were dropped.
    fn trim(&mut self, window: usize) -> bool {
        let text = &self.text;
        self.list
            .sort_unstable_by(|a, b| a.version(text).cmp(b.version(text)));
        let mut versions = 0;
        let mut keep = self.list.len();
        for (index, candidate) in self.list.iter().enumerate() {
            let new_version = index == 0
                || self.list[index - 1]
                    .version(text)
                    .cmp(candidate.version(text))
                    != Ordering::Equal;
            if new_version {
                versions += 1;
                if versions > window {
                    keep = index;
                    break;
                }
            }
        }
        let dropped = keep < self.list.len();
        self.limit = keep.saturating_add(keep / 2);
        if dropped {
            self.list.truncate(keep);
            if let Some(last) = self.list.last() {
                let version = last.version(text);
                self.bound = Some((version.text().into(), version.number));
            }
            // Move the names kept to the front of the buffer, in buffer order, so that
            // each moves back or stays; the list stays in version order, which makes the
            // next trim's sort cheap.
            let mut order: Vec<u32> = (0..keep as u32).collect();
            order.sort_unstable_by_key(|&index| self.list[index as usize].start);
            let mut end = 0;
            for index in order {
                let candidate = &mut self.list[index as usize];
                let start = candidate.start as usize;
                let len = usize::from(candidate.len);
                self.text.copy_within(start..start + len, end);
                // Not past where the name was, so it fits.
                candidate.start = end as u32;
                end += len;
            }
            self.text.truncate(end);
        }
        dropped
    }

    /// The largest version kept.
    fn last(&self) -> Option<Ordered<'_>> {
        self.list
            .iter()
            .map(|candidate| candidate.version(&self.text))
            .max_by(|a, b| a.cmp(*b))
    }
}

/// One reading of the directory for a window.
#[derive(Debug)]
struct Selected {
    /// The window's entries, in name order.
    entries: Entries,
    /// The window's last version.
    last: Option<Box<str>>,
    /// True when versions after `last` remain.
    more: bool,
    /// Warnings about names that are not UTF-8 (first window only).
    unreadable: Vec<String>,
    /// Warnings about entries skipped by their name, with the name (first window only).
    unknown: Vec<(Box<str>, String)>,
}

/// Reads `dir` for the window after version `after` (the first window when `None`): the
/// entries of the `window` smallest versions after it. The first window also warns about
/// the entries no window takes.
fn select(
    dir: &Path,
    layout: Layout,
    window: usize,
    after: Option<&str>,
) -> Result<Selected, SourceError> {
    let first = after.is_none();
    let after = after.map(Ordered::new);
    let mut candidates = Candidates::default();
    let mut more = false;
    let mut unreadable = Vec::new();
    let mut unknown = Vec::new();
    for item in open(dir)? {
        let item = item.map_err(|source| io_error(dir, source))?;
        let os_name = item.file_name();
        let Some(name) = os_name.to_str() else {
            if first {
                unreadable.push(not_utf8_warning(&item));
            }
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        // Every reading looks at every name, and later ones keep few: they compare the
        // part of the name a version would be before reading the name whole.
        if let Some(after) = after {
            let Some(prefix) = layout::version_prefix(layout, name).map(Ordered::new) else {
                continue;
            };
            if prefix.cmp(after) != Ordering::Greater {
                continue;
            }
            if !candidates.fits(prefix) {
                more = more
                    || layout::name_version(layout, name).is_some()
                        && layout::may_hold_migration(layout, kind(&item));
                continue;
            }
        }
        // The version, when the name is a migration's (for later readings, after `after`).
        let version = layout::name_version(layout, name).map(Ordered::new);
        if version.is_none() && !first {
            continue;
        }
        let kind = kind(&item);
        let Some(version) = version.filter(|_| layout::may_hold_migration(layout, kind)) else {
            // Not a migration: the first reading warns about it.
            if first {
                let entry = ListingEntry {
                    index: 0,
                    dir,
                    name,
                    kind,
                };
                if !is_ignorable(&entry) {
                    unknown.push((name.into(), unknown_entry_warning(&entry, layout)));
                }
            }
            continue;
        };
        if !candidates.fits(version) {
            more = true;
            continue;
        }
        more |= candidates.push(dir, name, version, kind, window)?;
    }
    more |= candidates.trim(window);
    let last = candidates.last().map(|last| last.text().into());
    let text = &candidates.text;
    candidates
        .list
        .sort_unstable_by(|a, b| a.name(text).cmp(b.name(text)));
    let mut entries = Entries {
        text: String::with_capacity(candidates.list.iter().map(|c| usize::from(c.len)).sum()),
        ends: Vec::with_capacity(candidates.list.len()),
        kinds: Vec::with_capacity(candidates.list.len()),
    };
    for candidate in &candidates.list {
        // A whole name, pushed from a `str`.
        let name = std::str::from_utf8(candidate.name(text)).unwrap_or_default();
        entries.push(dir, name, candidate.kind)?;
    }
    drop(candidates);
    Ok(Selected {
        entries,
        last,
        more,
        unreadable,
        unknown,
    })
}

/// One window read: its listing (without migrations yet), its scripts grouped, the
/// warnings about its entries (with their names), and the error that stopped the reading
/// (with its entry).
struct Window {
    listing: Listing,
    paired: Paired,
    warnings: Vec<(Box<str>, String)>,
    failed: Option<(u32, SourceError)>,
}

fn read_window(dir: &Path, layout: Layout, entries: Entries) -> Window {
    let read = read_entries(dir, layout, &entries);
    // Read window by window (lint), an entry the runner ignores too is one more warning.
    let warnings = read
        .warnings
        .into_iter()
        .chain(read.ignored)
        .map(|(index, warning)| (entries.name(index).into(), warning))
        .collect();
    let listing = Listing {
        dir: dir.to_path_buf(),
        layout,
        warnings: Vec::new(),
        ignored: Vec::new(),
        entries,
        groups: Vec::new(),
    };
    let paired = listing.pair(read.items);
    Window {
        listing,
        paired,
        warnings,
        failed: read.failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Section, scan_as};

    /// A migration as the windows and the listing must agree on it.
    type ListedMigration = (
        String,
        String,
        ScriptRef,
        Option<ScriptRef>,
        Option<ScriptRef>,
    );

    fn rows(listing: &Listing) -> Vec<ListedMigration> {
        listing
            .migrations()
            .map(|m| (m.version.to_string(), m.name, m.up, m.down, m.verify))
            .collect()
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    fn files(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            write(dir.path(), name, "SELECT 1;\n");
        }
        dir
    }

    /// Window sizes worth trying on a directory of `n` migrations.
    fn sizes(n: usize) -> impl Iterator<Item = usize> {
        (1..=n + 1).chain([10_000, usize::MAX])
    }

    /// Checks the windows of `dir`, for every window size, against [`scan_as`]: the same
    /// migrations in the same order, windows of at most their size (in migrations and in
    /// scripts) and no more windows than needed, each warning once. Returns the listing.
    fn assert_windows_match(dir: &Path, layout: Option<Layout>) -> Listing {
        let listing = scan_as(dir, layout).unwrap_or_else(|e| panic!("{e}"));
        let expected = rows(&listing);
        assert!(!expected.is_empty());
        let mut all_warnings = listing.warnings.clone();
        all_warnings.sort();
        for size in sizes(expected.len()) {
            let windows = scan_windows(dir, layout, size).unwrap();
            assert_eq!(windows.layout(), listing.layout);
            let checked = windows.check().unwrap();
            assert_eq!(checked.warnings, listing.warnings, "window {size}");
            assert_eq!(checked.migrations, expected.len(), "window {size}");
            let (mut got, mut warnings, mut count) = (Vec::new(), Vec::new(), 0);
            for window in windows {
                let window = window.unwrap();
                assert!(window.len() <= size, "window {size}: {}", window.len());
                assert!(
                    window.entries.len() <= size.saturating_mul(3),
                    "window {size}"
                );
                assert!(count == 0 || !window.is_empty(), "window {size}");
                count += 1;
                got.extend(rows(&window));
                warnings.extend(window.warnings);
            }
            assert_eq!(count, expected.len().div_ceil(size), "window {size}");
            assert_eq!(got, expected, "window {size}");
            warnings.sort();
            assert_eq!(warnings, all_warnings, "window {size}");
        }
        listing
    }

    /// Checks that [`Windows::check`] gives [`scan_as`]'s error for every window size, and
    /// that iterating the windows ends with one error. Returns the error.
    fn assert_same_error(dir: &Path, layout: Option<Layout>, migrations: usize) -> String {
        let expected = match scan_as(dir, layout) {
            Ok(listing) => panic!("accepted: {listing:?}"),
            Err(error) => error.to_string(),
        };
        for size in sizes(migrations) {
            let checked = scan_windows(dir, layout, size).and_then(|windows| windows.check());
            match checked {
                Ok(checked) => panic!("window {size}: accepted: {checked:?}"),
                Err(error) => assert_eq!(error.to_string(), expected, "window {size}"),
            }
            let results: Vec<_> = scan_windows(dir, layout, size).unwrap().collect();
            assert!(
                results.last().is_some_and(Result::is_err)
                    && results.iter().filter(|r| r.is_err()).count() == 1,
                "window {size}: {results:?}"
            );
        }
        expected
    }

    fn versions(listing: &Listing) -> Vec<String> {
        listing
            .migrations()
            .map(|m| m.version.to_string())
            .collect()
    }

    #[test]
    fn sqlx_windows_follow_version_order_not_name_order() {
        let dir = files(&[
            "9_nine.up.sql",
            "9_nine.down.sql",
            "10_ten.up.sql",
            "10_ten.verify.sql",
            "0011_eleven.up.sql",
            "011_eleven.down.sql",
            "100_hundred.sql",
            "2_two.up.sql",
            "1_one.up.sql",
            "README.md",
            ".keep",
        ]);
        let listing = assert_windows_match(dir.path(), None);
        assert_eq!(versions(&listing), ["1", "2", "9", "10", "0011", "100"]);
        let eleven = listing.migration(4);
        assert!(eleven.down.unwrap().path.ends_with("011_eleven.down.sql"));
    }

    #[test]
    fn flyway_windows_follow_version_parts() {
        let dir = files(&[
            "V1__one.sql",
            "V1.0__one_zero.sql",
            "V1.9__nine.sql",
            "V1.10__ten.sql",
            "U1.10__ten.sql",
            "V1_1__one_one.sql",
            "U1.1__one_one.sql",
            "V1.1__one_one.verify.sql",
            "V01.2__one_two.sql",
            "V2__two.sql",
            "V10__ten.sql",
        ]);
        let listing = assert_windows_match(dir.path(), None);
        assert_eq!(listing.layout, Layout::Flyway);
        assert_eq!(
            versions(&listing),
            ["1", "1.0", "1_1", "01.2", "1.9", "1.10", "2", "10"]
        );
        let one_one = listing.migration(2);
        assert!(one_one.down.is_some() && one_one.verify.is_some());
    }

    #[test]
    fn diesel_windows_keep_paths_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "2024-01-05-093000_users",
            "20240105093001_orders",
            "00000000000000_setup",
            "2023-12-31-235959_old",
        ] {
            write(dir.path(), &format!("{name}/up.sql"), "SELECT 1;\n");
        }
        write(
            dir.path(),
            "2024-01-05-093000_users/down.sql",
            "SELECT 2;\n",
        );
        write(
            dir.path(),
            "2024-01-05-093000_users/metadata.toml",
            "run_in_transaction = false\n",
        );
        write(
            dir.path(),
            "20240105093001_orders/verify.sql",
            "SELECT 3;\n",
        );
        write(dir.path(), "notes.txt", "ignored\n");
        let listing = assert_windows_match(dir.path(), None);
        assert_eq!(listing.layout, Layout::Diesel);
        assert_eq!(
            versions(&listing),
            [
                "00000000000000",
                "2023-12-31-235959",
                "2024-01-05-093000",
                "20240105093001"
            ]
        );
        let users = listing.migration(2);
        assert!(users.up.layout_no_transaction && users.down.is_some());
        assert!(listing.migration(3).verify.is_some());
    }

    #[test]
    fn dbmate_windows_keep_sections() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "9_a.sql",
            "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n",
        );
        write(
            dir.path(),
            "10_b.sql",
            "-- migrate:up transaction:false\nSELECT 1;\n",
        );
        write(dir.path(), "1_c.sql", "-- migrate:up\nSELECT 1;\n");
        let listing = assert_windows_match(dir.path(), None);
        assert_eq!(listing.layout, Layout::Dbmate);
        assert_eq!(versions(&listing), ["1", "9", "10"]);
        let ten = listing.migration(2);
        assert!(ten.up.layout_no_transaction && ten.up.section == Section::DbmateUp);
        assert_eq!(
            listing.migration(1).down.unwrap().section,
            Section::DbmateDown
        );
    }

    #[test]
    fn a_window_holds_its_size_of_many_migrations() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..40 {
            for kind in ["up", "down", "verify"] {
                write(dir.path(), &format!("{n}_m{n}.{kind}.sql"), "SELECT 1;\n");
            }
        }
        let windows: Vec<Listing> = scan_windows(dir.path(), None, 4)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(windows.len(), 10);
        for window in &windows {
            assert_eq!((window.len(), window.entries.len()), (4, 12));
        }
        let all: Vec<String> = windows.iter().flat_map(versions).collect();
        assert_eq!(all, (0..40).map(|n| n.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_duplicate_in_name_order_wins_across_windows() {
        // Version 10's second script comes first in name order, version 5's first in
        // version order.
        let dir = files(&["10_a.up.sql", "10_b.up.sql", "5_a.up.sql", "5_b.up.sql"]);
        let error = assert_same_error(dir.path(), None, 2);
        assert!(
            error.starts_with("duplicate version 10:") && error.ends_with("10_b.up.sql"),
            "{error}"
        );
    }

    #[test]
    fn a_duplicate_beats_an_orphan_of_an_earlier_window() {
        let dir = files(&["1_a.down.sql", "2_a.up.sql", "2_b.up.sql", "3_c.up.sql"]);
        let error = assert_same_error(dir.path(), None, 3);
        assert!(error.starts_with("duplicate version 2:"), "{error}");
    }

    #[test]
    fn the_orphan_of_the_smallest_canonical_version_wins_across_windows() {
        // Canonical versions compare as text: "10" before "9".
        let dir = files(&["9_a.down.sql", "10_b.verify.sql", "11_c.up.sql"]);
        let error = assert_same_error(dir.path(), None, 3);
        assert!(
            error.ends_with("10_b.verify.sql: verify script without an up script"),
            "{error}"
        );
    }

    fn dbmate(names: &[&str], broken: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            write(dir.path(), name, "-- migrate:up\nSELECT 1;\n");
        }
        for name in broken {
            write(dir.path(), name, "SELECT 1;\n");
        }
        dir
    }

    #[test]
    fn a_failure_before_a_duplicate_in_name_order_wins() {
        // Name order: 05_b, 1_bad, 5_a: the duplicate's second script comes after the
        // failing file, so reading stops before it.
        let dir = dbmate(&["05_b.sql", "5_a.sql", "20_c.sql"], &["1_bad.sql"]);
        let error = assert_same_error(dir.path(), Some(Layout::Dbmate), 3);
        assert!(error.ends_with("1_bad.sql: no `-- migrate:up` section (dbmate layout)"));
        // Name order: 05_b, 5_a, 9_bad: the duplicate is read first.
        let dir = dbmate(&["05_b.sql", "5_a.sql", "20_c.sql"], &["9_bad.sql"]);
        let error = assert_same_error(dir.path(), Some(Layout::Dbmate), 3);
        assert!(error.starts_with("duplicate version 5:"), "{error}");
    }

    #[test]
    fn the_first_failure_in_name_order_wins_across_windows() {
        let dir = dbmate(&["1_a.sql", "3_c.sql"], &["2_bad.sql", "10_bad.sql"]);
        let error = assert_same_error(dir.path(), Some(Layout::Dbmate), 4);
        assert!(error.contains("10_bad.sql: no `-- migrate:up`"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "2024-01-01-000000_a/up.sql", "SELECT 1;\n");
        write(dir.path(), "2024-01-03-000000_c/down.sql", "SELECT 1;\n");
        write(dir.path(), "2024-01-02-000000_b/up.sql", "SELECT 1;\n");
        write(
            dir.path(),
            "2024-01-02-000000_b/metadata.toml",
            "run_in_transaction = 1\n",
        );
        let error = assert_same_error(dir.path(), None, 3);
        assert!(
            error.contains("2024-01-02-000000_b/metadata.toml: run_in_transaction must be"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn warnings_come_once_whatever_the_window() {
        use std::os::unix::ffi::OsStrExt;
        let dir = files(&[
            "1_a.up.sql",
            "2_b.up.sql",
            "3_c.up.sql",
            "notes.sql",
            "0002_x.up.sq",
            "README.md",
            "sub/0004_d.up.sql",
            "0006_dir.up.sql/0007_e.up.sql",
        ]);
        let latin1 = std::ffi::OsStr::from_bytes(b"0005_caf\xe9.up.sql");
        std::fs::write(dir.path().join(latin1), "SELECT 1;\n").unwrap();
        let listing = assert_windows_match(dir.path(), None);
        assert_eq!(listing.warnings.len(), 5, "{:?}", listing.warnings);
        assert!(listing.warnings[0].ends_with("the file name is not valid UTF-8"));
        // All five are about entries no window takes: the first window carries them.
        let first = scan_windows(dir.path(), None, 1).unwrap().next().unwrap();
        assert_eq!(first.unwrap().warnings, listing.warnings);
    }

    #[test]
    fn a_diesel_directory_without_scripts_is_warned_about_in_its_window() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["2024-01-01-000000_a", "2024-01-03-000000_c"] {
            write(dir.path(), &format!("{name}/up.sql"), "SELECT 1;\n");
        }
        std::fs::create_dir(dir.path().join("2024-01-02-000000_empty")).unwrap();
        std::fs::create_dir(dir.path().join("helpers")).unwrap();
        write(dir.path(), "schema.sql", "SELECT 1;\n");
        let listing = scan_as(dir.path(), None).unwrap();
        assert_eq!(listing.len(), 2);
        assert_eq!(listing.warnings.len(), 3, "{:?}", listing.warnings);
        for size in sizes(3) {
            let windows = scan_windows(dir.path(), None, size).unwrap();
            assert_eq!(windows.check().unwrap().warnings, listing.warnings);
            let windows: Vec<Listing> = windows.map(Result::unwrap).collect();
            let got: Vec<ListedMigration> = windows.iter().flat_map(rows).collect();
            assert_eq!(got, rows(&listing), "window {size}");
            let mut warnings: Vec<String> = windows.into_iter().flat_map(|w| w.warnings).collect();
            warnings.sort();
            let mut expected = listing.warnings.clone();
            expected.sort();
            assert_eq!(warnings, expected, "window {size}");
        }
        // With a window of 1, the empty directory's version has a window of its own.
        let windows: Vec<Listing> = scan_windows(dir.path(), None, 1)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(windows.len(), 3);
        assert!(windows[1].is_empty());
        assert!(windows[1].warnings[0].contains("2024-01-02-000000_empty: skipped"));
    }

    #[test]
    fn an_empty_directory_is_one_empty_window() {
        let dir = tempfile::tempdir().unwrap();
        let windows = scan_windows(dir.path(), None, 3).unwrap();
        assert_eq!(windows.layout(), Layout::Sqlx);
        assert_eq!(
            windows.check().unwrap(),
            DirectoryCheck {
                warnings: Vec::new(),
                migrations: 0
            }
        );
        let windows: Vec<_> = windows.map(Result::unwrap).collect();
        assert_eq!(windows.len(), 1);
        assert!(windows[0].is_empty());
    }

    #[test]
    fn a_missing_directory_is_named_with_or_without_a_layout() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        for layout in [None, Some(Layout::Flyway)] {
            let error = scan_windows(&missing, layout, 8).unwrap_err();
            assert!(matches!(error, SourceError::MissingDir { .. }), "{error}");
        }
    }

    #[test]
    fn the_layout_is_detected_by_first_names_whatever_the_reading_order() {
        let dir = files(&["0001_a.up.sql", "0002_b.up.sql", "V2__c.sql", "V1__d.sql"]);
        let expected = scan_as(dir.path(), None).unwrap_err().to_string();
        assert!(
            expected.contains("(sqlx: 0001_a.up.sql, flyway: V1__d.sql)"),
            "{expected}"
        );
        let error = scan_windows(dir.path(), None, 2).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
}
