//! Parsing one statement: sqlparser first, the token classifier's tokens when sqlparser
//! rejects it (or would misread a PostgreSQL-only command).

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::tokens::{Tok, tokenize};

/// What reading a statement gave.
#[derive(Debug)]
pub enum Parsed {
    /// sqlparser understood it.
    Ast(Box<Statement>),
    /// sqlparser did not; its tokens are left for the token classifier.
    Tokens(Vec<Tok>),
    /// Not even the tokenizer could read it.
    Unreadable,
}

/// Commands that sqlparser reads with another dialect's meaning, or not at all: these go
/// straight to the token classifier.
const TOKEN_FIRST: &[&str] = &[
    "VACUUM", "CLUSTER", "REINDEX", "DO", "ANALYZE", "REFRESH", "LOCK",
];

/// Reads one statement (its text, `;` included or not).
pub fn parse(text: &str) -> Parsed {
    let first = first_word(text);
    if !TOKEN_FIRST.iter().any(|w| first.eq_ignore_ascii_case(w)) {
        let dialect = PostgreSqlDialect {};
        if let Ok(mut statements) = Parser::parse_sql(&dialect, text)
            && statements.len() == 1
            && let Some(statement) = statements.pop()
        {
            return Parsed::Ast(Box::new(statement));
        }
    }
    match tokenize(text) {
        Some(tokens) => Parsed::Tokens(tokens),
        None => Parsed::Unreadable,
    }
}

/// The statement's first word (letters and underscores), without parsing.
pub fn first_word(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlparser_first_then_tokens() {
        assert!(matches!(
            parse("ALTER TABLE t ADD COLUMN c int;"),
            Parsed::Ast(_)
        ));
        assert!(matches!(
            parse("DROP INDEX CONCURRENTLY i;"),
            Parsed::Tokens(_) | Parsed::Ast(_)
        ));
        assert!(matches!(parse("VACUUM FULL t;"), Parsed::Tokens(_)));
        assert!(matches!(parse("SELECT 'unterminated"), Parsed::Unreadable));
    }
}
