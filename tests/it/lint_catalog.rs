//! `lint --env` / `--shadow` and `migrate plan`: facts no migration file shows, read from the
//! database's catalog, decide verdicts; without a database the message names the fact.

use crate::support::project::{Output, Project, assert_exit};

/// A project whose `staging` database was set up with `setup`, `extra` in its environment.
fn project(setup: &str, extra: &str) -> Project {
    let project = Project::new(&format!("lock_timeout = \"1s\"\n{extra}"));
    if !setup.is_empty() {
        project.query(setup);
    }
    project
}

/// Lints `sql` (a lone file) with rule `code` only, with `args` added.
fn lint(project: &Project, sql: &str, code: &str, args: &[&str]) -> Output {
    let file = project.dir.path().join("change.sql");
    std::fs::write(&file, sql).unwrap();
    let mut all = vec!["lint", "--select", code];
    all.extend_from_slice(args);
    all.push(file.to_str().unwrap());
    project.run(&all)
}

fn with_env(project: &Project, sql: &str, code: &str) -> Output {
    lint(project, sql, code, &["--env", "staging"])
}

fn set_zone(project: &Project, zone: &str) {
    let db = &project.db.name;
    project.query(&format!("ALTER DATABASE {db} SET TimeZone = '{zone}'"));
}

#[test]
fn the_old_type_of_a_column_decides_a_type_change() {
    let sql = "ALTER TABLE users ALTER COLUMN email TYPE varchar(50);\n";
    let free = project("CREATE TABLE users (email varchar(20))", "");
    let out = with_env(&free, sql, "SG109");
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("SG109"), "{}", out.stdout);
    let char = project("CREATE TABLE users (email char(20))", "");
    let out = with_env(&char, sql, "SG109");
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("from char(20) to varchar(50) rewrites"),
        "{}",
        out.stdout
    );
    let out = lint(&char, sql, "SG109", &[]);
    assert!(
        out.stdout.contains("warning[SG109]")
            && out.stdout.contains(
                "the old type of `users`.`email` is not known: run with --env E or --scratch"
            ),
        "{}",
        out.stdout
    );
}

#[test]
fn the_time_zone_and_the_index_decide_timestamp_to_timestamptz() {
    let sql = "ALTER TABLE events ALTER COLUMN at TYPE timestamptz;\n";
    let plain = project("CREATE TABLE events (at timestamp)", "");
    set_zone(&plain, "UTC");
    let out = with_env(&plain, sql, "SG109");
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("SG109"), "{}", out.stdout);
    let indexed = project(
        "CREATE TABLE events (at timestamp); CREATE INDEX events_at ON events (at)",
        "",
    );
    set_zone(&indexed, "UTC");
    let out = with_env(&indexed, sql, "SG109");
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("error[SG109]") && out.stdout.contains("`at` is indexed"),
        "{}",
        out.stdout
    );
    set_zone(&indexed, "Europe/Paris");
    let out = with_env(&indexed, sql, "SG109");
    assert_exit(&out, 1);
    assert!(out.stdout.contains("rewrites the table"), "{}", out.stdout);
    let out = lint(&indexed, sql, "SG109", &[]);
    assert!(
        out.stdout
            .contains("the server's TimeZone is not known: run with --env E or --scratch"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_domain_check_decides_adding_a_column_of_it() {
    let sql = "ALTER TABLE orders ADD COLUMN qty positive_int;\n";
    let checked = project(
        "CREATE DOMAIN positive_int AS int CHECK (VALUE > 0); CREATE TABLE orders (id int)",
        "",
    );
    let out = with_env(&checked, sql, "SG108");
    assert_exit(&out, 1);
    assert!(out.stdout.contains("error[SG108]"), "{}", out.stdout);
    let plain = project(
        "CREATE DOMAIN positive_int AS int; CREATE TABLE orders (id int)",
        "",
    );
    let out = with_env(&plain, sql, "SG108");
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("SG108"), "{}", out.stdout);
    let out = lint(&plain, sql, "SG108", &[]);
    assert!(
        out.stdout.contains(
            "whether `positive_int` is a domain with a CHECK is not known: run with --env E"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn partitions_and_a_default_partition_are_read_from_the_catalog() {
    let sql = "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n";
    let parted = "CREATE TABLE events (at date) PARTITION BY RANGE (at)";
    let with_default = project(
        &format!("{parted}; CREATE TABLE events_other PARTITION OF events DEFAULT"),
        "",
    );
    let out = with_env(&with_default, sql, "SG119");
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("error[SG119]")
            && out
                .stdout
                .contains("reads the whole DEFAULT partition of `events`"),
        "{}",
        out.stdout
    );
    let without = project(parted, "");
    let out = with_env(&without, sql, "SG119");
    assert!(out.stdout.contains("warning[SG119]"), "{}", out.stdout);
    assert!(!out.stdout.contains("DEFAULT"), "{}", out.stdout);
    let out = lint(&without, sql, "SG119", &[]);
    assert!(
        out.stdout
            .contains("whether `events` has a DEFAULT partition is not known"),
        "{}",
        out.stdout
    );
    // ON ONLY a table the catalog shows is not partitioned.
    let plain = project("CREATE TABLE orders (id int)", "");
    let out = with_env(
        &plain,
        "CREATE INDEX orders_id ON ONLY orders (id);\n",
        "SG126",
    );
    assert!(
        out.stdout.contains("`orders` is not partitioned"),
        "{}",
        out.stdout
    );
}

#[test]
fn nullability_decides_dropping_a_default_and_setting_not_null() {
    let drop = "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;\n";
    let not_null = project(
        "CREATE TABLE orders (status text NOT NULL DEFAULT 'new')",
        "",
    );
    let out = with_env(&not_null, drop, "SG207");
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("is NOT NULL: dropping"),
        "{}",
        out.stdout
    );
    let out = with_env(
        &not_null,
        "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n",
        "SG110",
    );
    assert_exit(&out, 0);
    let nullable = project("CREATE TABLE orders (status text DEFAULT 'new')", "");
    let out = with_env(&nullable, drop, "SG207");
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("SG207"), "{}", out.stdout);
    let out = with_env(
        &nullable,
        "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n",
        "SG110",
    );
    assert_exit(&out, 1);
    // A validated CHECK (status IS NOT NULL) lets SET NOT NULL skip its scan: decided by the
    // catalog, named as not known without it (the unsafe fixture's SET NOT NULL is this case).
    let set_not_null = "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n";
    let checked = project(
        "CREATE TABLE orders (status text); ALTER TABLE orders ADD CONSTRAINT orders_status_nn CHECK (status IS NOT NULL)",
        "",
    );
    let out = with_env(&checked, set_not_null, "SG110");
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("SG110"), "{}", out.stdout);
    let out = lint(&checked, set_not_null, "SG110", &[]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("warning[SG110]")
            && out
                .stdout
                .contains("whether `orders` has one is not known: run with --env E"),
        "{}",
        out.stdout
    );
    let out = lint(&nullable, drop, "SG207", &[]);
    assert!(
        out.stdout
            .contains("whether `orders`.`status` is NOT NULL is not known"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_sequence_value_decides_narrowing_it() {
    let sql = "ALTER SEQUENCE big_seq AS integer;\n";
    let high = project(
        "CREATE SEQUENCE big_seq AS bigint; SELECT setval('big_seq', 3000000000)",
        "",
    );
    let out = with_env(&high, sql, "SG123");
    assert_exit(&out, 1);
    assert!(
        out.stdout
            .contains("current value 3000000000 exceeds 2147483647"),
        "{}",
        out.stdout
    );
    let low = project(
        "CREATE SEQUENCE big_seq AS bigint; SELECT setval('big_seq', 10)",
        "",
    );
    let out = with_env(&low, sql, "SG123");
    assert_exit(&out, 0);
    assert!(out.stdout.contains("info[SG123]"), "{}", out.stdout);
    assert!(!out.stdout.contains("fails"), "{}", out.stdout);
    let out = lint(&low, sql, "SG123", &[]);
    assert!(
        out.stdout.contains("warning[SG123]")
            && out
                .stdout
                .contains("the current value of `big_seq` is not known"),
        "{}",
        out.stdout
    );
}

const SMALL: &str = "CREATE TABLE small (a int); \
     INSERT INTO small SELECT g FROM generate_series(1, 300) g; ANALYZE small";
const LARGE: &str = "CREATE TABLE large (a int); \
     INSERT INTO large SELECT g FROM generate_series(1, 20000) g; ANALYZE large";

#[test]
fn a_small_table_makes_a_plain_create_index_info() {
    let p = project(&format!("{SMALL}; {LARGE}; CREATE TABLE fresh (a int)"), "");
    let out = with_env(&p, "CREATE INDEX small_a ON small (a);\n", "SG101");
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("info[SG101]")
            && out.stdout.contains(
                "`small` has ~300 rows (below [lint] small_table_rows = 10000): the lock is brief"
            ),
        "{}",
        out.stdout
    );
    let out = with_env(&p, "CREATE INDEX large_a ON large (a);\n", "SG101");
    assert_exit(&out, 1);
    assert!(out.stdout.contains("error[SG101]"), "{}", out.stdout);
    let out = with_env(&p, "CREATE INDEX fresh_a ON fresh (a);\n", "SG101");
    assert_exit(&out, 1);
    assert!(out.stdout.contains("never analyzed"), "{}", out.stdout);
    // Without a database: an error, as always.
    let out = lint(&p, "CREATE INDEX small_a ON small (a);\n", "SG101", &[]);
    assert_exit(&out, 1);
}

#[test]
fn the_small_table_threshold_comes_from_the_config() {
    let p = project(SMALL, "[lint]\nsmall_table_rows = 100");
    let out = with_env(&p, "CREATE INDEX small_a ON small (a);\n", "SG101");
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("small_table_rows = 100"),
        "{}",
        out.stdout
    );
    let bad = project("", "[lint]\nsmall_table_rows = -5");
    let out = with_env(&bad, "SELECT 1;\n", "SG101");
    assert_exit(&out, 2);
    assert!(out.stderr.contains("small_table_rows"), "{}", out.stderr);
}

#[test]
fn migrate_plan_downgrades_an_index_on_a_small_table() {
    let p = project(&format!("{SMALL}; {LARGE}"), "");
    p.write("0001_small.sql", "CREATE INDEX small_a ON small (a);\n");
    p.write("0002_large.sql", "CREATE INDEX large_a ON large (a);\n");
    let out = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stderr);
    let severity = |version: &str| {
        plan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "SG101" && f["version"] == version)
            .map(|f| f["severity"].as_str().unwrap().to_string())
    };
    assert_eq!(severity("0001").as_deref(), Some("info"), "{}", out.stdout);
    assert_eq!(severity("0002").as_deref(), Some("error"), "{}", out.stdout);
}

/// The catalog reads lock no user table: lint finishes while another session holds ACCESS
/// EXCLUSIVE on the table it reads facts of (the reads run with a lock_timeout, so a wait
/// would fail the run rather than hang it).
#[test]
fn catalog_reads_do_not_wait_for_a_locked_table() {
    let p = project(SMALL, "");
    let url = p.db.database_url();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let client = stagegate::connect(&url).await.unwrap();
                client
                    .batch_execute("BEGIN; LOCK TABLE small IN ACCESS EXCLUSIVE MODE")
                    .await
                    .unwrap();
                locked_tx.send(()).unwrap();
                tokio::task::spawn_blocking(move || done_rx.recv())
                    .await
                    .unwrap()
                    .ok();
                client.batch_execute("ROLLBACK").await.unwrap();
            });
    });
    crate::support::harness::recv(&locked_rx, "the session locking small");
    let held = p.scalar(
        "SELECT count(*) FROM pg_locks WHERE relation = 'small'::regclass AND mode = 'AccessExclusiveLock' AND granted",
    );
    let out = with_env(&p, "CREATE INDEX small_a ON small (a);\n", "SG101");
    done_tx.send(()).unwrap();
    crate::support::harness::join(holder, "the session holding the lock on small");
    assert_eq!(held.as_deref(), Some("1"));
    assert_exit(&out, 0);
    assert!(out.stdout.contains("~300 rows"), "{}", out.stdout);
}

/// `--shadow`: the migrations older than the one linted are applied to a scratch database,
/// whose catalog gives the old type.
#[test]
fn shadow_applies_the_earlier_migrations_and_reads_their_facts() {
    let p = project("", "");
    p.write("0001_users.sql", "CREATE TABLE users (email char(20));\n");
    p.write(
        "0002_widen.sql",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(30);\n",
    );
    let file = p.migrations().join("0002_widen.sql");
    let path = file.to_str().unwrap();
    let url = p.db.database_url();
    let out = p.run(&["lint", "--select", "SG109", "--shadow", url.expose(), path]);
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("from char(20) to varchar(30)"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let out = p.run(&["lint", "--select", "SG109", path]);
    assert!(out.stdout.contains("is not known"), "{}", out.stdout);
    // The scratch database is gone.
    let left = p.scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'stagegate_lint_%'");
    assert_eq!(left.as_deref(), Some("0"));
}

#[test]
fn the_index_columns_and_their_nullability_decide_primary_key_using_index() {
    let sql = "ALTER TABLE sku ADD CONSTRAINT sku_pkey PRIMARY KEY USING INDEX sku_code_idx;\n";
    let nullable = project(
        "CREATE TABLE sku (code text); CREATE UNIQUE INDEX sku_code_idx ON sku (code)",
        "",
    );
    let out = with_env(&nullable, sql, "SG129");
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("error[SG129]") && out.stdout.contains("sets `sku`.`code` NOT NULL"),
        "{}",
        out.stdout
    );
    let not_null = project(
        "CREATE TABLE sku (code text NOT NULL); CREATE UNIQUE INDEX sku_code_idx ON sku (code)",
        "",
    );
    let out = with_env(&not_null, sql, "SG129");
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("SG129"), "{}", out.stdout);
    let checked = project(
        "CREATE TABLE sku (code text CONSTRAINT sku_code_nn CHECK (code IS NOT NULL)); CREATE UNIQUE INDEX sku_code_idx ON sku (code)",
        "",
    );
    let out = with_env(&checked, sql, "SG129");
    assert_exit(&out, 0);
    let out = lint(&nullable, sql, "SG129", &[]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("info[SG129]")
            && out
                .stdout
                .contains("which columns `sku_code_idx` covers is not known"),
        "{}",
        out.stdout
    );
}
