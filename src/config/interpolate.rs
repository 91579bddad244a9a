//! `${VAR}` and `${VAR:-default}` expansion in configuration strings.

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum InterpolateError {
    /// `${NAME}` with NAME unset (or empty) and no default.
    Missing(String),
    /// `${` without its closing brace, or an empty name.
    Malformed(String),
}

/// Expands `${VAR}` (error when unset or empty) and `${VAR:-default}` (default when unset or
/// empty) using `lookup`. `$$` stands for a literal `$`; any other `$` is kept as it is, so a
/// password such as `pa$word` needs no escaping.
pub(super) fn interpolate(
    input: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| InterpolateError::Malformed(format!("${{{body}")))?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expr, None),
            };
            let valid_name = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid_name {
                return Err(InterpolateError::Malformed(format!("${{{expr}}}")));
            }
            match (lookup(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => return Err(InterpolateError::Missing(name.to_string())),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        assert_eq!(
            interpolate("postgres://${HOST}/app", env).unwrap(),
            "postgres://db.internal/app"
        );
        assert_eq!(interpolate("${PORT:-5432}", env).unwrap(), "5432");
        assert_eq!(interpolate("${EMPTY:-x}", env).unwrap(), "x");
        assert_eq!(interpolate("${HOST:-x}", env).unwrap(), "db.internal");
    }

    #[test]
    fn dollar_without_brace_is_literal_and_double_dollar_escapes() {
        assert_eq!(interpolate("pa$word", env).unwrap(), "pa$word");
        assert_eq!(interpolate("$${HOST}", env).unwrap(), "${HOST}");
        assert_eq!(interpolate("end$", env).unwrap(), "end$");
    }

    #[test]
    fn missing_and_malformed_are_errors() {
        assert_eq!(
            interpolate("${NOPE}", env),
            Err(InterpolateError::Missing("NOPE".into()))
        );
        assert_eq!(
            interpolate("${EMPTY}", env),
            Err(InterpolateError::Missing("EMPTY".into()))
        );
        assert!(matches!(
            interpolate("${HOST", env),
            Err(InterpolateError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${}", env),
            Err(InterpolateError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${A B}", env),
            Err(InterpolateError::Malformed(_))
        ));
    }
}
