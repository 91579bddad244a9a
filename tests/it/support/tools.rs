//! Where the repository and its layout fixtures are, git as a fixed test user, and the Python
//! tools the tests use (maturin, check-jsonschema, shellcheck, a YAML parser) from the test
//! virtual environment that `scripts/test-deps.sh` makes with the pinned versions of
//! `scripts/test-requirements.txt`: `$STAGEGATE_TEST_VENV`, else `<target dir>/test-venv`. Without it, or with one made from other requirements, a test
//! fails and says how to make it: it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use stagegate::STAGEGATE_TEST_VENV;

/// The repository's root.
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A layout's fixture: `fixtures/layouts/NAME`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/layouts").join(name)
}

/// Cargo's target directory (the parent of the tests' `CARGO_TARGET_TMPDIR`).
pub(crate) fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// The test virtual environment, checked to be there and up to date.
pub(crate) fn venv() -> PathBuf {
    let venv = std::env::var_os(STAGEGATE_TEST_VENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| target_dir().join("test-venv"), PathBuf::from);
    let how = "Make it with scripts/test-deps.sh (it needs Python 3 with its venv module: \
               on Debian/Ubuntu apt-get install python3-venv, which the script does as root; \
               and PyPI), or point STAGEGATE_TEST_VENV at one made from \
               scripts/test-requirements.txt.";
    assert!(
        venv.join("bin/python").is_file(),
        "\n\nNo test virtual environment at {}.\n{how}\n",
        venv.display()
    );
    let wanted = std::fs::read_to_string(root().join("scripts/test-requirements.txt")).unwrap();
    let made = std::fs::read_to_string(venv.join("requirements.txt")).unwrap_or_default();
    assert!(
        made == wanted,
        "\n\nThe test virtual environment at {} was not made from the current \
         scripts/test-requirements.txt.\n{how}\n",
        venv.display()
    );
    venv
}

/// A program of the test virtual environment (`bin/<name>`).
pub(crate) fn tool(name: &str) -> Command {
    let path = venv().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test-deps.sh",
        path.display()
    );
    Command::new(path)
}

/// A YAML file as JSON, read by a YAML 1.2 parser (in YAML 1.1, which GitHub does not use,
/// a key `on` would be the boolean true).
pub(crate) fn yaml(path: &Path) -> serde_json::Value {
    let output = tool("python")
        .args([
            "-c",
            "import json, sys\n\
             from ruamel.yaml import YAML\n\
             with open(sys.argv[1], encoding='utf-8') as f:\n\
             \x20   json.dump(YAML(typ='safe', pure=True).load(f), sys.stdout)",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} is not valid YAML: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// git in `dir` as a fixed test user; panics, with git's message, when it fails.
pub(crate) fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
