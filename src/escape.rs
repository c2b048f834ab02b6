//! Escaping text for HTML and XML bodies (badges, the Atom feed, alert
//! emails, the demo's sink page; pages rendered with maud escape on their
//! own), and for log lines that quote what someone else wrote.

use std::borrow::Cow;

/// Escapes `& < > " '` for HTML and XML text and attributes, and replaces
/// control characters, which XML 1.0 does not allow at all.
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Makes text someone else wrote (a push `msg`, an annotation, a peer's
/// answer) safe to put in a log line: control characters become `\n`,
/// `\r`, `\t` or `\u{..}`, and so do the Unicode line and paragraph
/// separators some viewers break lines at, so one event stays one line and
/// nobody can forge another or steer a terminal. A backslash is doubled, so
/// a literal `\n` in the text cannot pass for an escaped newline. Anything
/// else, non-ASCII included, passes through; text with nothing to escape
/// is not copied.
pub fn log_field(text: &str) -> Cow<'_, str> {
    let needs_escape =
        |c: char| c == '\\' || c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_escapes_what_breaks_html_and_xml() {
        assert_eq!(
            super::markup("<a href=\"x\">'&'\u{1}</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;\u{fffd}&lt;/a&gt;"
        );
    }

    #[test]
    fn log_field_keeps_one_line_and_says_what_was_there() {
        use super::log_field;
        assert_eq!(log_field("done\nERROR forged"), "done\\nERROR forged");
        assert_eq!(log_field("a\r\nb"), "a\\r\\nb");
        assert_eq!(log_field("col\tcol"), "col\\tcol");
        assert_eq!(log_field("\u{1b}[31mred\u{7}"), "\\u{1b}[31mred\\u{7}");
        assert_eq!(
            log_field("nul\0 del\u{7f} c1\u{85}"),
            "nul\\u{0} del\\u{7f} c1\\u{85}"
        );
        assert_eq!(
            log_field("line\u{2028}para\u{2029}"),
            "line\\u{2028}para\\u{2029}"
        );
        assert_eq!(log_field("C:\\temp\\n"), "C:\\\\temp\\\\n");
    }

    #[test]
    fn log_field_passes_ordinary_text_through_untouched() {
        use std::borrow::Cow;
        for text in ["", "backup ok", "Grüße, 東京 🚀 «ok» 'quoted' \"too\""] {
            let escaped = super::log_field(text);
            assert!(matches!(escaped, Cow::Borrowed(_)), "{text:?} was copied");
            assert_eq!(escaped, text);
        }
    }
}
