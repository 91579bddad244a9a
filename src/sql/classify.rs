//! What a statement is to the code that runs scripts: transaction control, a change of
//! session state, a psql meta-command, or something that must run outside a transaction
//! block. The one answer to these questions: lint, apply, down, dry runs, trace,
//! check-reversible and report all ask here. Pure: no I/O.

use super::split::RawKind;
use super::tokens::tokenize;

/// Transaction control written into a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnControl {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`.
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint,
    /// `RELEASE [SAVEPOINT] name`.
    Release,
    /// `ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] name`.
    RollbackToSavepoint,
    /// `COMMIT AND CHAIN`, `ROLLBACK AND CHAIN`: ends a transaction and opens the next.
    Chain,
    /// `PREPARE TRANSACTION 'id'`.
    PrepareTransaction,
    /// `COMMIT PREPARED 'id'`.
    CommitPrepared,
    /// `ROLLBACK PREPARED 'id'`.
    RollbackPrepared,
}

impl TxnControl {
    /// How the statement is usually written, for messages.
    pub fn label(self) -> &'static str {
        match self {
            TxnControl::Begin => "BEGIN",
            TxnControl::Commit => "COMMIT",
            TxnControl::Rollback => "ROLLBACK",
            TxnControl::Savepoint => "SAVEPOINT",
            TxnControl::Release => "RELEASE SAVEPOINT",
            TxnControl::RollbackToSavepoint => "ROLLBACK TO SAVEPOINT",
            TxnControl::Chain => "COMMIT/ROLLBACK AND CHAIN",
            TxnControl::PrepareTransaction => "PREPARE TRANSACTION",
            TxnControl::CommitPrepared => "COMMIT PREPARED",
            TxnControl::RollbackPrepared => "ROLLBACK PREPARED",
        }
    }

    /// It acts on a savepoint of the open transaction, which it neither ends nor nests.
    pub fn is_savepoint(self) -> bool {
        matches!(
            self,
            TxnControl::Savepoint | TxnControl::Release | TxnControl::RollbackToSavepoint
        )
    }

    /// It ends the open transaction block (committed, rolled back or prepared).
    pub fn ends_block(self) -> bool {
        matches!(
            self,
            TxnControl::Commit
                | TxnControl::Rollback
                | TxnControl::Chain
                | TxnControl::PrepareTransaction
        )
    }
}

/// A change of the session's state that outlives the statement's transaction: it would
/// carry over into the next migration run on the same connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SessionChange {
    /// `SET name ...` (not `SET LOCAL`), `SET TIME ZONE`, `SET SCHEMA`, `SET NAMES`.
    Set,
    /// `RESET name`, `RESET ALL`.
    Reset,
    /// `SET [SESSION] ROLE`, `RESET ROLE`.
    Role,
    /// `SET [SESSION] SESSION AUTHORIZATION`, `RESET SESSION AUTHORIZATION`.
    SessionAuthorization,
    /// `DISCARD ...`.
    Discard,
}

/// What one piece of a script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Transaction(TxnControl),
    Session(SessionChange),
    /// A psql meta-command (`\set`, `\i`): stagegate sends SQL to the server, not to psql.
    PsqlMeta,
    /// The data lines of `COPY ... FROM stdin`.
    CopyData,
    /// Refuses to run inside a transaction block (SQLSTATE 25001).
    NoTransactionBlock,
    /// Anything else.
    Other,
}

/// Classifies one piece of a script, as [`super::split`] gives it.
pub(crate) fn classify(kind: RawKind, text: &str) -> Class {
    match kind {
        RawKind::PsqlMeta => Class::PsqlMeta,
        RawKind::CopyData => Class::CopyData,
        RawKind::Sql => classify_sql(text),
    }
}

/// Classifies one SQL statement (its text, `;` included or not).
pub(crate) fn classify_sql(text: &str) -> Class {
    let Some(tokens) = tokenize(text) else {
        return Class::Other;
    };
    let words: Vec<&str> = tokens
        .iter()
        .take_while(|t| !t.is_punct(";"))
        .map(|t| t.keyword().unwrap_or(""))
        .collect();
    if let Some(control) = control(&words) {
        return Class::Transaction(control);
    }
    if let Some(change) = session_change(&words) {
        return Class::Session(change);
    }
    if needs_no_transaction_block(&words) {
        return Class::NoTransactionBlock;
    }
    Class::Other
}

/// The statement's transaction control, if it is one.
pub(crate) fn transaction_control(text: &str) -> Option<TxnControl> {
    // Every transaction control starts with one of these words: a statement whose first
    // word is another one is not tokenized (most are not, and lint asks of every one).
    const FIRST: &[&str] = &[
        "BEGIN",
        "START",
        "END",
        "COMMIT",
        "ABORT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "PREPARE",
    ];
    if let Some(word) = first_plain_word(text)
        && !FIRST.iter().any(|w| word.eq_ignore_ascii_case(w))
    {
        return None;
    }
    match classify_sql(text) {
        Class::Transaction(control) => Some(control),
        _ => None,
    }
}

/// The statement's first word when it starts, after whitespace and comments, with an ASCII
/// letter or `_`: its ASCII letters, digits, `_` and `$` (the tokenizer's word there is this
/// one or longer). `None` when it starts otherwise, or a comment does not end.
fn first_plain_word(text: &str) -> Option<&str> {
    let mut rest = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    loop {
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n')?.1;
        } else if rest.starts_with("/*") {
            rest = after_block_comment(rest)?;
        } else {
            break;
        }
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    }
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The text after the block comment `text` starts with (comments nest); `None` when it does
/// not end.
fn after_block_comment(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(&text[i..]);
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn control(words: &[&str]) -> Option<TxnControl> {
    let at = |i: usize| words.get(i).copied().unwrap_or("");
    // `ROLLBACK`/`COMMIT` may be followed by `WORK` or `TRANSACTION`.
    let after_noise = |i: usize| {
        if matches!(at(i), "WORK" | "TRANSACTION") {
            i + 1
        } else {
            i
        }
    };
    let chained = |i: usize| at(i) == "AND" && at(i + 1) == "CHAIN";
    Some(match at(0) {
        "BEGIN" if words.len() == 1 || is_begin_option(at(1)) => TxnControl::Begin,
        "START" if at(1) == "TRANSACTION" => TxnControl::Begin,
        "END" if words.len() == 1 || matches!(at(1), "WORK" | "TRANSACTION" | "AND") => {
            if chained(after_noise(1)) {
                TxnControl::Chain
            } else {
                TxnControl::Commit
            }
        }
        "COMMIT" if at(1) == "PREPARED" => TxnControl::CommitPrepared,
        "COMMIT" if chained(after_noise(1)) => TxnControl::Chain,
        "COMMIT" => TxnControl::Commit,
        "ABORT" if chained(after_noise(1)) => TxnControl::Chain,
        "ABORT" => TxnControl::Rollback,
        "ROLLBACK" if at(1) == "PREPARED" => TxnControl::RollbackPrepared,
        "ROLLBACK" if at(after_noise(1)) == "TO" => TxnControl::RollbackToSavepoint,
        "ROLLBACK" if chained(after_noise(1)) => TxnControl::Chain,
        "ROLLBACK" => TxnControl::Rollback,
        "SAVEPOINT" => TxnControl::Savepoint,
        "RELEASE" => TxnControl::Release,
        "PREPARE" if at(1) == "TRANSACTION" => TxnControl::PrepareTransaction,
        _ => return None,
    })
}

/// What may follow `BEGIN` in a transaction-starting `BEGIN` (not a `BEGIN ATOMIC` body,
/// which never stands alone).
fn is_begin_option(word: &str) -> bool {
    matches!(
        word,
        "WORK" | "TRANSACTION" | "ISOLATION" | "READ" | "DEFERRABLE" | "NOT" | ""
    )
}

fn session_change(words: &[&str]) -> Option<SessionChange> {
    let at = |i: usize| words.get(i).copied().unwrap_or("");
    match at(0) {
        "SET" => {
            let mut i = 1;
            match at(i) {
                // Ends with its transaction.
                "LOCAL" | "CONSTRAINTS" | "TRANSACTION" => return None,
                "SESSION" => i += 1,
                _ => {}
            }
            Some(match at(i) {
                "ROLE" => SessionChange::Role,
                "AUTHORIZATION" if i == 2 => SessionChange::SessionAuthorization,
                "SESSION" if at(i + 1) == "AUTHORIZATION" => SessionChange::SessionAuthorization,
                // `SET SESSION CHARACTERISTICS AS TRANSACTION ...` is a session default too.
                _ => SessionChange::Set,
            })
        }
        "RESET" => Some(match at(1) {
            "ROLE" => SessionChange::Role,
            "SESSION" if at(2) == "AUTHORIZATION" => SessionChange::SessionAuthorization,
            _ => SessionChange::Reset,
        }),
        "DISCARD" => Some(SessionChange::Discard),
        _ => None,
    }
}

fn needs_no_transaction_block(words: &[&str]) -> bool {
    let at = |i: usize| words.get(i).copied().unwrap_or("");
    let has = |word: &str| words.contains(&word);
    match at(0) {
        "CREATE" if has("INDEX") && has("CONCURRENTLY") => true,
        "DROP" if at(1) == "INDEX" && has("CONCURRENTLY") => true,
        "REINDEX" => has("CONCURRENTLY") || has("DATABASE") || has("SYSTEM") || has("SCHEMA"),
        "VACUUM" => true,
        "CREATE" | "DROP" if matches!(at(1), "DATABASE" | "TABLESPACE") => true,
        "ALTER" if at(1) == "SYSTEM" => true,
        "ALTER" if at(1) == "DATABASE" && has("TABLESPACE") => true,
        "DISCARD" if at(1) == "ALL" => true,
        // The words of a statement include its unquoted names, so a word is looked for only
        // where the syntax puts it: `INSERT INTO subscription ...` and `ALTER TABLE
        // subscription ...` run in a block like any other statement.
        "CREATE" | "ALTER" | "DROP" if at(1) == "SUBSCRIPTION" => true,
        // ALTER TABLE [IF EXISTS] [ONLY] t DETACH PARTITION p CONCURRENTLY
        "ALTER" if at(1) == "TABLE" && has("DETACH") => {
            words.iter().rev().find(|w| !w.is_empty()) == Some(&"CONCURRENTLY")
        }
        _ => false,
    }
}

/// Why a transaction-control statement cannot be run where it stands, as the hazard and
/// the remedy, or `None`. `wrapped`: stagegate runs the whole script in a transaction of its
/// own. `block_open`: an explicit `BEGIN` of the script is open (only in a script that is
/// not wrapped).
pub(crate) fn refusal(
    control: TxnControl,
    wrapped: bool,
    block_open: bool,
) -> Option<StatementRefusal> {
    use TxnControl as T;
    let what = control.label();
    let refusal = |hazard: String, remedy: &'static str| Some(StatementRefusal { hazard, remedy });
    match control {
        T::PrepareTransaction | T::CommitPrepared | T::RollbackPrepared => refusal(
            format!(
                "`{what}` (two-phase commit) cannot be run by stagegate: a prepared transaction \
                 keeps its locks until someone commits it by hand"
            ),
            "remove it from the migration",
        ),
        T::Chain => refusal(
            format!("`{what}` opens a transaction block that stagegate does not see"),
            "end the block with COMMIT and open the next one with BEGIN",
        ),
        _ if wrapped && control.is_savepoint() => None,
        _ if wrapped => refusal(
            format!(
                "`{what}` in a migration that stagegate runs in a transaction of its own breaks \
                 its all-or-nothing apply"
            ),
            "remove it; mark the migration `-- stagegate:no-transaction` if it must control \
             transactions itself",
        ),
        T::Begin if block_open => refusal(
            format!(
                "`{what}` inside a transaction block the script opened before: blocks do not nest"
            ),
            "close the first block with COMMIT before opening another",
        ),
        T::Begin => None,
        _ if !block_open => refusal(
            format!("`{what}` outside a transaction block"),
            "open the block with BEGIN first, or remove the statement",
        ),
        _ => None,
    }
}

/// Why stagegate refuses a statement: what goes wrong, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatementRefusal {
    pub hazard: String,
    pub remedy: &'static str,
}

impl std::fmt::Display for StatementRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.hazard, self.remedy)
    }
}

/// How a script's statements run: alone, or as one explicit transaction block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Statement `index` on its own.
    Alone(usize),
    /// Statements `first..=last`, from the script's `BEGIN` to the `COMMIT` or `ROLLBACK`
    /// that ends it: one unit, done only once the server committed it.
    Block { first: usize, last: usize },
}

impl Unit {
    pub(crate) fn first(&self) -> usize {
        match self {
            Unit::Alone(index) => *index,
            Unit::Block { first, .. } => *first,
        }
    }

    pub(crate) fn last(&self) -> usize {
        match self {
            Unit::Alone(index) => *index,
            Unit::Block { last, .. } => *last,
        }
    }
}

/// A problem with a script's transaction control: at statement `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub index: usize,
    pub refusal: StatementRefusal,
}

/// The units of a script whose statements have these classes, or every problem with its
/// transaction control. `wrapped`: stagegate runs the whole script in one transaction (then
/// the script is one unit of its own; the units say nothing).
pub(crate) fn units(classes: &[Class], wrapped: bool) -> Result<Vec<Unit>, Vec<Problem>> {
    let mut units = Vec::new();
    let mut problems = Vec::new();
    let mut open: Option<usize> = None;
    for (index, class) in classes.iter().enumerate() {
        let Class::Transaction(control) = *class else {
            if open.is_none() {
                units.push(Unit::Alone(index));
            }
            continue;
        };
        if let Some(refusal) = refusal(control, wrapped, open.is_some()) {
            problems.push(Problem { index, refusal });
            continue;
        }
        if wrapped {
            units.push(Unit::Alone(index));
            continue;
        }
        match (control, open) {
            (TxnControl::Begin, _) => open = Some(index),
            (c, Some(first)) if c.ends_block() => {
                units.push(Unit::Block { first, last: index });
                open = None;
            }
            _ => {}
        }
    }
    if let Some(first) = open {
        problems.push(Problem {
            index: first,
            refusal: StatementRefusal {
                hazard: "`BEGIN` opens a transaction block that the script never closes"
                    .to_string(),
                remedy: "end the block with COMMIT",
            },
        });
    }
    if problems.is_empty() {
        Ok(units)
    } else {
        Err(problems)
    }
}

/// A script as stagegate runs it: its SQL statements, classified, and the units they run
/// in. Every executor (apply, down, dry runs, trace, check-reversible, report) runs a
/// script from its plan.
#[derive(Debug, Clone)]
pub(crate) struct ScriptPlan {
    /// The SQL statements, in order (psql meta-commands and COPY data are refused).
    pub statements: Vec<PlannedStatement>,
    /// For a script stagegate does not wrap in a transaction: the statements alone and the
    /// explicit blocks, in order. For a wrapped script, every statement alone.
    pub units: Vec<Unit>,
}

/// One statement of a [`ScriptPlan`].
#[derive(Debug, Clone)]
pub(crate) struct PlannedStatement {
    pub raw: super::RawStatement,
    pub class: Class,
}

impl PlannedStatement {
    pub(crate) fn text<'a>(&self, script: &'a str) -> &'a str {
        self.raw.text(script)
    }
}

/// Why a script cannot be run: at `line` (1-based in the text given to [`plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanProblem {
    pub line: usize,
    pub message: String,
}

/// The plan of `text`, or every reason stagegate cannot run it. `wrapped`: stagegate runs
/// it in a transaction of its own.
pub(crate) fn plan(text: &str, wrapped: bool) -> Result<ScriptPlan, Vec<PlanProblem>> {
    let mut statements = Vec::new();
    let mut problems = Vec::new();
    for raw in super::split(text) {
        let class = classify(raw.kind, raw.text(text));
        let what = match class {
            Class::PsqlMeta => format!("psql meta-command `{}`", raw.text(text).trim()),
            Class::CopyData => "COPY ... FROM stdin data".to_string(),
            _ => {
                statements.push(PlannedStatement { raw, class });
                continue;
            }
        };
        problems.push(PlanProblem {
            line: raw.line,
            message: format!(
                "{what} cannot be run by stagegate, which sends SQL to the server directly; \
                 remove it from the migration"
            ),
        });
    }
    let classes: Vec<Class> = statements.iter().map(|s| s.class).collect();
    let units = match units(&classes, wrapped) {
        Ok(units) => units,
        Err(found) => {
            problems.extend(found.into_iter().map(|p| PlanProblem {
                line: statements[p.index].raw.line,
                message: p.refusal.to_string(),
            }));
            Vec::new()
        }
    };
    if problems.is_empty() {
        Ok(ScriptPlan { statements, units })
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_transaction_control() {
        use TxnControl as T;
        for (sql, expected) in [
            ("BEGIN;", T::Begin),
            ("begin work", T::Begin),
            ("BEGIN ISOLATION LEVEL SERIALIZABLE;", T::Begin),
            ("START TRANSACTION READ WRITE;", T::Begin),
            ("COMMIT;", T::Commit),
            ("COMMIT WORK;", T::Commit),
            ("END;", T::Commit),
            ("END TRANSACTION;", T::Commit),
            ("ABORT;", T::Rollback),
            ("ROLLBACK;", T::Rollback),
            ("ROLLBACK TRANSACTION;", T::Rollback),
            ("ROLLBACK TO SAVEPOINT s;", T::RollbackToSavepoint),
            ("ROLLBACK WORK TO s;", T::RollbackToSavepoint),
            ("SAVEPOINT s;", T::Savepoint),
            ("RELEASE SAVEPOINT s;", T::Release),
            ("RELEASE s;", T::Release),
            ("COMMIT AND CHAIN;", T::Chain),
            ("ROLLBACK AND CHAIN;", T::Chain),
            ("PREPARE TRANSACTION 'x';", T::PrepareTransaction),
            ("COMMIT PREPARED 'x';", T::CommitPrepared),
            ("ROLLBACK PREPARED 'x';", T::RollbackPrepared),
        ] {
            assert_eq!(transaction_control(sql), Some(expected), "{sql}");
        }
        for sql in [
            "PREPARE q AS SELECT 1;",
            "ALTER TABLE t ADD COLUMN c int;",
            "CREATE TABLE beginning (id int);",
            "SELECT 'COMMIT';",
            "-- COMMIT\nSELECT 1;",
        ] {
            assert_eq!(transaction_control(sql), None, "{sql}");
        }
    }

    #[test]
    fn the_first_word_shortcut_agrees_with_the_tokens() {
        // Whatever the comments and words before it, the shortcut answers as the tokens do.
        for sql in [
            "-- a note\nBEGIN;",
            "/* one /* nested */ still */ COMMIT;",
            "/* unterminated COMMIT;",
            "-- only a comment",
            "\t\n  rollback to s;",
            "begin$x;",
            "BEGINNING;",
            "\u{a0}BEGIN;",
            "\"BEGIN\";",
            "_begin;",
            "(COMMIT);",
            "E'x';",
            "/*/ ALTER */ BEGIN;",
            "-- c\n/* d */\n-- e\nALTER TABLE t ADD COLUMN c int;",
            "",
        ] {
            let by_tokens = match classify_sql(sql) {
                Class::Transaction(control) => Some(control),
                _ => None,
            };
            assert_eq!(transaction_control(sql), by_tokens, "{sql:?}");
        }
        assert_eq!(first_plain_word("-- c\n/* d */ alter t"), Some("alter"));
        assert_eq!(first_plain_word("/* open"), None);
        assert_eq!(first_plain_word("\"q\""), None);
    }

    #[test]
    fn session_state_and_what_needs_no_transaction_block() {
        use SessionChange as S;
        for (sql, expected) in [
            ("SET search_path = other;", Class::Session(S::Set)),
            ("SET SESSION search_path TO other;", Class::Session(S::Set)),
            ("SET TIME ZONE 'UTC';", Class::Session(S::Set)),
            ("RESET search_path;", Class::Session(S::Reset)),
            ("SET ROLE app;", Class::Session(S::Role)),
            ("RESET ROLE;", Class::Session(S::Role)),
            (
                "SET SESSION AUTHORIZATION app;",
                Class::Session(S::SessionAuthorization),
            ),
            ("DISCARD TEMP;", Class::Session(S::Discard)),
            ("SET LOCAL search_path = other;", Class::Other),
            ("SET CONSTRAINTS ALL DEFERRED;", Class::Other),
            (
                "CREATE INDEX CONCURRENTLY i ON t (a);",
                Class::NoTransactionBlock,
            ),
            ("DROP INDEX CONCURRENTLY i;", Class::NoTransactionBlock),
            ("VACUUM t;", Class::NoTransactionBlock),
            ("REINDEX TABLE CONCURRENTLY t;", Class::NoTransactionBlock),
            (
                "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;",
                Class::NoTransactionBlock,
            ),
            ("CREATE INDEX i ON t (a);", Class::Other),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p;",
                Class::NoTransactionBlock,
            ),
            (
                "ALTER SUBSCRIPTION s REFRESH PUBLICATION;",
                Class::NoTransactionBlock,
            ),
            ("DROP SUBSCRIPTION IF EXISTS s;", Class::NoTransactionBlock),
            // Names that are words of that syntax: statements like any other.
            ("CREATE TABLE subscription (id bigint);", Class::Other),
            ("INSERT INTO subscription VALUES (1);", Class::Other),
            (
                "ALTER TABLE subscription ADD COLUMN plan text;",
                Class::Other,
            ),
            ("ALTER TABLE p DETACH PARTITION c;", Class::Other),
            ("ALTER TABLE p DETACH PARTITION c FINALIZE;", Class::Other),
            (
                "UPDATE jobs SET detach = true WHERE concurrently;",
                Class::Other,
            ),
        ] {
            assert_eq!(classify_sql(sql), expected, "{sql}");
        }
        assert_eq!(classify(RawKind::PsqlMeta, "\\set x"), Class::PsqlMeta);
    }

    fn classes(sql: &[&str]) -> Vec<Class> {
        sql.iter().map(|s| classify_sql(s)).collect()
    }

    #[test]
    fn blocks_are_units_and_misplaced_control_is_refused() {
        let script = classes(&[
            "CREATE TABLE t (id int);",
            "BEGIN;",
            "INSERT INTO t VALUES (1);",
            "SAVEPOINT s;",
            "ROLLBACK TO SAVEPOINT s;",
            "COMMIT;",
            "VACUUM t;",
        ]);
        assert_eq!(
            units(&script, false).unwrap(),
            [
                Unit::Alone(0),
                Unit::Block { first: 1, last: 5 },
                Unit::Alone(6)
            ]
        );
        let problems = units(&script, true).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.index).collect::<Vec<_>>(), [1, 5]);
        let unclosed = units(&classes(&["BEGIN;", "SELECT 1;"]), false).unwrap_err();
        assert_eq!(unclosed[0].index, 0);
        let stray = units(&classes(&["SAVEPOINT s;", "COMMIT;"]), false).unwrap_err();
        assert_eq!(stray.len(), 2);
        let nested = units(&classes(&["BEGIN;", "BEGIN;", "COMMIT;"]), false).unwrap_err();
        assert_eq!(nested[0].index, 1);
        assert!(units(&classes(&["PREPARE TRANSACTION 'x';"]), false).is_err());
    }
}
