//! # SG305 truncate
//!
//! ## What it does
//! Flags `TRUNCATE` of an existing table.
//!
//! ## Why is this bad?
//! Every row is gone, under an ACCESS EXCLUSIVE lock; TRUNCATE is not MVCC-safe, so concurrent
//! transactions may see an empty table.
//!
//! ## Example
//! ```sql
//! TRUNCATE audit_log;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- if emptying is intended, delete in batches, or rename the table and create a fresh one
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Truncate { tables, .. } = change {
        let old: Vec<Name> = tables.iter().filter(|t| !ctx.is_new(t)).cloned().collect();
        if !old.is_empty() {
            out.push(Hit::new(
                format!("TRUNCATE deletes every row of {} under an ACCESS EXCLUSIVE lock", quote_all(&old)),
                "if emptying is intended, delete in batches; otherwise rename the table and create a fresh one",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg("SG305", "TRUNCATE audit_log;", 15));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG305",
            "CREATE TABLE staging_import (id bigint);\nTRUNCATE staging_import;",
            15,
        );
    }
}
