//! # SG208 rename-enum-value
//!
//! ## What it does
//! Flags `ALTER TYPE ... RENAME VALUE` on an enum that existed before the run.
//!
//! ## Why is this bad?
//! Running code that writes the old label gets an error, and code that reads the new label may
//! not know it.
//!
//! ## Example
//! ```sql
//! ALTER TYPE order_status RENAME VALUE 'shipped' TO 'dispatched';
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'dispatched';
//! -- ship code that handles both, migrate rows, then stop using 'shipped'
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::EnumRenameValue { type_name } = change
        && !ctx.run.is_new_type(type_name)
    {
        out.push(Hit::new(
            format!("renaming a value of enum `{type_name}` breaks running code that reads or writes the old label"),
            "add the new value, move rows and code over to it, then stop using the old one",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG208",
            "ALTER TYPE order_status RENAME VALUE 'shipped' TO 'dispatched';",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG208",
            "CREATE TYPE order_status AS ENUM ('new', 'shipped');\nALTER TYPE order_status RENAME VALUE 'shipped' TO 'dispatched';",
            15,
        );
    }
}
