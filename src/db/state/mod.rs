//! The state store: schema `stagegate` in each target database, owned by sqlx.
//!
//! The schema is created and upgraded by the tool's own migrations (`migrations/`, embedded
//! with `sqlx::migrate!`, tracked in `stagegate._sqlx_migrations` so a project's own sqlx
//! table is never touched). Queries are checked at compile time against the offline data in
//! `.sqlx/`. The one write that must commit together with a user migration,
//! `stagegate.record_apply`, runs on the migration's own connection ([`super::session`]).
//!
//! One file per concern, each adding its queries to [`StateStore`]: the connection
//! (`store.rs`), errors (`error.rs`, every failed query through its `query_error`), the
//! schema and its version (`schema.rs`), the migrations' rows (`rows.rs`), what a run writes
//! about an attempt (`attempts.rs`), resolving and abandoning (`resolve.rs`, which records a settled count as `attempts.rs`
//! does a failed one's), baselines and
//! replaced downs (`baseline.rs`), the event log (`log.rs`), the environment binding
//! (`binding.rs`) and the one-instant snapshot of all of it (`snapshot.rs`). The files import
//! `store.rs` and `error.rs`, never each other in a circle.

mod attempts;
mod baseline;
mod binding;
mod error;
mod log;
mod resolve;
mod rows;
mod schema;
mod snapshot;
mod store;

pub(crate) use attempts::{DownFailureRecord, FailureRecord, RevertingRecord, RunningRecord};
pub(crate) use baseline::BaselineRecord;
pub(crate) use binding::Binding;
pub(crate) use error::StateError;
pub(crate) use error::describe;
pub(crate) use resolve::Settled;
pub(crate) use rows::{MigrationRow, RowStatus};
pub use schema::known_schema_version;
pub(crate) use snapshot::Snapshot;
pub use store::StateStore;

/// The operating-system user running stagegate, for the record.
pub(crate) use crate::who::os_user;
