//! # SG210 enable-rls-without-policy
//!
//! ## What it does
//! Flags `ALTER TABLE ... ENABLE` (or `FORCE`) `ROW LEVEL SECURITY` when no policy for the
//! table is created in the run or in the same file.
//!
//! ## Why is this bad?
//! With row level security on and no policy, PostgreSQL denies every row to non-owner roles:
//! the application suddenly sees empty tables and its writes fail.
//!
//! ## Example
//! ```sql
//! ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
//! ```
//!
//! ## Use instead
//! ```sql
//! CREATE POLICY documents_owner ON documents USING (owner_id = current_setting('app.user_id')::bigint);
//! ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::EnableRowLevelSecurity { table } = change
        && !ctx.is_new(table)
        && !ctx.run.has_policy(table)
        && !ctx.file.policy_tables.contains(table)
    {
        out.push(Hit::new(
            format!("enabling row level security on `{table}` without a policy hides every row from non-owner roles"),
            "create the table's policies first (in this or an earlier migration)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG210",
            "ALTER TABLE documents ENABLE ROW LEVEL SECURITY;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG210",
            "CREATE POLICY documents_owner ON documents USING (owner_id = 1);\nALTER TABLE documents ENABLE ROW LEVEL SECURITY;",
            15,
        );
    }
}
