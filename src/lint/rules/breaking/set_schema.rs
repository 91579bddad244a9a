//! # SG205 set-schema
//!
//! ## What it does
//! Flags `ALTER TABLE ... SET SCHEMA` on an existing table.
//!
//! ## Why is this bad?
//! Code that finds the table by its schema-qualified name or via `search_path` fails once the
//! table moves; the move also takes an ACCESS EXCLUSIVE lock.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders SET SCHEMA archive;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- leave a view under the old name until no code uses it, or move with dual writes
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::SetSchema { table } = change
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("moving `{table}` to another schema breaks running code that finds it by its current name"),
            "leave a view under the old name until no code uses it",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG205",
            "ALTER TABLE orders SET SCHEMA archive;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG205",
            "CREATE TABLE orders (id bigint);\nALTER TABLE orders SET SCHEMA archive;",
            15,
        );
    }
}
