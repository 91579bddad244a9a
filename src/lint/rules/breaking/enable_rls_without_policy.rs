//! # SG210 enable-rls-without-policy
//!
//! ## What it does
//! Flags `ALTER TABLE ... ENABLE` (or `FORCE`) `ROW LEVEL SECURITY` when no policy for the
//! table is created in the run or in the same file, or when the permissive policies created
//! leave out a command (`FOR SELECT` only: every UPDATE, DELETE and INSERT is denied).
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

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::EnableRowLevelSecurity { table } = change else {
        return;
    };
    if ctx.is_new(table) {
        return;
    }
    let run = ctx.run.policy_commands(table);
    let file = ctx.file.policy_tables.get(table).copied();
    let commands = match (run, file) {
        (None, None) => {
            out.push(Hit::new(
                format!("enabling row level security on `{table}` without a policy hides every row from non-owner roles"),
                "create the table's policies first (in this or an earlier migration)",
            ));
            return;
        }
        (run, file) => run.unwrap_or(0) | file.unwrap_or(0),
    };
    let missing: Vec<&str> = [
        (POLICY_SELECT, "SELECT"),
        (POLICY_INSERT, "INSERT"),
        (POLICY_UPDATE, "UPDATE"),
        (POLICY_DELETE, "DELETE"),
    ]
    .into_iter()
    .filter(|(bit, _)| commands & bit == 0)
    .map(|(_, name)| name)
    .collect();
    if !missing.is_empty() {
        out.push(Hit::new(
            format!(
                "enabling row level security on `{table}` with no permissive policy for {}: non-owner roles are denied those commands (measured: an INSERT fails, an UPDATE changes nothing)",
                missing.join(", ")
            ),
            "create a policy for every command the application runs (or FOR ALL) before enabling row level security",
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
    fn a_policy_for_some_commands_denies_the_others() {
        let out = lint_errors_pg(
            "SG210",
            "CREATE POLICY r ON notes FOR SELECT USING (true);\nALTER TABLE notes ENABLE ROW LEVEL SECURITY;",
            15,
        );
        assert!(out.contains("INSERT, UPDATE, DELETE"), "{out}");
        lint_ok_pg(
            "SG210",
            "CREATE POLICY r ON notes FOR ALL USING (true);\nALTER TABLE notes ENABLE ROW LEVEL SECURITY;",
            15,
        );
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
