//! # SG105 add-column-default-before-pg11
//!
//! ## What it does
//! Flags `ADD COLUMN ... DEFAULT` when `postgres_version` is below 11.
//!
//! ## Why is this bad?
//! Before PostgreSQL 11 any default, even a constant, is written into every row: the table and
//! its indexes are rewritten under an ACCESS EXCLUSIVE lock. From 11 on a non-volatile default
//! is stored once and the command is instant.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN status text;
//! ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new';
//! -- then backfill existing rows in batches
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.pg < 11
        && let Change::AddColumn { table, column, .. } = change
        && matches!(
            column.default,
            Some(DefaultKind::Constant | DefaultKind::Stable)
        )
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "on PostgreSQL {} adding `{}` with a default rewrites `{table}` under an ACCESS EXCLUSIVE lock, blocking reads and writes",
                ctx.pg, column.name
            ),
            "add the column without a default, SET DEFAULT, then backfill existing rows in batches",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG105",
            "ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';",
            10
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG105",
            "ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';",
            11,
        );
    }
}
