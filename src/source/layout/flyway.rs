//! Flyway: `V<version>__<name>.sql`, undo `U<version>__<name>.sql` (and our
//! `V<version>__<name>.verify.sql`); repeatable `R__` migrations are not supported.

use super::NameParts;
use crate::source::Version;
use crate::source::entry::Role;

/// Reads `V1__init.sql`, `V1.1__more.sql`, `U1__init.sql`, `V1__init.verify.sql`.
pub(in crate::source) fn split_name(file_name: &str) -> Option<NameParts<'_>> {
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

/// The part of a name that holds the version, if the name is a migration's: after the `V`
/// or `U`, before `__`.
pub(super) fn version_prefix(name: &str) -> Option<&str> {
    name.get(1..)?.split_once("__").map(|(version, _)| version)
}

/// What a file that is not a migration of this layout should be named instead.
pub(super) const HINT: &str = "V<version>__<name>.sql or U<version>__<name>.sql";

/// Why a file the layout skips is skipped, when there is more to say than its [`HINT`].
pub(super) fn unsupported(name: &str) -> Option<&'static str> {
    name.starts_with("R__")
        .then_some("flyway repeatable migrations are not supported")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyway_names() {
        let up = split_name("V1.10__add_orders.sql").unwrap();
        assert_eq!(
            (up.version, up.name, up.role),
            ("1.10", "add_orders", Role::Up)
        );
        assert_eq!(split_name("U3__x.sql").unwrap().role, Role::Down);
        assert_eq!(split_name("V3__x.verify.sql").unwrap().role, Role::Verify);
        assert!(split_name("R__views.sql").is_none());
        assert!(split_name("V1_init.sql").is_none());
        assert!(split_name("V1-2__dashed.sql").is_none());
    }
}
