//! Real-world check: a history modelled on a package registry's (59 diesel migrations with
//! extensions, functions, triggers, views, enum changes and concurrent indexes) applied from
//! scratch by stagegate gives the same schema as psql running the same files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::harness::TestDb;
use crate::support::project::{Project, query};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/real-world-like")
}

/// `pg_dump --schema-only` of `db` without the stagegate schema and without the per-run
/// `\restrict` key lines.
fn schema(db: &TestDb) -> String {
    let out = Command::new("pg_dump")
        .args([
            "--schema-only",
            "--no-owner",
            "--exclude-schema=stagegate",
            "-d",
        ])
        .arg(db.database_url().expose())
        .output()
        .expect("pg_dump on PATH");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn real_world_history_applies_from_scratch_and_matches_psql() {
    let set = stagegate::discover(&fixture()).unwrap();
    assert_eq!(set.layout.name(), "diesel");
    assert!(set.migrations.len() >= 50, "{}", set.migrations.len());

    // stagegate
    let p = Project::new("lock_timeout = \"5s\"");
    let dir = toml::Value::String(fixture().display().to_string());
    let config = std::fs::read_to_string(p.dir.path().join("stagegate.toml")).unwrap();
    std::fs::write(
        p.dir.path().join("stagegate.toml"),
        format!("[migrations]\ndir = {dir}\n\n{config}"),
    )
    .unwrap();
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("applied {} migration(s)", set.migrations.len())),
        "{}",
        out.stdout
    );
    assert_eq!(
        query(
            &p.db,
            "SELECT count(*)::text, count(*) FILTER (WHERE no_transaction)::text \
             FROM stagegate.migrations WHERE status = 'applied'"
        ),
        [[
            Some(set.migrations.len().to_string()),
            Some("2".to_string())
        ]]
    );

    // psql, file by file: one transaction per file unless the file must run outside one.
    let reference = TestDb::create();
    for migration in &set.migrations {
        let up = migration.load_up().unwrap();
        let mut psql = Command::new("psql");
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-d")
            .arg(reference.database_url().expose());
        if !up.settings.no_transaction {
            psql.arg("-1");
        }
        psql.arg("-f").arg(&up.path);
        if let Some(verify) = migration.load_verify().unwrap() {
            psql.arg("-f").arg(&verify.path);
        }
        let out = psql.output().expect("psql on PATH");
        assert!(
            out.status.success(),
            "psql -f {}: {}",
            up.path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let ours = schema(&p.db);
    let theirs = schema(&reference);
    assert!(ours.contains("CREATE EXTENSION IF NOT EXISTS citext"));
    assert!(ours.contains("'unlock_account'"));
    assert!(ours.contains("CREATE INDEX index_versions_published_by"));
    assert!(!ours.contains("stagegate"), "the state schema is excluded");
    if ours != theirs {
        let first = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "schemas differ from line {first}:\nstagegate: {:?}\npsql:      {:?}",
            ours.lines().nth(first),
            theirs.lines().nth(first)
        );
    }
}
