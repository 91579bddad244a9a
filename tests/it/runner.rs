//! `migrate apply|plan|status|resolve` and `audit`: the real binary against a real PostgreSQL.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::harness::{TestDb, block_on, join, recv, run_output};
use crate::support::project::{Output, Project, URL_VAR, assert_exit, finish, tables};

#[test]
fn state_schema_is_created_by_the_tools_own_sqlx_migrations() {
    let p = Project::new("");
    p.write(
        "1_users.up.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("staging: applied 1 migration(s)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("applying 1_users"),
        "progress on stderr"
    );
    // Every state migration in migrations/, each once, in order.
    let mut files: Vec<i64> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.split('_').next()?.parse().ok())
        .collect();
    files.sort_unstable();
    assert_eq!(files, (1..=files.len() as i64).collect::<Vec<_>>());
    assert_eq!(
        files.last().copied(),
        Some(stagegate::known_schema_version()),
        "the binary knows the newest state migration"
    );
    assert_eq!(
        p.query(
            "SELECT m.version::text, m.success::text FROM stagegate._sqlx_migrations m \
             ORDER BY m.version"
        ),
        files
            .iter()
            .map(|v| vec![Some(v.to_string()), Some("true".to_string())])
            .collect::<Vec<_>>()
    );
    // append_event (0002) hashes exactly the text stagegate.event_text (0001) defines.
    assert_eq!(
        p.scalar(
            "SELECT bool_and(hash = 'sha256:' || encode(sha256(convert_to(stagegate.event_text(\
             at, kind, version, name, checksum, db_user, os_user, detail, prev_hash), 'UTF8')), 'hex'))::text \
             FROM stagegate.events"
        ),
        Some("true".into())
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM pg_tables WHERE tablename = '_sqlx_migrations' AND schemaname <> 'stagegate'"),
        Some("0".into()),
        "a project's own sqlx table is never touched"
    );
    let row = &p.query(
        "SELECT version, name, status, checksum, statements_done::text, statements_total::text, \
                db_user, finished_at IS NOT NULL AND duration_ms >= 0 \
         FROM stagegate.migrations",
    )[0];
    assert_eq!(row[0].as_deref(), Some("1"));
    assert_eq!(row[1].as_deref(), Some("users"));
    assert_eq!(row[2].as_deref(), Some("applied"));
    assert!(row[3].as_deref().unwrap().starts_with("sha256:"));
    assert_eq!(
        (row[4].as_deref(), row[5].as_deref()),
        (Some("1"), Some("1"))
    );
    assert_eq!(row[6].as_deref(), Some("postgres"));
    assert_eq!(row[7].as_deref(), Some("t"));

    // A second run finds nothing to do.
    let again = p.apply();
    assert_exit(&again, 0);
    assert!(again.stdout.contains("up to date"), "{}", again.stdout);
}

#[test]
fn a_state_schema_newer_than_the_binary_is_refused() {
    let p = Project::new("");
    p.write("1_users.up.sql", "CREATE TABLE users (id int);\n");
    assert_exit(&p.apply(), 0);
    p.query(
        "INSERT INTO stagegate._sqlx_migrations \
         (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', true, '\\x00', 1)",
    );
    p.write("2_orders.up.sql", "CREATE TABLE orders (id int);\n");
    for args in [
        &["migrate", "apply", "--env", "staging"][..],
        &["migrate", "plan", "--env", "staging"],
    ] {
        let out = p.run(args);
        assert_exit(&out, 3);
        let known = stagegate::known_schema_version();
        assert!(
            out.stderr.contains(&format!(
                "is at version 999, newer than this stagegate knows ({known})"
            )),
            "{}",
            out.stderr
        );
    }
    assert_eq!(tables(&p), ["users"], "nothing was applied");
}

#[test]
fn to_and_dry_run() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");

    let dry = p.run(&["migrate", "apply", "--env", "staging", "--dry-run"]);
    assert_exit(&dry, 0);
    assert!(
        dry.stdout.contains("3 migration(s) to apply"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("dry run: nothing was changed"));
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM pg_namespace WHERE nspname = 'stagegate'"),
        Some("0".into()),
        "a dry run creates nothing, not even the state schema"
    );

    let out = p.run(&["migrate", "apply", "--env", "staging", "--to", "2"]);
    assert_exit(&out, 0);
    assert_eq!(tables(&p), ["a", "b"]);

    let bad = p.run(&["migrate", "apply", "--env", "staging", "--to", "7"]);
    assert_exit(&bad, 2);
    assert!(
        bad.stderr
            .contains("--to 7: no migration with that version")
    );

    assert_exit(&p.apply(), 0);
    assert_eq!(tables(&p), ["a", "b", "c"]);
}

#[test]
fn timeouts_come_from_the_environment_and_directives_override_them() {
    let p = Project::new("lock_timeout = \"3s\"\nstatement_timeout = \"15min\"");
    p.write(
        "1_env.up.sql",
        "CREATE TABLE seen_env AS SELECT current_setting('lock_timeout') AS lock, \
         current_setting('statement_timeout') AS statement;\n",
    );
    p.write(
        "2_file.up.sql",
        "-- stagegate:lock-timeout 500ms\n\
         CREATE TABLE seen_file AS SELECT current_setting('lock_timeout') AS lock, \
         current_setting('statement_timeout') AS statement;\n",
    );
    p.write(
        "3_notx.up.sql",
        "-- stagegate:no-transaction\n-- stagegate:statement-timeout 1min\n\
         CREATE TABLE seen_notx AS SELECT current_setting('lock_timeout') AS lock, \
         current_setting('statement_timeout') AS statement;\n",
    );
    p.write(
        "4_after.up.sql",
        "CREATE TABLE seen_after AS SELECT current_setting('lock_timeout') AS lock, \
         current_setting('statement_timeout') AS statement;\n",
    );
    assert_exit(&p.apply(), 0);
    let seen = |table: &str| p.query(&format!("SELECT lock, statement FROM {table}"))[0].clone();
    let pair = |a: &str, b: &str| vec![Some(a.to_string()), Some(b.to_string())];
    assert_eq!(seen("seen_env"), pair("3s", "15min"));
    assert_eq!(seen("seen_file"), pair("500ms", "15min"));
    assert_eq!(seen("seen_notx"), pair("3s", "1min"));
    assert_eq!(
        seen("seen_after"),
        pair("3s", "15min"),
        "the no-transaction session settings do not leak into the next migration"
    );
}

/// Holds ACCESS SHARE on `table` in an open transaction for `hold`, on a thread of its own.
/// Returns once the lock is held.
fn hold_table_lock(p: &Project, table: &str, hold: Duration) -> std::thread::JoinHandle<()> {
    let url = p.db.database_url();
    let sql = format!("BEGIN; SELECT count(*) FROM {table};");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        block_on(async move {
            let client = stagegate::connect(&url).await.unwrap();
            client.batch_execute(&sql).await.unwrap();
            ready_tx.send(()).unwrap();
            tokio::time::sleep(hold).await;
            client.batch_execute("COMMIT").await.unwrap();
        });
    });
    recv(&ready_rx, &format!("the session locking {table}"));
    handle
}

#[test]
fn a_lock_timeout_restarts_the_whole_transaction_until_the_lock_is_free() {
    let p = Project::new("lock_timeout = \"200ms\"\nlock_retries = 10");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    assert_exit(&p.apply(), 0);
    p.write(
        "2_alter.up.sql",
        "CREATE TABLE side (id int);\nALTER TABLE t ADD COLUMN note text;\n",
    );
    let holder = hold_table_lock(&p, "t", Duration::from_millis(1500));
    let out = p.apply();
    join(holder, "the session holding the table lock");
    assert_exit(&out, 0);
    assert!(
        out.stderr.contains("lock timeout on attempt 1 of 11")
            && out
                .stderr
                .contains("canceling statement due to lock timeout (55P03)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        tables(&p),
        ["side", "t"],
        "each retry restarted the transaction"
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM information_schema.columns WHERE table_name = 't' AND column_name = 'note'"),
        Some("1".into())
    );
}

#[test]
fn lock_retries_run_out_and_nothing_is_left_behind() {
    let p = Project::new("lock_timeout = \"100ms\"\nlock_retries = 1");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    assert_exit(&p.apply(), 0);
    p.write(
        "2_alter.up.sql",
        "CREATE TABLE side (id int);\nALTER TABLE t ADD COLUMN note text;\n",
    );
    let holder = hold_table_lock(&p, "t", Duration::from_secs(4));
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("lock timeout on attempt 1 of 2"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("2_alter failed: canceling statement due to lock timeout (55P03)")
            && out.stderr.contains("(after 2 attempt(s))")
            && out.stderr.contains("nothing of 2_alter was applied"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["t"]);
    let row = &p
        .query("SELECT status, rolled_back::text FROM stagegate.migrations WHERE version = '2'")[0];
    assert_eq!(row, &[Some("failed".into()), Some("true".into())]);
    join(holder, "the session holding the table lock");
    // A rolled-back failure left nothing behind: the next run simply tries again.
    let out = p.apply();
    assert_exit(&out, 0);
    assert_eq!(tables(&p), ["side", "t"]);
}

#[test]
fn a_failing_verify_script_rolls_back_the_migration_and_its_record() {
    let p = Project::new("");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    p.write(
        "1_t.verify.sql",
        "DO $$ BEGIN IF (SELECT count(*) FROM t) = 0 THEN RAISE EXCEPTION 't is empty'; END IF; END $$;\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("1_t verify script failed: t is empty (P0001)"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
    assert_eq!(
        p.scalar("SELECT string_agg(kind, ',' ORDER BY id) FROM stagegate.events"),
        Some("bind,failure".into())
    );
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n",
    );
    assert_exit(&p.apply(), 0);
    assert_eq!(
        p.scalar("SELECT verify_checksum IS NOT NULL FROM stagegate.migrations")
            .as_deref(),
        Some("t")
    );
}

#[test]
fn refusals_before_anything_runs() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");
    assert_exit(&p.apply(), 0);
    let recorded = p
        .scalar("SELECT checksum FROM stagegate.migrations WHERE version = '1'")
        .unwrap();

    // Out of order: 2 is older than the applied 3.
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("2_b is pending but older than 3, which is already applied"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(p.migrations().join("2_b.up.sql")).unwrap();

    // Checksum drift, with both checksums.
    p.write("1_a.up.sql", "CREATE TABLE a (id bigint);\n");
    p.write("4_d.up.sql", "CREATE TABLE d (id int);\n");
    let out = p.apply();
    assert_exit(&out, 3);
    let now = stagegate::Checksum::of_text("CREATE TABLE a (id bigint);\n").to_string();
    assert!(
        out.stderr.contains(&format!(
            "1_a was applied with checksum {recorded} but the file now has {now}"
        )),
        "{}",
        out.stderr
    );
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");

    // Missing locally.
    std::fs::remove_file(p.migrations().join("3_c.up.sql")).unwrap();
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("3_c is applied in this environment but has no file"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was run"));
    assert_eq!(tables(&p), ["a", "c"], "4_d did not run");
}

#[test]
fn a_failed_no_transaction_migration_resumes_at_the_failed_statement_after_resolve() {
    let p = Project::new("");
    p.write(
        "1_steps.up.sql",
        "-- stagegate:no-transaction\n\
         CREATE TABLE a (id int);\n\
         CREATE TABLE b (id int);\n\
         INSERT INTO needed_by_hand VALUES (1);\n\
         CREATE TABLE c (id int);\n",
    );
    p.write("2_after.up.sql", "CREATE TABLE after (id int);\n");
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("1_steps failed at statement 3 of 4 (line 4): relation \"needed_by_hand\" does not exist (42P01)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("2 of 4 statement(s) are applied and stay applied")
    );
    assert_eq!(tables(&p), ["a", "b"]);

    let status = p.run(&["migrate", "status", "--env", "staging", "--format", "json"]);
    assert_exit(&status, 0);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let cell = &json["migrations"][0]["environments"]["staging"];
    assert_eq!(cell["state"], "failed");
    assert_eq!(cell["statements_done"], 2);
    assert_eq!(
        json["migrations"][1]["environments"]["staging"]["state"],
        "pending"
    );

    // Unresolved: refused, nothing runs.
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("1_steps failed at statement 3 of 4 and is not resolved"),
        "{}",
        out.stderr
    );

    // A human repairs the database and says so.
    p.query("CREATE TABLE needed_by_hand (id int)");
    let out = p.run(&[
        "migrate",
        "resolve",
        "--env",
        "staging",
        "1",
        "--reason",
        "created needed_by_hand",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("resolved the failed attempt of 1_steps")
    );
    let again = p.run(&[
        "migrate", "resolve", "--env", "staging", "1", "--reason", "twice",
    ]);
    assert_exit(&again, 2);
    assert!(
        again.stderr.contains("already resolved"),
        "{}",
        again.stderr
    );

    // Resumes at statement 3: re-running CREATE TABLE a would fail.
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(
        out.stderr
            .contains("resuming 1_steps (no transaction) at statement 3 of 4"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["a", "after", "b", "c", "needed_by_hand"]);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM needed_by_hand"),
        Some("1".into())
    );
    assert_eq!(
        p.scalar("SELECT status || ' ' || statements_done || '/' || statements_total || ' ' || resolved_reason FROM stagegate.migrations WHERE version = '1'"),
        Some("applied 4/4 created needed_by_hand".into())
    );
    assert_eq!(
        p.scalar("SELECT string_agg(kind, ',' ORDER BY id) FROM stagegate.events"),
        Some(
            "bind,apply_start,apply_progress,apply_progress,failure,resolve,apply_start,\
             apply_progress,apply_progress,apply,apply"
                .into()
        )
    );
    // The resumed attempt starts at statement 3, as the log vouches.
    assert_eq!(
        p.scalar(
            "SELECT detail::json->>'statements_done' FROM stagegate.events \
             WHERE kind = 'apply_start' ORDER BY id DESC LIMIT 1"
        ),
        Some("2".into())
    );
}

#[test]
fn a_fixed_file_resumes_without_resolve_but_the_done_part_must_not_change() {
    let p = Project::new("");
    let head = "-- stagegate:no-transaction\nCREATE TABLE a (id int);\n";
    p.write(
        "1_steps.up.sql",
        &format!("{head}SELECT * FROM typo;\nCREATE TABLE c (id int);\n"),
    );
    assert_exit(&p.apply(), 4);

    // Editing a statement that already ran is refused.
    p.write(
        "1_steps.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE a (id bigint);\nSELECT 1;\nCREATE TABLE c (id int);\n",
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("refusing to resume 1_steps: its first 1 statement(s) already ran"),
        "{}",
        out.stderr
    );

    // Fixing the failed statement resumes there.
    p.write(
        "1_steps.up.sql",
        &format!("{head}SELECT 1;\nCREATE TABLE c (id int);\n"),
    );
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(
        out.stderr
            .contains("resuming 1_steps (no transaction) at statement 2 of 3"),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["a", "c"]);
}

#[test]
fn a_second_apply_waits_a_bounded_time_and_names_the_holder() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let url = p.db.database_url();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        block_on(async move {
            let client = stagegate::connect(&url).await.unwrap();
            let pid: i32 = client
                .query_one(
                    "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock($1)) l",
                    &[&stagegate::LOCK_KEY],
                )
                .await
                .unwrap()
                .get(0);
            ready_tx.send(pid).unwrap();
            let _ = tokio::task::spawn_blocking(move || done_rx.recv()).await;
        });
    });
    let pid = recv(&ready_rx, "the session taking the advisory lock");
    let out = run_output(
        p.command()
            .env("STAGEGATE_LOCK_WAIT", "1s")
            .args(["migrate", "apply", "--env", "staging"]),
        "migrate apply while another session holds the lock",
    );
    done_tx.send(()).unwrap();
    join(holder, "the session holding the advisory lock");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("another stagegate run holds the lock on"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "(pid {pid}, user postgres, application stagegate, from "
        )) && stderr.contains("connected since ")
            && stderr.contains("gave up after waiting 1s"),
        "{stderr}"
    );
    assert!(tables(&p).is_empty());
    // Once the holder is gone, apply goes through.
    assert_exit(&p.apply(), 0);
}

const SLEEPING: &str = "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' \
     AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()";

/// Starts `migrate apply`, waits until the server runs `pg_sleep(30)`, sends SIGINT and
/// returns the exit code and stderr.
fn apply_and_interrupt(p: &Project) -> (Option<i32>, String) {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stagegate"))
        .current_dir(p.dir.path())
        .env_remove("STAGEGATE_CONFIG")
        .env("NO_COLOR", "1")
        .env(URL_VAR, p.db.database_url().expose())
        .args(["migrate", "apply", "--env", "staging"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the server is running the sleep.
    let started = Instant::now();
    while p.scalar(SLEEPING).as_deref() != Some("1") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the migration never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = finish(child, "migrate apply after SIGINT");
    (Some(out.code).filter(|c| *c >= 0), out.stderr)
}

#[test]
fn ctrl_c_cancels_the_statement_on_the_server_records_the_failure_and_exits_4() {
    let p = Project::new("");
    p.write(
        "1_sleep.up.sql",
        "CREATE TABLE before_sleep (id int);\nSELECT pg_sleep(30);\n",
    );
    let (code, stderr) = apply_and_interrupt(&p);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("1_sleep interrupted (Ctrl-C): the running statement was cancelled on the server (canceling statement due to user request (57014)"),
        "{stderr}"
    );
    assert_eq!(
        p.scalar(SLEEPING).as_deref(),
        Some("0"),
        "the server stopped sleeping"
    );
    assert_eq!(
        p.scalar(
            "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .as_deref(),
        Some("0"),
        "the lock was released"
    );
    assert!(tables(&p).is_empty(), "the transaction was rolled back");
    let row = &p.query("SELECT status, error FROM stagegate.migrations WHERE version = '1'")[0];
    assert_eq!(row[0].as_deref(), Some("failed"));
    assert!(row[1].as_deref().unwrap().contains("interrupted (Ctrl-C)"));
    assert_eq!(
        p.scalar("SELECT kind FROM stagegate.events ORDER BY id DESC LIMIT 1"),
        Some("failure".into())
    );
}

#[test]
fn audit_verify_detects_an_edited_event() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write(
        "2_b.up.sql",
        "-- stagegate:no-transaction\nSELECT * FROM nothing_here;\n",
    );
    assert_exit(&p.apply(), 4);
    p.write("2_b.up.sql", "-- stagegate:no-transaction\nSELECT 1;\n");
    assert_exit(&p.apply(), 0);

    // bind, apply of 1, then 2's attempts: start, failure (event 4), start, progress, apply.
    let out = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("verified: the hash chain of 7 event(s) is intact"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("│ 4  │") && out.stdout.contains("failure"),
        "{}",
        out.stdout
    );

    // The table refuses edits...
    let url = p.db.database_url();
    let refused = block_on(async move {
        let client = stagegate::connect(&url).await.unwrap();
        client
            .batch_execute("UPDATE stagegate.events SET detail = 'nothing happened' WHERE id = 4")
            .await
            .unwrap_err()
    });
    assert!(
        refused
            .to_string()
            .contains("stagegate.events is append-only")
            || format!("{refused:?}").contains("append-only")
    );
    // ...but a superuser can switch that off; the chain still shows it.
    p.query(
        "ALTER TABLE stagegate.events DISABLE TRIGGER events_append_only; \
         UPDATE stagegate.events SET detail = 'nothing happened' WHERE id = 4; \
         ALTER TABLE stagegate.events ENABLE TRIGGER events_append_only",
    );
    let out = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("the event log of `staging` was tampered with: event 4 does not match"),
        "{}",
        out.stderr
    );
    let json = p.run(&["audit", "--env", "staging", "--verify", "--format", "json"]);
    assert_exit(&json, 3);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["first_mismatch"]["id"], 4);
    assert_eq!(json["events"].as_array().unwrap().len(), 7);
}

#[test]
fn status_across_environments_with_one_unreachable() {
    let p = Project::new("");
    let other = TestDb::create();
    std::fs::write(
        p.dir.path().join("stagegate.toml"),
        format!(
            "[environments.staging]\nurl = \"${{{URL_VAR}}}\"\n\n\
             [environments.production]\nurl = \"${{SG_TEST_PROD_URL}}\"\n\n\
             [environments.offline]\nurl = \"postgres://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2\"\n"
        ),
    )
    .unwrap();
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");
    assert_exit(&p.apply(), 0);
    let prod = |args: &[&str]| {
        let out = p
            .command()
            .env("SG_TEST_PROD_URL", other.database_url().expose())
            .args(args)
            .output()
            .unwrap();
        Output::from(out)
    };
    assert_exit(
        &prod(&["migrate", "apply", "--env", "production", "--to", "1"]),
        0,
    );
    // Drift in staging: 3 edited; 4 exists only in staging's record.
    p.write("4_d.up.sql", "CREATE TABLE d (id int);\n");
    assert_exit(&p.apply(), 0);
    std::fs::remove_file(p.migrations().join("4_d.up.sql")).unwrap();
    p.write("3_c.up.sql", "CREATE TABLE c (id bigint);\n");

    let out = prod(&["migrate", "status"]);
    assert_exit(&out, 4);
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
    let lines: Vec<&str> = out.stdout.lines().collect();
    let line = |version: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("│ {version} ")))
            .unwrap_or_else(|| panic!("no row {version}:\n{}", out.stdout))
            .to_string()
    };
    assert!(
        out.stdout.contains("│ version │ name │ offline"),
        "{}",
        out.stdout
    );
    assert!(
        line("1").contains("applied 2") && line("1").matches("applied").count() == 2,
        "{}",
        line("1")
    );
    assert!(line("2").contains("pending"), "{}", line("2"));
    assert!(line("3").contains("checksum mismatch"), "{}", line("3"));
    assert!(line("4").contains("missing locally"), "{}", line("4"));
    assert!(line("1").contains("unreachable"));
    assert!(
        out.stdout.contains(
            "offline: unreachable: cannot connect to postgres://postgres:***@127.0.0.1:1/x"
        ),
        "{}",
        out.stdout
    );

    let json = prod(&[
        "migrate",
        "status",
        "--env",
        "staging",
        "--env",
        "production",
        "--format",
        "json",
    ]);
    assert_exit(&json, 0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let state = |i: usize, env: &str| json["migrations"][i]["environments"][env]["state"].clone();
    assert_eq!(state(0, "staging"), "applied");
    assert_eq!(state(0, "production"), "applied");
    assert_eq!(state(1, "production"), "pending");
    assert_eq!(state(2, "staging"), "checksum-mismatch");
    assert!(json["migrations"][2]["environments"]["staging"]["recorded_checksum"].is_string());
    assert_eq!(state(3, "staging"), "missing-locally");
    // Deleted locally and never applied in production: not pending there, absent.
    assert_eq!(state(3, "production"), "absent");

    // Without --env, an environment whose variable is not set here is shown as not
    // configured here and the others are read (`offline` still fails the run: exit 4).
    let out = p.run(&["migrate", "status"]);
    assert_exit(&out, 4);
    assert!(
        out.stdout
            .contains("production: not configured here: variable SG_TEST_PROD_URL is not set"),
        "{}",
        out.stdout
    );
    // Named with --env, a missing variable is a configuration error (exit 2), not an
    // unreachable database.
    let out = p.run(&["migrate", "status", "--env", "production"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("environment `production`: variable SG_TEST_PROD_URL is not set"),
        "{}",
        out.stderr
    );
    assert_exit(&p.run(&["migrate", "status", "--env", "staging"]), 0);
}

#[test]
fn plan_lists_pending_migrations_and_apply_checks_the_plan_hash() {
    let p = Project::new("lock_timeout = \"2s\"");
    p.write(
        "1_a.up.sql",
        "CREATE TABLE a (id int);\nCREATE TABLE a2 (id int);\n",
    );
    p.write(
        "2_idx.up.sql",
        "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n",
    );
    let out = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&out, 0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["migrations"][0]["mode"], "transaction");
    assert_eq!(plan["migrations"][0]["statements"], 2);
    assert_eq!(plan["migrations"][0]["lock_timeout"], "2s");
    assert_eq!(plan["migrations"][1]["mode"], "no-transaction");
    assert_eq!(
        plan["migrations"][1]["checksum"],
        stagegate::Checksum::of_text(
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n"
        )
        .to_string()
    );
    // Table `a` is created by this plan, so indexing it blocks nobody; what remains is that a
    // retry of the no-transaction file would fail on the existing index.
    let findings = plan["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["code"], "SG503");
    assert_eq!(findings[0]["version"], "2");
    let hash = plan["hash"].as_str().unwrap().to_string();

    let text = p.run(&["migrate", "plan", "--env", "staging"]);
    assert!(text.stdout.contains(&format!("plan hash:\n  {hash}\n")));
    assert!(
        text.stdout.contains("2 line 2: warning SG503"),
        "{}",
        text.stdout
    );

    // The plan changes: the hash no longer matches.
    p.write("3_b.up.sql", "CREATE TABLE b (id int);\n");
    let out = p.run(&["migrate", "apply", "--env", "staging", "--plan-hash", &hash]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("the plan changed since it was reviewed"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
    let out = p.run(&[
        "migrate",
        "apply",
        "--env",
        "staging",
        "--to",
        "2",
        "--plan-hash",
        &hash,
    ]);
    assert_exit(&out, 0);
    assert_eq!(tables(&p), ["a", "a2"]);
}

#[test]
fn psql_meta_commands_are_refused_before_anything_runs() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write(
        "2_b.up.sql",
        "\\set ON_ERROR_STOP on\nCREATE TABLE b (id int);\n",
    );
    let out = p.apply();
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("2_b.up.sql:1: psql meta-command `\\set ON_ERROR_STOP on`"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
}

#[test]
fn an_error_names_the_line_of_the_file_even_behind_the_timeout_settings() {
    let p = Project::new("lock_timeout = \"2s\"\nstatement_timeout = \"1min\"");
    p.write(
        "1_bad.up.sql",
        "-- a comment\nCREATE TABLE ok (id int);\nCREATE TABLE bad (id int,);\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("1_bad failed at statement 2 of 2 (line 3): syntax error at or near \")\" (42601) at line 3"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
}

#[test]
fn transaction_control_in_a_transactional_migration_is_refused() {
    let p = Project::new("");
    p.write(
        "1_wrapped.up.sql",
        "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n",
    );
    let out = p.apply();
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("1_wrapped.up.sql:1: `BEGIN` in a migration that stagegate runs in a transaction of its own"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
    // A verify script runs inside the migration's transaction too.
    p.write("1_wrapped.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_wrapped.verify.sql", "SELECT 1;\nEND;\n");
    let out = p.apply();
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("1_wrapped.verify.sql:2: `COMMIT` in a migration that stagegate runs in a transaction of its own"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
    std::fs::remove_file(p.migrations().join("1_wrapped.verify.sql")).unwrap();
    // A function body's BEGIN is not transaction control.
    p.write(
        "1_wrapped.up.sql",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n\
         CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n",
    );
    assert_exit(&p.apply(), 0);
}

#[test]
fn a_deferred_constraint_failing_at_commit_fails_the_migration() {
    let p = Project::new("");
    p.write(
        "1_deferred.up.sql",
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n\
         INSERT INTO child VALUES (42);\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("1_deferred failed at COMMIT: insert or update on table \"child\" violates foreign key constraint"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
    assert_eq!(
        p.scalar("SELECT status FROM stagegate.migrations"),
        Some("failed".into())
    );
}

#[test]
fn names_with_quotes_and_backslashes_are_recorded_as_they_are() {
    let p = Project::new("");
    p.write("1_o'brien\\x.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&p.apply(), 0);
    assert_eq!(
        p.scalar("SELECT name FROM stagegate.migrations"),
        Some("o'brien\\x".into())
    );
}

#[test]
fn ctrl_c_in_a_no_transaction_migration_records_where_it_stopped() {
    let p = Project::new("");
    p.write(
        "1_sleep.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE before_sleep (id int);\nSELECT pg_sleep(30);\nCREATE TABLE after_sleep (id int);\n",
    );
    let (code, stderr) = apply_and_interrupt(&p);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("1_sleep interrupted (Ctrl-C) at statement 2 of 3 (line 3): the statement was cancelled on the server"),
        "{stderr}"
    );
    assert_eq!(tables(&p), ["before_sleep"], "statement 1 stays applied");
    assert_eq!(
        p.scalar("SELECT status || ' ' || statements_done || '/' || statements_total FROM stagegate.migrations"),
        Some("failed 1/3".into())
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("1_sleep failed at statement 2 of 3 and is not resolved"),
        "{}",
        out.stderr
    );
}

/// The script, its verify script and the record travel pipelined in one round trip; a script
/// that ended stagegate's transaction itself must still never be recorded for work it did not
/// finish. (`migrate apply` refuses such scripts before running them; this checks the session
/// underneath, where the guard lives.)
#[test]
fn the_record_follows_only_a_script_that_ran_to_its_end() {
    use stagegate::{ApplyRecord, Finish, Session, Step, Timeouts};

    let p = Project::new("");
    p.write("1_first.up.sql", "CREATE TABLE first (id int);\n");
    assert_exit(&p.apply(), 0);
    let record = |version: &str| {
        Finish::Apply(ApplyRecord {
            version: version.into(),
            version_text: version.into(),
            name: format!("v{version}"),
            checksum: "sha256:00".into(),
            down_checksum: None,
            verify_checksum: None,
            no_transaction: false,
            os_user: None,
            statements_total: 2,
            done_checksum: None,
            checks: String::new(),
            rendered: None,
        })
    };
    let url = p.db.database_url();
    block_on(async {
        let session = Session::connect(&url).await.unwrap();
        let none = Timeouts::default();
        // Fails after committing on its own: the record must not run in autocommit.
        let error = session
            .run_in_transaction(
                &none,
                "COMMIT;CREATE TABLE x (id int);SELECT 1/0;",
                None,
                &record("7"),
            )
            .await
            .unwrap_err();
        assert!(matches!(error.step, Step::Script), "{error:?}");
        // Fails in the verify script: nothing of the script stays.
        let error = session
            .run_in_transaction(
                &none,
                "CREATE TABLE y (id int);",
                Some("SELECT 1/0;"),
                &record("8"),
            )
            .await
            .unwrap_err();
        assert!(matches!(error.step, Step::Verify), "{error:?}");
        // Ran to its end after committing on its own: its work stands, so it is recorded.
        session
            .run_in_transaction(&none, "COMMIT;CREATE TABLE z (id int);", None, &record("9"))
            .await
            .unwrap();
        // And the ordinary case, pipelined.
        session
            .run_in_transaction(
                &none,
                "CREATE TABLE w (id int);",
                Some("SELECT 1;"),
                &record("10"),
            )
            .await
            .unwrap();
    });
    assert_eq!(tables(&p), ["first", "w", "z"]);
    assert_eq!(
        p.query("SELECT version, status FROM stagegate.migrations ORDER BY version::int"),
        [
            [Some("1".to_string()), Some("applied".to_string())],
            [Some("9".to_string()), Some("applied".to_string())],
            [Some("10".to_string()), Some("applied".to_string())],
        ]
    );
}

#[test]
fn a_state_schema_left_by_an_older_stagegate_is_read_and_then_upgraded() {
    let p = Project::new("");
    // The state as stagegate with state schema 3 left it, with one applied migration.
    let url = p.db.database_url();
    // (On a runtime of its own: sqlx's migrator future is not Send.)
    stagegate::runtime().unwrap().block_on(async move {
        let mut store = stagegate::StateStore::connect(&url).await.unwrap();
        store.ensure_schema_at(3).await.unwrap();
        store.close().await;
    });
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let checksum = stagegate::Checksum::of_text("CREATE TABLE a (id int);\n");
    p.query(&format!(
        "CREATE TABLE a (id int);
         SELECT stagegate.record_apply('1', '1', 'a', '{checksum}', NULL, NULL, false, NULL, 1,
                                       NULL)"
    ));
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");

    // Reading commands read it as it is, and change nothing.
    let out = p.run(&["migrate", "status", "--format", "json"]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["migrations"][0]["environments"]["staging"]["state"],
        "applied"
    );
    assert_eq!(
        json["migrations"][1]["environments"]["staging"]["state"],
        "pending"
    );
    let plan = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&plan, 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["migrations"].as_array().unwrap().len(), 1);
    let version = || p.scalar("SELECT max(version)::text FROM stagegate._sqlx_migrations");
    assert_eq!(version().as_deref(), Some("3"));

    // apply upgrades the state schema and goes on from there.
    assert_exit(&p.apply(), 0);
    assert_eq!(
        version(),
        Some(stagegate::known_schema_version().to_string())
    );
    assert_eq!(tables(&p), ["a", "b"]);
}

/// pop's `.autocommit.` file names mark a migration that runs without a transaction: the
/// runner applies its CREATE INDEX CONCURRENTLY outside one and records it so, and lint
/// reads the marker too, in the set and for the file on its own.
#[test]
fn pop_autocommit_migrations_run_without_a_transaction() {
    let p = Project::new("");
    p.write(
        "20210410000000000000_orders.up.sql",
        "CREATE TABLE orders (id bigint, total int);\n",
    );
    let index = "20210411000000000000_orders_total.autocommit.up.sql";
    p.write(
        index,
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_total ON orders (total);\n",
    );
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        p.scalar(
            "SELECT string_agg(no_transaction::text, ',' ORDER BY version) FROM stagegate.migrations"
        ),
        Some("false,true".to_string())
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM pg_indexes WHERE indexname = 'orders_total'"),
        Some("1".to_string())
    );
    let path = p.migrations().join(index);
    for target in [p.migrations(), path] {
        let out = p.run(&["lint", "--format", "json", target.to_str().unwrap()]);
        assert!(!out.stdout.contains("SG501"), "{}", out.stdout);
        assert!(
            out.stdout.contains("\"version\""),
            "{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    // The same file without the marker runs in a transaction, which CONCURRENTLY refuses.
    std::fs::write(
        p.dir.path().join("plain.up.sql"),
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_total ON orders (total);\n",
    )
    .unwrap();
    let out = p.run(&["lint", "plain.up.sql"]);
    assert!(out.stdout.contains("SG501"), "{}", out.stdout);
}

#[test]
fn a_migration_not_written_yet_plans_but_apply_refuses_it_before_running_anything() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = p.run(&["new", "add_b"]);
    assert_exit(&out, 0);
    let blank = std::fs::read_dir(p.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|name| name.contains("_add_b") && !name.contains(".down."))
        .unwrap();

    // The set stays usable: status, plan, lint and verify all read it.
    assert_exit(&p.run(&["migrate", "status"]), 0);
    let plan = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&plan, 0);
    assert!(plan.stdout.contains("add_b"), "{}", plan.stdout);
    assert_exit(&p.run(&["lint"]), 0);
    let verify = p.run(&["verify"]);
    assert_exit(&verify, 0);
    assert!(
        verify
            .stderr
            .contains(&format!("{blank}: up script is empty")),
        "{}",
        verify.stderr
    );

    // Apply refuses it even though 1_a, before it, could run: nothing is applied.
    let out = p.apply();
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains(&format!("{blank}: up script is empty")),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty(), "nothing ran: {:?}", tables(&p));

    // Written, it applies.
    std::fs::write(p.migrations().join(&blank), "CREATE TABLE b (id int);\n").unwrap();
    assert_exit(&p.apply(), 0);
    assert_eq!(tables(&p), ["a", "b"]);
}

#[test]
fn a_failing_statement_of_a_transactional_migration_is_named_by_its_line_and_text() {
    let p = Project::new("");
    // A syntax error (the server gives its position) in statement 3 of 4.
    p.write(
        "1_a.up.sql",
        "-- setup\nCREATE TABLE a (id int);\n\nINSERT INTO a VALUES (1);\n\
         INSERT INTO a\n  VALUES (2) (3);\nCREATE TABLE b (id int);\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("1_a failed at statement 3 of 4 (line 5)")
            && out
                .stderr
                .contains("statement 3 at line 5: INSERT INTO a\n"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty(), "rolled back");

    // A unique violation (no position) in statement 2: found by running the statements
    // again in a transaction that is rolled back.
    p.write(
        "1_a.up.sql",
        "CREATE TABLE a (id int PRIMARY KEY);\n\
         INSERT INTO a VALUES (1), (1);\nCREATE TABLE b (id int);\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("23505")
            && out
                .stderr
                .contains("1_a failed at statement 2 of 3 (line 2)")
            && out
                .stderr
                .contains("statement 2 at line 2: INSERT INTO a VALUES (1), (1);"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty(), "the search was rolled back too");
    assert_eq!(
        p.scalar("SELECT count(*) FROM stagegate.migrations WHERE status = 'applied'"),
        Some("0".to_string())
    );

    // A migration that ran for a while before failing is not run again to find the
    // statement: that would hold its locks as long again.
    p.write(
        "1_a.up.sql",
        "CREATE TABLE a (id int PRIMARY KEY);\nSELECT pg_sleep(2.2);\n\
         INSERT INTO a VALUES (1), (1);\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("23505")
            && out
                .stderr
                .contains("the statement could not be located (the migration ran for 2.")
            && out.stderr.contains("stagegate does not run it again"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty(), "rolled back");
}

#[test]
fn a_bad_connection_string_is_a_configuration_error_in_every_command() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    for args in [
        &["migrate", "apply", "--env", "staging"][..],
        &["migrate", "status"][..],
        &["migrate", "plan", "--env", "staging"][..],
    ] {
        let output = p
            .command()
            .env(URL_VAR, "postgres://u:hunter2@localhost:notaport/db")
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("environment `staging`: invalid connection string"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{args:?}: {stderr}");
    }
    // A missing variable too.
    let output = p
        .command()
        .env_remove(URL_VAR)
        .args(["migrate", "plan", "--env", "staging"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("is not set")
    );
}

#[test]
fn a_server_error_from_the_state_store_shows_no_server_source_line_and_once() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    // A state table without the column stagegate reads: the server says 42703, and sqlx's
    // text of it would add the server's own source line.
    p.query("CREATE SCHEMA stagegate; CREATE TABLE stagegate._sqlx_migrations (version bigint)");
    let out = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&out, 4);
    let message = "column \"success\" does not exist (42703)";
    assert!(out.stderr.contains(message), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("does not exist").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(" at line"), "{}", out.stderr);
}

/// `verify --env` compares what an environment recorded with the files: an edited applied
/// migration and one whose file is gone are problems (exit 2, named); an unreachable
/// environment is exit 4 without its password; a pending migration is no problem.
#[test]
fn verify_env_compares_recorded_checksums_with_the_files() {
    let p = Project::new("");
    std::fs::write(
        p.dir.path().join("stagegate.toml"),
        format!(
            "[environments.staging]\nurl = \"${{{URL_VAR}}}\"\n\n\
             [environments.offline]\nurl = \"postgres://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2\"\n"
        ),
    )
    .unwrap();
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    assert_exit(&p.apply(), 0);
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");
    let clean = p.run(&["verify", "--env", "staging"]);
    assert_exit(&clean, 0);
    assert!(
        clean
            .stdout
            .contains("staging: recorded checksums compared")
            && clean.stdout.contains("ok"),
        "{}",
        clean.stdout
    );

    // 2 edited after it was applied; 3 applied, then its file deleted.
    assert_exit(&p.apply(), 0);
    std::fs::remove_file(p.migrations().join("3_c.up.sql")).unwrap();
    p.write("2_b.up.sql", "CREATE TABLE b (id bigint);\n");
    let drift = p.run(&["verify", "--env", "staging"]);
    assert_exit(&drift, 2);
    assert!(
        drift
            .stderr
            .contains("2_b.up.sql: applied on staging with checksum")
            && drift.stderr.contains("applied history is immutable"),
        "{}",
        drift.stderr
    );
    assert!(
        drift.stderr.contains("3_c: applied on staging") && drift.stderr.contains("restore it"),
        "{}",
        drift.stderr
    );
    assert!(drift.stdout.contains("2 problem(s)"), "{}", drift.stdout);

    // Without --env the files alone are well-formed.
    assert_exit(&p.run(&["verify"]), 0);

    let offline = p.run(&["verify", "--env", "offline"]);
    assert_exit(&offline, 4);
    assert!(
        offline
            .stderr
            .contains("offline: cannot connect to postgres://postgres:***@127.0.0.1:1/x"),
        "{}",
        offline.stderr
    );
    assert!(!offline.stderr.contains("hunter2") && !offline.stdout.contains("hunter2"));

    let unknown = p.run(&["verify", "--env", "nowhere"]);
    assert_exit(&unknown, 2);
}
