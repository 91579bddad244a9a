//! Reading a migrations directory into a [`MigrationSet`], or into the compact [`Listing`]
//! that [`MigrationSet`] is built from.
//!
//! A [`Listing`] keeps the directory's entry names in one buffer and, per migration, which
//! entries hold its scripts (about 70 bytes per migration with its name); a [`Migration`]
//! with its paths is built from it when asked for. `stagegate lint DIR` walks a listing, so
//! it never holds every migration's paths at once.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::layout::{self, Layout, Named, Role};
use super::version;
use super::{Migration, MigrationSet, ScriptRef, Section, SourceError, Version, read_text};

/// Reads `dir`, detecting its layout.
pub fn discover(dir: &Path) -> Result<MigrationSet, SourceError> {
    discover_as(dir, None)
}

/// Reads `dir` as `layout`, or detects the layout when `None`.
pub fn discover_as(dir: &Path, layout: Option<Layout>) -> Result<MigrationSet, SourceError> {
    Ok(scan_as(dir, layout)?.into_set())
}

/// Reads `dir` as `layout` (detected when `None`) into a compact [`Listing`]: the same
/// migrations, checks and errors as [`discover_as`].
pub fn scan_as(dir: &Path, layout: Option<Layout>) -> Result<Listing, SourceError> {
    let (entries, unreadable_names) = list(dir)?;
    let layout = match layout {
        Some(layout) => layout,
        None => detect(dir, &entries)?,
    };
    let mut items = Vec::new();
    let mut warnings = unreadable_names;
    let mut failed = None;
    for index in 0..entries.len() {
        let entry = entries.get(dir, index);
        let added =
            match layout {
                Layout::Diesel => {
                    if entry.is_dir {
                        add_diesel(&mut items, &entry)
                    } else {
                        Ok(false)
                    }
                }
                Layout::Sqlx => Ok(!entry.is_dir
                    && add_named(&mut items, &entry, layout::read_sqlx_name(entry.name))),
                Layout::Flyway => Ok(!entry.is_dir
                    && add_named(&mut items, &entry, layout::read_flyway_name(entry.name))),
                Layout::Dbmate => {
                    if entry.is_dir {
                        Ok(false)
                    } else {
                        add_dbmate(&mut items, &entry)
                    }
                }
            };
        match added {
            Ok(true) => {}
            Ok(false) if is_ignorable(&entry) => {}
            Ok(false) => warnings.push(unknown_entry_warning(&entry, layout)),
            Err(error) => {
                failed = Some(error);
                break;
            }
        }
    }
    let listing = Listing {
        dir: dir.to_path_buf(),
        layout,
        groups: Vec::new(),
        warnings,
        entries,
    };
    listing.group(items, failed)
}

/// A migrations directory as discovery read it, kept small: the entry names in one buffer
/// and, for each migration in version order, which entries hold its scripts.
/// [`Listing::migration`] builds a full [`Migration`] (version, name, paths) on demand.
#[derive(Debug, Clone)]
pub struct Listing {
    pub dir: PathBuf,
    pub layout: Layout,
    /// Files that were not understood and were skipped.
    pub warnings: Vec<String>,
    entries: Entries,
    groups: Vec<Group>,
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
        let (version, name) = read_label(self.layout, label);
        Migration {
            version,
            name,
            up: self.script(group.up),
            down: group.down.map(|slot| self.script(slot)),
            verify: group.verify.map(|slot| self.script(slot)),
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
        }
    }

    fn script(&self, slot: Slot) -> ScriptRef {
        let mut path = self.dir.join(self.entries.name(slot.entry));
        if let Some(file) = slot.file.diesel_name() {
            path.push(file);
        }
        ScriptRef {
            path,
            section: slot.section,
            layout_no_transaction: slot.no_transaction,
        }
    }

    /// The version text of the migration an item belongs to.
    fn version_of(&self, item: &Item) -> &str {
        version_text(self.layout, self.entries.name(item.slot.entry))
    }

    /// Groups the scripts by version (checking for duplicates and orphans) into migrations
    /// in version order. `failed` is the error that stopped the scan, if any: as when the
    /// entries are read one by one, a duplicate met earlier is reported instead.
    fn group(
        mut self,
        mut items: Vec<Item>,
        failed: Option<SourceError>,
    ) -> Result<Listing, SourceError> {
        // Version order; equal versions by their canonical text (`1` before `1.0`), then in
        // the order the scripts were read (a stable sort).
        items.sort_by(|a, b| {
            let (left, right) = (self.version_of(a), self.version_of(b));
            version::compare_text(left, right).then_with(|| version::compare_canonical(left, right))
        });
        let mut duplicate: Option<(usize, &Item, &Item)> = None;
        let mut orphan: Option<(String, Slot, Role)> = None;
        let mut groups = Vec::new();
        let mut rest = items.as_slice();
        while let Some(first) = rest.first() {
            let version = self.version_of(first);
            let len = rest
                .iter()
                .position(|item| {
                    version::compare_canonical(self.version_of(item), version) != Ordering::Equal
                })
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
                        if duplicate.is_none_or(|(seq, ..)| item.seq < seq) {
                            duplicate = Some((item.seq, *existing, item));
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
                    let canonical = version::canonical_of(version);
                    if orphan.as_ref().is_none_or(|(c, ..)| canonical < *c) {
                        orphan = Some((canonical, lone.slot, lone.role));
                    }
                }
            }
        }
        if let Some((_, first, second)) = duplicate {
            return Err(SourceError::DuplicateVersion {
                version: self.version_of(second).to_string(),
                first: self.script(first.slot).path,
                second: self.script(second.slot).path,
            });
        }
        if let Some(error) = failed {
            return Err(error);
        }
        if let Some((_, slot, role)) = orphan {
            let path = self.script(slot).path;
            return Err(if role == Role::Down {
                let expected = expected_up_path(&path);
                SourceError::DownWithoutUp { path, expected }
            } else {
                SourceError::VerifyWithoutUp { path }
            });
        }
        groups.shrink_to_fit();
        self.groups = groups;
        Ok(self)
    }
}

/// A version's text inside an entry name the layout accepted.
fn version_text(layout: Layout, name: &str) -> &str {
    let rest = match layout {
        Layout::Flyway => name.get(1..).unwrap_or_default(),
        _ => name,
    };
    let end = match layout {
        Layout::Flyway => rest.find("__"),
        _ => rest.find('_'),
    };
    &rest[..end.unwrap_or(rest.len())]
}

/// The version and descriptive name in an entry name the layout accepted.
fn read_label(layout: Layout, name: &str) -> (Version, String) {
    let read = match layout {
        Layout::Sqlx | Layout::Dbmate => layout::read_sqlx_name(name).map(|n| (n.version, n.name)),
        Layout::Flyway => layout::read_flyway_name(name).map(|n| (n.version, n.name)),
        Layout::Diesel => layout::read_diesel_dir(name),
    };
    read.expect("an entry name discovery accepted")
}

/// Which script of an entry a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum File {
    /// The entry itself (a file).
    Itself,
    /// `up.sql`, `down.sql` or `verify.sql` in a diesel directory.
    DieselUp,
    DieselDown,
    DieselVerify,
}

impl File {
    fn diesel_name(self) -> Option<&'static str> {
        match self {
            File::Itself => None,
            File::DieselUp => Some("up.sql"),
            File::DieselDown => Some("down.sql"),
            File::DieselVerify => Some("verify.sql"),
        }
    }
}

/// A script, as the entry that holds it: 8 bytes instead of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    entry: u32,
    file: File,
    section: Section,
    no_transaction: bool,
}

/// One migration: its scripts. The version and name are read from the up script's entry.
#[derive(Debug, Clone, Copy)]
struct Group {
    up: Slot,
    down: Option<Slot>,
    verify: Option<Slot>,
}

/// A script found while reading the entries, in reading order (`seq`).
#[derive(Debug)]
struct Item {
    seq: usize,
    role: Role,
    slot: Slot,
}

fn push(items: &mut Vec<Item>, role: Role, slot: Slot) {
    items.push(Item {
        seq: items.len(),
        role,
        slot,
    });
}

/// The directory's entry names (hidden ones left out) in name order, in one buffer.
#[derive(Debug, Clone, Default)]
struct Entries {
    text: String,
    /// End of each name in `text`.
    ends: Vec<u32>,
    is_dir: Vec<bool>,
}

impl Entries {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn name(&self, index: u32) -> &str {
        let index = index as usize;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] as usize);
        &self.text[start..self.ends[index] as usize]
    }

    fn get<'a>(&'a self, dir: &Path, index: usize) -> Entry<'a> {
        let name = self.name(index as u32);
        Entry {
            index: index as u32,
            name,
            path: dir.join(name),
            is_dir: self.is_dir[index],
        }
    }

    fn iter<'a>(&'a self, dir: &'a Path) -> impl Iterator<Item = Entry<'a>> + 'a {
        (0..self.len()).map(move |index| self.get(dir, index))
    }
}

/// One entry while it is looked at.
#[derive(Debug)]
struct Entry<'a> {
    index: u32,
    name: &'a str,
    path: PathBuf,
    is_dir: bool,
}

/// The directory's entries, sorted by name, and a warning for each name that is not UTF-8
/// (no layout's migration name can be, and a lossy copy would name a file that does not exist).
fn list(dir: &Path) -> Result<(Entries, Vec<String>), SourceError> {
    let io = |source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(SourceError::MissingDir {
                dir: dir.to_path_buf(),
            });
        }
        Err(error) => return Err(io(error)),
    };
    // Names in reading order, then sorted into a second buffer.
    let mut unsorted = Entries::default();
    let mut warnings = Vec::new();
    for item in read {
        let item = item.map_err(io)?;
        let os_name = item.file_name();
        let Some(name) = os_name.to_str() else {
            warnings.push(format!(
                "{}: skipped, the file name is not valid UTF-8",
                item.path().display()
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        // The directory entry knows its type without a stat; only symlinks need following.
        let is_dir = match item.file_type() {
            Ok(kind) if !kind.is_symlink() => kind.is_dir(),
            _ => item.path().is_dir(),
        };
        unsorted.text.push_str(name);
        unsorted.ends.push(
            u32::try_from(unsorted.text.len())
                .map_err(|_| io(std::io::Error::other("too many directory entries")))?,
        );
        unsorted.is_dir.push(is_dir);
    }
    let mut order: Vec<u32> = (0..unsorted.len() as u32).collect();
    order.sort_by(|&a, &b| unsorted.name(a).cmp(unsorted.name(b)));
    let mut entries = Entries {
        text: String::with_capacity(unsorted.text.len()),
        ends: Vec::with_capacity(order.len()),
        is_dir: Vec::with_capacity(order.len()),
    };
    for index in order {
        entries.text.push_str(unsorted.name(index));
        entries.ends.push(entries.text.len() as u32);
        entries.is_dir.push(unsorted.is_dir[index as usize]);
    }
    Ok((entries, warnings))
}

/// Documentation and editor files next to migrations are not worth a warning.
fn is_ignorable(entry: &Entry) -> bool {
    let lower = entry.name.to_ascii_lowercase();
    !entry.is_dir
        && (lower.starts_with("readme") || lower.ends_with(".md") || lower.ends_with(".txt"))
}

fn unknown_entry_warning(entry: &Entry, layout: Layout) -> String {
    let hint = match layout {
        Layout::Sqlx => "<version>_<name>.up.sql, .down.sql or <version>_<name>.sql",
        Layout::Flyway => "V<version>__<name>.sql or U<version>__<name>.sql",
        Layout::Diesel => "a directory <version>_<name>/ with up.sql",
        Layout::Dbmate => "<version>_<name>.sql with a -- migrate:up section",
    };
    let what = if entry.name.starts_with("R__") && layout == Layout::Flyway {
        "flyway repeatable migrations are not supported".to_string()
    } else {
        format!("not a {layout} migration ({hint})")
    };
    format!("{}: skipped, {what}", entry.path.display())
}

/// Which layout the entries are in; an empty directory counts as sqlx.
fn detect(dir: &Path, entries: &Entries) -> Result<Layout, SourceError> {
    let mut found: Vec<(Layout, String)> = Vec::new();
    let mut note = |layout: Layout, name: &str| {
        if !found.iter().any(|(l, _)| *l == layout) {
            found.push((layout, name.to_string()));
        }
    };
    for entry in entries.iter(dir) {
        if entry.is_dir {
            if layout::read_diesel_dir(entry.name).is_some() && entry.path.join("up.sql").is_file()
            {
                note(Layout::Diesel, entry.name);
            }
        } else if layout::read_flyway_name(entry.name).is_some() {
            note(Layout::Flyway, entry.name);
        } else if let Some(named) = layout::read_sqlx_name(entry.name) {
            if named.plain && has_dbmate_marker(&entry.path)? {
                note(Layout::Dbmate, entry.name);
            } else {
                note(Layout::Sqlx, entry.name);
            }
        }
    }
    match found.as_slice() {
        [] => Ok(Layout::Sqlx),
        [(layout, _)] => Ok(*layout),
        _ => Err(SourceError::AmbiguousLayout {
            dir: dir.to_path_buf(),
            found: found
                .iter()
                .map(|(layout, name)| format!("{layout}: {name}"))
                .collect(),
        }),
    }
}

fn has_dbmate_marker(path: &Path) -> Result<bool, SourceError> {
    Ok(
        layout::dbmate_sections(&super::checksum::normalize(&read_text(path)?))
            .up
            .is_some(),
    )
}

/// The up file a down file would pair with, for the error message.
fn expected_up_path(down: &Path) -> PathBuf {
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

fn add_named(items: &mut Vec<Item>, entry: &Entry, named: Option<Named>) -> bool {
    let Some(named) = named else { return false };
    push(
        items,
        named.role,
        Slot {
            entry: entry.index,
            file: File::Itself,
            section: Section::Whole,
            no_transaction: false,
        },
    );
    true
}

fn add_diesel(items: &mut Vec<Item>, entry: &Entry) -> Result<bool, SourceError> {
    if layout::read_diesel_dir(entry.name).is_none() {
        return Ok(false);
    }
    let up = entry.path.join("up.sql");
    let down = entry.path.join("down.sql");
    let verify = entry.path.join("verify.sql");
    let no_transaction = diesel_no_transaction(&entry.path.join("metadata.toml"))?;
    let slot = |file| Slot {
        entry: entry.index,
        file,
        section: Section::Whole,
        no_transaction,
    };
    if !up.is_file() {
        if down.is_file() {
            return Err(SourceError::DownWithoutUp {
                path: down,
                expected: up,
            });
        }
        return Ok(false);
    }
    push(items, Role::Up, slot(File::DieselUp));
    if down.is_file() {
        push(items, Role::Down, slot(File::DieselDown));
    }
    if verify.is_file() {
        push(items, Role::Verify, slot(File::DieselVerify));
    }
    Ok(true)
}

/// diesel's `metadata.toml` with `run_in_transaction = false`.
fn diesel_no_transaction(path: &Path) -> Result<bool, SourceError> {
    if !path.is_file() {
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

fn add_dbmate(items: &mut Vec<Item>, entry: &Entry) -> Result<bool, SourceError> {
    if layout::read_sqlx_name(entry.name).is_none_or(|named| !named.plain) {
        return Ok(false);
    }
    let sections = layout::dbmate_sections(&super::checksum::normalize(&read_text(&entry.path)?));
    let Some(up) = sections.up else {
        return Err(SourceError::MissingDbmateUp {
            path: entry.path.clone(),
        });
    };
    let slot = |section, no_transaction| Slot {
        entry: entry.index,
        file: File::Itself,
        section,
        no_transaction,
    };
    push(items, Role::Up, slot(Section::DbmateUp, up.no_transaction));
    if let Some(down) = sections.down {
        push(
            items,
            Role::Down,
            slot(Section::DbmateDown, down.no_transaction),
        );
    }
    Ok(true)
}
