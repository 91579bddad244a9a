//! The execution core: one statement classifier and one script executor for every command
//! that runs a migration's statements (issue 21). The real binary against a real PostgreSQL.

use crate::runner::{Output, Project, assert_exit};
use crate::support::harness::TestDb;

/// Runs `args` in `p` with `--shadow` pointing at `shadow`'s server.
/// The scratch database a `--shadow` dry run named on stderr ("copying `E` into scratch
/// database NAME") is gone from the scratch server: dropped at the end, whatever the outcome.
/// (Named, not counted: other tests make scratch copies on the same server at the same time.)
fn assert_scratch_copy_dropped(shadow: &TestDb, out: &Output) {
    let name = out
        .stderr
        .split("into scratch database ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no scratch database named on stderr:\n{}", out.stderr));
    let found = crate::runner::query(
        shadow,
        &format!(
            "SELECT count(*)::text FROM pg_database WHERE datname = '{}'",
            name.replace('\'', "''")
        ),
    );
    assert_eq!(
        found[0][0].as_deref(),
        Some("0"),
        "scratch database {name} was left on the server"
    );
}

fn with_shadow(p: &Project, shadow: &TestDb, args: &[&str]) -> Output {
    let url = shadow.database_url();
    let mut all = args.to_vec();
    all.extend_from_slice(&["--shadow", url.expose()]);
    let output = p
        .command()
        .env_remove("STAGEGATE_SHADOW_URL")
        .args(&all)
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

const NO_TX: &str = "-- stagegate:no-transaction\n";

/// Every form of transaction control, in a migration stagegate wraps in a transaction
/// (`wrapped`) or not, with whether stagegate runs it. `{t}` is the table's name.
const FORMS: &[(&str, bool, &str, bool)] = &[
    (
        "BEGIN ... COMMIT",
        true,
        "BEGIN;\nCREATE TABLE {t} (id int);\nCOMMIT;\n",
        false,
    ),
    (
        "START TRANSACTION ... END",
        true,
        "START TRANSACTION;\nCREATE TABLE {t} (id int);\nEND;\n",
        false,
    ),
    ("ABORT", true, "CREATE TABLE {t} (id int);\nABORT;\n", false),
    (
        "ROLLBACK",
        true,
        "CREATE TABLE {t} (id int);\nROLLBACK;\n",
        false,
    ),
    (
        "SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE",
        true,
        "CREATE TABLE {t} (id int);\nSAVEPOINT s;\nINSERT INTO {t} VALUES (1);\nROLLBACK TO SAVEPOINT s;\nRELEASE SAVEPOINT s;\n",
        true,
    ),
    (
        "PREPARE TRANSACTION",
        true,
        "CREATE TABLE {t} (id int);\nPREPARE TRANSACTION 'sg';\n",
        false,
    ),
    (
        "COMMIT PREPARED",
        true,
        "CREATE TABLE {t} (id int);\nCOMMIT PREPARED 'sg';\n",
        false,
    ),
    (
        "ROLLBACK PREPARED",
        true,
        "CREATE TABLE {t} (id int);\nROLLBACK PREPARED 'sg';\n",
        false,
    ),
    (
        "COMMIT AND CHAIN",
        true,
        "CREATE TABLE {t} (id int);\nCOMMIT AND CHAIN;\n",
        false,
    ),
    (
        "BEGIN ... COMMIT",
        false,
        "BEGIN;\nCREATE TABLE {t} (id int);\nCOMMIT;\n",
        true,
    ),
    (
        "START TRANSACTION ... END",
        false,
        "START TRANSACTION;\nCREATE TABLE {t} (id int);\nEND;\n",
        true,
    ),
    (
        "savepoints in a block",
        false,
        "BEGIN;\nCREATE TABLE {t} (id int);\nSAVEPOINT s;\nINSERT INTO {t} VALUES (1);\nROLLBACK TO s;\nRELEASE s;\nCOMMIT;\n",
        true,
    ),
    (
        "BEGIN ... ABORT",
        false,
        "CREATE TABLE {t} (id int);\nBEGIN;\nINSERT INTO {t} VALUES (1);\nABORT;\n",
        true,
    ),
    (
        "COMMIT outside a block",
        false,
        "CREATE TABLE {t} (id int);\nCOMMIT;\n",
        false,
    ),
    (
        "SAVEPOINT outside a block",
        false,
        "SAVEPOINT s;\nCREATE TABLE {t} (id int);\n",
        false,
    ),
    (
        "RELEASE outside a block",
        false,
        "CREATE TABLE {t} (id int);\nRELEASE s;\n",
        false,
    ),
    (
        "ROLLBACK TO outside a block",
        false,
        "CREATE TABLE {t} (id int);\nROLLBACK TO SAVEPOINT s;\n",
        false,
    ),
    (
        "BEGIN never closed",
        false,
        "BEGIN;\nCREATE TABLE {t} (id int);\n",
        false,
    ),
    (
        "nested BEGIN",
        false,
        "BEGIN;\nBEGIN;\nCREATE TABLE {t} (id int);\nCOMMIT;\n",
        false,
    ),
    (
        "PREPARE TRANSACTION",
        false,
        "BEGIN;\nCREATE TABLE {t} (id int);\nPREPARE TRANSACTION 'sg';\n",
        false,
    ),
    (
        "COMMIT PREPARED",
        false,
        "CREATE TABLE {t} (id int);\nCOMMIT PREPARED 'sg';\n",
        false,
    ),
];

fn script(body: &str, wrapped: bool, table: &str) -> String {
    let body = body.replace("{t}", table);
    if wrapped {
        body
    } else {
        format!("{NO_TX}{body}")
    }
}

/// A consumer, whether it ran the form, and what it said.
type Verdict = (&'static str, bool, String);

/// What each consumer that runs statements makes of one form: trace, check-reversible,
/// apply and down, each on databases of its own; `shadow` is the scratch server (trace and
/// check-reversible make and drop their own database on it).
fn verdicts(body: &str, wrapped: bool, shadow: &TestDb) -> Vec<Verdict> {
    let mut out = Vec::new();
    // Up: trace, check-reversible and apply.
    let p = Project::new("");
    p.write("1_case.up.sql", &script(body, wrapped, "t_up"));
    p.write("1_case.down.sql", "DROP TABLE IF EXISTS t_up;\n");
    let trace = with_shadow(&p, shadow, &["trace"]);
    out.push((
        "trace",
        trace.code == 0,
        format!("{}{}", trace.stdout, trace.stderr),
    ));
    let reversible = with_shadow(&p, shadow, &["check-reversible"]);
    out.push((
        "check-reversible",
        reversible.code == 0,
        format!("{}{}", reversible.stdout, reversible.stderr),
    ));
    let apply = p.apply();
    out.push(("apply", apply.code == 0, apply.stderr.clone()));
    // Down: the same script as a down script.
    let p = Project::new("");
    p.write("1_case.up.sql", "SELECT 1;\n");
    p.write("1_case.down.sql", &script(body, wrapped, "t_down"));
    assert_exit(&p.apply(), 0);
    let down = p.run(&[
        "migrate",
        "down",
        "--env",
        "staging",
        "--steps",
        "1",
        "--allow-data-loss",
    ]);
    out.push(("down", down.code == 0, down.stderr));
    out
}

/// Lint's verdict on every form at once: one file per form (lint reads each file on its
/// own), one run; true where lint lets the form through (no SG502).
fn lint_verdicts() -> (Vec<bool>, String) {
    let p = Project::new("");
    for (index, &(_, wrapped, body, _)) in FORMS.iter().enumerate() {
        p.write(
            &format!("{}_case.up.sql", index + 1),
            &script(body, wrapped, &format!("t_{index}")),
        );
    }
    let lint = p.run(&["lint", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&lint.stdout)
        .unwrap_or_else(|e| panic!("lint --format json: {e}\n{}\n{}", lint.stdout, lint.stderr));
    let refused: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "SG502")
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    let verdicts = (1..=FORMS.len())
        .map(|version| {
            !refused
                .iter()
                .any(|path| path.ends_with(&format!("/{version}_case.up.sql")))
        })
        .collect();
    (verdicts, lint.stdout)
}

/// Every form through lint, trace, check-reversible, apply and down. Lint reads all forms
/// in one run; the consumers that run statements take one form each, on databases of its
/// own, four forms at a time (they wait on the server and on pg_dump more than they work).
#[test]
fn every_form_of_transaction_control_gets_the_same_verdict_from_every_consumer() {
    let shadow = TestDb::create();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut found: Vec<(usize, Vec<Verdict>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(_, wrapped, body, _)) = FORMS.get(index) else {
                            return done;
                        };
                        done.push((index, verdicts(body, wrapped, &shadow)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker panicked"))
            .collect()
    });
    found.sort_by_key(|(index, _)| *index);
    assert_eq!(found.len(), FORMS.len());
    let (linted, lint_output) = lint_verdicts();
    for ((&(form, wrapped, _, runs), (_, consumers)), lint_ran) in
        FORMS.iter().zip(found).zip(linted)
    {
        let mode = if wrapped {
            "transaction"
        } else {
            "no-transaction"
        };
        let lint = ("lint", lint_ran, lint_output.clone());
        for (consumer, ran, output) in std::iter::once(lint).chain(consumers) {
            assert_eq!(
                ran,
                runs,
                "{form} in a {mode} migration: {consumer} {} it, the classifier says it {}\n{output}",
                if ran { "ran" } else { "refused" },
                if runs { "runs" } else { "is refused" },
            );
        }
    }
}

/// `(id, status, statements_done)` of the state row of `version`.
fn row(p: &Project, version: &str) -> Vec<Option<String>> {
    p.query(&format!(
        "SELECT status, statements_done::text FROM stagegate.migrations WHERE version = '{version}'"
    ))
    .into_iter()
    .next()
    .unwrap_or_default()
}

#[test]
fn a_transaction_block_in_a_no_transaction_migration_is_one_unit_and_resumes_at_its_begin() {
    let p = Project::new("");
    p.write("1_t.up.sql", "CREATE TABLE t (id int CHECK (id > 0));\n");
    p.write(
        "2_block.up.sql",
        &format!(
            "{NO_TX}INSERT INTO t VALUES (10);\nBEGIN;\nINSERT INTO t VALUES (1);\n\
             INSERT INTO t VALUES (-1);\nCOMMIT;\n"
        ),
    );
    let out = p.apply();
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("the server rolled the whole block back"),
        "{}",
        out.stderr
    );
    // The server rolled the block back: only the statement before it is done and recorded.
    assert_eq!(
        p.query("SELECT id::text FROM t ORDER BY t.id"),
        [[Some("10".to_string())]]
    );
    assert_eq!(row(&p, "2"), [Some("failed".into()), Some("1".into())]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);

    // Fixed, it resumes at the block's BEGIN: row 1 is there.
    p.write(
        "2_block.up.sql",
        &format!(
            "{NO_TX}INSERT INTO t VALUES (10);\nBEGIN;\nINSERT INTO t VALUES (1);\n\
             INSERT INTO t VALUES (2);\nCOMMIT;\n"
        ),
    );
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(
        out.stderr
            .contains("resuming 2_block (no transaction) at statement 2"),
        "{}",
        out.stderr
    );
    let ids: Vec<String> = p
        .query("SELECT id::text FROM t ORDER BY t.id")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "10"]);
    assert_eq!(row(&p, "2"), [Some("applied".into()), Some("5".into())]);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// The schema each of `tables` was created in.
fn schemas(p: &Project, tables: &[&str]) -> Vec<String> {
    tables
        .iter()
        .map(|t| {
            p.scalar(&format!(
                "SELECT table_schema::text FROM information_schema.tables WHERE table_name = '{t}'"
            ))
            .unwrap_or_else(|| format!("{t} missing"))
        })
        .collect()
}

#[test]
fn each_migration_starts_from_a_clean_session_so_one_run_equals_one_at_a_time() {
    let files = [
        (
            "0001_other.up.sql",
            "CREATE SCHEMA other;\nSET search_path = other;\nCREATE TABLE t1 (id int);\n",
        ),
        ("0002_t2.up.sql", "CREATE TABLE t2 (id int);\n"),
        (
            "0003_nt.up.sql",
            "-- stagegate:no-transaction\nSET search_path = other;\nCREATE TABLE t3 (id int);\n",
        ),
        ("0004_t4.up.sql", "CREATE TABLE t4 (id int);\n"),
    ];
    let one_at_a_time = Project::new("");
    let all_in_one = Project::new("");
    for (name, text) in files {
        one_at_a_time.write(name, text);
        all_in_one.write(name, text);
    }
    for to in ["0001", "0002", "0003", "0004"] {
        assert_exit(
            &one_at_a_time.run(&["migrate", "apply", "--env", "staging", "--to", to]),
            0,
        );
    }
    assert_exit(&all_in_one.apply(), 0);
    let tables = ["t1", "t2", "t3", "t4"];
    let expected = ["other", "public", "other", "public"];
    assert_eq!(schemas(&one_at_a_time, &tables), expected);
    assert_eq!(schemas(&all_in_one, &tables), expected);
}

fn gate(p: &Project, extra: &str) {
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}{extra}")).unwrap();
}

fn columns(p: &Project) -> Vec<String> {
    p.query(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 't' \
         ORDER BY ordinal_position",
    )
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

#[test]
fn a_dry_run_of_a_down_never_commits_its_script_s_transaction_block() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int, v int);\nINSERT INTO t VALUES (1, 1);\n",
    );
    p.write(
        "1_t.down.sql",
        &format!("{NO_TX}BEGIN;\nALTER TABLE t DROP COLUMN v;\nCOMMIT;\n"),
    );
    assert_exit(&p.apply(), 0);
    let out = p.run(&[
        "migrate",
        "down",
        "--env",
        "staging",
        "--steps",
        "1",
        "--dry-run",
        "--allow-data-loss",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("line 3: ALTER TABLE t DROP COLUMN v;  -> 0 row(s)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("line 4: COMMIT;  -> not run: COMMIT: transaction control"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("dropped: column t.v"), "{}", out.stdout);
    assert_eq!(columns(&p), ["id", "v"], "the dry run changed the table");
    assert_eq!(row(&p, "1")[0].as_deref(), Some("applied"));
}

#[test]
fn a_dry_run_on_a_gated_environment_sends_none_of_the_script_s_statements() {
    let p = Project::new("");
    p.write(
        "1_t.up.sql",
        "CREATE TABLE t (id int, v int);\nINSERT INTO t VALUES (1, 1);\n",
    );
    // Run, the DO block would fail the dry run: it is not run at all.
    p.write(
        "1_t.down.sql",
        &format!(
            "{NO_TX}BEGIN;\nALTER TABLE t DROP COLUMN v;\nCOMMIT;\n\
             DO $$ BEGIN RAISE EXCEPTION 'the dry run ran the script'; END $$;\n"
        ),
    );
    assert_exit(&p.apply(), 0);
    gate(&p, "confirm = true\n");
    let out = p.run(&[
        "migrate",
        "down",
        "--env",
        "staging",
        "--steps",
        "1",
        "--dry-run",
        "--allow-data-loss",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("line 3: ALTER TABLE t DROP COLUMN v;  -> not run: `staging` is gated"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("drops (as its statements read): column t.v"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("dry run: no statement was run on `staging` (read-only queries only)"),
        "{}",
        out.stdout
    );
    assert_eq!(columns(&p), ["id", "v"]);
    assert_eq!(row(&p, "1")[0].as_deref(), Some("applied"));
    // The data-loss guard still reads the live database.
    let out = p.run(&[
        "migrate",
        "down",
        "--env",
        "staging",
        "--steps",
        "1",
        "--dry-run",
    ]);
    assert_exit(&out, 3);
    assert!(out.stderr.contains("column t.v"), "{}", out.stderr);
}

/// `migrate apply --dry-run --shadow` on a gated environment: the gates read the environment,
/// then the plan runs on a copy of its database (data included) in a scratch database that is
/// dropped at the end; the environment's database is left exactly as it was. A migration that
/// fails only on the real data fails on the copy, before it reaches the environment.
#[test]
fn a_dry_run_on_a_scratch_copy_runs_the_plan_there_and_changes_nothing() {
    let p = Project::new("confirm = true");
    let shadow = TestDb::create();
    p.write(
        "1_items.up.sql",
        "CREATE TABLE items (id int);\nINSERT INTO items SELECT generate_series(1, 3);\n",
    );
    p.write(
        "2_value.up.sql",
        "ALTER TABLE items ADD COLUMN v int NOT NULL DEFAULT 0;\nUPDATE items SET v = id;\n",
    );
    let out = p.run(&[
        "migrate",
        "apply",
        "--env",
        "staging",
        "--to",
        "1",
        "--confirm",
        "staging",
        "--reason",
        "first",
    ]);
    assert_exit(&out, 0);
    let state = |p: &Project| {
        p.query(
            "SELECT (SELECT count(*) FROM stagegate.events)::text, \
                    (SELECT string_agg(version || status, ',') FROM stagegate.migrations), \
                    (SELECT environment || event_hash FROM stagegate.binding), \
                    (SELECT count(*) FROM information_schema.columns \
                     WHERE table_name = 'items')::text",
        )
    };
    let before = state(&p);

    let dry = with_shadow(
        &p,
        &shadow,
        &["migrate", "apply", "--env", "staging", "--dry-run"],
    );
    assert_exit(&dry, 0);
    for expected in [
        "on a scratch copy of `staging` (dropped): applied 1 migration(s)",
        "value",
        "dry run: nothing was changed on `staging`",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "{expected}:\n{}\n{}",
            dry.stdout,
            dry.stderr
        );
    }
    assert!(
        dry.stderr
            .contains("copying `staging` into scratch database"),
        "{}",
        dry.stderr
    );
    assert_eq!(state(&p), before);
    assert_scratch_copy_dropped(&shadow, &dry);

    // Fails on the copy's rows (id 1): the error names it, nothing reaches staging.
    p.write(
        "3_check.up.sql",
        "ALTER TABLE items ADD CONSTRAINT items_id_check CHECK (id > 1);\n",
    );
    let dry = with_shadow(
        &p,
        &shadow,
        &["migrate", "apply", "--env", "staging", "--dry-run"],
    );
    assert_exit(&dry, 4);
    assert!(dry.stderr.contains("items_id_check"), "{}", dry.stderr);
    assert_eq!(state(&p), before);
    assert_scratch_copy_dropped(&shadow, &dry);
}

/// `migrate down --dry-run --shadow` on a gated environment: the gates and the data-loss guard
/// read the environment, then the down scripts run for real on a copy of its database in a
/// scratch database that is dropped at the end, through the same copy as `migrate apply
/// --dry-run --shadow`. A down script that fails there shows its error; one that works reports
/// what it reverted; the environment's database (state rows, events and schema) is left
/// exactly as it was either way.
#[test]
fn a_down_dry_run_on_a_scratch_copy_runs_the_down_scripts_there_and_changes_nothing() {
    let p = Project::new("confirm = true");
    let shadow = TestDb::create();
    p.write("1_items.up.sql", "CREATE TABLE items (id int);\n");
    p.write("1_items.down.sql", "DROP TABLE items;\n");
    p.write("2_note.up.sql", "ALTER TABLE items ADD COLUMN note text;\n");
    p.write("2_note.down.sql", "ALTER TABLE items DROP COLUMN note;\n");
    let apply = |p: &Project| {
        let out = p.run(&[
            "migrate",
            "apply",
            "--env",
            "staging",
            "--confirm",
            "staging",
            "--reason",
            "up",
        ]);
        assert_exit(&out, 0);
    };
    apply(&p);
    let state = |p: &Project| {
        p.query(
            "SELECT (SELECT count(*) FROM stagegate.events)::text, \
                    (SELECT string_agg(version || status, ',' ORDER BY version) \
                     FROM stagegate.migrations), \
                    (SELECT environment || event_hash FROM stagegate.binding), \
                    (SELECT string_agg(column_name, ',' ORDER BY column_name) \
                     FROM information_schema.columns WHERE table_name = 'items')",
        )
    };
    let down = |steps: &str| {
        with_shadow(
            &p,
            &shadow,
            &[
                "migrate",
                "down",
                "--env",
                "staging",
                "--steps",
                steps,
                "--dry-run",
            ],
        )
    };

    let before = state(&p);
    assert_eq!(before[0][1].as_deref(), Some("1applied,2applied"));
    let ok = down("2");
    assert_exit(&ok, 0);
    let flat = ok.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "dry run of the down of 2_note on `staging`",
        "`staging` is gated, so a dry run sends no statement",
        "on a scratch copy of `staging` (dropped): reverted 2 migration(s)",
        "dry run: nothing was changed on `staging`",
    ] {
        assert!(
            flat.contains(expected),
            "{expected}:\n{}\n{}",
            ok.stdout,
            ok.stderr
        );
    }
    assert!(
        ok.stderr
            .contains("copying `staging` into scratch database"),
        "{}",
        ok.stderr
    );
    assert_eq!(state(&p), before);
    assert_scratch_copy_dropped(&shadow, &ok);

    // A down script that fails (the column is named `note`): its error, and nothing changed.
    p.write(
        "3_extra.up.sql",
        "ALTER TABLE items ADD COLUMN extra int;\n",
    );
    p.write(
        "3_extra.down.sql",
        "ALTER TABLE items DROP COLUMN extras;\n",
    );
    apply(&p);
    let before = state(&p);
    assert_eq!(before[0][1].as_deref(), Some("1applied,2applied,3applied"));
    let failed = down("1");
    assert_exit(&failed, 4);
    assert!(
        failed.stderr.contains("column \"extras\""),
        "the down script's error:\n{}",
        failed.stderr
    );
    assert_eq!(state(&p), before);
    assert_scratch_copy_dropped(&shadow, &failed);
}

/// With `--shadow`, a down dry run on an ungated environment sends it no statement either (a
/// rolled-back dry run there would still advance a sequence, and hold its locks): the
/// sequence the down script calls is untouched on the environment, and moved on the copy
/// only.
#[test]
fn a_down_dry_run_with_shadow_sends_an_ungated_environment_no_statement() {
    let p = Project::new("");
    let shadow = TestDb::create();
    p.write(
        "1_seq.up.sql",
        "CREATE SEQUENCE s;\nCREATE TABLE items (id int);\n",
    );
    p.write(
        "1_seq.down.sql",
        "SELECT nextval('s');\nDROP TABLE items;\nDROP SEQUENCE s;\n",
    );
    assert_exit(&p.apply(), 0);
    let sequence = |p: &Project| p.scalar("SELECT last_value || ' ' || is_called FROM s");
    assert_eq!(sequence(&p).as_deref(), Some("1 false"));

    let out = with_shadow(
        &p,
        &shadow,
        &[
            "migrate",
            "down",
            "--env",
            "staging",
            "--steps",
            "1",
            "--dry-run",
        ],
    );
    assert_exit(&out, 0);
    let flat = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "with --shadow, a dry run sends no statement of the script to `staging`",
        "on a scratch copy of `staging` (dropped): reverted 1 migration(s)",
    ] {
        assert!(flat.contains(expected), "{expected}:\n{}", out.stdout);
    }
    assert_eq!(
        sequence(&p).as_deref(),
        Some("1 false"),
        "nextval ran on staging"
    );
    assert_eq!(
        p.scalar("SELECT status FROM stagegate.migrations WHERE version = '1'")
            .as_deref(),
        Some("applied")
    );
    // Without --shadow the dry run runs there (rolled back), and the sequence shows it.
    assert_exit(
        &p.run(&[
            "migrate",
            "down",
            "--env",
            "staging",
            "--steps",
            "1",
            "--dry-run",
        ]),
        0,
    );
    assert_eq!(sequence(&p).as_deref(), Some("1 true"));
}
