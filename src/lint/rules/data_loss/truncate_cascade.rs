//! # SG306 truncate-cascade
//!
//! ## What it does
//! Flags `TRUNCATE ... CASCADE`.
//!
//! ## Why is this bad?
//! CASCADE also truncates every table that references the named ones through foreign keys,
//! recursively: data disappears from tables the migration never mentions.
//!
//! ## Example
//! ```sql
//! TRUNCATE users CASCADE;
//! ```
//!
//! ## Use instead
//! ```sql
//! TRUNCATE users, user_sessions; -- name every table explicitly
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Truncate {
        tables,
        cascade: true,
    } = change
    {
        out.push(Hit::new(
            format!(
                "TRUNCATE ... CASCADE also empties every table that references {}, recursively",
                quote_all(tables)
            ),
            "name every table to truncate explicitly, without CASCADE",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg("SG306", "TRUNCATE users CASCADE;", 15));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG306", "TRUNCATE users, user_sessions;", 15);
    }
}
