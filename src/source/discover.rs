//! Reading a migrations directory into a [`MigrationSet`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::layout::{self, Layout, Named, Role};
use super::{Migration, MigrationSet, ScriptRef, Section, SourceError, Version, read_text};

/// Reads `dir`, detecting its layout.
pub fn discover(dir: &Path) -> Result<MigrationSet, SourceError> {
    discover_as(dir, None)
}

/// Reads `dir` as `layout`, or detects the layout when `None`.
pub fn discover_as(dir: &Path, layout: Option<Layout>) -> Result<MigrationSet, SourceError> {
    let entries = list(dir)?;
    let layout = match layout {
        Some(layout) => layout,
        None => detect(dir, &entries)?,
    };
    let mut builder = Builder::default();
    let mut warnings = Vec::new();
    for entry in &entries {
        let understood = match layout {
            Layout::Diesel => entry.is_dir && add_diesel(&mut builder, entry)?,
            Layout::Sqlx => {
                !entry.is_dir
                    && add_named(&mut builder, entry, layout::read_sqlx_name(&entry.name))?
            }
            Layout::Flyway => {
                !entry.is_dir
                    && add_named(&mut builder, entry, layout::read_flyway_name(&entry.name))?
            }
            Layout::Dbmate => !entry.is_dir && add_dbmate(&mut builder, entry)?,
        };
        if !understood && !is_ignorable(entry) {
            warnings.push(unknown_entry_warning(entry, layout));
        }
    }
    Ok(MigrationSet {
        dir: dir.to_path_buf(),
        layout,
        migrations: builder.finish()?,
        warnings,
    })
}

#[derive(Debug)]
struct Entry {
    name: String,
    path: PathBuf,
    is_dir: bool,
}

fn list(dir: &Path) -> Result<Vec<Entry>, SourceError> {
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
    let mut entries = Vec::new();
    for item in read {
        let item = item.map_err(io)?;
        let path = item.path();
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // The directory entry knows its type without a stat; only symlinks need following.
        let is_dir = match item.file_type() {
            Ok(kind) if !kind.is_symlink() => kind.is_dir(),
            _ => path.is_dir(),
        };
        entries.push(Entry { name, path, is_dir });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
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
fn detect<'a>(dir: &Path, entries: &'a [Entry]) -> Result<Layout, SourceError> {
    let mut found: Vec<(Layout, &str)> = Vec::new();
    let mut note = |layout: Layout, name: &'a str| {
        if !found.iter().any(|(l, _)| *l == layout) {
            found.push((layout, name));
        }
    };
    for entry in entries {
        if entry.is_dir {
            if layout::read_diesel_dir(&entry.name).is_some() && entry.path.join("up.sql").is_file()
            {
                note(Layout::Diesel, &entry.name);
            }
        } else if layout::read_flyway_name(&entry.name).is_some() {
            note(Layout::Flyway, &entry.name);
        } else if let Some(named) = layout::read_sqlx_name(&entry.name) {
            if named.plain && has_dbmate_marker(&entry.path)? {
                note(Layout::Dbmate, &entry.name);
            } else {
                note(Layout::Sqlx, &entry.name);
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

#[derive(Default)]
struct Group {
    version: Option<Version>,
    name: String,
    up: Option<ScriptRef>,
    down: Option<ScriptRef>,
    verify: Option<ScriptRef>,
}

#[derive(Default)]
struct Builder {
    groups: BTreeMap<String, Group>,
}

impl Builder {
    fn add(
        &mut self,
        version: Version,
        name: &str,
        role: Role,
        script: ScriptRef,
    ) -> Result<(), SourceError> {
        let group = self.groups.entry(version.canonical()).or_default();
        let slot = match role {
            Role::Up => &mut group.up,
            Role::Down => &mut group.down,
            Role::Verify => &mut group.verify,
        };
        if let Some(existing) = slot {
            return Err(SourceError::DuplicateVersion {
                version: version.to_string(),
                first: existing.path.clone(),
                second: script.path,
            });
        }
        *slot = Some(script);
        if role == Role::Up || group.version.is_none() {
            group.name = name.to_string();
            group.version = Some(version);
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Migration>, SourceError> {
        let mut migrations = Vec::with_capacity(self.groups.len());
        for group in self.groups.into_values() {
            let Some(version) = group.version else {
                continue;
            };
            let Some(up) = group.up else {
                if let Some(down) = group.down {
                    let expected = expected_up_path(&down.path);
                    return Err(SourceError::DownWithoutUp {
                        path: down.path,
                        expected,
                    });
                }
                if let Some(verify) = group.verify {
                    return Err(SourceError::VerifyWithoutUp { path: verify.path });
                }
                continue;
            };
            migrations.push(Migration {
                version,
                name: group.name,
                up,
                down: group.down,
                verify: group.verify,
            });
        }
        migrations.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(migrations)
    }
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

fn add_named(
    builder: &mut Builder,
    entry: &Entry,
    named: Option<Named>,
) -> Result<bool, SourceError> {
    let Some(named) = named else { return Ok(false) };
    builder.add(
        named.version,
        &named.name,
        named.role,
        ScriptRef::whole(entry.path.clone()),
    )?;
    Ok(true)
}

fn add_diesel(builder: &mut Builder, entry: &Entry) -> Result<bool, SourceError> {
    let Some((version, name)) = layout::read_diesel_dir(&entry.name) else {
        return Ok(false);
    };
    let up = entry.path.join("up.sql");
    let down = entry.path.join("down.sql");
    let verify = entry.path.join("verify.sql");
    let no_transaction = diesel_no_transaction(&entry.path.join("metadata.toml"))?;
    let script = |path: PathBuf| ScriptRef {
        path,
        section: Section::Whole,
        layout_no_transaction: no_transaction,
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
    builder.add(version.clone(), &name, Role::Up, script(up))?;
    if down.is_file() {
        builder.add(version.clone(), &name, Role::Down, script(down))?;
    }
    if verify.is_file() {
        builder.add(version, &name, Role::Verify, script(verify))?;
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

fn add_dbmate(builder: &mut Builder, entry: &Entry) -> Result<bool, SourceError> {
    let Some(named) = layout::read_sqlx_name(&entry.name).filter(|named| named.plain) else {
        return Ok(false);
    };
    let sections = layout::dbmate_sections(&super::checksum::normalize(&read_text(&entry.path)?));
    let Some(up) = sections.up else {
        return Err(SourceError::MissingDbmateUp {
            path: entry.path.clone(),
        });
    };
    let script = |section, no_transaction| ScriptRef {
        path: entry.path.clone(),
        section,
        layout_no_transaction: no_transaction,
    };
    builder.add(
        named.version.clone(),
        &named.name,
        Role::Up,
        script(Section::DbmateUp, up.no_transaction),
    )?;
    if let Some(down) = sections.down {
        builder.add(
            named.version,
            &named.name,
            Role::Down,
            script(Section::DbmateDown, down.no_transaction),
        )?;
    }
    Ok(true)
}
