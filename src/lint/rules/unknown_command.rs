//! # SG511 unknown-command
//!
//! ## What it does
//! Reports a statement whose first word is not a PostgreSQL command: a misspelled keyword
//! (`ALTR TABLE`), text left over from an edit, a psql meta-command.
//!
//! ## Why is this bad?
//! PostgreSQL rejects the statement with a syntax error, so the migration fails when it
//! runs (in a no-transaction migration, after the statements before it have been committed).
//! Nothing in it was checked either.
//!
//! ## Example
//! ```sql
//! ALTR TABLE orders ADD COLUMN note text;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! ```

use super::prelude::*;

/// The words a PostgreSQL statement can start with (the SQL commands of its reference).
const COMMANDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYSE",
    "ANALYZE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "IMPORT",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SELECT",
    "SET",
    "SHOW",
    "START",
    "TABLE",
    "TRUNCATE",
    "UNLISTEN",
    "UPDATE",
    "VACUUM",
    "VALUES",
    "WITH",
];

/// The first word of a statement's head, when it is not a PostgreSQL command.
pub fn unknown_word(head: &str) -> Option<&str> {
    let word = head
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .next()
        .unwrap_or("");
    // `(SELECT ...)`, and statements with no word to judge, are left to SG505.
    if head.starts_with('(') || word.is_empty() {
        return None;
    }
    (!COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(word))).then_some(word)
}

pub fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Unrecognised { head } = change
        && let Some(word) = unknown_word(head)
    {
        out.push(Hit::new(
            format!("`{word}` is not a PostgreSQL command: the server rejects this statement with a syntax error"),
            "fix the statement (a misspelled keyword, or leftover text); end each statement with `;`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG511",
            "ALTR TABLE orders ADD COLUMN note text;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG511", "ALTER TABLE orders ADD COLUMN note text;", 15);
        // A command stagegate cannot read is SG505's, not a syntax error.
        lint_ok_pg("SG511", "CREATE FROBNICATE x;", 15);
        lint_ok_pg(
            "SG511",
            "-- a note\n/* and another */ CREATE FROBNICATE x;",
            15,
        );
        lint_ok_pg("SG511", "(SELECT 1);", 15);
        lint_ok_pg("SG511", "analyse orders;", 15);
    }
}
