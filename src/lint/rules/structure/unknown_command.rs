//! # SG511 unknown-command
//!
//! ## What it does
//! Reports text PostgreSQL rejects with a syntax error: a statement whose first word is not a
//! PostgreSQL command (`ALTR TABLE`, text left over from an edit, a psql meta-command), a
//! kind of object PostgreSQL does not have (`CREATE INDX`), and two statements run together
//! because the `;` between them is missing (reported at the line where the second starts;
//! both are still checked), also before a misspelled command (`ALTR TABLE` on the next
//! line). And a statement left unbalanced: a `(` not closed, a `)` that closes nothing, a
//! string, quoted identifier or comment that runs to the end of the file.
//!
//! ## Why is this bad?
//! PostgreSQL rejects the statement with a syntax error, so the migration fails when it
//! runs (in a no-transaction migration, after the statements before it have been committed).
//! Nothing in it was checked either.
//!
//! ## Example
//! ```sql
//! ALTR TABLE orders ADD COLUMN note text;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! ```

use crate::lint::rules::prelude::*;

/// The words a PostgreSQL statement can start with (the SQL commands of its reference).
const COMMANDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYSE",
    "ANALYZE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "IMPORT",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SELECT",
    "SET",
    "SHOW",
    "START",
    "TABLE",
    "TRUNCATE",
    "UNLISTEN",
    "UPDATE",
    "VACUUM",
    "VALUES",
    "WITH",
];

/// The first word of a statement's head, when it is not a PostgreSQL command.
pub(crate) fn unknown_word(head: &str) -> Option<&str> {
    let word = head
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .next()
        .unwrap_or("");
    // `(SELECT ...)`, and statements with no word to judge, are left to SG505.
    if head.starts_with('(') || word.is_empty() {
        return None;
    }
    (!COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(word))).then_some(word)
}

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::SyntaxError { message, help } = change {
        out.push(Hit::new(message.clone(), *help));
    }
    if let Change::Unrecognised { head } = change
        && let Some(word) = unknown_word(head)
    {
        out.push(Hit::new(
            format!("`{word}` is not a PostgreSQL command: the server rejects this statement with a syntax error"),
            "fix the statement (a misspelled keyword, or leftover text); end each statement with `;`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG511",
            "ALTR TABLE orders ADD COLUMN note text;",
            15
        ));
    }

    /// A missing `;` is reported where the second statement starts, and both statements
    /// are still checked (the index on an existing table is SG101's).
    #[test]
    fn fires_on_a_missing_semicolon() {
        let sql = "ALTER TABLE a ADD COLUMN b int\nCREATE INDEX i ON a (b);\n";
        insta::assert_snapshot!(lint_errors_pg("SG511", sql, 15));
        let result = crate::lint::test_utils::lint_sql(sql, 15);
        assert!(
            result
                .findings
                .iter()
                .any(|f| f.code == "SG101" && f.line == 2),
            "{:?}",
            result.findings
        );
        for sql in [
            "CREATE TABLE t (id int)\nCREATE INDEX i ON t (id);",
            "ALTER TABLE t ADD COLUMN z int\nALTER TABLE t ADD COLUMN w int;",
            "COMMENT ON TABLE t IS 'x'\nDROP TABLE u;",
            "CREATE INDEX i ON t (a)\nCREATE UNIQUE INDEX j ON t (b);",
            "DO $$ BEGIN PERFORM 1; END $$\nCREATE TABLE u (id int);",
            "UPDATE t SET a = 1\n  ALTER TABLE t DROP COLUMN b;",
            "CREATE TABLE t (id int)\nINSERT INTO t VALUES (1);",
            "UPDATE t SET id = 2\nDELETE FROM t;",
            "ALTER TABLE t ADD COLUMN c int\nUPDATE t SET c = 1;",
            "DROP TABLE t\nSELECT 1;",
        ] {
            let rendered = lint_errors_pg("SG511", sql, 15);
            assert!(rendered.contains("does not end with `;`"), "{rendered}");
        }
    }

    /// A `GRANT` or `REVOKE` after a missing `;` starts a statement too: reported at its line,
    /// and both parts are still checked (json is SG406's, a revoke SG209's). Each of these is
    /// a syntax error on PostgreSQL 15.
    #[test]
    fn fires_on_a_missing_semicolon_before_grant_or_revoke() {
        for (sql, others) in [
            (
                "ALTER TABLE a ADD COLUMN b json\nGRANT SELECT ON a TO r;\n",
                &[("SG406", 1)][..],
            ),
            (
                "ALTER TABLE a ADD COLUMN b json\n  REVOKE SELECT ON a FROM r;\n",
                &[("SG406", 1), ("SG209", 2)],
            ),
            (
                "GRANT SELECT ON a TO r\nREVOKE ALL ON b FROM s;\n",
                &[("SG209", 2)],
            ),
            (
                "REVOKE ALL ON b FROM s\nGRANT admins TO bob;\n",
                &[("SG209", 1)],
            ),
        ] {
            let rendered = lint_errors_pg("SG511", sql, 15);
            assert!(rendered.contains("does not end with `;`"), "{rendered}");
            let found: Vec<(&str, usize)> = crate::lint::test_utils::lint_sql(sql, 15)
                .findings
                .iter()
                .map(|f| (f.code, f.line))
                .collect();
            assert!(found.contains(&("SG511", 2)), "{sql}: {found:?}");
            for other in others {
                assert!(found.contains(other), "{sql}: {found:?}");
            }
        }
        let analyzed =
            crate::analyze::analyze("ALTER TABLE a ADD COLUMN b int\nGRANT SELECT ON a TO r;");
        assert!(
            matches!(
                &analyzed[..],
                [first, second]
                    if matches!(first.changes[..], [crate::analyze::Change::AddColumn { .. }])
                        && matches!(
                            second.changes[..],
                            [crate::analyze::Change::SyntaxError { .. }, crate::analyze::Change::Grant]
                        )
            ),
            "{analyzed:?}"
        );
    }

    /// `GRANT` and `REVOKE` at the start of a line inside a statement that can hold them, as
    /// a grant's option, in a function or DO body, or as a column named `revoke`: valid on
    /// PostgreSQL 15, so no missing `;`. (`CREATE SCHEMA` takes `GRANT` elements but not
    /// `REVOKE`; its elements are not judged.)
    #[test]
    fn quiet_on_grant_and_revoke_inside_a_statement() {
        let sql = "\
ALTER DEFAULT PRIVILEGES IN SCHEMA s
GRANT SELECT ON TABLES TO r;
ALTER DEFAULT PRIVILEGES FOR ROLE bob
REVOKE INSERT ON TABLES FROM r;
CREATE SCHEMA s1 AUTHORIZATION r
  CREATE TABLE t1 (id int)
  GRANT SELECT ON t1 TO s;
GRANT SELECT ON t TO r WITH
GRANT OPTION;
REVOKE
GRANT OPTION FOR SELECT ON t FROM r;
GRANT admins TO bob WITH ADMIN OPTION
GRANTED BY postgres;
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  GRANT SELECT ON t TO r;
END $$;
CREATE FUNCTION f2() RETURNS void LANGUAGE plpgsql AS '
BEGIN
  REVOKE ALL ON t FROM s;
END';
DO $$
BEGIN
  IF true THEN
    GRANT SELECT ON t TO r;
    REVOKE ALL ON t FROM s;
  END IF;
END $$;
SELECT a,
revoke
FROM t;
ALTER TABLE t RENAME COLUMN a TO
revoke;
CREATE TABLE t2 (id int,
revoke text);
";
        lint_ok_pg("SG511", sql, 15);
    }

    #[test]
    fn fires_on_a_misspelled_object() {
        for (sql, word) in [
            ("CREATE INDX i ON t (a);", "INDX"),
            ("CREATE UNIQUE INDX i ON t (a);", "INDX"),
            ("ALTER TABEL t ADD COLUMN a int;", "TABEL"),
            ("DROP TABEL t;", "TABEL"),
            ("CRATE TABLE t (id int);", "CRATE"),
        ] {
            let rendered = lint_errors_pg("SG511", sql, 15);
            assert!(rendered.contains(&format!("`{word}`")), "{rendered}");
        }
    }

    /// Valid PostgreSQL that sqlparser cannot read, laid out over several lines, is neither
    /// a missing `;` nor a misspelling.
    #[test]
    fn quiet_on_valid_postgresql_over_several_lines() {
        let sql = "\
CREATE SCHEMA s
  CREATE TABLE s.t (id int)
  CREATE INDEX ON s.t (id);
ALTER TABLE t
  DROP COLUMN a,
  ALTER type TYPE text,
  DROP type2;
ALTER TABLE t
  ALTER COLUMN c SET NOT NULL;
CREATE OR REPLACE FUNCTION f() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  CREATE TABLE x (id int);
  RETURN NEW;
END $$;
CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT a;
END;
CREATE TRIGGER tr AFTER INSERT OR UPDATE
ON t FOR EACH ROW EXECUTE FUNCTION f();
CREATE RULE r AS ON INSERT TO t DO ALSO
  INSERT INTO log VALUES (1);
ALTER EXTENSION e
  DROP TABLE t;
ALTER DEFAULT PRIVILEGES IN SCHEMA s
GRANT SELECT ON TABLES TO r;
GRANT USAGE,
CREATE ON SCHEMA s TO r;
CREATE GLOBAL TEMPORARY TABLE tt (id int);
CREATE TRUSTED PROCEDURAL LANGUAGE pl;
CREATE DEFAULT CONVERSION c FOR 'LATIN1' TO 'UTF8' FROM f;
ALTER ROUTINE f() OWNER TO r;
DROP ROUTINE f();
DROP DATABASE IF EXISTS d;
ALTER TYPE mood ADD VALUE 'meh';
CREATE EXTENSION IF NOT EXISTS pgcrypto;
COMMENT ON COLUMN t.c IS 'a
CREATE TABLE inside a string';
CREATE POLICY p ON t
  USING (true);
SET search_path TO s;
COPY t (a, b) FROM stdin;
1\tCREATE TABLE
\\.
CREATE TABLE copy AS
SELECT * FROM t;
INSERT INTO t
SELECT * FROM u
ON CONFLICT (id) DO
UPDATE SET a = 1;
CREATE VIEW v AS
SELECT 1;
CREATE POLICY p2 ON t FOR
SELECT USING (true);
CREATE TRIGGER tr2 BEFORE
UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();
ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) ON
DELETE CASCADE ON
UPDATE SET NULL;
GRANT
SELECT,
UPDATE ON t TO r;
WITH d AS (DELETE FROM t RETURNING *)
INSERT INTO u SELECT * FROM d;
DO $$
BEGIN
  ALTER TABLE t ADD COLUMN q int;
END $$;
";
        lint_ok_pg("SG511", sql, 15);
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG511", "ALTER TABLE orders ADD COLUMN note text;", 15);
        // A command stagegate cannot read is SG505's, not a syntax error.
        lint_ok_pg("SG511", "REASSIGN OWNED BY a TO b;", 15);
        lint_ok_pg(
            "SG511",
            "-- a note\n/* and another */ CREATE TABLE t (id int);",
            15,
        );
        lint_ok_pg("SG511", "(SELECT 1);", 15);
        lint_ok_pg("SG511", "analyse orders;", 15);
    }

    /// A missing `;` before a misspelled or unknown command: both errors at the second line
    /// (PostgreSQL 15: `syntax error at or near "ALTR"`).
    #[test]
    fn fires_on_a_missing_semicolon_before_an_unknown_command() {
        for sql in [
            "CREATE TABLE d (id int)\nALTR TABLE t ADD c int;",
            "CREATE INDEX i ON t (a)\nCRATE INDEX j ON t (b);",
            "COMMENT ON TABLE t IS 'x'\nDORP TABLE u;",
            "ALTER TABLE t ADD COLUMN c int\n  FROBNICATE SEQUENCE s;",
        ] {
            let found: Vec<(&str, usize, String)> = crate::lint::test_utils::lint_sql(sql, 15)
                .findings
                .iter()
                .map(|f| (f.code, f.line, f.message.clone()))
                .collect();
            assert!(
                found.iter().any(|(c, l, m)| *c == "SG511"
                    && *l == 2
                    && m.contains("does not end with `;`")),
                "{sql}: {found:?}"
            );
            assert!(
                found.iter().any(|(c, l, m)| *c == "SG511"
                    && *l == 2
                    && m.contains("is not a PostgreSQL command")),
                "{sql}: {found:?}"
            );
        }
    }

    /// Parentheses not closed (or closing nothing) and strings or comments running to the
    /// end of the file: PostgreSQL rejects the statement, reported at its line.
    #[test]
    fn fires_on_an_unbalanced_statement() {
        for (sql, line, what) in [
            ("SELECT ((((1;", 1, "4 `(` are not closed"),
            (
                "SELECT 1;\nCREATE TABLE t (id int;",
                2,
                "a `(` is not closed",
            ),
            (
                "SELECT 1;\n\nUPDATE t SET a = (1));",
                3,
                "a `)` closes no `(`",
            ),
            (
                "SELECT 1;\nSELECT 'x;\nDROP TABLE t;",
                2,
                "a quoted string is not closed",
            ),
            (
                "CREATE TABLE t (id int);\nSELECT 1 /* note;",
                2,
                "a `/*` comment is not closed",
            ),
        ] {
            let found: Vec<(&str, usize, String)> = crate::lint::test_utils::lint_sql(sql, 15)
                .findings
                .iter()
                .map(|f| (f.code, f.line, f.message.clone()))
                .collect();
            assert!(
                found
                    .iter()
                    .any(|(c, l, m)| *c == "SG511" && *l == line && m.contains(what)),
                "{sql}: {found:?}"
            );
        }
        insta::assert_snapshot!(lint_errors_pg("SG511", "SELECT ((((1;", 15));
    }

    /// Continuations that start a line with a word that is no keyword, valid on PostgreSQL
    /// 15: a column then `TYPE`, a select list, a transition table's name.
    #[test]
    fn quiet_on_identifiers_that_start_a_line() {
        let sql = "\
ALTER TABLE t ALTER COLUMN
c TYPE bigint USING c::bigint;
SELECT a,
b FROM t;
COMMENT ON TABLE t IS
'x';
CREATE TRIGGER trg AFTER INSERT ON t REFERENCING NEW TABLE AS
newtab FOR EACH STATEMENT EXECUTE FUNCTION f();
SELECT f(
(1), ')', \"(\");
";
        lint_ok_pg("SG511", sql, 15);
    }
}
