//! The throwaway scratch cluster (`stagegate::Cluster`), started from the real server
//! binaries: it answers, it leaves nothing behind when dropped, when its start fails, or when
//! the process holding it is interrupted or killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stagegate::{Cluster, ScratchOptions};

use crate::support::harness::{block_on, run_output};
use crate::support::project::{Output, Project, assert_exit};

/// Set in the child process the interruption tests start (this test binary run again).
const CHILD_VAR: &str = "STAGEGATE_TEST_SCRATCH_CHILD";

fn server_version_num(cluster: &Cluster) -> u32 {
    let url = cluster.url("postgres");
    block_on(async move {
        let client = stagegate::connect(&url).await.unwrap();
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .unwrap();
        row.get::<_, i32>(0) as u32
    })
}

/// Whether the process exists and is not a zombie waiting for init to reap it.
fn alive(pid: u32) -> bool {
    let out = Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    !stat.trim().is_empty() && !stat.trim_start().starts_with('Z')
}

/// Waits (bounded) until the process is gone and the directory removed.
fn assert_cleaned_up(pid: u32, dir: &Path, after: &str) {
    let started = Instant::now();
    while alive(pid) || dir.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{after}: postmaster {pid} alive: {}, {} exists: {}",
            alive(pid),
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cluster_answers_with_its_major_version_and_is_gone_after_drop() {
    let cluster = Cluster::start(&ScratchOptions::default()).unwrap();
    let version = server_version_num(&cluster);
    assert_eq!(
        version / 10_000,
        cluster.major(),
        "server_version_num {version}"
    );
    let pid = cluster.pid().expect("a running postmaster has a pid file");
    assert!(alive(pid));
    let dir = cluster.dir().to_path_buf();
    assert!(dir.join("data").join("PG_VERSION").exists());
    drop(cluster);
    // Drop waits for the watchdog: no polling needed.
    assert!(!alive(pid), "postmaster {pid} still running after drop");
    assert!(!dir.exists(), "{} left after drop", dir.display());
}

#[test]
fn the_preferred_major_version_is_chosen_when_installed() {
    let newest = stagegate::find_binaries(&ScratchOptions::default()).unwrap();
    let preferred = stagegate::find_binaries(&ScratchOptions {
        bin_dir: None,
        prefer_major: Some(newest.major),
    })
    .unwrap();
    assert_eq!(preferred.major, newest.major);
    // Not installed: the newest, rather than nothing.
    let fallback = stagegate::find_binaries(&ScratchOptions {
        bin_dir: None,
        prefer_major: Some(8),
    })
    .unwrap();
    assert_eq!(fallback, newest);
}

fn scratch_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("stagegate-scratch-")
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn a_bad_bin_dir_fails_with_its_name_and_leaves_no_directory() {
    let before = scratch_dirs();
    let missing = std::env::temp_dir().join("stagegate-no-such-bin-dir");
    let error = Cluster::start(&ScratchOptions {
        bin_dir: Some(missing.clone()),
        prefer_major: None,
    })
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        format!(
            "[scratch] bin_dir {}: no such directory (it must hold initdb, pg_ctl and postgres; \
             or give --scratch URL)",
            missing.display()
        )
    );
    // A directory with programs that are not PostgreSQL's: initdb runs and fails.
    let fake = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    // Reachable by the unprivileged user the programs run as under root.
    std::fs::set_permissions(fake.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for program in ["initdb", "pg_ctl", "postgres"] {
        let path = fake.path().join(program);
        std::fs::write(
            &path,
            "#!/bin/sh\n[ \"$1\" = --version ] && echo 'postgres (PostgreSQL) 15.0' && exit 0\n\
             echo 'initdb: broken on purpose' >&2; exit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let error = Cluster::start(&ScratchOptions {
        bin_dir: Some(fake.path().to_path_buf()),
        prefer_major: None,
    })
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("scratch cluster: initdb failed (exit status: 1)"),
        "{error}"
    );
    assert!(error.contains("initdb: broken on purpose"), "{error}");
    // Other tests' clusters may come and go meanwhile; none of ours is left.
    let after = scratch_dirs();
    let left: Vec<&PathBuf> = after.iter().filter(|d| !before.contains(d)).collect();
    let started = Instant::now();
    for dir in left {
        // Another test's cluster, or ours going away: ours has no data/PG_VERSION ever.
        while dir.exists() && !dir.join("data").join("PG_VERSION").exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} left by a failed start",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Run only as the child of the interruption tests: starts a cluster, writes its
/// postmaster's pid and its directory to the file `CHILD_VAR` names, and waits to be
/// signalled.
#[test]
#[ignore = "the child process of the interruption tests"]
fn child_holding_a_cluster() {
    let Some(report) = std::env::var_os(CHILD_VAR) else {
        return;
    };
    let cluster = Cluster::start(&ScratchOptions::default()).unwrap();
    let partial = PathBuf::from(&report).with_extension("partial");
    let line = format!("{} {}", cluster.pid().unwrap(), cluster.dir().display());
    std::fs::write(&partial, line).unwrap();
    std::fs::rename(&partial, &report).unwrap();
    std::thread::sleep(Duration::from_secs(120));
    panic!("never signalled");
}

/// Starts the child, waits for its cluster, signals the child, and checks what is left.
fn interrupt_a_process_holding_a_cluster(signal: &str) {
    let reports = tempfile::tempdir().unwrap();
    let report = reports.path().join("cluster");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "scratch::child_holding_a_cluster",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, &report)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let line = loop {
        if let Ok(line) = std::fs::read_to_string(&report) {
            break line;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended before its cluster started: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the child's cluster never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (pid, dir) = line.split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    let dir = PathBuf::from(dir);
    assert!(alive(pid), "the child's postmaster runs");
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit =
        crate::support::harness::wait_status(&mut child, &format!("the child after SIG{signal}"));
    assert!(!exit.success(), "the child ended by SIG{signal}: {exit}");
    assert_cleaned_up(pid, &dir, &format!("after SIG{signal} to its holder"));
}

#[test]
fn a_cluster_is_removed_when_its_process_gets_sigint() {
    interrupt_a_process_holding_a_cluster("INT");
}

#[test]
fn a_cluster_is_removed_when_its_process_gets_sigterm() {
    interrupt_a_process_holding_a_cluster("TERM");
}

#[test]
fn a_cluster_is_removed_when_its_process_gets_sigkill() {
    interrupt_a_process_holding_a_cluster("KILL");
}

#[test]
fn shadow_uses_the_flag_then_the_config_then_a_cluster_of_its_own() {
    use stagegate::Config;
    use stagegate::Printer;
    use stagegate::ScratchServer;

    let printer = Printer::plain();
    let configured = Config::parse(
        "[shadow]\nurl = \"postgres://me@db.example/scratch\"\n",
        Path::new("/project/stagegate.toml"),
    )
    .unwrap();
    let flag = ScratchServer::resolve(&configured, Some("postgres://me@flag/x"), &printer).unwrap();
    assert!(matches!(flag, ScratchServer::Url(_)));
    assert_eq!(flag.url().expose(), "postgres://me@flag/x");
    let from_config = ScratchServer::resolve(&configured, None, &printer).unwrap();
    assert_eq!(
        from_config.url().expose(),
        "postgres://me@db.example/scratch"
    );

    let nothing = Config::defaults(Path::new("/project"));
    let own = ScratchServer::resolve(&nothing, None, &printer).unwrap();
    let ScratchServer::Cluster(cluster) = &own else {
        panic!("expected a cluster of its own, got {own:?}");
    };
    let dir = cluster.dir().to_path_buf();
    assert_eq!(server_version_num(cluster) / 10_000, cluster.major());
    assert_eq!(own.url(), cluster.url("postgres"));
    drop(own);
    assert!(!dir.exists(), "{} left after drop", dir.display());
}

#[test]
fn a_path_taken_for_the_shadow_url_is_named() {
    let config = stagegate::Config::defaults(Path::new("/project"));
    let error = stagegate::ScratchServer::resolve(
        &config,
        Some("migrations/0001_x.up.sql"),
        &stagegate::Printer::plain(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("--scratch migrations/0001_x.up.sql: not a connection string")
            && error.contains("--scratch=URL"),
        "{error}"
    );
}

// The scratch server's names: `--scratch`, `[scratch]` and `STAGEGATE_SCRATCH_URL`, and their
// former spellings `--shadow`, `[shadow]` and `STAGEGATE_SHADOW_URL`, still accepted. Each run
// is `lint --scratch` of a type change whose old type only the scratch database (with the
// earlier migration applied) shows.

/// A project whose second migration widens a column the first one created.
fn widening_project() -> (Project, String) {
    let p = Project::new("");
    p.write("0001_users.sql", "CREATE TABLE users (email char(20));\n");
    p.write(
        "0002_widen.sql",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(30);\n",
    );
    let file = p.migrations().join("0002_widen.sql");
    (p, file.to_str().unwrap().to_string())
}

/// Runs `stagegate ARGS` in `p` with `vars` set and both scratch variables otherwise unset.
fn run_with(p: &Project, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = p.command();
    cmd.env_remove("STAGEGATE_SCRATCH_URL")
        .env_remove("STAGEGATE_SHADOW_URL");
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let output = run_output(cmd.args(args), &format!("stagegate {}", args.join(" ")));
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The lint ran on the scratch database: the old type was read there. (Whether the database is
/// dropped is `lint_catalog::shadow_applies_the_earlier_migrations_and_reads_their_facts`'s.)
fn assert_linted_on_scratch(out: &Output, how: &str) {
    assert_exit(out, 1);
    assert!(
        out.stdout.contains("from char(20) to varchar(30)"),
        "{how}\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

/// Appends `text` to the project's stagegate.toml.
fn append_config(p: &Project, text: &str) {
    let path = p.dir.path().join("stagegate.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(text);
    std::fs::write(path, config).unwrap();
}

#[test]
fn the_scratch_flag_and_its_former_name_shadow_both_name_the_server() {
    let (p, path) = widening_project();
    let url = p.db.database_url();
    for flag in ["--scratch", "--shadow"] {
        let out = run_with(
            &p,
            &[],
            &["lint", "--select", "SG109", flag, url.expose(), &path],
        );
        assert_linted_on_scratch(&out, flag);
    }
    // Both at once is a usage error, not a silent choice.
    let out = run_with(
        &p,
        &[],
        &[
            "lint",
            "--select",
            "SG109",
            "--scratch",
            url.expose(),
            "--shadow",
            url.expose(),
            &path,
        ],
    );
    assert_exit(&out, 2);
    assert!(out.stderr.contains("--scratch"), "{}", out.stderr);
}

#[test]
fn the_scratch_variable_and_its_former_name_both_name_the_server() {
    let (p, path) = widening_project();
    let url = p.db.database_url();
    for var in ["STAGEGATE_SCRATCH_URL", "STAGEGATE_SHADOW_URL"] {
        let out = run_with(
            &p,
            &[(var, url.expose())],
            &["lint", "--select", "SG109", &path, "--scratch"],
        );
        assert_linted_on_scratch(&out, var);
    }
    // Both set to the same URL: no conflict.
    let both = [
        ("STAGEGATE_SCRATCH_URL", url.expose()),
        ("STAGEGATE_SHADOW_URL", url.expose()),
    ];
    let out = run_with(
        &p,
        &both,
        &["lint", "--select", "SG109", &path, "--scratch"],
    );
    assert_linted_on_scratch(&out, "both variables, equal");
    // Set to different URLs: which was meant is not known; nothing is connected to.
    let other = "postgres://nobody@127.0.0.1:1/elsewhere";
    let differ = [
        ("STAGEGATE_SCRATCH_URL", url.expose()),
        ("STAGEGATE_SHADOW_URL", other),
    ];
    let out = run_with(
        &p,
        &differ,
        &["lint", "--select", "SG109", &path, "--scratch"],
    );
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("STAGEGATE_SCRATCH_URL and STAGEGATE_SHADOW_URL are both set and differ"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn the_scratch_table_and_its_former_name_shadow_both_name_the_server() {
    for table in ["scratch", "shadow"] {
        let (p, path) = widening_project();
        append_config(
            &p,
            &format!("\n[{table}]\nurl = \"${{SG_TEST_TARGET_URL}}\"\n"),
        );
        let out = run_with(&p, &[], &["lint", "--select", "SG109", &path, "--scratch"]);
        assert_linted_on_scratch(&out, table);
    }
    // Both tables, different: a configuration error naming both.
    let (p, path) = widening_project();
    append_config(
        &p,
        "\n[scratch]\nurl = \"${SG_TEST_TARGET_URL}\"\n\n[shadow]\nurl = \"postgres://nobody@127.0.0.1:1/x\"\n",
    );
    let out = run_with(&p, &[], &["lint", "--select", "SG109", &path, "--scratch"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("[scratch] and [shadow] are both given and differ")
            && out.stderr.contains("stagegate.toml"),
        "{}",
        out.stderr
    );
}
