//! # SG407 identifier-too-long
//!
//! ## What it does
//! Flags table, column, index, constraint and other names longer than 63 bytes.
//!
//! ## Why is this bad?
//! PostgreSQL silently truncates identifiers to 63 bytes (NAMEDATALEN - 1). Two long names that
//! share their first 63 bytes collide, and tools that compare names see a different one than
//! the migration wrote.
//!
//! ## Example
//! ```sql
//! CREATE INDEX index_on_customer_orders_created_at_and_status_and_region_and_channel ON orders (created_at);
//! ```
//!
//! ## Use instead
//! ```sql
//! CREATE INDEX orders_created_status_region_channel_idx ON orders (created_at);
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    for name in names_of(change) {
        for part in name.split('.') {
            if part.len() > 63 {
                out.push(Hit::new(
                    format!(
                        "identifier `{part}` is {} bytes: PostgreSQL silently truncates it to 63",
                        part.len()
                    ),
                    "shorten it to 63 bytes or fewer",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG407",
            "ALTER TABLE orders ADD COLUMN a_really_long_column_name_that_goes_on_and_on_past_the_limit_of_postgres int;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG407", "ALTER TABLE orders ADD COLUMN short_name int;", 15);
    }
}
