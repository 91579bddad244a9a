//! # SG204 rename-schema
//!
//! ## What it does
//! Flags `ALTER SCHEMA ... RENAME TO`.
//!
//! ## Why is this bad?
//! Every qualified name and `search_path` setting that mentions the schema stops resolving as
//! soon as the rename commits.
//!
//! ## Example
//! ```sql
//! ALTER SCHEMA billing RENAME TO invoicing;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- create the new schema, move or wrap objects so both names work, switch code, then drop the old one
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::RenameSchema { schema } = change {
        out.push(Hit::new(
            format!("renaming schema `{schema}` breaks running code and search_path settings that name it"),
            "create the new schema and keep the old name working until no code uses it",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG204",
            "ALTER SCHEMA billing RENAME TO invoicing;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG204", "ALTER SCHEMA billing OWNER TO app;", 15);
    }
}
