//! Every environment variable stagegate itself reads, declared once.
//!
//! Variables named inside `stagegate.toml` with `${VAR}` are the user's own and are not listed.

/// Path to the configuration file, like `--config`.
pub const STAGEGATE_CONFIG: &str = "STAGEGATE_CONFIG";

/// Scratch database for `report`, `trace` and `check-reversible`, like `--shadow`.
pub const STAGEGATE_SHADOW_URL: &str = "STAGEGATE_SHADOW_URL";

/// Disables colour when set to any non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// Forces colour when set to a non-empty value other than `0`.
pub const CLICOLOR_FORCE: &str = "CLICOLOR_FORCE";

/// Server the test suite creates its scratch databases on.
pub const STAGEGATE_TEST_DATABASE_URL: &str = "STAGEGATE_TEST_DATABASE_URL";

/// How long `migrate apply` and `migrate resolve` wait for another run's lock on the database,
/// as a duration (`30s`, `2min`); default 30 seconds.
pub const STAGEGATE_LOCK_WAIT: &str = "STAGEGATE_LOCK_WAIT";

/// The operating-system user, recorded with each applied migration and event (first of these
/// that is set).
pub const USER: &str = "USER";
pub const LOGNAME: &str = "LOGNAME";
pub const USERNAME: &str = "USERNAME";
