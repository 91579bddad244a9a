//! # SG201 drop-column
//!
//! ## What it does
//! Flags `ALTER TABLE ... DROP COLUMN` on an existing table.
//!
//! ## Why is this bad?
//! Application code of the previous release keeps running during a deploy. Queries that name
//! the column fail, and ORMs that cache column lists (Rails) fail on every INSERT and UPDATE of
//! the table. The data is gone.
//!
//! ## Example
//! ```sql
//! ALTER TABLE users DROP COLUMN legacy_flag;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- release N: stop using the column and tell the ORM to ignore it
//! -- release N+1, post-deploy migration:
//! -- stagegate:allow SG201 -- ignored by the ORM since release N
//! ALTER TABLE users DROP COLUMN legacy_flag;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::DropColumn { table, column, .. } = change
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("dropping `{table}`.`{column}` deletes its data and breaks running code that still reads or writes it"),
            "stop using the column (ignore it in the ORM) and deploy first; drop it in a later post-deploy migration",
        ).on(ctx.clause(&["DROP"], Some(column))));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG201",
            "ALTER TABLE users DROP COLUMN legacy_flag;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG201",
            "CREATE TABLE users (id bigint, legacy_flag boolean);\nALTER TABLE users DROP COLUMN legacy_flag;",
            15,
        );
    }
}
