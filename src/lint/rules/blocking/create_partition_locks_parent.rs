//! # SG119 create-partition-locks-parent
//!
//! ## What it does
//! Flags `CREATE TABLE ... PARTITION OF` an existing partitioned table. When the parent has a
//! DEFAULT partition, PostgreSQL also scans it for rows that belong in the new partition while
//! holding the lock: that is an error. The run (a `PARTITION OF ... DEFAULT` in an earlier
//! migration) or a database's catalog (`--env`, `--scratch`) says whether it has one; without
//! either, the warning says that this is not known.
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

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateTable {
        partition_of: Some(parent),
        ..
    } = change
        && !ctx.is_new(parent)
    {
        let known = ctx.has_default_partition(parent);
        let default = match known {
            Some(true) => format!(
                ", and reads the whole DEFAULT partition of `{parent}` for rows that belong in the new one while holding it: a time that grows with that partition"
            ),
            Some(false) => String::new(),
            None => format!(
                "; with a DEFAULT partition it also scans that partition under the lock, and {}",
                ctx.unknown(&format!("whether `{parent}` has a DEFAULT partition"))
            ),
        };
        let hit = Hit::new(
            format!(
                "CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE lock on `{parent}`, blocking reads and writes of every partition{default}"
            ),
            format!(
                "create a standalone table with a CHECK matching the bounds, then ATTACH PARTITION (SHARE UPDATE EXCLUSIVE on the parent){}",
                if known == Some(false) {
                    ""
                } else {
                    "; move the rows that belong in it out of the DEFAULT partition first"
                }
            ),
        );
        out.push(if known == Some(true) {
            hit.at(crate::lint::Severity::Error)
        } else {
            hit
        });
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
