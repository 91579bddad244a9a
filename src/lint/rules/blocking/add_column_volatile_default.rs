//! # SG104 add-column-volatile-default
//!
//! ## What it does
//! Flags `ADD COLUMN` with a volatile default such as `gen_random_uuid()`, `random()`,
//! `clock_timestamp()` or `nextval()`, or one that calls a function created in the run that
//! is volatile: PL/pgSQL (or another language PostgreSQL does not inline) not declared
//! IMMUTABLE or STABLE, or a SQL function whose body is volatile (measured on PostgreSQL 15:
//! a PL/pgSQL default rewrites the table; an IMMUTABLE, STABLE or inlined SQL one does not).
//!
//! ## Why is this bad?
//! A volatile default must be computed for every existing row, so PostgreSQL rewrites the table
//! and all its indexes while holding an ACCESS EXCLUSIVE lock: no reads or writes until it is
//! done. Constant and stable defaults such as `now()` are stored once and cost nothing on
//! PostgreSQL 11+.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN token uuid;
//! ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();
//! -- then backfill existing rows in batches, in later transactions
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddColumn { table, column, .. } = change
        && (column.default == Some(DefaultKind::Volatile)
            || column
                .default_calls
                .iter()
                .any(|f| ctx.run.is_volatile_function(f)))
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding `{}` with a volatile default rewrites `{table}` and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes",
                column.name
            ),
            "add the column without a default, SET DEFAULT for new rows, then backfill existing rows in batches",
        ).on(ctx.change_clause(change)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG104",
            "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG104",
            "ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();",
            15,
        );
        lint_ok_pg(
            "SG104",
            "ALTER TABLE orders ADD COLUMN kind text NOT NULL DEFAULT 'random()';",
            15,
        );
        lint_ok_pg(
            "SG104",
            "CREATE TABLE orders (id bigint);\nALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            15,
        );
    }
}
