//! Fault injection: the runner under the faults a hostile operator (or bad luck) brings, each
//! provoked for real against PostgreSQL: SIGKILL mid-migration, the lock's backend terminated,
//! SIGTERM and SIGHUP, a killed no-transaction migration, a failed concurrent index build, and
//! a tampered event log. Ctrl-C, lock contention and concurrent applies are in `runner`.

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::project::{Output, Project, assert_exit};

/// `migrate apply` as a child process, its output piped.
fn spawn_apply(p: &Project) -> Child {
    p.child(&["migrate", "apply", "--env", "staging"])
        .env("STAGEGATE_LOCK_WAIT", "20s")
        .spawn()
        .unwrap()
}

/// Waits (bounded) for a child of [`spawn_apply`] to end.
#[track_caller]
fn finish(child: Child) -> Output {
    crate::support::project::finish(child, "migrate apply")
}

/// Waits until some other backend of the test database runs a query containing `needle`,
/// which `child` is to send: fails naming what it waited for when the child ends first (with
/// the child's output) or after a minute.
fn wait_for_query(p: &Project, child: &mut Child, needle: &str) {
    let sql = format!(
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%{needle}%' \
         AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
    );
    let started = Instant::now();
    while p.scalar(&sql).as_deref() != Some("1") {
        if let Some(status) = child.try_wait().unwrap() {
            let mut output = Vec::new();
            if let Some(mut stdout) = child.stdout.take() {
                stdout.read_to_end(&mut output).unwrap();
            }
            if let Some(mut stderr) = child.stderr.take() {
                stderr.read_to_end(&mut output).unwrap();
            }
            panic!(
                "the child ended ({status}) before the server ran {needle}:\n{}",
                String::from_utf8_lossy(&output)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server never ran {needle} within 60 s (the child still runs)"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `kind` events per version, as `version:count` in version order.
fn events_of(p: &Project, kind: &str) -> Vec<String> {
    p.query(&format!(
        "SELECT version || ':' || count(*) FROM stagegate.events WHERE kind = '{kind}' \
         GROUP BY version ORDER BY version"
    ))
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

/// `text` with every run of whitespace as one space: messages are wrapped to the terminal.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn log_rows(p: &Project) -> Vec<String> {
    p.query("SELECT v FROM log ORDER BY v")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

fn advisory_locks(p: &Project) -> String {
    p.scalar(
        "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .unwrap()
}

fn three_inserts(p: &Project) {
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_slow.up.sql",
        "INSERT INTO log VALUES ('two');\nSELECT pg_sleep(1.5);\n",
    );
    p.write("3_after.up.sql", "INSERT INTO log VALUES ('three');\n");
}

#[test]
fn sigkill_during_a_migration_then_an_immediate_second_apply_runs_nothing_twice() {
    let p = Project::new("");
    three_inserts(&p);
    let mut first = spawn_apply(&p);
    wait_for_query(&p, &mut first, "pg_sleep(1.5)");
    signal(&first, "KILL");
    let killed = finish(first);
    assert_eq!(killed.code, -1, "killed by a signal: {}", killed.stderr);
    // At once: the server is still running the killed run's migration.
    let second = p.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&second, 0);
    assert!(
        second
            .stderr
            .contains("waiting for the migration connection of an earlier run"),
        "{}",
        second.stderr
    );
    assert_eq!(log_rows(&p), ["three", "two"], "each effect exactly once");
    assert_eq!(events_of(&p, "apply"), ["1:1", "2:1", "3:1"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

#[test]
fn a_terminated_lock_connection_stops_the_run_before_the_next_migration() {
    let p = Project::new("");
    three_inserts(&p);
    let mut first = spawn_apply(&p);
    wait_for_query(&p, &mut first, "pg_sleep(1.5)");
    let key = stagegate::LOCK_KEY;
    let terminated = p.scalar(&format!(
        "SELECT count(pg_terminate_backend(pid))::text FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND classid = (({key}::bigint >> 32) & 4294967295)::bigint::oid \
           AND objid = ({key}::bigint & 4294967295)::bigint::oid"
    ));
    assert_eq!(terminated.as_deref(), Some("1"));
    // A second run starts while the first is still inside migration 2.
    let second = spawn_apply(&p);
    let first = finish(first);
    let second = finish(second);
    assert_exit(&first, 4);
    assert!(
        first.stderr.contains("lost the stagegate lock on")
            && first.stderr.contains("3_after was not started"),
        "{}",
        first.stderr
    );
    assert_exit(&second, 0);
    assert_eq!(log_rows(&p), ["three", "two"], "each effect exactly once");
    assert_eq!(events_of(&p, "apply"), ["1:1", "2:1", "3:1"]);
    assert_eq!(advisory_locks(&p), "0", "both runs released their locks");
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

#[test]
fn recording_an_applied_version_again_fails_and_rolls_its_transaction_back() {
    assert_eq!(
        record_an_applied_version_again(None),
        (Some("ST001".into()), vec!["one".into()], vec!["1:1".into()])
    );
}

/// What a second, unlocked run of an applied migration would send: the migration's change
/// and `record_apply` in one transaction. Returns the SQLSTATE it failed with, the rows the
/// change left and the `apply` events. `fault` is planted once the state schema exists.
fn record_an_applied_version_again(
    fault: Option<&SqlFault>,
) -> (Option<String>, Vec<String>, Vec<String>) {
    let p = Project::new("");
    p.write(
        "1_log.up.sql",
        "CREATE TABLE log (v text);\nINSERT INTO log VALUES ('one');\n",
    );
    assert_exit(&p.apply(), 0);
    if let Some(fault) = fault {
        fault.plant(&p);
    }
    let url = p.db.database_url();
    let error = crate::support::harness::block_on(async move {
        let client = stagegate::connect(&url).await.unwrap();
        let result = client
            .batch_execute(
                "BEGIN; INSERT INTO log VALUES ('one'); \
                 SELECT stagegate.record_apply('1', '1', 'log', 'sha256:00', NULL, NULL, false, \
                 NULL, 2, NULL); COMMIT",
            )
            .await;
        let _ = client.batch_execute("ROLLBACK").await;
        result.err().map(|e| {
            e.code()
                .map_or_else(|| format!("no SQLSTATE: {e}"), |c| c.code().to_string())
        })
    });
    (error, log_rows(&p), events_of(&p, "apply"))
}

fn interrupt_with(name: &str) {
    let label = format!("SIG{name}");
    let p = Project::new("");
    p.write(
        "1_sleep.up.sql",
        "CREATE TABLE before_sleep (id int);\nSELECT pg_sleep(30);\n",
    );
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "pg_sleep(30)");
    signal(&child, name);
    let out = finish(child);
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains(&format!(
            "1_sleep interrupted ({label}): the running statement was cancelled on the server"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar(
            "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' \
             AND state = 'active' AND pid <> pg_backend_pid()"
        )
        .as_deref(),
        Some("0"),
        "the server stopped"
    );
    assert_eq!(advisory_locks(&p), "0", "the lock was released");
    let row = &p.query("SELECT status, error FROM stagegate.migrations WHERE version = '1'")[0];
    assert_eq!(row[0].as_deref(), Some("failed"));
    assert!(row[1].as_deref().unwrap().contains(&format!("({label})")));
}

#[test]
fn sigterm_cancels_on_the_server_and_records_the_attempt() {
    interrupt_with("TERM");
}

#[test]
fn sighup_cancels_on_the_server_and_records_the_attempt() {
    interrupt_with("HUP");
}

#[test]
fn a_killed_no_transaction_migration_resumes_after_the_statement_the_server_finished() {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('a');\nSELECT pg_sleep(1.5);\n\
         INSERT INTO log VALUES ('b');\n",
    );
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "pg_sleep(1.5)");
    signal(&child, "KILL");
    finish(child);
    // The server finishes statement 2 with its record, in one transaction of its own.
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(
            "2_steps was interrupted (its stagegate process died) at statement 3 of 3: \
             statements 1 to 2 are done"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("stagegate migrate resolve 2 --env staging --reason"),
        "{}",
        out.stderr
    );
    assert_eq!(
        events_of(&p, "failure"),
        ["2:1"],
        "the killed attempt is logged"
    );
    assert_exit(
        &p.run(&[
            "migrate", "resolve", "2", "--env", "staging", "--reason", "checked",
        ]),
        0,
    );
    assert_exit(&p.apply(), 0);
    assert_eq!(log_rows(&p), ["a", "b"], "no statement ran twice");
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// Holds SHARE on `t` (which a concurrent index build waits for) until told to stop.
fn hold_share_lock(p: &Project) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let url = p.db.database_url();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        crate::support::harness::block_on(async move {
            let client = stagegate::connect(&url).await.unwrap();
            client
                .batch_execute("BEGIN; LOCK TABLE t IN SHARE MODE")
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            client.batch_execute("COMMIT").await.unwrap();
        });
    });
    crate::support::harness::recv(&ready_rx, "the session taking SHARE on t");
    (stop_tx, holder)
}

/// A table `t`, then a no-transaction migration 2 with `build`, killed while the build waits
/// for a lock; the build finishes on the server after the process is gone.
fn kill_during_concurrent_build(build: &str) -> Project {
    let p = Project::new("");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    assert_exit(&p.apply(), 0);
    p.write(
        "2_idx.up.sql",
        &format!("-- stagegate:no-transaction\n{build}\n"),
    );
    let (stop, holder) = hold_share_lock(&p);
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "CREATE INDEX CONCURRENTLY");
    signal(&child, "KILL");
    finish(child);
    stop.send(()).unwrap();
    crate::support::harness::join(holder, "the session holding the lock");
    p
}

#[test]
fn a_killed_concurrent_index_build_that_finished_is_not_built_again() {
    let p = kill_during_concurrent_build("CREATE INDEX CONCURRENTLY t_id_idx ON t (id);");
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(
            "statement 1 (line 2) finished on the server: its index t_id_idx exists and is valid"
        ),
        "{}",
        out.stderr
    );
    assert_exit(
        &p.run(&[
            "migrate", "resolve", "2", "--env", "staging", "--reason", "built",
        ]),
        0,
    );
    // Built again, CREATE INDEX without IF NOT EXISTS would fail: it is not.
    let out = p.apply();
    assert_exit(&out, 0);
    assert_eq!(events_of(&p, "apply"), ["1:1", "2:1"]);
}

#[test]
fn a_killed_statement_the_catalog_cannot_account_for_needs_a_human_word() {
    // No index name: the catalog cannot tell whether this build happened.
    let p = kill_during_concurrent_build("CREATE INDEX CONCURRENTLY ON t (id);");
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("whether it finished cannot be read from the catalog")
            && out.stderr.contains("--statement ran --reason \"...\"`")
            && out.stderr.contains("--statement not-run --reason \"...\"`"),
        "{}",
        out.stderr
    );
    let out = p.run(&[
        "migrate", "resolve", "2", "--env", "staging", "--reason", "looked",
    ]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("resolve 2 --env staging --statement not-run --reason \"...\"`"),
        "{}",
        out.stderr
    );
    assert_exit(
        &p.run(&[
            "migrate",
            "resolve",
            "2",
            "--env",
            "staging",
            "--statement",
            "ran",
            "--reason",
            "the index is there",
        ]),
        0,
    );
    assert_exit(&p.apply(), 0);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM pg_index WHERE indrelid = 't'::regclass")
            .as_deref(),
        Some("1"),
        "built once"
    );
    assert!(
        p.scalar("SELECT detail FROM stagegate.events WHERE kind = 'resolve'")
            .unwrap()
            .contains("(statement 1: ran)")
    );
}

#[test]
fn a_failed_concurrent_build_names_its_invalid_leftover_and_is_never_recorded_done() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (email text);\nINSERT INTO t VALUES ('a@x'), ('a@x');\n",
    );
    p.write(
        "2_key.up.sql",
        "-- stagegate:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_email_key ON t (email);\n",
    );
    let out = p.apply();
    assert_exit(&out, 4);
    let advice = "DROP INDEX CONCURRENTLY IF EXISTS t_email_key;";
    assert!(
        out.stderr
            .contains("the failed build left the INVALID index t_email_key")
            && out.stderr.contains(advice),
        "{}",
        out.stderr
    );
    let error = p
        .scalar("SELECT error FROM stagegate.migrations WHERE version = '2'")
        .unwrap();
    assert!(error.contains(advice), "{error}");
    // The data is fixed; IF NOT EXISTS would now skip the invalid leftover.
    p.query("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)");
    assert_exit(
        &p.run(&[
            "migrate",
            "resolve",
            "2",
            "--env",
            "staging",
            "--reason",
            "deduplicated",
        ]),
        0,
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("an INVALID index of that name is left") && out.stderr.contains(advice),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar("SELECT status FROM stagegate.migrations WHERE version = '2'")
            .as_deref(),
        Some("failed")
    );
    // status and plan show the leftover.
    for args in [
        &["migrate", "status"][..],
        &["migrate", "plan", "--env", "staging"],
    ] {
        let out = p.run(args);
        assert!(
            out.stdout
                .contains("staging: INVALID index t_email_key on t")
                && out.stdout.contains(advice),
            "{args:?}: {}",
            out.stdout
        );
    }
    let json = p.run(&["migrate", "status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["environments"][0]["invalid_indexes"][0]["index"],
        "t_email_key"
    );
    p.query(advice);
    assert_exit(
        &p.run(&[
            "migrate",
            "resolve",
            "2",
            "--env",
            "staging",
            "--reason",
            "dropped it",
        ]),
        0,
    );
    assert_exit(&p.apply(), 0);
    assert_eq!(
        p.scalar(
            "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 't_email_key'::regclass"
        )
        .as_deref(),
        Some("true")
    );
}

#[test]
fn audit_verify_shows_a_removed_newest_event_and_an_edited_state_row() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    let out = p.apply();
    assert_exit(&out, 0);
    let head = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("event log head: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("apply prints the head: {}", out.stdout))
        .to_string();
    let verify = |extra: &[&str]| {
        let mut args = vec!["audit", "--env", "staging", "--verify"];
        args.extend_from_slice(extra);
        p.run(&args)
    };
    assert_exit(&verify(&["--head", &head]), 0);

    // A superuser deletes the newest event, triggers bypassed: the chain of the rest holds.
    p.query(
        "ALTER TABLE stagegate.events DISABLE TRIGGER events_append_only; \
         DELETE FROM stagegate.events WHERE id = (SELECT max(id) FROM stagegate.events); \
         ALTER TABLE stagegate.events ENABLE TRIGGER events_append_only",
    );
    let out = verify(&["--head", &head]);
    assert_exit(&out, 3);
    assert!(
        out.stdout.contains("the tail of the log was removed")
            && out.stdout.contains("given with --head is not in the log")
            && out
                .stdout
                .contains("migration 2: the state row says applied"),
        "{}",
        out.stdout
    );
    // Even the log's own anchor rewritten to match: the state row still shows it.
    p.query(
        "UPDATE stagegate.chain_head SET id = (SELECT max(id) FROM stagegate.events), \
         hash = (SELECT hash FROM stagegate.events ORDER BY id DESC LIMIT 1)",
    );
    let out = verify(&[]);
    assert_exit(&out, 3);
    assert!(out.stderr.contains("migration 2:"), "{}", out.stderr);

    // An edited checksum in the state table.
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&p.apply(), 0);
    p.query("UPDATE stagegate.migrations SET checksum = 'sha256:forged'");
    let out = p.run(&["audit", "--env", "staging", "--verify", "--format", "json"]);
    assert_exit(&out, 3);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["verified"], false);
    assert!(
        json["problems"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("checksum sha256:forged differs"),
        "{json}"
    );

    // A gap in the ids: an event removed from the middle, chain re-linked by hand is caught
    // by the chain; ids themselves must also be consecutive.
    let p = Project::new("");
    for (i, table) in ["a", "b", "c"].iter().enumerate() {
        p.write(
            &format!("{}_{table}.up.sql", i + 1),
            &format!("CREATE TABLE {table} (id int);\n"),
        );
    }
    assert_exit(&p.apply(), 0);
    p.query(
        "ALTER TABLE stagegate.events DISABLE TRIGGER events_append_only; \
         ALTER TABLE stagegate.events ALTER COLUMN id DROP IDENTITY; \
         UPDATE stagegate.events SET id = 7 WHERE id = 4; \
         ALTER TABLE stagegate.events ENABLE TRIGGER events_append_only; \
         UPDATE stagegate.chain_head SET id = 7",
    );
    let out = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&out, 3);
    assert!(
        out.stdout.contains("event ids jump from 3 to 7"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_summary_gives_the_real_elapsed_time() {
    let p = Project::new("");
    for i in 1..=3 {
        p.write(&format!("{i}_s.up.sql"), "SELECT pg_sleep(0.4);\n");
    }
    let started = Instant::now();
    let out = p.apply();
    let wall = started.elapsed();
    assert_exit(&out, 0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("applied 3 migration(s) in "))
        .unwrap();
    let text = line.rsplit(" in ").next().unwrap();
    let seconds: f64 = text
        .trim_end_matches('s')
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    // Three sleeps of 0.4 s cannot take less than 1.2 s, nor more than the command took.
    assert!(seconds >= 1.2, "{line}");
    assert!(seconds <= wall.as_secs_f64() + 0.05, "{line}");
}

#[test]
fn two_applies_started_together_run_each_migration_once() {
    let p = Project::new("");
    three_inserts(&p);
    let first = spawn_apply(&p);
    let second = spawn_apply(&p);
    let (first, second) = (finish(first), finish(second));
    assert_exit(&first, 0);
    assert_exit(&second, 0);
    assert_eq!(log_rows(&p), ["three", "two"], "each effect exactly once");
    assert_eq!(events_of(&p, "apply"), ["1:1", "2:1", "3:1"]);
    assert!(
        format!("{}{}", first.stdout, second.stdout).contains("up to date, nothing to apply"),
        "one of them found the work done:\n{}\n{}",
        first.stdout,
        second.stdout
    );
}

#[test]
fn a_dropped_migration_connection_rolls_back_and_a_rerun_applies_once() {
    let p = Project::new("");
    three_inserts(&p);
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "pg_sleep(1.5)");
    let terminated = p.scalar(
        "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(1.5)%' AND state = 'active' AND pid <> pg_backend_pid() \
           AND datname = current_database()",
    );
    assert_eq!(terminated.as_deref(), Some("1"));
    let out = finish(child);
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("nothing of 2_slow was applied"),
        "{}",
        out.stderr
    );
    assert_eq!(log_rows(&p), Vec::<String>::new(), "rolled back");
    assert_eq!(advisory_locks(&p), "0", "the lock was released");
    assert_exit(&p.apply(), 0);
    assert_eq!(log_rows(&p), ["three", "two"]);
    assert_eq!(events_of(&p, "apply"), ["1:1", "2:1", "3:1"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

#[test]
fn drop_invalid_indexes_drops_the_leftover_and_builds_again() {
    let p = Project::new("[migrate]\ndrop_invalid_indexes = true");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (email text);\nINSERT INTO t VALUES ('a@x'), ('a@x');\n",
    );
    p.write(
        "2_key.up.sql",
        "-- stagegate:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_email_key ON t (email);\n",
    );
    assert_exit(&p.apply(), 4);
    p.query("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)");
    assert_exit(
        &p.run(&[
            "migrate",
            "resolve",
            "2",
            "--env",
            "staging",
            "--reason",
            "deduplicated",
        ]),
        0,
    );
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(
        out.stderr
            .contains("dropping the INVALID index t_email_key"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar(
            "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 't_email_key'::regclass"
        )
        .as_deref(),
        Some("true")
    );
    assert!(
        p.scalar("SELECT detail FROM stagegate.events WHERE kind = 'repair'")
            .unwrap()
            .contains("DROP INDEX CONCURRENTLY IF EXISTS t_email_key")
    );
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

#[test]
fn a_failed_concurrent_reindex_names_its_ccnew_leftover() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int);\nCREATE INDEX t_id_idx ON t (id);\n",
    );
    assert_exit(&p.apply(), 0);
    p.write(
        "2_reindex.up.sql",
        "-- stagegate:no-transaction\n-- stagegate:lock-timeout 300ms\n\
         REINDEX INDEX CONCURRENTLY t_id_idx;\n",
    );
    // An open writer: the reindex builds its copy, then times out waiting for it.
    let url = p.db.database_url();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        crate::support::harness::block_on(async move {
            let client = stagegate::connect(&url).await.unwrap();
            client
                .batch_execute("BEGIN; INSERT INTO t VALUES (1)")
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            client.batch_execute("ROLLBACK").await.unwrap();
        });
    });
    crate::support::harness::recv(&ready_rx, "the session writing to t");
    let out = p.apply();
    stop_tx.send(()).unwrap();
    crate::support::harness::join(writer, "the writing session");
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("the failed build left the INVALID index t_id_idx_ccnew")
            && out
                .stderr
                .contains("DROP INDEX CONCURRENTLY IF EXISTS t_id_idx_ccnew;"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_partitioned_index_left_invalid_fails_its_migration() {
    for no_transaction in [false, true] {
        let p = Project::new("");
        p.write(
            "1_p.up.sql",
            "CREATE TABLE p (a int) PARTITION BY RANGE (a);\n\
             CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);\n\
             CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20);\n",
        );
        assert_exit(&p.apply(), 0);
        let marker = if no_transaction {
            "-- stagegate:no-transaction\n"
        } else {
            ""
        };
        // One partition's index is forgotten: the parent stays INVALID.
        p.write(
            "2_idx.up.sql",
            &format!(
                "{marker}CREATE INDEX p_a_idx ON ONLY p (a);\n\
                 CREATE INDEX p1_a_idx ON p1 (a);\n\
                 ALTER INDEX p_a_idx ATTACH PARTITION p1_a_idx;\n"
            ),
        );
        let out = p.apply();
        assert_exit(&out, 4);
        assert!(
            out.stderr
                .contains("partitioned index p_a_idx is still INVALID at the end of the migration"),
            "{no_transaction}: {}",
            out.stderr
        );
        assert_eq!(
            p.scalar("SELECT status FROM stagegate.migrations WHERE version = '2'")
                .as_deref(),
            Some("failed"),
            "{no_transaction}"
        );
        if no_transaction {
            // Its statements stay applied; the missing one is added and the run resumes.
            p.write(
                "2_idx.up.sql",
                "-- stagegate:no-transaction\nCREATE INDEX p_a_idx ON ONLY p (a);\n\
                 CREATE INDEX p1_a_idx ON p1 (a);\n\
                 ALTER INDEX p_a_idx ATTACH PARTITION p1_a_idx;\n\
                 CREATE INDEX p2_a_idx ON p2 (a);\n\
                 ALTER INDEX p_a_idx ATTACH PARTITION p2_a_idx;\n",
            );
        } else {
            assert_eq!(
                p.scalar("SELECT count(*)::text FROM pg_class WHERE relname = 'p_a_idx'")
                    .as_deref(),
                Some("0"),
                "rolled back"
            );
            p.write(
                "2_idx.up.sql",
                "CREATE INDEX p_a_idx ON ONLY p (a);\n\
                 CREATE INDEX p1_a_idx ON p1 (a);\n\
                 ALTER INDEX p_a_idx ATTACH PARTITION p1_a_idx;\n\
                 CREATE INDEX p2_a_idx ON p2 (a);\n\
                 ALTER INDEX p_a_idx ATTACH PARTITION p2_a_idx;\n",
            );
        }
        let out = p.apply();
        assert_exit(&out, 0);
        assert_eq!(
            p.scalar(
                "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'p_a_idx'::regclass"
            )
            .as_deref(),
            Some("true")
        );
    }
}

#[test]
fn a_killed_no_transaction_down_needs_a_human_word_before_it_resumes() {
    let p = Project::new("");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    p.write("1_t.down.sql", "DROP TABLE t;\n");
    p.write(
        "2_idx.up.sql",
        "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n",
    );
    // Not idempotent: run again after it took effect, it would fail.
    p.write(
        "2_idx.down.sql",
        "-- stagegate:no-transaction\nDROP INDEX CONCURRENTLY t_id;\n",
    );
    assert_exit(&p.apply(), 0);
    // The drop waits for the lock; the process is killed; then the server finishes it.
    let (stop, holder) = hold_share_lock(&p);
    let mut child = p
        .child(&["migrate", "down", "--env", "staging", "--steps", "1"])
        .spawn()
        .unwrap();
    wait_for_query(&p, &mut child, "DROP INDEX CONCURRENTLY");
    signal(&child, "KILL");
    finish(child);
    stop.send(()).unwrap();
    crate::support::harness::join(holder, "the session holding the lock");
    let started = Instant::now();
    while p.scalar("SELECT to_regclass('t_id') IS NULL").as_deref() != Some("t") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the drop never ended"
        );
        std::thread::sleep(Duration::from_millis(25));
    }

    let out = p.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("2_idx was interrupted while its down statement 1 ran")
            && out.stderr.contains(
                "`stagegate migrate resolve 2 --env staging --statement ran --reason \"...\"`"
            ),
        "{}",
        out.stderr
    );
    let out = p.run(&[
        "migrate", "resolve", "2", "--env", "staging", "--reason", "checked",
    ]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("resolve 2 --env staging --statement not-run --reason \"...\"`"),
        "{}",
        out.stderr
    );
    assert_exit(
        &p.run(&[
            "migrate",
            "resolve",
            "2",
            "--env",
            "staging",
            "--statement",
            "ran",
            "--reason",
            "t_id is gone",
        ]),
        0,
    );
    // The down finishes without running the drop again, and the way forward is open.
    assert_exit(
        &p.run(&["migrate", "down", "--env", "staging", "--steps", "1"]),
        0,
    );
    assert_eq!(
        p.scalar("SELECT status FROM stagegate.migrations WHERE version = '2'")
            .as_deref(),
        Some("reverted")
    );
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
    assert_exit(&p.apply(), 0);
    assert_eq!(
        p.scalar("SELECT to_regclass('t_id') IS NOT NULL")
            .as_deref(),
        Some("t")
    );
}

/// Runs `sql` on a connection of its own inside a transaction that is rolled back, and
/// returns the SQLSTATE it failed with (`None`: it succeeded).
fn sqlstate_of(p: &Project, sql: &str) -> Option<String> {
    let url = p.db.database_url();
    let sql = format!("BEGIN; {sql}; ROLLBACK");
    crate::support::harness::block_on(async move {
        let client = stagegate::connect(&url).await.unwrap();
        let result = client.batch_execute(&sql).await;
        let _ = client.batch_execute("ROLLBACK").await;
        result.err().map(|e| {
            e.code()
                .map_or_else(|| format!("no SQLSTATE: {e}"), |c| c.code().to_string())
        })
    })
}

/// The state functions refuse records that do not follow a running no-transaction attempt:
/// its apply before every statement is done (ST002), and statement 3 recorded done while
/// statement 2 is still running (ST003). The runner never sends either; another run, or a
/// person at psql, could. (Mutants: `record_apply`'s ST002 check and `record_progress`'s
/// `statements_done = p_done - 1` condition removed, in the state migrations' SQL.)
#[test]
fn the_state_functions_refuse_records_out_of_order_while_a_migration_runs() {
    assert_eq!(
        records_out_of_order(None),
        [Some("ST002".into()), Some("ST003".into()), None]
    );
}

/// A no-transaction migration runs (statement 1 of 3 done, statement 2 sleeping) while
/// another connection sends, each in a transaction rolled back: its `record_apply` (every
/// statement not done), statement 3 recorded done, and statement 2 recorded done (the next
/// one in order). Returns the SQLSTATE each failed with. `fault` is planted while the
/// migration runs.
fn records_out_of_order(fault: Option<&SqlFault>) -> [Option<String>; 3] {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('a');\nSELECT pg_sleep(60);\n\
         INSERT INTO log VALUES ('b');\n",
    );
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "pg_sleep(60)");
    let row = p.query(
        "SELECT status, statements_done::text, statements_total::text \
         FROM stagegate.migrations WHERE version = '2'",
    );
    assert_eq!(
        row,
        [[Some("running".into()), Some("1".into()), Some("3".into())]]
    );
    if let Some(fault) = fault {
        fault.plant(&p);
    }
    let not_done = sqlstate_of(
        &p,
        "SELECT stagegate.record_apply('2', '2', 'steps', 'sha256:00', NULL, NULL, true, NULL, \
         3, NULL)",
    );
    let skipped = sqlstate_of(&p, "SELECT stagegate.record_progress('2', 3, 'sha256:00')");
    let next = sqlstate_of(&p, "SELECT stagegate.record_progress('2', 2, 'sha256:00')");
    signal(&child, "INT");
    let out = finish(child);
    assert_exit(&out, 4);
    assert_eq!(events_of(&p, "apply"), ["1:1"]);
    [not_done, skipped, next]
}

/// Two runs append to the event log (the first creates the state schema; `fault` is planted
/// before the second), then `audit --verify` checks the chain. The second run applies a
/// migration in a transaction (`record_apply` appends its event itself) and a no-transaction
/// one (its start and progress through `append_event`, then `record_apply`), so a bug in
/// either writer reaches the chain. Returns the exit codes of the second apply and of the
/// audit.
fn audit_of_a_chain_written_by(fault: Option<&SqlFault>) -> (i32, i32) {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&p.apply(), 0);
    if let Some(fault) = fault {
        fault.plant(&p);
    }
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.write(
        "3_c.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE c (id int);\n",
    );
    let apply = p.apply().code;
    let audit = p.run(&["audit", "--env", "staging", "--verify"]).code;
    (apply, audit)
}

#[test]
fn an_event_chain_written_by_the_state_functions_verifies() {
    assert_eq!(audit_of_a_chain_written_by(None), (0, 0));
}

/// A bug planted in one of the state schema's SQL functions (`migrations/*.sql`), which
/// cargo-mutants does not mutate: in a test's own database, the function is redefined with
/// `original` (which must occur in its definition exactly once) replaced by `planted`. The
/// tests below plant each one in the scenario of the test that must catch it and check that
/// the scenario's outcome changes (docs/testing.md).
struct SqlFault {
    function: &'static str,
    original: &'static str,
    planted: &'static str,
}

impl SqlFault {
    fn plant(&self, p: &Project) {
        let definitions = p.query(&format!(
            "SELECT pg_get_functiondef(f.oid) FROM pg_proc f \
             JOIN pg_namespace n ON n.oid = f.pronamespace \
             WHERE n.nspname = 'stagegate' AND f.proname = '{}'",
            self.function
        ));
        assert_eq!(definitions.len(), 1, "one stagegate.{}", self.function);
        let definition = definitions[0][0].clone().unwrap();
        assert_eq!(
            definition.matches(self.original).count(),
            1,
            "`{}` occurs once in stagegate.{}:\n{definition}",
            self.original,
            self.function
        );
        p.query(&definition.replace(self.original, self.planted));
    }
}

impl std::fmt::Display for SqlFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stagegate.{}: `{}` -> `{}`",
            self.function, self.original, self.planted
        )
    }
}

/// Bugs planted in `record_apply` and `record_progress`, the conditional records: each must
/// change what the test that holds the condition sees.
#[test]
fn planted_bugs_in_the_conditional_records_are_caught() {
    // ST001: an applied version recorded applied again.
    let fault = SqlFault {
        function: "record_apply",
        original: "IF v_status = 'applied' THEN",
        planted: "IF false THEN",
    };
    assert_ne!(
        record_an_applied_version_again(Some(&fault)),
        (Some("ST001".into()), vec!["one".into()], vec!["1:1".into()]),
        "{fault}"
    );
    let expected = records_out_of_order(None);
    for fault in [
        // ST002: a no-transaction migration recorded applied while not running...
        SqlFault {
            function: "record_apply",
            original: "IF p_no_transaction AND (v_status IS DISTINCT FROM 'running'",
            planted: "IF false AND (v_status IS DISTINCT FROM 'running'",
        },
        // ...or with statements not done.
        SqlFault {
            function: "record_apply",
            original: "OR v_done IS DISTINCT FROM p_statements_total",
            planted: "",
        },
        // ST003: statement k recorded done though k - 1 is not.
        SqlFault {
            function: "record_progress",
            original: "AND statements_done = p_done - 1",
            planted: "",
        },
    ] {
        assert_ne!(records_out_of_order(Some(&fault)), expected, "{fault}");
    }
}

/// Bugs planted in `append_event` and in `record_apply` (which appends its `apply` event
/// itself, from the head anchor), the writers of the event log's chain: each must make
/// `migrate apply` or `audit --verify` fail on the chain it writes.
#[test]
fn planted_bugs_in_the_event_chain_are_caught() {
    for fault in [
        // Each event linked to the zero hash instead of the one before it.
        SqlFault {
            function: "append_event",
            original: "SELECT id, hash INTO v_id, v_prev FROM",
            planted: "SELECT id, NULL INTO v_id, v_prev FROM",
        },
        // The kind left out of the hashed text.
        SqlFault {
            function: "append_event",
            original: "coalesce(octet_length(convert_to(p_kind, 'UTF8'))::text || ':' || p_kind, '-')",
            planted: "'-'",
        },
        // The head anchor not moved to the new event.
        SqlFault {
            function: "append_event",
            original: "UPDATE stagegate.chain_head SET id = v_id, hash = v_hash WHERE one;",
            planted: "",
        },
        // An id skipped.
        SqlFault {
            function: "append_event",
            original: "v_id := coalesce(v_id, 0) + 1;",
            planted: "v_id := coalesce(v_id, 0) + 2;",
        },
        // The same four in record_apply's own append (its kind is the literal `5:apply`).
        SqlFault {
            function: "record_apply",
            original: "SELECT id, hash INTO v_id, v_prev FROM",
            planted: "SELECT id, NULL INTO v_id, v_prev FROM",
        },
        SqlFault {
            function: "record_apply",
            original: "'5:apply'",
            planted: "'-'",
        },
        SqlFault {
            function: "record_apply",
            original: "UPDATE stagegate.chain_head SET id = v_id, hash = v_hash WHERE one;",
            planted: "",
        },
        SqlFault {
            function: "record_apply",
            original: "v_id := coalesce(v_id, 0) + 1;",
            planted: "v_id := coalesce(v_id, 0) + 2;",
        },
    ] {
        assert_ne!(audit_of_a_chain_written_by(Some(&fault)), (0, 0), "{fault}");
    }
}

/// A killed `CREATE UNIQUE INDEX CONCURRENTLY` that then failed on the server left an INVALID
/// index: the next apply must not take it for a finished build. (Mutant: deploy/concurrent.rs
/// settling an existing but INVALID named index as `Outcome::Ran`.)
#[test]
fn a_killed_concurrent_build_that_failed_on_the_server_is_not_taken_as_done() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);\n",
    );
    assert_exit(&p.apply(), 0);
    p.write(
        "2_key.up.sql",
        "-- stagegate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY t_id_key ON t (id);\n",
    );
    let (stop, holder) = hold_share_lock(&p);
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "CREATE UNIQUE INDEX CONCURRENTLY");
    signal(&child, "KILL");
    finish(child);
    stop.send(()).unwrap();
    crate::support::harness::join(holder, "the session holding SHARE on t");
    // The orphaned backend goes on, meets the duplicate and fails, leaving the index INVALID.
    let started = Instant::now();
    while p
        .scalar(
            "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE \
             '%CREATE UNIQUE INDEX CONCURRENTLY%' AND pid <> pg_backend_pid() \
             AND datname = current_database()",
        )
        .as_deref()
        != Some("0")
    {
        assert!(
            started.elapsed() < crate::support::harness::DEADLINE,
            "the orphaned build never ended"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(
        p.scalar("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 't_id_key'::regclass")
            .as_deref(),
        Some("false")
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(
            "statement 1 (line 2) failed on the server and left the INVALID index t_id_key"
        ) && out
            .stderr
            .contains("DROP INDEX CONCURRENTLY IF EXISTS t_id_key;"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar("SELECT statements_done::text FROM stagegate.migrations WHERE version = '2'")
            .as_deref(),
        Some("0"),
        "the build is not counted done"
    );
    assert_eq!(events_of(&p, "apply"), ["1:1"]);
}

/// A bare concurrent build that returns success but leaves its index INVALID (here `IF NOT
/// EXISTS` skipped an index of that name made INVALID while the build waited for its lock) is
/// not recorded done. (Mutant: deploy/runner.rs's check after the build accepting an index
/// that exists whatever its validity.)
#[test]
fn a_concurrent_build_that_ends_with_an_invalid_index_is_not_recorded_done() {
    let p = Project::new("");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    assert_exit(&p.apply(), 0);
    p.write(
        "2_idx.up.sql",
        "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON t (id);\n",
    );
    // A session holds SHARE UPDATE EXCLUSIVE on t, so the build waits for it; meanwhile that
    // session makes an index of the same name and marks it invalid, as a failed build would.
    let url = p.db.database_url();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        crate::support::harness::block_on(async move {
            let client = stagegate::connect(&url).await.unwrap();
            client
                .batch_execute("BEGIN; LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE")
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = tokio::task::spawn_blocking(move || go_rx.recv()).await;
            client
                .batch_execute(
                    "CREATE INDEX t_id_idx ON t (id); \
                     UPDATE pg_index SET indisvalid = false \
                     WHERE indexrelid = 't_id_idx'::regclass; COMMIT",
                )
                .await
                .unwrap();
        });
    });
    crate::support::harness::recv(&ready_rx, "the session locking t");
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "CREATE INDEX CONCURRENTLY IF NOT EXISTS");
    go_tx.send(()).unwrap();
    crate::support::harness::join(holder, "the session making the invalid index");
    let out = finish(child);
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains(
            "2_idx: statement 1 of 1 (line 2) ran, but its index t_id_idx is INVALID afterwards"
        ) && out
            .stderr
            .contains("DROP INDEX CONCURRENTLY IF EXISTS t_id_idx;"),
        "{}",
        out.stderr
    );
    let row = p.query(
        "SELECT status, statements_done::text FROM stagegate.migrations WHERE version = '2'",
    );
    assert_eq!(row, [[Some("failed".into()), Some("0".into())]]);
    assert_eq!(events_of(&p, "apply"), ["1:1"]);
}

/// A `running` row is vouched for by its attempt's latest `apply_start` or `apply_progress`
/// event: a killed no-transaction migration's row verifies (it is anchored on the progress
/// of statement 1); moved further by hand (`statements_done` 2), it refuses apply and fails
/// `audit --verify`, and nothing runs. Put back, the attempt resumes after the statement the
/// server finished, and the log verifies.
#[test]
fn a_running_row_with_more_statements_done_than_its_events_refuses() {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('a');\n\
         SELECT pg_sleep(60) WHERE NOT EXISTS (SELECT FROM log WHERE v = 'x');\n\
         INSERT INTO log VALUES ('b');\n",
    );
    let mut child = spawn_apply(&p);
    wait_for_query(&p, &mut child, "pg_sleep(60)");
    signal(&child, "KILL");
    finish(child);
    // The killed run's statement ends (cancelled: the sleep was not finished).
    p.query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid() \
           AND datname = current_database()",
    );
    assert_eq!(
        p.query(
            "SELECT status, statements_done::text FROM stagegate.migrations \
             WHERE version = '2'"
        ),
        [[Some("running".into()), Some("1".into())]]
    );
    assert_eq!(events_of(&p, "apply_start"), ["2:1"]);
    assert_eq!(events_of(&p, "apply_progress"), ["2:1"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);

    // One statement more than the log says: a resume would skip the sleep.
    p.query(
        "CREATE TABLE saved AS SELECT * FROM stagegate.migrations WHERE version = '2'; \
         UPDATE stagegate.migrations SET statements_done = 2 WHERE version = '2'",
    );
    let audit = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&audit, 3);
    assert!(
        flat(&audit.stdout).contains("the state row says 2 statement(s) done"),
        "{}",
        audit.stdout
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(out.stderr.contains("state gate"), "{}", out.stderr);
    assert_eq!(events_of(&p, "failure"), Vec::<String>::new());
    assert_eq!(log_rows(&p), ["a"]);

    // Put back: the interrupted attempt is settled and resumes at statement 2.
    p.query(
        "DELETE FROM stagegate.migrations WHERE version = '2'; \
         INSERT INTO stagegate.migrations SELECT * FROM saved; DROP TABLE saved; \
         INSERT INTO log VALUES ('x')",
    );
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
    assert_exit(&p.apply(), 3);
    assert_exit(
        &p.run(&[
            "migrate", "resolve", "2", "--env", "staging", "--reason", "checked",
        ]),
        0,
    );
    assert_exit(&p.apply(), 0);
    assert_eq!(log_rows(&p), ["a", "b", "x"], "no statement ran twice");
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// A `running` row no start event vouches for (written by hand, or left by a stagegate older
/// than state schema 10 that was killed mid-run) refuses apply and fails `audit --verify`,
/// naming `migrate resolve`, which settles it on a human's word; then apply runs the
/// migration from the statement the row names.
#[test]
fn a_running_row_without_a_start_event_refuses_until_resolved() {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    assert_exit(&p.apply(), 0);
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('a');\n\
         INSERT INTO log VALUES ('b');\n",
    );
    p.query(
        "INSERT INTO stagegate.migrations (version, version_text, name, checksum, \
         no_transaction, status, started_at, db_user, statements_done, statements_total, \
         done_checksum) \
         VALUES ('2', '2', 'steps', 'sha256:00', true, 'running', now(), current_user, 0, 2, \
         'sha256:00')",
    );
    let audit = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&audit, 3);
    assert!(
        flat(&audit.stdout).contains("not the start of an attempt"),
        "{}",
        audit.stdout
    );
    let out = p.apply();
    assert_exit(&out, 3);
    let stderr = flat(&out.stderr);
    assert!(
        stderr.contains("state gate") && stderr.contains("stagegate migrate resolve 2"),
        "{stderr}"
    );
    assert_eq!(log_rows(&p), Vec::<String>::new(), "nothing ran");
    assert_exit(
        &p.run(&[
            "migrate",
            "resolve",
            "2",
            "--env",
            "staging",
            "--reason",
            "nothing of it ran",
        ]),
        0,
    );
    assert_exit(&p.apply(), 0);
    assert_eq!(log_rows(&p), ["a", "b"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// `statements_done` of migration 2 set by hand, as a forger who wants a resume to skip
/// statements would.
fn forge_statements_done(p: &Project, column: &str, done: i32) {
    p.query(&format!(
        "UPDATE stagegate.migrations SET {column} = {done} WHERE version = '2'"
    ));
}

/// A `failed` row is vouched for by its attempt's latest progress event: moved past the
/// statements the log says are done (before and after it was resolved), it refuses apply
/// and fails `audit --verify`, nothing runs; `migrate resolve` puts it back at the log's
/// count, and the resume runs the statements the forged count would have skipped.
#[test]
fn a_failed_row_with_more_statements_done_than_its_events_refuses_until_resolved() {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('a');\n\
         INSERT INTO log VALUES ('b');\nINSERT INTO log SELECT v FROM ok;\n\
         INSERT INTO log VALUES ('d');\n",
    );
    assert_exit(&p.apply(), 4);
    let row = || {
        p.query(
            "SELECT status, statements_done::text, (resolved_at IS NOT NULL)::text \
             FROM stagegate.migrations WHERE version = '2'",
        )
    };
    assert_eq!(
        row(),
        [[
            Some("failed".into()),
            Some("2".into()),
            Some("false".into())
        ]]
    );
    assert_eq!(events_of(&p, "apply_progress"), ["2:2"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);

    // Forged unresolved, then forged again once resolved: each time the log's count wins.
    for resolved in ["false", "true"] {
        forge_statements_done(&p, "statements_done", 3);
        let audit = p.run(&["audit", "--env", "staging", "--verify"]);
        assert_exit(&audit, 3);
        assert!(
            flat(&audit.stdout)
                .contains("migration 2: the state row says 3 statement(s) done (sha256:")
                && flat(&audit.stdout).contains("but its latest progress event records 2"),
            "{}",
            audit.stdout
        );
        let out = p.apply();
        assert_exit(&out, 3);
        let stderr = flat(&out.stderr);
        assert!(
            stderr.contains("state gate") && stderr.contains("stagegate migrate resolve 2"),
            "{stderr}"
        );
        assert_eq!(log_rows(&p), ["a", "b"], "nothing ran");
        assert_eq!(
            row(),
            [[
                Some("failed".into()),
                Some("3".into()),
                Some(resolved.into())
            ]]
        );
        let out = p.run(&[
            "migrate", "resolve", "2", "--env", "staging", "--reason", "checked",
        ]);
        assert_exit(&out, 0);
        assert!(
            flat(&out.stderr).contains(
                "the state row said 3 statement(s) done, the event log records 2; resolved at \
                 the log's count"
            ),
            "{}",
            out.stderr
        );
        assert_eq!(
            row(),
            [[Some("failed".into()), Some("2".into()), Some("true".into())]]
        );
        assert_eq!(
            p.scalar(
                "SELECT detail FROM stagegate.events WHERE kind = 'resolve' \
                 ORDER BY id DESC LIMIT 1"
            )
            .as_deref(),
            Some("checked (2 statement(s) done, as the event log records)")
        );
        assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
    }
    // Repaired, the resume runs statement 3 on: the one the forged count skipped included.
    p.query("CREATE TABLE ok AS SELECT 'c'::text AS v");
    assert_exit(&p.apply(), 0);
    assert_eq!(log_rows(&p), ["a", "b", "c", "d"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// A `reverting` row is vouched for by its down script's `down_start` and `down_progress`
/// events: a failed no-transaction down's row moved past the down statements the log says
/// are done refuses `migrate down` and fails `audit --verify`, and nothing runs; `migrate
/// resolve` puts it back at the log's count and the down resumes there.
#[test]
fn a_reverting_row_with_more_down_statements_done_than_its_events_refuses() {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('up');\n",
    );
    p.write(
        "2_steps.down.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('down 1');\n\
         INSERT INTO log SELECT v FROM ok;\nINSERT INTO log VALUES ('down 3');\n",
    );
    assert_exit(&p.apply(), 0);
    let down = || p.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&down(), 4);
    let row = || {
        p.query(
            "SELECT status, down_statements_done::text FROM stagegate.migrations \
             WHERE version = '2'",
        )
    };
    assert_eq!(row(), [[Some("reverting".into()), Some("1".into())]]);
    assert_eq!(events_of(&p, "down_start"), ["2:1"]);
    assert_eq!(events_of(&p, "down_progress"), ["2:1"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);

    forge_statements_done(&p, "down_statements_done", 2);
    let audit = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&audit, 3);
    assert!(
        flat(&audit.stdout).contains("the state row says 2 down statement(s) done")
            && flat(&audit.stdout).contains("but its latest progress event records 1"),
        "{}",
        audit.stdout
    );
    let out = down();
    assert_exit(&out, 3);
    assert!(flat(&out.stderr).contains("state gate"), "{}", out.stderr);
    assert_eq!(log_rows(&p), ["down 1", "up"], "nothing ran");
    assert_eq!(events_of(&p, "down_start"), ["2:1"]);

    let out = p.run(&[
        "migrate", "resolve", "2", "--env", "staging", "--reason", "checked",
    ]);
    assert_exit(&out, 0);
    assert!(
        flat(&out.stderr)
            .contains("the state row said 2 down statement(s) done, the event log records 1"),
        "{}",
        out.stderr
    );
    assert_eq!(row(), [[Some("reverting".into()), Some("1".into())]]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
    // Repaired, the down resumes at down statement 2.
    p.query("CREATE TABLE ok AS SELECT 'down 2'::text AS v");
    assert_exit(&down(), 0);
    assert_eq!(log_rows(&p), ["down 1", "down 2", "down 3", "up"]);
    assert_eq!(events_of(&p, "down_start"), ["2:2"]);
    assert_eq!(events_of(&p, "down_progress"), ["2:3"]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// A no-transaction down of migration 2 killed while its second down statement runs (its
/// first recorded done; the second, in a transaction with its record, rolls back when the
/// server cancels it); `fault` is planted before the down. Returns the SQLSTATE of down
/// statement 3 recorded done while 2 runs (in a transaction rolled back), the exit codes of
/// `audit --verify` right after the kill, of the down run again (it resumes at statement 2)
/// and of `audit --verify` after it, and the rows of `log` at the end.
fn killed_down_audit(fault: Option<&SqlFault>) -> (Option<String>, [i32; 3], Vec<String>) {
    let p = Project::new("");
    p.write("1_log.up.sql", "CREATE TABLE log (v text);\n");
    p.write(
        "2_steps.up.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('up');\n",
    );
    p.write(
        "2_steps.down.sql",
        "-- stagegate:no-transaction\nINSERT INTO log VALUES ('down 1');\n\
         SELECT pg_sleep(60) WHERE NOT EXISTS (SELECT FROM log WHERE v = 'x');\n\
         INSERT INTO log VALUES ('down 3');\n",
    );
    assert_exit(&p.apply(), 0);
    if let Some(fault) = fault {
        fault.plant(&p);
    }
    let mut child = p
        .child(&["migrate", "down", "--env", "staging", "--steps", "1"])
        .spawn()
        .unwrap();
    wait_for_query(&p, &mut child, "pg_sleep(60)");
    let skipped = sqlstate_of(
        &p,
        "SELECT stagegate.record_down_progress('2', 3, 'sha256:00')",
    );
    signal(&child, "KILL");
    finish(child);
    p.query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid() \
           AND datname = current_database()",
    );
    let after_kill = p.run(&["audit", "--env", "staging", "--verify"]).code;
    p.query("INSERT INTO log VALUES ('x')");
    let down = p
        .run(&["migrate", "down", "--env", "staging", "--steps", "1"])
        .code;
    let audit = p.run(&["audit", "--env", "staging", "--verify"]).code;
    (skipped, [after_kill, down, audit], log_rows(&p))
}

/// A killed no-transaction down's `reverting` row is vouched for by its `down_start` and
/// `down_progress` events (anchored on the progress of down statement 1): it verifies, and
/// the down resumes at statement 2, running none twice. Down statement 3 cannot be recorded
/// done while 2 runs (ST003).
#[test]
fn a_killed_no_transaction_down_is_vouched_for_by_its_down_progress_events() {
    assert_eq!(
        killed_down_audit(None),
        (
            Some("ST003".into()),
            [0, 0, 0],
            vec![
                "down 1".to_string(),
                "down 3".into(),
                "up".into(),
                "x".into()
            ]
        )
    );
}
/// Bugs planted in `record_down_progress` (state migration 0012): each must change what
/// the killed down's audit and resume see.
#[test]
fn planted_bugs_in_the_down_progress_record_are_caught() {
    let expected = killed_down_audit(None);
    for fault in [
        // The step recorded as an event of another kind: no down progress vouches for it.
        SqlFault {
            function: "record_down_progress",
            original: "'down_progress', v_row.version_text",
            planted: "'repair', v_row.version_text",
        },
        // The row not anchored on its step's event.
        SqlFault {
            function: "record_down_progress",
            original: "event_hash = v_hash",
            planted: "event_hash = event_hash",
        },
        // Down statement k recorded done though k - 1 is not.
        SqlFault {
            function: "record_down_progress",
            original: "AND m.down_statements_done = p_done - 1",
            planted: "",
        },
    ] {
        assert_ne!(killed_down_audit(Some(&fault)), expected, "{fault}");
    }
}
