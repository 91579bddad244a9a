//! # SG128 attach-partition-scan
//!
//! ## What it does
//! Flags `ALTER TABLE parent ATTACH PARTITION t` (PostgreSQL 12+) when PostgreSQL has to read
//! a whole existing table under ACCESS EXCLUSIVE to prove the new bounds:
//!
//! - `t` existed before the run and has no validated CHECK constraint (the one matching the
//!   bounds lets PostgreSQL skip the scan), as the run or a database's catalog shows;
//! - the parent has a DEFAULT partition (from the run or the catalog): it is scanned for rows
//!   that belong in `t`.
//!
//! A fact neither the migrations nor a catalog (`--env`, `--scratch`) show is named in a
//! warning instead of being guessed.
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on the parent
//! but ACCESS EXCLUSIVE on the table attached (and on the DEFAULT partition), and scans it
//! unless a valid CHECK constraint implies the bounds: 23 ms for 100,000 rows, 260 ms for
//! 1,000,000. Reads and writes of that table (and, through the DEFAULT partition, of the
//! parent's rows there) wait for the whole scan.
//!
//! ## Example
//! ```sql
//! ALTER TABLE logs ATTACH PARTITION logs_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE logs_2024 ADD CONSTRAINT logs_2024_bounds
//!   CHECK (at >= '2024-01-01' AND at < '2025-01-01') NOT VALID;
//! -- migration 2
//! ALTER TABLE logs_2024 VALIDATE CONSTRAINT logs_2024_bounds;
//! -- migration 3 (no scan)
//! ALTER TABLE logs ATTACH PARTITION logs_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
//! ```

use crate::lint::Severity;
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::AttachPartition { parent, partition } = change else {
        return;
    };
    if ctx.pg < 12 {
        // SG124: the whole parent is locked.
        return;
    }
    let mut scans = Vec::new();
    let mut unknown = Vec::new();
    if !ctx.is_new(partition) {
        match ctx.has_validated_check(partition) {
            Some(true) => {}
            Some(false) => scans.push(format!(
                "`{partition}`, which has no validated CHECK constraint matching the bounds"
            )),
            None => unknown.push(ctx.unknown(&format!(
                "whether `{partition}` has a validated CHECK constraint matching the bounds"
            ))),
        }
    }
    if !ctx.is_new(parent) {
        match ctx.has_default_partition(parent) {
            Some(true) => scans.push(format!(
                "`{parent}`'s DEFAULT partition, for rows that belong in `{partition}`"
            )),
            Some(false) => {}
            None => {
                unknown.push(ctx.unknown(&format!("whether `{parent}` has a DEFAULT partition")))
            }
        }
    }
    let help = "first add a CHECK matching the bounds NOT VALID and VALIDATE it in a migration of its own; with a DEFAULT partition, move its rows out in batches before attaching";
    if !scans.is_empty() {
        let mut message = format!(
            "ATTACH PARTITION reads the whole of {} under an ACCESS EXCLUSIVE lock, blocking its reads and writes for a time that grows with the table",
            scans.join(" and ")
        );
        for fact in &unknown {
            message.push_str(&format!("; {fact}"));
        }
        out.push(Hit::new(message, help));
    } else if !unknown.is_empty() {
        out.push(
            Hit::new(
                format!(
                    "ATTACH PARTITION may read a whole table under an ACCESS EXCLUSIVE lock: {}",
                    unknown.join("; ")
                ),
                help,
            )
            .at(Severity::Warning),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
    use crate::lint::test_utils::{lint_errors_pg, lint_history, lint_ok_pg};

    const PARENT: &str = "CREATE TABLE logs (id bigint, at date) PARTITION BY RANGE (at);";
    const ATTACH: &str = "ALTER TABLE logs ATTACH PARTITION logs_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg("SG128", ATTACH, 15));
    }

    #[test]
    fn a_live_table_without_a_check_or_a_default_partition_is_scanned() {
        let live = "CREATE TABLE logs_2024 (id bigint, at date);";
        let found = lint_history("SG128", &[PARENT, live, ATTACH], 15);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            found[0]
                .message
                .contains("`logs_2024`, which has no validated CHECK")
        );
        let default = "CREATE TABLE logs_default PARTITION OF logs DEFAULT;";
        let sql = "CREATE TABLE logs_2024 (id bigint, at date CHECK (at >= '2024-01-01'));\nALTER TABLE logs ATTACH PARTITION logs_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";
        let found = lint_history("SG128", &[PARENT, default, sql], 15);
        assert_eq!(found[0].severity, Severity::Error, "{found:?}");
        assert!(found[0].message.contains("DEFAULT partition"), "{found:?}");
        // Unknown facts: a warning naming them.
        let found = lint_history("SG128", &[ATTACH], 15);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0]
                .message
                .contains("is not known: run with --env E or --scratch")
        );
    }

    #[test]
    fn quiet() {
        // The recipe: a new table with a CHECK matching the bounds, no DEFAULT partition.
        let recipe = "CREATE TABLE logs_2024 (LIKE logs);\nALTER TABLE logs_2024 ADD CONSTRAINT b CHECK (at >= '2024-01-01' AND at < '2025-01-01');\nALTER TABLE logs ATTACH PARTITION logs_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";
        assert!(lint_history("SG128", &[PARENT, recipe], 15).is_empty());
        // A live table whose CHECK was validated in an earlier migration.
        let live = "CREATE TABLE logs_2024 (id bigint, at date);\nALTER TABLE logs_2024 ADD CONSTRAINT b CHECK (at >= '2024-01-01') NOT VALID;";
        let validate = "ALTER TABLE logs_2024 VALIDATE CONSTRAINT b;";
        assert!(lint_history("SG128", &[PARENT, live, validate, ATTACH], 15).is_empty());
        lint_ok_pg(
            "SG128",
            &format!("{PARENT}\nCREATE TABLE logs_2024 (LIKE logs);\n{ATTACH}"),
            15,
        );
    }
}
