//! Live sizes of the tables a release touches, read from the environment (read only):
//! the planner's row estimate (`pg_class.reltuples`) and `pg_total_relation_size` (table,
//! indexes and TOAST).

use serde::Serialize;

use crate::config::DatabaseUrl;

/// One touched table as the environment has it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TableSize {
    pub(crate) table: String,
    /// `false`: no such relation there yet (the release creates it): "new".
    pub(crate) exists: bool,
    /// Estimated rows; `null` for a new table, or one never vacuumed nor analysed.
    pub(crate) rows: Option<i64>,
    /// Bytes of the table with its indexes and TOAST; `null` for a new table.
    pub(crate) bytes: Option<i64>,
}

impl TableSize {
    /// `new`, or `~1.2k rows, 3.4 MiB`.
    pub(crate) fn describe(&self) -> String {
        if !self.exists {
            return "new".to_string();
        }
        let rows = match self.rows {
            Some(rows) => format!("~{} rows", human_count(rows)),
            None => "rows unknown (never analysed)".to_string(),
        };
        match self.bytes {
            Some(bytes) => format!("{rows}, {}", human_bytes(bytes)),
            None => rows,
        }
    }
}

/// `reltuples` is -1 for a table never vacuumed or analysed (PostgreSQL 14 and later).
const SIZES_SQL: &str = "\
SELECT c.relkind::text, c.reltuples::float8, pg_total_relation_size(c.oid)::int8 \
FROM pg_class c WHERE c.oid = to_regclass($1)";

/// The sizes of `tables` (names as the lint's lock model gives them: `users`,
/// `app.users`, quoted where needed).
pub(crate) async fn read(url: &DatabaseUrl, tables: &[String]) -> anyhow::Result<Vec<TableSize>> {
    let client = crate::db::connect(url).await?;
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        // A name the lock model gives unquoted that is no valid SQL name (`we|ird`): quoted.
        let row = match client.query_opt(SIZES_SQL, &[table]).await {
            Err(error) if error.as_db_error().is_some() => {
                client
                    .query_opt(SIZES_SQL, &[&format!("\"{}\"", table.replace('"', "\"\""))])
                    .await?
            }
            row => row?,
        };
        out.push(match row {
            None => TableSize {
                table: table.clone(),
                exists: false,
                rows: None,
                bytes: None,
            },
            Some(row) => {
                let reltuples: f64 = row.get(1);
                TableSize {
                    table: table.clone(),
                    exists: true,
                    rows: (reltuples >= 0.0).then_some(reltuples.round() as i64),
                    bytes: Some(row.get(2)),
                }
            }
        });
    }
    Ok(out)
}

/// 1536 -> `1.5 KiB`.
pub(crate) fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// 12345 -> `12.3k`.
pub(crate) fn human_count(count: i64) -> String {
    let value = count as f64;
    if count < 1000 {
        count.to_string()
    } else if count < 1_000_000 {
        format!("{:.1}k", value / 1e3)
    } else if count < 1_000_000_000 {
        format!("{:.1}M", value / 1e6)
    } else {
        format!("{:.1}G", value / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(8192 * 1024), "8.0 MiB");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(12_345), "12.3k");
        assert_eq!(human_count(2_500_000), "2.5M");
        let new = TableSize {
            table: "t".into(),
            exists: false,
            rows: None,
            bytes: None,
        };
        assert_eq!(new.describe(), "new");
        let known = TableSize {
            table: "t".into(),
            exists: true,
            rows: Some(1500),
            bytes: Some(16384),
        };
        assert_eq!(known.describe(), "~1.5k rows, 16.0 KiB");
    }
}
