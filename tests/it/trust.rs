//! What stagegate relies on before it acts: state that verifies against its event log, a
//! database bound to one environment, gates that `plan` and `apply` judge alike, failed
//! migrations that can be given up, and confirmations for every change of a gated
//! environment's record. The real binary against real databases.

use assert_cmd::Command;

use crate::support::harness::TestDb;
use crate::support::project::{Output, assert_exit, query};

/// A project whose environments each name a database of the list by its variable.
struct Project {
    dir: tempfile::TempDir,
    dbs: Vec<(String, TestDb)>,
    /// More variables for the config (another URL of a database above).
    vars: Vec<(String, String)>,
}

/// `text` with every run of whitespace as one space: messages are wrapped to the terminal.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Project {
    /// `config` is the whole stagegate.toml; `dbs` the variables its URLs read, each with
    /// its database.
    fn new(config: &str, dbs: Vec<(&str, TestDb)>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        std::fs::write(dir.path().join("stagegate.toml"), config).unwrap();
        Project {
            dir,
            dbs: dbs.into_iter().map(|(v, db)| (v.to_string(), db)).collect(),
            vars: Vec::new(),
        }
    }

    fn db(&self, var: &str) -> &TestDb {
        &self.dbs.iter().find(|(v, _)| v == var).unwrap().1
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join("migrations").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join("migrations").join(name)).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::cargo_bin("stagegate").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env("NO_COLOR", "1")
            .env("STAGEGATE_LOCK_WAIT", "5s");
        for (var, db) in &self.dbs {
            cmd.env(var, db.database_url().expose());
        }
        for (var, value) in &self.vars {
            cmd.env(var, value);
        }
        let out = cmd.args(args).output().unwrap();
        Output::from(out)
    }

    fn sql(&self, var: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        query(self.db(var), sql)
    }

    fn scalar(&self, var: &str, sql: &str) -> Option<String> {
        self.sql(var, sql).remove(0).remove(0)
    }
}

fn one_env(extra: &str) -> Project {
    Project::new(
        &format!("[environments.staging]\nurl = \"${{SG_TRUST_URL}}\"\n{extra}\n"),
        vec![("SG_TRUST_URL", TestDb::create())],
    )
}

#[test]
fn audit_verify_fails_when_the_head_anchor_row_is_gone() {
    let p = one_env("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&p.run(&["migrate", "apply", "--env", "staging"]), 0);
    // A newest event that no migration row anchors (as a confirmation or a backup is).
    p.sql(
        "SG_TRUST_URL",
        "SELECT stagegate.append_event('confirmation', NULL, NULL, NULL, 'ops', '{}')",
    );
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
    // The newest event removed together with the anchor that names it.
    p.sql(
        "SG_TRUST_URL",
        "SET session_replication_role = replica; \
         DELETE FROM stagegate.events WHERE id = (SELECT max(id) FROM stagegate.events); \
         DELETE FROM stagegate.chain_head;",
    );
    let out = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&out, 3);
    assert!(flat(&out.stderr).contains("head anchor"), "{}", out.stderr);
    assert!(
        flat(&out.stdout).contains("verify FAILED"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_latin1_database_verifies_events_with_a_non_ascii_reason() {
    let p = Project::new(
        "[environments.production]\nurl = \"${SG_TRUST_LATIN1_URL}\"\nconfirm = true\n",
        vec![(
            "SG_TRUST_LATIN1_URL",
            TestDb::create_with("ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"),
        )],
    );
    assert_eq!(
        p.scalar("SG_TRUST_LATIN1_URL", "SHOW server_encoding")
            .as_deref(),
        Some("LATIN1")
    );
    p.write("1_cafe.up.sql", "CREATE TABLE a (id int);\n");
    let out = p.run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "déjà vu: naïve café, ½ price",
    ]);
    assert_exit(&out, 0);
    let out = p.run(&["audit", "--env", "production", "--verify"]);
    assert_exit(&out, 0);
    assert!(
        p.scalar(
            "SG_TRUST_LATIN1_URL",
            "SELECT string_agg(detail, ' ') FROM stagegate.events"
        )
        .unwrap()
        .contains("déjà vu")
    );
    // Still caught when the reason is edited.
    p.sql(
        "SG_TRUST_LATIN1_URL",
        "SET session_replication_role = replica; \
         UPDATE stagegate.events SET detail = replace(detail, 'café', 'cafe')",
    );
    assert_exit(&p.run(&["audit", "--env", "production", "--verify"]), 3);
}

#[test]
fn a_failed_migration_whose_file_was_deleted_can_be_abandoned() {
    let p = one_env("");
    let apply = || p.run(&["migrate", "apply", "--env", "staging"]);
    p.write("10_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("20_bad.up.sql", "CREATE TABLE bad (id int);\nSELECT 1/0;\n");
    assert_exit(&apply(), 4);
    // Given up by deleting the file: the next migration still applies once...
    p.remove("20_bad.up.sql");
    p.write("30_c.up.sql", "CREATE TABLE c (id int);\n");
    assert_exit(&apply(), 0);
    // ...and after it, the failed one is older than an applied one: every apply refuses.
    p.write("40_d.up.sql", "CREATE TABLE d (id int);\n");
    let out = apply();
    assert_exit(&out, 3);
    assert!(flat(&out.stderr).contains("20_bad"), "{}", out.stderr);

    let out = p.run(&[
        "migrate",
        "resolve",
        "20",
        "--env",
        "staging",
        "--abandon",
        "--reason",
        "superseded by 30_c",
    ]);
    assert_exit(&out, 0);
    assert!(flat(&out.stdout).contains("abandoned"), "{}", out.stdout);
    assert_eq!(
        p.scalar(
            "SG_TRUST_URL",
            "SELECT status || ' ' || resolved_reason FROM stagegate.migrations WHERE version = '20'"
        )
        .as_deref(),
        Some("abandoned superseded by 30_c")
    );
    assert_eq!(
        p.scalar(
            "SG_TRUST_URL",
            "SELECT kind || ' ' || detail FROM stagegate.events ORDER BY id DESC LIMIT 1"
        )
        .as_deref(),
        Some("abandon superseded by 30_c")
    );
    assert_exit(&apply(), 0);
    assert_eq!(
        p.scalar("SG_TRUST_URL", "SELECT to_regclass('d') IS NOT NULL")
            .as_deref(),
        Some("t")
    );
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
    let status = p.run(&["migrate", "status", "--env", "staging"]);
    assert_exit(&status, 0);

    // Out-of-order protection is otherwise unchanged.
    p.write("25_late.up.sql", "CREATE TABLE late (id int);\n");
    let out = apply();
    assert_exit(&out, 3);
    assert!(
        flat(&out.stderr).contains("older than 40"),
        "{}",
        out.stderr
    );
    p.remove("25_late.up.sql");
    // A new file that reuses the abandoned version would never run: refused.
    p.write("20_again.up.sql", "CREATE TABLE again (id int);\n");
    let out = apply();
    assert_exit(&out, 3);
    assert!(flat(&out.stderr).contains("abandoned"), "{}", out.stderr);
    p.remove("20_again.up.sql");
    // Only a failed attempt can be abandoned.
    let out = p.run(&[
        "migrate",
        "resolve",
        "30",
        "--env",
        "staging",
        "--abandon",
        "--reason",
        "no",
    ]);
    assert_exit(&out, 2);
    assert!(
        flat(&out.stderr).contains("only a failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn resolve_and_baseline_on_a_gated_environment_need_its_confirmation() {
    let p = one_env("confirm = true");
    p.write(
        "1_a.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE a (id int);\nSELECT 1/0;\n",
    );
    let confirmed = ["--confirm", "staging", "--reason", "first deploy"];
    let mut args = vec!["migrate", "apply", "--env", "staging"];
    args.extend_from_slice(&confirmed);
    assert_exit(&p.run(&args), 4);
    let events = |p: &Project| {
        p.scalar(
            "SG_TRUST_URL",
            "SELECT string_agg(kind, ',' ORDER BY id) FROM stagegate.events",
        )
        .unwrap_or_default()
    };
    let before = events(&p);

    // Without a terminal and without --confirm: refused, nothing recorded.
    for abandon in [false, true] {
        let mut args = vec![
            "migrate", "resolve", "1", "--env", "staging", "--reason", "fixed",
        ];
        if abandon {
            args.push("--abandon");
        }
        let out = p.run(&args);
        assert_exit(&out, 3);
        assert!(
            flat(&out.stderr).contains("needs a confirmation"),
            "{}",
            out.stderr
        );
        assert_eq!(events(&p), before);
    }
    // Naming another environment is refused before anything connects.
    let out = p.run(&[
        "migrate",
        "resolve",
        "1",
        "--env",
        "staging",
        "--reason",
        "fixed",
        "--confirm",
        "prod",
    ]);
    assert_exit(&out, 3);
    assert_eq!(events(&p), before);

    let out = p.run(&[
        "migrate",
        "resolve",
        "1",
        "--env",
        "staging",
        "--reason",
        "table a checked by hand",
        "--confirm",
        "staging",
    ]);
    assert_exit(&out, 0);
    assert_eq!(events(&p), format!("{before},confirmation,resolve"));
    assert!(
        p.scalar(
            "SG_TRUST_URL",
            "SELECT detail FROM stagegate.events WHERE kind = 'confirmation' ORDER BY id DESC \
             LIMIT 1"
        )
        .unwrap()
        .contains("\"action\":\"resolve\""),
    );

    // baseline goes through the same gate.
    let p = one_env("confirm = true");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let base = [
        "migrate", "baseline", "--env", "staging", "--to", "1", "--reason", "adopted",
    ];
    let out = p.run(&base);
    assert_exit(&out, 3);
    assert!(
        flat(&out.stderr).contains("needs a confirmation"),
        "{}",
        out.stderr
    );
    let mut args = base.to_vec();
    args.extend_from_slice(&["--confirm", "staging"]);
    assert_exit(&p.run(&args), 0);
}

/// staging, and production promoting from it; `extra` lines for each.
fn chain(staging: &str, production: &str) -> Project {
    Project::new(
        &format!(
            "[environments.staging]\nurl = \"${{SG_TRUST_STAGING_URL}}\"\n{staging}\n\n\
             [environments.production]\nurl = \"${{SG_TRUST_PROD_URL}}\"\n\
             promote_from = \"staging\"\n{production}\n"
        ),
        vec![
            ("SG_TRUST_STAGING_URL", TestDb::create()),
            ("SG_TRUST_PROD_URL", TestDb::create()),
        ],
    )
}

#[test]
fn plan_and_apply_judge_the_same_gates_with_the_catalog_and_list_every_refusal() {
    let p = chain("lint = \"deny\"", "lint = \"deny\"");
    // An indexed timestamp column, on a server whose TimeZone is UTC: changing it to
    // timestamptz rewrites nothing but rebuilds the index, which only the catalog shows.
    for var in ["SG_TRUST_STAGING_URL", "SG_TRUST_PROD_URL"] {
        let name = p.db(var).name.clone();
        p.sql(
            var,
            &format!(
                "CREATE TABLE events (at timestamp); CREATE INDEX events_at ON events (at); \
                 ALTER DATABASE {name} SET TimeZone = 'UTC'"
            ),
        );
    }
    p.write(
        "1_tz.up.sql",
        "ALTER TABLE events ALTER COLUMN at TYPE timestamptz;\n",
    );
    let plan = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&plan, 3);
    assert!(flat(&plan.stdout).contains("SG109"), "{}", plan.stdout);
    let dry = p.run(&["migrate", "apply", "--env", "staging", "--dry-run"]);
    assert_exit(&dry, 3);
    let apply = p.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&apply, 3);
    assert!(
        flat(&apply.stderr).contains("lint gate") && flat(&apply.stderr).contains("SG109"),
        "{}",
        apply.stderr
    );
    assert_eq!(
        p.scalar(
            "SG_TRUST_STAGING_URL",
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'events'::regclass AND attname = 'at'"
        )
        .as_deref(),
        Some("timestamp without time zone")
    );

    // Production: the lint gate and the promotion gate both refuse, and both are named.
    let plan = p.run(&["migrate", "plan", "--env", "production"]);
    assert_exit(&plan, 3);
    let apply = p.run(&["migrate", "apply", "--env", "production"]);
    assert_exit(&apply, 3);
    for gate in ["lint gate", "promotion gate"] {
        assert!(
            flat(&apply.stderr).contains(gate),
            "{gate}: {}",
            apply.stderr
        );
    }
    assert!(
        flat(&apply.stderr).contains("2 problem(s)"),
        "{}",
        apply.stderr
    );

    // Allowed with a reason: plan and apply both pass on staging.
    p.write(
        "1_tz.up.sql",
        "-- stagegate:allow SG109,SG116 -- the table is tiny\n\
         ALTER TABLE events ALTER COLUMN at TYPE timestamptz;\n",
    );
    assert_exit(&p.run(&["migrate", "plan", "--env", "staging"]), 0);
    assert_exit(&p.run(&["migrate", "apply", "--env", "staging"]), 0);
}

#[test]
fn apply_refuses_rows_the_event_log_does_not_vouch_for() {
    let p = one_env("");
    let apply = || p.run(&["migrate", "apply", "--env", "staging"]);
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    p.write("2_row.up.sql", "INSERT INTO t VALUES (1);\n");
    assert_exit(&apply(), 0);
    let rows = |p: &Project| p.scalar("SG_TRUST_URL", "SELECT count(*) FROM t");

    for (what, forge) in [
        (
            "deleted",
            "DELETE FROM stagegate.migrations WHERE version = '2'",
        ),
        (
            "reverted",
            "UPDATE stagegate.migrations SET status = 'reverted' WHERE version = '2'",
        ),
        // A run in progress has no event of its own, but starts only where an attempt can:
        // over an `apply`, `running` would make the next apply run statements again.
        (
            "running",
            "UPDATE stagegate.migrations SET status = 'running', statements_done = 0 \
             WHERE version = '2'",
        ),
    ] {
        p.sql(
            "SG_TRUST_URL",
            &format!(
                "CREATE TABLE saved AS SELECT * FROM stagegate.migrations WHERE version = '2'; \
                 {forge}"
            ),
        );
        let audit = p.run(&["audit", "--env", "staging", "--verify"]);
        assert_exit(&audit, 3);
        let plan = p.run(&["migrate", "plan", "--env", "staging"]);
        assert_exit(&plan, 3);
        let out = apply();
        assert_exit(&out, 3);
        assert!(
            flat(&out.stderr).contains("state gate") && flat(&out.stderr).contains("migration 2"),
            "{what}: {}",
            out.stderr
        );
        assert_eq!(
            rows(&p).as_deref(),
            Some("1"),
            "{what}: the INSERT ran again"
        );
        // Put back as it was: everything verifies and applies again.
        p.sql(
            "SG_TRUST_URL",
            "DELETE FROM stagegate.migrations WHERE version = '2'; \
             INSERT INTO stagegate.migrations SELECT * FROM saved; DROP TABLE saved",
        );
        assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
        assert_exit(&apply(), 0);
    }
}

#[test]
fn forged_rows_in_staging_do_not_let_production_apply() {
    let p = chain("", "");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    assert_exit(
        &p.run(&["migrate", "apply", "--env", "staging", "--to", "1"]),
        0,
    );
    // 2 never ran on staging; a row that says it did, with the file's checksum.
    p.sql(
        "SG_TRUST_STAGING_URL",
        "INSERT INTO stagegate.migrations (version, version_text, name, checksum, \
         no_transaction, status, started_at, finished_at, db_user, statements_done, \
         statements_total) VALUES ('2', '2', 'b', 'sha256:' || encode(sha256(convert_to(\
         E'CREATE TABLE b (id int);\\n', 'UTF8')), 'hex'), false, 'applied', \
         now() - interval '2 days', now() - interval '2 days', current_user, 1, 1)",
    );
    let plan = p.run(&["migrate", "plan", "--env", "production"]);
    assert_exit(&plan, 3);
    let out = p.run(&["migrate", "apply", "--env", "production"]);
    assert_exit(&out, 3);
    assert!(
        flat(&out.stderr).contains("promotion gate")
            && flat(&out.stderr).contains("does not match its event log"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar(
            "SG_TRUST_PROD_URL",
            "SELECT to_regclass('stagegate.migrations') IS NULL"
        )
        .as_deref(),
        Some("t"),
        "nothing was applied to production"
    );
}

#[test]
fn a_baselined_migration_promotes_but_soaks_from_its_baseline_event() {
    let p = chain("", "min_soak = \"1h\"");
    p.write(
        "2021-02-02-153240_create_users/up.sql",
        "CREATE TABLE users (id int);\n",
    );
    // staging was migrated by diesel a month ago.
    p.sql(
        "SG_TRUST_STAGING_URL",
        "CREATE TABLE users (id int); \
         CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
         run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations VALUES \
         ('20210202153240', now() - interval '30 days')",
    );
    assert_exit(
        &p.run(&[
            "migrate",
            "baseline",
            "--env",
            "staging",
            "--reason",
            "from diesel",
        ]),
        0,
    );
    let plan = p.run(&["migrate", "plan", "--env", "production"]);
    assert_exit(&plan, 3);
    assert!(
        flat(&plan.stdout).contains("not run by stagegate")
            && flat(&plan.stdout).contains("min_soak"),
        "{}",
        plan.stdout
    );
    assert_exit(&p.run(&["migrate", "apply", "--env", "production"]), 3);

    // Without a soak, the baselined migration promotes.
    std::fs::write(
        p.dir.path().join("stagegate.toml"),
        "[environments.staging]\nurl = \"${SG_TRUST_STAGING_URL}\"\n\n\
         [environments.production]\nurl = \"${SG_TRUST_PROD_URL}\"\n\
         promote_from = \"staging\"\n",
    )
    .unwrap();
    let plan = p.run(&["migrate", "plan", "--env", "production"]);
    assert_exit(&plan, 0);
    assert!(
        flat(&plan.stdout).contains("not run by stagegate"),
        "{}",
        plan.stdout
    );
    assert_exit(&p.run(&["migrate", "apply", "--env", "production"]), 0);
}

#[test]
fn another_environment_name_for_the_same_database_is_refused_until_rebound() {
    let prod = TestDb::create();
    let alias = format!("{}?application_name=hotfix", prod.database_url().expose());
    let mut p = Project::new(
        "[environments.production]\nurl = \"${SG_TRUST_PROD_URL}\"\nconfirm = true\n\n\
         [environments.prod_hotfix]\nurl = \"${SG_TRUST_ALIAS_URL}\"\n",
        vec![("SG_TRUST_PROD_URL", prod)],
    );
    p.vars.push(("SG_TRUST_ALIAS_URL".into(), alias));
    let run = |args: &[&str]| p.run(args);
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "release 1",
    ]);
    assert_exit(&out, 0);
    assert_eq!(
        p.scalar(
            "SG_TRUST_PROD_URL",
            "SELECT environment FROM stagegate.binding"
        )
        .as_deref(),
        Some("production")
    );
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    for args in [
        &["migrate", "plan", "--env", "prod_hotfix"][..],
        &["migrate", "apply", "--env", "prod_hotfix"][..],
        &["migrate", "down", "--env", "prod_hotfix", "--steps", "1"][..],
    ] {
        let out = run(args);
        assert_exit(&out, 3);
        let text = flat(&format!("{}{}", out.stdout, out.stderr));
        assert!(text.contains("belongs to `production`"), "{args:?}: {text}");
    }
    assert_eq!(
        p.scalar("SG_TRUST_PROD_URL", "SELECT to_regclass('b') IS NULL")
            .as_deref(),
        Some("t")
    );
    let status = run(&["migrate", "status"]);
    assert!(
        flat(&status.stdout)
            .contains("prod_hotfix: WARNING: its database is bound to `production`"),
        "{}",
        status.stdout
    );
    assert!(
        flat(&status.stdout).contains("reaches the same database as `prod_hotfix`"),
        "{}",
        status.stdout
    );

    // Re-binding takes the database from production: production's confirmation.
    let out = run(&[
        "migrate",
        "rebind",
        "--env",
        "prod_hotfix",
        "--reason",
        "hotfix",
    ]);
    assert_exit(&out, 3);
    assert!(
        flat(&out.stderr).contains("needs a confirmation"),
        "{}",
        out.stderr
    );
    let out = run(&[
        "migrate",
        "rebind",
        "--env",
        "prod_hotfix",
        "--reason",
        "hotfix",
        "--confirm",
        "production",
    ]);
    assert_exit(&out, 0);
    assert!(
        flat(&out.stdout).contains("was bound to `production`"),
        "{}",
        out.stdout
    );
    assert_exit(&run(&["migrate", "apply", "--env", "prod_hotfix"]), 0);
    let out = run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "x",
    ]);
    assert_exit(&out, 3);
    assert!(
        flat(&out.stderr).contains("belongs to `prod_hotfix`"),
        "{}",
        out.stderr
    );
    assert_exit(&run(&["audit", "--env", "production", "--verify"]), 0);
    // A binding row changed by hand does not verify.
    p.sql(
        "SG_TRUST_PROD_URL",
        "UPDATE stagegate.binding SET environment = 'production'",
    );
    assert_exit(&run(&["audit", "--env", "production", "--verify"]), 3);
    assert_exit(
        &run(&[
            "migrate",
            "apply",
            "--env",
            "production",
            "--confirm",
            "production",
            "--reason",
            "x",
        ]),
        3,
    );
}

/// The first baseline binds the database like the first apply: another environment name
/// reaching it then refuses (baseline and apply alike), and `status` says so.
#[test]
fn the_first_baseline_binds_the_database_to_its_environment() {
    let prod = TestDb::create();
    let alias = format!("{}?application_name=hotfix", prod.database_url().expose());
    let mut p = Project::new(
        "[environments.production]\nurl = \"${SG_TRUST_PROD_URL}\"\nconfirm = true\n\n\
         [environments.prod_hotfix]\nurl = \"${SG_TRUST_ALIAS_URL}\"\n",
        vec![("SG_TRUST_PROD_URL", prod)],
    );
    p.vars.push(("SG_TRUST_ALIAS_URL".into(), alias));
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "production",
        "--to",
        "1",
        "--reason",
        "adopted from the old runner",
        "--confirm",
        "production",
    ]);
    assert_exit(&out, 0);
    assert_eq!(
        p.sql(
            "SG_TRUST_PROD_URL",
            "SELECT b.environment, e.kind, e.detail::jsonb ->> 'reason' \
             FROM stagegate.binding b JOIN stagegate.events e ON e.hash = b.event_hash"
        ),
        [[
            Some("production".to_string()),
            Some("bind".to_string()),
            Some("first baseline".to_string())
        ]]
    );
    for args in [
        &["migrate", "apply", "--env", "prod_hotfix"][..],
        &[
            "migrate",
            "baseline",
            "--env",
            "prod_hotfix",
            "--to",
            "2",
            "--reason",
            "x",
        ][..],
    ] {
        let out = p.run(args);
        assert_exit(&out, 3);
        let text = flat(&format!("{}{}", out.stdout, out.stderr));
        assert!(text.contains("belongs to `production`"), "{args:?}: {text}");
    }
    assert_eq!(
        p.scalar(
            "SG_TRUST_PROD_URL",
            "SELECT count(*) FROM stagegate.migrations"
        )
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        p.scalar("SG_TRUST_PROD_URL", "SELECT to_regclass('b') IS NULL")
            .as_deref(),
        Some("t")
    );
    let status = p.run(&["migrate", "status"]);
    assert!(
        flat(&status.stdout)
            .contains("prod_hotfix: WARNING: its database is bound to `production`"),
        "{}",
        status.stdout
    );
    assert_exit(&p.run(&["audit", "--env", "production", "--verify"]), 0);
}
