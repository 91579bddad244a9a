//! # SG505 unrecognised-statement
//!
//! ## What it does
//! Reports statements that neither sqlparser nor the token classifier understood.
//!
//! ## Why is this bad?
//! An unread statement is not checked: it may hide any of the hazards the other rules look for.
//!
//! ## Example
//! ```sql
//! REASSIGN OWNED BY old_role TO new_role;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- check the statement by hand; if it is valid PostgreSQL, report it so the classifier learns it
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    // A statement that is not PostgreSQL at all is SG511's.
    if let Change::Unrecognised { head } = change
        && super::unknown_command::unknown_word(head).is_none()
    {
        out.push(Hit::new(
            format!("stagegate could not read this statement (`{head}`), so it was not checked"),
            "check it by hand; if it is valid PostgreSQL, report it so stagegate learns it",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG505",
            "REASSIGN OWNED BY old_role TO new_role;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG505", "SELECT 1;", 15);
        // Not PostgreSQL at all: SG511, not both.
        lint_ok_pg("SG505", "FROBNICATE TABLE orders;", 15);
        // A misspelled object is a syntax error (SG511), not an unread statement.
        lint_ok_pg("SG505", "CREATE FROBNICATE orders;", 15);
        // Dynamic SQL is SG512's.
        lint_ok_pg(
            "SG505",
            "DO $$ BEGIN EXECUTE format('DROP TABLE %I', t); END $$;",
            15,
        );
        lint_ok_pg(
            "SG505",
            "DO $$ BEGIN ALTER TABLE t DROP COLUMN c; END $$;",
            15,
        );
    }
}
