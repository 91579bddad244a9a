//! Statement tokens with byte offsets, built on sqlparser's tokenizer. The token classifier
//! in `analyze::fallback` and the DO-block reader work on these.

use std::cell::Cell;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::lines::Lines;

/// One token, without whitespace and comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: TokKind,
    /// Byte range in the statement text.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// A keyword or identifier: `upper` for keyword matching, `value` as written (quotes
    /// removed), `quoted` for `"Ident"`.
    Word {
        upper: String,
        value: String,
        quoted: bool,
    },
    /// A single-quoted string's value.
    Str(String),
    /// A dollar-quoted string: `body_start` is the byte offset of its body in the statement.
    Dollar {
        body: String,
        body_start: usize,
    },
    Number,
    /// Punctuation and operators (`(`, `)`, `,`, `.`, `;`, `=`, ...), by their text.
    Punct(String),
}

impl Tok {
    /// The upper-cased word, if this is an unquoted word.
    pub(crate) fn keyword(&self) -> Option<&str> {
        match &self.kind {
            TokKind::Word { upper, quoted, .. } if !quoted => Some(upper),
            _ => None,
        }
    }

    pub(crate) fn is(&self, keyword: &str) -> bool {
        self.keyword() == Some(keyword)
    }

    pub(crate) fn is_punct(&self, punct: &str) -> bool {
        matches!(&self.kind, TokKind::Punct(p) if p == punct)
    }

    /// An identifier as PostgreSQL reads it (and a [`Name`](crate::analyze::Name) spells it):
    /// unquoted words fold to lower case.
    pub(crate) fn ident(&self) -> Option<String> {
        match &self.kind {
            TokKind::Word { value, quoted, .. } => Some(if *quoted {
                value.clone()
            } else {
                value.to_lowercase()
            }),
            _ => None,
        }
    }
}

/// sqlparser's tokens of one statement, kept from parsing it (whitespace and comments left
/// out), so that its [`Tok`]s can be made when a rule first asks where a clause is without
/// tokenizing the text again. Most statements are never asked: making `Tok`s of every one
/// would cost more than tokenizing the few again. [`Kept::toks`] takes them (moving their
/// strings into the `Tok`s); the lint engine keeps what it made for the statement's other
/// findings.
#[derive(Default)]
pub struct Kept(Cell<Option<Box<[TokenWithSpan]>>>);

impl Kept {
    /// Takes the tokens the tokenizer gave for a statement's whole text out of `tokens`.
    pub(crate) fn keep(tokens: &mut Vec<TokenWithSpan>) -> Kept {
        let meaningful = |t: &TokenWithSpan| !matches!(t.token, Token::Whitespace(_) | Token::EOF);
        let mut kept = Vec::with_capacity(tokens.iter().filter(|t| meaningful(t)).count());
        kept.extend(tokens.drain(..).filter(meaningful));
        Kept(Cell::new(Some(kept.into_boxed_slice())))
    }

    /// The tokens of `text`, the statement they were kept from, as [`tokenize`] makes them;
    /// `None` when none were kept or they were taken already.
    pub(crate) fn toks(&self, text: &str) -> Option<Vec<Tok>> {
        let kept = self.0.take()?;
        Some(from_sqlparser(text, kept.into_vec().into_iter()))
    }
}

impl Clone for Kept {
    fn clone(&self) -> Kept {
        let kept = self.0.take();
        let copy = kept.clone();
        self.0.set(kept);
        Kept(Cell::new(copy))
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kept")
    }
}

/// Kept tokens are a cache of the statement's text: they do not make two analyses differ.
impl PartialEq for Kept {
    fn eq(&self, _: &Kept) -> bool {
        true
    }
}

impl Eq for Kept {}

/// Tokens of `text`, or `None` when the tokenizer rejects it (an unterminated string).
pub(crate) fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let dialect = PostgreSqlDialect {};
    let mut tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .ok()?;
    Some(from_sqlparser(text, tokens.drain(..)))
}

/// Our tokens from sqlparser's tokens of `text` (as [`tokenize`] makes them).
pub(crate) fn from_sqlparser(
    text: &str,
    tokens: impl ExactSizeIterator<Item = TokenWithSpan>,
) -> Vec<Tok> {
    // Tokens come in text order, so each lookup steps on from the one before.
    let mut lines = Lines::new(text);
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        if let Some(tok) = convert(&mut lines, token) {
            out.push(tok);
        }
    }
    out
}

/// One sqlparser token as ours; `None` for whitespace, comments and the end.
fn convert(lines: &mut Lines, token: TokenWithSpan) -> Option<Tok> {
    let start = lines.offset(token.span.start.line, token.span.start.column);
    let end = lines.offset(token.span.end.line, token.span.end.column);
    let end = end.max(start);
    let kind = match token.token {
        Token::Whitespace(_) | Token::EOF => return None,
        Token::Word(word) => TokKind::Word {
            upper: if word.quote_style.is_some() {
                word.value.clone()
            } else {
                word.value.to_ascii_uppercase()
            },
            quoted: word.quote_style.is_some(),
            value: word.value,
        },
        Token::SingleQuotedString(s)
        | Token::EscapedStringLiteral(s)
        | Token::NationalStringLiteral(s) => TokKind::Str(s),
        Token::DollarQuotedString(dollar) => {
            let tag_len = dollar.tag.as_ref().map_or(0, String::len);
            TokKind::Dollar {
                body: dollar.value,
                body_start: start + tag_len + 2,
            }
        }
        Token::Number(..) => TokKind::Number,
        other => TokKind::Punct(other.to_string()),
    };
    Some(Tok { kind, start, end })
}

/// The first token of `tokens` that is not whitespace or a comment, as ours.
pub(crate) fn first_token(text: &str, tokens: &[TokenWithSpan]) -> Option<Tok> {
    let first = tokens
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))?;
    convert(&mut Lines::new(text), first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_byte_offsets() {
        let text = "DROP INDEX CONCURRENTLY \"Ix\"; -- c\nDO $x$ BEGIN END $x$";
        let toks = tokenize(text).unwrap();
        assert!(toks[0].is("DROP"));
        assert_eq!(&text[toks[3].start..toks[3].end], "\"Ix\"");
        let dollar = toks.iter().find_map(|t| match &t.kind {
            TokKind::Dollar { body, body_start } => Some((body.clone(), *body_start)),
            _ => None,
        });
        let (body, start) = dollar.unwrap();
        assert_eq!(&text[start..start + body.len()], body);
        assert_eq!(body, " BEGIN END ");
    }

    /// The tokens kept from parsing a statement give what tokenizing its text again gives:
    /// comments, line breaks, non-ASCII text, quoted names and dollar quotes included.
    #[test]
    fn kept_tokens_are_the_tokens_of_the_text() {
        for text in [
            "ALTER TABLE t ADD COLUMN c int;",
            "-- ü\nCREATE TABLE \"Ünï\" (\n  id int /* c */ PRIMARY KEY,\n  name text DEFAULT 'é''s'\n);",
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1 $body$ LANGUAGE sql;",
            "UPDATE t SET a = E'x\\ny' WHERE b IS NULL",
        ] {
            let crate::sql::Parsed::Ast(_, kept) = crate::sql::parse(text) else {
                panic!("sqlparser reads {text}");
            };
            assert_eq!(kept.toks(text), tokenize(text), "{text}");
            assert_eq!(kept.toks(text), None, "taken once: {text}");
        }
    }

    #[test]
    fn non_ascii_columns_map_to_bytes() {
        let text = "COMMENT ON TABLE t IS 'ünï'; SELECT ü";
        let toks = tokenize(text).unwrap();
        let last = toks.last().unwrap();
        assert_eq!(&text[last.start..last.end], "ü");
    }
}
