//! # SG214 instead-rule
//!
//! ## What it does
//! Flags `CREATE [OR REPLACE] RULE ... DO INSTEAD` on a table or view that existed before the
//! run.
//!
//! ## Why is this bad?
//! An INSTEAD rule replaces the statements of running code: measured on PostgreSQL 15, after
//! `ON INSERT ... DO INSTEAD NOTHING` an `INSERT ... RETURNING` fails with "cannot perform
//! INSERT RETURNING on relation", and a plain INSERT (or DELETE) reports success and changes
//! nothing.
//!
//! ## Example
//! ```sql
//! CREATE RULE audit_readonly AS ON INSERT TO audit DO INSTEAD NOTHING;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- revoke the privilege, or raise an error from a trigger, so that callers see the refusal
//! REVOKE INSERT ON audit FROM app;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateRule {
        table,
        instead: true,
    } = change
        && !ctx.is_new(table)
        && !ctx.file.created_earlier(ObjectKind::View, table)
    {
        out.push(Hit::new(
            format!("a DO INSTEAD rule on `{table}` silently replaces the statements of running code, and their RETURNING clauses fail"),
            "revoke the privilege or raise an error from a trigger instead, so that callers see the refusal",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG214",
            "CREATE RULE audit_readonly AS ON INSERT TO audit DO INSTEAD NOTHING;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG214",
            "CREATE RULE audit_log AS ON INSERT TO audit DO ALSO NOTIFY audit;",
            15,
        );
        lint_ok_pg(
            "SG214",
            "CREATE VIEW v AS SELECT 1 AS a;\nCREATE RULE v_ins AS ON INSERT TO v DO INSTEAD NOTHING;",
            15,
        );
    }
}
