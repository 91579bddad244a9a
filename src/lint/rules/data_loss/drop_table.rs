//! # SG301 drop-table
//!
//! ## What it does
//! Flags `DROP TABLE` of a table that existed before the run, also when the same file creates
//! it again: the new table is empty, so the rows are lost all the same.
//!
//! ## Why is this bad?
//! The data is gone, running code that queries the table fails, and dropping a table that
//! references others also takes ACCESS EXCLUSIVE locks on the referenced tables.
//!
//! ## Example
//! ```sql
//! DROP TABLE legacy_sessions;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stop using the table in code and deploy; then, in a post-deploy migration, after a backup:
//! -- stagegate:allow SG301 -- unused since release 41, backed up
//! DROP TABLE legacy_sessions;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Drop {
        kind: ObjectKind::Table,
        names,
        ..
    } = change
    {
        let old: Vec<Name> = names.iter().filter(|n| !ctx.is_new(n)).cloned().collect();
        if !old.is_empty() {
            out.push(Hit::new(
                format!("dropping {} deletes its data and breaks running code that uses it", quote_all(&old)),
                "stop using the table in code first; drop it in a later post-deploy migration, after a backup",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires_when_the_table_is_created_again() {
        crate::lint::test_utils::lint_errors_pg(
            "SG301",
            "DROP TABLE legacy_sessions;\nCREATE TABLE legacy_sessions (id bigint);",
            15,
        );
    }

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg("SG301", "DROP TABLE legacy_sessions;", 15));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG301",
            "CREATE TABLE scratch (id bigint);\nDROP TABLE scratch;",
            15,
        );
    }
}
