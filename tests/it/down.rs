//! `migrate down`: the real binary against a real PostgreSQL.

use std::time::{Duration, Instant};

use crate::support::project::{Output, Project, assert_exit, finish, tables};

fn down(p: &Project, args: &[&str]) -> Output {
    let mut all = vec!["migrate", "down", "--env", "staging"];
    all.extend_from_slice(args);
    p.run(&all)
}

/// `version:status` of every state row, in version order.
fn statuses(p: &Project) -> Vec<String> {
    p.query("SELECT version || ':' || status FROM stagegate.migrations ORDER BY version")
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect()
}

/// Versions of the `down` events, oldest first.
fn down_events(p: &Project) -> Vec<String> {
    p.query("SELECT version FROM stagegate.events WHERE kind = 'down' ORDER BY id")
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect()
}

fn audit_verifies(p: &Project) {
    let out = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&out, 0);
}

fn three_tables(p: &Project) {
    for (version, table) in [("1", "a"), ("2", "b"), ("3", "c")] {
        p.write(
            &format!("{version}_{table}.up.sql"),
            &format!("CREATE TABLE {table} (id int);\n"),
        );
        p.write(
            &format!("{version}_{table}.down.sql"),
            &format!("DROP TABLE {table};\n"),
        );
    }
}

#[test]
fn down_steps_and_to_revert_newest_first_and_apply_applies_again() {
    let p = Project::new("");
    three_tables(&p);
    assert_exit(&p.apply(), 0);

    let out = down(&p, &["--steps", "2"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("staging: reverted 2 migration(s)"),
        "{}",
        out.stdout
    );
    assert_eq!(tables(&p), ["a"]);
    assert_eq!(statuses(&p), ["1:applied", "2:reverted", "3:reverted"]);
    assert_eq!(down_events(&p), ["3", "2"], "newest first");
    let status = p.run(&["migrate", "status", "--env", "staging"]);
    assert_exit(&status, 0);
    let pending: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.starts_with('│') && l.contains("pending"))
        .collect();
    assert_eq!(pending.len(), 2, "{}", status.stdout);
    audit_verifies(&p);

    // Nothing newer than 1 is applied any more.
    let out = down(&p, &["--to", "1"]);
    assert_exit(&out, 0);
    assert!(out.stdout.contains("nothing to revert"), "{}", out.stdout);

    // Apply applies them again, and --to reverts everything newer than its version.
    assert_exit(&p.apply(), 0);
    assert_eq!(tables(&p), ["a", "b", "c"]);
    assert_eq!(statuses(&p), ["1:applied", "2:applied", "3:applied"]);
    let out = down(&p, &["--to", "1"]);
    assert_exit(&out, 0);
    assert_eq!(tables(&p), ["a"]);
    assert_eq!(down_events(&p), ["3", "2", "3", "2"]);
    audit_verifies(&p);
}

#[track_caller]
fn refused(p: &Project, args: &[&str], reason: &str) {
    let out = down(p, args);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(reason),
        "wanted `{reason}` in\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was run"), "{}", out.stderr);
}

#[test]
fn every_refusal_changes_nothing() {
    let p = Project::new("");
    three_tables(&p);
    assert_exit(&p.apply(), 0);
    let before = (tables(&p), statuses(&p));

    p.write("3_c.down.sql", "DROP TABLE c CASCADE;\n");
    refused(&p, &["--steps", "1"], "the down script");
    refused(&p, &["--steps", "1"], "changed since 3_c was applied");
    p.write("3_c.down.sql", "DROP TABLE c;\n");

    p.write("3_c.up.sql", "CREATE TABLE c (id bigint);\n");
    refused(&p, &["--steps", "1"], "no longer matches what was applied");
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");

    refused(&p, &["--to", "7"], "--to 7: no migration 7");
    refused(&p, &["--steps", "4"], "only 3 migration(s) are applied");

    p.write("4_d.up.sql", "CREATE TABLE d (id int);\n");
    refused(
        &p,
        &["--to", "4"],
        "4_d is not applied in `staging` (it is pending)",
    );
    assert_exit(&p.apply(), 0);
    let before = (
        {
            let mut t = before.0.clone();
            t.push("d".into());
            t
        },
        {
            let mut s = before.1.clone();
            s.push("4:applied".into());
            s
        },
    );
    refused(&p, &["--steps", "1"], "4_d has no down script");
    p.write("4_d.down.sql", "-- nothing to undo\n/* really */\n");
    refused(&p, &["--steps", "1"], "is empty (comments only)");
    p.write("4_d.down.sql", "DROP TABLE d;\n");
    refused(
        &p,
        &["--steps", "1"],
        "4_d was applied without a down script",
    );

    // Apply order, not version order: 3 was (as far as the record says) applied after 4.
    p.query("UPDATE stagegate.migrations SET finished_at = now() + interval '1 hour' WHERE version = '3'");
    refused(
        &p,
        &["--to", "3"],
        "4_d is not the newest applied migration: 3_c was applied after it",
    );

    assert_eq!((tables(&p), statuses(&p)), before, "nothing changed");
    assert!(down_events(&p).is_empty());
}

fn guarded(p: &Project) {
    p.write("1_t.up.sql", "CREATE TABLE t (id int, code varchar(50));\n");
    p.write("1_t.down.sql", "DROP TABLE t;\n");
    p.write("2_email.up.sql", "ALTER TABLE t ADD COLUMN email text;\n");
    p.write("2_email.down.sql", "ALTER TABLE t DROP COLUMN email;\n");
    p.write(
        "3_wider.up.sql",
        "ALTER TABLE t ALTER COLUMN code TYPE varchar(100);\n",
    );
    p.write(
        "3_wider.down.sql",
        "ALTER TABLE t ALTER COLUMN code TYPE varchar(50);\n",
    );
    assert_exit(&p.apply(), 0);
}

#[test]
fn the_data_loss_guard_counts_rows_and_values_on_the_live_database() {
    let p = Project::new("");
    guarded(&p);
    p.query("INSERT INTO t (id, code) VALUES (1, 'x')");

    // A narrowing type change on a column with values; the email column is all NULL.
    let out = down(&p, &["--steps", "2"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(
            "3_wider line 1: ALTER COLUMN TYPE narrows the column on column t.code \
             (character varying(100)), which holds 1 non-null value(s)"
        ),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("t.email"),
        "an all-NULL column passes: {}",
        out.stderr
    );
    assert!(out.stderr.contains("--allow-data-loss"), "{}", out.stderr);

    p.query("UPDATE t SET email = 'a@b'");
    let out = down(&p, &["--steps", "2"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("2_email line 1: DROP COLUMN drops the column on column t.email (text), which holds 1 non-null value(s)"),
        "{}",
        out.stderr
    );
    assert_eq!(statuses(&p), ["1:applied", "2:applied", "3:applied"]);

    let out = down(&p, &["--steps", "2", "--allow-data-loss"]);
    assert_exit(&out, 0);
    assert!(
        out.stderr.contains("--allow-data-loss: DROP COLUMN"),
        "{}",
        out.stderr
    );
    assert_eq!(statuses(&p), ["1:applied", "2:reverted", "3:reverted"]);

    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("1_t line 1: DROP TABLE on table t, which holds 1 row(s)"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["t"]);
    // An empty table passes.
    p.query("DELETE FROM t");
    assert_exit(&down(&p, &["--steps", "1"]), 0);
    assert!(tables(&p).is_empty());
    audit_verifies(&p);
}

#[test]
fn objects_the_down_script_creates_first_are_not_counted() {
    let p = Project::new("");
    p.write("1_keep.up.sql", "CREATE TABLE keep (id int);\n");
    p.write(
        "1_keep.down.sql",
        "ALTER TABLE keep RENAME TO keep_saved;\nCREATE TABLE keep (id int);\nDROP TABLE keep;\n",
    );
    assert_exit(&p.apply(), 0);
    p.query("INSERT INTO keep VALUES (1), (2)");
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 0);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM keep_saved"),
        Some("2".into())
    );
}

#[test]
fn an_unclassified_statement_is_not_taken_as_harmless() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "FROBNICATE TABLE a;\n");
    assert_exit(&p.apply(), 0);
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("`FROBNICATE TABLE a;` could not be classified"),
        "{}",
        out.stderr
    );
    assert_eq!(statuses(&p), ["1:applied"]);
}

#[test]
fn dry_run_reports_rows_and_dropped_objects_and_rolls_back() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (2), (3);\n",
    );
    p.write("1_t.down.sql", "DELETE FROM t;\nDROP TABLE t;\n");
    assert_exit(&p.apply(), 0);

    // The guard holds for a dry run too.
    assert_exit(&down(&p, &["--steps", "1", "--dry-run"]), 3);

    let out = down(&p, &["--steps", "1", "--dry-run", "--allow-data-loss"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("line 1: DELETE FROM t;  -> 3 row(s)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("dropped: table t"), "{}", out.stdout);
    assert!(out.stdout.contains("nothing was changed"), "{}", out.stdout);
    assert_eq!(p.scalar("SELECT count(*)::text FROM t"), Some("3".into()));
    assert_eq!(statuses(&p), ["1:applied"]);
    assert!(down_events(&p).is_empty());
}

#[test]
fn a_no_transaction_down_that_fails_part_way_resumes_where_it_stopped() {
    let p = Project::new("");
    p.write(
        "1_idx.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE t (id int);\n\
         CREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON t (id);\n",
    );
    p.write(
        "1_idx.down.sql",
        "-- stagegate:no-transaction\nDROP INDEX CONCURRENTLY t_b;\nDROP TABLE needed_by_down;\n\
         DROP INDEX CONCURRENTLY t_a;\n",
    );
    assert_exit(&p.apply(), 0);
    let indexes = || {
        p.query("SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1")
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect::<Vec<_>>()
    };

    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("resumes at statement 2"),
        "{}",
        out.stderr
    );
    assert_eq!(indexes(), ["t_a"], "statement 1 ran and stays");
    assert_eq!(
        p.query("SELECT status, down_statements_done::text FROM stagegate.migrations")[0],
        [Some("reverting".to_string()), Some("1".to_string())]
    );
    audit_verifies(&p);
    // Apply does not go forward over a half-reverted migration.
    let apply = p.apply();
    assert_exit(&apply, 3);
    assert!(
        apply.stderr.contains("is partly reverted"),
        "{}",
        apply.stderr
    );

    p.query("CREATE TABLE needed_by_down (id int)");
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 0);
    assert!(out.stderr.contains("resuming 1_idx"), "{}", out.stderr);
    assert!(indexes().is_empty());
    assert_eq!(statuses(&p), ["1:reverted"]);
    audit_verifies(&p);
}

#[test]
fn ctrl_c_during_a_down_cancels_on_the_server_and_records_the_failure() {
    let p = Project::new("");
    p.write("1_s.up.sql", "CREATE TABLE s (id int);\n");
    p.write("1_s.down.sql", "DROP TABLE s;\nSELECT pg_sleep(30);\n");
    assert_exit(&p.apply(), 0);
    let child = p
        .child(&["migrate", "down", "--env", "staging", "--steps", "1"])
        .spawn()
        .unwrap();
    let sleeping = "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' \
         AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()";
    let started = Instant::now();
    while p.scalar(sleeping).as_deref() != Some("1") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the down never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = finish(child, "migrate down after SIGINT");
    let stderr = out.stderr;
    assert_eq!(out.code, 4, "{stderr}");
    assert!(
        stderr.contains(
            "1_s interrupted (Ctrl-C): the running statement was cancelled on the server"
        ),
        "{stderr}"
    );
    assert_eq!(
        p.scalar(sleeping).as_deref(),
        Some("0"),
        "the server stopped"
    );
    assert_eq!(tables(&p), ["s"], "the down's transaction was rolled back");
    let row = &p.query("SELECT status, error FROM stagegate.migrations")[0];
    assert_eq!(row[0].as_deref(), Some("applied"));
    assert!(row[1].as_deref().unwrap().contains("interrupted (Ctrl-C)"));
    assert_eq!(
        p.scalar("SELECT kind FROM stagegate.events ORDER BY id DESC LIMIT 1"),
        Some("down_failure".into())
    );
    audit_verifies(&p);
}

#[test]
fn recording_a_revert_twice_fails_and_rolls_its_transaction_back() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "DROP TABLE a;\n");
    assert_exit(&p.apply(), 0);
    let sums = p
        .query("SELECT checksum, down_checksum FROM stagegate.migrations")
        .remove(0);
    assert_exit(&down(&p, &["--steps", "1"]), 0);
    // What a second, unlocked run of the same down would send.
    let sql = format!(
        "BEGIN; CREATE TABLE again (id int); SELECT stagegate.record_revert('1', '1', 'a', '{}', \
         '{}', false, NULL, 1); COMMIT",
        sums[0].as_deref().unwrap(),
        sums[1].as_deref().unwrap()
    );
    let url = p.db.database_url();
    let error = crate::support::harness::block_on(async move {
        let client = stagegate::connect(&url).await.unwrap();
        let error = client.batch_execute(&sql).await.unwrap_err();
        let _ = client.batch_execute("ROLLBACK").await;
        error
    });
    assert_eq!(error.code().map(|c| c.code()), Some("ST005"), "{error:?}");
    assert!(tables(&p).is_empty(), "the transaction rolled back");
    assert_eq!(down_events(&p), ["1"]);
}

#[test]
fn a_gated_environment_gets_the_confirmation_and_a_fresh_backup_first() {
    let p = Project::new("");
    three_tables(&p);
    assert_exit(&p.apply(), 0);
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}confirm = true\nbackup = {{ dir = \"backups\" }}\n"),
    )
    .unwrap();
    // No terminal and no --confirm: refused, nothing changed.
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(
            "`staging` needs a confirmation: run on a terminal to type it, or pass --confirm staging"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["a", "b", "c"]);
    assert!(down_events(&p).is_empty());
    let out = down(
        &p,
        &["--steps", "1", "--confirm", "production", "--reason", "x"],
    );
    assert_exit(&out, 3);
    assert_eq!(tables(&p), ["a", "b", "c"]);

    // Confirmed: the confirmation is recorded, a backup is taken, then the down runs.
    let out = down(
        &p,
        &[
            "--steps",
            "1",
            "--confirm",
            "staging",
            "--reason",
            "c broke checkout",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(tables(&p), ["a", "b"]);
    let events = p.query("SELECT kind, detail FROM stagegate.events ORDER BY id");
    let kinds: Vec<&str> = events.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "bind",
            "apply",
            "apply",
            "apply",
            "confirmation",
            "backup",
            "down"
        ]
    );
    let detail: serde_json::Value = serde_json::from_str(events[4][1].as_deref().unwrap()).unwrap();
    assert_eq!(detail["action"], "down");
    assert_eq!(detail["reason"], "c broke checkout");
    assert_eq!(detail["migrations"], serde_json::json!(["3"]));
    let dumps = std::fs::read_dir(p.dir.path().join("backups"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".dump")
        })
        .count();
    assert_eq!(dumps, 1);
    audit_verifies(&p);
}

#[test]
fn plan_shows_the_way_back_of_each_pending_migration() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "DROP TABLE a;\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.write("2_b.down.sql", "-- TODO\n");
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");
    let out = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&out, 0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let way_back: Vec<&str> = plan["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["way_back"].as_str().unwrap())
        .collect();
    assert_eq!(way_back, ["present", "empty", "missing"]);
    let text = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&text, 0);
    // On each migration's line after the table.
    for (version, cell) in [("1", "yes"), ("2", "empty"), ("3", "missing")] {
        let line = text
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("  {version}: ")))
            .unwrap_or_else(|| panic!("{}", text.stdout));
        assert!(line.contains(&format!(", down {cell},")), "{line}");
    }
}

#[test]
fn cascading_drops_of_schemas_and_types_count_what_they_take_with_them() {
    let p = Project::new("");
    p.write(
        "1_sales.up.sql",
        "CREATE SCHEMA sales;\nCREATE TABLE sales.orders (id int);\n\
         CREATE TYPE mood AS ENUM ('ok', 'meh');\nCREATE TABLE people (id int, m mood);\n\
         CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (p int REFERENCES parent);\n",
    );
    p.write(
        "1_sales.down.sql",
        "TRUNCATE parent CASCADE;\nDROP TABLE child, parent;\nDROP TABLE people;\n\
         DROP TYPE mood CASCADE;\nDROP SCHEMA sales CASCADE;\n",
    );
    assert_exit(&p.apply(), 0);
    p.query(
        "INSERT INTO sales.orders VALUES (1), (2); INSERT INTO people VALUES (1, 'ok'); \
         INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1)",
    );
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 3);
    for wanted in [
        "DROP SCHEMA ... CASCADE on table sales.orders, which holds 2 row(s)",
        "TRUNCATE on table parent, which holds 1 row(s)",
        "TRUNCATE ... CASCADE empties the referencing table on table child, which holds 1 row(s)",
    ] {
        assert!(
            out.stderr.contains(wanted),
            "wanted `{wanted}` in\n{}",
            out.stderr
        );
    }
    // people is dropped before the type, so the type's CASCADE takes no column with it here;
    // the DROP TABLE of people is what counts.
    assert!(
        out.stderr
            .contains("DROP TABLE on table people, which holds 1 row(s)"),
        "{}",
        out.stderr
    );
    assert_eq!(statuses(&p), ["1:applied"]);
}

#[test]
fn a_cascading_type_drop_counts_the_columns_it_drops() {
    let p = Project::new("");
    p.write(
        "1_mood.up.sql",
        "CREATE TYPE mood AS ENUM ('ok', 'meh');\nALTER TABLE people ADD COLUMN m mood;\n",
    );
    p.write("1_mood.down.sql", "DROP TYPE mood CASCADE;\n");
    p.query("CREATE TABLE people (id int)");
    assert_exit(&p.apply(), 0);
    p.query("INSERT INTO people VALUES (1, 'meh'), (2, NULL)");
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("DROP TYPE ... CASCADE drops the column on column public.people.m (type mood), which holds 1 non-null value(s)"),
        "{}",
        out.stderr
    );
}

/// A gated down whose backup cannot be taken does not run: the backup gate's error stops it.
/// (Mutant: `crate::backup::gate(...)`'s result ignored in deploy/down.rs.)
#[test]
fn a_down_whose_backup_fails_runs_nothing() {
    let p = Project::new("");
    three_tables(&p);
    assert_exit(&p.apply(), 0);
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "[backup]\npg_dump = \"/nonexistent/pg_dump\"\n\n{text}confirm = true\n\
             backup = {{ dir = \"backups\" }}\n"
        ),
    )
    .unwrap();
    let out = down(
        &p,
        &[
            "--steps",
            "1",
            "--confirm",
            "staging",
            "--reason",
            "c broke",
        ],
    );
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("/nonexistent/pg_dump"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["a", "b", "c"]);
    assert_eq!(statuses(&p), ["1:applied", "2:applied", "3:applied"]);
    assert!(down_events(&p).is_empty());
    audit_verifies(&p);
}

/// `DELETE FROM t` without a WHERE clause empties the table: the guard counts its rows.
/// (Mutant: the data-loss guard's `Change::Delete` arm skipping a DELETE that reaches every
/// row, in deploy/down.rs.)
#[test]
fn a_delete_without_where_in_a_down_script_is_data_loss() {
    let p = Project::new("");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    p.write("1_t.down.sql", "DROP TABLE t;\n");
    p.write("2_seed.up.sql", "INSERT INTO t VALUES (1), (2);\n");
    p.write("2_seed.down.sql", "DELETE FROM t;\n");
    assert_exit(&p.apply(), 0);
    p.query("INSERT INTO t VALUES (3)");
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("2_seed line 1: DELETE on table t, which holds 3 row(s)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM t").as_deref(),
        Some("3")
    );
    assert_eq!(statuses(&p), ["1:applied", "2:applied"]);
    let out = down(&p, &["--steps", "1", "--allow-data-loss"]);
    assert_exit(&out, 0);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM t").as_deref(),
        Some("0")
    );
}

/// A down that lost its advisory lock stops before the next migration, as apply does.
/// (Mutant: the `lock.check()` between migrations removed from deploy/down.rs.)
#[test]
fn a_down_that_lost_its_lock_stops_before_the_next_migration() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "DROP TABLE a;\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.write("2_b.down.sql", "DROP TABLE b;\nSELECT pg_sleep(1.5);\n");
    assert_exit(&p.apply(), 0);
    let child = p
        .child(&["migrate", "down", "--env", "staging", "--steps", "2"])
        .spawn()
        .unwrap();
    let sleeping = "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE \
                    '%pg_sleep(1.5)%' AND state = 'active' AND pid <> pg_backend_pid() \
                    AND datname = current_database()";
    let started = Instant::now();
    while p.scalar(sleeping).as_deref() != Some("1") {
        assert!(
            started.elapsed() < crate::support::harness::DEADLINE,
            "the down never reached pg_sleep(1.5)"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let key = stagegate::LOCK_KEY;
    let terminated = p.scalar(&format!(
        "SELECT count(pg_terminate_backend(pid))::text FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND classid = (({key}::bigint >> 32) & 4294967295)::bigint::oid \
           AND objid = ({key}::bigint & 4294967295)::bigint::oid"
    ));
    assert_eq!(terminated.as_deref(), Some("1"));
    let out = finish(child, "migrate down --steps 2");
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("lost the stagegate lock on")
            && out.stderr.contains("reverting 1_a was not started"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["a"], "2 was reverted, 1 was not");
    assert_eq!(statuses(&p), ["1:applied", "2:reverted"]);
    audit_verifies(&p);
}

/// On a terminal, a gated down shows what it reverts (newest first, how each runs) and the
/// data it lets go before it asks for the phrase; with nothing to lose, no data-loss heading.
/// (Mutants in deploy/down.rs `summary`: an empty or replaced summary, `!losses.is_empty()`
/// with its `!` deleted.)
#[test]
fn on_a_terminal_a_gated_down_shows_what_it_reverts_and_loses_before_the_phrase() {
    let p = Project::new("");
    three_tables(&p);
    assert_exit(&p.apply(), 0);
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}confirm = true\n")).unwrap();
    p.query("INSERT INTO c VALUES (1)");
    let on_terminal = |args: &[&str], phrase: &str| {
        let mut all = vec!["migrate", "down", "--env", "staging"];
        all.extend_from_slice(args);
        let mut pty = crate::gates::Pty::spawn_command(p.child(&all));
        pty.wait_for("Type `staging` to roll back ");
        pty.type_line(phrase);
        pty.wait_for("Reason (recorded in the event log): ");
        pty.type_line("checkout broke");
        pty.finish()
    };

    let (code, seen) = on_terminal(&["--steps", "1", "--allow-data-loss"], "staging");
    assert_eq!(code, 0, "{seen}");
    let shown = &seen[..seen.find("Type `staging`").unwrap()];
    for expected in [
        "About to roll back 1 migration(s) on `staging`, newest first:",
        "  3 c (transaction, 1 statement(s))",
        "Data that will be lost (--allow-data-loss):",
        "  3_c line 1: DROP TABLE on table c, which holds 1 row(s)",
    ] {
        assert!(shown.contains(expected), "{expected}:\n{seen}");
    }
    assert_eq!(tables(&p), ["a", "b"]);

    // Two empty tables: both listed, newest first, and nothing said about data.
    let (code, seen) = on_terminal(&["--steps", "2"], "staging");
    assert_eq!(code, 0, "{seen}");
    let shown = &seen[..seen.find("Type `staging`").unwrap()];
    let b = shown.find("  2 b (transaction, 1 statement(s))");
    let a = shown.find("  1 a (transaction, 1 statement(s))");
    assert!(b.is_some() && a.is_some() && b < a, "{seen}");
    assert!(
        shown.contains("About to roll back 2 migration(s) on `staging`"),
        "{seen}"
    );
    assert!(!shown.contains("Data that will be lost"), "{seen}");
    assert!(tables(&p).is_empty());
    audit_verifies(&p);
}

/// A down script runs with the environment's `lock_timeout` and `statement_timeout`, its own
/// directives over them, as an up script does. (Mutant: deploy/down.rs `down_timeouts`
/// returning `Timeouts::default()`, so a down would wait on a lock without limit.)
#[test]
fn a_down_script_runs_with_the_environments_timeouts_and_its_own_directives() {
    let p = Project::new("lock_timeout = \"3s\"\nstatement_timeout = \"15min\"");
    for (version, table) in [("1", "a"), ("2", "b")] {
        p.write(
            &format!("{version}_{table}.up.sql"),
            &format!("CREATE TABLE {table} (id int);\n"),
        );
    }
    p.write(
        "1_a.down.sql",
        "CREATE TABLE seen_env AS SELECT current_setting('lock_timeout') AS lock, \
         current_setting('statement_timeout') AS statement;\nDROP TABLE a;\n",
    );
    p.write(
        "2_b.down.sql",
        "-- stagegate:lock-timeout 500ms\n\
         CREATE TABLE seen_file AS SELECT current_setting('lock_timeout') AS lock, \
         current_setting('statement_timeout') AS statement;\nDROP TABLE b;\n",
    );
    assert_exit(&p.apply(), 0);
    assert_exit(&down(&p, &["--steps", "2"]), 0);
    let seen = |table: &str| p.query(&format!("SELECT lock, statement FROM {table}"))[0].clone();
    let pair = |a: &str, b: &str| vec![Some(a.to_string()), Some(b.to_string())];
    assert_eq!(seen("seen_env"), pair("3s", "15min"));
    assert_eq!(seen("seen_file"), pair("500ms", "15min"));
}

/// What a down script creates before it drops it is not counted, whatever kind it is: a
/// schema, a type, a column (dropped, or narrowed), a table (emptied by DELETE). Each of them
/// here has the name of a live object that holds data, renamed out of the way first.
/// (Mutants in deploy/down.rs `data_loss`: the `CreateSchema`, `CreateEnum`/`CreateDomain`
/// and `AddColumn` arms deleted, the `DropColumn`, `AlterColumnType` and `Delete` guards made
/// `true`, and their `&&` made `||`.)
#[test]
fn objects_of_every_kind_the_down_script_creates_first_are_not_counted() {
    let p = Project::new("");
    p.write(
        "1_all.up.sql",
        "CREATE SCHEMA s;\nCREATE TABLE s.t (id int);\nCREATE TYPE mood AS ENUM ('ok');\n\
         CREATE TABLE people (id int, m mood, email text, code varchar(100));\n\
         CREATE TABLE logs (id int);\n",
    );
    p.write(
        "1_all.down.sql",
        "ALTER SCHEMA s RENAME TO s_saved;\nCREATE SCHEMA s;\nDROP SCHEMA s CASCADE;\n\
         ALTER TYPE mood RENAME TO mood_saved;\nCREATE TYPE mood AS ENUM ('ok');\n\
         DROP TYPE mood CASCADE;\n\
         ALTER TABLE people RENAME COLUMN email TO email_saved;\n\
         ALTER TABLE people ADD COLUMN email text;\nALTER TABLE people DROP COLUMN email;\n\
         ALTER TABLE people RENAME COLUMN code TO code_saved;\n\
         ALTER TABLE people ADD COLUMN code varchar(100);\n\
         ALTER TABLE people ALTER COLUMN code TYPE varchar(50);\n\
         ALTER TABLE logs RENAME TO logs_saved;\nCREATE TABLE logs (id int);\nDELETE FROM logs;\n",
    );
    assert_exit(&p.apply(), 0);
    p.query(
        "INSERT INTO s.t VALUES (1); INSERT INTO people VALUES (1, 'ok', 'a@b', 'x'); \
         INSERT INTO logs VALUES (1)",
    );
    let out = down(&p, &["--steps", "1"]);
    assert_exit(&out, 0);
    assert!(!out.stderr.contains("allow-data-loss"), "{}", out.stderr);
    assert_eq!(statuses(&p), ["1:reverted"]);
    let saved = p.query(
        "SELECT (SELECT count(*) FROM s_saved.t)::text, \
         (SELECT m::text || ' ' || email_saved || ' ' || code_saved FROM people), \
         (SELECT count(*) FROM logs_saved)::text",
    );
    assert_eq!(
        saved[0],
        [
            Some("1".to_string()),
            Some("ok a@b x".to_string()),
            Some("1".to_string())
        ]
    );
}

/// A dry run on a gated environment sends no statement of the down script there: it lists
/// them at their lines in the file, and what they drop as the statements read.
/// (Mutants in deploy/down.rs: `env.is_gated() || options.read_only` made `&&`, so the
/// statements ran on the gated database; `read_only_dry_run` returning nothing, its line
/// arithmetic, its `Drop` and `DropColumn` arms deleted.)
#[test]
fn a_dry_run_on_a_gated_environment_runs_no_statement_and_lists_what_they_drop() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int, email text);\nCREATE TABLE u (id int);\n",
    );
    p.write(
        "1_t.down.sql",
        "-- undoes 1\nALTER TABLE t DROP COLUMN email;\n\nDROP TABLE t, u;\n",
    );
    assert_exit(&p.apply(), 0);
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}confirm = true\n")).unwrap();
    p.query("INSERT INTO t VALUES (1, 'a@b')");

    let out = down(&p, &["--steps", "1", "--dry-run", "--allow-data-loss"]);
    assert_exit(&out, 0);
    let why = "not run: `staging` is gated, so a dry run sends no statement of the script there";
    for expected in [
        "dry run of the down of 1_t on `staging`:".to_string(),
        format!("  line 2: ALTER TABLE t DROP COLUMN email;  -> {why}"),
        format!("  line 4: DROP TABLE t, u;  -> {why}"),
        "  drops (as its statements read): column t.email, table t, table u".to_string(),
        "dry run: no statement was run on `staging` (read-only queries only); nothing was changed"
            .to_string(),
    ] {
        assert!(
            out.stdout.lines().any(|l| l == expected),
            "wanted `{expected}` in\n{}",
            out.stdout
        );
    }
    assert_eq!(p.scalar("SELECT email FROM t"), Some("a@b".into()));
    assert_eq!(tables(&p), ["t", "u"]);
    assert_eq!(statuses(&p), ["1:applied"]);
    assert!(down_events(&p).is_empty());
}

/// A dry run of a no-transaction down runs what it can in its own transaction and reports the
/// rest as not run: the script's own BEGIN and COMMIT (its COMMIT would commit the dry run),
/// what the classifier knows cannot run in a transaction block (not sent at all, even where
/// the server would take it: `CREATE SUBSCRIPTION ... WITH (connect = false)`), and what the
/// server refuses in a block (`CLUSTER` without a table). Then the down itself runs, its
/// explicit block included. (Mutants in deploy/down.rs: `dry_run_body`'s and
/// `check_targets`' `check_script(.., !no_transaction)` with the `!` deleted, which refuses
/// the block; the `Class::Transaction` and `Class::NoTransactionBlock` arms deleted; the
/// guard of the server's refusal made `false`.)
#[test]
fn a_dry_run_of_a_no_transaction_down_skips_its_transaction_control_and_what_cannot_run_in_a_block()
{
    let p = Project::new("");
    p.write("1_sub.up.sql", "CREATE TABLE s (id int);\n");
    // Only dry-run: run for real it would leave a subscription, which keeps its database.
    p.write(
        "1_sub.down.sql",
        "-- stagegate:no-transaction\n\
         CREATE SUBSCRIPTION stagegate_dry CONNECTION 'host=127.0.0.1 dbname=none' \
         PUBLICATION p WITH (connect = false);\nDROP TABLE s;\n",
    );
    p.write(
        "2_idx.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE t (id int);\n\
         CREATE INDEX CONCURRENTLY t_a ON t (id);\n",
    );
    p.write(
        "2_idx.down.sql",
        "-- stagegate:no-transaction\nDROP INDEX CONCURRENTLY t_a;\nBEGIN;\nDROP TABLE t;\n\
         COMMIT;\nCLUSTER;\n",
    );
    assert_exit(&p.apply(), 0);

    let out = down(&p, &["--steps", "2", "--dry-run", "--allow-data-loss"]);
    assert_exit(&out, 0);
    let block = "not run: cannot run inside a transaction block, so a dry run does not run it";
    let control =
        "transaction control; the dry run's own transaction stays open and is rolled back";
    for expected in [
        format!("  line 2: DROP INDEX CONCURRENTLY t_a;  -> {block}"),
        format!("  line 3: BEGIN;  -> not run: BEGIN: {control}"),
        format!("  line 5: COMMIT;  -> not run: COMMIT: {control}"),
        format!("  line 6: CLUSTER;  -> {block}"),
        "  dropped: index t_a, table t".to_string(),
        // The statement shown is its first 80 characters.
        format!(
            "  line 2: CREATE SUBSCRIPTION stagegate_dry CONNECTION 'host=127.0.0.1 dbname=none' \
             PUBLIC  -> {block}"
        ),
        "dry run: everything was rolled back, nothing was changed".to_string(),
    ] {
        assert!(
            out.stdout.lines().any(|l| l == expected),
            "wanted `{expected}` in\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("  line 4: DROP TABLE t;  -> "),
        "{}",
        out.stdout
    );
    assert_eq!(tables(&p), ["s", "t"]);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM pg_subscription"),
        Some("0".into())
    );
    assert_eq!(
        p.scalar("SELECT to_regclass('t_a') IS NOT NULL"),
        Some("t".into())
    );

    // The down runs its explicit block.
    let out = down(&p, &["--steps", "1", "--allow-data-loss"]);
    assert_exit(&out, 0);
    assert_eq!(tables(&p), ["s"]);
    assert_eq!(statuses(&p), ["1:applied", "2:reverted"]);
    audit_verifies(&p);
}

/// A dry run stops at a statement that fails, says where, and rolls everything back.
/// (Mutant: deploy/down.rs `dry_run_body`'s guard for the server's "cannot run inside a
/// transaction block" made `true`, which reported every failure as a statement not run.)
#[test]
fn a_dry_run_stops_at_the_statement_that_fails_and_rolls_back() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int);\nCREATE TABLE u (id int);\n",
    );
    p.write(
        "1_t.down.sql",
        "DROP TABLE u;\nDROP TABLE gone;\nDROP TABLE t;\n",
    );
    assert_exit(&p.apply(), 0);
    let out = down(&p, &["--steps", "1", "--dry-run"]);
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("dry run of 1_t: ")
            && out.stderr.contains("1_t.down.sql line 2 failed")
            && out
                .stderr
                .contains("the down would fail there (everything was rolled back)"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["t", "u"]);
    assert_eq!(statuses(&p), ["1:applied"]);
}
