//! Masking passwords in connection strings and in free text that may quote one.

const MASK: &str = "***";

/// Masks passwords of connection URLs and `password=` settings wherever they appear in free
/// text, such as a parser's error message that quotes a line of the config file.
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let authority_start = found + 3;
        let authority_len = rest[authority_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '/' | '?' | '`'))
            .unwrap_or(rest.len() - authority_start);
        let authority = &rest[authority_start..authority_start + authority_len];
        out.push_str(&rest[..authority_start]);
        match authority
            .rfind('@')
            .map(|at| (at, authority[..at].find(':')))
        {
            Some((at, Some(colon))) => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &rest[authority_start + authority_len..];
    }
    out.push_str(rest);
    redact_key_values(&out)
}

/// Replaces passwords in a connection string: the `user:password@` part of a URL, and
/// `password=` parameters in a URL query or a `key=value` string.
pub fn redact(text: &str) -> String {
    match text.find("://") {
        Some(scheme_end) => redact_url(text, scheme_end + 3),
        None => redact_key_values(text),
    }
}

fn redact_url(text: &str, authority_start: usize) -> String {
    let rest = &text[authority_start..];
    let query_start = rest.find('?').unwrap_or(rest.len());
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..authority_start]);
    match rest[..query_start].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&rest[at..query_start]);
        }
        None => out.push_str(&rest[..query_start]),
    }
    if query_start < rest.len() {
        out.push('?');
        let params: Vec<String> = rest[query_start + 1..]
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
                _ => param.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let lower = rest.to_ascii_lowercase();
        let Some(pos) = find_password_key(&lower) else {
            out.push_str(rest);
            break;
        };
        let value_start = pos + lower[pos..].find('=').map_or(0, |eq| eq + 1);
        out.push_str(&rest[..value_start]);
        let after_eq = &rest[value_start..];
        let trimmed = after_eq.trim_start();
        out.push_str(&after_eq[..after_eq.len() - trimmed.len()]);
        let value_len = if let Some(quoted) = trimmed.strip_prefix('\'') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                if c == '\\' {
                    chars.next();
                } else if c == '\'' {
                    end = i + 1;
                    break;
                }
            }
            end + 1
        } else {
            trimmed.find(char::is_whitespace).unwrap_or(trimmed.len())
        };
        out.push_str(MASK);
        rest = &trimmed[value_len.min(trimmed.len())..];
    }
    out
}

/// Position of a `password` key (followed by optional spaces and `=`) at a word start.
fn find_password_key(lower: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let pos = from + found;
        let at_word_start = pos == 0 || lower.as_bytes()[pos - 1].is_ascii_whitespace();
        let after = lower[pos + "password".len()..].trim_start();
        if at_word_start && after.starts_with('=') {
            return Some(pos);
        }
        from = pos + "password".len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_with_at_sign_and_query_password_are_masked() {
        assert_eq!(
            redact("postgresql://u:p@ss@h/db"),
            "postgresql://u:***@h/db"
        );
        assert_eq!(
            redact("postgres://h/db?user=u&password=hunter2&sslmode=verify-full"),
            "postgres://h/db?user=u&password=***&sslmode=verify-full"
        );
    }

    #[test]
    fn url_without_password_is_unchanged() {
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(redact("postgres://127.0.0.1/x"), "postgres://127.0.0.1/x");
    }

    #[test]
    fn passwords_in_free_text_are_masked() {
        let message = "TOML parse error at line 2\n  |\n2 | url = postgres://app:hunter2@db/app\n  |       ^ expected a value";
        let redacted = redact_text(message);
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(redacted.contains("postgres://app:***@db/app"), "{redacted}");
        assert_eq!(redact_text("no secrets here"), "no secrets here");
        assert!(!redact_text("x = 'host=h password=hunter2'").contains("hunter2"));
    }

    #[test]
    fn key_value_password_is_masked() {
        assert_eq!(
            redact("host=db user=app password=hunter2 dbname=app"),
            "host=db user=app password=*** dbname=app"
        );
        assert_eq!(
            redact("host=db password = 'a b\\' c' port=5432"),
            "host=db password = *** port=5432"
        );
        assert_eq!(redact("host=db passwordfile=x"), "host=db passwordfile=x");
    }
}
