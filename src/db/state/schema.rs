//! The state schema itself: its migrations, its version here, creating and upgrading it.

use sqlx::migrate::Migrator;

use super::error::{StateError, query_error};
use super::store::StateStore;

/// The tool's own migrations, embedded at build time, tracked in [`TRACKING_TABLE`].
fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name(TRACKING_TABLE);
    migrator.create_schema(SCHEMA);
    // Our own advisory lock already serialises runs on a database; sqlx's lock key would be
    // shared with a project's own sqlx migrations.
    migrator.set_locking(false);
    migrator
}

/// Schema holding the state tables.
const SCHEMA: &str = "stagegate";
/// sqlx's tracking table for [`MIGRATOR`], inside [`SCHEMA`].
const TRACKING_TABLE: &str = "stagegate._sqlx_migrations";

/// The newest state schema version this binary knows.
pub fn known_schema_version() -> i64 {
    migrator().iter().map(|m| m.version).max().unwrap_or(0)
}

impl StateStore {
    /// The state schema's version here: `None` when stagegate never ran on this database.
    /// A version newer than this binary knows is refused.
    pub async fn schema_version(&mut self) -> Result<Option<i64>, StateError> {
        // The tracking table is created by sqlx at run time, so this query cannot be checked
        // against it at build time. One round trip: a missing table means no state yet.
        let found: Option<i64> = match sqlx::query_scalar(
            "SELECT max(version) FROM stagegate._sqlx_migrations WHERE success",
        )
        .fetch_one(&mut self.conn)
        .await
        {
            Ok(found) => found,
            Err(sqlx::Error::Database(error))
                if matches!(error.code().as_deref(), Some("42P01" | "3F000")) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(query_error(&self.url, error)),
        };
        let known = known_schema_version();
        match found {
            Some(found) if found > known => Err(StateError::NewerSchema {
                url: self.url.clone(),
                found,
                known,
            }),
            other => Ok(Some(other.unwrap_or(0))),
        }
    }

    /// Creates or upgrades the state schema. Call under the advisory lock.
    pub async fn ensure_schema(&mut self) -> Result<(), StateError> {
        let current = self.schema_version().await?;
        if current == Some(known_schema_version()) {
            return Ok(());
        }
        self.run(migrator()).await
    }

    /// Brings the state schema to `version` only, as an older stagegate left it: for tests of
    /// the upgrade path.
    #[doc(hidden)]
    pub async fn ensure_schema_at(&mut self, version: i64) -> Result<(), StateError> {
        let mut migrator = migrator();
        migrator.migrations = std::borrow::Cow::Owned(
            migrator
                .migrations
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect(),
        );
        self.run(migrator).await
    }

    /// Runs `migrator`'s migrations not applied yet.
    async fn run(&mut self, migrator: Migrator) -> Result<(), StateError> {
        migrator
            .run(&mut self.conn)
            .await
            .map_err(|cause| StateError::Migrate {
                url: self.url.clone(),
                cause,
            })
    }
}
