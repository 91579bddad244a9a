//! Every environment variable stagegate itself reads, declared once.
//!
//! Variables named inside `stagegate.toml` with `${VAR}` are the user's own and are not listed.

/// Path to the configuration file, like `--config`.
pub const STAGEGATE_CONFIG: &str = "STAGEGATE_CONFIG";

/// The scratch server (where stagegate creates a database of its own) of every command that
/// uses one, when `--scratch` names none; it never turns `--scratch` on by itself.
pub const STAGEGATE_SCRATCH_URL: &str = "STAGEGATE_SCRATCH_URL";

/// The former name of [`STAGEGATE_SCRATCH_URL`], still read; both set to different values is
/// an error.
pub const STAGEGATE_SHADOW_URL: &str = "STAGEGATE_SHADOW_URL";

/// Disables colour when set to any non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// Forces colour when set to a non-empty value other than `0`.
pub const CLICOLOR_FORCE: &str = "CLICOLOR_FORCE";

/// Server the test suite creates its scratch databases on.
pub const STAGEGATE_TEST_DATABASE_URL: &str = "STAGEGATE_TEST_DATABASE_URL";

/// Chromium (or Chrome) binary the test suite renders the HTML report with; default: the first
/// of `chromium`, `chromium-browser`, `google-chrome` on `PATH`.
pub const STAGEGATE_CHROMIUM: &str = "STAGEGATE_CHROMIUM";

/// Virtual environment with the Python tools the test suite uses (maturin, check-jsonschema,
/// shellcheck), made by `scripts/test-deps.sh`; default `target/test-venv`.
pub const STAGEGATE_TEST_VENV: &str = "STAGEGATE_TEST_VENV";

/// How long `migrate apply` and `migrate resolve` wait for another run's lock on the database,
/// as a duration (`30s`, `2min`); default 30 seconds.
pub const STAGEGATE_LOCK_WAIT: &str = "STAGEGATE_LOCK_WAIT";

/// The operating-system user, recorded with each applied migration and event (first of these
/// that is set).
pub const USER: &str = "USER";
pub const LOGNAME: &str = "LOGNAME";
pub const USERNAME: &str = "USERNAME";

/// Host name, where the system does not say (recorded with confirmations).
pub const HOSTNAME: &str = "HOSTNAME";

/// GitHub Actions: set to `true` in a workflow run, with the run's context beside it.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
pub const GITHUB_ACTOR: &str = "GITHUB_ACTOR";
pub const GITHUB_SHA: &str = "GITHUB_SHA";
pub const GITHUB_WORKFLOW: &str = "GITHUB_WORKFLOW";

/// GitLab CI: set to `true` in a pipeline job, with the job's context beside it.
pub const GITLAB_CI: &str = "GITLAB_CI";
pub const CI_PROJECT_PATH: &str = "CI_PROJECT_PATH";
pub const CI_PIPELINE_ID: &str = "CI_PIPELINE_ID";
pub const CI_JOB_ID: &str = "CI_JOB_ID";
pub const GITLAB_USER_LOGIN: &str = "GITLAB_USER_LOGIN";
pub const CI_COMMIT_SHA: &str = "CI_COMMIT_SHA";

/// Set by stagegate for the `after_apply` / `after_down` command (read by it, not by
/// stagegate): the environment's name.
pub const STAGEGATE_ENV: &str = "STAGEGATE_ENV";
/// For that command: `apply` or `down`.
pub const STAGEGATE_ACTION: &str = "STAGEGATE_ACTION";
/// For that command: the versions the run applied (or reverted), in order, space-separated.
pub const STAGEGATE_VERSIONS: &str = "STAGEGATE_VERSIONS";
/// For that command: the hash of the event log's newest event after the run.
pub const STAGEGATE_EVENT_HEAD: &str = "STAGEGATE_EVENT_HEAD";
/// For that command: which attempt this is, from 1.
pub const STAGEGATE_ATTEMPT: &str = "STAGEGATE_ATTEMPT";
