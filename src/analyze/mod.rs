//! From statements to [`Change`]s: sqlparser's AST or, for what it rejects, the token
//! classifier. Also the lock model. Rules see only this module's types. Pure: no I/O.

mod ast;
mod fallback;
pub(crate) mod locks;
pub(crate) mod model;
pub(crate) mod names;
pub(crate) mod types;

pub(crate) use locks::{Effect, locks};
pub(crate) use model::{
    Analyzed, Change, ColumnSpec, ConstraintKind, ConstraintSpec, DefaultKind, LockMode, Name,
    ObjectKind, Reach, RewriteCommand, TxnControl,
};
pub(crate) use types::{ColumnType, TypeChange, type_change};

use crate::sql::{self, Parsed, RawKind, TokKind};

/// The help for a statement run into the one before it, or a misspelled keyword.
pub(crate) const MISSING_SEMICOLON_HELP: &str =
    "end the statement before it with `;`, or fix the misspelled keyword";

/// Analyses every statement of a script, in order. Statements inside `DO` bodies follow
/// their `DO` statement, with spans in the script text.
pub fn analyze(text: &str) -> Vec<Analyzed> {
    let mut out = Vec::new();
    for raw in sql::split(text) {
        // `;` alone is an empty statement: nothing to analyse.
        if raw.kind != RawKind::Sql || raw.text(text).trim_end_matches(';').trim().is_empty() {
            continue;
        }
        let first = out.len();
        analyze_statement(text, raw.span, false, &mut out);
        // What the statement leaves open is reported first, at its line.
        if let Some(unbalanced) = raw.unbalanced
            && let Some(analyzed) = out.get_mut(first)
        {
            analyzed.changes.insert(
                0,
                Change::SyntaxError {
                    message: unbalanced.message(),
                    help: "close what the statement leaves open (or remove the `)` that \
                           closes nothing); end each statement with `;`",
                },
            );
        }
    }
    out
}

/// The part of a statement that is analysed: longer statements (a data load of one
/// `INSERT` of many megabytes) are read from their first [`ANALYZED_BYTES`] only, so the
/// memory lint takes stays bounded whatever one statement's size (sqlparser's tokens and
/// tree take about 100 bytes per byte of such a statement), and the rest is reported as not
/// checked (SG505).
pub(crate) const ANALYZED_BYTES: usize = 1 << 20;

fn analyze_statement(
    text: &str,
    span: std::ops::Range<usize>,
    in_do_block: bool,
    out: &mut Vec<Analyzed>,
) {
    let statement = &text[span.clone()];
    if statement.len() > ANALYZED_BYTES {
        out.push(Analyzed {
            span,
            changes: huge(statement),
            in_do_block,
            tokens: sql::Kept::default(),
        });
        return;
    }
    let head = || {
        statement
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if in_do_block
        && statement
            .split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("EXECUTE"))
    {
        execute(text, span, head(), out);
        return;
    }
    // Transaction control is the statement classifier's to say, for every command.
    if let Some(control) = sql::classify::transaction_control(statement) {
        out.push(Analyzed {
            span,
            changes: vec![Change::Transaction(control)],
            in_do_block,
            tokens: sql::Kept::default(),
        });
        return;
    }
    // The token classifier reads what sqlparser's AST leaves out: function renames and
    // revokes on functions.
    let words: Vec<&str> = statement.split_whitespace().take(2).collect();
    let by_tokens = match words.as_slice() {
        [first, second] if first.eq_ignore_ascii_case("ALTER") => {
            ["FUNCTION", "PROCEDURE", "ROUTINE"]
                .iter()
                .any(|w| second.eq_ignore_ascii_case(w))
        }
        [first, ..] => first.eq_ignore_ascii_case("REVOKE"),
        _ => false,
    };
    let parsed = if by_tokens {
        sql::tokenize(statement).map_or(Parsed::Unreadable, Parsed::Tokens)
    } else {
        sql::parse(statement)
    };
    let mut kept = sql::Kept::default();
    let (changes, bodies) = match parsed {
        Parsed::Ast(ast, tokens) => {
            kept = tokens;
            (ast::changes(&ast), Vec::new())
        }
        Parsed::Tokens(mut tokens) => {
            // sqlparser did not read it as one statement: two run together by a missing `;`
            // are analysed apart, the second one reported.
            if tokens.len() == 1 && may_run_together(statement) {
                tokens = sql::tokenize(statement).unwrap_or(tokens);
            }
            if let Some(at) = fallback::run_together(&tokens, statement) {
                let end = tokens
                    .iter()
                    .rev()
                    .find(|t| t.end <= at)
                    .map_or(at, |t| t.end);
                analyze_statement(text, span.start..span.start + end, in_do_block, out);
                let index = out.len();
                analyze_statement(text, span.start + at..span.end, in_do_block, out);
                if let Some(second) = out.get_mut(index) {
                    second.changes.insert(
                        0,
                        Change::SyntaxError {
                            message: "the statement before this line does not end with \
                                      `;`: PostgreSQL reads the two as one statement and \
                                      rejects them with a syntax error"
                                .to_string(),
                            help: MISSING_SEMICOLON_HELP,
                        },
                    );
                }
                return;
            }
            let changes = fallback::changes(&tokens, statement);
            let bodies: Vec<(usize, String)> = if changes.contains(&Change::DoBlock) {
                tokens
                    .iter()
                    .filter_map(|t| match &t.kind {
                        TokKind::Dollar { body, body_start } => Some((*body_start, body.clone())),
                        _ => None,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            (changes, bodies)
        }
        Parsed::Unreadable => (vec![Change::Unrecognised { head: head() }], Vec::new()),
    };
    let mut changes = changes;
    for change in &mut changes {
        if let Change::CreateFunction { volatile, .. } = change {
            *volatile = function_volatile(statement);
        }
    }
    out.push(Analyzed {
        span: span.clone(),
        changes,
        in_do_block,
        tokens: kept,
    });
    if in_do_block {
        return;
    }
    for (body_start, body) in bodies {
        let base = span.start + body_start;
        // The body must be exactly where the tokenizer says, or positions would be wrong.
        if text.get(base..base + body.len()) != Some(body.as_str()) {
            continue;
        }
        let first = out.len();
        for inner in sql::plpgsql::body_statements(&body) {
            analyze_statement(text, base + inner.start..base + inner.end, true, out);
        }
        if loops_without_commit(&body) {
            // A "batched" loop without COMMIT runs every batch in the one transaction of
            // the DO statement: together they touch the whole table.
            for analyzed in &mut out[first..] {
                for change in &mut analyzed.changes {
                    if let Change::Update { reach, .. } | Change::Delete { reach, .. } = change
                        && *reach != Reach::All
                    {
                        *reach = Reach::WholeTable;
                    }
                }
            }
        }
    }
}

/// The changes of a statement longer than [`ANALYZED_BYTES`]: what its first
/// [`ANALYZED_BYTES`] show to the token classifier, and that the rest was not read.
fn huge(statement: &str) -> Vec<Change> {
    let mut cut = ANALYZED_BYTES;
    while !statement.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &statement[..cut];
    let mut changes: Vec<Change> = sql::tokenize(head)
        .map(|tokens| fallback::changes(&tokens, head))
        .unwrap_or_default();
    // What the cut made unreadable is not the statement's.
    changes.retain(|c| !matches!(c, Change::Unrecognised { .. } | Change::SyntaxError { .. }));
    let words: Vec<&str> = head.split_whitespace().take(3).collect();
    changes.push(Change::Unrecognised {
        head: format!(
            "{} …: a statement of {}, read only as far as its first {}",
            words.join(" "),
            crate::human::bytes(statement.len() as u64),
            crate::human::bytes(ANALYZED_BYTES as u64)
        ),
    });
    changes
}

/// Whether calling the function a `CREATE FUNCTION` defines makes a column default volatile:
/// declared VOLATILE, or not declared IMMUTABLE or STABLE (PostgreSQL's default is VOLATILE)
/// in a language PostgreSQL does not inline; a SQL function without a declaration is inlined
/// into the default, so its body decides (measured: a plain `SELECT 1` does not rewrite).
fn function_volatile(statement: &str) -> bool {
    let tokens = sql::tokenize(statement).unwrap_or_default();
    if tokens.iter().any(|t| t.is("IMMUTABLE") || t.is("STABLE")) {
        return false;
    }
    if tokens.iter().any(|t| t.is("VOLATILE")) {
        return true;
    }
    let language = tokens
        .iter()
        .position(|t| t.is("LANGUAGE"))
        .and_then(|at| tokens.get(at + 1))
        .map(|t| {
            statement[t.start..t.end]
                .trim_matches('\'')
                .to_ascii_lowercase()
        });
    if language.as_deref() != Some("sql") {
        return true;
    }
    tokens.iter().any(|t| match &t.kind {
        TokKind::Dollar { body, .. } | TokKind::Str(body) => {
            names::default_kind(body) == DefaultKind::Volatile
        }
        _ => false,
    })
}

/// A PL/pgSQL body that repeats its statements (`LOOP`, `WHILE`, `FOR`) and never commits.
fn loops_without_commit(body: &str) -> bool {
    let tokens = sql::tokenize(body).unwrap_or_default();
    tokens.iter().any(|t| t.is("LOOP")) && !tokens.iter().any(|t| t.is("COMMIT"))
}

/// A line after the first starts with a word that can start a statement: only then is a
/// statement read whole by its first word tokenized, to look for a missing `;`.
fn may_run_together(statement: &str) -> bool {
    statement.lines().skip(1).any(|line| {
        let word = sql::parse::first_word(line);
        let known = [
            "CREATE", "ALTER", "DROP", "COMMENT", "INSERT", "UPDATE", "DELETE", "SELECT", "GRANT",
            "REVOKE",
        ]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w));
        known || {
            let next = sql::parse::first_word(line.trim_start()[word.len()..].trim_start());
            fallback::unknown_command_start(&word.to_ascii_uppercase(), &next.to_ascii_uppercase())
        }
    })
}

/// `EXECUTE` in a PL/pgSQL body. The SQL of a plain string literal (`EXECUTE 'ALTER ...'`)
/// is analysed as statements of its own, at the literal's place in the script (at the
/// `EXECUTE` when the literal holds doubled quotes, whose text differs from the value).
/// SQL built at run time (`EXECUTE format(...)`, `'...' || x`) is unknown, never harmless.
fn execute(text: &str, span: std::ops::Range<usize>, head: String, out: &mut Vec<Analyzed>) {
    let statement = &text[span.clone()];
    let tokens = sql::tokenize(statement).unwrap_or_default();
    let literal = match tokens.as_slice() {
        [_, literal, rest @ ..]
            if rest.first().is_none_or(|t| {
                t.is_punct(";") || t.is("USING") || t.is("INTO") || t.is("STRICT")
            }) =>
        {
            match &literal.kind {
                TokKind::Str(value) => Some((literal, value)),
                _ => None,
            }
        }
        _ => None,
    };
    let Some((literal, value)) = literal else {
        out.push(Analyzed {
            span,
            changes: vec![Change::DynamicSql { head }],
            in_do_block: true,
            tokens: sql::Kept::default(),
        });
        return;
    };
    let inner = span.start + literal.start + 1..span.start + literal.end - 1;
    let exact = text.get(inner.clone()) == Some(value.as_str());
    for mut analyzed in analyze(value) {
        analyzed.span = if exact {
            inner.start + analyzed.span.start..inner.start + analyzed.span.end
        } else {
            // The tokens were of the string's text, not of the statement's.
            analyzed.tokens = sql::Kept::default();
            span.clone()
        };
        analyzed.in_do_block = true;
        out.push(analyzed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AST and the token classifier read time zone settings alike.
    #[test]
    fn both_paths_read_time_zone_settings_alike() {
        for (sql, utc, local) in [
            ("SET TimeZone = 'UTC'", true, false),
            ("SET timezone TO 'Etc/UTC'", true, false),
            ("SET LOCAL TIME ZONE 'UTC'", true, true),
            ("SET TIME ZONE 'Europe/Paris'", false, false),
            ("SET LOCAL timezone = 'America/Chicago'", false, true),
        ] {
            let expected = vec![Change::SetTimeZone { utc, local }];
            let Parsed::Ast(ast, _) = sql::parse(sql) else {
                panic!("sqlparser reads {sql}");
            };
            assert_eq!(ast::changes(&ast), expected, "AST: {sql}");
            let tokens = sql::tokenize(sql).unwrap();
            assert_eq!(fallback::changes(&tokens, sql), expected, "tokens: {sql}");
        }
    }

    #[test]
    fn do_block_statements_map_back_to_the_script() {
        let text = "SELECT 1;\nDO $$\nBEGIN\n  ALTER TABLE t DROP COLUMN c;\nEND $$;\n";
        let analyzed = analyze(text);
        assert_eq!(analyzed.len(), 3);
        assert_eq!(analyzed[1].changes, vec![Change::DoBlock]);
        assert_eq!(
            &text[analyzed[2].span.clone()],
            "ALTER TABLE t DROP COLUMN c;"
        );
        assert!(analyzed[2].in_do_block);
        assert!(matches!(analyzed[2].changes[0], Change::DropColumn { .. }));
    }

    /// `EXECUTE` of a literal in a DO body is analysed as its SQL, at the literal's place;
    /// SQL built at run time is dynamic, never harmless; `EXECUTE` of a prepared statement
    /// at the top level stays harmless.
    #[test]
    fn execute_in_a_do_block_is_read_or_reported() {
        let text = "DO $$\nBEGIN\n  EXECUTE 'ALTER TABLE t DROP COLUMN c';\nEND $$;\n";
        let analyzed = analyze(text);
        assert_eq!(analyzed.len(), 2, "{analyzed:?}");
        assert!(analyzed[1].in_do_block);
        assert!(
            matches!(&analyzed[1].changes[..], [Change::DropColumn { column, .. }] if column == "c"),
            "{:?}",
            analyzed[1].changes
        );
        assert_eq!(
            &text[analyzed[1].span.clone()],
            "ALTER TABLE t DROP COLUMN c"
        );
        let built = analyze("DO $$ BEGIN EXECUTE 'DROP TABLE ' || quote_ident(t); END $$;");
        assert!(
            matches!(&built[1].changes[..], [Change::DynamicSql { head }] if head.starts_with("EXECUTE 'DROP")),
            "{built:?}"
        );
        let top = analyze("EXECUTE prepared_insert(1);");
        assert!(
            !top[0]
                .changes
                .iter()
                .any(|c| matches!(c, Change::Unrecognised { .. } | Change::DynamicSql { .. })),
            "{:?}",
            top[0].changes
        );
    }

    /// Two statements run together are analysed apart; the second is marked.
    #[test]
    fn a_missing_semicolon_splits_the_statement() {
        let text = "ALTER TABLE a ADD COLUMN b int\n  CREATE INDEX i ON a (b);";
        let analyzed = analyze(text);
        assert_eq!(analyzed.len(), 2, "{analyzed:?}");
        assert_eq!(
            &text[analyzed[0].span.clone()],
            "ALTER TABLE a ADD COLUMN b int"
        );
        assert!(matches!(
            &analyzed[0].changes[..],
            [Change::AddColumn { .. }]
        ));
        assert_eq!(&text[analyzed[1].span.clone()], "CREATE INDEX i ON a (b);");
        assert!(matches!(
            &analyzed[1].changes[..],
            [Change::SyntaxError { .. }, Change::CreateIndex { .. }]
        ));
    }

    #[test]
    fn token_classifier_reads_what_sqlparser_rejects() {
        let first = |sql: &str| analyze(sql).remove(0).changes;
        assert_eq!(
            first("DROP INDEX CONCURRENTLY IF EXISTS a, b;"),
            vec![Change::DropIndex {
                names: vec!["a".into(), "b".into()],
                concurrently: true,
                if_exists: true,
                cascade: false
            }]
        );
        assert!(matches!(
            first("REINDEX INDEX CONCURRENTLY i;")[0],
            Change::Reindex {
                concurrently: true,
                ..
            }
        ));
        assert!(matches!(
            first("VACUUM (FULL, ANALYZE) t;")[0],
            Change::Rewrite {
                command: RewriteCommand::VacuumFull,
                ..
            }
        ));
        assert!(matches!(
            first("CLUSTER t USING i;")[0],
            Change::Rewrite { .. }
        ));
        assert!(matches!(
            first("ALTER SEQUENCE s RESTART 100;")[0],
            Change::AlterSequence { .. }
        ));
        assert!(matches!(
            first("ALTER TABLE p DETACH PARTITION c CONCURRENTLY;")[0],
            Change::DetachPartition {
                concurrently: true,
                ..
            }
        ));
        assert!(matches!(
            first("ALTER TABLE p ATTACH PARTITION c FOR VALUES FROM (1) TO (2);")[0],
            Change::AttachPartition { .. }
        ));
        assert!(matches!(
            first("ALTER TABLE t SET SCHEMA s;")[0],
            Change::SetSchema { .. }
        ));
        assert!(matches!(
            first("ALTER TABLE t ALTER CONSTRAINT fk DEFERRABLE;")[0],
            Change::AlterTableOther {
                what: "ALTER CONSTRAINT",
                ..
            }
        ));
        assert!(matches!(
            first("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();")[0],
            Change::CreateTrigger { .. }
        ));
        assert!(matches!(
            first("DROP TRIGGER IF EXISTS tr ON t;")[0],
            Change::DropTrigger { .. }
        ));
        assert!(matches!(
            first("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok';")[0],
            Change::EnumAddValue {
                if_not_exists: true,
                ..
            }
        ));
        assert!(matches!(
            first("ALTER TYPE mood RENAME VALUE 'a' TO 'b';")[0],
            Change::EnumRenameValue { .. }
        ));
        assert_eq!(
            first("COMMENT ON TABLE t IS 'it''s';"),
            vec![Change::Comment]
        );
        assert_eq!(first("GRANT SELECT ON t TO r;"), vec![Change::Grant]);
        assert!(matches!(
            first("REVOKE SELECT ON TABLE t FROM r;")[0],
            Change::Revoke { .. }
        ));
        assert_eq!(
            first("CREATE STATISTICS s ON a, b FROM t;"),
            vec![Change::CreateStatistics]
        );
        assert!(matches!(
            first("ALTER TABLE t RENAME COLUMN a TO b;")[0],
            Change::RenameColumn { .. }
        ));
        assert!(matches!(
            first("FROBNICATE the database;")[0],
            Change::Unrecognised { .. }
        ));
    }

    #[test]
    fn ast_path_reads_columns_and_constraints() {
        let changes = analyze(
            "ALTER TABLE public.Orders ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid(), ADD CONSTRAINT c CHECK (x IS NOT NULL) NOT VALID;",
        )
        .remove(0)
        .changes;
        let Change::AddColumn { table, column, .. } = &changes[0] else {
            panic!("{changes:?}")
        };
        assert_eq!(table, "orders");
        assert_eq!(column.default, Some(DefaultKind::Volatile));
        assert!(column.not_null);
        assert_eq!(
            changes[1],
            Change::AddConstraint {
                table: "orders".into(),
                constraint: ConstraintSpec {
                    name: Some("c".into()),
                    kind: ConstraintKind::Check {
                        not_null_of: Some("x".into())
                    },
                    not_valid: true
                }
            }
        );
    }

    /// A statement longer than ANALYZED_BYTES is classified by its head, and what was not
    /// read is said (SG505), at the statement's span.
    #[test]
    fn a_huge_statement_is_read_from_its_head() {
        let mut sql = String::from("INSERT INTO big (a, b) VALUES ");
        while sql.len() <= ANALYZED_BYTES + 10 {
            sql.push_str("(1, 'é'), ");
        }
        sql.push_str("(2, 'x');\nSELECT 1;");
        let analyzed = analyze(&sql);
        assert_eq!(analyzed.len(), 2);
        assert!(
            matches!(&analyzed[0].changes[..], [Change::Insert { .. }, Change::Unrecognised { head }]
                if head.starts_with("INSERT INTO big …: a statement of 1.0 MiB, read only as far as its first 1.0 MiB")),
            "{:?}",
            analyzed[0].changes
        );
        assert_eq!(analyzed[0].span, 0..sql.find('\n').unwrap());
    }
}
