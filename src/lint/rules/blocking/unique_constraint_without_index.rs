//! # SG113 unique-constraint-without-index
//!
//! ## What it does
//! Flags `ADD CONSTRAINT ... UNIQUE` / `PRIMARY KEY` without `USING INDEX`, and inline `UNIQUE`
//! / `PRIMARY KEY` on an added column, on existing tables.
//!
//! ## Why is this bad?
//! The constraint's index is built while the table is locked ACCESS EXCLUSIVE: reads and writes
//! wait for the whole build.
//!
//! ## Example
//! ```sql
//! ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);
//! -- in the next migration:
//! ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let (table, what) = match change {
        Change::AddConstraint { table, constraint } => match constraint.kind {
            ConstraintKind::Unique { using_index: false } => (table, "UNIQUE"),
            ConstraintKind::PrimaryKey { using_index: None } => (table, "PRIMARY KEY"),
            _ => return,
        },
        Change::AddColumn { table, column, .. } if column.primary_key => (table, "PRIMARY KEY"),
        Change::AddColumn { table, column, .. } if column.unique => (table, "UNIQUE"),
        _ => return,
    };
    if !ctx.is_new(table) {
        out.push(Hit::new(
            format!("adding a {what} constraint builds its index while `{table}` is locked ACCESS EXCLUSIVE, blocking reads and writes"),
            "CREATE UNIQUE INDEX CONCURRENTLY in a no-transaction migration, then ADD CONSTRAINT ... USING INDEX",
        ).on(ctx.change_clause(change)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG113",
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG113",
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;",
            15,
        );
    }
}
