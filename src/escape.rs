//! Escaping text for HTML and XML bodies (badges, the Atom feed, alert
//! emails, the demo's sink page); pages rendered with maud escape on their own.

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

#[cfg(test)]
mod tests {
    #[test]
    fn markup_escapes_what_breaks_html_and_xml() {
        assert_eq!(
            super::markup("<a href=\"x\">'&'\u{1}</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;\u{fffd}&lt;/a&gt;"
        );
    }
}
