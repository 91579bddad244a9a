//! Every environment variable stagegate itself reads, declared once.
//!
//! Variables named inside `stagegate.toml` with `${VAR}` are the user's own and are not listed.

/// Path to the configuration file, like `--config`.
pub(crate) const STAGEGATE_CONFIG: &str = "STAGEGATE_CONFIG";

/// The scratch server (where stagegate creates a database of its own) of every command that
/// uses one, when `--scratch` names none; it never turns `--scratch` on by itself.
pub(crate) const STAGEGATE_SCRATCH_URL: &str = "STAGEGATE_SCRATCH_URL";

/// The former name of [`STAGEGATE_SCRATCH_URL`], still read; both set to different values is
/// an error.
pub(crate) const STAGEGATE_SHADOW_URL: &str = "STAGEGATE_SHADOW_URL";

/// Disables colour when set to any non-empty value (<https://no-color.org>).
pub(crate) const NO_COLOR: &str = "NO_COLOR";

/// Forces colour when set to a non-empty value other than `0`.
pub(crate) const CLICOLOR_FORCE: &str = "CLICOLOR_FORCE";

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
pub(crate) const STAGEGATE_LOCK_WAIT: &str = "STAGEGATE_LOCK_WAIT";

/// The operating-system user, recorded with each applied migration and event (first of these
/// that is set).
pub(crate) const USER: &str = "USER";
pub(crate) const LOGNAME: &str = "LOGNAME";
pub(crate) const USERNAME: &str = "USERNAME";

/// Host name, where the system does not say (recorded with confirmations).
pub(crate) const HOSTNAME: &str = "HOSTNAME";

/// GitHub Actions: set to `true` in a workflow run, with the run's context beside it.
pub(crate) const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
pub(crate) const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
pub(crate) const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
pub(crate) const GITHUB_ACTOR: &str = "GITHUB_ACTOR";
pub(crate) const GITHUB_SHA: &str = "GITHUB_SHA";
pub(crate) const GITHUB_WORKFLOW: &str = "GITHUB_WORKFLOW";

/// GitLab CI: set to `true` in a pipeline job, with the job's context beside it.
pub(crate) const GITLAB_CI: &str = "GITLAB_CI";
pub(crate) const CI_PROJECT_PATH: &str = "CI_PROJECT_PATH";
pub(crate) const CI_PIPELINE_ID: &str = "CI_PIPELINE_ID";
pub(crate) const CI_JOB_ID: &str = "CI_JOB_ID";
pub(crate) const GITLAB_USER_LOGIN: &str = "GITLAB_USER_LOGIN";
pub(crate) const CI_COMMIT_SHA: &str = "CI_COMMIT_SHA";

/// Set by stagegate for the `after_apply` / `after_down` command (read by it, not by
/// stagegate): the environment's name.
pub(crate) const STAGEGATE_ENV: &str = "STAGEGATE_ENV";
/// For that command: `apply` or `down`.
pub(crate) const STAGEGATE_ACTION: &str = "STAGEGATE_ACTION";
/// For that command: the versions the run applied (or reverted), in order, space-separated.
pub(crate) const STAGEGATE_VERSIONS: &str = "STAGEGATE_VERSIONS";
/// For that command: the hash of the event log's newest event after the run.
pub(crate) const STAGEGATE_EVENT_HEAD: &str = "STAGEGATE_EVENT_HEAD";
/// For that command: which attempt this is, from 1.
pub(crate) const STAGEGATE_ATTEMPT: &str = "STAGEGATE_ATTEMPT";
