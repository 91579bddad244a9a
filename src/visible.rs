//! What a person sees on a terminal. Text from a pull request or a server (file names, SQL,
//! directive text, server messages, reasons) may hold characters a terminal obeys instead
//! of showing: `ESC [8m` hides everything after it, `\r` and backspaces overwrite a line,
//! U+202E reverses it, U+200B is not there at all. [`text`] shows each of them as an escape
//! (`\x1b`, `\r`, `\u{202e}`), so what follows cannot be hidden or rewritten. Every line
//! stagegate writes for people goes through it: the printer's errors, warnings and notes,
//! the confirmation summary and prompts, lint's text report. JSON and SARIF keep the exact
//! text (JSON escapes control characters itself).
//!
//! [`is_blank`] is the other half: text made only of spaces and such invisible characters
//! (a `--reason` of U+200B) says nothing, and is refused where something must be said.

use std::borrow::Cow;

/// `text` with every character a terminal would act on, or that shows nothing, replaced by
/// its escape; line breaks and tabs are kept. Text without such characters is returned as
/// it is.
pub(crate) fn text(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// [`text`] for a piece of one line (a file name in a list, a typed answer): a line break
/// is escaped too, so it cannot start a line that looks like stagegate's.
pub(crate) fn line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// True when `text` has no character a person can see: only whitespace, control characters
/// and invisible ones (zero-width spaces, joiners, direction marks, blank fillers).
pub(crate) fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || c.is_control() || invisible(c))
}

fn escape(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let kept = |c: char| (keep_lines && c == '\n') || c == '\t';
    let acts = |c: char| !kept(c) && (c.is_control() || invisible(c));
    // Most text is printable ASCII: checked byte by byte, without decoding characters.
    let plain = |b: u8| (b' '..=b'~').contains(&b) || b == b'\t' || (keep_lines && b == b'\n');
    if text.bytes().all(plain) || !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !acts(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

/// Characters that are not control characters but show nothing or change how the text
/// around them shows: format characters (direction marks and overrides, zero-width spaces
/// and joiners, the byte order mark, invisible operators, tags, variation selectors) and
/// the letters and symbols drawn blank (Hangul fillers, the blank Braille pattern).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_as_escapes() {
        assert_eq!(
            text("0002_tidy_comments\x1b[8m.up.sql"),
            "0002_tidy_comments\\x1b[8m.up.sql"
        );
        assert_eq!(text("a\rb\x08c\x7fd\u{9b}e"), "a\\rb\\x08c\\x7fd\\u{9b}e");
        assert_eq!(text("abc\u{202e}lmth.exe"), "abc\\u{202e}lmth.exe");
        assert_eq!(text("zero\u{200b}width"), "zero\\u{200b}width");
        // Lines and tabs stay in text, a line break is escaped in a line.
        assert_eq!(text("one\n\ttwo"), "one\n\ttwo");
        assert_eq!(line("one\ntwo\r"), "one\\ntwo\\r");
        // Ordinary text is not copied, whatever its script.
        assert!(matches!(text("café — naïve 日本"), Cow::Borrowed(_)));
        // Escaping twice changes nothing: the escapes are visible characters.
        let once = text("\x1b]0;title\x07").into_owned();
        assert_eq!(text(&once), once);
    }

    #[test]
    fn blank_text_shows_nothing() {
        for blank in [
            "",
            "   ",
            "\u{200b}",
            "\u{2800}\u{2800}",
            "\u{180e}",
            "\u{3164} \u{feff}",
            "\t\x1b\u{2060}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for said in ["x", " fix \u{200b}", "修正", "\u{2800}ok"] {
            assert!(!is_blank(said), "{said:?}");
        }
    }
}
