//! # SG303 drop-type
//!
//! ## What it does
//! Flags `DROP TYPE` and `DROP DOMAIN` of a type that existed before the run.
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

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Drop {
        kind: kind @ (ObjectKind::Type | ObjectKind::Domain),
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
                format!("dropping {} {} breaks code that uses it; CASCADE would also drop every column of that type", kind.noun(), quote_all(&old)),
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
    fn quiet() {
        lint_ok_pg(
            "SG303",
            "CREATE TYPE mood AS ENUM ('ok');\nDROP TYPE mood;",
            15,
        );
    }
}
