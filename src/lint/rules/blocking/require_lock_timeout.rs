//! # SG116 require-lock-timeout
//!
//! ## What it does
//! Flags statements that take a lock blocking reads or writes of an existing table when no
//! lock_timeout is in force: no `SET lock_timeout` earlier in the file, no
//! `-- stagegate:lock-timeout` directive, and no `lock_timeout` configured for the environment
//! given with `--env`.
//!
//! It reports once per transaction: on the first such statement, with the lines of the
//! others in the message. A migration that runs in one transaction gets one finding; in a
//! no-transaction migration each statement outside `BEGIN ... COMMIT` is a transaction of
//! its own and is reported on its own. An `allow` directive covers the statement after it:
//! allowing the first statement moves the finding to the next one not allowed; an
//! `allow-file` covers them all.
//!
//! Every statement that takes such a lock is covered the same way: `ALTER TABLE`, `LOCK
//! TABLE`, `CREATE [OR REPLACE] TRIGGER` (SHARE ROW EXCLUSIVE: writes queue, reads go on),
//! `DROP TRIGGER` (ACCESS EXCLUSIVE: reads and writes queue), `ENABLE`/`DISABLE TRIGGER`.
//!
//! It is an error: the stall it prevents is not bounded by the statement or the table but
//! by the oldest open transaction on the table (measured on PostgreSQL 15: behind a 3 s
//! writer, a `CREATE TRIGGER` held every INSERT for 2.3 s; behind a 3 s reader, a `DROP
//! TRIGGER` held every SELECT for 2.4 s), and the fix costs one line, or none where the
//! runner sets a lock_timeout.
//!
//! ## Why is this bad?
//! Locks are granted in queue order. While the DDL waits for a long-running transaction to
//! finish, every later query that conflicts with its lock queues behind it, so even a
//! millisecond ALTER can stall the application for as long as the oldest transaction lives.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! ```
//!
//! ## Use instead
//! ```sql
//! SET lock_timeout = '2s';
//! ALTER TABLE orders ADD COLUMN note text;
//! -- or: -- stagegate:lock-timeout 2s
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.file.lock_timeout_set {
        return;
    }
    if let Some(lock) = locks(change, ctx.pg)
        .into_iter()
        .find(|l| l.mode.blocks_traffic() && !ctx.is_new(&l.table))
    {
        out.push(Hit::new(
            format!(
                "{} lock on `{}` is requested without a lock_timeout: while it waits for the open transactions on `{}`, {} of it queue behind it",
                lock.mode.label(),
                lock.table,
                lock.table,
                lock.mode.blocks()
            ),
            "SET lock_timeout = '2s' first (or `-- stagegate:lock-timeout 2s`, or lock_timeout in the environment) and retry on timeout",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG116",
            "ALTER TABLE orders ADD COLUMN note text;",
            15
        ));
    }

    #[test]
    fn reports_once_per_transaction_with_the_other_lines() {
        let sql = "ALTER TABLE orders ADD COLUMN a text;\nALTER TABLE orders ADD COLUMN b text;\nALTER TABLE users ADD COLUMN c text;";
        let result = crate::lint::test_utils::lint_sql(sql, 15);
        let mine: Vec<_> = result
            .findings
            .iter()
            .filter(|f| f.code == "SG116")
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].line, 1);
        assert!(
            mine[0]
                .message
                .ends_with("; so do 2 more statements of this transaction (lines 2, 3)"),
            "{}",
            mine[0].message
        );
        // Allowing the first statement moves the finding to the second.
        let allowed = format!("-- stagegate:allow SG116 -- a new column\n{sql}");
        let result = crate::lint::test_utils::lint_sql(&allowed, 15);
        let mine: Vec<_> = result
            .findings
            .iter()
            .filter(|f| f.code == "SG116")
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].line, 3);
        assert!(
            mine[0]
                .message
                .ends_with("; so does 1 more statement of this transaction (line 4)"),
            "{}",
            mine[0].message
        );
        // Without a transaction, each statement is its own; a transaction block is one.
        let sql = "-- stagegate:no-transaction\nALTER TABLE orders ADD COLUMN a text;\nALTER TABLE orders ADD COLUMN b text;\nBEGIN;\nALTER TABLE orders ADD COLUMN c text;\nALTER TABLE orders ADD COLUMN d text;\nCOMMIT;";
        let result = crate::lint::test_utils::lint_sql(sql, 15);
        let lines: Vec<usize> = result
            .findings
            .iter()
            .filter(|f| f.code == "SG116")
            .map(|f| f.line)
            .collect();
        assert_eq!(lines, [2, 3, 5], "{:?}", result.findings);
    }

    /// Trigger statements are held to the same rule, at the same severity, with what queues
    /// behind their lock (measured on PostgreSQL 15, docs/hazards.md #94 and #95).
    #[test]
    fn triggers_without_lock_timeout_are_errors() {
        use crate::lint::Severity;
        for (sql, lock, queued) in [
            (
                "CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();",
                "SHARE ROW EXCLUSIVE lock on `orders`",
                ", writes of it queue",
            ),
            (
                "CREATE OR REPLACE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();",
                "SHARE ROW EXCLUSIVE lock on `orders`",
                ", writes of it queue",
            ),
            (
                "DROP TRIGGER IF EXISTS orders_touch ON orders;",
                "ACCESS EXCLUSIVE lock on `orders`",
                ", reads and writes of it queue",
            ),
            (
                "ALTER TABLE orders DISABLE TRIGGER orders_touch;",
                "SHARE ROW EXCLUSIVE lock on `orders`",
                ", writes of it queue",
            ),
        ] {
            let result = crate::lint::test_utils::lint_sql(sql, 15);
            let mine: Vec<_> = result
                .findings
                .iter()
                .filter(|f| f.code == "SG116")
                .collect();
            assert_eq!(mine.len(), 1, "{sql}: {:?}", result.findings);
            assert_eq!(mine[0].severity, Severity::Error, "{sql}");
            assert!(mine[0].message.starts_with(lock), "{}", mine[0].message);
            assert!(mine[0].message.contains(queued), "{}", mine[0].message);
        }
    }

    #[test]
    fn triggers_are_quiet_under_a_lock_timeout_or_on_a_new_table() {
        for sql in [
            "SET lock_timeout = '2s';\nCREATE TRIGGER t_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();",
            "-- stagegate:lock-timeout 2s\nDROP TRIGGER IF EXISTS t_touch ON orders;",
            "CREATE TABLE carts (id bigint);\nCREATE TRIGGER carts_touch BEFORE UPDATE ON carts FOR EACH ROW EXECUTE FUNCTION touch();",
        ] {
            lint_ok_pg("SG116", sql, 15);
        }
        // The runner's lock_timeout (`Config::runner_sets_lock_timeout`) counts as one.
        let sql = "DROP TRIGGER IF EXISTS t_touch ON orders;";
        let (directives, settings) = crate::source::directives::parse(sql, 1).unwrap();
        let options = crate::lint::Options {
            postgres_version: 15,
            lock_timeout_configured: true,
            ..crate::lint::Options::default()
        };
        let result = crate::lint::lint_script(
            crate::lint::Input {
                text: sql,
                first_line: 1,
                directives: &directives,
                settings: &settings,
                unreleased: false,
                edited_since: None,
            },
            &options,
            &mut crate::lint::RunState::default(),
        );
        assert!(
            result.findings.iter().all(|f| f.code != "SG116"),
            "{:?}",
            result.findings
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG116",
            "SET lock_timeout = '2s';\nALTER TABLE orders ADD COLUMN note text;",
            15,
        );
        lint_ok_pg(
            "SG116",
            "-- stagegate:lock-timeout 2s\nALTER TABLE orders ADD COLUMN note text;",
            15,
        );
        lint_ok_pg(
            "SG116",
            "CREATE TABLE t (id bigint);\nALTER TABLE t ADD COLUMN note text;",
            15,
        );
        lint_ok_pg(
            "SG116",
            "CREATE SEQUENCE s;\nALTER SEQUENCE s OWNED BY t.id;",
            15,
        );
    }
}
