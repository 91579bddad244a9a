//! SQL text: splitting scripts into statements, parsing each (sqlparser first, tokens for
//! what it rejects), and finding the SQL inside PL/pgSQL `DO` bodies. Pure: no I/O.

pub(crate) mod classify;
pub(crate) mod ident;
pub(crate) mod lines;
pub(crate) mod parse;
pub(crate) mod plpgsql;
pub(crate) mod split;
pub(crate) mod tokens;

pub(crate) use classify::{Class, TxnControl, classify_sql};
pub(crate) use ident::quote_ident;
pub(crate) use ident::{quote_literal, quote_parts};
pub(crate) use lines::Lines;
pub(crate) use parse::{Parsed, parse};
pub use split::split;
pub(crate) use split::{RawKind, RawStatement};
pub(crate) use tokens::{Kept, Tok, TokKind, tokenize};
