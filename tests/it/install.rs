//! The ways to install stagegate without compiling it: the pip wheel (pyproject.toml, built
//! with maturin and installed into a fresh virtual environment), and the release archives that
//! the GitHub Action installs (scripts/install-release.sh, from a release served from disk
//! through file://, checked against its SHA256SUMS), and the Action's command step
//! (scripts/action-run.sh) on a real git repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::tools;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Directories every Linux has, without a Rust toolchain or the tools' environment.
const SYSTEM_PATH: &str = "/usr/bin:/bin";

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `output` exited with `code`; the message shows its streams.
#[track_caller]
fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[test]
fn the_wheel_puts_a_working_stagegate_on_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    // A profile of its own (Cargo.toml: wheel-test, dev-like), so the build never replaces the
    // target/debug/stagegate other tests are running, and is incremental from one run to the
    // next. Without the variables cargo gives a test (CARGO_MANIFEST_DIR, OUT_DIR, ...), which
    // some build scripts watch (ring's): the same build from a shell, `cargo test` or nextest
    // is then reused.
    let mut maturin = tools::tool("maturin");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let from_the_runner = name.starts_with("CARGO")
            || name.starts_with("NEXTEST")
            || name.starts_with("__NEXTEST")
            || name == "OUT_DIR";
        if from_the_runner && name != "CARGO_HOME" {
            maturin.env_remove(name.as_ref());
        }
    }
    let build = run(maturin
        .current_dir(tools::root())
        .env("CARGO_TARGET_DIR", tools::target_dir())
        .args(["build", "--profile", "wheel-test", "--locked", "--out"])
        .arg(&dist));
    assert_code(&build, 0);
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let wheel = &wheels[0];
    let name = wheel.file_name().unwrap().to_string_lossy();
    assert!(
        name.starts_with(&format!("stagegate_cli-{VERSION}-py3-none-")) && name.ends_with(".whl"),
        "{name}"
    );

    // A fresh virtual environment; pip installs the wheel with no Rust toolchain on PATH and
    // no index to fetch a build backend from: nothing is compiled.
    let venv = tmp.path().join("venv");
    assert_code(
        &run(tools::tool("python").arg("-m").arg("venv").arg(&venv)),
        0,
    );
    let install = run(Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--no-index", "--no-deps", "--quiet"])
        .arg(wheel)
        .env("PATH", SYSTEM_PATH)
        .env_remove("CARGO_HOME")
        .env_remove("RUSTUP_HOME")
        .env_remove("CARGO_TARGET_DIR"));
    assert_code(&install, 0);
    assert!(venv.join("bin/stagegate").is_file());

    // `stagegate` found on PATH is the one pip installed.
    let path = format!("{}:{SYSTEM_PATH}", venv.join("bin").display());
    let stagegate = |args: &[&str]| {
        run(Command::new("stagegate")
            .current_dir(tools::root())
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("STAGEGATE_CONFIG")
            .args(args))
    };
    let version = stagegate(&["--version"]);
    assert_code(&version, 0);
    assert_eq!(text(&version.stdout), format!("stagegate {VERSION}\n"));
    assert_code(&stagegate(&["lint", "fixtures/safe"]), 0);
    let unsafe_ = stagegate(&["lint", "fixtures/unsafe"]);
    assert_code(&unsafe_, 1);
    assert!(
        text(&unsafe_.stdout).contains("error[SG101]"),
        "{}",
        text(&unsafe_.stdout)
    );
}

/// A release served from disk: the test binary packed by scripts/package-release.sh as the
/// Linux x86_64 archive, and its SHA256SUMS. The binary is stripped first (as the release's
/// are): a debug build is four times the size, and slow to pack and check.
struct Release {
    dir: tempfile::TempDir,
    archive: PathBuf,
}

const TARGET: &str = "x86_64-unknown-linux-musl";

impl Release {
    fn new() -> Release {
        let dir = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let binary = bin.path().join("stagegate");
        std::fs::copy(env!("CARGO_BIN_EXE_stagegate"), &binary).unwrap();
        let strip = Command::new("strip")
            .arg(&binary)
            .output()
            .unwrap_or_else(|e| panic!("strip (binutils) is needed to pack a release: {e}"));
        assert_code(&strip, 0);
        let pack = run(Command::new("bash")
            .arg(tools::root().join("scripts/package-release.sh"))
            .arg(TARGET)
            .arg(&binary)
            .arg(dir.path()));
        assert_code(&pack, 0);
        let archive = PathBuf::from(text(&pack.stdout).trim_end());
        assert_eq!(
            archive.file_name().unwrap().to_string_lossy(),
            format!("stagegate-{VERSION}-{TARGET}.tar.gz")
        );
        let release = Release { dir, archive };
        release.write_sums(&sha256(&release.archive));
        release
    }

    /// SHA256SUMS with `hash` for the archive, in sha256sum's format, beside another file.
    fn write_sums(&self, hash: &str) {
        let name = self.archive.file_name().unwrap().to_string_lossy();
        std::fs::write(
            self.dir.path().join("SHA256SUMS"),
            format!(
                "{}  stagegate_cli-{VERSION}.tar.gz\n{hash}  {name}\n",
                "0".repeat(64)
            ),
        )
        .unwrap();
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// scripts/install-release.sh of this release into `dir`.
    fn install(&self, dir: &Path) -> Output {
        install_release(&[
            ("STAGEGATE_RELEASE_URL", &self.url()),
            ("STAGEGATE_TARGET", TARGET),
            ("STAGEGATE_DIR", &dir.display().to_string()),
        ])
    }
}

fn install_release(vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(tools::root().join("scripts/install-release.sh"))
        .env("STAGEGATE_VERSION", VERSION)
        .env_remove("STAGEGATE_RELEASE_URL")
        .env_remove("STAGEGATE_SERVER_URL")
        .env_remove("STAGEGATE_DIR")
        .env_remove("STAGEGATE_REPOSITORY")
        .env_remove("STAGEGATE_TARGET")
        .env_remove("GITHUB_ACTION_PATH");
    for (name, value) in vars {
        command.env(name, value);
    }
    run(&mut command)
}

/// The SHA-256 of a file, by coreutils' sha256sum (the release's SHA256SUMS is made with it).
fn sha256(path: &Path) -> String {
    let output = run(Command::new("sha256sum").arg(path));
    assert_code(&output, 0);
    text(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn the_release_binary_installs_after_its_checksum_matches() {
    let release = Release::new();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("stagegate");

    let first = release.install(&dir);
    assert_code(&first, 0);
    let bin = dir.join("bin");
    assert_eq!(text(&first.stdout), format!("{}\n", bin.display()));
    let version = run(Command::new(bin.join("stagegate")).arg("--version"));
    assert_eq!(text(&version.stdout), format!("stagegate {VERSION}\n"));

    // A restored cache is used once it matches the release's SHA256SUMS...
    let cached = release.install(&dir);
    assert_code(&cached, 0);
    assert!(
        text(&cached.stderr).contains("using the checked archive"),
        "{}",
        text(&cached.stderr)
    );
    // ...and a cached archive that does not is replaced by a fresh download.
    let kept = dir.join(release.archive.file_name().unwrap());
    let mut bytes = std::fs::read(&kept).unwrap();
    bytes.push(b'\n');
    std::fs::write(&kept, &bytes).unwrap();
    let replaced = release.install(&dir);
    assert_code(&replaced, 0);
    assert!(!text(&replaced.stderr).contains("using the checked archive"));
    assert_eq!(sha256(&kept), sha256(&release.archive));
}

#[test]
fn a_checksum_mismatch_installs_nothing() {
    let release = Release::new();
    let expected = sha256(&release.archive);
    let home = tempfile::tempdir().unwrap();

    // The archive changed after SHA256SUMS was made.
    let mut bytes = std::fs::read(&release.archive).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&release.archive, &bytes).unwrap();
    let dir = home.path().join("tampered");
    let output = release.install(&dir);
    assert_code(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains(&sha256(&release.archive)), "{stderr}");
    assert_eq!(text(&output.stdout), "");
    assert!(!dir.join("bin").exists());
    assert!(!dir.join(release.archive.file_name().unwrap()).exists());

    // A binary left from an earlier install is removed, not left on PATH.
    let earlier = home.path().join("earlier");
    std::fs::create_dir_all(earlier.join("bin")).unwrap();
    std::fs::write(earlier.join("bin/stagegate"), "#!/bin/sh\n").unwrap();
    assert_code(&release.install(&earlier), 1);
    assert!(!earlier.join("bin").exists());

    // SHA256SUMS without a line for the archive.
    release.write_sums(&sha256(&release.archive));
    let name = release.archive.file_name().unwrap().to_string_lossy();
    let sums = release.dir.path().join("SHA256SUMS");
    let without: String = std::fs::read_to_string(&sums)
        .unwrap()
        .lines()
        .filter(|line| !line.ends_with(name.as_ref()))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&sums, without).unwrap();
    let output = release.install(&home.path().join("unlisted"));
    assert_code(&output, 1);
    assert!(
        text(&output.stderr).contains(&format!("has no line for {name}")),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn the_install_refuses_what_it_cannot_check() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().display().to_string();
    let cases: [(&[(&str, &str)], &str); 5] = [
        // Plain http could be altered on the way, SHA256SUMS with it.
        (
            &[("STAGEGATE_RELEASE_URL", "http://127.0.0.1:9/v0.1.0")],
            "could not download http://127.0.0.1:9/v0.1.0/SHA256SUMS",
        ),
        (
            &[("STAGEGATE_TARGET", "riscv64gc-unknown-linux-gnu")],
            "is not one of the release's targets",
        ),
        (
            &[("STAGEGATE_VERSION", "../../etc")],
            "is not a release version",
        ),
        (
            &[("STAGEGATE_REPOSITORY", "")],
            "no release to download from",
        ),
        (
            &[("STAGEGATE_REPOSITORY", "owner/name/../x")],
            "is not owner/name",
        ),
    ];
    for (vars, message) in cases {
        let mut all = vec![("STAGEGATE_DIR", dir.as_str())];
        all.extend_from_slice(vars);
        let output = install_release(&all);
        assert_code(&output, 1);
        assert!(
            text(&output.stderr).contains(message),
            "{vars:?}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn the_action_installs_from_the_releases_of_its_own_repository() {
    // The runner unpacks an action at _actions/<owner>/<name>/<ref>; its releases are at
    // <server>/<owner>/<name>/releases/download/v<version>.
    let server = tempfile::tempdir().unwrap();
    let release = Release::new();
    let at = server
        .path()
        .join(format!("acme/stagegate/releases/download/v{VERSION}"));
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::rename(release.dir.path(), &at).unwrap();
    let home = tempfile::tempdir().unwrap();
    let output = install_release(&[
        ("STAGEGATE_DIR", &home.path().display().to_string()),
        ("STAGEGATE_TARGET", TARGET),
        (
            "STAGEGATE_SERVER_URL",
            &format!("file://{}", server.path().display()),
        ),
        (
            "GITHUB_ACTION_PATH",
            "/home/runner/work/_actions/acme/stagegate/v0.1.0",
        ),
    ]);
    assert_code(&output, 0);
    assert!(home.path().join("bin/stagegate").is_file());
}

/// A pull request's checkout: `origin` has `main` with one migration creating `orders`; the
/// clone is of the pull request's branch only (no origin/main), which adds an index on it.
fn pull_request() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    std::fs::create_dir_all(origin.join("migrations")).unwrap();
    std::fs::write(
        origin.join("migrations/1_create_orders.up.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint);\n",
    )
    .unwrap();
    crate::support::tools::git(&origin, &["init", "-q"]);
    crate::support::tools::git(&origin, &["add", "."]);
    crate::support::tools::git(&origin, &["commit", "-q", "-m", "orders"]);
    crate::support::tools::git(&origin, &["checkout", "-q", "-b", "pr"]);
    std::fs::write(
        origin.join("migrations/2_index_orders.up.sql"),
        "CREATE INDEX orders_customer ON orders (customer);\n",
    )
    .unwrap();
    crate::support::tools::git(&origin, &["add", "."]);
    crate::support::tools::git(&origin, &["commit", "-q", "-m", "index"]);
    let checkout = tmp.path().join("checkout");
    let url = format!("file://{}", origin.display());
    crate::support::tools::git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--single-branch",
            "--branch",
            "pr",
            &url,
            "checkout",
        ],
    );
    (tmp, checkout)
}

/// scripts/action-run.sh in `dir` as the Action runs it: the test binary on PATH.
fn action_run(dir: &Path, mode: &str, vars: &[(&str, &str)]) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_stagegate")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .arg(tools::root().join("scripts/action-run.sh"))
        .arg(mode)
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("STAGEGATE_CONFIG")
        .env_remove("STAGEGATE_ARGS")
        .env_remove("GITHUB_BASE_REF");
    for (name, value) in vars {
        command.env(name, value);
    }
    run(&mut command)
}

#[test]
fn the_action_lints_what_the_pull_request_changes() {
    let (_tmp, checkout) = pull_request();
    let output = action_run(&checkout, "run", &[("GITHUB_BASE_REF", "main")]);
    // The base branch was fetched, and the index on the released table is an error.
    assert_code(&output, 1);
    assert!(
        text(&output.stderr).contains("fetching origin/main"),
        "{}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("migrations/2_index_orders.up.sql,line=1,"),
        "{stdout}"
    );
    assert!(stdout.starts_with("::error file="), "{stdout}");
    assert!(!stdout.contains("1_create_orders"), "{stdout}");

    // SARIF of the same lint: findings are not a failure of this step.
    let output = action_run(
        &checkout,
        "sarif",
        &[
            ("GITHUB_BASE_REF", "main"),
            ("STAGEGATE_SARIF_FILE", "stagegate.sarif"),
        ],
    );
    assert_code(&output, 0);
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkout.join("stagegate.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "SG101"),
        "{results:?}"
    );

    // Outside a pull request, every migration is linted: the index is still an error.
    let output = action_run(&checkout, "run", &[]);
    assert_code(&output, 1);
    assert!(text(&output.stdout).contains("migrations/2_index_orders.up.sql,line=1,"));
}

#[test]
fn the_action_args_are_split_as_a_shell_would_without_running_their_values() {
    let (tmp, checkout) = pull_request();
    let marker = tmp.path().join("ran");
    // $VAR expands to one word; its value is never run.
    let output = action_run(
        &checkout,
        "run",
        &[
            ("STAGEGATE_ARGS", "rule \"$RULE\""),
            ("RULE", &format!("$(touch {})", marker.display())),
        ],
    );
    assert_code(&output, 2);
    assert!(!marker.exists());
    let output = action_run(
        &checkout,
        "run",
        &[("STAGEGATE_ARGS", "rule \"$RULE\""), ("RULE", "SG101")],
    );
    assert_code(&output, 0);
    assert!(text(&output.stdout).contains("require-concurrent-index-creation"));

    // args with sarif: true is a usage error, not a silent default lint.
    let output = action_run(
        &checkout,
        "sarif",
        &[
            ("STAGEGATE_ARGS", "lint migrations"),
            ("STAGEGATE_SARIF_FILE", "x.sarif"),
        ],
    );
    assert_code(&output, 2);
    assert!(text(&output.stderr).contains("sarif: true goes with the default lint"));
}
