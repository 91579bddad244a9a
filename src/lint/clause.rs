//! Where in a statement a finding's clause is, so that a finding points at the column, the
//! constraint or the index that causes it rather than at the statement's first column. Rules
//! ask [`Ctx::clause`] or [`Ctx::words`] and give the range to [`Hit::at`](super::Hit::at);
//! the statement's tokens are read only then (when a rule reports something), once per
//! statement however many findings it has ([`Ctx::tokens`]).

use std::ops::Range;

use crate::analyze::{Change, ConstraintKind, ConstraintSpec};
use crate::sql::{Tok, TokKind};

use super::Ctx;

/// Words skipped between the words a rule asks for: `DROP COLUMN IF EXISTS c` is found as
/// `DROP` then `c`, `ALTER COLUMN c SET DATA TYPE` as `ALTER` then `c`.
const NOISE: &[&str] = &[
    "COLUMN",
    "IF",
    "NOT",
    "EXISTS",
    "ONLY",
    "CONCURRENTLY",
    "CONSTRAINT",
    "SET",
    "DATA",
];

impl Ctx<'_> {
    /// The clause that starts with `keywords` (upper-case, in order, noise words such as
    /// `COLUMN` or `IF EXISTS` skipped between them) followed by `name` when given, through
    /// the end of the clause: the next `,` or closing parenthesis at its depth, or the end of
    /// the statement. A byte range in the statement's text; `None` when it is not found.
    pub(crate) fn clause(&self, keywords: &[&str], name: Option<&str>) -> Option<Range<usize>> {
        find(self.tokens()?, keywords, name, true)
    }

    /// Only the words [`Ctx::clause`] matches, not the rest of the clause.
    pub(crate) fn words(&self, keywords: &[&str], name: Option<&str>) -> Option<Range<usize>> {
        find(self.tokens()?, keywords, name, false)
    }

    /// The `ADD [CONSTRAINT name] ...` clause of a constraint being added.
    pub(crate) fn constraint_clause(&self, constraint: &ConstraintSpec) -> Option<Range<usize>> {
        if let Some(name) = &constraint.name {
            return self.clause(&["ADD", "CONSTRAINT"], Some(name));
        }
        let keyword = match constraint.kind {
            ConstraintKind::Check { .. } => "CHECK",
            ConstraintKind::ForeignKey { .. } => "FOREIGN",
            ConstraintKind::Unique { .. } => "UNIQUE",
            ConstraintKind::PrimaryKey { .. } => "PRIMARY",
            ConstraintKind::Exclude => "EXCLUDE",
        };
        self.clause(&["ADD", keyword], None)
    }

    /// The clause of a change inside an `ALTER TABLE` (or the head of a `CREATE INDEX`):
    /// `ADD [COLUMN] c ...`, `ADD CONSTRAINT ...`, `DROP [COLUMN] c`, `ALTER [COLUMN] c ...`,
    /// `RENAME [COLUMN] a TO b`, `VALIDATE CONSTRAINT n`, `DROP CONSTRAINT n`. `None` for other
    /// changes (the finding then covers the statement).
    pub(crate) fn change_clause(&self, change: &Change) -> Option<Range<usize>> {
        match change {
            Change::AddColumn { column, .. } => self.clause(&["ADD"], Some(&column.name)),
            Change::AddConstraint { constraint, .. } => self.constraint_clause(constraint),
            Change::DropColumn { column, .. } => self.clause(&["DROP"], Some(column)),
            Change::RenameColumn { from, .. } => self.clause(&["RENAME"], Some(from)),
            Change::AlterColumnType { column, .. }
            | Change::SetNotNull { column, .. }
            | Change::DropNotNull { column, .. }
            | Change::SetDefault { column, .. }
            | Change::DropDefault { column, .. } => self.clause(&["ALTER"], Some(column)),
            Change::ValidateConstraint { name, .. } => self.clause(&["VALIDATE"], Some(name)),
            Change::DropConstraint { name, .. } => self.clause(&["DROP"], Some(name)),
            Change::CreateIndex { table, .. } => self.index_head(table),
            _ => None,
        }
    }

    /// The definition of column `column` that `change` adds: its element of a `CREATE TABLE`
    /// (`c varchar(20) NOT NULL`), or its `ADD [COLUMN] c ...` clause of an `ALTER TABLE`.
    /// `None` for other changes, or when it is not found (the finding then covers the
    /// statement).
    pub(crate) fn column_clause(&self, change: &Change, column: &str) -> Option<Range<usize>> {
        match change {
            Change::CreateTable { .. } => column_definition(self.tokens()?, column),
            Change::AddColumn { .. } => self.clause(&["ADD"], Some(column)),
            _ => None,
        }
    }

    /// `CREATE [UNIQUE] INDEX ... ON table`: the statement up to the table's name.
    pub(crate) fn index_head(&self, table: &str) -> Option<Range<usize>> {
        let on = self.words(&["ON"], Some(table))?;
        let start = self.text.len() - self.text.trim_start().len();
        Some(start..on.end)
    }
}

/// The match of `keywords` then `name` in the statement of `toks`, widened to its clause when
/// `clause`.
fn find(toks: &[Tok], keywords: &[&str], name: Option<&str>, clause: bool) -> Option<Range<usize>> {
    let wanted = name.map(|n| n.rsplit('.').next().unwrap_or(n));
    (0..toks.len()).find_map(|start| {
        let last = match_at(toks, start, keywords, wanted)?;
        let end = if clause { clause_end(toks, last) } else { last };
        Some(toks[start].start..toks[end].end)
    })
}

/// The element of the first parenthesised list in the statement of `toks` (a `CREATE TABLE`'s columns and
/// constraints) that starts with the name `column`, through the end of that element. Only
/// elements' first words count: a column of the same name in a `REFERENCES t (c)` or a
/// `CHECK`, or a table named like the column, is not it.
fn column_definition(toks: &[Tok], column: &str) -> Option<Range<usize>> {
    let open = toks.iter().position(|t| t.is_punct("("))?;
    let mut depth = 0usize;
    let mut element_start = true;
    for (i, tok) in toks.iter().enumerate().skip(open + 1) {
        if depth == 0 && element_start && tok.ident().as_deref() == Some(column) {
            return Some(tok.start..toks[clause_end(toks, i)].end);
        }
        element_start = false;
        if tok.is_punct("(") {
            depth += 1;
        } else if tok.is_punct(")") {
            if depth == 0 {
                return None;
            }
            depth -= 1;
        } else if depth == 0 && tok.is_punct(",") {
            element_start = true;
        }
    }
    None
}

/// The index of the last token of a match that begins at `start`.
fn match_at(toks: &[Tok], start: usize, keywords: &[&str], name: Option<&str>) -> Option<usize> {
    let mut i = start;
    let mut last = None;
    for (n, keyword) in keywords.iter().enumerate() {
        if n > 0 {
            while toks.get(i).is_some_and(|t| !t.is(keyword) && noise(t)) {
                i += 1;
            }
        }
        if !toks.get(i)?.is(keyword) {
            return None;
        }
        last = Some(i);
        i += 1;
    }
    let Some(name) = name else {
        return last;
    };
    if !keywords.is_empty() {
        while toks.get(i).is_some_and(noise) {
            i += 1;
        }
    }
    // A qualified name: `s.t`, `"S"."t"`.
    while toks.get(i + 1).is_some_and(|t| t.is_punct(".")) && is_word(toks.get(i)?) {
        i += 2;
    }
    (toks.get(i)?.ident()? == name).then_some(i)
}

fn noise(tok: &Tok) -> bool {
    NOISE.iter().any(|word| tok.is(word))
}

fn is_word(tok: &Tok) -> bool {
    matches!(tok.kind, TokKind::Word { .. })
}

/// The last token of the clause holding token `from`.
fn clause_end(toks: &[Tok], from: usize) -> usize {
    let mut depth = 0usize;
    let mut end = from;
    for (i, tok) in toks.iter().enumerate().skip(from + 1) {
        if tok.is_punct("(") {
            depth += 1;
        } else if tok.is_punct(")") {
            if depth == 0 {
                break;
            }
            depth -= 1;
        } else if depth == 0 && (tok.is_punct(",") || tok.is_punct(";")) {
            break;
        }
        end = i;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::{column_definition, find};
    use crate::sql::tokenize;

    #[test]
    fn finds_a_column_definition_by_its_first_word_only() {
        let sql = "CREATE TABLE code (\n  id int CHECK (code <> ''),\n  \"Code\" text,\n  code char(2) NOT NULL DEFAULT 'x',\n  PRIMARY KEY (id)\n);";
        let toks = tokenize(sql).unwrap();
        let at = |name: &str| column_definition(&toks, name).map(|r| &sql[r]);
        assert_eq!(at("code"), Some("code char(2) NOT NULL DEFAULT 'x'"));
        assert_eq!(at("Code"), Some("\"Code\" text"));
        assert_eq!(at("id"), Some("id int CHECK (code <> '')"));
        assert_eq!(at("missing"), None);
        assert_eq!(
            column_definition(&tokenize("CREATE TABLE t AS SELECT 1 AS a").unwrap(), "a"),
            None
        );
    }

    fn clause(text: &str, keywords: &[&str], name: Option<&str>) -> Option<&'static str> {
        find(&tokenize(text)?, keywords, name, true).map(|r| &*text[r].to_string().leak())
    }

    #[test]
    fn finds_the_clause_of_a_column_or_constraint() {
        let sql = "ALTER TABLE c\n  DROP COLUMN IF EXISTS a,\n  DROP c CASCADE;";
        assert_eq!(clause(sql, &["DROP"], Some("c")), Some("DROP c CASCADE"));
        assert_eq!(
            clause(sql, &["DROP"], Some("a")),
            Some("DROP COLUMN IF EXISTS a")
        );
        assert_eq!(
            clause(
                "ALTER TABLE t ALTER COLUMN \"Big\" SET DATA TYPE numeric(10, 2) USING x, ADD y int",
                &["ALTER"],
                Some("Big")
            ),
            Some("ALTER COLUMN \"Big\" SET DATA TYPE numeric(10, 2) USING x")
        );
        assert_eq!(
            clause(
                "CREATE TABLE t (id int, b int REFERENCES public.users (id) ON DELETE CASCADE)",
                &["REFERENCES"],
                Some("users")
            ),
            Some("REFERENCES public.users (id) ON DELETE CASCADE")
        );
        assert_eq!(
            clause("ALTER TABLE t DROP COLUMN a;", &["DROP"], Some("b")),
            None
        );
    }
}
