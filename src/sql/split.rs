//! Splitting a script into statements, the way psql does.
//!
//! A `;` ends a statement unless it stands inside a comment (`--`, nested `/* */`), a string
//! (`'...'` with `''`, `E'...'` with backslash escapes), a quoted identifier, a dollar-quoted
//! body (`$$...$$`, `$fn$...$fn$`), parentheses (`CREATE RULE ... DO (a; b)`), or a
//! `BEGIN ATOMIC ... END` function body. Lines starting with `\` between statements are psql
//! meta-commands, and the data after `COPY ... FROM stdin;` up to its `\.` line is data.

use std::ops::Range;

use super::lines::Lines;

/// What a piece of the script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// A SQL statement.
    Sql,
    /// A psql meta-command line such as `\set ON_ERROR_STOP on` (without its newline).
    PsqlMeta,
    /// The data lines after `COPY ... FROM stdin;`, through the closing `\.` line.
    CopyData,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStatement {
    /// Byte range from the statement's first token through its `;` (or its last token when
    /// the script ends without one). Leading comments are not part of it.
    pub span: Range<usize>,
    /// 1-based line of the first byte, counted in the text given to [`split`].
    pub line: usize,
    /// 1-based column (in characters) of the first byte.
    pub column: usize,
    pub kind: RawKind,
    /// What the statement leaves open or closes too often, which PostgreSQL rejects.
    pub unbalanced: Option<Unbalanced>,
}

/// What a statement leaves open (a parenthesis, a string, a comment running to the end of
/// the script) or a `)` that closes nothing: PostgreSQL rejects it with a syntax error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbalanced {
    /// This many `(` not closed.
    Open(u32),
    /// A `)` with no `(` before it.
    Close,
    /// A quoted string, quoted identifier, dollar-quoted string or comment that runs to
    /// the end of the script.
    Unterminated(&'static str),
}

impl Unbalanced {
    /// What is wrong, for a finding.
    pub fn message(self) -> String {
        let what = match self {
            Unbalanced::Open(1) => "a `(` is not closed by a `)`".to_string(),
            Unbalanced::Open(n) => format!("{n} `(` are not closed by a `)`"),
            Unbalanced::Close => "a `)` closes no `(`".to_string(),
            Unbalanced::Unterminated(what) => {
                format!("{what} is not closed: it runs to the end of the file")
            }
        };
        format!(
            "unbalanced statement: {what}, so PostgreSQL rejects it with a syntax error (and nothing in it was checked)"
        )
    }
}

impl RawStatement {
    /// The statement's text within `script`.
    pub fn text<'a>(&self, script: &'a str) -> &'a str {
        &script[self.span.clone()]
    }
}

/// Splits `text` into statements, psql meta-commands and COPY data, in order.
pub fn split(text: &str) -> Vec<RawStatement> {
    Splitter::new(text).run()
}

struct Splitter<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Line and column lookups, stepping forward as statements are found.
    lines: Lines<'a>,
    out: Vec<RawStatement>,
    /// A quoted construct of the statement being read that ran to the end of the text.
    unterminated: Option<&'static str>,
}

/// The few keywords that decide where a statement ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Keyword {
    #[default]
    Other,
    Atomic,
    Begin,
    Case,
    Copy,
    Create,
    End,
    From,
    Replace,
    Rule,
    Stdin,
}

impl Keyword {
    /// Classifies a word without allocating (this runs for every word of every script).
    fn of(word: &str) -> Keyword {
        const KEYWORDS: &[(&str, Keyword)] = &[
            ("ATOMIC", Keyword::Atomic),
            ("BEGIN", Keyword::Begin),
            ("CASE", Keyword::Case),
            ("COPY", Keyword::Copy),
            ("CREATE", Keyword::Create),
            ("END", Keyword::End),
            ("FROM", Keyword::From),
            ("REPLACE", Keyword::Replace),
            ("RULE", Keyword::Rule),
            ("STDIN", Keyword::Stdin),
        ];
        if !(3..=7).contains(&word.len()) {
            return Keyword::Other;
        }
        KEYWORDS
            .iter()
            .find(|(text, _)| text.eq_ignore_ascii_case(word))
            .map_or(Keyword::Other, |&(_, keyword)| keyword)
    }
}

/// Words of the current statement that decide how it ends.
#[derive(Default)]
struct Words {
    count: usize,
    first: Keyword,
    previous: Keyword,
    from_stdin: bool,
    /// Depth of `BEGIN ATOMIC` bodies and the `CASE`s inside them.
    atomic_depth: usize,
    /// `CREATE [OR REPLACE] RULE`: only there do parentheses hold `;` (multi-action rules), so
    /// an unbalanced `(` elsewhere can not swallow the rest of the file.
    is_rule: bool,
}

impl Words {
    fn see(&mut self, word: &str) {
        let keyword = Keyword::of(word);
        if self.count == 0 {
            self.first = keyword;
        }
        if self.first == Keyword::Create
            && keyword == Keyword::Rule
            && (self.count == 1 || (self.count == 3 && self.previous == Keyword::Replace))
        {
            self.is_rule = true;
        }
        self.count += 1;
        if self.first == Keyword::Copy
            && self.previous == Keyword::From
            && keyword == Keyword::Stdin
        {
            self.from_stdin = true;
        }
        if self.atomic_depth > 0 {
            match keyword {
                Keyword::Case | Keyword::Begin => self.atomic_depth += 1,
                Keyword::End => self.atomic_depth -= 1,
                _ => {}
            }
        } else if self.previous == Keyword::Begin && keyword == Keyword::Atomic {
            self.atomic_depth = 1;
        }
        self.previous = keyword;
    }
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str) -> Self {
        Splitter {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            lines: Lines::new(text),
            out: Vec::new(),
            unterminated: None,
        }
    }

    fn peek(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn push(&mut self, span: Range<usize>, kind: RawKind) {
        self.push_checked(span, kind, None);
    }

    fn push_checked(&mut self, span: Range<usize>, kind: RawKind, unbalanced: Option<Unbalanced>) {
        let (line, column) = self.lines.position(span.start);
        self.out.push(RawStatement {
            span,
            line,
            column,
            kind,
            unbalanced,
        });
    }

    /// Only whitespace stands between the last newline and the current position. (Looks
    /// back over that whitespace only, not over the whole line.)
    fn at_line_start(&self) -> bool {
        let before = &self.text[..self.pos];
        let blank = before.trim_end_matches(|c: char| c != '\n' && c.is_whitespace());
        blank.is_empty() || blank.ends_with('\n')
    }

    fn run(mut self) -> Vec<RawStatement> {
        loop {
            self.skip_blank();
            if self.pos >= self.bytes.len() {
                break;
            }
            if self.bytes[self.pos] == b'\\' && self.at_line_start() {
                let end = self.text[self.pos..]
                    .find('\n')
                    .map_or(self.bytes.len(), |nl| self.pos + nl);
                let end = self.pos + self.text[self.pos..end].trim_end().len();
                self.push(self.pos..end, RawKind::PsqlMeta);
                self.pos = end;
                continue;
            }
            self.statement();
        }
        self.out
    }

    /// Skips whitespace and comments between statements.
    fn skip_blank(&mut self) {
        while self.pos < self.bytes.len() {
            match self.bytes[self.pos] {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
                b'-' if self.peek(1) == Some(b'-') => self.line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
                _ => break,
            }
        }
    }

    fn line_comment(&mut self) {
        self.pos = self.text[self.pos..]
            .find('\n')
            .map_or(self.bytes.len(), |nl| self.pos + nl);
    }

    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            if self.bytes[self.pos] == b'/' && self.peek(1) == Some(b'*') {
                depth += 1;
                self.pos += 2;
            } else if self.bytes[self.pos] == b'*' && self.peek(1) == Some(b'/') {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.unterminated = Some("a `/*` comment");
    }

    /// Reads one statement starting at a token.
    fn statement(&mut self) {
        let start = self.pos;
        let mut last_end = start;
        let mut parens = 0usize;
        let mut unopened = false;
        self.unterminated = None;
        let mut words = Words::default();
        let unbalanced = |parens: usize, unopened: bool, unterminated: Option<&'static str>| {
            if let Some(what) = unterminated {
                Some(Unbalanced::Unterminated(what))
            } else if parens > 0 {
                Some(Unbalanced::Open(u32::try_from(parens).unwrap_or(u32::MAX)))
            } else {
                unopened.then_some(Unbalanced::Close)
            }
        };
        while self.pos < self.bytes.len() {
            let byte = self.bytes[self.pos];
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                    self.pos += 1;
                    continue;
                }
                b'-' if self.peek(1) == Some(b'-') => {
                    self.line_comment();
                    continue;
                }
                b'/' if self.peek(1) == Some(b'*') => {
                    self.block_comment();
                    continue;
                }
                b';' if (parens == 0 || !words.is_rule) && words.atomic_depth == 0 => {
                    self.pos += 1;
                    let unbalanced = unbalanced(parens, unopened, self.unterminated);
                    self.push_checked(start..self.pos, RawKind::Sql, unbalanced);
                    if words.from_stdin {
                        self.copy_data();
                    }
                    return;
                }
                b'(' => {
                    parens += 1;
                    self.pos += 1;
                }
                b')' => {
                    unopened |= parens == 0;
                    parens = parens.saturating_sub(1);
                    self.pos += 1;
                }
                b'\'' => self.quoted(b'\'', false),
                b'"' => self.quoted(b'"', false),
                b'$' if self.dollar_tag().is_some() => self.dollar_quoted(),
                _ if is_word_start(byte) => {
                    let word_start = self.pos;
                    while self.pos < self.bytes.len() && is_word_byte(self.bytes[self.pos]) {
                        self.pos += 1;
                    }
                    let word = &self.text[word_start..self.pos];
                    if word.eq_ignore_ascii_case("e") && self.peek(0) == Some(b'\'') {
                        self.quoted(b'\'', true);
                    } else {
                        words.see(word);
                    }
                }
                _ => self.pos += char_len(byte),
            }
            last_end = self.pos;
        }
        let unbalanced = unbalanced(parens, unopened, self.unterminated);
        self.push_checked(start..last_end, RawKind::Sql, unbalanced);
    }

    /// A string or quoted identifier; a doubled quote stays inside, and in `E''` strings a
    /// backslash escapes the next character.
    fn quoted(&mut self, quote: u8, backslash_escapes: bool) {
        self.pos += 1;
        while self.pos < self.bytes.len() {
            let byte = self.bytes[self.pos];
            if backslash_escapes && byte == b'\\' {
                self.pos += 2;
            } else if byte == quote {
                if self.peek(1) == Some(quote) {
                    self.pos += 2;
                } else {
                    self.pos += 1;
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.pos = self.pos.min(self.bytes.len());
        self.unterminated = Some(if quote == b'"' {
            "a quoted identifier"
        } else {
            "a quoted string"
        });
    }

    /// The `$tag$` at the current position, if it opens a dollar quote (`$1` does not).
    fn dollar_tag(&self) -> Option<&'a str> {
        let rest = &self.text[self.pos + 1..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
        let tag = &rest[..end];
        let valid = rest[end..].starts_with('$') && !tag.starts_with(|c: char| c.is_ascii_digit());
        valid.then(|| &self.text[self.pos..self.pos + end + 2])
    }

    fn dollar_quoted(&mut self) {
        let Some(tag) = self.dollar_tag() else { return };
        let body_start = self.pos + tag.len();
        self.pos = match self.text[body_start..].find(tag) {
            Some(close) => body_start + close + tag.len(),
            None => {
                self.unterminated = Some("a dollar-quoted string");
                self.bytes.len()
            }
        };
    }

    /// The data of `COPY ... FROM stdin`: from the next line through the `\.` line.
    fn copy_data(&mut self) {
        let Some(newline) = self.text[self.pos..].find('\n') else {
            return;
        };
        let start = self.pos + newline + 1;
        let mut offset = start;
        let mut end = self.bytes.len();
        for line in self.text[start..].split_inclusive('\n') {
            offset += line.len();
            if line.trim_end_matches(['\n', '\r']) == "\\." {
                end = offset;
                break;
            }
        }
        if end > start {
            let trimmed = start + self.text[start..end].trim_end().len();
            self.push(start..trimmed, RawKind::CopyData);
        }
        self.pos = end;
    }
}

fn is_word_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

/// Length of the UTF-8 character starting with `byte` (1 for continuation bytes, so a scan
/// never stops inside a character).
fn char_len(byte: u8) -> usize {
    match byte {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).iter().map(|s| s.text(sql)).collect()
    }

    #[test]
    fn splits_on_semicolons_with_positions() {
        let sql =
            "-- header\nCREATE TABLE a (id int);\n  ALTER TABLE a ADD COLUMN b text;\nSELECT 1";
        let statements = split(sql);
        assert_eq!(
            texts(sql),
            [
                "CREATE TABLE a (id int);",
                "ALTER TABLE a ADD COLUMN b text;",
                "SELECT 1"
            ]
        );
        assert_eq!((statements[0].line, statements[0].column), (2, 1));
        assert_eq!((statements[1].line, statements[1].column), (3, 3));
        assert_eq!((statements[2].line, statements[2].column), (4, 1));
    }

    #[test]
    fn semicolons_inside_comments_strings_and_identifiers_do_not_split() {
        let sql = "INSERT INTO t VALUES ('a;b', 'it''s;', E'x\\';y'); /* c; /* nested; */ still; */ SELECT \"we;ird\"; -- tail;\n";
        assert_eq!(
            texts(sql),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s;', E'x\\';y');",
                "SELECT \"we;ird\";"
            ]
        );
    }

    #[test]
    fn dollar_quotes_and_parameters() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nDO $$ BEGIN PERFORM 1; END $$;\nPREPARE p AS SELECT $1;";
        assert_eq!(
            texts(sql),
            [
                "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;",
                "DO $$ BEGIN PERFORM 1; END $$;",
                "PREPARE p AS SELECT $1;",
            ]
        );
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let sql = "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END;\nBEGIN;\nCOMMIT;";
        assert_eq!(
            texts(sql),
            [
                "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END;",
                "BEGIN;",
                "COMMIT;",
            ]
        );
    }

    #[test]
    fn parentheses_keep_rule_actions_together() {
        let sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); INSERT INTO log VALUES (2));\nSELECT 1;";
        assert_eq!(texts(sql).len(), 2);
        let sql = "CREATE OR REPLACE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); SELECT 2);\nSELECT 1;";
        assert_eq!(texts(sql).len(), 2);
    }

    #[test]
    fn an_unbalanced_parenthesis_does_not_swallow_the_rest() {
        let sql = "ALTER TABLE ((( garbage;\nDROP TABLE t;\nSELECT (1;";
        assert_eq!(
            texts(sql),
            ["ALTER TABLE ((( garbage;", "DROP TABLE t;", "SELECT (1;"]
        );
    }

    #[test]
    fn unbalanced_statements_say_what_is_open() {
        let of = |sql: &str| -> Vec<Option<Unbalanced>> {
            split(sql).iter().map(|s| s.unbalanced).collect()
        };
        assert_eq!(
            of("SELECT ((((1;\nSELECT (1));\nSELECT f((1), 2);"),
            [Some(Unbalanced::Open(4)), Some(Unbalanced::Close), None]
        );
        assert_eq!(of("SELECT ')' || \"(\" || $$($$ /* ( */ -- (\n;"), [None]);
        assert_eq!(
            of("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); SELECT 2);"),
            [None]
        );
        assert_eq!(
            of("SELECT 1;\nSELECT 'oops;\nSELECT 2;"),
            [None, Some(Unbalanced::Unterminated("a quoted string"))]
        );
        assert_eq!(
            of("DO $x$ BEGIN; SELECT 1;"),
            [Some(Unbalanced::Unterminated("a dollar-quoted string"))]
        );
        assert_eq!(
            of("SELECT 1 /* no end;"),
            [Some(Unbalanced::Unterminated("a `/*` comment"))]
        );
        assert_eq!(of("SELECT E'it\\'s';"), [None]);
    }

    #[test]
    fn psql_meta_commands_and_copy_data() {
        let sql =
            "\\set ON_ERROR_STOP on\nCOPY t (a, b) FROM stdin;\n1\tx;y\n2\tz\n\\.\nSELECT 1;\n";
        let statements = split(sql);
        let kinds: Vec<_> = statements.iter().map(|s| (s.kind, s.text(sql))).collect();
        assert_eq!(
            kinds,
            [
                (RawKind::PsqlMeta, "\\set ON_ERROR_STOP on"),
                (RawKind::Sql, "COPY t (a, b) FROM stdin;"),
                (RawKind::CopyData, "1\tx;y\n2\tz\n\\."),
                (RawKind::Sql, "SELECT 1;"),
            ]
        );
        assert_eq!(statements[3].line, 6);
    }

    #[test]
    fn unterminated_constructs_end_at_the_end_of_text() {
        assert_eq!(texts("SELECT 'open"), ["SELECT 'open"]);
        assert_eq!(texts("SELECT $$ open"), ["SELECT $$ open"]);
        assert_eq!(texts("SELECT 1 /* open"), ["SELECT 1"]);
        assert!(split("  -- only a comment\n/* and another */").is_empty());
    }

    #[test]
    fn non_ascii_text_keeps_columns_in_characters() {
        let sql = "SELECT 'é'; SELECT 2;";
        let statements = split(sql);
        assert_eq!(statements[1].column, 13);
        assert_eq!(texts("CREATE TABLE ünïcode (x int); SELECT 1;").len(), 2);
    }

    #[test]
    fn garbage_never_panics() {
        for sql in [
            "'",
            "\"",
            "$",
            "$$",
            "$a",
            "E'\\",
            "/*",
            "--",
            ";;;",
            "\\",
            "(((;",
            ")))",
            "é;ü'",
            "COPY t FROM stdin;",
        ] {
            let _ = split(sql);
        }
    }

    #[test]
    fn spans_are_ordered_and_on_character_boundaries() {
        const PIECES: &[&str] = &[
            "SELECT 1",
            ";",
            "'",
            "''",
            "E'\\'",
            "\"",
            "$$",
            "$x$",
            "$1",
            "--c\n",
            "/*",
            "*/",
            "(",
            ")",
            "\n",
            "\\.\n",
            "\\set x\n",
            "COPY t FROM stdin",
            "BEGIN ATOMIC",
            "END",
            "CASE",
            "é",
            "ü'",
            " ",
            "e'",
        ];
        let mut seed: u64 = 0x5eed;
        for _ in 0..3_000 {
            let mut sql = String::new();
            for _ in 0..(seed % 12 + 1) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                sql.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
            }
            let mut previous_end = 0;
            for statement in split(&sql) {
                assert!(statement.span.start >= previous_end, "{sql:?}");
                assert!(statement.span.start < statement.span.end, "{sql:?}");
                assert!(
                    sql.is_char_boundary(statement.span.start)
                        && sql.is_char_boundary(statement.span.end),
                    "{sql:?}"
                );
                previous_end = statement.span.end;
            }
        }
    }
}
