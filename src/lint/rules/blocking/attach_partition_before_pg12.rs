//! # SG124 attach-partition-before-pg12
//!
//! ## What it does
//! Flags `ATTACH PARTITION` when `postgres_version` is below 12.
//!
//! ## Why is this bad?
//! Before PostgreSQL 12 attaching a partition takes an ACCESS EXCLUSIVE lock on the partitioned
//! parent, blocking reads and writes of every partition while the new partition is scanned.
//! From 12 on it takes SHARE UPDATE EXCLUSIVE.
//!
//! ## Example
//! ```sql
//! ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
//! ```
//!
//! ## Use instead
//! ```sql
//! -- add a CHECK matching the bounds to the partition first so the scan is skipped, and use a short lock_timeout
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.pg < 12
        && let Change::AttachPartition { parent, .. } = change
        && !ctx.is_new(parent)
    {
        out.push(Hit::new(
            format!("on PostgreSQL {} ATTACH PARTITION takes an ACCESS EXCLUSIVE lock on `{parent}`, blocking reads and writes of every partition", ctx.pg),
            "add a CHECK matching the bounds to the partition first so the scan is skipped, and run with a short lock_timeout",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG124",
            "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');",
            11
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG124",
            "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');",
            12,
        );
    }
}
