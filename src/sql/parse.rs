//! Parsing one statement: sqlparser first, the token classifier's tokens when sqlparser
//! rejects it (or would misread a PostgreSQL-only command).

use std::cell::Cell;

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{TokenWithSpan, Tokenizer};

use super::tokens::{self, Kept, Tok, tokenize};

/// What reading a statement gave.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// sqlparser understood it; its tokens are kept for [`Ctx::tokens`](crate::lint::Ctx::tokens).
    Ast(Box<Statement>, Kept),
    /// sqlparser did not (or was not needed: see [`FIRST_WORD_DECIDES`]); its tokens are left
    /// for the token classifier.
    Tokens(Vec<Tok>),
    /// Not even the tokenizer could read it.
    Unreadable,
}

/// Commands that sqlparser reads with another dialect's meaning, or not at all: these go
/// straight to the token classifier.
const TOKEN_FIRST: &[&str] = &[
    "VACUUM", "CLUSTER", "REINDEX", "DO", "ANALYZE", "REFRESH", "LOCK",
];

/// Commands whose first word alone decides what the statement changes, whichever way it is
/// read: sqlparser's statement for them (a query, `COMMENT`, `GRANT`) and the token
/// classifier's reading of their first token give the same [`Change`](crate::analyze::Change),
/// so once the tokenizer has accepted them they are not parsed. (A statement the tokenizer
/// rejects is still [`Parsed::Unreadable`].)
const FIRST_WORD_DECIDES: &[&str] = &["SELECT", "COMMENT", "GRANT"];

thread_local! {
    /// sqlparser's token buffer, kept between statements so that it grows once instead of
    /// once per statement (up to [`KEPT_TOKENS`] tokens).
    static TOKENS: Cell<Vec<TokenWithSpan>> = const { Cell::new(Vec::new()) };
}

/// A buffer that grew past this many tokens (a huge statement) is not kept.
const KEPT_TOKENS: usize = 8_192;

/// Reads one statement (its text, `;` included or not).
pub(crate) fn parse(text: &str) -> Parsed {
    let first = first_word(text);
    if TOKEN_FIRST.iter().any(|w| first.eq_ignore_ascii_case(w)) {
        return match tokenize(text) {
            Some(tokens) => Parsed::Tokens(tokens),
            None => Parsed::Unreadable,
        };
    }
    let dialect = PostgreSqlDialect {};
    let mut buffer = TOKENS.take();
    buffer.clear();
    // What `Parser::parse_sql` does, with a reused buffer: tokenize (unescaping, as
    // `Parser::new` and `Tokenizer::new` both default to), then parse the tokens.
    let parsed = if Tokenizer::new(&dialect, text)
        .with_unescape(true)
        .tokenize_with_location_into_buf(&mut buffer)
        .is_err()
    {
        // sqlparser fails on what its tokenizer rejects, and so does `tokenize`.
        Parsed::Unreadable
    } else if let Some(tok) = tokens::first_token(text, &buffer)
        && tok
            .keyword()
            .is_some_and(|word| FIRST_WORD_DECIDES.contains(&word))
    {
        Parsed::Tokens(vec![tok])
    } else {
        let mut parser = Parser::new(&dialect).with_tokens_with_locations(buffer);
        let statements = parser.parse_statements();
        buffer = parser.into_tokens();
        match statements {
            Ok(mut statements) if statements.len() == 1 => Parsed::Ast(
                Box::new(statements.pop().expect("one statement")),
                Kept::keep(&mut buffer),
            ),
            // The same tokens `tokenize` would make, without tokenizing again.
            _ => Parsed::Tokens(tokens::from_sqlparser(text, buffer.drain(..))),
        }
    };
    buffer.clear();
    if buffer.capacity() <= KEPT_TOKENS {
        TOKENS.set(buffer);
    }
    parsed
}

/// The statement's first word (letters and underscores), without parsing.
pub(crate) fn first_word(text: &str) -> &str {
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
            Parsed::Ast(..)
        ));
        assert!(matches!(
            parse("DROP INDEX CONCURRENTLY i;"),
            Parsed::Tokens(_) | Parsed::Ast(..)
        ));
        assert!(matches!(parse("VACUUM FULL t;"), Parsed::Tokens(_)));
        assert!(matches!(parse("SELECT 'unterminated"), Parsed::Unreadable));
    }
}
