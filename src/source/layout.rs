//! The four migration layouts and how their file names are read.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::Version;

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
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Sqlx => "sqlx",
            Layout::Flyway => "flyway",
            Layout::Diesel => "diesel",
            Layout::Dbmate => "dbmate",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a script file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Up,
    Down,
    Verify,
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

/// sqlx and golang-migrate: `1_init.up.sql`, `1_init.down.sql`, `1_init.verify.sql`, `1_init.sql`.
pub(super) fn split_sqlx_name(file_name: &str) -> Option<NameParts<'_>> {
    let stem = file_name.strip_suffix(".sql")?;
    let (stem, role, plain) = if let Some(stem) = stem.strip_suffix(".up") {
        (stem, Role::Up, false)
    } else if let Some(stem) = stem.strip_suffix(".down") {
        (stem, Role::Down, false)
    } else if let Some(stem) = stem.strip_suffix(".verify") {
        (stem, Role::Verify, false)
    } else {
        (stem, Role::Up, true)
    };
    let (version, name) = split_version_and_name(stem)?;
    if version.contains(['.', '-']) {
        return None;
    }
    Some(NameParts {
        version,
        name,
        role,
        plain,
    })
}

/// flyway: `V1__init.sql`, `V1.1__more.sql`, `U1__init.sql`, `V1__init.verify.sql`.
pub(super) fn split_flyway_name(file_name: &str) -> Option<NameParts<'_>> {
    let (prefix, rest) = file_name.split_at_checked(1)?;
    let (version, name) = rest.split_once("__")?;
    let name = name.strip_suffix(".sql")?;
    let (name, role) = match (prefix, name.strip_suffix(".verify")) {
        ("V", Some(name)) => (name, Role::Verify),
        ("V", None) => (name, Role::Up),
        ("U", None) => (name, Role::Down),
        _ => return None,
    };
    if name.is_empty() || version.contains('-') || !Version::is_valid(version) {
        return None;
    }
    Some(NameParts {
        version,
        name,
        role,
        plain: false,
    })
}

/// diesel: a directory `2021-02-02-153240_create_users` (or `00000000000000_setup`), as its
/// version and name.
pub(super) fn split_diesel_dir(dir_name: &str) -> Option<(&str, &str)> {
    let (version, name) = split_version_and_name(dir_name)?;
    if version.contains(['.', '_']) {
        return None;
    }
    Some((version, name))
}

/// pop's (ory/pop, ory/x popx) marker for a migration that runs without a transaction: the
/// file name `<version>_<name>[.<dialect>].autocommit.up.sql` (or `.down.sql`).
pub fn autocommit_file_name(file_name: &str) -> bool {
    [".autocommit.up.sql", ".autocommit.down.sql"]
        .iter()
        .any(|suffix| file_name.len() > suffix.len() && file_name.ends_with(suffix))
}

/// One `-- migrate:` section of a dbmate file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DbmateSection {
    /// Byte range of the section's text (after its marker line).
    pub range: Range<usize>,
    /// 1-based file line of the section's first line.
    pub first_line: usize,
    /// `transaction:false` on the marker line.
    pub no_transaction: bool,
}

#[derive(Debug, Default)]
pub(super) struct DbmateSections {
    pub up: Option<DbmateSection>,
    pub down: Option<DbmateSection>,
}

/// Finds the `-- migrate:up` and `-- migrate:down` sections of a dbmate file.
pub(super) fn dbmate_sections(text: &str) -> DbmateSections {
    let mut sections = DbmateSections::default();
    let mut markers: Vec<(bool, usize, usize, usize, bool)> = Vec::new(); // (is_up, line_start, body_start, line_no, no_txn)
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            continue;
        };
        let Some(marker) = comment.trim_start().strip_prefix("migrate:") else {
            continue;
        };
        let (kind, options) = marker
            .trim_end()
            .split_once(char::is_whitespace)
            .unwrap_or((marker.trim_end(), ""));
        let no_transaction = options
            .split_whitespace()
            .any(|option| option == "transaction:false");
        match kind {
            "up" => markers.push((true, start, offset, index + 2, no_transaction)),
            "down" => markers.push((false, start, offset, index + 2, no_transaction)),
            _ => {}
        }
    }
    for (i, &(is_up, _, body_start, first_line, no_transaction)) in markers.iter().enumerate() {
        let end = markers.get(i + 1).map_or(text.len(), |next| next.1);
        let section = DbmateSection {
            range: body_start..end,
            first_line,
            no_transaction,
        };
        let slot = if is_up {
            &mut sections.up
        } else {
            &mut sections.down
        };
        if slot.is_none() {
            *slot = Some(section);
        }
    }
    sections
}

#[cfg(test)]
mod autocommit_tests {
    use super::autocommit_file_name;

    #[test]
    fn pop_autocommit_names_are_recognised() {
        assert!(autocommit_file_name(
            "20210410000000000000_name.autocommit.up.sql"
        ));
        assert!(autocommit_file_name(
            "20210410000000000000_name.postgres.autocommit.down.sql"
        ));
        assert!(!autocommit_file_name("20210410000000000000_name.up.sql"));
        assert!(!autocommit_file_name(
            "20210410000000000000_autocommit.up.sql"
        ));
        assert!(!autocommit_file_name("up.sql"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_names() {
        let up = split_sqlx_name("20240101120000_create_users.up.sql").unwrap();
        assert_eq!(
            (up.version, up.name, up.role, up.plain),
            ("20240101120000", "create_users", Role::Up, false)
        );
        assert_eq!(
            split_sqlx_name("0002_add.down.sql").unwrap().role,
            Role::Down
        );
        assert!(split_sqlx_name("0002_add.sql").unwrap().plain);
        assert!(split_sqlx_name("README.md").is_none());
        assert!(split_sqlx_name("init.sql").is_none());
        assert!(split_sqlx_name("V1__init.sql").is_none());
        assert!(split_sqlx_name("1.2_dotted.up.sql").is_none());
    }

    #[test]
    fn flyway_names() {
        let up = split_flyway_name("V1.10__add_orders.sql").unwrap();
        assert_eq!(
            (up.version, up.name, up.role),
            ("1.10", "add_orders", Role::Up)
        );
        assert_eq!(split_flyway_name("U3__x.sql").unwrap().role, Role::Down);
        assert_eq!(
            split_flyway_name("V3__x.verify.sql").unwrap().role,
            Role::Verify
        );
        assert!(split_flyway_name("R__views.sql").is_none());
        assert!(split_flyway_name("V1_init.sql").is_none());
        assert!(split_flyway_name("V1-2__dashed.sql").is_none());
    }

    #[test]
    fn diesel_dirs() {
        assert_eq!(
            split_diesel_dir("2021-02-02-153240_create_users"),
            Some(("2021-02-02-153240", "create_users"))
        );
        assert!(split_diesel_dir("00000000000000_diesel_initial_setup").is_some());
        assert!(split_diesel_dir("helpers").is_none());
        assert!(split_diesel_dir("1.2_dotted").is_none());
    }

    #[test]
    fn dbmate_sections_and_options() {
        let text = "-- comment\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n";
        let sections = dbmate_sections(text);
        let up = sections.up.unwrap();
        assert_eq!(
            &text[up.range.clone()],
            "CREATE INDEX CONCURRENTLY i ON t (a);\n\n"
        );
        assert_eq!(up.first_line, 3);
        assert!(up.no_transaction);
        let down = sections.down.unwrap();
        assert_eq!(&text[down.range], "DROP INDEX i;\n");
        assert_eq!(down.first_line, 6);
        assert!(!down.no_transaction);
        assert!(dbmate_sections("CREATE TABLE t ();").up.is_none());
    }
}
