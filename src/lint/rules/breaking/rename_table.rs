//! # SG203 rename-table
//!
//! ## What it does
//! Flags `ALTER TABLE ... RENAME TO` on an existing table.
//!
//! ## Why is this bad?
//! Code of the running release keeps querying the old name and fails as soon as the rename
//! commits.
//!
//! ## Example
//! ```sql
//! ALTER TABLE customers RENAME TO clients;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- create a view named like the new table over the old one, deploy code using it,
//! -- then in one transaction: DROP VIEW clients; ALTER TABLE customers RENAME TO clients;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::RenameTable { table, to } = change
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("renaming `{table}` to `{to}` breaks running code that uses the old name"),
            "expose the new name as a view first and switch code over, then swap names in a later release",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG203",
            "ALTER TABLE customers RENAME TO clients;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG203",
            "CREATE TABLE customers (id bigint);\nALTER TABLE customers RENAME TO clients;",
            15,
        );
    }
}
