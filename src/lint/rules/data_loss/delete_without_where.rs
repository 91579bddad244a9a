//! # SG308 delete-without-where
//!
//! ## What it does
//! Flags `DELETE` without a `WHERE` clause, or with one that is always true (`WHERE true`,
//! `WHERE 1 = 1`), on an existing table.
//!
//! ## Why is this bad?
//! Every row is deleted in one transaction, holding row locks on all of them; a mistake here
//! loses the table's data.
//!
//! ## Example
//! ```sql
//! DELETE FROM sessions;
//! ```
//!
//! ## Use instead
//! ```sql
//! DELETE FROM sessions WHERE expires_at < now() - interval '30 days';
//! -- and in batches when many rows match
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Delete {
        table,
        reach: Reach::All,
    } = change
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("DELETE without WHERE removes every row of `{table}`"),
            "add a WHERE clause, and delete in batches when many rows match",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg("SG308", "DELETE FROM sessions;", 15));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG308",
            "DELETE FROM sessions WHERE expires_at < now();",
            15,
        );
        lint_errors_pg("SG308", "DELETE FROM sessions WHERE 1 = 1;", 15);
    }
}
