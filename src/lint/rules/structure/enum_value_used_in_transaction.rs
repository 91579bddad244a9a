//! # SG514 enum-value-used-in-transaction
//!
//! ## What it does
//! Flags a statement that uses, as a string literal, an enum label that `ALTER TYPE ... ADD
//! VALUE` added earlier in the same transaction (PostgreSQL 12+; before 12 the ADD VALUE
//! itself fails there, which SG507 reports).
//!
//! A quoted label where PostgreSQL reads it as another type is not a use: compared with or
//! assigned to a column the migrations (or the catalog) show to be of a built-in type such as
//! `text` (`SET note = 'team'`, `WHERE note = 'team'`, `SET DEFAULT 'team'` on a text
//! column), or cast to one (`'team'::text`). Every other occurrence counts as a use.
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: a new label cannot be used before the transaction that added it
//! commits. An `UPDATE ... SET status = 'new_value'` (even one that matches no row), a `SET
//! DEFAULT 'new_value'` or a CHECK naming it fails with "unsafe use of new value", and the
//! migration with it. The same label written into a `text` column is only text: `UPDATE
//! accounts SET note = 'team'` runs.
//!
//! ## Example
//! ```sql
//! ALTER TYPE plan ADD VALUE 'team';
//! ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TYPE plan ADD VALUE IF NOT EXISTS 'team';
//! -- migration 2
//! ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';
//! ```

use crate::analyze::names::normalize_ident;
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.pg < 12 || matches!(change, Change::EnumAddValue { .. }) {
        return;
    }
    let used = ctx.file.new_enum_values().iter().find(|quoted| {
        ctx.text
            .match_indices(quoted.as_str())
            .any(|(at, _)| !read_as_builtin(ctx, change, at, quoted.len()))
    });
    if let Some(quoted) = used {
        let value = quoted.trim_matches('\'');
        out.push(Hit::new(
            format!("'{value}' was added to its enum earlier in this transaction: using it before that commits fails with \"unsafe use of new value\""),
            "add the value in a migration of its own (or commit after ADD VALUE), then use it",
        ));
    }
}

/// The literal at `at..at + len` of the statement is read as a built-in type, not as the enum:
/// cast to one, or compared with, assigned to or the default of a column known to be of one.
fn read_as_builtin(ctx: &Ctx, change: &Change, at: usize, len: usize) -> bool {
    let after = ctx.text[at + len..].trim_start();
    if let Some(cast) = after.strip_prefix("::") {
        let name: String = cast
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '"'))
            .collect();
        return !matches!(
            ColumnType::parse(&normalize_ident(&name)),
            ColumnType::Other(_)
        );
    }
    let before = ctx.text[..at].trim_end();
    let column = match change {
        Change::SetDefault { table, column } if ends_with_word(before, "default") => {
            Some((table.as_str(), column.clone()))
        }
        Change::AddColumn { column, .. } if ends_with_word(before, "default") => {
            return !matches!(column.ty, ColumnType::Other(_));
        }
        _ => {
            let Some(left) = ["<>", "!=", "="]
                .iter()
                .find_map(|op| before.strip_suffix(op))
            else {
                return false;
            };
            let left = left.trim_end();
            let ident: String = left
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '"'))
                .collect::<Vec<char>>()
                .into_iter()
                .rev()
                .collect();
            change
                .table()
                .filter(|_| !ident.is_empty())
                .map(|table| (table, normalize_ident(&ident)))
        }
    };
    column
        .and_then(|(table, column)| ctx.column(table, &column))
        .is_some_and(|known| known.ty.builtin().is_some())
}

/// `text` ends with the keyword `word` (any case), as a whole word.
fn ends_with_word(text: &str, word: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.ends_with(word)
        && !lower[..lower.len() - word.len()]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_history, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG514",
            "ALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';",
            15
        ));
        lint_errors_pg(
            "SG514",
            "ALTER TYPE order_status ADD VALUE 'refunded';\nUPDATE orders SET status = 'refunded' WHERE id = 7;",
            15,
        );
    }

    #[test]
    fn fires_on_an_enum_column_and_quiet_on_a_text_one() {
        let setup = "CREATE TYPE plan AS ENUM ('free', 'pro');\nCREATE TABLE accounts (id bigint PRIMARY KEY, plan plan, note text);";
        for sql in [
            "ALTER TYPE plan ADD VALUE 'team';\nUPDATE accounts SET note = 'y' WHERE plan = 'team';",
            "ALTER TYPE plan ADD VALUE 'team';\nUPDATE accounts SET note = 'team', plan = 'team' WHERE id = 1;",
            "ALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';",
            "ALTER TYPE plan ADD VALUE 'team';\nSELECT 'team'::plan;",
            "ALTER TYPE plan ADD VALUE 'team';\nINSERT INTO accounts (id, plan) VALUES (3, 'team');",
        ] {
            assert_eq!(lint_history("SG514", &[setup, sql], 15).len(), 1, "{sql}");
        }
        for sql in [
            "ALTER TYPE plan ADD VALUE 'team';\nUPDATE accounts SET note = 'team' WHERE id = 1;",
            "ALTER TYPE plan ADD VALUE 'team';\nUPDATE accounts a SET plan = 'pro' WHERE a.note = 'team';",
            "ALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ALTER COLUMN note SET DEFAULT 'team';",
            "ALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ADD COLUMN label text DEFAULT 'team';",
            "ALTER TYPE plan ADD VALUE 'team';\nSELECT 'team'::text;",
        ] {
            assert!(lint_history("SG514", &[setup, sql], 15).is_empty(), "{sql}");
        }
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG514",
            "ALTER TYPE plan ADD VALUE 'team';\nUPDATE accounts SET note = 'free' WHERE id = 1;",
            15,
        );
        lint_ok_pg(
            "SG514",
            "-- stagegate:no-transaction\nALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';",
            15,
        );
        lint_ok_pg(
            "SG514",
            "CREATE TYPE plan AS ENUM ('free');\nALTER TYPE plan ADD VALUE 'team';\nCREATE TABLE a (p plan DEFAULT 'team');",
            15,
        );
    }
}
