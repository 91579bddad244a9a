//! SQL text: splitting scripts into statements, parsing each (sqlparser first, tokens for
//! what it rejects), and finding the SQL inside PL/pgSQL `DO` bodies. Pure: no I/O.

pub mod classify;
pub mod ident;
pub mod lines;
pub mod parse;
pub mod plpgsql;
pub mod split;
pub mod tokens;

pub use classify::{Class, TxnControl, classify, classify_sql};
pub use ident::quote_ident;
pub use lines::Lines;
pub use parse::{Parsed, parse};
pub use split::{RawKind, RawStatement, Unbalanced, split};
pub use tokens::{Tok, TokKind, tokenize};
