//! The token classifier: [`Change`]s from the tokens of a statement sqlparser rejected (or
//! would misread). It knows the PostgreSQL commands a migration linter must not miss.

use crate::sql::{Tok, TokKind};

use super::model::LockMode;
use super::model::{
    Change, ColumnSpec, ConstraintKind, ConstraintSpec, Name, ObjectKind, POLICY_ALL,
    POLICY_DELETE, POLICY_INSERT, POLICY_SELECT, POLICY_UPDATE, Reach, RewriteCommand,
};
use super::names::{default_kind, join, normalize_ident};
use super::types::ColumnType;

/// A cursor over a statement's tokens.
struct Cursor<'a> {
    toks: &'a [Tok],
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos)
    }

    fn at(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is(keyword))
    }

    /// Consumes `keywords` if they come next, in order.
    fn eat(&mut self, keywords: &[&str]) -> bool {
        let matches = keywords
            .iter()
            .enumerate()
            .all(|(i, k)| self.toks.get(self.pos + i).is_some_and(|t| t.is(k)));
        if matches {
            self.pos += keywords.len();
        }
        matches
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_punct(punct)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A possibly qualified name (`a`, `s.a`, `"A"."b"`).
    fn name(&mut self) -> Option<Name> {
        let mut parts = Vec::new();
        loop {
            let tok = self.peek()?;
            let TokKind::Word { value, quoted, .. } = &tok.kind else {
                break;
            };
            parts.push(if *quoted {
                value.clone()
            } else {
                value.to_ascii_lowercase()
            });
            self.pos += 1;
            if !self.eat_punct(".") {
                break;
            }
        }
        (!parts.is_empty()).then(|| join(parts))
    }

    /// Skips a parenthesised group if one comes next.
    fn skip_parens(&mut self) {
        if !self.peek().is_some_and(|t| t.is_punct("(")) {
            return;
        }
        let mut depth = 0;
        while let Some(tok) = self.peek() {
            self.pos += 1;
            if tok.is_punct("(") {
                depth += 1;
            } else if tok.is_punct(")") {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
        }
    }

    /// Upper-cased keywords of the rest, for simple "contains" questions.
    fn rest_has(&self, keyword: &str) -> bool {
        self.toks[self.pos.min(self.toks.len())..]
            .iter()
            .any(|t| t.is(keyword))
    }
}

/// Classifies a statement from its tokens. `text` is the statement text the tokens index.
pub(super) fn changes(toks: &[Tok], text: &str) -> Vec<Change> {
    let mut c = Cursor { toks, text, pos: 0 };
    let Some(first) = c.peek().and_then(Tok::keyword) else {
        return vec![unrecognised(toks, text)];
    };
    c.pos = 1;
    let change = match first {
        "DO" => Change::DoBlock,
        "VACUUM" => return vacuum(&mut c),
        "CLUSTER" => {
            c.eat(&["VERBOSE"]);
            c.skip_parens();
            Change::Rewrite {
                table: c.name(),
                command: RewriteCommand::Cluster,
            }
        }
        "REINDEX" => {
            c.skip_parens();
            let many = c.at("SCHEMA") || c.at("DATABASE") || c.at("SYSTEM");
            c.pos += 1;
            let concurrently = c.eat(&["CONCURRENTLY"]);
            Change::Reindex {
                target: c.name(),
                concurrently,
                many,
            }
        }
        "ANALYZE" | "SHOW" | "SELECT" | "WITH" | "VALUES" | "TABLE" | "EXPLAIN" | "COPY"
        | "CALL" | "NOTIFY" | "LISTEN" | "UNLISTEN" | "DISCARD" | "CHECKPOINT" | "PREPARE"
        | "EXECUTE" | "DEALLOCATE" | "RESET" | "SECURITY" | "IMPORT" | "LOAD" | "FETCH"
        | "DECLARE" | "CLOSE" | "MOVE" => Change::Harmless,
        "SET" => {
            let local = c.eat(&["LOCAL"]);
            c.eat(&["SESSION"]);
            match c.name().as_deref() {
                Some(zone @ ("timezone" | "time")) if zone == "timezone" || c.eat(&["ZONE"]) => {
                    c.eat_punct("=");
                    c.eat(&["TO"]);
                    let value = c.peek().map(|t| text[t.start..t.end].trim_matches('\''));
                    let alone = c.toks.len() <= c.pos + 1
                        || c.toks.get(c.pos + 1).is_some_and(|t| t.is_punct(";"));
                    Change::SetTimeZone {
                        utc: alone && value.is_some_and(super::names::is_utc_zone),
                        local,
                    }
                }
                Some("lock_timeout") => {
                    c.eat_punct("=");
                    c.eat(&["TO"]);
                    let zero = c.peek().is_some_and(|t| {
                        let v = &text[t.start..t.end];
                        v.trim_matches('\'').trim() == "0"
                    });
                    Change::SetLockTimeout { enabled: !zero }
                }
                Some("statement_timeout") => Change::SetStatementTimeout,
                _ => Change::Harmless,
            }
        }
        "COMMENT" => Change::Comment,
        "GRANT" => Change::Grant,
        "REVOKE" => revoke(&mut c),
        "LOCK" => {
            c.eat(&["TABLE"]);
            c.eat(&["ONLY"]);
            let mut tables = Vec::new();
            while let Some(name) = c.name() {
                tables.push(name);
                if !c.eat_punct(",") {
                    break;
                }
            }
            let words: Vec<&str> = c.toks[c.pos.min(c.toks.len())..]
                .iter()
                .filter_map(Tok::keyword)
                .collect();
            let mode = match words.as_slice() {
                ["IN", "ACCESS", "SHARE", ..] => LockMode::AccessShare,
                ["IN", "ROW", "SHARE", ..] => LockMode::RowShare,
                ["IN", "ROW", "EXCLUSIVE", ..] => LockMode::RowExclusive,
                ["IN", "SHARE", "UPDATE", ..] => LockMode::ShareUpdateExclusive,
                ["IN", "SHARE", "ROW", ..] => LockMode::ShareRowExclusive,
                ["IN", "SHARE", ..] => LockMode::Share,
                ["IN", "EXCLUSIVE", ..] => LockMode::Exclusive,
                _ => LockMode::AccessExclusive,
            };
            Change::LockTable { tables, mode }
        }
        "REFRESH" => {
            c.eat(&["MATERIALIZED", "VIEW"]);
            let concurrently = c.eat(&["CONCURRENTLY"]);
            Change::RefreshMaterializedView {
                name: c.name().unwrap_or_default(),
                concurrently,
            }
        }
        "UPDATE" => {
            c.eat(&["ONLY"]);
            Change::Update {
                table: c.name().unwrap_or_default(),
                reach: if c.rest_has("WHERE") {
                    Reach::Selective
                } else if c.rest_has("FROM") {
                    Reach::WholeTable
                } else {
                    Reach::All
                },
            }
        }
        "DELETE" => {
            c.eat(&["FROM"]);
            c.eat(&["ONLY"]);
            Change::Delete {
                table: c.name().unwrap_or_default(),
                reach: if c.rest_has("WHERE") {
                    Reach::Selective
                } else if c.rest_has("USING") {
                    Reach::WholeTable
                } else {
                    Reach::All
                },
            }
        }
        "INSERT" => {
            c.eat(&["INTO"]);
            Change::Insert {
                table: c.name().unwrap_or_default(),
                reads_all_of: None,
            }
        }
        "TRUNCATE" => {
            c.eat(&["TABLE"]);
            let mut tables = Vec::new();
            loop {
                c.eat(&["ONLY"]);
                let Some(name) = c.name() else { break };
                tables.push(name);
                c.eat_punct("*");
                if !c.eat_punct(",") {
                    break;
                }
            }
            Change::Truncate {
                tables,
                cascade: c.rest_has("CASCADE"),
            }
        }
        "ALTER" => return alter(&mut c),
        "CREATE" => create(&mut c),
        "DROP" => drop(&mut c),
        _ => unrecognised(toks, text),
    };
    vec![change]
}

/// Where a second statement starts inside what the splitter gave as one, because the `;`
/// between them is missing: the byte offset (in `text`) of the first token of a line that
/// can only start a statement (`CREATE TABLE`, `ALTER TABLE`, `DROP INDEX`, `COMMENT ON`,
/// `GRANT ... TO`, `REVOKE ... FROM`), outside parentheses. Statements that hold other
/// commands (`CREATE SCHEMA` elements, `CREATE RULE` actions, `ALTER EXTENSION ... DROP`,
/// `ALTER DEFAULT PRIVILEGES ... GRANT`, `BEGIN ATOMIC` bodies) are left alone,
/// and inside an `ALTER` statement only `ALTER TABLE` and `DROP TABLE` count (`ALTER type
/// TYPE text` alters a column named `type`).
pub(super) fn run_together(toks: &[Tok], text: &str) -> Option<usize> {
    let first = toks.first()?;
    let second = toks.get(1).and_then(Tok::keyword).unwrap_or("");
    let word = |i: usize| toks.get(i).and_then(Tok::keyword).unwrap_or("");
    let holds_commands = match first.keyword()? {
        "CREATE" => {
            let what = if second == "OR" { word(3) } else { second };
            matches!(what, "SCHEMA" | "RULE")
        }
        "ALTER" => matches!(second, "EXTENSION" | "OPERATOR" | "DEFAULT"),
        _ => false,
    } || toks
        .windows(2)
        .any(|w| w[0].is("BEGIN") && w[1].is("ATOMIC"));
    if holds_commands {
        return None;
    }
    let in_alter = first.is("ALTER");
    // Statements no query or data change can follow inside of: there `INSERT INTO`,
    // `UPDATE t SET`, `DELETE FROM` (and, but for CREATE TABLE ... AS and INSERT ...
    // SELECT, `SELECT`) at the start of a line begin a new statement. (`CREATE VIEW ... AS`,
    // `CREATE POLICY ... FOR SELECT`, `CREATE TRIGGER ... BEFORE UPDATE`, `GRANT SELECT` can
    // hold them.)
    let creates = if second == "UNIQUE" { word(2) } else { second };
    let data_ok = match first.keyword().unwrap_or("") {
        "ALTER" => second == "TABLE",
        "CREATE" => matches!(
            creates,
            "TABLE" | "INDEX" | "TYPE" | "SEQUENCE" | "EXTENSION" | "DOMAIN"
        ),
        "DROP" | "COMMENT" | "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE" => true,
        _ => false,
    };
    let select_ok = data_ok && !(first.is("CREATE") && creates == "TABLE") && !first.is("INSERT");
    let mut depth = 0i32;
    for (i, tok) in toks.iter().enumerate().skip(1) {
        if tok.is_punct("(") {
            depth += 1;
        } else if tok.is_punct(")") {
            depth -= 1;
        }
        if depth != 0 || !text[toks[i - 1].end..tok.start].contains('\n') {
            continue;
        }
        let next = word(i + 1);
        let starts = match tok.keyword() {
            Some("CREATE") if !in_alter => {
                let mut j = i + 1;
                while matches!(
                    word(j),
                    "OR" | "REPLACE" | "UNIQUE" | "TEMP" | "TEMPORARY" | "UNLOGGED"
                ) {
                    j += 1;
                }
                STATEMENT_OBJECTS.contains(&word(j))
            }
            Some("CREATE") => true,
            Some("ALTER") | Some("DROP") if in_alter => next == "TABLE",
            Some("ALTER") | Some("DROP") => STATEMENT_OBJECTS.contains(&next),
            Some("COMMENT") => next == "ON",
            Some("INSERT") => data_ok && next == "INTO",
            Some("DELETE") => data_ok && next == "FROM",
            Some("UPDATE") => {
                data_ok
                    && !matches!(next, "SET" | "")
                    && toks.iter().skip(i + 2).take(4).any(|t| t.is("SET"))
            }
            Some("SELECT") => select_ok,
            Some("GRANT") => privilege_command(toks, i, "TO"),
            Some("REVOKE") => privilege_command(toks, i, "FROM"),
            Some(word) => unknown_command_start(word, next),
            _ => false,
        };
        if starts {
            return Some(tok.start);
        }
    }
    None
}

/// Whether the `GRANT` or `REVOKE` at token `at` begins a command of its own: a word follows
/// it, but not `OPTION` (`WITH GRANT OPTION`, `REVOKE GRANT OPTION FOR`) nor `FROM` (a column
/// named `revoke`), and `to` (`TO` for a grant, `FROM` for a revoke) comes later. Statements
/// that hold such commands (`ALTER DEFAULT PRIVILEGES`, `CREATE SCHEMA`) are left alone before
/// this is asked.
fn privilege_command(toks: &[Tok], at: usize, to: &str) -> bool {
    let next = toks.get(at + 1);
    next.is_some_and(|t| matches!(t.kind, TokKind::Word { .. }) && !t.is("OPTION") && !t.is("FROM"))
        && toks.iter().skip(at + 2).any(|t| t.is(to))
}

/// Whether a line starting with `word` then `next` starts a command PostgreSQL does not
/// have (`ALTR TABLE`, `CRATE INDEX`): `word` is no SQL keyword at all (so no clause of the
/// statement before goes on with it) and `next` names a kind of object, as after a command.
/// (`TYPE` is left out: `column TYPE bigint` goes on an `ALTER COLUMN`.)
pub(super) fn unknown_command_start(word: &str, next: &str) -> bool {
    next != "TYPE"
        && STATEMENT_OBJECTS.contains(&next)
        && sqlparser::keywords::ALL_KEYWORDS
            .binary_search(&word)
            .is_err()
}

/// Objects that, after `CREATE`, `ALTER` or `DROP` at the start of a line, begin a statement.
const STATEMENT_OBJECTS: &[&str] = &[
    "TABLE",
    "INDEX",
    "VIEW",
    "MATERIALIZED",
    "SEQUENCE",
    "TYPE",
    "DOMAIN",
    "FUNCTION",
    "PROCEDURE",
    "TRIGGER",
    "EXTENSION",
    "SCHEMA",
    "POLICY",
];

fn unrecognised(toks: &[Tok], text: &str) -> Change {
    let head: Vec<&str> = toks.iter().take(3).map(|t| &text[t.start..t.end]).collect();
    Change::Unrecognised {
        head: head.join(" "),
    }
}

fn vacuum(c: &mut Cursor) -> Vec<Change> {
    let mut full = false;
    if c.peek().is_some_and(|t| t.is_punct("(")) {
        let start = c.pos;
        c.skip_parens();
        full = c.toks[start..c.pos].iter().any(|t| t.is("FULL"));
    }
    while let Some(word) = c.peek().and_then(Tok::keyword) {
        match word {
            "FULL" => full = true,
            "FREEZE" | "VERBOSE" | "ANALYZE" | "ANALYSE" => {}
            _ => break,
        }
        c.pos += 1;
    }
    if !full {
        return vec![Change::Vacuum];
    }
    let mut tables = Vec::new();
    while let Some(name) = c.name() {
        tables.push(name);
        c.skip_parens();
        if !c.eat_punct(",") {
            break;
        }
    }
    if tables.is_empty() {
        return vec![Change::Rewrite {
            table: None,
            command: RewriteCommand::VacuumFull,
        }];
    }
    tables
        .into_iter()
        .map(|table| Change::Rewrite {
            table: Some(table),
            command: RewriteCommand::VacuumFull,
        })
        .collect()
}

fn revoke(c: &mut Cursor) -> Change {
    while let Some(tok) = c.peek() {
        c.pos += 1;
        if tok.is("ON") {
            break;
        }
    }
    if c.eat(&["FUNCTION"]) || c.eat(&["PROCEDURE"]) || c.eat(&["ROUTINE"]) {
        return Change::Revoke {
            tables: Vec::new(),
            functions: names(c),
        };
    }
    if c.at("ALL") || c.at("SCHEMA") || c.at("SEQUENCE") {
        return Change::Revoke {
            tables: Vec::new(),
            functions: Vec::new(),
        };
    }
    c.eat(&["TABLE"]);
    let mut tables = Vec::new();
    while let Some(name) = c.name() {
        tables.push(name);
        if !c.eat_punct(",") {
            break;
        }
    }
    Change::Revoke {
        tables,
        functions: Vec::new(),
    }
}

fn create(c: &mut Cursor) -> Change {
    c.eat(&["OR", "REPLACE"]);
    let unique = c.eat(&["UNIQUE"]);
    // In any order and number: `GLOBAL TEMPORARY`, `TRUSTED PROCEDURAL`.
    const MODIFIERS: &[&str] = &[
        "TEMP",
        "TEMPORARY",
        "UNLOGGED",
        "GLOBAL",
        "LOCAL",
        "CONSTRAINT",
        "RECURSIVE",
        "TRUSTED",
        "PROCEDURAL",
        "DEFAULT",
    ];
    while c.peek().is_some_and(|t| MODIFIERS.iter().any(|m| t.is(m))) {
        c.pos += 1;
    }
    let Some(what) = c.peek().and_then(Tok::keyword) else {
        return Change::Harmless;
    };
    c.pos += 1;
    match what {
        "INDEX" => {
            let concurrently = c.eat(&["CONCURRENTLY"]);
            let if_not_exists = c.eat(&["IF", "NOT", "EXISTS"]);
            let name = if c.at("ON") { None } else { c.name() };
            c.eat(&["ON"]);
            let only = c.eat(&["ONLY"]);
            let table = c.name().unwrap_or_default();
            if c.eat(&["USING"]) {
                c.pos += 1;
            }
            // The key columns that are plain names: `(a, b DESC)`, not `(lower(a))`.
            let mut columns = Vec::new();
            if c.eat_punct("(") {
                let mut depth = 0;
                let mut simple = true;
                let mut current: Option<Name> = None;
                while let Some(tok) = c.peek() {
                    c.pos += 1;
                    if tok.is_punct("(") {
                        depth += 1;
                        simple = false;
                    } else if depth == 0 && (tok.is_punct(")") || tok.is_punct(",")) {
                        if let (true, Some(column)) = (simple, current.take()) {
                            columns.push(column);
                        }
                        simple = true;
                        if tok.is_punct(")") {
                            break;
                        }
                    } else if tok.is_punct(")") {
                        depth -= 1;
                    } else if current.is_none() && depth == 0 {
                        match &tok.kind {
                            TokKind::Word { value, quoted, .. } => {
                                current = Some(if *quoted {
                                    value.clone()
                                } else {
                                    value.to_ascii_lowercase()
                                });
                            }
                            _ => simple = false,
                        }
                    }
                }
            }
            Change::CreateIndex {
                name,
                table,
                unique,
                concurrently,
                if_not_exists,
                only,
                columns,
            }
        }
        "TABLE" => {
            c.eat(&["IF", "NOT", "EXISTS"]);
            let table = c.name().unwrap_or_default();
            let partition_of = if c.eat(&["PARTITION", "OF"]) {
                c.name()
            } else {
                None
            };
            let rest = &c.toks[c.pos.min(c.toks.len())..];
            Change::CreateTable {
                table,
                columns: Vec::new(),
                constraints: Vec::new(),
                default_partition: partition_of.is_some()
                    && rest.first().is_some_and(|t| t.is("DEFAULT")),
                partition_of,
                partitioned: rest
                    .windows(2)
                    .any(|w| w[0].is("PARTITION") && w[1].is("BY")),
            }
        }
        "TRIGGER" => {
            while let Some(tok) = c.peek() {
                c.pos += 1;
                if tok.is("ON") {
                    break;
                }
            }
            Change::CreateTrigger {
                table: c.name().unwrap_or_default(),
            }
        }
        "STATISTICS" => Change::CreateStatistics,
        "VIEW" => Change::CreateView {
            name: c.name().unwrap_or_default(),
            materialized: false,
            columns: None,
            security_invoker: super::ast::security_invoker(c.text),
        },
        "MATERIALIZED" => {
            c.eat(&["VIEW"]);
            c.eat(&["IF", "NOT", "EXISTS"]);
            Change::CreateView {
                name: c.name().unwrap_or_default(),
                materialized: true,
                columns: None,
                security_invoker: false,
            }
        }
        "SCHEMA" => {
            let if_not_exists = c.eat(&["IF", "NOT", "EXISTS"]);
            Change::CreateSchema {
                name: c.name().unwrap_or_default(),
                if_not_exists,
            }
        }
        "SEQUENCE" => {
            let if_not_exists = c.eat(&["IF", "NOT", "EXISTS"]);
            Change::CreateSequence {
                name: c.name().unwrap_or_default(),
                if_not_exists,
            }
        }
        "TYPE" => {
            let name = c.name().unwrap_or_default();
            if c.eat(&["AS", "ENUM"]) {
                Change::CreateEnum { name, labels: None }
            } else {
                Change::Harmless
            }
        }
        "DOMAIN" => Change::CreateDomain {
            name: c.name().unwrap_or_default(),
            has_check: c.rest_has("CHECK"),
        },
        "POLICY" => {
            while let Some(tok) = c.peek() {
                c.pos += 1;
                if tok.is("ON") {
                    break;
                }
            }
            let table = c.name().unwrap_or_default();
            let restrictive = c.eat(&["AS", "RESTRICTIVE"]);
            c.eat(&["AS", "PERMISSIVE"]);
            let commands = if restrictive {
                0
            } else if c.eat(&["FOR"]) {
                match c.peek().and_then(Tok::keyword) {
                    Some("SELECT") => POLICY_SELECT,
                    Some("INSERT") => POLICY_INSERT,
                    Some("UPDATE") => POLICY_UPDATE,
                    Some("DELETE") => POLICY_DELETE,
                    _ => POLICY_ALL,
                }
            } else {
                POLICY_ALL
            };
            Change::CreatePolicy { table, commands }
        }
        "EXTENSION" => Change::CreateExtension,
        "FUNCTION" | "PROCEDURE" | "AGGREGATE" => Change::CreateFunction {
            name: c.name().unwrap_or_default(),
            volatile: true,
        },
        "RULE" => {
            // CREATE RULE name AS ON event TO table [WHERE ...] DO [ALSO | INSTEAD] ...
            while let Some(tok) = c.peek() {
                c.pos += 1;
                if tok.is("TO") {
                    break;
                }
            }
            let table = c.name().unwrap_or_default();
            let instead = c.toks[c.pos.min(c.toks.len())..]
                .windows(2)
                .any(|w| w[0].is("DO") && w[1].is("INSTEAD"));
            Change::CreateRule { table, instead }
        }
        "PUBLICATION" => publish(c),
        "OPERATOR" | "CAST" | "COLLATION" | "CONVERSION" | "LANGUAGE" | "SUBSCRIPTION" | "ROLE"
        | "USER" | "GROUP" | "SERVER" | "FOREIGN" | "TEXT" | "EVENT" | "TRANSFORM" | "ACCESS"
        | "TABLESPACE" | "DATABASE" => Change::Harmless,
        _ => not_an_object("CREATE", what),
    }
}

/// `CREATE INDX ...`: the word after the command names no kind of object PostgreSQL has
/// (the lists in `create`, `alter` and `drop` hold every kind its reference names).
fn not_an_object(command: &str, word: &str) -> Change {
    Change::SyntaxError {
        message: format!(
            "`{command} {word}`: `{word}` is not a kind of object PostgreSQL can {command} (a misspelled keyword?), so the server rejects this statement with a syntax error"
        ),
        help: super::MISSING_SEMICOLON_HELP,
    }
}

fn drop(c: &mut Cursor) -> Change {
    let Some(what) = c.peek().and_then(Tok::keyword) else {
        return unrecognised(c.toks, c.text);
    };
    c.pos += 1;
    let kind = match what {
        "INDEX" => {
            let concurrently = c.eat(&["CONCURRENTLY"]);
            let if_exists = c.eat(&["IF", "EXISTS"]);
            return Change::DropIndex {
                names: names(c),
                concurrently,
                if_exists,
                cascade: c.rest_has("CASCADE"),
            };
        }
        "TRIGGER" => {
            let if_exists = c.eat(&["IF", "EXISTS"]);
            c.name();
            c.eat(&["ON"]);
            return Change::DropTrigger {
                table: c.name(),
                if_exists,
            };
        }
        "TABLE" => ObjectKind::Table,
        "VIEW" => ObjectKind::View,
        "MATERIALIZED" => {
            c.eat(&["VIEW"]);
            ObjectKind::MaterializedView
        }
        "SCHEMA" => ObjectKind::Schema,
        "TYPE" => ObjectKind::Type,
        "DOMAIN" => ObjectKind::Domain,
        "SEQUENCE" => ObjectKind::Sequence,
        "FUNCTION" | "PROCEDURE" | "AGGREGATE" => ObjectKind::Function,
        "EXTENSION" => ObjectKind::Extension,
        "POLICY" | "RULE" | "OPERATOR" | "CAST" | "PUBLICATION" | "SUBSCRIPTION" | "ROLE"
        | "USER" | "GROUP" | "COLLATION" | "STATISTICS" | "SERVER" | "OWNED" | "EVENT" | "TEXT"
        | "LANGUAGE" | "FOREIGN" | "TRANSFORM" | "ACCESS" | "CONVERSION" | "DATABASE"
        | "TABLESPACE" | "PROCEDURAL" => ObjectKind::Other,
        "ROUTINE" => ObjectKind::Function,
        _ => return not_an_object("DROP", what),
    };
    let if_exists = c.eat(&["IF", "EXISTS"]);
    Change::Drop {
        kind,
        names: names(c),
        if_exists,
        cascade: c.rest_has("CASCADE"),
    }
}

fn names(c: &mut Cursor) -> Vec<Name> {
    let mut out = Vec::new();
    while let Some(name) = c.name() {
        out.push(name);
        c.skip_parens();
        if !c.eat_punct(",") {
            break;
        }
    }
    out
}

fn alter(c: &mut Cursor) -> Vec<Change> {
    let Some(what) = c.peek().and_then(Tok::keyword) else {
        return vec![unrecognised(c.toks, c.text)];
    };
    c.pos += 1;
    match what {
        "TABLE" => alter_table(c),
        "SEQUENCE" => {
            c.eat(&["IF", "EXISTS"]);
            let name = c.name().unwrap_or_default();
            let as_type = c.toks[c.pos.min(c.toks.len())..]
                .iter()
                .position(|t| t.is("AS"))
                .map(|at| c.pos + at + 1)
                .filter(|&at| at < c.toks.len())
                .map(|at| ColumnType::parse(&span_text(c, at, at + 1)));
            vec![Change::AlterSequence { name, as_type }]
        }
        "TYPE" => {
            let type_name = c.name().unwrap_or_default();
            if c.eat(&["ADD", "VALUE"]) {
                let if_not_exists = c.eat(&["IF", "NOT", "EXISTS"]);
                let value = match c.peek().map(|t| &t.kind) {
                    Some(TokKind::Str(value)) => value.clone(),
                    _ => String::new(),
                };
                vec![Change::EnumAddValue {
                    type_name,
                    value,
                    if_not_exists,
                }]
            } else if c.eat(&["RENAME", "VALUE"]) {
                vec![Change::EnumRenameValue { type_name }]
            } else {
                vec![Change::Harmless]
            }
        }
        "DOMAIN" => {
            let name = c.name().unwrap_or_default();
            if c.at("ADD") && c.rest_has("CHECK") {
                vec![Change::AlterDomainAddCheck {
                    name,
                    not_valid: c.rest_has("VALID"),
                }]
            } else {
                vec![Change::Harmless]
            }
        }
        "SCHEMA" => {
            let schema = c.name().unwrap_or_default();
            if c.eat(&["RENAME", "TO"]) {
                vec![Change::RenameSchema { schema }]
            } else {
                vec![Change::Harmless]
            }
        }
        "INDEX" => {
            c.eat(&["IF", "EXISTS"]);
            let index = c.name().unwrap_or_default();
            if c.eat(&["ATTACH", "PARTITION"]) {
                vec![Change::AttachIndex { index }]
            } else if c.eat(&["SET", "TABLESPACE"]) {
                vec![Change::Rewrite {
                    table: Some(index),
                    command: RewriteCommand::IndexSetTablespace,
                }]
            } else {
                vec![Change::Harmless]
            }
        }
        "VIEW" | "MATERIALIZED" => {
            c.eat(&["VIEW"]);
            c.eat(&["IF", "EXISTS"]);
            let view = c.name().unwrap_or_default();
            if c.at("RENAME") || c.at("SET") && c.rest_has("SCHEMA") {
                let mut action = Cursor {
                    toks: c.toks,
                    text: c.text,
                    pos: c.pos,
                };
                vec![alter_table_action(&mut action, &view)]
            } else if c.at("SET")
                && c.rest_has("SECURITY_INVOKER")
                && super::ast::security_invoker(c.text)
            {
                vec![Change::ViewSecurityInvoker { view }]
            } else {
                vec![Change::Harmless]
            }
        }
        "FUNCTION" | "PROCEDURE" | "ROUTINE" => {
            let name = c.name().unwrap_or_default();
            c.skip_parens();
            if c.eat(&["RENAME", "TO"]) || c.eat(&["SET", "SCHEMA"]) {
                vec![Change::RenameFunction { name }]
            } else {
                vec![Change::Harmless]
            }
        }
        "PUBLICATION" => {
            c.name();
            if c.eat(&["ADD"]) || c.eat(&["SET"]) {
                vec![publish_tables(c, true)]
            } else {
                vec![Change::Harmless]
            }
        }
        "AGGREGATE" | "ROLE" | "USER" | "GROUP" | "DEFAULT" | "EXTENSION" | "DATABASE"
        | "POLICY" | "TRIGGER" | "SUBSCRIPTION" | "STATISTICS" | "OPERATOR" | "COLLATION"
        | "TEXT" | "SERVER" | "FOREIGN" | "EVENT" | "LANGUAGE" | "RULE" | "SYSTEM"
        | "TABLESPACE" | "CONVERSION" | "LARGE" | "PROCEDURAL" => vec![Change::Harmless],
        _ => vec![not_an_object("ALTER", what)],
    }
}

/// `CREATE PUBLICATION name [FOR ...] [WITH (publish = '...')]`.
fn publish(c: &mut Cursor) -> Change {
    c.name();
    if !c.eat(&["FOR"]) {
        return Change::Harmless;
    }
    publish_tables(c, !publishes_only_inserts(c))
}

/// The `WITH (publish = '...')` option leaves out updates and deletes.
fn publishes_only_inserts(c: &Cursor) -> bool {
    let rest = &c.toks[c.pos.min(c.toks.len())..];
    rest.iter().position(|t| t.is("PUBLISH")).is_some_and(|at| {
        rest.get(at + 2).is_some_and(|value| {
            let value = c.text[value.start..value.end].to_ascii_lowercase();
            !value.contains("update") && !value.contains("delete")
        })
    })
}

/// `[ALL] TABLE a, b [(cols)] [WHERE (...)], TABLES IN SCHEMA s`: the tables named.
fn publish_tables(c: &mut Cursor, updates: bool) -> Change {
    let mut tables = Vec::new();
    while c.eat(&["TABLE"]) {
        c.eat(&["ONLY"]);
        while let Some(name) = c.name() {
            tables.push(name);
            c.eat_punct("*");
            c.skip_parens();
            if c.eat(&["WHERE"]) {
                c.skip_parens();
            }
            if !c.eat_punct(",") {
                break;
            }
        }
    }
    Change::Publish { tables, updates }
}

/// Column-constraint keywords that end a column's type.
const COLUMN_STOP: &[&str] = &[
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "GENERATED",
    "CONSTRAINT",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
];

fn alter_table(c: &mut Cursor) -> Vec<Change> {
    c.eat(&["IF", "EXISTS"]);
    if c.eat(&["ALL", "IN", "TABLESPACE"]) {
        return vec![Change::Rewrite {
            table: None,
            command: RewriteCommand::SetTablespace,
        }];
    }
    c.eat(&["ONLY"]);
    let table = c.name().unwrap_or_default();
    c.eat_punct("*");
    // One action per comma at depth 0.
    let mut actions: Vec<&[Tok]> = Vec::new();
    let mut depth = 0;
    let mut start = c.pos;
    for i in c.pos..c.toks.len() {
        let tok = &c.toks[i];
        if tok.is_punct("(") {
            depth += 1;
        } else if tok.is_punct(")") {
            depth -= 1;
        } else if depth == 0 && (tok.is_punct(",") || tok.is_punct(";")) {
            actions.push(&c.toks[start..i]);
            start = i + 1;
        }
    }
    actions.push(&c.toks[start..]);
    actions
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|action| {
            let mut a = Cursor {
                toks: action,
                text: c.text,
                pos: 0,
            };
            alter_table_action(&mut a, &table)
        })
        .collect()
}

fn alter_table_action(a: &mut Cursor, table: &Name) -> Change {
    let table = table.clone();
    let other = |what: &'static str, access_exclusive: bool| Change::AlterTableOther {
        table: table.clone(),
        what,
        access_exclusive,
    };
    if a.eat(&["RENAME"]) {
        if a.eat(&["TO"]) {
            return Change::RenameTable {
                to: a.name().unwrap_or_default(),
                table,
            };
        }
        if a.eat(&["CONSTRAINT"]) {
            return Change::RenameConstraint { table };
        }
        a.eat(&["COLUMN"]);
        let from = a.name().unwrap_or_default();
        a.eat(&["TO"]);
        return Change::RenameColumn {
            table,
            from,
            to: a.name().unwrap_or_default(),
        };
    }
    if a.eat(&["SET", "SCHEMA"]) {
        return Change::SetSchema { table };
    }
    if a.eat(&["DETACH", "PARTITION"]) {
        let partition = a.name().unwrap_or_default();
        return Change::DetachPartition {
            parent: table,
            partition,
            concurrently: a.rest_has("CONCURRENTLY") || a.rest_has("FINALIZE"),
        };
    }
    if a.eat(&["ATTACH", "PARTITION"]) {
        return Change::AttachPartition {
            parent: table,
            partition: a.name().unwrap_or_default(),
        };
    }
    if a.eat(&["ALTER", "CONSTRAINT"]) {
        return other("ALTER CONSTRAINT", true);
    }
    if a.eat(&["VALIDATE", "CONSTRAINT"]) {
        return Change::ValidateConstraint {
            table,
            name: a.name().unwrap_or_default(),
        };
    }
    if a.eat(&["SET", "TABLESPACE"]) {
        return Change::Rewrite {
            table: Some(table),
            command: RewriteCommand::SetTablespace,
        };
    }
    if a.eat(&["SET", "LOGGED"]) {
        return Change::Rewrite {
            table: Some(table),
            command: RewriteCommand::SetLogged,
        };
    }
    if a.eat(&["SET", "UNLOGGED"]) {
        return Change::Rewrite {
            table: Some(table),
            command: RewriteCommand::SetUnlogged,
        };
    }
    if a.eat(&["SET", "ACCESS", "METHOD"]) {
        return other("SET ACCESS METHOD", true);
    }
    if a.eat(&["ENABLE", "ROW", "LEVEL", "SECURITY"])
        || a.eat(&["FORCE", "ROW", "LEVEL", "SECURITY"])
    {
        return Change::EnableRowLevelSecurity { table };
    }
    if a.at("ENABLE") || a.at("DISABLE") {
        return other(
            "ENABLE/DISABLE TRIGGER",
            a.rest_has("RULE") || a.rest_has("ROW"),
        );
    }
    if a.at("SET") || a.at("RESET") {
        return other("SET (storage parameters)", false);
    }
    if a.eat(&["CLUSTER", "ON"]) {
        return other("CLUSTER ON", false);
    }
    if a.eat(&["OWNER", "TO"]) {
        return other("OWNER TO", true);
    }
    if a.eat(&["REPLICA", "IDENTITY"]) {
        if a.at("NOTHING") || a.at("DEFAULT") {
            return Change::ReplicaIdentity {
                table,
                nothing: a.at("NOTHING"),
            };
        }
        return other("REPLICA IDENTITY", true);
    }
    if a.eat(&["ADD"]) {
        return add_action(a, table);
    }
    if a.eat(&["DROP"]) {
        if a.eat(&["CONSTRAINT"]) {
            a.eat(&["IF", "EXISTS"]);
            return Change::DropConstraint {
                table,
                name: a.name().unwrap_or_default(),
                cascade: a.rest_has("CASCADE"),
            };
        }
        a.eat(&["COLUMN"]);
        a.eat(&["IF", "EXISTS"]);
        return Change::DropColumn {
            table,
            column: a.name().unwrap_or_default(),
            cascade: a.rest_has("CASCADE"),
        };
    }
    if a.eat(&["ALTER"]) {
        a.eat(&["COLUMN"]);
        let column = a.name().unwrap_or_default();
        if a.eat(&["SET", "NOT", "NULL"]) {
            return Change::SetNotNull { table, column };
        }
        if a.eat(&["DROP", "NOT", "NULL"]) {
            return Change::DropNotNull { table, column };
        }
        if a.eat(&["SET", "DEFAULT"]) {
            return Change::SetDefault { table, column };
        }
        if a.eat(&["DROP", "DEFAULT"]) {
            return Change::DropDefault { table, column };
        }
        if a.eat(&["DROP", "IDENTITY"]) {
            return Change::DropIdentity { table, column };
        }
        a.eat(&["SET", "DATA"]);
        if a.eat(&["TYPE"]) {
            let start = a.pos;
            while let Some(tok) = a.peek() {
                if tok.is("USING") || tok.is("COLLATE") {
                    break;
                }
                a.pos += 1;
            }
            let to = ColumnType::parse(&span_text(a, start, a.pos));
            let collate = a.at("COLLATE");
            while a.peek().is_some_and(|t| !t.is("USING")) {
                a.pos += 1;
            }
            // `USING c::t` or `USING CAST(c AS t)` of the column itself changes nothing.
            let using = a.eat(&["USING"]) && {
                let rest = &a.toks[a.pos.min(a.toks.len())..];
                let named = |t: &Tok| normalize_ident(&a.text[t.start..t.end]) == column;
                let cast_to = |from: usize| {
                    let end = rest
                        .iter()
                        .rposition(|t| !t.is_punct(")") && !t.is_punct(";"))
                        .map_or(from, |i| i + 1);
                    rest.get(from)
                        .zip(rest.get(end.max(from + 1) - 1))
                        .is_some_and(|(f, l)| ColumnType::parse(&a.text[f.start..l.end]) == to)
                };
                let same = match rest {
                    [c, ..] if rest.len() == 1 || rest[1..].iter().all(|t| t.is_punct(";")) => {
                        named(c)
                    }
                    [c, colon, ..] if colon.is_punct("::") => named(c) && cast_to(2),
                    [cast, open, c, as_, ..]
                        if cast.is("CAST") && open.is_punct("(") && as_.is("AS") =>
                    {
                        named(c) && cast_to(4)
                    }
                    _ => false,
                };
                !same
            };
            return Change::AlterColumnType {
                table,
                column,
                to,
                using,
                collate,
            };
        }
        if a.eat(&["SET", "STATISTICS"]) {
            return other("SET STATISTICS", false);
        }
        if a.at("SET") && a.rest_has("STORAGE") {
            return other("SET STORAGE", true);
        }
        if a.at("SET") && a.rest_has("COMPRESSION") {
            return other("SET COMPRESSION", true);
        }
        if a.at("SET") && a.rest_has("GENERATED") {
            return other("SET GENERATED", true);
        }
        if a.at("SET") || a.at("RESET") {
            return other("SET (attribute options)", false);
        }
        if a.eat(&["ADD", "GENERATED"]) {
            return other("ADD GENERATED", true);
        }
        return other("ALTER COLUMN", true);
    }
    other("ALTER TABLE", true)
}

fn add_action(a: &mut Cursor, table: Name) -> Change {
    let name = if a.eat(&["CONSTRAINT"]) {
        a.name()
    } else {
        None
    };
    let kind = if a.at("CHECK") {
        // `CHECK (c IS NOT NULL)` proves NOT NULL for a later SET NOT NULL.
        let inner: Vec<&Tok> = a.toks[a.pos + 1..]
            .iter()
            .filter(|t| !t.is_punct("(") && !t.is_punct(")"))
            .collect();
        let not_null_of = match inner.as_slice() {
            [col, is, not, null, ..] if is.is("IS") && not.is("NOT") && null.is("NULL") => {
                match &col.kind {
                    TokKind::Word { value, quoted, .. } => Some(if *quoted {
                        value.clone()
                    } else {
                        value.to_ascii_lowercase()
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        let single_condition = inner.iter().filter(|t| t.is("AND") || t.is("OR")).count() == 0;
        Some(ConstraintKind::Check {
            not_null_of: not_null_of.filter(|_| single_condition),
        })
    } else if a.at("FOREIGN") {
        let references = a.toks[a.pos..]
            .iter()
            .position(|t| t.is("REFERENCES"))
            .and_then(|i| {
                let mut r = Cursor {
                    toks: a.toks,
                    text: a.text,
                    pos: a.pos + i + 1,
                };
                r.name()
            })
            .unwrap_or_default();
        Some(ConstraintKind::ForeignKey { references })
    } else if a.at("UNIQUE") {
        Some(ConstraintKind::Unique {
            using_index: a.rest_has("USING") && a.rest_has("INDEX"),
        })
    } else if a.at("PRIMARY") {
        let using_index = a.toks[a.pos..]
            .windows(2)
            .position(|w| w[0].is("USING") && w[1].is("INDEX"))
            .and_then(|i| {
                let mut r = Cursor {
                    toks: a.toks,
                    text: a.text,
                    pos: a.pos + i + 2,
                };
                r.name()
            });
        Some(ConstraintKind::PrimaryKey { using_index })
    } else if a.at("EXCLUDE") {
        Some(ConstraintKind::Exclude)
    } else {
        None
    };
    if let Some(kind) = kind {
        let not_valid = a
            .toks
            .windows(2)
            .any(|w| w[0].is("NOT") && w[1].is("VALID"));
        return Change::AddConstraint {
            table,
            constraint: ConstraintSpec {
                name,
                kind,
                not_valid,
            },
        };
    }
    a.eat(&["COLUMN"]);
    let if_not_exists = a.eat(&["IF", "NOT", "EXISTS"]);
    Change::AddColumn {
        table,
        column: column_spec(a),
        if_not_exists,
    }
}

/// A column definition from tokens: `name type [constraints...]`.
fn column_spec(a: &mut Cursor) -> ColumnSpec {
    let name = a
        .peek()
        .map(|t| normalize_ident(&a.text[t.start..t.end]))
        .unwrap_or_default();
    a.pos += 1;
    let start = a.pos;
    let mut depth = 0;
    while let Some(tok) = a.peek() {
        if tok.is_punct("(") {
            depth += 1;
        } else if tok.is_punct(")") {
            depth -= 1;
        } else if depth == 0 && tok.keyword().is_some_and(|k| COLUMN_STOP.contains(&k)) {
            break;
        }
        a.pos += 1;
    }
    let mut spec = ColumnSpec::new(name, ColumnType::parse(&span_text(a, start, a.pos)));
    while let Some(tok) = a.peek() {
        a.pos += 1;
        match tok.keyword() {
            Some("NOT") if a.at("NULL") => spec.not_null = true,
            Some("PRIMARY") => {
                spec.primary_key = true;
                spec.not_null = true;
            }
            Some("UNIQUE") => spec.unique = true,
            Some("CHECK") => spec.check = true,
            Some("REFERENCES") => spec.references = a.name(),
            Some("GENERATED") => {
                if a.rest_has("IDENTITY") {
                    spec.identity = true;
                } else if !a.rest_has("VIRTUAL") {
                    spec.generated_stored = true;
                }
            }
            Some("DEFAULT") => {
                let start = a.pos;
                let mut depth = 0;
                while let Some(t) = a.peek() {
                    if t.is_punct("(") {
                        depth += 1;
                    } else if t.is_punct(")") {
                        depth -= 1;
                    } else if depth == 0 && t.keyword().is_some_and(|k| COLUMN_STOP.contains(&k)) {
                        break;
                    }
                    a.pos += 1;
                }
                let text = span_text(a, start, a.pos);
                spec.default = Some(default_kind(&text));
                spec.default_calls = super::names::called_functions(&text);
            }
            _ => {}
        }
    }
    spec
}

/// The statement text covered by tokens `from..to`.
fn span_text(a: &Cursor, from: usize, to: usize) -> String {
    match (
        a.toks.get(from),
        to.checked_sub(1).and_then(|i| a.toks.get(i)),
    ) {
        (Some(first), Some(last)) if to > from => a.text[first.start..last.end].to_string(),
        _ => String::new(),
    }
}
