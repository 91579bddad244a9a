//! # SG506 unused-allow-directive
//!
//! ## What it does
//! Reports `-- stagegate:allow` and `-- stagegate:allow-file` directives whose rules reported
//! nothing in the statement (or file) they cover.
//!
//! ## Why is this bad?
//! A stale allow hides nothing today but will silently hide a real finding once the SQL below
//! it changes; it usually means it was meant for another statement.
//!
//! ## Example
//! ```sql
//! -- stagegate:allow SG201 -- unused since release 41
//! ALTER TABLE users ADD COLUMN note text;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- remove the directive, or move it directly above the statement it is meant for
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    // Reported by the engine, which knows which directives matched.
    let _ = (change, out);
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG506",
            "-- stagegate:allow SG201 -- unused since release 41\nSET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN note text;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG506",
            "SET lock_timeout = '1s';\n-- stagegate:allow SG201 -- unused since release 41\nALTER TABLE users DROP COLUMN note;",
            15,
        );
    }
}
