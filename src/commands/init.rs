//! `stagegate init`

use std::path::Path;

use anyhow::Context;

use crate::cli::InitArgs;
use crate::config::CONFIG_FILE;
use crate::exit::Outcome;

/// The commented example configuration, shipped inside the binary.
const EXAMPLE: &str = include_str!("../../stagegate.toml.example");

const GITATTRIBUTES_LINE: &str = "*.sql text eol=lf";

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let report = init(&cwd, args)?;
    super::print_report(&report)?;
    Ok(Outcome::Success)
}

/// Creates stagegate.toml, the migrations directory and .gitattributes under `root`.
pub fn init(root: &Path, args: &InitArgs) -> anyhow::Result<String> {
    let config_path = root.join(CONFIG_FILE);
    if config_path.exists() {
        anyhow::bail!("{} already exists; edit it instead", config_path.display());
    }
    let dir = args.dir.to_string_lossy().replace('\\', "/");
    let config = config_text(&dir, args.layout.name());
    let mut report = String::new();

    std::fs::write(&config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    report.push_str(&format!("created {}\n", config_path.display()));

    let migrations = root.join(&args.dir);
    if !migrations.exists() {
        std::fs::create_dir_all(&migrations)
            .with_context(|| format!("cannot create {}", migrations.display()))?;
        report.push_str(&format!("created {}/\n", migrations.display()));
    }

    let attributes = root.join(".gitattributes");
    let existing = match std::fs::read_to_string(&attributes) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", attributes.display()));
        }
    };
    if !existing
        .lines()
        .any(|line| line.trim() == GITATTRIBUTES_LINE)
    {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(
            "# Migrations are checksummed; keep their line endings stable across platforms.\n",
        );
        text.push_str(GITATTRIBUTES_LINE);
        text.push('\n');
        std::fs::write(&attributes, text)
            .with_context(|| format!("cannot write {}", attributes.display()))?;
        let verb = if existing.is_empty() {
            "created"
        } else {
            "updated"
        };
        report.push_str(&format!("{verb} {}\n", attributes.display()));
    }
    report.push_str("next: set the environment variables named in stagegate.toml, then `stagegate new <name>`\n");
    Ok(report)
}

/// The example configuration with the chosen directory and layout filled in.
fn config_text(dir: &str, layout: &str) -> String {
    EXAMPLE
        .replacen(
            "dir = \"migrations\"",
            &format!("dir = {}", toml_string(dir)),
            1,
        )
        .replacen("# layout = \"sqlx\"", &format!("layout = \"{layout}\""), 1)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::source::Layout;

    #[test]
    fn init_writes_a_config_that_loads() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(".gitattributes"), "*.png binary").unwrap();
        let args = InitArgs {
            layout: Layout::Diesel,
            dir: "db/migrations".into(),
        };
        let report = init(root.path(), &args).unwrap();
        assert!(report.contains("created"), "{report}");
        let config = Config::from_file(&root.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(config.migrations_dir(), root.path().join("db/migrations"));
        assert_eq!(config.migrations.layout, Some(Layout::Diesel));
        assert!(root.path().join("db/migrations").is_dir());
        let attributes = std::fs::read_to_string(root.path().join(".gitattributes")).unwrap();
        assert!(attributes.starts_with("*.png binary\n"), "{attributes}");
        assert!(
            attributes.lines().any(|l| l == GITATTRIBUTES_LINE),
            "{attributes}"
        );
        // A second init refuses instead of overwriting.
        let error = init(root.path(), &args).unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
    }
}
