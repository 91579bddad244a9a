//! A migrations directory as discovery read it, kept small ([`Listing`]): the entry names
//! in one buffer and, per migration in version order, which entries hold its scripts (about
//! 70 bytes per migration with its name); a [`Migration`] with its paths is built from it
//! when asked for. Also the directory reading itself: [`list`], [`open`], [`Entries`].

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::entry::{Item, ListingEntry, Ordered, Role, Slot, io_error};
use super::layout::{self, Layout};
use super::{Migration, MigrationSet, ScriptRef, SourceError, version};
use crate::regular_file::{self, Kind};

/// A migrations directory as discovery read it, kept small: the entry names in one buffer
/// and, for each migration in version order, which entries hold its scripts.
/// [`Listing::migration`] builds a full [`Migration`] (version, name, paths) on demand.
#[derive(Debug, Clone)]
pub struct Listing {
    pub dir: PathBuf,
    pub layout: Layout,
    /// Files that were not understood and were skipped.
    pub warnings: Vec<String>,
    /// Those of the skipped entries that the layout's runner ignores too (diesel: a file
    /// beside the migration directories): their warnings never fail `verify`.
    pub ignored: Vec<super::Ignored>,
    pub(super) entries: Entries,
    pub(super) groups: Vec<Group>,
}

impl Listing {
    /// Number of migrations.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The up script of the `index`th migration (in version order).
    pub fn up(&self, index: usize) -> ScriptRef {
        self.script(self.groups[index].up)
    }

    /// The `index`th migration (in version order), with its paths.
    pub fn migration(&self, index: usize) -> Migration {
        let group = &self.groups[index];
        let label = self.entries.name(group.up.entry);
        let (version, name) = layout::read_label(self.layout, label);
        Migration {
            version,
            name,
            up: self.script(group.up),
            down: group.down.map(|slot| self.script(slot)),
            verify: group.verify.map(|slot| self.script(slot)),
            ancestors: None,
            bookkeeping: None,
            down_error: None,
        }
    }

    /// Every migration, in version order, built one at a time.
    pub fn migrations(&self) -> impl Iterator<Item = Migration> + '_ {
        (0..self.len()).map(|index| self.migration(index))
    }

    /// The full [`MigrationSet`].
    pub fn into_set(self) -> MigrationSet {
        MigrationSet {
            migrations: self.migrations().collect(),
            dir: self.dir,
            layout: self.layout,
            warnings: self.warnings,
            ignored: self.ignored,
            alembic: None,
        }
    }

    pub(super) fn script(&self, slot: Slot) -> ScriptRef {
        let mut path = self.dir.join(self.entries.name(slot.entry));
        if let Some(file) = slot.file.diesel_name() {
            path.push(file);
        }
        let autocommit = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(layout::autocommit_file_name);
        ScriptRef {
            path,
            section: slot.section,
            layout_no_transaction: slot.no_transaction || autocommit,
            rendered: None,
        }
    }

    /// The version text of the migration an item belongs to.
    fn version_of(&self, item: &Item) -> &str {
        let start = layout::version_start(self.layout);
        &self.entries.name(item.slot.entry)[start..start + item.version_len as usize]
    }

    /// [`Listing::version_of`], ready to compare.
    fn ordered(&self, item: &Item) -> Ordered<'_> {
        Ordered {
            text: self.version_of(item).as_bytes(),
            number: item.number,
        }
    }

    /// Groups the scripts by version (checking for duplicates and orphans) into migrations
    /// in version order. `failed` is the error that stopped the scan, if any: as when the
    /// entries are read one by one, a duplicate met earlier is reported instead.
    pub(super) fn group(
        self,
        items: Vec<Item>,
        failed: Option<SourceError>,
    ) -> Result<Listing, SourceError> {
        let paired = self.pair(items);
        self.finish(paired, failed)
    }

    /// The listing with its migrations, or the error that comes first: a duplicate version,
    /// then the error that stopped the scan, then a script without an up script.
    pub(super) fn finish(
        mut self,
        paired: Paired,
        failed: Option<SourceError>,
    ) -> Result<Listing, SourceError> {
        if let Some((.., error)) = paired.duplicate {
            return Err(error);
        }
        if let Some(error) = failed {
            return Err(error);
        }
        if let Some((_, error)) = paired.orphan {
            return Err(error);
        }
        self.groups = paired.groups;
        self.groups.shrink_to_fit();
        Ok(self)
    }

    /// Groups the scripts by version into migrations in version order, noting the first
    /// duplicate (in reading order) and the script without an up script of the smallest
    /// version.
    pub(super) fn pair(&self, mut items: Vec<Item>) -> Paired {
        // Version order; equal versions by their canonical text (`1` before `1.0`), then in
        // the order the scripts were read.
        items.sort_unstable_by(|a, b| {
            self.ordered(a)
                .cmp(self.ordered(b))
                .then_with(|| a.read_order().cmp(&b.read_order()))
        });
        let versions = 1 + items
            .windows(2)
            .filter(|pair| self.ordered(&pair[0]).cmp(self.ordered(&pair[1])) != Ordering::Equal)
            .count();
        let mut duplicate: Option<(&Item, &Item)> = None;
        let mut orphan: Option<(String, Slot, Role)> = None;
        let mut groups = Vec::with_capacity(versions.min(items.len()));
        let mut rest = items.as_slice();
        while let Some(first) = rest.first() {
            let version = self.ordered(first);
            let len = rest
                .iter()
                .position(|item| self.ordered(item).cmp(version) != Ordering::Equal)
                .unwrap_or(rest.len());
            let (same, after) = rest.split_at(len);
            rest = after;
            let mut up: Option<&Item> = None;
            let mut down: Option<&Item> = None;
            let mut verify: Option<&Item> = None;
            for item in same {
                let slot = match item.role {
                    Role::Up => &mut up,
                    Role::Down => &mut down,
                    Role::Verify => &mut verify,
                };
                match slot {
                    Some(existing) => {
                        if duplicate
                            .is_none_or(|(_, second)| item.read_order() < second.read_order())
                        {
                            duplicate = Some((*existing, item));
                        }
                    }
                    None => *slot = Some(item),
                }
            }
            match up {
                Some(up) => groups.push(Group {
                    up: up.slot,
                    down: down.map(|item| item.slot),
                    verify: verify.map(|item| item.slot),
                }),
                None => {
                    let Some(lone) = down.or(verify) else {
                        continue;
                    };
                    let canonical = version::canonical_of(version.text());
                    if orphan.as_ref().is_none_or(|(c, ..)| canonical < *c) {
                        orphan = Some((canonical, lone.slot, lone.role));
                    }
                }
            }
        }
        let duplicate = duplicate.map(|(first, second)| {
            let error = SourceError::DuplicateVersion {
                version: self.version_of(second).to_string(),
                first: self.script(first.slot).path,
                second: self.script(second.slot).path,
            };
            (second.read_order(), error)
        });
        let orphan = orphan.map(|(canonical, slot, role)| {
            let path = self.script(slot).path;
            let error = if role == Role::Down {
                let expected = expected_up_path(&path);
                SourceError::DownWithoutUp { path, expected }
            } else {
                SourceError::VerifyWithoutUp { path }
            };
            (canonical, error)
        });
        Paired {
            groups,
            duplicate,
            orphan,
        }
    }
}

/// Scripts grouped into migrations, and what was wrong with them.
#[derive(Debug)]
pub(super) struct Paired {
    pub(super) groups: Vec<Group>,
    /// The first duplicate in reading order: where its second script was read, and the
    /// error.
    pub(super) duplicate: Option<((u32, u8), SourceError)>,
    /// The script without an up script of the smallest version: its canonical version and
    /// the error.
    pub(super) orphan: Option<(String, SourceError)>,
}

/// One migration: its scripts. The version and name are read from the up script's entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    pub(super) up: Slot,
    pub(super) down: Option<Slot>,
    pub(super) verify: Option<Slot>,
}

/// Entry names (hidden ones left out) in name order, in one buffer: a whole directory's for
/// [`scan_as`], one window's for [`Windows`].
#[derive(Debug, Clone, Default)]
pub(super) struct Entries {
    pub(super) text: String,
    /// End of each name in `text`.
    pub(super) ends: Vec<u32>,
    pub(super) kinds: Vec<Kind>,
}

impl Entries {
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn name(&self, index: u32) -> &str {
        let index = index as usize;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] as usize);
        &self.text[start..self.ends[index] as usize]
    }

    pub(super) fn push(&mut self, dir: &Path, name: &str, kind: Kind) -> Result<(), SourceError> {
        self.text.push_str(name);
        let end = u32::try_from(self.text.len())
            .map_err(|_| io_error(dir, std::io::Error::other("too many directory entries")))?;
        self.ends.push(end);
        self.kinds.push(kind);
        Ok(())
    }

    /// The same names, sorted.
    fn sorted(&self, dir: &Path) -> Result<Entries, SourceError> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_by(|&a, &b| self.name(a).cmp(self.name(b)));
        let mut sorted = Entries {
            text: String::with_capacity(self.text.len()),
            ends: Vec::with_capacity(order.len()),
            kinds: Vec::with_capacity(order.len()),
        };
        for index in order {
            sorted.push(dir, self.name(index), self.kinds[index as usize])?;
        }
        Ok(sorted)
    }

    pub(super) fn get<'a>(&'a self, dir: &'a Path, index: usize) -> ListingEntry<'a> {
        let name = self.name(index as u32);
        ListingEntry {
            index: index as u32,
            dir,
            name,
            kind: self.kinds[index],
        }
    }

    pub(super) fn iter<'a>(&'a self, dir: &'a Path) -> impl Iterator<Item = ListingEntry<'a>> + 'a {
        (0..self.len()).map(move |index| self.get(dir, index))
    }
}

/// Starts reading a directory's entries.
pub(super) fn open(dir: &Path) -> Result<std::fs::ReadDir, SourceError> {
    std::fs::read_dir(dir).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            SourceError::MissingDir {
                dir: dir.to_path_buf(),
            }
        } else {
            io_error(dir, error)
        }
    })
}

/// What an entry is: the directory entry knows its type without a stat, and a symbolic
/// link is never followed (see [`crate::regular_file`]).
pub(super) fn kind(entry: &std::fs::DirEntry) -> Kind {
    match entry.file_type() {
        Ok(file_type) => Kind::of(file_type),
        Err(_) => regular_file::kind(&entry.path())
            .ok()
            .flatten()
            .unwrap_or(Kind::Other("not a regular file")),
    }
}

/// The warning for an entry whose name is not UTF-8 (no layout's migration name can be, and
/// a lossy copy would name a file that does not exist).
pub(super) fn not_utf8_warning(entry: &std::fs::DirEntry) -> String {
    format!(
        "{}: skipped, the file name is not valid UTF-8",
        entry.path().display()
    )
}

/// The directory's entries, sorted by name, and a warning for each name that is not UTF-8.
pub(super) fn list(dir: &Path) -> Result<(Entries, Vec<String>), SourceError> {
    // Names in reading order, then sorted into a second buffer.
    let mut unsorted = Entries::default();
    let mut warnings = Vec::new();
    for item in open(dir)? {
        let item = item.map_err(|source| io_error(dir, source))?;
        let os_name = item.file_name();
        let Some(name) = os_name.to_str() else {
            warnings.push(not_utf8_warning(&item));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        unsorted.push(dir, name, kind(&item))?;
    }
    Ok((unsorted.sorted(dir)?, warnings))
}

/// The up file a down file would pair with, for the error message.
pub(super) fn expected_up_path(down: &Path) -> PathBuf {
    let name = down
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let up = if let Some(stem) = name.strip_suffix(".down.sql") {
        format!("{stem}.up.sql")
    } else if let Some(rest) = name.strip_prefix('U') {
        format!("V{rest}")
    } else if name == "down.sql" {
        "up.sql".to_string()
    } else {
        name
    };
    down.with_file_name(up)
}
