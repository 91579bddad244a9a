//! `stagegate lint`'s outputs, byte for byte: every format on the fixtures, the real projects'
//! migrations of `bench/corpus` and the generated migrations of `bench/gen-migrations.py`
//! must give exactly the stdout, stderr and exit code they gave when
//! `tests/it/lint_outputs.sha256` was recorded (before lint was made faster: issue 26), so
//! that work on speed changes no finding, message, position or order.
//!
//! The file holds SHA-256 digests, not the outputs (about 10 MB). A run whose outputs differ
//! writes them to `target/lint-outputs/`, to compare with the same run of an earlier commit.
//! Where a change is meant to change the outputs, `STAGEGATE_RECORD_LINT_OUTPUTS=1` records
//! the new digests (the diff of the file then shows which outputs changed).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

use crate::support::tools::{root, target_dir, tool};

const FORMATS: &[&str] = &["text", "json", "sarif", "github", "markdown", "gitlab"];
const RECORDED: &str = "tests/it/lint_outputs.sha256";
/// Generated migrations linted: enough to hold every shape of the generator many times.
const GENERATED: usize = 600;

/// One run: what it is called in the file, its directory and arguments.
struct Run {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
}

fn runs(generated: &Path) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut sets: Vec<String> = vec![
        "fixtures/safe".into(),
        "fixtures/unsafe".into(),
        "fixtures/real-world-like".into(),
        "bench/corpus/crates-io/migrations".into(),
        "bench/corpus/concourse/migrations".into(),
    ];
    for parent in [
        "fixtures/layouts",
        "fixtures/layouts/bad",
        "fixtures/reversible",
    ] {
        let mut dirs: Vec<String> = std::fs::read_dir(root().join(parent))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_dir() && e.file_name() != "bad")
            .map(|e| format!("{parent}/{}", e.file_name().to_str().unwrap()))
            .collect();
        dirs.sort();
        sets.extend(dirs);
    }
    for set in sets {
        for format in FORMATS {
            runs.push(Run {
                name: format!("{set} {format}"),
                dir: root().to_path_buf(),
                args: vec![set.clone(), "--format".into(), (*format).into()],
            });
        }
    }
    // Files named one by one, rather than a directory.
    let mut files: Vec<String> = std::fs::read_dir(root().join("fixtures/unsafe"))
        .unwrap()
        .map(|e| {
            format!(
                "fixtures/unsafe/{}",
                e.unwrap().file_name().to_str().unwrap()
            )
        })
        .filter(|f| f.ends_with(".sql"))
        .collect();
    files.sort();
    runs.push(Run {
        name: "fixtures/unsafe/*.sql text".into(),
        dir: root().to_path_buf(),
        args: files,
    });
    for format in FORMATS {
        runs.push(Run {
            name: format!("generated {format}"),
            dir: generated.to_path_buf(),
            args: vec!["migrations".into(), "--format".into(), (*format).into()],
        });
    }
    for (name, extra) in [
        ("generated text --jobs 1", &["--jobs", "1"][..]),
        (
            "generated text --postgres-version 10",
            &["--postgres-version", "10"],
        ),
        (
            "fixtures/unsafe text --postgres-version 9",
            &["--postgres-version", "9"],
        ),
    ] {
        let generated_run = name.starts_with("generated");
        let mut args = vec![
            if generated_run {
                "migrations"
            } else {
                "fixtures/unsafe"
            }
            .to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        runs.push(Run {
            name: name.into(),
            dir: if generated_run {
                generated.to_path_buf()
            } else {
                root().to_path_buf()
            },
            args,
        });
    }
    runs
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[test]
fn lint_outputs_are_byte_identical_to_the_recorded_ones() {
    let generated = tempfile::tempdir().unwrap();
    let migrations = generated.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    let status = tool("python")
        .arg(root().join("bench/gen-migrations.py"))
        .arg(GENERATED.to_string())
        .arg(&migrations)
        .status()
        .unwrap();
    assert!(status.success(), "bench/gen-migrations.py failed");

    let saved = target_dir().join("lint-outputs");
    let _ = std::fs::remove_dir_all(&saved);
    let mut lines = String::new();
    for run in runs(generated.path()) {
        let output = Command::cargo_bin("stagegate")
            .unwrap()
            .current_dir(&run.dir)
            .env_remove("STAGEGATE_CONFIG")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env("NO_COLOR", "1")
            .arg("lint")
            .args(&run.args)
            .output()
            .unwrap();
        let code = output.status.code().unwrap_or(-1);
        assert!(code <= 2, "{}: exit {code}", run.name);
        writeln!(
            lines,
            "{} {} {code} {}",
            sha256(&output.stdout),
            sha256(&output.stderr),
            run.name
        )
        .unwrap();
        let file = run.name.replace(['/', ' ', '*'], "_");
        std::fs::create_dir_all(&saved).unwrap();
        std::fs::write(saved.join(format!("{file}.stdout")), &output.stdout).unwrap();
        std::fs::write(saved.join(format!("{file}.stderr")), &output.stderr).unwrap();
    }
    let path = root().join(RECORDED);
    if std::env::var_os("STAGEGATE_RECORD_LINT_OUTPUTS").is_some() {
        std::fs::write(&path, &lines).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap();
    let differ: Vec<&str> = lines
        .lines()
        .zip(recorded.lines())
        .filter(|(now, then)| now != then)
        .map(|(now, _)| now.splitn(4, ' ').nth(3).unwrap_or(now))
        .collect();
    assert!(
        differ.is_empty() && lines.lines().count() == recorded.lines().count(),
        "outputs differ from {RECORDED} for: {differ:?} ({} runs now, {} recorded); \
         this run's outputs are in {}",
        lines.lines().count(),
        recorded.lines().count(),
        saved.display()
    );
}
