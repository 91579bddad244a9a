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
