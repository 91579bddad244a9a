//! # SG303 drop-type
//!
//! ## What it does
//! Flags `DROP TYPE` and `DROP DOMAIN` of a type that existed before the run, unless the
//! same file creates it again later in the migration's transaction (a replacement: without
//! CASCADE the drop fails while a column still uses the type). With CASCADE, what else is
//! dropped is `drop-cascade`'s finding, not repeated here.
//!
//! ## Why is this bad?
//! Code that casts to the type fails; with CASCADE every column of that type is silently
//! dropped with its data.
//!
//! ## Example
//! ```sql
//! DROP TYPE order_status CASCADE;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- move columns off the type first (ALTER COLUMN ... TYPE text USING ...), then drop it without CASCADE
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Drop {
        kind: kind @ (ObjectKind::Type | ObjectKind::Domain),
        names,
        cascade,
        ..
    } = change
    {
        let old: Vec<Name> = names
            .iter()
            .filter(|n| !ctx.run.is_new_type(n))
            .filter(|n| !(ctx.file.in_txn_now && ctx.file.recreated_later(*kind, n)))
            .cloned()
            .collect();
        if !old.is_empty() {
            let cascade = if *cascade {
                ""
            } else {
                "; CASCADE would also drop every column of that type"
            };
            out.push(Hit::new(
                format!(
                    "dropping {} {} breaks code that uses it{cascade}",
                    kind.noun(),
                    quote_all(&old)
                ),
                "move columns off the type first, then drop it without CASCADE",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG303",
            "DROP TYPE order_status CASCADE;",
            15
        ));
    }

    #[test]
    fn fires_without_cascade_naming_what_cascade_would_do() {
        let text = lint_errors_pg("SG303", "DROP TYPE order_status;", 15);
        assert!(text.contains("CASCADE would also drop"), "{text}");
        let text = lint_errors_pg(
            "SG303",
            "DROP DOMAIN price;\nCREATE TYPE price AS ENUM ('a');",
            15,
        );
        assert!(text.contains("domain `price`"), "{text}");
    }

    #[test]
    fn quiet_when_the_same_file_creates_it_again() {
        for sql in [
            "DROP TYPE order_status;\nCREATE TYPE order_status AS ENUM ('new', 'paid');",
            "DROP DOMAIN price;\nCREATE DOMAIN price AS numeric(10, 2);",
        ] {
            crate::lint::test_utils::assert_understood(sql);
            lint_ok_pg("SG303", sql, 15);
        }
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG303",
            "CREATE TYPE mood AS ENUM ('ok');\nDROP TYPE mood;",
            15,
        );
    }
}
