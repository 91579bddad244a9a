//! # SG304 drop-sequence
//!
//! ## What it does
//! Flags `DROP SEQUENCE` of a sequence that existed before the run.
//! A sequence the same file creates again is still reported: the new one starts over, so
//! the keys it hands out repeat the old ones.
//!
//! ## Why is this bad?
//! Column defaults that call `nextval()` on it fail, so INSERTs fail; the current value is
//! lost.
//!
//! ## Example
//! ```sql
//! DROP SEQUENCE invoice_number_seq;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE invoices ALTER COLUMN number DROP DEFAULT; -- in an earlier migration
//! DROP SEQUENCE invoice_number_seq;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Drop {
        kind: ObjectKind::Sequence,
        names,
        ..
    } = change
    {
        let old: Vec<Name> = names
            .iter()
            .filter(|n| !ctx.run.is_new_type(n))
            .cloned()
            .collect();
        if !old.is_empty() {
            out.push(Hit::new(
                format!("dropping sequence {} loses its current value and breaks column defaults that call it", quote_all(&old)),
                "drop the column defaults that use it in an earlier migration",
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
            "SG304",
            "DROP SEQUENCE invoice_number_seq;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG304",
            "CREATE SEQUENCE tmp_seq;\nDROP SEQUENCE tmp_seq;",
            15,
        );
    }
}
