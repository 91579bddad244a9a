//! Statements of a no-transaction migration that cannot run inside a transaction block, and
//! what the catalog says of them afterwards.
//!
//! A statement that can run in a transaction block runs in one of its own together with its
//! progress record, so a killed run leaves it either done and recorded or not done at all.
//! The others (`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...) run bare, with a marker written
//! before them; when a run dies there, the catalog tells whether the server finished them
//! where it can: an index build is done when its index exists and is valid
//! (`pg_index.indisvalid`). A concurrent build that fails leaves an INVALID index behind that
//! is maintained on every write and used by no query; `IF NOT EXISTS` would then skip it.

use serde::Serialize;
use tokio_postgres::Client;

use crate::sql::{Class, Tok, quote_literal};

/// What a statement is, as far as running it outside a transaction is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] [name] ON [ONLY] table`.
    BuildIndex {
        index: Option<String>,
        table: String,
        if_not_exists: bool,
    },
    /// `REINDEX [(...)] INDEX|TABLE CONCURRENTLY name`: the table's indexes get `_ccnew`
    /// copies, left INVALID when it fails.
    Reindex {
        table: Option<String>,
        index: Option<String>,
    },
    /// `DROP INDEX CONCURRENTLY [IF EXISTS] name`.
    DropIndex { index: String },
    /// Harmless to run twice: VACUUM, ANALYZE, CHECKPOINT, REFRESH MATERIALIZED VIEW, ...
    Repeatable { no_transaction_block: bool },
    /// Cannot run inside a transaction block, and its end is not visible in the catalog.
    NoTransactionBlock,
    /// BEGIN, COMMIT, SAVEPOINT ...: the file manages transactions itself.
    TransactionControl,
    /// Anything else: runs inside a transaction block of its own.
    Other,
}

impl Shape {
    /// Classifies one statement's text. Whether it is transaction control and whether it
    /// must run outside a transaction block is the statement classifier's answer.
    pub(crate) fn of(sql: &str) -> Shape {
        let class = crate::sql::classify_sql(sql);
        if let Class::Transaction(_) = class {
            return Shape::TransactionControl;
        }
        let no_transaction_block = class == Class::NoTransactionBlock;
        let Some(tokens) = crate::sql::tokenize(sql) else {
            return Shape::Other;
        };
        let words: Vec<&str> = tokens.iter().map(|t| t.keyword().unwrap_or("")).collect();
        let has = |word: &str| words.contains(&word);
        match words.first().copied().unwrap_or("") {
            "CREATE" if has("INDEX") && has("CONCURRENTLY") => build_index(&tokens),
            "REINDEX" if has("CONCURRENTLY") => reindex(&tokens),
            "DROP" if words.get(1) == Some(&"INDEX") && has("CONCURRENTLY") => {
                match name_after(&tokens, &["CONCURRENTLY", "EXISTS"]) {
                    Some(index) => Shape::DropIndex { index },
                    None => Shape::NoTransactionBlock,
                }
            }
            "REINDEX" | "VACUUM" | "ANALYZE" | "ANALYSE" | "CHECKPOINT" | "CLUSTER" | "REFRESH" => {
                Shape::Repeatable {
                    no_transaction_block,
                }
            }
            _ if no_transaction_block => Shape::NoTransactionBlock,
            _ => Shape::Other,
        }
    }

    /// True when the statement may run inside a transaction block of its own.
    pub(crate) fn fits_in_transaction(&self) -> bool {
        matches!(
            self,
            Shape::Other
                | Shape::Repeatable {
                    no_transaction_block: false
                }
        )
    }
}

/// A possibly qualified name starting at `tokens[at]`, as a quoted SQL name (`"s"."t"`).
fn qualified(tokens: &[Tok], mut at: usize) -> Option<String> {
    let mut parts = vec![tokens.get(at)?.ident()?];
    while tokens.get(at + 1).is_some_and(|t| t.is_punct(".")) {
        parts.push(tokens.get(at + 2)?.ident()?);
        at += 2;
    }
    Some(crate::sql::quote_parts(parts.iter().map(String::as_str)))
}

/// The name after the last of `markers` that appears before the first name.
fn name_after(tokens: &[Tok], markers: &[&str]) -> Option<String> {
    let last = tokens
        .iter()
        .rposition(|t| markers.iter().any(|m| t.is(m)))?;
    qualified(tokens, last + 1)
}

fn build_index(tokens: &[Tok]) -> Shape {
    let Some(on) = tokens.iter().position(|t| t.is("ON")) else {
        return Shape::NoTransactionBlock;
    };
    let if_not_exists = tokens[..on].iter().any(|t| t.is("EXISTS"));
    // The index name, if any, stands right before ON and is not a keyword of the syntax.
    let index = on
        .checked_sub(1)
        .and_then(|i| tokens.get(i))
        .filter(|t| !matches!(t.keyword(), Some("CONCURRENTLY" | "EXISTS")))
        .and_then(|_| {
            // Walk back over a qualified name (`s.idx` is not allowed, but be lenient).
            let mut start = on - 1;
            while start >= 2 && tokens[start - 1].is_punct(".") {
                start -= 2;
            }
            qualified(tokens, start)
        });
    let table_at = if tokens.get(on + 1).is_some_and(|t| t.is("ONLY")) {
        on + 2
    } else {
        on + 1
    };
    match qualified(tokens, table_at) {
        Some(table) => Shape::BuildIndex {
            index,
            table,
            if_not_exists,
        },
        None => Shape::NoTransactionBlock,
    }
}

fn reindex(tokens: &[Tok]) -> Shape {
    let kind = tokens
        .iter()
        .find(|t| {
            matches!(
                t.keyword(),
                Some("INDEX" | "TABLE" | "SCHEMA" | "DATABASE" | "SYSTEM")
            )
        })
        .and_then(Tok::keyword);
    let name = name_after(tokens, &["CONCURRENTLY"]);
    match kind {
        Some("INDEX") => Shape::Reindex {
            table: None,
            index: name,
        },
        Some("TABLE") => Shape::Reindex {
            table: name,
            index: None,
        },
        _ => Shape::Repeatable {
            no_transaction_block: true,
        },
    }
}

/// For each `CREATE INDEX name ON ONLY table` in `statements` (the first step of building an
/// index on a partitioned table without locking every partition), a check that fails with
/// SQLSTATE ST004 when the index is still INVALID: it stays so until an index of every
/// partition is attached to it, and until then the parent enforces and serves nothing.
pub(crate) fn parent_index_checks<'a>(statements: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for sql in statements {
        // Most statements have no ONLY at all: skip tokenizing them (this runs on every apply).
        if !sql
            .as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"ONLY"))
        {
            continue;
        }
        let Some(tokens) = crate::sql::tokenize(sql) else {
            continue;
        };
        let only = tokens.first().is_some_and(|t| t.is("CREATE"))
            && tokens.iter().any(|t| t.is("INDEX"))
            && tokens.windows(2).any(|w| w[0].is("ON") && w[1].is("ONLY"));
        if !only {
            continue;
        }
        let Shape::BuildIndex {
            index: Some(index),
            table,
            ..
        } = build_index(&tokens)
        else {
            continue;
        };
        let (index, table) = (quote_literal(&index), quote_literal(&table));
        out.push_str(&format!(
            "DO $stagegate$ DECLARE v regclass; BEGIN \
             SELECT i.indexrelid::regclass INTO v FROM pg_index i \
             WHERE NOT i.indisvalid AND i.indexrelid = to_regclass(quote_ident(( \
                 SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = to_regclass({table}))) || '.' || \
                 quote_ident((parse_ident({index}))[array_upper(parse_ident({index}), 1)])); \
             IF v IS NOT NULL THEN RAISE EXCEPTION USING ERRCODE = 'ST004', MESSAGE = format( \
                 'partitioned index %s is still INVALID at the end of the migration: create an \
                 index on every partition and attach each (ALTER INDEX %s ATTACH PARTITION \
                 ...) in the same migration', v, v); END IF; END $stagegate$;"
        ));
    }
    out
}

/// An index as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexState {
    /// As `regclass` prints it (schema-qualified where the search path needs it).
    pub name: String,
    pub valid: bool,
}

/// The index a build names, on its table: `None` when it does not exist.
pub(crate) async fn named_index(
    client: &Client,
    index: &str,
    table: &str,
) -> Result<Option<IndexState>, tokio_postgres::Error> {
    // `index` is a quoted name; its last part is the relation name in the table's schema.
    let row = client
        .query_opt(
            "SELECT i.indexrelid::regclass::text, i.indisvalid \
             FROM pg_index i \
             WHERE i.indexrelid = to_regclass( \
                 quote_ident((SELECT n.nspname FROM pg_class c \
                              JOIN pg_namespace n ON n.oid = c.relnamespace \
                              WHERE c.oid = to_regclass($2))) || '.' || \
                 (parse_ident($1))[array_upper(parse_ident($1), 1)])",
            &[&index, &table],
        )
        .await?;
    Ok(row.map(|row| IndexState {
        name: row.get(0),
        valid: row.get(1),
    }))
}

/// The INVALID indexes on a table (a failed concurrent build's or reindex's leftovers).
pub(crate) async fn invalid_indexes(
    client: &Client,
    table: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT indexrelid::regclass::text FROM pg_index \
             WHERE indrelid = to_regclass($1) AND NOT indisvalid ORDER BY 1",
            &[&table],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The table an index belongs to, as a quoted name.
pub(crate) async fn table_of(
    client: &Client,
    index: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE i.indexrelid = to_regclass($1)",
            &[&index],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// An INVALID index found in a database, and what removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct InvalidIndex {
    pub index: String,
    pub table: String,
    /// The statement that removes it.
    pub drop: String,
}

/// Every INVALID index in the database's own schemas (not stagegate's), with its table.
const ALL_INVALID: &str = "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text \
     FROM pg_index i \
     JOIN pg_class c ON c.oid = i.indexrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE NOT i.indisvalid \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'stagegate') \
       AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1";

impl InvalidIndex {
    fn new(index: String, table: String) -> InvalidIndex {
        InvalidIndex {
            drop: format!("DROP INDEX CONCURRENTLY IF EXISTS {index};"),
            index,
            table,
        }
    }
}

/// [`ALL_INVALID`] on `client`.
pub(crate) async fn all_invalid(
    client: &Client,
) -> Result<Vec<InvalidIndex>, tokio_postgres::Error> {
    let rows = client.query(ALL_INVALID, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| InvalidIndex::new(r.get(0), r.get(1)))
        .collect())
}

/// [`ALL_INVALID`] on the state store's connection (the gates read them right after the
/// state, on the same connection, instead of opening one for them).
pub(crate) async fn read_invalid_on(
    store: &mut crate::db::state::StateStore,
) -> Result<Vec<InvalidIndex>, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(ALL_INVALID)
        .fetch_all(store.connection())
        .await
        .map_err(|e| {
            format!(
                "reading the invalid indexes on {}: {e}",
                store.redacted_url()
            )
        })?;
    Ok(rows
        .into_iter()
        .map(|(index, table)| InvalidIndex::new(index, table))
        .collect())
}

/// The advice for an invalid leftover.
pub(crate) fn drop_advice(index: &str) -> String {
    format!("remove it with `DROP INDEX CONCURRENTLY IF EXISTS {index};`")
}

/// Reads every INVALID index of the database at `url`, for `status` and `plan`.
pub(crate) async fn read_invalid(
    url: &crate::config::DatabaseUrl,
) -> Result<Vec<InvalidIndex>, String> {
    let client = crate::db::connect(url).await.map_err(|e| e.to_string())?;
    all_invalid(&client)
        .await
        .map_err(|e| crate::db::with_causes(&e))
}

/// Lines naming invalid indexes of environment `env`, for a text report.
pub(crate) fn render_invalid(env: &str, indexes: &[InvalidIndex]) -> String {
    let mut out = String::new();
    for found in indexes {
        out.push_str(&format!(
            "{env}: INVALID index {} on {} (a failed concurrent build's leftover: every write \
             maintains it, no query uses it); remove it with `{}`\n",
            found.index, found.table, found.drop
        ));
    }
    out
}

/// Invalid leftovers, described with the statement that removes each.
pub(crate) fn leftovers(indexes: &[String]) -> String {
    let each: Vec<String> = indexes
        .iter()
        .map(|index| format!("{index} ({})", drop_advice(index)))
        .collect();
    format!(
        "the INVALID index {} behind, which every write maintains and no query uses",
        each.join(", ")
    )
}

/// Whether a statement that ran bare, outside a transaction, took effect: read from the
/// catalog after its backend is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BareOutcome {
    /// It did; why we know.
    Ran(String),
    /// It did not (or running it again is harmless); why we know.
    NotRun(String),
    /// It failed part way and left these INVALID indexes.
    Invalid(Vec<String>),
    /// The catalog cannot tell.
    Unknown,
}

/// Reads from the catalog whether `sql`, sent bare to a backend that is gone now, took effect.
pub(crate) async fn outcome(
    client: &Client,
    sql: &str,
) -> Result<BareOutcome, tokio_postgres::Error> {
    Ok(match Shape::of(sql) {
        Shape::BuildIndex {
            index: Some(index),
            table,
            ..
        } => match named_index(client, &index, &table).await? {
            Some(found) if found.valid => {
                BareOutcome::Ran(format!("its index {} exists and is valid", found.name))
            }
            Some(found) => BareOutcome::Invalid(vec![found.name]),
            None => BareOutcome::NotRun(format!("no index {index} exists on {table}")),
        },
        Shape::BuildIndex { table, .. } => {
            let invalid = invalid_indexes(client, &table).await?;
            if invalid.is_empty() {
                BareOutcome::Unknown
            } else {
                BareOutcome::Invalid(invalid)
            }
        }
        Shape::Reindex { table, index } => {
            let table = match (table, index) {
                (Some(table), _) => Some(table),
                (None, Some(index)) => table_of(client, &index).await?,
                (None, None) => None,
            };
            let invalid = match &table {
                Some(table) => invalid_indexes(client, table).await?,
                None => Vec::new(),
            };
            if invalid.is_empty() {
                BareOutcome::NotRun(
                    "no reindex leftover exists, and running it again is harmless".into(),
                )
            } else {
                BareOutcome::Invalid(invalid)
            }
        }
        Shape::DropIndex { index } => {
            let exists: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&index])
                .await?
                .get(0);
            if exists {
                BareOutcome::NotRun(format!("index {index} still exists"))
            } else {
                BareOutcome::Ran(format!("index {index} no longer exists"))
            }
        }
        Shape::Repeatable { .. } => BareOutcome::NotRun("running it again is harmless".into()),
        _ => BareOutcome::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_builds_are_read_with_their_names() {
        assert_eq!(
            Shape::of("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_email_key ON t (email);"),
            Shape::BuildIndex {
                index: Some("\"t_email_key\"".into()),
                table: "\"t\"".into(),
                if_not_exists: true
            }
        );
        assert_eq!(
            Shape::of("create index concurrently on Sales.\"Orders\" (id)"),
            Shape::BuildIndex {
                index: None,
                table: "\"sales\".\"Orders\"".into(),
                if_not_exists: false
            }
        );
        assert_eq!(
            Shape::of("CREATE INDEX CONCURRENTLY \"Idx\" ON ONLY p (a)"),
            Shape::BuildIndex {
                index: Some("\"Idx\"".into()),
                table: "\"p\"".into(),
                if_not_exists: false
            }
        );
    }

    #[test]
    fn other_statements_that_need_no_transaction_block() {
        assert_eq!(
            Shape::of("DROP INDEX CONCURRENTLY IF EXISTS s.i;"),
            Shape::DropIndex {
                index: "\"s\".\"i\"".into()
            }
        );
        assert_eq!(
            Shape::of("REINDEX INDEX CONCURRENTLY i"),
            Shape::Reindex {
                table: None,
                index: Some("\"i\"".into())
            }
        );
        assert_eq!(
            Shape::of("REINDEX (VERBOSE) TABLE CONCURRENTLY t"),
            Shape::Reindex {
                table: Some("\"t\"".into()),
                index: None
            }
        );
        assert!(!Shape::of("VACUUM ANALYZE t").fits_in_transaction());
        assert!(!Shape::of("ALTER TABLE p DETACH PARTITION c CONCURRENTLY").fits_in_transaction());
        assert!(!Shape::of("CREATE DATABASE x").fits_in_transaction());
        assert_eq!(Shape::of("COMMIT"), Shape::TransactionControl);
        assert!(Shape::of("UPDATE t SET a = 1").fits_in_transaction());
        assert!(Shape::of("ANALYZE t").fits_in_transaction());
        assert!(Shape::of("REFRESH MATERIALIZED VIEW CONCURRENTLY m").fits_in_transaction());
        // A word inside a string is not a keyword.
        assert!(
            Shape::of("INSERT INTO t VALUES ('CREATE INDEX CONCURRENTLY')").fits_in_transaction()
        );
    }
}
