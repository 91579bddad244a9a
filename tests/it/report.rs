//! `stagegate report`: the real binary over a release of 30 migrations and three real
//! databases (dev, staging, production) at different versions.

use assert_cmd::Command;
use serde_json::Value;

use crate::support::harness::TestDb;
use crate::support::project::{Output, assert_exit, query};

const VARS: [&str; 3] = [
    "SG_REPORT_DEV_URL",
    "SG_REPORT_STAGING_URL",
    "SG_REPORT_PROD_URL",
];

struct Release {
    dir: tempfile::TempDir,
    dbs: [TestDb; 3],
}

/// Migration `i` of the release: tables, columns, indexes concurrent and not, a type change
/// that rewrites, a rename, a no-transaction migration.
fn migration(i: usize) -> (String, String) {
    let (name, sql) = match i {
        1 => (
            "accounts".to_string(),
            "CREATE TABLE accounts (id bigint PRIMARY KEY, name text);\n\
             INSERT INTO accounts SELECT g, 'n' || g FROM generate_series(1, 500) g;\n\
             ANALYZE accounts;\n"
                .to_string(),
        ),
        15 => (
            "retype".to_string(),
            "ALTER TABLE accounts ALTER COLUMN c12 TYPE bigint;\n".to_string(),
        ),
        17 => (
            "rename".to_string(),
            "ALTER TABLE t13 RENAME TO t13_renamed;\n".to_string(),
        ),
        19 => (
            "concurrent_index".to_string(),
            "-- stagegate:no-transaction\n\
             CREATE INDEX CONCURRENTLY accounts_name ON accounts (name);\n"
                .to_string(),
        ),
        21 => (
            "blocking_index".to_string(),
            "CREATE INDEX t11_id ON t11 (id);\n".to_string(),
        ),
        23 => (
            "weird".to_string(),
            "-- a <script>alert(1)</script> comment\nCREATE TABLE \"we|ird\" (id int);\n"
                .to_string(),
        ),
        27 => (
            "alter_weird".to_string(),
            "ALTER TABLE \"we|ird\" ADD COLUMN x int;\n".to_string(),
        ),
        25 => {
            let mut sql: String = (1..=30).map(|n| format!("-- note {n}\n")).collect();
            sql.push_str("ALTER TABLE accounts ADD COLUMN long_one int;\n");
            ("long".to_string(), sql)
        }
        i if i % 2 == 0 => (
            format!("column_{i}"),
            format!("ALTER TABLE accounts ADD COLUMN c{i} int;\n"),
        ),
        i => (
            format!("table_{i}"),
            format!("CREATE TABLE t{i} (id int);\n"),
        ),
    };
    (format!("{i:03}_{name}.up.sql"), sql)
}

impl Release {
    fn new() -> Release {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        std::fs::write(
            dir.path().join("stagegate.toml"),
            format!(
                "[environments.dev]\nurl = \"${{{}}}\"\n\n\
                 [environments.staging]\nurl = \"${{{}}}\"\npromote_from = \"dev\"\n\n\
                 [environments.production]\nurl = \"${{{}}}\"\npromote_from = \"staging\"\n",
                VARS[0], VARS[1], VARS[2]
            ),
        )
        .unwrap();
        for i in 1..=30 {
            let (file, sql) = migration(i);
            std::fs::write(dir.path().join("migrations").join(file), sql).unwrap();
        }
        let release = Release {
            dir,
            dbs: [TestDb::create(), TestDb::create(), TestDb::create()],
        };
        for (env, to) in [("dev", "030"), ("staging", "020"), ("production", "010")] {
            assert_exit(
                &release.run(&["migrate", "apply", "--env", env, "--to", to]),
                0,
            );
        }
        release
    }

    fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("stagegate").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env_remove("STAGEGATE_SCRATCH_URL")
            .env_remove("STAGEGATE_SHADOW_URL")
            .env("NO_COLOR", "1")
            .env("STAGEGATE_LOCK_WAIT", "5s");
        for (var, db) in VARS.iter().zip(&self.dbs) {
            cmd.env(var, db.database_url().expose());
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        Output::from(out)
    }
}

fn by_version<'a>(report: &'a Value, version: &str) -> &'a Value {
    report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == version)
        .unwrap_or_else(|| panic!("no {version}"))
}

#[test]
fn a_release_report_lists_what_production_lacks_with_every_environments_state() {
    let release = Release::new();
    let out = release.run(&["report", "--env", "production", "--format", "json"]);
    assert_exit(&out, 0);
    let report = crate::json::assert_matches("report", &out);
    let versions: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (11..=30).map(|i| format!("{i:03}")).collect();
    assert_eq!(versions, expected);
    assert_eq!(report["selection"]["kind"], "pending");
    let state = |version: &str, env: &str| {
        by_version(&report, version)["statuses"][env]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("011", "dev"), "applied");
    assert_eq!(state("011", "staging"), "applied");
    assert_eq!(state("011", "production"), "pending");
    assert_eq!(state("021", "dev"), "applied");
    assert_eq!(state("021", "staging"), "pending");
    assert!(by_version(&report, "011")["statuses"]["dev"]["at"].is_string());
    // The rewrite, the blocking index, the concurrent one.
    let retype = by_version(&report, "015");
    assert_eq!(retype["rewrites"], true);
    assert_eq!(retype["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(retype["severity"], "error");
    assert_eq!(by_version(&report, "021")["lock"], "SHARE");
    assert_eq!(by_version(&report, "019")["no_transaction"], true);
    assert_eq!(by_version(&report, "019")["rewrites"], false);
    // Sizes from production: accounts exists there with its 500 rows; t13 too; "we|ird" is new.
    let accounts = &retype["tables"][0];
    assert_eq!(accounts["table"], "accounts");
    assert_eq!(accounts["exists"], true);
    assert_eq!(accounts["rows"], 500);
    assert!(accounts["bytes"].as_i64().unwrap() > 0);
    let weird = &by_version(&report, "027")["tables"][0];
    assert_eq!(weird["exists"], false, "{weird}");
    assert_eq!(report["scratch"]["computed"], false);
    assert!(retype["diff"].is_null());

    // Markdown: one summary row per pending migration, escaped cells, long SQL folded.
    let md = release.run(&["report", "--env", "production"]);
    assert_exit(&md, 0);
    let rows = md.stdout.lines().filter(|l| l.starts_with("| [")).count();
    assert_eq!(rows, 20, "{}", md.stdout);
    assert!(md.stdout.contains("we\\|ird"), "{}", md.stdout);
    assert!(
        md.stdout
            .lines()
            .filter(|l| l.starts_with('|'))
            .all(|l| !l.contains("we|ird")),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("<details><summary>SQL (31 lines"));
    assert!(md.stdout.contains("--scratch"), "says how to get the diff");

    // HTML to a file: the DOM contract, and the comment's <script> escaped.
    let path = release.dir.path().join("report.html");
    let html = release.run(&[
        "report",
        "--env",
        "production",
        "--format",
        "html",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_exit(&html, 0);
    assert!(html.stdout.is_empty());
    assert!(html.stderr.contains("report.html"), "{}", html.stderr);
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(page.contains("<table id=\"summary\">"));
    assert_eq!(
        page.matches("<section class=\"migration\" id=\"m-").count(),
        20
    );
    assert!(page.contains("id=\"m-015\""));
    assert!(page.contains("<div class=\"finding sev-error\">"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script"));
    assert!(page.contains("name=\"viewport\""));
    assert!(page.contains("@media print"));
}

#[test]
fn an_unreachable_environment_is_shown_and_only_env_itself_fails_the_report() {
    let release = Release::new();
    let mut cmd = release.command();
    cmd.env(
        VARS[0],
        "postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
    );
    let out = cmd
        .args(["report", "--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        by_version(&report, "011")["statuses"]["dev"]["state"],
        "unreachable"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("dev: unreachable"));
    let mut cmd = release.command();
    cmd.env(
        VARS[2],
        "postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
    );
    let out = cmd
        .args(["report", "--env", "production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn since_needs_no_database_and_an_unknown_version_is_a_usage_error() {
    let release = Release::new();
    let mut cmd = release.command();
    for var in VARS {
        cmd.env(
            var,
            "postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
        );
    }
    let out = cmd
        .args(["report", "--since", "028", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["029", "030"]);
    assert!(report["migrations"][0]["tables"].is_null());
    let out = release.run(&["report", "--since", "999"]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("--since 999"), "{}", out.stderr);
}

#[test]
fn with_a_scratch_database_the_diff_and_traced_rewrite_are_shown_and_it_is_dropped() {
    let release = Release::new();
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let out = release.run(&[
        "report",
        "--env",
        "production",
        "--since",
        "014",
        "--shadow",
        url.expose(),
        "--format",
        "json",
    ]);
    assert_exit(&out, 0);
    let report = crate::json::assert_matches("report", &out);
    assert_eq!(report["scratch"]["computed"], true);
    let added = by_version(&report, "016")["diff"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(added.contains("+    c16 integer"), "{added}");
    let retype = by_version(&report, "015");
    let traced = &retype["traced"]["locks"][0];
    assert_eq!(traced["relation"], "accounts");
    assert_eq!(traced["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(traced["rewritten"], true);
    assert!(retype["diff"].as_str().unwrap().contains("c12 bigint"));
    // The scratch database is gone and the shadow database untouched.
    let name = out
        .stderr
        .split("scratch database ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let left = query(
        &shadow,
        &format!("SELECT count(*) FROM pg_database WHERE datname LIKE '{name}%'"),
    );
    assert_eq!(left[0][0].as_deref(), Some("0"));
    // Markdown shows the diff in a diff block.
    let md = release.run(&["report", "--since", "029", "--shadow", url.expose()]);
    assert_exit(&md, 0);
    assert!(md.stdout.contains("```diff\n"), "{}", md.stdout);
    assert!(md.stdout.contains("+    c30 integer"), "{}", md.stdout);
}

/// The HTML report, rendered in headless Chromium on a desktop and at a phone's width: the
/// summary table and a schema diff with the added column are drawn and readable without
/// scrolling the page sideways, and the file references nothing outside itself.
#[test]
fn the_html_report_shows_its_summary_and_a_diff_in_a_browser() {
    let release = Release::new();
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let file = release.dir.path().join("release.html");
    let out = release.run(&[
        "report",
        "--since",
        "014",
        "--shadow",
        url.expose(),
        "--format",
        "html",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let html = std::fs::read_to_string(&file).unwrap();
    for external in [
        "src=\"http",
        "href=\"http",
        "rel=\"stylesheet",
        "<script src",
        "@import",
    ] {
        assert!(!html.contains(external), "the report references {external}");
    }
    let selectors = ["table#summary", "pre.diff", "pre.diff span.add"];
    for (width, height) in [(1280, 900), (390, 844)] {
        let page = crate::browser::render(&file, width, height, &selectors);
        let summary = page.probe("table#summary");
        let table = summary
            .visible()
            .next()
            .unwrap_or_else(|| panic!("{width}px: the summary table is not drawn: {:?}", summary));
        assert!(
            table.readable_at_width(),
            "{width}px: the summary table widens the page: {table:?}"
        );
        assert!(table.text.contains("016"), "{width}px: {}", table.text);
        assert!(
            page.probe("pre.diff").visible().next().is_some(),
            "{width}px: no diff drawn"
        );
        assert!(
            page.probe("pre.diff span.add")
                .visible()
                .any(|line| line.text.contains("c16 integer")),
            "{width}px: the added column is not among the drawn diff lines"
        );
        assert!(
            page.image().foreground_pixels() > 1000,
            "{width}px: blank screenshot"
        );
    }
}

/// With `--env`, the environment's sizes make findings precise: a plain CREATE INDEX on a
/// table of 500 rows there is info, naming its size; without a database it stays an error.
#[test]
fn with_env_a_plain_index_on_a_small_table_is_info_and_without_it_an_error() {
    let release = Release::new();
    std::fs::write(
        release
            .dir
            .path()
            .join("migrations/031_accounts_name_plain.sql"),
        "CREATE INDEX accounts_name_plain ON accounts (name);\n",
    )
    .unwrap();
    let sg101 = |args: &[&str]| {
        let out = release.run(args);
        assert_exit(&out, 0);
        let report = crate::json::assert_matches("report", &out);
        by_version(&report, "031")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "SG101")
            .unwrap_or_else(|| panic!("no SG101 on 031: {}", out.stdout))
            .clone()
    };
    let with_env = sg101(&["report", "--env", "production", "--format", "json"]);
    assert_eq!(with_env["severity"], "info", "{with_env}");
    assert!(
        with_env["message"].as_str().unwrap().contains("rows"),
        "{with_env}"
    );
    let without = sg101(&["report", "--since", "030", "--format", "json"]);
    assert_eq!(without["severity"], "error", "{without}");
}

/// `report --env` reads the environment without opening a table: while another session holds
/// ACCESS EXCLUSIVE on a table the release touches (a migration running there, say), the
/// report still finishes, with that table's size, and the lock is still held afterwards (the
/// report did not wait for it to go).
#[test]
fn report_env_finishes_while_a_touched_table_is_locked_access_exclusive() {
    let release = Release::new();
    let production = &release.dbs[2];
    let psql = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("psql"))
        .find(|path| path.is_file())
        .expect("psql on PATH");
    let mut holder = std::process::Command::new(psql)
        .arg(production.database_url().expose())
        .args([
            "-c",
            "BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let locked = || {
        query(
            production,
            "SELECT count(*)::text FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted \
             AND relation = 'accounts'::regclass",
        )[0][0]
            .clone()
            == Some("1".into())
    };
    let started = std::time::Instant::now();
    while !locked() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "psql never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = release.run(&["report", "--env", "production", "--format", "json"]);
    let still_locked = locked();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_exit(&out, 0);
    assert!(
        still_locked,
        "the lock was released before the report ended"
    );
    let report = crate::json::assert_matches("report", &out);
    let accounts = &by_version(&report, "015")["tables"][0];
    assert_eq!(accounts["table"], "accounts");
    assert_eq!(accounts["exists"], true);
    assert_eq!(accounts["rows"], 500);
    assert!(accounts["bytes"].as_i64().unwrap() > 0, "{accounts}");
}
