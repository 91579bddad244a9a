//! Output people and scripts rely on: `migrate status` summaries and width, colour, `-q` and
//! `-v`, completions, `lint -`, and `rule` lookups. The real binary, a real PostgreSQL.

use std::io::Write;
use std::process::Stdio;

use crate::support::harness::TestDb;
use crate::support::project::{Output, Project, assert_exit};

const PROD_VAR: &str = "SG_TEST_UX_PROD_URL";

/// staging and production, each its own database; `run` sets both URLs.
struct TwoEnvs {
    p: Project,
    prod: TestDb,
}

impl TwoEnvs {
    fn new() -> TwoEnvs {
        let p = Project::new(&format!(
            "\n[environments.production]\nurl = \"${{{PROD_VAR}}}\"\n"
        ));
        TwoEnvs {
            p,
            prod: TestDb::create(),
        }
    }

    fn command(&self) -> assert_cmd::Command {
        let mut cmd = self.p.command();
        cmd.env(PROD_VAR, self.prod.database_url().expose());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        Output::from(self.command().args(args).output().unwrap())
    }
}

/// 1 and 2 applied on staging, 1 on production; then 2 deleted locally, 3 edited after it
/// was applied on staging, 4 new. The first name is long.
fn deployed() -> TwoEnvs {
    let envs = TwoEnvs::new();
    let p = &envs.p;
    let long = "1_create_the_customer_accounts_table_with_every_column_we_will_need.up.sql";
    p.write(long, "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.write("3_c.up.sql", "CREATE TABLE c (id int);\n");
    assert_exit(&envs.run(&["migrate", "apply", "--env", "staging"]), 0);
    assert_exit(
        &envs.run(&["migrate", "apply", "--env", "production", "--to", "1"]),
        0,
    );
    std::fs::remove_file(p.migrations().join("2_b.up.sql")).unwrap();
    p.write("3_c.up.sql", "CREATE TABLE c (id bigint);\n");
    p.write("4_d.up.sql", "CREATE TABLE d (id int);\n");
    envs
}

fn row<'a>(stdout: &'a str, version: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("│ {version} ")))
        .unwrap_or_else(|| panic!("no row {version}:\n{stdout}"))
}

#[test]
fn status_summarises_each_environment_and_a_deleted_migration_is_never_pending() {
    let envs = deployed();
    let out = envs.run(&["migrate", "status"]);
    assert_exit(&out, 0);
    let text = &out.stdout;
    assert!(
        text.contains("staging: 1 applied, 1 pending, 0 failed, 1 drift, 1 missing locally\n"),
        "{text}"
    );
    assert!(
        text.contains("production: 1 applied, 2 pending, 0 failed, 0 drift, 0 missing locally\n"),
        "{text}"
    );
    // Columns: version, name, production, staging.
    let two: Vec<&str> = row(text, "2").split('│').map(str::trim).collect();
    assert_eq!(
        two[3], "-",
        "deleted locally, never applied on production: {text}"
    );
    assert_eq!(two[4], "missing locally", "{text}");
    assert!(!row(text, "2").contains("pending"), "{text}");
    assert!(row(text, "4").matches("pending").count() == 2, "{text}");
    // Drift names both checksums, shortened.
    let file = stagegate::Checksum::of_text("CREATE TABLE c (id bigint);\n").to_string();
    let applied = stagegate::Checksum::of_text("CREATE TABLE c (id int);\n").to_string();
    let short = |c: &str| c.trim_start_matches("sha256:")[..8].to_string();
    assert!(
        text.contains(&format!(
            "staging: 3 changed since it was applied (file {}, applied {})",
            short(&file),
            short(&applied)
        )),
        "{text}"
    );
    // 80 columns, the long name cut with an ellipsis.
    for line in text.lines().filter(|l| l.starts_with(['│', '┌', '├', '└'])) {
        assert!(
            line.chars().count() <= 80,
            "{} wide: {line}",
            line.chars().count()
        );
    }
    assert!(row(text, "1").contains("create_the_custo"), "{text}");
    assert!(row(text, "1").contains('…'), "{text}");

    let json = envs.run(&["migrate", "status", "--format", "json"]);
    // Drift, missing locally and absent cells match the documented schema too.
    let json = crate::json::assert_matches("status", &json);
    let two = &json["migrations"][1];
    assert_eq!(two["version"], "2");
    assert_eq!(two["environments"]["production"]["state"], "absent");
    assert_eq!(two["environments"]["staging"]["state"], "missing-locally");
    assert_eq!(json["environments"][1]["summary"]["missing_locally"], 1);
    assert_eq!(
        json["migrations"][0]["name"],
        "create_the_customer_accounts_table_with_every_column_we_will_need",
        "JSON keeps the whole name"
    );
}

#[test]
fn status_pending_shows_only_what_is_not_applied_everywhere() {
    let envs = deployed();
    let out = envs.run(&["migrate", "status", "--pending"]);
    assert_exit(&out, 0);
    assert!(
        !out.stdout.contains("│ 1 "),
        "1 is applied everywhere: {}",
        out.stdout
    );
    for version in ["2", "3", "4"] {
        row(&out.stdout, version);
    }
    // The summaries still count every migration.
    assert!(out.stdout.contains("staging: 1 applied,"), "{}", out.stdout);

    let json = envs.run(&["migrate", "status", "--pending", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let versions: Vec<&str> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2", "3", "4"]);

    // Once everything is applied everywhere (and nothing drifted), nothing is left to show.
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&p.apply(), 0);
    let out = p.run(&["migrate", "status", "--pending"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .starts_with("every migration is applied in every environment shown\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn status_colours_states_only_when_asked_and_never_with_no_color() {
    let envs = deployed();
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = envs.command();
        cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (name, value) in vars {
            cmd.env(name, value);
        }
        Output::from(cmd.args(["migrate", "status"]).output().unwrap())
    };
    let piped = run(&[]);
    assert!(!piped.stdout.contains('\x1b'), "a pipe gets no colour");
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.stdout.contains("\x1b[33mpending\x1b[0m"),
        "{}",
        forced.stdout
    );
    assert!(forced.stdout.contains("\x1b[35mmissing locally\x1b[0m"));
    // Colour does not move the borders: same text without the escapes.
    let plain: String = strip_sgr(&forced.stdout);
    assert_eq!(plain, piped.stdout);
    let no_color = run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!no_color.stdout.contains('\x1b'), "NO_COLOR wins");
}

fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('m').unwrap();
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn quiet_keeps_only_errors_and_verbose_says_what_the_run_reads() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    // A stray file: a discovery warning on stderr.
    p.write("stray.sql", "SELECT 1;\n");
    let normal = p.run(&["migrate", "status"]);
    assert_exit(&normal, 0);
    assert!(normal.stderr.contains("warning:"), "{}", normal.stderr);

    let quiet = p.run(&["-q", "migrate", "status"]);
    assert_exit(&quiet, 0);
    assert_eq!(quiet.stderr, "", "quiet: no warnings");
    assert_eq!(quiet.stdout, normal.stdout, "the report is the same");
    let applied = p.run(&["migrate", "apply", "--env", "staging", "--quiet"]);
    assert_exit(&applied, 0);
    assert_eq!(applied.stderr, "", "quiet apply: no progress lines");
    // Errors still show.
    let failed = p.run(&["-q", "migrate", "plan", "--env", "nowhere"]);
    assert_exit(&failed, 2);
    assert!(failed.stderr.contains("error:"), "{}", failed.stderr);

    let verbose = p.run(&["migrate", "status", "-v"]);
    assert_exit(&verbose, 0);
    let config = p.dir.path().join("stagegate.toml");
    assert!(
        verbose
            .stderr
            .contains(&format!("configuration: {}", config.display())),
        "{}",
        verbose.stderr
    );
    assert!(
        verbose.stderr.contains("migrations: 1 in "),
        "{}",
        verbose.stderr
    );
    assert!(
        verbose.stderr.contains("staging: reading postgres://"),
        "{}",
        verbose.stderr
    );
    assert!(!normal.stderr.contains("configuration:"));
    let lint = p.run(&["lint", "--verbose"]);
    assert!(
        lint.stderr
            .contains(&format!("configuration: {}", config.display())),
        "{}",
        lint.stderr
    );
    assert_exit(&p.run(&["-q", "-v", "migrate", "status"]), 2);
}

#[test]
fn completions_for_bash_zsh_and_fish_name_the_subcommands_and_flags() {
    let p = Project::new("");
    for shell in ["bash", "zsh", "fish"] {
        let out = p.run(&["completions", shell]);
        assert_exit(&out, 0);
        // fish names long flags without their dashes (`-l changed-since`).
        for word in ["check-reversible", "migrate", "changed-since", "pending"] {
            assert!(out.stdout.contains(word), "{shell}: no {word}");
        }
    }
    // The bash script is valid bash.
    let bash = p.run(&["completions", "bash"]);
    let mut child = std::process::Command::new("bash")
        .args(["-n"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(bash.stdout.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "bash -n rejects the script"
    );
    assert_exit(&p.run(&["completions", "tcsh"]), 2);
}

fn lint_stdin(p: &Project, args: &[&str], sql: &str) -> Output {
    let mut cmd = p.command();
    cmd.arg("lint").args(args).write_stdin(sql);
    Output::from(cmd.output().unwrap())
}

#[test]
fn lint_dash_reads_one_script_from_stdin() {
    let p = Project::new("");
    let out = lint_stdin(
        &p,
        &["-", "--format", "json"],
        "CREATE INDEX users_email ON users (email);\n",
    );
    assert_exit(&out, 1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["findings"][0]["path"], "<stdin>");
    assert_eq!(json["findings"][0]["code"], "SG101");
    assert_eq!(json["summary"]["files"], 1);

    let text = lint_stdin(&p, &["-"], "CREATE INDEX users_email ON users (email);\n");
    assert!(text.stdout.contains("<stdin>:1:1"), "{}", text.stdout);

    // A table created in the same text is new: quiet, as for a file.
    let quiet = lint_stdin(
        &p,
        &["-"],
        "CREATE TABLE t (id int);\nCREATE INDEX t_id ON t (id);\n",
    );
    assert_exit(&quiet, 0);

    // Not SQL text, and --changed-since (which needs git), are clear errors.
    let mut cmd = p.command();
    cmd.args(["lint", "-"]).write_stdin(vec![0xff, 0xfe, b'x']);
    let bad = Output::from(cmd.output().unwrap());
    assert_exit(&bad, 2);
    assert!(bad.stderr.contains("<stdin>: not UTF-8"), "{}", bad.stderr);
    let out = lint_stdin(&p, &["-", "--changed-since", "HEAD"], "SELECT 1;\n");
    assert_exit(&out, 2);
    assert!(out.stderr.contains("--changed-since"), "{}", out.stderr);
}

#[test]
fn rule_finds_by_code_or_name_and_suggests_the_nearest_on_a_miss() {
    let p = Project::new("");
    let by_code = p.run(&["rule", "sg101"]);
    assert_exit(&by_code, 0);
    let by_name = p.run(&["rule", "require-concurrent-index-creation"]);
    assert_exit(&by_name, 0);
    assert_eq!(by_code.stdout, by_name.stdout);

    let typo = p.run(&["rule", "require-concurent-index-creation"]);
    assert_exit(&typo, 2);
    assert!(
        typo.stderr
            .contains("did you mean `require-concurrent-index-creation` (SG101)?"),
        "{}",
        typo.stderr
    );
    let fragment = p.run(&["rule", "concurrent-index-drop"]);
    assert_exit(&fragment, 2);
    assert!(fragment.stderr.contains("(SG102)"), "{}", fragment.stderr);
    let nothing = p.run(&["rule", "qqqqqqqqqqqqqqqqqqqq"]);
    assert_exit(&nothing, 2);
    assert!(
        !nothing.stderr.contains("did you mean"),
        "{}",
        nothing.stderr
    );
    assert!(nothing.stderr.contains("`stagegate rule` lists them all"));
}

#[test]
fn apply_records_the_os_user_from_the_system_without_user_variables() {
    let p = Project::new("");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let mut cmd = p.command();
    cmd.env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .args(["migrate", "apply", "--env", "staging"]);
    assert_exit(&Output::from(cmd.output().unwrap()), 0);
    let id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let me = String::from_utf8(id.stdout).unwrap().trim().to_string();
    assert!(!me.is_empty());
    assert_eq!(
        p.scalar("SELECT os_user FROM stagegate.migrations WHERE version = '1'")
            .as_deref(),
        Some(me.as_str())
    );
    assert_eq!(
        p.scalar("SELECT os_user FROM stagegate.events WHERE kind = 'apply'")
            .as_deref(),
        Some(me.as_str())
    );
}

#[test]
fn audit_and_apply_tables_fit_80_columns_and_plan_shortens_checksums() {
    let envs = deployed();
    let apply = envs.run(&["migrate", "apply", "--env", "production", "--to", "1"]);
    let plan = envs.run(&["migrate", "plan", "--env", "production"]);
    let audit = envs.run(&["audit", "--env", "staging"]);
    assert_exit(&audit, 0);
    for (what, out) in [("audit", &audit), ("apply", &apply), ("plan", &plan)] {
        for line in out.stdout.lines().filter(|l| l.starts_with(['│', '┌'])) {
            assert!(
                line.chars().count() <= 80,
                "{what}: {} wide: {line}\n{}",
                line.chars().count(),
                out.stdout
            );
        }
    }
    // The versions stay whole; the checksums are shortened.
    assert!(plan.stdout.contains("│ 3 "), "{}", plan.stdout);
    assert!(
        plan.stdout
            .lines()
            .filter(|l| l.starts_with('│'))
            .all(|l| !l.contains("sha256:")),
        "{}",
        plan.stdout
    );
    assert!(audit.stdout.contains("│ 1  "), "{}", audit.stdout);
}

/// With 14-digit versions, long names and a no-transaction migration, every line `migrate
/// plan` prints fits 80 columns (display width): the table keeps version, name, mode,
/// statements and checksum, each migration's timeouts, verify, way back and reason follow
/// it, and findings, locks, gates and the hash wrap onto indented lines, nothing lost.
#[test]
fn plan_fits_80_columns_with_long_versions_and_names() {
    let p = Project::new("lock_timeout = \"2s\"\nstatement_timeout = \"10min\"");
    p.write(
        "20240101120000_create_the_customer_accounts_table.up.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
    );
    assert_exit(&p.apply(), 0);
    p.write(
        "20240102093000_add_users_email_verification_columns_and_backfill.up.sql",
        "ALTER TABLE accounts ADD COLUMN verified_at timestamp;\n\
         CREATE INDEX accounts_email ON accounts (email);\n",
    );
    p.write(
        "20240102093000_add_users_email_verification_columns_and_backfill.down.sql",
        "DROP INDEX accounts_email;\nALTER TABLE accounts DROP COLUMN verified_at;\n",
    );
    p.write(
        "20240103100000_index_accounts_by_email_concurrently_for_the_login_page.up.sql",
        "-- stagegate:no-transaction\n\
         CREATE INDEX CONCURRENTLY accounts_email_lower ON accounts (lower(email));\n",
    );
    let out = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&out, 0);
    let text = &out.stdout;
    for line in text.lines() {
        let width = tabled::grid::util::string::get_string_width(line);
        assert!(width <= 80, "{width} wide: {line}\n{text}");
    }

    let json = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    // The table: whole versions, the start of each name, modes, statements, short checksums.
    for (m, mode) in json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["transaction", "no-transaction"])
    {
        let version = m["version"].as_str().unwrap();
        let checksum = m["checksum"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let row = row(text, version);
        let cells: Vec<&str> = row.split('│').map(str::trim).collect();
        let name = m["name"].as_str().unwrap();
        assert!(name.starts_with(cells[2].trim_end_matches('…')), "{row}");
        assert_eq!(cells[3], mode, "{row}");
        assert_eq!(cells[4], m["statements"].to_string(), "{row}");
        assert_eq!(cells[5], &checksum[..8], "{row}");
    }
    // Each migration's details after the table.
    let details = text.replace("\n    ", " ");
    for (version, down) in [("20240102093000", "yes"), ("20240103100000", "missing")] {
        assert!(
            details.contains(&format!(
                "  {version}: lock_timeout 2s, statement_timeout 10min, verify no, down {down}, why pending\n"
            )),
            "{text}"
        );
    }
    // Findings and locks, whole once their continuation lines are joined.
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.len() >= 2, "{findings:?}");
    for f in findings {
        let line = format!(
            "  {} line {}: {} {} {}\n",
            f["version"].as_str().unwrap(),
            f["line"],
            f["severity"].as_str().unwrap(),
            f["code"].as_str().unwrap(),
            f["message"].as_str().unwrap()
        );
        assert!(details.contains(&line), "{line}\n{text}");
    }
    assert!(
        details.contains("  20240102093000: ACCESS EXCLUSIVE on accounts ("),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "plan hash:\n  {}\n",
            json["hash"].as_str().unwrap()
        )),
        "{text}"
    );
}
