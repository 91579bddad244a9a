//! # SG115 table-rewrite-command
//!
//! ## What it does
//! Flags maintenance and storage commands that copy the whole table: `VACUUM FULL`, `CLUSTER`,
//! `ALTER TABLE ... SET TABLESPACE`, `SET LOGGED`, `SET UNLOGGED`.
//!
//! ## Why is this bad?
//! Each writes a new copy of the table (and rebuilds its indexes) while holding an ACCESS
//! EXCLUSIVE lock: nothing can read or write the table until the copy is done.
//!
//! ## Example
//! ```sql
//! VACUUM FULL orders;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- run pg_repack outside the migration (or REPACK CONCURRENTLY on PostgreSQL 19+)
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Rewrite { table, command } = change
        && !table.as_deref().is_some_and(|t| ctx.is_new(t))
    {
        let what = table.as_deref().map_or_else(
            || "every table it touches".to_string(),
            |t| format!("`{t}`"),
        );
        out.push(Hit::new(
            format!("{} rewrites {what} under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole copy", command.label()),
            match command {
                RewriteCommand::VacuumFull | RewriteCommand::Cluster => "use pg_repack outside the migration (REPACK CONCURRENTLY on PostgreSQL 19+)",
                RewriteCommand::SetTablespace => "move the table with pg_repack, or off-peak with a lock_timeout",
                RewriteCommand::SetLogged | RewriteCommand::SetUnlogged => "do not change logging of a live table: create a new table and move the data",
                RewriteCommand::IndexSetTablespace => "build a new index CONCURRENTLY in the tablespace (CREATE INDEX CONCURRENTLY ... TABLESPACE), then drop the old one CONCURRENTLY",
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg("SG115", "VACUUM FULL orders;", 15));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG115", "-- stagegate:no-transaction\nVACUUM orders;", 15);
        lint_ok_pg("SG115", "ALTER TABLE orders SET (fillfactor = 90);", 15);
    }
}
