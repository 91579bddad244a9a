//! The files that ship stagegate, checked without GitHub or Docker: action.yml and the
//! workflows against the published schemas of GitHub Actions and against each other (the
//! release builds every target the install script and the Dockerfile expect), the Dockerfile's
//! pinned base image and PostgreSQL major, and the shell scripts with shellcheck.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::tools::{self, root};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// check-jsonschema with one of its own copies of a published schema.
fn schema_check(schema: &str, files: &[PathBuf]) -> std::process::Output {
    tools::tool("check-jsonschema")
        .args(["--builtin-schema", schema])
        .args(files)
        .output()
        .unwrap()
}

fn workflows() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        ".github/workflows",
        "examples/github-actions",
        "examples/alembic/.github/workflows",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    files
}

#[test]
fn action_and_workflows_follow_the_schemas_of_github_actions() {
    let action = schema_check("vendor.github-actions", &[root().join("action.yml")]);
    assert!(
        action.status.success(),
        "{}{}",
        String::from_utf8_lossy(&action.stdout),
        String::from_utf8_lossy(&action.stderr)
    );
    let workflows = schema_check("vendor.github-workflows", &workflows());
    assert!(
        workflows.status.success(),
        "{}{}",
        String::from_utf8_lossy(&workflows.stdout),
        String::from_utf8_lossy(&workflows.stderr)
    );

    // The check does catch a broken action: a composite run step without its shell.
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let broken = text.replacen("      shell: bash\n", "", 1);
    assert_ne!(broken, text);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("action.yml");
    std::fs::write(&path, broken).unwrap();
    assert!(
        !schema_check("vendor.github-actions", &[path])
            .status
            .success()
    );
}

/// Every string in a JSON value, depth first.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The names after `prefix` (`inputs.`, `steps.`) in expressions of `texts`.
fn references(texts: &[String], prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn the_action_declares_what_it_uses_and_keeps_inputs_out_of_its_scripts() {
    let action = tools::yaml(&root().join("action.yml"));
    assert_eq!(action["runs"]["using"], "composite");
    let declared: BTreeSet<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut texts = Vec::new();
    strings(&action["runs"], &mut texts);
    strings(&action["outputs"], &mut texts);
    let used = references(&texts, "inputs.");
    assert_eq!(used, declared, "inputs used by the steps / declared");

    // The version installed by default is this one: a release cannot ship an action that
    // installs the one before.
    assert_eq!(action["inputs"]["version"]["default"], VERSION);

    let steps = action["runs"]["steps"].as_array().unwrap();
    let ids: BTreeSet<String> = steps
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    let referenced = references(&texts, "steps.");
    assert!(referenced.is_subset(&ids), "{referenced:?} / {ids:?}");

    for step in steps {
        if let Some(uses) = step["uses"].as_str() {
            pinned(uses);
        }
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        assert_eq!(step["shell"], "bash", "{step}");
        // Inputs reach a script through its environment, never spliced into its text.
        assert!(!script.contains("${{"), "{script}");
        // The scripts it runs exist, and read every STAGEGATE_ variable the step sets.
        let mut scripts = Vec::new();
        for word in script.split(|c: char| c.is_whitespace() || c == '"') {
            if let Some(relative) = word.strip_prefix("$GITHUB_ACTION_PATH/") {
                let path = root().join(relative);
                assert!(path.is_file(), "{}", path.display());
                scripts.push(std::fs::read_to_string(path).unwrap());
            }
        }
        assert!(!scripts.is_empty(), "{script}");
        for name in step["env"].as_object().into_iter().flatten().map(|e| e.0) {
            if name.starts_with("STAGEGATE_") && name != "STAGEGATE_BIN" {
                assert!(
                    scripts.iter().any(|s| s.contains(name.as_str())),
                    "{name} is set for {script} but not read"
                );
            }
        }
    }
}

/// A third-party action at a release tag (or a commit), never a moving branch.
#[track_caller]
fn pinned(uses: &str) {
    if uses.starts_with("./") {
        return;
    }
    let (_, reference) = uses
        .split_once('@')
        .unwrap_or_else(|| panic!("{uses}: no @ref"));
    let tag = reference.strip_prefix('v').is_some_and(|v| {
        !v.is_empty()
            && v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let commit = reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit());
    // PyPA publishes its upload action on release branches only.
    let pypa = uses == "pypa/gh-action-pypi-publish@release/v1";
    assert!(tag || commit || pypa, "{uses} is not pinned to a release");
}

/// Rust target triples (`<arch>-unknown-linux-musl`, `<arch>-apple-darwin`, ...) in `text`.
fn triples(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| {
            (w.contains("-unknown-linux-") || w.ends_with("-apple-darwin")) && !w.starts_with('-')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_release_builds_what_the_action_and_the_dockerfile_take() {
    let release = tools::yaml(&root().join(".github/workflows/release.yml"));
    assert!(
        release["on"]["push"]["tags"].is_array(),
        "{}",
        release["on"]
    );
    let built: BTreeSet<String> = release["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["target"].as_str().unwrap().to_string())
        .collect();
    let mut texts = Vec::new();
    strings(&release["jobs"], &mut texts);
    for uses in texts.iter().filter(|t| t.contains('@') && t.contains('/')) {
        if !uses.contains(' ') && !uses.contains('$') {
            pinned(uses);
        }
    }

    // The install script accepts exactly the release's targets.
    let install = std::fs::read_to_string(root().join("scripts/install-release.sh")).unwrap();
    assert_eq!(triples(&install), built, "install-release.sh / release.yml");

    // The image's platforms are release targets, and .dockerignore lets in their binaries.
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let imaged = triples(&dockerfile);
    assert_eq!(
        imaged,
        ["aarch64-unknown-linux-musl", "x86_64-unknown-linux-musl"]
            .map(String::from)
            .into(),
    );
    assert!(imaged.is_subset(&built), "{imaged:?} / {built:?}");
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(patterns.first(), Some(&"*"), "{patterns:?}");
    for triple in &imaged {
        let binary = format!("target/{triple}/dist/stagegate");
        assert!(
            patterns.contains(&format!("!{binary}").as_str()),
            "{patterns:?}"
        );
    }
    assert!(
        dockerfile.contains("/target/$triple/dist/stagegate"),
        "{dockerfile}"
    );
    // What .ci/run builds and checks is the x86_64 binary the Dockerfile takes.
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.contains("--target x86_64-unknown-linux-musl"), "{ci}");
    assert!(
        ci.contains("check-release-binary.sh target/x86_64-unknown-linux-musl/dist/stagegate"),
        "{ci}"
    );
}

#[test]
fn the_examples_use_the_action_of_this_release_instead_of_compiling() {
    for path in workflows()
        .into_iter()
        .filter(|p| p.starts_with(root().join("examples")))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("your-org/stagegate@v{VERSION}")),
            "{}",
            path.display()
        );
        assert!(!text.contains("cargo install"), "{}", path.display());
        assert!(!text.contains("rust-toolchain"), "{}", path.display());
    }
    let gitlab = std::fs::read_to_string(root().join("examples/gitlab-ci/.gitlab-ci.yml")).unwrap();
    assert!(gitlab.contains(&format!("STAGEGATE_VERSION: \"{VERSION}\"")));
    assert!(gitlab.contains("pip install"), "{gitlab}");
    assert!(!gitlab.contains("cargo install"), "{gitlab}");
}

#[test]
fn the_dockerfile_pins_its_base_image_and_one_postgresql_major() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .collect();
    assert!(!froms.is_empty());
    for from in froms {
        let image = from.split_whitespace().nth(1).unwrap();
        let (_, digest) = image
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("{from}: not pinned by digest"));
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{from}"
        );
    }
    // The client package's major is the one the build asserts, and the one README states.
    let package = dockerfile
        .split_whitespace()
        .find(|w| w.starts_with("postgresql") && w.ends_with("-client"))
        .unwrap();
    let major = &package["postgresql".len()..package.len() - "-client".len()];
    assert!(major.parse::<u32>().is_ok(), "{package}");
    for program in ["pg_dump", "pg_restore"] {
        assert!(
            dockerfile.contains(&format!("'^{program} (PostgreSQL) {major}\\.'")),
            "{program}"
        );
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("`{package}`")),
        "README names {package}"
    );
    assert!(
        readme.contains(&format!("PostgreSQL {major}")),
        "README says PostgreSQL {major}"
    );
}

#[test]
fn the_shell_scripts_pass_shellcheck() {
    let mut files: Vec<PathBuf> = vec![root().join(".ci/run")];
    for dir in ["scripts", "bench"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sh") {
                files.push(path);
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("install-release.sh")));
    let output = tools::tool("shellcheck")
        .args(["--severity=warning", "--shell=bash"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
