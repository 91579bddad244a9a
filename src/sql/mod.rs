//! SQL text: splitting scripts into statements (and, with the lint engine, parsing them).
//! Pure: no I/O.

pub mod split;

pub use split::{RawKind, RawStatement, split};
