//! The plain SQL statements inside a PL/pgSQL body (`DO $$ BEGIN ... END $$`), so that DDL
//! wrapped in a DO block is linted like any other statement.
//!
//! Control structure (`DECLARE`, `BEGIN`, `IF ... THEN`, `ELSE`, `LOOP`, `EXCEPTION WHEN ...
//! THEN`, `END IF`) is stepped over; what follows is kept when it starts like SQL that
//! changes the schema or the data. Dynamic SQL (`EXECUTE '...'`) cannot be read; its
//! statements are kept so that the analysis reports them as not understood.

use std::ops::Range;

use super::split::{RawKind, split};
use super::tokens::tokenize;

/// First words of the statements worth linting inside a body.
const SQL_START: &[&str] = &[
    "ALTER", "CREATE", "DROP", "UPDATE", "DELETE", "INSERT", "TRUNCATE", "COMMENT", "GRANT",
    "REVOKE", "REINDEX", "CLUSTER", "LOCK", "REFRESH", "EXECUTE",
];

/// Byte ranges (in `body`) of the SQL statements inside a PL/pgSQL body.
pub(crate) fn body_statements(body: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for raw in split(body) {
        if raw.kind != RawKind::Sql {
            continue;
        }
        let text = raw.text(body);
        let Some(tokens) = tokenize(text) else {
            continue;
        };
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            let Some(word) = token.keyword() else {
                if token.is_punct("<<") {
                    // `<<label>>`
                    i += 3;
                    continue;
                }
                break;
            };
            match word {
                "BEGIN" | "ELSE" | "LOOP" | "THEN" | "EXCEPTION" => i += 1,
                "DECLARE" => break,
                "IF" | "ELSIF" | "ELSEIF" | "WHEN" | "FOR" | "WHILE" | "FOREACH" => {
                    let stop = if matches!(word, "FOR" | "WHILE" | "FOREACH") {
                        "LOOP"
                    } else {
                        "THEN"
                    };
                    let mut depth = 0i32;
                    let mut j = i + 1;
                    while let Some(t) = tokens.get(j) {
                        if t.is_punct("(") {
                            depth += 1;
                        } else if t.is_punct(")") {
                            depth -= 1;
                        } else if depth <= 0 && t.is(stop) {
                            break;
                        }
                        j += 1;
                    }
                    i = j + 1;
                }
                _ => break,
            }
        }
        if let Some(token) = tokens.get(i)
            && token.keyword().is_some_and(|w| SQL_START.contains(&w))
            && !(token.is("END"))
        {
            out.push(raw.span.start + token.start..raw.span.end);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Vec<&str> {
        body_statements(body)
            .into_iter()
            .map(|r| &body[r])
            .collect()
    }

    #[test]
    fn finds_sql_inside_control_structure() {
        let body = "
DECLARE n int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
    CREATE TYPE mood AS ENUM ('sad', 'ok');
  ELSE
    ALTER TABLE t DROP COLUMN c;
  END IF;
  n := 1;
  RAISE NOTICE 'done; really';
  UPDATE t SET a = 1;
EXCEPTION WHEN duplicate_object THEN
  DROP INDEX i;
END
";
        assert_eq!(
            texts(body),
            [
                "CREATE TYPE mood AS ENUM ('sad', 'ok');",
                "ALTER TABLE t DROP COLUMN c;",
                "UPDATE t SET a = 1;",
                "DROP INDEX i;",
            ]
        );
    }

    #[test]
    fn loops_and_labels() {
        let body = "<<outer>> BEGIN FOR r IN SELECT 1 LOOP DELETE FROM t; END LOOP; END";
        assert_eq!(texts(body), ["DELETE FROM t;"]);
    }
}
