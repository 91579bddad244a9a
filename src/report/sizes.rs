//! Sizes of the tables a release touches, as the environment's catalog has them (read
//! once, with the lint facts: `lint::catalog`): the planner's row estimate
//! (`pg_class.reltuples`) and the pages of the table, its TOAST table and its indexes as of
//! the last VACUUM or ANALYZE (`relpages`). Nothing here opens a table, so a report never waits
//! behind a migration holding ACCESS EXCLUSIVE (`pg_total_relation_size` would).

use serde::Serialize;

use crate::lint::catalog::Catalog;

/// One touched table as the environment has it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TableSize {
    pub(crate) table: String,
    /// `false`: no such relation there yet (the release creates it): "new".
    pub(crate) exists: bool,
    /// Estimated rows; `null` for a new table, or one never vacuumed nor analysed.
    pub(crate) rows: Option<i64>,
    /// Bytes of the table with its indexes and TOAST (as of the last VACUUM or ANALYZE);
    /// `null` for a new table.
    pub(crate) bytes: Option<i64>,
}

impl TableSize {
    /// `new`, or `~1.2k rows, 3.4 MiB`.
    pub(crate) fn describe(&self) -> String {
        if !self.exists {
            return "new".to_string();
        }
        let rows = match self.rows {
            Some(rows) => format!("~{} rows", crate::human::count(rows)),
            None => "rows unknown (never analysed)".to_string(),
        };
        match self.bytes {
            Some(bytes) => format!(
                "{rows}, {}",
                crate::human::bytes(u64::try_from(bytes).unwrap_or(0))
            ),
            None => rows,
        }
    }
}

/// The sizes of `tables` (names as the lint's lock model gives them: `users`, `app.users`)
/// from the environment's catalog, read without a lock on any of them.
pub(crate) fn of(catalog: &Catalog, tables: &[String]) -> Vec<TableSize> {
    tables
        .iter()
        .map(|table| match catalog.table(table) {
            None => TableSize {
                table: table.clone(),
                exists: false,
                rows: None,
                bytes: None,
            },
            Some(facts) => TableSize {
                table: table.clone(),
                exists: true,
                rows: facts.rows_estimate.map(|rows| rows.round() as i64),
                bytes: Some(facts.total_bytes),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
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
