//! SG4xx: type and design choices (bigint keys, identity, text, timestamptz, jsonb,
//! identifier length, domains with a CHECK).
//!
//! A rule of this family is one file here plus `pub(crate) mod <name>;` below and its
//! `rule!` line in `src/lint/registry.rs` (see `docs/architecture.md`).

pub(crate) mod ban_char;
pub(crate) mod domain_with_check;
pub(crate) mod identifier_too_long;
pub(crate) mod prefer_bigint_keys;
pub(crate) mod prefer_identity;
pub(crate) mod prefer_jsonb;
pub(crate) mod prefer_text_over_varchar;
pub(crate) mod prefer_timestamptz;
