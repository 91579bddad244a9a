//! # SG123 alter-sequence-blocks-inserts
//!
//! ## What it does
//! Reports `ALTER SEQUENCE` on a sequence that existed before the run.
//!
//! ## Why is this bad?
//! ALTER SEQUENCE locks the sequence until the transaction ends: `nextval()`, and so every
//! INSERT that relies on the column default, waits. `RESTART` below the current maximum also
//! causes duplicate-key errors, and `AS bigint` does not widen the column.
//!
//! ## Example
//! ```sql
//! ALTER SEQUENCE orders_id_seq RESTART WITH 1000;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- keep ALTER SEQUENCE in a short transaction of its own, with a lock_timeout
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AlterSequence { name } = change
        && !ctx.run.is_new_type(name)
    {
        out.push(Hit::new(
            format!("ALTER SEQUENCE locks `{name}` until the transaction commits: nextval() and INSERTs that use it wait"),
            "keep it in a short transaction of its own with a lock_timeout",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG123",
            "ALTER SEQUENCE orders_id_seq RESTART WITH 1000;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG123",
            "CREATE SEQUENCE invoice_numbers;\nALTER SEQUENCE invoice_numbers RESTART WITH 1000;",
            15,
        );
    }
}
