//! Normalising names and reading default expressions, shared by the AST and token paths.

use super::model::{DefaultKind, Name};

/// Joins name parts, dropping the default `public` schema.
pub(crate) fn join(mut parts: Vec<String>) -> Name {
    if parts.len() > 1 && parts[0] == "public" {
        parts.remove(0);
    }
    parts.join(".")
}

/// One identifier as written: `"Quoted"` keeps its case, anything else is lower-cased.
pub(crate) fn normalize_ident(text: &str) -> Name {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        inner.replace("\"\"", "\"")
    } else {
        text.to_ascii_lowercase()
    }
}

/// A possibly qualified name as written (`public.orders`, `"Sales".orders`).
pub(crate) fn normalize_name(text: &str) -> Name {
    join(text.split('.').map(normalize_ident).collect())
}

/// A time zone name PostgreSQL resolves to offset 0 without daylight saving (what lets
/// PostgreSQL >= 12 turn timestamp into timestamptz without a rewrite), case-insensitive.
pub(crate) fn is_utc_zone(zone: &str) -> bool {
    let zone = zone.trim().to_ascii_lowercase();
    let zone = zone.strip_prefix("etc/").unwrap_or(&zone);
    matches!(
        zone,
        "utc" | "uct" | "gmt" | "gmt0" | "gmt+0" | "gmt-0" | "zulu" | "universal" | "greenwich"
    ) || zone == "0"
}

/// Functions whose result differs per row: a default using one rewrites the table.
const VOLATILE: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "gen_random_bytes",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "setseed",
];

/// Functions evaluated once per statement: the default is computed once, no rewrite.
const STABLE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "statement_timestamp",
    "transaction_timestamp",
    "current_user",
    "current_setting",
];

/// How a default expression (its text) behaves when a column is added with it.
pub(crate) fn default_kind(expr: &str) -> DefaultKind {
    let code = strip_strings(&expr.to_ascii_lowercase());
    let mut kind = DefaultKind::Constant;
    let mut rest = code.as_str();
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_ascii_alphabetic() || c == '_')
            .unwrap_or(rest.len());
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        let is_call = rest.trim_start().starts_with('(');
        if is_call && VOLATILE.contains(&word) {
            return DefaultKind::Volatile;
        }
        if STABLE.contains(&word) {
            kind = DefaultKind::Stable;
        }
    }
    kind
}

/// The functions a default expression calls (`f(`, `s.f(`), lower-cased, `public.` dropped.
pub(crate) fn called_functions(expr: &str) -> Vec<Name> {
    let code = strip_strings(&expr.to_ascii_lowercase());
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if rest.trim_start().starts_with('(') {
            out.push(normalize_name(word));
        }
    }
    out
}

/// `text` with the contents of single-quoted strings removed.
fn strip_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    for c in text.chars() {
        if c == '\'' {
            in_string = !in_string;
            out.push(c);
        } else if !in_string {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_defaults() {
        assert_eq!(normalize_name("public.Orders"), "orders");
        assert_eq!(normalize_name("\"Sales\".orders"), "Sales.orders");
        assert_eq!(default_kind("now()"), DefaultKind::Stable);
        assert_eq!(default_kind("CURRENT_TIMESTAMP"), DefaultKind::Stable);
        assert_eq!(default_kind("gen_random_uuid()"), DefaultKind::Volatile);
        assert_eq!(
            default_kind("nextval('s'::regclass)"),
            DefaultKind::Volatile
        );
        assert_eq!(default_kind("'random()'"), DefaultKind::Constant);
        assert_eq!(default_kind("0"), DefaultKind::Constant);
    }
}
