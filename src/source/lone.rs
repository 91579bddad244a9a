//! A file named on the command line (or stdin), outside any migrations directory: what its
//! name and content say without a layout. The layouts' own markers and file names are read
//! here, not in the commands.

use std::path::{Path, PathBuf};

use super::{ScriptRef, Section, Version};

/// A lone script (`text` is its content): a dbmate file (with its up marker) is read for its up section; dbmate's
/// `transaction:false` and pop's `.autocommit.up.sql` name mark it no-transaction.
pub(crate) fn lone_script(path: PathBuf, text: &str) -> ScriptRef {
    let dbmate_up = dbmate_up_marker(text);
    ScriptRef {
        section: if dbmate_up.is_some() {
            Section::DbmateUp
        } else {
            Section::Whole
        },
        layout_no_transaction: dbmate_up.is_some_and(|m| m.contains("transaction:false"))
            || path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(super::autocommit_file_name),
        path,
        rendered: None,
    }
}

/// The `-- migrate:up` line of a dbmate file, if `text` is one.
fn dbmate_up_marker(text: &str) -> Option<&str> {
    text.lines()
        .find(|line| line.trim_start().starts_with("-- migrate:up"))
}

/// The version a lone file's name starts with (`20240101000000_x.up.sql`, `V3__x.sql`), or,
/// for a diesel `up.sql`, its directory's.
pub(crate) fn lone_version(path: &Path) -> Option<Version> {
    let name = path.file_name()?.to_str()?;
    let name = if name == "up.sql" {
        path.parent()?.file_name()?.to_str()?
    } else {
        name
    };
    let name = name.strip_prefix('V').unwrap_or(name);
    let digits = name.split("__").next()?;
    let digits = if name.contains("__") {
        digits
    } else {
        digits.split('_').next()?
    };
    Version::parse(digits)
}
