//! # SG119 create-partition-locks-parent
//!
//! ## What it does
//! Flags `CREATE TABLE ... PARTITION OF` an existing partitioned table.
//!
//! ## Why is this bad?
//! Creating a partition takes an ACCESS EXCLUSIVE lock on the partitioned parent: reads and
//! writes of every partition wait.
//!
//! ## Example
//! ```sql
//! CREATE TABLE events_2025_01 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');
//! ```
//!
//! ## Use instead
//! ```sql
//! CREATE TABLE events_2025_01 (LIKE events INCLUDING ALL);
//! ALTER TABLE events_2025_01 ADD CONSTRAINT events_2025_01_bounds CHECK (at >= '2025-01-01' AND at < '2025-02-01');
//! ALTER TABLE events ATTACH PARTITION events_2025_01 FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateTable {
        partition_of: Some(parent),
        ..
    } = change
        && !ctx.is_new(parent)
    {
        out.push(Hit::new(
            format!("CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE lock on `{parent}`, blocking reads and writes of every partition"),
            "create a standalone table with a CHECK matching the bounds, then ATTACH PARTITION (SHARE UPDATE EXCLUSIVE on the parent)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG119",
            "CREATE TABLE events_2025_01 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG119",
            "CREATE TABLE events (at timestamptz) PARTITION BY RANGE (at);\nCREATE TABLE events_2025_01 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');",
            15,
        );
    }
}
