//! `[migrations] down_dir`: down (and verify) scripts kept in a directory of their own.
//!
//! Some runners take every `.sql` file of the migrations directory as a migration: the
//! Supabase CLI applies each `<timestamp>_<name>.sql` of `supabase/migrations` with `supabase
//! db push`, so a `<timestamp>_<name>.down.sql` beside it would run as a migration of its own.
//! Their down scripts live elsewhere, named as in the sqlx layout (`<version>_<name>.down.sql`,
//! `<version>_<name>.verify.sql`), and are paired with the up script of the same version.

use std::path::Path;

use super::entry::Role;
use super::layout::{autocommit_file_name, sqlx_split_name};
use super::{MigrationSet, ScriptRef, Section, SourceError};

/// What a file in the down directory should be named.
const HINT: &str = "<version>_<name>.down.sql or <version>_<name>.verify.sql";

/// Pairs the scripts of `dir` with `set`'s migrations. A script without an up script of its
/// version, or for a migration that already has one of that kind beside its up script, is an
/// error; any other file is skipped with a warning.
pub(crate) fn attach(set: &mut MigrationSet, dir: &Path) -> Result<(), SourceError> {
    let read = std::fs::read_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SourceError::MissingDir {
            dir: dir.to_path_buf(),
        },
        _ => SourceError::Io {
            path: dir.to_path_buf(),
            source,
        },
    })?;
    let mut names: Vec<String> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| SourceError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(name) => set.warnings.push(format!(
                "{}: skipped, its name is not valid UTF-8",
                dir.join(&name).display()
            )),
        }
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let lower = name.to_ascii_lowercase();
        if name.starts_with('.') || lower.starts_with("readme") || lower.ends_with(".md") {
            continue;
        }
        let Some(parts) = sqlx_split_name(&name).filter(|p| !p.plain && p.role != Role::Up) else {
            set.warnings.push(format!(
                "{}: skipped, not a down or verify script (name it {HINT})",
                path.display()
            ));
            continue;
        };
        // Never followed: a link or a special file named as a script is refused.
        let is_file = std::fs::symlink_metadata(&path)
            .map_err(|source| SourceError::Io {
                path: path.clone(),
                source,
            })?
            .file_type()
            .is_file();
        if !is_file {
            return Err(SourceError::Metadata {
                path,
                message: "not a regular file (a link or a directory); a down script must be a \
                          file"
                    .to_string(),
            });
        }
        let Some(migration) = set
            .migrations
            .iter_mut()
            .find(|m| m.version.matches(parts.version))
        else {
            return Err(match parts.role {
                Role::Verify => SourceError::VerifyWithoutUp { path },
                _ => SourceError::DownWithoutUp {
                    expected: set
                        .dir
                        .join(format!("{}_{}.sql", parts.version, parts.name)),
                    path,
                },
            });
        };
        let slot = match parts.role {
            Role::Verify => &mut migration.verify,
            _ => &mut migration.down,
        };
        if let Some(existing) = slot {
            return Err(SourceError::DuplicateVersion {
                version: parts.version.to_string(),
                first: existing.path.clone(),
                second: path,
            });
        }
        *slot = Some(ScriptRef {
            layout_no_transaction: autocommit_file_name(&name),
            path,
            section: Section::Whole,
            rendered: None,
        });
    }
    Ok(())
}
