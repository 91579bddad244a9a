//! Reading what another migration runner applied, from that runner's own table, for
//! `migrate baseline`. Read-only: nothing here writes to a runner's table.
//!
//! The tables are found on the database's search path (as each runner finds its own), never in
//! schema `stagegate`, whose `_sqlx_migrations` is stagegate's own tracking table. The
//! Supabase CLI's table is the exception: it lives in its own schema, `supabase_migrations`,
//! which is not on the search path.

use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::state::{StateError, StateStore};
use crate::sql::quote_ident;

/// A migration runner whose table `migrate baseline` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ForeignRunner {
    /// `_sqlx_migrations` (version, SHA-384 checksum)
    Sqlx,
    /// `__diesel_schema_migrations` (version, run_on)
    Diesel,
    /// `flyway_schema_history` (version, script, CRC32 checksum)
    Flyway,
    /// `schema_migrations` (version), one row per migration
    Dbmate,
    /// `schema_migrations` (version, dirty), one row: the current version
    GolangMigrate,
    /// `supabase_migrations.schema_migrations` (version), one row per migration
    Supabase,
    /// `_prisma_migrations` (migration_name, SHA-256 checksum, finished_at, rolled_back_at)
    Prisma,
    /// `goose_db_version` (version_id, is_applied), one row per up or down
    Goose,
    /// `alembic_version` (version_num): the current heads, each with every revision it follows
    Alembic,
}

impl ForeignRunner {
    pub fn name(self) -> &'static str {
        match self {
            ForeignRunner::Sqlx => "sqlx",
            ForeignRunner::Diesel => "diesel",
            ForeignRunner::Flyway => "flyway",
            ForeignRunner::Dbmate => "dbmate",
            ForeignRunner::GolangMigrate => "golang-migrate",
            ForeignRunner::Supabase => "supabase",
            ForeignRunner::Prisma => "prisma",
            ForeignRunner::Goose => "goose",
            ForeignRunner::Alembic => "alembic",
        }
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            ForeignRunner::Sqlx => "_sqlx_migrations",
            ForeignRunner::Diesel => "__diesel_schema_migrations",
            ForeignRunner::Flyway => "flyway_schema_history",
            ForeignRunner::Dbmate | ForeignRunner::GolangMigrate | ForeignRunner::Supabase => {
                "schema_migrations"
            }
            ForeignRunner::Prisma => "_prisma_migrations",
            ForeignRunner::Goose => "goose_db_version",
            ForeignRunner::Alembic => "alembic_version",
        }
    }

    /// The table as people name it, where the name alone does not say which runner it is.
    pub(crate) fn table_description(self) -> &'static str {
        match self {
            ForeignRunner::GolangMigrate => "schema_migrations with a dirty column",
            ForeignRunner::Supabase => "supabase_migrations.schema_migrations",
            other => other.table(),
        }
    }
}

impl std::fmt::Display for ForeignRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A runner's table found in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunnerTable {
    pub runner: ForeignRunner,
    pub schema: String,
}

impl RunnerTable {
    /// `schema.table`, as people write it.
    pub(crate) fn display(&self) -> String {
        format!("{}.{}", self.schema, self.runner.table())
    }

    fn quoted(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(self.runner.table())
        )
    }
}

/// What a runner's checksum column holds for one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunnerChecksum {
    /// sqlx: SHA-384 of the file's bytes.
    Sha384(Vec<u8>),
    /// Flyway: CRC32 over the file's lines without their line endings, as a signed integer.
    Crc32(i32),
    /// Prisma: SHA-256 of `migration.sql` in lowercase hex, with either line ending.
    Sha256Hex(String),
}

/// One row of a runner's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunnerRow {
    /// The version as the runner wrote it.
    pub version: String,
    /// sqlx's description, Flyway's script.
    pub script: Option<String>,
    pub applied_at: Option<OffsetDateTime>,
    pub checksum: Option<RunnerChecksum>,
    /// What the row says of the migration.
    pub kind: RowKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// This version was applied.
    Applied,
    /// Everything up to and including this version counts as applied (golang-migrate's one
    /// row; a Flyway `BASELINE` row; an Alembic head: the revision and every revision it
    /// follows).
    UpTo,
    /// The runner recorded a failed or half-done attempt (sqlx `success = false`, Flyway
    /// `success = false`, golang-migrate `dirty`).
    Failed,
    /// Flyway: an undo of this version ran after it was applied.
    Undone,
}

/// The runners' tables on the search path (and the Supabase CLI's in its own schema), in the
/// order of [`ForeignRunner`].
pub(crate) async fn find_tables(store: &mut StateStore) -> Result<Vec<RunnerTable>, StateError> {
    let url = store.redacted_url().to_string();
    let rows = sqlx::query(
        "SELECT c.relname::text AS table_name, n.nspname::text AS schema_name,
                EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'dirty'
                          AND NOT a.attisdropped) AS has_dirty
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND c.relname IN ('_sqlx_migrations', '__diesel_schema_migrations',
                             'flyway_schema_history', 'schema_migrations',
                             '_prisma_migrations', 'goose_db_version', 'alembic_version')
           AND ((n.nspname = ANY (current_schemas(false)) AND n.nspname <> 'stagegate')
                OR (n.nspname = 'supabase_migrations' AND c.relname = 'schema_migrations'))
         ORDER BY array_position(current_schemas(false), n.nspname::name)",
    )
    .fetch_all(store.connection())
    .await
    .map_err(|source| StateError::Query { url, cause: source })?;
    let mut found: Vec<RunnerTable> = Vec::new();
    for row in rows {
        let table: String = row.get("table_name");
        let schema: String = row.get("schema_name");
        let runner = match table.as_str() {
            "_sqlx_migrations" => ForeignRunner::Sqlx,
            "__diesel_schema_migrations" => ForeignRunner::Diesel,
            "flyway_schema_history" => ForeignRunner::Flyway,
            "_prisma_migrations" => ForeignRunner::Prisma,
            "goose_db_version" => ForeignRunner::Goose,
            "alembic_version" => ForeignRunner::Alembic,
            _ if schema == "supabase_migrations" => ForeignRunner::Supabase,
            _ if row.get::<bool, _>("has_dirty") => ForeignRunner::GolangMigrate,
            _ => ForeignRunner::Dbmate,
        };
        // The first on the search path is the one the runner itself uses.
        if !found.iter().any(|t| t.runner == runner) {
            found.push(RunnerTable { runner, schema });
        }
    }
    found.sort_by_key(|t| t.runner as u8);
    Ok(found)
}

/// Every row of a runner's table, in the order the runner applied them.
pub(crate) async fn read(
    store: &mut StateStore,
    table: &RunnerTable,
) -> Result<Vec<RunnerRow>, StateError> {
    let url = store.redacted_url().to_string();
    let shape = TableShape::of(table.runner);
    // The only text put into the query: a schema name read from pg_namespace and a fixed
    // table name, both quoted as identifiers, between fixed column lists and clauses.
    let name = table.quoted();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM {name} {}",
        shape.columns, shape.rest
    )))
    .fetch_all(store.connection())
    .await
    .map_err(|source| StateError::Query { url, cause: source })?;
    Ok(rows.iter().filter_map(shape.row).collect())
}

/// What [`read`] needs to know of one runner's table.
struct TableShape {
    /// The select list.
    columns: &'static str,
    /// What follows `FROM table`: the rows to read and the order the runner applied them in.
    rest: &'static str,
    /// What one row says; `None` for a row the runner itself ignores.
    row: fn(&PgRow) -> Option<RunnerRow>,
}

impl TableShape {
    fn of(runner: ForeignRunner) -> TableShape {
        match runner {
            ForeignRunner::Sqlx => TableShape {
                columns: "version, description, installed_on, success, checksum",
                rest: "ORDER BY version",
                row: |row| {
                    Some(RunnerRow {
                        version: row.get::<i64, _>("version").to_string(),
                        script: Some(row.get("description")),
                        applied_at: Some(row.get("installed_on")),
                        checksum: Some(RunnerChecksum::Sha384(row.get("checksum"))),
                        kind: if row.get("success") {
                            RowKind::Applied
                        } else {
                            RowKind::Failed
                        },
                    })
                },
            },
            // run_on is a timestamp without time zone written with CURRENT_TIMESTAMP: read in
            // the session's time zone, as it was written.
            ForeignRunner::Diesel => TableShape {
                columns: "version::text AS version, run_on::timestamptz AS run_on",
                rest: "ORDER BY version",
                row: |row| {
                    Some(RunnerRow {
                        applied_at: Some(row.get("run_on")),
                        ..RunnerRow::applied(row.get("version"))
                    })
                },
            },
            ForeignRunner::Flyway => TableShape {
                columns: "version::text AS version, script::text AS script, type::text AS type,
                          checksum, success, installed_on::timestamptz AS installed_on",
                rest: "WHERE version IS NOT NULL ORDER BY installed_rank",
                row: |row| {
                    let kind: String = row.get("type");
                    let success: bool = row.get("success");
                    let row_kind = match kind.as_str() {
                        // The schema-creation marker and rows a `flyway repair` marked deleted.
                        "SCHEMA" | "DELETE" => return None,
                        "BASELINE" => RowKind::UpTo,
                        undo if undo.starts_with("UNDO_") => RowKind::Undone,
                        _ if !success => RowKind::Failed,
                        _ => RowKind::Applied,
                    };
                    Some(RunnerRow {
                        version: row.get("version"),
                        script: Some(row.get("script")),
                        applied_at: Some(row.get("installed_on")),
                        checksum: row
                            .get::<Option<i32>, _>("checksum")
                            .filter(|_| row_kind == RowKind::Applied)
                            .map(RunnerChecksum::Crc32),
                        kind: row_kind,
                    })
                },
            },
            // Both keep one row per applied version, and nothing else stagegate can use.
            ForeignRunner::Dbmate | ForeignRunner::Supabase => TableShape {
                columns: "version::text AS version",
                rest: "ORDER BY version",
                row: |row| Some(RunnerRow::applied(row.get("version"))),
            },
            ForeignRunner::GolangMigrate => TableShape {
                columns: "version::bigint AS version, dirty",
                rest: "",
                row: |row| {
                    Some(RunnerRow {
                        kind: if row.get("dirty") {
                            RowKind::Failed
                        } else {
                            RowKind::UpTo
                        },
                        ..RunnerRow::applied(row.get::<i64, _>("version").to_string())
                    })
                },
            },
            ForeignRunner::Prisma => TableShape {
                columns: "migration_name::text AS migration_name, checksum::text AS checksum,
                          finished_at::timestamptz AS finished_at,
                          rolled_back_at IS NOT NULL AS rolled_back",
                rest: "ORDER BY started_at, migration_name",
                row: |row| {
                    // `prisma migrate resolve --rolled-back`: Prisma itself ignores the row.
                    if row.get::<bool, _>("rolled_back") {
                        return None;
                    }
                    let name: String = row.get("migration_name");
                    let finished: Option<OffsetDateTime> = row.get("finished_at");
                    Some(RunnerRow {
                        version: prisma_version(&name).to_string(),
                        checksum: Some(RunnerChecksum::Sha256Hex(
                            row.get::<String, _>("checksum").to_ascii_lowercase(),
                        )),
                        script: Some(name),
                        applied_at: finished,
                        kind: if finished.is_some() {
                            RowKind::Applied
                        } else {
                            RowKind::Failed
                        },
                    })
                },
            },
            // goose appends a row per up (and, before v3, per down with is_applied false; v3
            // deletes the up's row instead): a version's latest row says whether it is
            // applied. Version 0 is the row goose writes when it creates the table.
            ForeignRunner::Goose => TableShape {
                columns: "DISTINCT ON (version_id) version_id::text AS version, is_applied,
                          tstamp::timestamptz AS tstamp",
                rest: "WHERE version_id <> 0 ORDER BY version_id, id DESC",
                row: |row| {
                    row.get::<bool, _>("is_applied").then(|| RunnerRow {
                        applied_at: row.get("tstamp"),
                        ..RunnerRow::applied(row.get("version"))
                    })
                },
            },
            // One row per head; Alembic keeps no history.
            ForeignRunner::Alembic => TableShape {
                columns: "version_num::text AS version",
                rest: "ORDER BY version_num",
                row: |row| {
                    Some(RunnerRow {
                        kind: RowKind::UpTo,
                        ..RunnerRow::applied(row.get("version"))
                    })
                },
            },
        }
    }
}

impl RunnerRow {
    /// A row that says only that `version` was applied.
    fn applied(version: String) -> RunnerRow {
        RunnerRow {
            version,
            script: None,
            applied_at: None,
            checksum: None,
            kind: RowKind::Applied,
        }
    }
}

/// The version of a Prisma migration directory's name, `20240101120000_init`: what comes
/// before the first `_`.
fn prisma_version(migration_name: &str) -> &str {
    migration_name
        .split_once('_')
        .map_or(migration_name, |(version, _)| version)
}
