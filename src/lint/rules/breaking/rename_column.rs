//! # SG202 rename-column
//!
//! ## What it does
//! Flags `ALTER TABLE ... RENAME COLUMN` (or `ALTER VIEW ... RENAME COLUMN`) on an existing
//! table or view, unless the column was added earlier in the same migration or by an
//! unreleased one: no running code uses it yet.
//!
//! ## Why is this bad?
//! During a deploy old code still uses the old name and new code the new one; whichever runs
//! against the other schema fails.
//!
//! ## Example
//! ```sql
//! ALTER TABLE users RENAME COLUMN name TO full_name;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- add the new column, write both (trigger), backfill, switch reads,
//! -- then drop the old column in a later release; or rename only in the ORM mapping
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::RenameColumn { table, from, to } = change
        && !ctx.is_new(table)
        && !ctx.column_is_new(table, from)
    {
        out.push(Hit::new(
            format!("renaming `{table}`.`{from}` to `{to}` breaks running code that uses the old name"),
            "add the new column, write both, backfill, switch reads, and drop the old one in a later release",
        ).on(ctx.clause(&["RENAME"], Some(from))));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG202",
            "ALTER TABLE users RENAME COLUMN name TO full_name;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG202",
            "ALTER TABLE users ADD COLUMN nick text;\nALTER TABLE users RENAME COLUMN nick TO nickname;",
            15,
        );
        lint_errors_pg(
            "SG202",
            "ALTER VIEW v_users RENAME COLUMN name TO full_name;",
            15,
        );
        lint_ok_pg(
            "SG202",
            "CREATE TABLE users (id bigint, name text);\nALTER TABLE users RENAME COLUMN name TO full_name;",
            15,
        );
    }
}
