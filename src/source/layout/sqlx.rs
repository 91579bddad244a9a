//! sqlx and golang-migrate: `<version>_<name>.up.sql` with an optional `.down.sql` (and our
//! `.verify.sql`), or `<version>_<name>.sql` alone (up only); pop's `.autocommit.` names run
//! without a transaction.

use super::{NameParts, split_version_and_name};
use crate::source::entry::Role;

/// Reads `1_init.up.sql`, `1_init.down.sql`, `1_init.verify.sql`, `1_init.sql`.
pub(in crate::source) fn split_name(file_name: &str) -> Option<NameParts<'_>> {
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

/// What a file that is not a migration of this layout should be named instead.
pub(super) const HINT: &str = "<version>_<name>.up.sql, .down.sql or <version>_<name>.sql";

/// pop's (ory/pop, ory/x popx) marker for a migration that runs without a transaction: the
/// file name `<version>_<name>[.<dialect>].autocommit.up.sql` (or `.down.sql`).
pub(crate) fn autocommit_file_name(file_name: &str) -> bool {
    [".autocommit.up.sql", ".autocommit.down.sql"]
        .iter()
        .any(|suffix| file_name.len() > suffix.len() && file_name.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_names() {
        let up = split_name("20240101120000_create_users.up.sql").unwrap();
        assert_eq!(
            (up.version, up.name, up.role, up.plain),
            ("20240101120000", "create_users", Role::Up, false)
        );
        assert_eq!(split_name("0002_add.down.sql").unwrap().role, Role::Down);
        assert!(split_name("0002_add.sql").unwrap().plain);
        assert!(split_name("README.md").is_none());
        assert!(split_name("init.sql").is_none());
        assert!(split_name("V1__init.sql").is_none());
        assert!(split_name("1.2_dotted.up.sql").is_none());
    }

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
