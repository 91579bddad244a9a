//! # SG508 unknown-rule-in-allow
//!
//! ## What it does
//! Reports codes or names in `-- stagegate:allow` / `allow-file` that are not stagegate rules.
//!
//! ## Why is this bad?
//! A typo in an allow directive allows nothing: the finding it was meant to silence still
//! fires, or worse, the author believes a hazard was reviewed when it was not.
//!
//! ## Example
//! ```sql
//! -- stagegate:allow SG2O1 -- letter O instead of zero
//! ALTER TABLE users DROP COLUMN note;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:allow SG201 -- unused since release 41
//! ALTER TABLE users DROP COLUMN note;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    // Reported by the engine, which reads the directives.
    let _ = (change, out);
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG508",
            "-- stagegate:allow SG2O1 -- typo\nSELECT 1;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG508",
            "-- stagegate:allow drop-column -- unused since release 41\nALTER TABLE users DROP COLUMN note;",
            15,
        );
    }
}
