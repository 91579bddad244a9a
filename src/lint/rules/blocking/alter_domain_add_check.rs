//! # SG122 alter-domain-add-check
//!
//! ## What it does
//! Flags `ALTER DOMAIN ... ADD CONSTRAINT ... CHECK` without `NOT VALID`.
//!
//! ## Why is this bad?
//! PostgreSQL checks every column of every table that uses the domain, holding SHARE locks on
//! those tables: their writes wait for the scans.
//!
//! ## Example
//! ```sql
//! ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0);
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;
//! -- later:
//! ALTER DOMAIN positive_int VALIDATE CONSTRAINT positive;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AlterDomainAddCheck {
        name,
        not_valid: false,
    } = change
        && !ctx.run.is_new_type(name)
    {
        out.push(Hit::new(
            format!("adding a CHECK to domain `{name}` scans every table that uses it under SHARE locks, blocking their writes"),
            "add it NOT VALID, then ALTER DOMAIN ... VALIDATE CONSTRAINT in a separate migration",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG122",
            "ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG122",
            "ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;",
            15,
        );
    }
}
