//! Release sign-off and after-apply checks, with the real binary on a real PostgreSQL:
//! `approvals = N` approvers of one plan hash (`migrate approve`), each refusal of the
//! approvals gate, and the `after_apply` / `after_down` command with its recorded outcome.

use crate::support::project::{Output, Project, assert_exit};

/// `stagegate ARGS` as the CI actor `actor` (the identity approvals are counted by).
fn as_actor(p: &Project, actor: &str, args: &[&str]) -> Output {
    let out = crate::support::harness::run_output(
        p.command()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", actor)
            .env_remove("GITLAB_CI")
            .args(args),
        &format!("stagegate {} as {actor}", args.join(" ")),
    );
    Output::from(out)
}

/// The plan of `staging` as JSON, read as `actor`.
fn plan(p: &Project, actor: &str) -> (i32, serde_json::Value) {
    let out = as_actor(
        p,
        actor,
        &["migrate", "plan", "--env", "staging", "--format", "json"],
    );
    (out.code, serde_json::from_str(&out.stdout).unwrap())
}

fn approve(p: &Project, actor: &str, hash: &str, reason: &str) -> Output {
    as_actor(
        p,
        actor,
        &[
            "migrate",
            "approve",
            "--env",
            "staging",
            "--plan-hash",
            hash,
            "--reason",
            reason,
        ],
    )
}

fn apply(p: &Project, actor: &str) -> Output {
    as_actor(p, actor, &["migrate", "apply", "--env", "staging"])
}

/// Applied versions (none when the state schema is not there yet).
fn applied(p: &Project) -> Vec<String> {
    if p.scalar("SELECT to_regclass('stagegate.migrations') IS NULL")
        .as_deref()
        == Some("t")
    {
        return Vec::new();
    }
    p.query("SELECT version FROM stagegate.migrations WHERE status = 'applied' ORDER BY version")
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect()
}

/// The detail of each event of `kind`, oldest first.
fn events(p: &Project, kind: &str) -> Vec<serde_json::Value> {
    p.query(&format!(
        "SELECT detail FROM stagegate.events WHERE kind = '{kind}' ORDER BY id"
    ))
    .into_iter()
    .map(|row| serde_json::from_str(row[0].as_deref().unwrap()).unwrap())
    .collect()
}

fn approvals_gate(plan: &serde_json::Value) -> (String, String) {
    let gate = plan["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "approvals")
        .unwrap();
    (
        gate["status"].as_str().unwrap().to_string(),
        gate["detail"].as_str().unwrap().to_string(),
    )
}

#[test]
fn apply_waits_for_two_approvers_other_than_the_one_applying_each_counted_once() {
    let p = Project::new("approvals = 2");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let (code, plan0) = plan(&p, "carol");
    assert_eq!(code, 3, "plan exits 3 exactly when apply would refuse");
    let hash = plan0["hash"].as_str().unwrap().to_string();
    let (status, detail) = approvals_gate(&plan0);
    assert_eq!(status, "refuse");
    assert!(
        detail.contains("0 of 2 gathered") && detail.contains("2 more needed"),
        "{detail}"
    );

    let out = apply(&p, "carol");
    assert_exit(&out, 3);
    assert!(out.stderr.contains("approvals gate"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing was run"), "{}", out.stderr);

    // alice approves, twice, then applies herself: her own approval does not count.
    assert_exit(&approve(&p, "alice", &hash, "reviewed the table"), 0);
    let again = approve(&p, "alice", &hash, "still fine");
    assert_exit(&again, 0);
    assert!(again.stderr.contains("counted once"), "{}", again.stderr);
    let out = apply(&p, "alice");
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("0 of 2 gathered")
            && out
                .stderr
                .contains("the approval of `alice` does not count for their own apply"),
        "{}",
        out.stderr
    );
    // carol applies: alice counts once, one more is missing; nothing else is said (no
    // own approval of carol's, no outsider, no earlier plan). (Mutants in
    // deploy/approvals.rs `gate`: `own > 0` or `stale > 0` made `>=`, which adds a clause
    // with nothing behind it.)
    let out = apply(&p, "carol");
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(
            "1 of 2 gathered for this plan (`alice`); 1 more needed from someone other than \
             `carol` (who applies); approve with"
        ),
        "{}",
        out.stderr
    );
    assert!(applied(&p).is_empty());

    assert_exit(&approve(&p, "bob", &hash, "DBA sign-off"), 0);
    let (code, plan1) = plan(&p, "carol");
    assert_eq!(code, 0);
    assert_eq!(
        plan1["hash"], plan0["hash"],
        "approvals do not change the plan"
    );
    let counts: Vec<(String, String)> = plan1["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["approver"].as_str().unwrap().to_string(),
                a["counts"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("alice".to_string(), "counted".to_string()),
            ("alice".to_string(), "duplicate".to_string()),
            ("bob".to_string(), "counted".to_string()),
        ]
    );
    let text = as_actor(&p, "carol", &["migrate", "plan", "--env", "staging"]);
    assert!(
        text.stdout.contains("approvals of this plan:")
            && text.stdout.contains("bob at ")
            && text.stdout.contains("DBA sign-off"),
        "{}",
        text.stdout
    );
    // The plan's JSON and the report carry the sign-off, each matching its schema.
    let plan_json = as_actor(
        &p,
        "carol",
        &["migrate", "plan", "--env", "staging", "--format", "json"],
    );
    crate::json::assert_matches("plan", &plan_json);
    let report = as_actor(
        &p,
        "carol",
        &["report", "--env", "staging", "--format", "json"],
    );
    assert_exit(&report, 0);
    let report = crate::json::assert_matches("report", &report);
    assert_eq!(report["sign_off"]["plan_hash"], hash.as_str());
    assert_eq!(report["sign_off"]["status"], "pass");
    assert_eq!(report["sign_off"]["approvals"].as_array().unwrap().len(), 3);
    let markdown = as_actor(&p, "carol", &["report", "--env", "staging"]);
    assert!(
        markdown.stdout.contains("**Sign-off**")
            && markdown.stdout.contains("| bob |")
            && markdown.stdout.contains("DBA sign-off"),
        "{}",
        markdown.stdout
    );

    assert_exit(&apply(&p, "carol"), 0);
    assert_eq!(applied(&p), ["1"]);

    // In the chain, shown by audit, and the chain verifies.
    let recorded = events(&p, "approval");
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2]["approver"], "bob");
    assert_eq!(recorded[2]["plan_hash"], hash.as_str());
    assert_eq!(recorded[2]["reason"], "DBA sign-off");
    let audit = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&audit, 0);
    assert!(
        audit.stdout.contains("approval") && audit.stdout.contains("bob"),
        "{}",
        audit.stdout
    );
}

#[test]
fn an_edited_or_added_migration_voids_the_approvals_of_the_plan_before() {
    let p = Project::new("approvals = 1");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let (_, before) = plan(&p, "carol");
    let old = before["hash"].as_str().unwrap().to_string();
    assert_exit(&approve(&p, "alice", &old, "reviewed"), 0);
    assert_eq!(plan(&p, "carol").0, 0);

    p.write("1_a.up.sql", "CREATE TABLE a (id bigint);\n");
    let (code, after) = plan(&p, "carol");
    assert_eq!(code, 3);
    assert_ne!(after["hash"], before["hash"]);
    let (_, detail) = approvals_gate(&after);
    assert!(
        detail.contains("1 approval(s) of an earlier plan no longer count"),
        "{detail}"
    );
    let out = apply(&p, "carol");
    assert_exit(&out, 3);
    assert!(out.stderr.contains("approvals gate"), "{}", out.stderr);
    // The old hash cannot be approved any more.
    let stale = approve(&p, "bob", &old, "reviewed yesterday");
    assert_exit(&stale, 3);
    assert!(
        stale
            .stderr
            .contains(&format!("plan hash {old} is not its plan now"))
            && stale.stderr.contains("nothing was recorded"),
        "{}",
        stale.stderr
    );
    assert_eq!(events(&p, "approval").len(), 1);

    // A migration added voids them too; approving the new hash lets carol apply.
    let new = after["hash"].as_str().unwrap().to_string();
    assert_exit(&approve(&p, "alice", &new, "bigint is right"), 0);
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    assert_exit(&apply(&p, "carol"), 3);
    let (_, latest) = plan(&p, "carol");
    let latest = latest["hash"].as_str().unwrap().to_string();
    assert_exit(&approve(&p, "alice", &latest, "and b"), 0);
    assert_exit(&apply(&p, "carol"), 0);
    assert_eq!(applied(&p), ["1", "2"]);
}

#[test]
fn only_the_configured_approvers_approve_and_the_reason_must_show() {
    let p = Project::new("approvals = 1\napprovers = [\"alice\", \"bob\"]");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let (_, plan0) = plan(&p, "carol");
    let hash = plan0["hash"].as_str().unwrap().to_string();
    let (_, detail) = approvals_gate(&plan0);
    assert!(detail.contains("among `alice`, `bob`"), "{detail}");

    let out = approve(&p, "mallory", &hash, "trust me");
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("`mallory` is not one of its approvers (`alice`, `bob`)"),
        "{}",
        out.stderr
    );
    let blank = approve(&p, "alice", &hash, " \u{200b} ");
    assert_exit(&blank, 3);
    assert!(
        blank.stderr.contains("--reason shows nothing"),
        "{}",
        blank.stderr
    );
    let missing = as_actor(
        &p,
        "alice",
        &[
            "migrate",
            "approve",
            "--env",
            "staging",
            "--plan-hash",
            &hash,
        ],
    );
    assert_exit(&missing, 2);
    assert!(missing.stderr.contains("--reason"), "{}", missing.stderr);
    assert_exit(&apply(&p, "carol"), 3);
    assert!(applied(&p).is_empty());

    assert_exit(&approve(&p, "bob", &hash, "fine"), 0);
    assert_exit(&apply(&p, "carol"), 0);
}

#[test]
fn an_approval_written_into_the_log_by_hand_does_not_count() {
    let p = Project::new("approvals = 1");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let (_, plan0) = plan(&p, "carol");
    let hash = plan0["hash"].as_str().unwrap().to_string();
    // carol's own approval creates the log; it does not count for her apply.
    assert_exit(&approve(&p, "carol", &hash, "mine"), 0);
    assert_exit(&apply(&p, "carol"), 3);
    // A forged approval by bob, chained onto the last event by hand.
    p.query(&format!(
        "INSERT INTO stagegate.events (id, at, kind, version, name, checksum, db_user, \
         os_user, detail, prev_hash, hash) OVERRIDING SYSTEM VALUE \
         SELECT id + 1, now(), 'approval', NULL, NULL, NULL, current_user, 'bob', \
         '{{\"environment\":\"staging\",\"plan_hash\":\"{hash}\",\"approver\":\"bob\",\
         \"reason\":\"forged\"}}', hash, 'sha256:' || repeat('ab', 32) \
         FROM stagegate.events ORDER BY id DESC LIMIT 1"
    ));
    let out = apply(&p, "carol");
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("state gate") && out.stderr.contains("approvals gate"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("no approval in it can be trusted"),
        "{}",
        out.stderr
    );
    let (code, plan1) = plan(&p, "carol");
    assert_eq!(code, 3);
    assert_eq!(approvals_gate(&plan1).0, "refuse");
    assert!(applied(&p).is_empty());
}

/// An approval by someone `approvers` no longer lists is named and not counted, and the ones
/// still open are the listed approvers who have not approved, the one applying left out.
/// (Mutants in deploy/approvals.rs `gate`: the open list's `&&` made `||` or its `!=` made
/// `==`; the outsiders' filter `==` made `!=`, or `!outsiders.is_empty()` with the `!`
/// deleted.)
#[test]
fn an_approval_by_someone_no_longer_an_approver_is_named_and_not_counted() {
    let p = Project::new("approvals = 2");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let (_, plan0) = plan(&p, "carol");
    let hash = plan0["hash"].as_str().unwrap().to_string();
    assert_exit(&approve(&p, "dave", &hash, "looked fine"), 0);
    assert_exit(&approve(&p, "alice", &hash, "reviewed"), 0);
    // dave is taken off the list after approving.
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "approvals = 2",
            "approvals = 2\napprovers = [\"alice\", \"bob\", \"carol\"]",
        ),
    )
    .unwrap();
    let (code, plan1) = plan(&p, "carol");
    assert_eq!(code, 3);
    assert_eq!(
        plan1["hash"],
        hash.as_str(),
        "the list is not part of the plan"
    );
    let (status, detail) = approvals_gate(&plan1);
    assert_eq!(status, "refuse");
    assert!(
        detail.contains(
            "1 of 2 gathered for this plan (`alice`); 1 more needed from someone other than \
             `carol` (who applies), among `bob`; not in `approvers`, so not counted: `dave`; \
             approve with"
        ),
        "{detail}"
    );
    let counts: Vec<(&str, &str)> = plan1["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["approver"].as_str().unwrap(),
                a["counts"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("dave", "not-an-approver"), ("alice", "counted")]);
    let out = apply(&p, "carol");
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("not in `approvers`, so not counted: `dave`"),
        "{}",
        out.stderr
    );
    assert!(applied(&p).is_empty());
    assert_exit(&approve(&p, "bob", &hash, "DBA sign-off"), 0);
    assert_exit(&apply(&p, "carol"), 0);
    assert_eq!(applied(&p), ["1"]);
}

/// The test database's URL with a password in it (the server ignores it under trust
/// authentication), and that password.
fn url_with_password(p: &Project) -> (String, String) {
    let url = p.db.database_url().expose().to_string();
    let start = url.find("://").unwrap() + 3;
    let at = url[start..].find('@').map(|i| start + i);
    match at {
        Some(at) => match url[start..at].split_once(':') {
            Some((_, password)) => (url.clone(), password.to_string()),
            None => (
                format!("{}:sg-secret-0451{}", &url[..at], &url[at..]),
                "sg-secret-0451".to_string(),
            ),
        },
        None => (
            format!("{}postgres:sg-secret-0451@{}", &url[..start], &url[start..]),
            "sg-secret-0451".to_string(),
        ),
    }
}

#[test]
fn after_apply_runs_with_the_release_in_its_environment_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("env.txt");
    let p = Project::new(&format!(
        "after_apply = {{ run = \"env > '{}'; echo checked\", timeout = \"30s\" }}",
        seen.display()
    ));
    let (url, password) = url_with_password(&p);
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    let run = |args: &[&str]| {
        let out = crate::support::harness::run_output(
            p.command()
                .env("SG_TEST_TARGET_URL", &url)
                .env("PGPASSWORD", &password)
                .args(args),
            "stagegate",
        );
        Output::from(out)
    };
    let out = run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("after_apply: passed after 1 attempt(s)")
            && out.stdout.contains("| checked"),
        "{}",
        out.stdout
    );
    let env = std::fs::read_to_string(&seen).unwrap();
    let head = p
        .scalar("SELECT hash FROM stagegate.events WHERE kind = 'apply' ORDER BY id DESC LIMIT 1")
        .unwrap();
    for line in [
        "STAGEGATE_ENV=staging",
        "STAGEGATE_ACTION=apply",
        "STAGEGATE_VERSIONS=1 2",
        "STAGEGATE_ATTEMPT=1",
        &format!("STAGEGATE_EVENT_HEAD={head}"),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} not in:\n{env}");
    }
    assert!(
        !env.contains(&password),
        "the password reached the command:\n{env}"
    );
    assert!(!env.contains("SG_TEST_TARGET_URL"), "{env}");
    assert!(!env.lines().any(|l| l.starts_with("PG")), "{env}");

    let recorded = events(&p, "after_apply");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["status"], "passed");
    assert_eq!(recorded[0]["exit_code"], 0);
    assert_eq!(recorded[0]["attempts"], 1);
    assert_eq!(recorded[0]["versions"], serde_json::json!(["1", "2"]));
    assert_eq!(recorded[0]["head_before"], head.as_str());
    assert!(
        recorded[0]["output_tail"]
            .as_str()
            .unwrap()
            .ends_with("checked\n")
    );
    assert!(recorded[0]["duration_ms"].is_u64());

    // Nothing applied: nothing run.
    std::fs::remove_file(&seen).unwrap();
    let out = run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert!(!seen.exists());
    assert_eq!(events(&p, "after_apply").len(), 1);
    assert_exit(&run(&["audit", "--env", "staging", "--verify"]), 0);
}

#[test]
fn a_failing_after_apply_exits_5_names_the_way_back_and_rolls_nothing_back() {
    let p = Project::new(
        "confirm = true\n\
         after_apply = { run = \"echo \\\"unhealthy $STAGEGATE_ATTEMPT\\\"; printf '\\\\033[2Jgone'; exit 7\", \
         retries = 1, interval = \"100ms\" }",
    );
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "DROP TABLE a;\n");
    let out = p.run(&[
        "migrate",
        "apply",
        "--env",
        "staging",
        "--confirm",
        "staging",
        "--reason",
        "release",
    ]);
    assert_exit(&out, 5);
    assert!(
        out.stderr.contains(
            "stagegate migrate down --env staging --steps 1 --confirm staging --reason \"...\""
        ) && out.stderr.contains("stay applied, nothing was rolled back"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("after_apply: FAILED (exit 7) after 2 attempt(s)")
            && out.stdout.contains("unhealthy 2"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains('\u{1b}'),
        "escape codes printed raw: {}",
        out.stdout
    );
    assert_eq!(applied(&p), ["1"]);
    let recorded = events(&p, "after_apply");
    assert_eq!(recorded[0]["status"], "failed");
    assert_eq!(recorded[0]["exit_code"], 7);
    assert_eq!(recorded[0]["attempts"], 2);
    // Both attempts and the 100 ms wait between them. (Mutants in deploy/after.rs
    // `attempts`: the duration of the last attempt alone, 0, recorded; the wait's end `+`
    // made `-`, or its `<` made `==` or `>`: no wait.)
    assert!(
        recorded[0]["duration_ms"].as_u64().unwrap() >= 100,
        "{}",
        recorded[0]
    );
    assert!(
        recorded[0]["output_tail"]
            .as_str()
            .unwrap()
            .contains("unhealthy 2"),
        "{}",
        recorded[0]
    );
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_timed_out_after_apply_has_its_process_group_killed_and_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let p = Project::new(&format!(
        "after_apply = {{ run = \"sleep 300 & echo $! > '{}'; echo waiting; sleep 300\", \
         timeout = \"1s\" }}",
        pidfile.display()
    ));
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = p.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 5);
    assert!(out.stdout.contains("TIMED OUT"), "{}", out.stdout);
    assert!(out.stderr.contains("--steps 1"), "{}", out.stderr);
    let recorded = events(&p, "after_apply");
    assert_eq!(recorded[0]["status"], "timed-out");
    // Killed by stagegate at the timeout, so neither its exit code nor the signal is the
    // command's. (Mutant: `status == Status::TimedOut` made `!=` for the signal.)
    assert_eq!(recorded[0]["exit_code"], serde_json::Value::Null);
    assert_eq!(recorded[0]["signal"], serde_json::Value::Null);
    assert!(
        recorded[0]["output_tail"]
            .as_str()
            .unwrap()
            .contains("waiting")
    );
    // The background sleep was in the group: killed with it (SIGKILL is delivered at once;
    // the kernel may take a moment to end it).
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ended(&pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(ended(&pid), "process {pid} of the group still runs");
    assert_eq!(applied(&p), ["1"]);
}

#[test]
fn after_down_runs_after_a_down_and_its_failure_exits_5() {
    let p = Project::new("after_down = { run = \"echo down-check; exit 1\" }");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "DROP TABLE a;\n");
    assert_exit(&p.apply(), 0);
    assert!(
        events(&p, "after_apply").is_empty(),
        "after_down is not after_apply"
    );
    let out = p.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 5);
    assert!(out.stderr.contains("stay reverted"), "{}", out.stderr);
    assert!(applied(&p).is_empty());
    let recorded = events(&p, "after_down");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["action"], "down");
    assert_eq!(recorded[0]["status"], "failed");
    assert_eq!(recorded[0]["versions"], serde_json::json!(["1"]));
    assert!(
        recorded[0]["output_tail"]
            .as_str()
            .unwrap()
            .contains("down-check")
    );
}

#[test]
fn sigterm_during_after_apply_kills_its_process_group_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let p = Project::new(&format!(
        "after_apply = {{ run = \"sleep 300 & echo $! > '{0}.tmp'; mv '{0}.tmp' '{0}'; sleep 300\", \
         timeout = \"5min\" }}",
        pidfile.display()
    ));
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let child = p
        .child(&["migrate", "apply", "--env", "staging"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + crate::support::harness::DEADLINE;
    while !pidfile.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(pidfile.exists(), "the after_apply command never started");
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = crate::support::project::finish(child, "stagegate migrate apply");
    assert_exit(&out, 5);
    assert!(out.stdout.contains("INTERRUPTED"), "{}", out.stdout);
    let recorded = events(&p, "after_apply");
    assert_eq!(recorded[0]["status"], "interrupted");
    // The command's shell ended by the SIGKILL sent to its group. (Mutant:
    // `status == Status::TimedOut` made `!=` for the signal, which drops it.)
    assert_eq!(recorded[0]["signal"], libc::SIGKILL, "{}", recorded[0]);
    let background = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ended(&background) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        ended(&background),
        "process {background} of the group still runs"
    );
    assert_eq!(applied(&p), ["1"]);
}

/// A SIGTERM in the wait between two attempts ends the retries at once: the outcome is
/// `interrupted`, after the attempts made, with the time waited in the duration. (Mutants in
/// deploy/after.rs `attempts`, the interrupted wait's `Ended`: its `status`, `attempts` or
/// `duration_ms` field deleted, which records the last attempt's `failed`, 1 attempt or its
/// own duration instead.)
#[test]
fn sigterm_in_the_wait_between_after_apply_attempts_records_the_attempts_made() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("attempts");
    let p = Project::new(&format!(
        "after_apply = {{ run = \"echo $STAGEGATE_ATTEMPT >> '{}'; exit 1\", retries = 3, \
         interval = \"10s\" }}",
        marks.display()
    ));
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let child = p
        .child(&["migrate", "apply", "--env", "staging"])
        .spawn()
        .unwrap();
    // The second attempt has failed (its mark is written as it ends), and a second later
    // stagegate is in the second 10 s wait.
    let attempts = || std::fs::read_to_string(&marks).unwrap_or_default();
    let deadline = std::time::Instant::now() + crate::support::harness::DEADLINE;
    while attempts() != "1\n2\n" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(attempts(), "1\n2\n", "the second attempt never ended");
    std::thread::sleep(std::time::Duration::from_secs(1));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = crate::support::project::finish(child, "stagegate migrate apply");
    assert_exit(&out, 5);
    assert_eq!(attempts(), "1\n2\n", "a third attempt ran");
    let recorded = events(&p, "after_apply");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["status"], "interrupted", "{}", recorded[0]);
    assert_eq!(recorded[0]["attempts"], 2, "{}", recorded[0]);
    assert_eq!(recorded[0]["exit_code"], 1, "{}", recorded[0]);
    // The first wait, 10 s, was spent in full.
    assert!(
        recorded[0]["duration_ms"].as_u64().unwrap() >= 10_000,
        "{}",
        recorded[0]
    );
    assert_eq!(applied(&p), ["1"]);
}

/// A command's long output is kept by its last 4,096 bytes, from the first whole character:
/// a cut inside a two-byte `é` starts the tail at the next one. (Mutants in deploy/after.rs
/// `read_tail`: the character-boundary test's `!` deleted, which starts the tail with half a
/// character; `read_tail` returning nothing or another text.)
#[test]
fn after_apply_keeps_the_last_4096_bytes_of_long_output_from_a_whole_character() {
    // "start", 5,000 `é` (two bytes each, written as octal escapes) and "end": 10,008 bytes,
    // the last 4,096 of which begin with the second byte of an `é`.
    let p = Project::new(
        "after_apply = { run = \"printf start; i=0; while [ $i -lt 5000 ]; do printf '\\\\303\\\\251'; \
         i=$((i+1)); done; printf end\" }",
    );
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&p.run(&["migrate", "apply", "--env", "staging"]), 0);
    let recorded = events(&p, "after_apply");
    assert_eq!(recorded[0]["status"], "passed", "{}", recorded[0]);
    let tail = recorded[0]["output_tail"].as_str().unwrap();
    assert_eq!(tail, format!("{}end", "é".repeat(2046)));
}

/// `audit`'s table names the approver (not the OS user who ran `migrate approve`) of an
/// approval and shows a line for an approval and an after_apply check in place of their JSON
/// (`--format json` has it whole). (The mutants: audit.rs `summary` returning any fixed pair,
/// or its approval or after_apply arm deleted.)
#[test]
fn audit_shows_the_approver_and_a_line_for_an_approval_and_an_after_apply_check() {
    let p = Project::new("approvals = 1\nafter_apply = { run = \"echo healthy\" }");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let (_, plan0) = plan(&p, "carol");
    let hash = plan0["hash"].as_str().unwrap().to_string();
    assert_exit(&approve(&p, "alice", &hash, "reviewed"), 0);
    assert_exit(&apply(&p, "carol"), 0);
    // The approval's OS user is whoever runs the tests: not `alice`, or the test proves nothing.
    let os_user =
        p.scalar("SELECT coalesce(os_user, db_user) FROM stagegate.events WHERE kind = 'approval'");
    assert_ne!(os_user.as_deref(), Some("alice"));

    let audit = p.run(&["audit", "--env", "staging"]);
    assert_exit(&audit, 0);
    // The body rows' cells (id, at, kind, migration, who, detail), cut to 80 columns.
    let rows: Vec<Vec<&str>> = audit
        .stdout
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.trim_matches('│').split('│').map(str::trim).collect())
        .collect();
    let row = |kind: &str| {
        rows.iter()
            .find(|r| r.get(2) == Some(&kind))
            .unwrap_or_else(|| panic!("no {kind} row:\n{}", audit.stdout))
    };
    let approval = row("approval");
    assert_eq!(approval[4], "alice", "{}", audit.stdout);
    assert!(
        approval[5].starts_with("approved plan "),
        "{}",
        audit.stdout
    );
    let after = row("after_apply");
    assert!(
        after[5].starts_with("passed (exit 0), "),
        "{}",
        audit.stdout
    );
    // Every other event is left as recorded: the apply's who is its OS user.
    assert_ne!(row("apply")[4], "alice", "{}", audit.stdout);
}
