//! Facts from a database's catalog: what no migration file shows (a column's type and
//! nullability, whether it is indexed, a domain's CHECK, partitioning, the server's TimeZone,
//! a sequence's value, a table's size), read once before a lint run by [`Catalog::load`] with
//! read-only queries of `pg_catalog`.
//!
//! The catalog is the state of the database before the linted migrations: facts the run
//! learns from the migration files come after it and win. Names are keyed as the analyzer
//! writes them: `orders` for `public.orders`, `sales.orders` for other schemas.

use std::collections::HashMap;

use crate::analyze::names::is_utc_zone;
use crate::analyze::{ColumnType, Name};
use crate::config::DatabaseUrl;
use crate::sql::quote_ident;

/// `[lint] small_table_rows` when not configured.
pub(crate) const DEFAULT_SMALL_TABLE_ROWS: u64 = 10_000;

/// Where the facts came from, for messages ("the catalog of `staging`").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--env NAME`.
    Env(String),
    /// `--scratch`: a scratch database with the earlier migrations applied.
    Scratch,
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::Env(name) => format!("`{name}` (--env)"),
            Source::Scratch => "the scratch database (--scratch)".to_string(),
        }
    }
}

/// A table (or partitioned table, materialized view, foreign table) as the catalog has it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableFacts {
    /// `pg_class.reltuples`: `None` when the table was never vacuumed or analyzed (-1).
    pub rows_estimate: Option<f64>,
    /// The table's, its TOAST table's and its indexes' pages times the block size, as of the
    /// last VACUUM or ANALYZE (`relpages`; `pg_total_relation_size` would take an ACCESS
    /// SHARE lock on each relation and wait behind a migration holding ACCESS EXCLUSIVE).
    pub total_bytes: i64,
    /// `PARTITION BY` (relkind `p`).
    pub partitioned: bool,
    /// A partitioned table with a DEFAULT partition.
    pub has_default_partition: bool,
    /// The table is itself a partition of another.
    pub is_partition: bool,
    /// A view (relkind `v`): its columns are the view's output columns.
    pub view: bool,
    /// The table has a validated CHECK constraint.
    pub validated_check: bool,
    /// The table has a primary key (a replica identity for logical replication).
    pub primary_key: bool,
    /// A publication includes the table (named, or `FOR ALL TABLES`).
    pub published: bool,
    /// Columns a validated `CHECK (c IS NOT NULL)` proves not null.
    pub not_null_checks: Vec<Name>,
}

/// An index as the catalog has it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexFacts {
    pub table: Name,
    pub unique: bool,
    /// Key columns, in order; an expression is left out.
    pub columns: Vec<Name>,
}

/// A column as the catalog has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnFacts {
    pub ty: ColumnType,
    pub not_null: bool,
    /// Some index uses the column (as a key or in an expression or predicate).
    pub indexed: bool,
}

/// A sequence as the catalog has it.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceFacts {
    /// The value nextval() last returned; `None` before the first call, or when it could not
    /// be read (no SELECT privilege on the sequence).
    pub last_value: Option<i64>,
    /// The sequence could be read.
    pub readable: bool,
}

/// The facts of one database, plain data.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub source: Option<Source>,
    /// `current_setting('TimeZone')`: the TimeZone a migration's session starts with.
    pub time_zone: Option<String>,
    /// `server_version_num / 10000`.
    pub server_major: Option<u32>,
    tables: HashMap<Name, TableFacts>,
    /// table -> column -> facts.
    columns: HashMap<Name, HashMap<Name, ColumnFacts>>,
    /// User-defined types (enums, domains, composites, ranges, base types of extensions):
    /// name -> the type is a domain with a CHECK constraint.
    types: HashMap<Name, bool>,
    sequences: HashMap<Name, SequenceFacts>,
    indexes: HashMap<Name, IndexFacts>,
}

/// One row of the tables query.
#[derive(Debug, Clone)]
pub struct TableRow {
    pub schema: String,
    pub name: String,
    pub relkind: String,
    pub reltuples: f64,
    pub total_bytes: i64,
    pub has_default_partition: bool,
    pub is_partition: bool,
    pub validated_check: bool,
    pub primary_key: bool,
    pub published: bool,
    pub not_null_checks: Vec<String>,
}

/// One row of the indexes query: schema, index, table, unique, key columns.
pub(crate) type IndexRow = (String, String, String, bool, Vec<String>);

/// One row of the columns query.
#[derive(Debug, Clone)]
pub struct ColumnRow {
    pub schema: String,
    pub table: String,
    pub column: String,
    /// `format_type(atttypid, atttypmod)` with `pg_catalog, public` as the search_path.
    pub type_text: String,
    pub not_null: bool,
    pub indexed: bool,
}

/// A schema-qualified name as the analyzer writes it (the `public` schema dropped).
pub(crate) fn key(schema: &str, name: &str) -> Name {
    if schema == "public" {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

impl Catalog {
    /// The facts of these catalog rows (the pure half of [`Catalog::load`]).
    #[allow(clippy::too_many_arguments)]
    pub fn from_rows(
        source: Source,
        time_zone: Option<String>,
        server_version_num: Option<i32>,
        tables: Vec<TableRow>,
        columns: Vec<ColumnRow>,
        types: Vec<(String, String, bool)>,
        sequences: Vec<(String, String, Option<i64>, bool)>,
    ) -> Catalog {
        let mut catalog = Catalog {
            source: Some(source),
            time_zone,
            server_major: server_version_num.and_then(|n| u32::try_from(n / 10_000).ok()),
            ..Catalog::default()
        };
        let old_server = catalog.server_major.is_some_and(|major| major < 14);
        for row in tables {
            catalog.tables.insert(
                key(&row.schema, &row.name),
                TableFacts {
                    // -1 on PostgreSQL >= 14 for a table never vacuumed or analyzed; before
                    // 14, 0 with no pages, which an empty analyzed table shows too.
                    rows_estimate: (row.reltuples >= 0.0
                        && !(old_server && row.reltuples == 0.0 && row.total_bytes == 0))
                        .then_some(row.reltuples),
                    total_bytes: row.total_bytes,
                    partitioned: row.relkind == "p",
                    has_default_partition: row.has_default_partition,
                    is_partition: row.is_partition,
                    view: row.relkind == "v",
                    validated_check: row.validated_check,
                    primary_key: row.primary_key,
                    published: row.published,
                    not_null_checks: row.not_null_checks,
                },
            );
        }
        for row in columns {
            catalog
                .columns
                .entry(key(&row.schema, &row.table))
                .or_default()
                .insert(
                    row.column,
                    ColumnFacts {
                        ty: column_type(&row.type_text),
                        not_null: row.not_null,
                        indexed: row.indexed,
                    },
                );
        }
        for (schema, name, has_check) in types {
            catalog.types.insert(key(&schema, &name), has_check);
        }
        for (schema, name, last_value, readable) in sequences {
            catalog.sequences.insert(
                key(&schema, &name),
                SequenceFacts {
                    last_value,
                    readable,
                },
            );
        }
        catalog
    }

    /// The facts of the database at `url`, read in one READ ONLY transaction.
    pub async fn load(url: &DatabaseUrl, source: Source) -> anyhow::Result<Catalog> {
        let client = crate::db::connect(url).await?;
        load_from(&client, source).await.map_err(|error| {
            anyhow::anyhow!(
                "reading the catalog of {}: {}",
                url.redacted(),
                crate::db::with_causes(&error)
            )
        })
    }

    /// The same catalog with these indexes.
    pub fn with_indexes(mut self, rows: Vec<IndexRow>) -> Catalog {
        for (schema, name, table, unique, columns) in rows {
            self.indexes.insert(
                key(&schema, &name),
                IndexFacts {
                    table: key(&schema, &table),
                    unique,
                    columns,
                },
            );
        }
        self
    }

    /// The index, when the database has it.
    pub fn index(&self, name: &str) -> Option<&IndexFacts> {
        self.indexes.get(name)
    }

    /// The columns of a table or view, when the database has it.
    pub fn columns_of(&self, table: &str) -> Option<impl Iterator<Item = &Name>> {
        self.columns.get(table).map(|columns| columns.keys())
    }

    /// The table, when the database has it.
    pub fn table(&self, name: &str) -> Option<&TableFacts> {
        self.tables.get(name)
    }

    /// The column, when the database has it.
    pub fn column(&self, table: &str, column: &str) -> Option<&ColumnFacts> {
        self.columns.get(table)?.get(column)
    }

    /// For a user-defined type the database has: whether it is a domain with a CHECK.
    pub fn type_has_check(&self, name: &str) -> Option<bool> {
        self.types.get(name).copied()
    }

    pub fn sequence(&self, name: &str) -> Option<&SequenceFacts> {
        self.sequences.get(name)
    }

    /// The server's TimeZone resolves to UTC, when it is known.
    pub fn utc_time_zone(&self) -> Option<bool> {
        self.time_zone.as_deref().map(is_utc_zone)
    }

    /// Tables known, for tests and reports.
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }
}

/// A column's type from `format_type`: as written in a migration, except that arrays and
/// types PostgreSQL spells with a precision inside (`timestamp(3) with time zone`) read as
/// the analyzer's.
pub(crate) fn column_type(text: &str) -> ColumnType {
    ColumnType::parse(text)
}

/// The schemas whose objects are never a migration's: PostgreSQL's own.
const SYSTEM_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// How many sequences one query reads.
const SEQUENCES_PER_QUERY: usize = 200;

async fn load_from(
    client: &tokio_postgres::Client,
    source: Source,
) -> Result<Catalog, tokio_postgres::Error> {
    // Catalog reads lock only the catalog tables; reading a sequence's value takes ACCESS
    // SHARE on the sequence. The lock_timeout bounds a wait behind a migration that holds a
    // sequence ACCESS EXCLUSIVE (ALTER SEQUENCE): then the values are not known.
    client
        .batch_execute(
            "BEGIN READ ONLY; SET LOCAL search_path = pg_catalog, public; \
             SET LOCAL lock_timeout = '5s'",
        )
        .await?;
    let settings = client
        .query_one(
            "SELECT current_setting('TimeZone'), current_setting('server_version_num')::int",
            &[],
        )
        .await?;
    let tables = client
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.reltuples::float8, \
                 ((c.relpages::bigint \
                   + coalesce((SELECT t.relpages FROM pg_class t WHERE t.oid = c.reltoastrelid), 0) \
                   + coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                               WHERE x.indrelid = c.oid), 0)) \
                  * current_setting('block_size')::bigint)::bigint, \
                 coalesce((SELECT p.partdefid <> 0 FROM pg_partitioned_table p WHERE p.partrelid = c.oid), false), \
                 c.relispartition, \
                 EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated), \
                 EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary), \
                 EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prrelid = c.oid) \
                 OR EXISTS (SELECT 1 FROM pg_publication p WHERE p.puballtables), \
                 ARRAY(SELECT a.attname::text FROM pg_constraint k JOIN pg_attribute a \
                       ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
                       WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated \
                       AND cardinality(k.conkey) = 1 \
                       AND pg_get_constraintdef(k.oid) ~* '^CHECK \\(+\\s*\"?[^ ()]+\"? IS NOT NULL\\)+$') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'm', 'f', 'v') AND {SYSTEM_SCHEMAS}"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| TableRow {
            schema: row.get(0),
            name: row.get(1),
            relkind: row.get(2),
            reltuples: row.get(3),
            total_bytes: row.get(4),
            has_default_partition: row.get(5),
            is_partition: row.get(6),
            validated_check: row.get(7),
            primary_key: row.get(8),
            published: row.get(9),
            not_null_checks: row.get(10),
        })
        .collect();
    let columns = client
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, a.attname::text, \
                 format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                 EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid \
                         AND a.attnum = ANY (x.indkey::int2[])) \
                 OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_index x ON x.indexrelid = d.objid \
                            WHERE d.classid = 'pg_class'::regclass \
                            AND d.refclassid = 'pg_class'::regclass \
                            AND d.refobjid = c.oid AND d.refobjsubid = a.attnum) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'm', 'f', 'v') AND a.attnum > 0 AND NOT a.attisdropped \
                 AND {SYSTEM_SCHEMAS}"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| ColumnRow {
            schema: row.get(0),
            table: row.get(1),
            column: row.get(2),
            type_text: row.get(3),
            not_null: row.get(4),
            indexed: row.get(5),
        })
        .collect();
    let types = client
        .query(
            &format!(
                "SELECT n.nspname::text, t.typname::text, \
                 t.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_constraint k \
                                            WHERE k.contypid = t.oid AND k.contype = 'c') \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype IN ('b', 'd', 'e', 'r', 'm') AND t.typelem = 0 \
                 AND {SYSTEM_SCHEMAS}"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let indexes: Vec<IndexRow> = client
        .query(
            &format!(
                "SELECT n.nspname::text, i.relname::text, c.relname::text, x.indisunique, \
                 ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, o) \
                       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.o) \
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = i.relnamespace \
                 WHERE {SYSTEM_SCHEMAS}"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    let sequences = read_sequences(client).await?;
    client.batch_execute("COMMIT").await?;
    Ok(Catalog::from_rows(
        source,
        Some(settings.get(0)),
        Some(settings.get(1)),
        tables,
        columns,
        types,
        sequences,
    )
    .with_indexes(indexes))
}

/// Every sequence with the value nextval() last returned, read from the sequence itself
/// (`pg_sequences.last_value` would take a ROW EXCLUSIVE lock on it) where the user may.
async fn read_sequences(
    client: &tokio_postgres::Client,
) -> Result<Vec<(String, String, Option<i64>, bool)>, tokio_postgres::Error> {
    let listed: Vec<(String, String, bool)> = client
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, has_sequence_privilege(c.oid, 'SELECT') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'S' AND {SYSTEM_SCHEMAS} ORDER BY 1, 2"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let mut values: HashMap<(String, String), Option<i64>> = HashMap::new();
    let readable: Vec<&(String, String, bool)> = listed.iter().filter(|s| s.2).collect();
    for chunk in readable.chunks(SEQUENCES_PER_QUERY) {
        let sql = chunk
            .iter()
            .enumerate()
            .map(|(index, (schema, name, _))| {
                format!(
                    "SELECT {index}, CASE WHEN is_called THEN last_value END FROM {}.{}",
                    quote_ident(schema),
                    quote_ident(name)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in client.query(&sql, &[]).await? {
            let index: i32 = row.get(0);
            if let Some((schema, name, _)) = usize::try_from(index).ok().and_then(|i| chunk.get(i))
            {
                values.insert((schema.clone(), name.clone()), row.get(1));
            }
        }
    }
    Ok(listed
        .into_iter()
        .map(|(schema, name, readable)| {
            let value = values.remove(&(schema.clone(), name.clone())).flatten();
            (schema, name, value, readable)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(schema: &str, name: &str, relkind: &str, reltuples: f64, bytes: i64) -> TableRow {
        TableRow {
            schema: schema.into(),
            name: name.into(),
            relkind: relkind.into(),
            reltuples,
            total_bytes: bytes,
            has_default_partition: relkind == "p",
            is_partition: false,
            validated_check: false,
            primary_key: false,
            published: false,
            not_null_checks: Vec::new(),
        }
    }

    fn column(table: &str, column: &str, ty: &str, not_null: bool, indexed: bool) -> ColumnRow {
        ColumnRow {
            schema: "public".into(),
            table: table.into(),
            column: column.into(),
            type_text: ty.into(),
            not_null,
            indexed,
        }
    }

    #[test]
    fn catalog_rows_become_facts_keyed_as_the_analyzer_names() {
        let catalog = Catalog::from_rows(
            Source::Env("staging".into()),
            Some("Etc/UTC".into()),
            Some(150_004),
            vec![
                table("public", "users", "r", 300.0, 16_384),
                table("sales", "orders", "p", -1.0, 0),
                table("public", "fresh", "r", 0.0, 0),
            ],
            vec![
                column("users", "email", "character varying(20)", true, true),
                column(
                    "users",
                    "seen",
                    "timestamp(3) without time zone",
                    false,
                    false,
                ),
                column("users", "Mixed", "numeric(10,2)", false, false),
            ],
            vec![
                ("public".into(), "positive".into(), true),
                ("sales".into(), "mood".into(), false),
            ],
            vec![("public".into(), "users_id_seq".into(), Some(42), true)],
        );
        assert_eq!(catalog.server_major, Some(15));
        assert_eq!(catalog.utc_time_zone(), Some(true));
        let users = catalog.table("users").unwrap();
        assert_eq!(users.rows_estimate, Some(300.0));
        assert!(!users.partitioned);
        let orders = catalog.table("sales.orders").unwrap();
        assert!(orders.partitioned && orders.has_default_partition);
        assert_eq!(orders.rows_estimate, None, "never analyzed");
        assert_eq!(catalog.table("fresh").unwrap().rows_estimate, Some(0.0));
        assert!(catalog.table("public.users").is_none(), "keys drop public");
        let email = catalog.column("users", "email").unwrap();
        assert_eq!(email.ty, ColumnType::Varchar(Some(20)));
        assert!(email.not_null && email.indexed);
        assert_eq!(
            catalog.column("users", "seen").unwrap().ty,
            ColumnType::Timestamp
        );
        assert_eq!(
            catalog.column("users", "Mixed").unwrap().ty,
            ColumnType::Numeric(Some((10, 2)))
        );
        assert!(catalog.column("users", "mixed").is_none());
        assert_eq!(catalog.type_has_check("positive"), Some(true));
        assert_eq!(catalog.type_has_check("sales.mood"), Some(false));
        assert_eq!(catalog.type_has_check("unheard"), None);
        assert_eq!(
            catalog.sequence("users_id_seq").unwrap().last_value,
            Some(42)
        );
    }

    #[test]
    fn a_time_zone_off_utc_is_known_not_utc() {
        let catalog = Catalog::from_rows(
            Source::Scratch,
            Some("Europe/Paris".into()),
            None,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        assert_eq!(catalog.utc_time_zone(), Some(false));
        assert_eq!(Catalog::default().utc_time_zone(), None);
    }
}
