//! Mail to a page's subscribers: the confirmation, a report update, an
//! incident. Written for the public, not for the person on call: what is
//! affected and since when, never evidence, responders or internal links.
//! Every string from a person or a target is escaped in the HTML part.

use std::fmt::Write;

use crate::escape::markup as escape;
use crate::incident::{EventKind, Notice};

/// How long a confirmation link works, as the mail says it.
pub const CONFIRM_WITHIN: &str = "48 hours";

/// The links one mail carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeLinks {
    /// The page subscribed to.
    pub page: String,
    /// Confirms the subscription (only in the confirmation).
    pub confirm: Option<String>,
    /// Deletes the subscription in one click.
    pub unsubscribe: String,
}

/// A mail's subject and its two parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeMail {
    /// The subject line.
    pub subject: String,
    /// The plain text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The mail telling `notice` to a subscriber of the page titled `title`.
pub fn notice_mail(notice: &Notice, title: &str, links: &NoticeLinks) -> NoticeMail {
    let (subject, paragraphs) = match notice {
        Notice::Confirm => (
            format!("Confirm your subscription to {title}"),
            vec![
                Paragraph::Text(format!(
                    "Someone, hopefully you, asked to be told by email when {title} \
                     posts an update."
                )),
                Paragraph::Link(
                    format!("To confirm, open this link within {CONFIRM_WITHIN}:"),
                    links.confirm.clone().unwrap_or_default(),
                ),
                Paragraph::Text(
                    "If it was not you, ignore this message: nothing more will be sent.".to_owned(),
                ),
            ],
        ),
        Notice::Report {
            title: headline,
            status,
            message,
            at,
            ..
        } => (
            format!("[{title}] {}: {headline}", status.label()),
            vec![
                Paragraph::Heading(format!("{}: {headline}", status.label())),
                Paragraph::Text(message.clone()),
                Paragraph::Text(format!("Posted {}", crate::clock::rfc3339_seconds(*at))),
                Paragraph::Link("The status page:".to_owned(), links.page.clone()),
            ],
        ),
        Notice::Incident { event } => {
            let monitor = &event.monitor.name;
            let (line, detail) = match event.kind {
                EventKind::Resolved => (
                    format!("{monitor} is working again"),
                    format!(
                        "{monitor} failed from {} until {}.",
                        crate::clock::rfc3339_seconds(event.started_at),
                        event
                            .resolved_at
                            .map_or_else(String::new, crate::clock::rfc3339_seconds)
                    ),
                ),
                _ => (
                    format!("{monitor} is failing"),
                    format!(
                        "Since {}, checks of {monitor} fail ({}).",
                        crate::clock::rfc3339_seconds(event.started_at),
                        event.cause
                    ),
                ),
            };
            (
                format!("[{title}] {line}"),
                vec![
                    Paragraph::Heading(line),
                    Paragraph::Text(detail),
                    Paragraph::Link("The status page:".to_owned(), links.page.clone()),
                ],
            )
        }
    };
    let footer = Paragraph::Link(
        format!("You get this because you subscribed to {title}. To stop, open:"),
        links.unsubscribe.clone(),
    );
    let mut text = String::new();
    let mut html = String::from(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif;line-height:1.5\">",
    );
    for paragraph in paragraphs.iter().chain(std::iter::once(&footer)) {
        paragraph.write(&mut text, &mut html);
    }
    html.push_str("</body></html>");
    NoticeMail {
        subject: one_line(&subject),
        text,
        html,
    }
}

/// One block of a mail, written to both parts.
enum Paragraph {
    Heading(String),
    Text(String),
    /// A sentence, then the address on a line of its own.
    Link(String, String),
}

impl Paragraph {
    fn write(&self, text: &mut String, html: &mut String) {
        match self {
            Paragraph::Heading(line) => {
                let _ = write!(text, "{line}\n\n");
                let _ = write!(html, "<h2>{}</h2>", escape(line));
            }
            Paragraph::Text(body) => {
                let _ = write!(text, "{body}\n\n");
                let _ = write!(
                    html,
                    "<p style=\"white-space:pre-wrap\">{}</p>",
                    escape(body)
                );
            }
            Paragraph::Link(sentence, url) => {
                let _ = write!(text, "{sentence}\n{url}\n\n");
                let url = escape(url);
                let _ = write!(
                    html,
                    "<p>{}<br><a href=\"{url}\">{url}</a></p>",
                    escape(sentence)
                );
            }
        }
    }
}

/// A subject is one line: line breaks a person typed into a title become
/// spaces, so no header can be smuggled into the mail.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::format::fixture;
    use crate::incident::ReportStatus;
    use std::time::{Duration, SystemTime};

    fn links() -> NoticeLinks {
        NoticeLinks {
            page: "https://status.example.com/p/shop".to_owned(),
            confirm: Some("https://status.example.com/subscribe/confirm?token=abc".to_owned()),
            unsubscribe: "https://status.example.com/unsubscribe?token=xyz".to_owned(),
        }
    }

    #[test]
    fn the_confirmation_carries_its_link_and_the_way_out() {
        let mail = notice_mail(&Notice::Confirm, "Shop status", &links());
        assert_eq!(mail.subject, "Confirm your subscription to Shop status");
        assert!(mail.text.contains(
            "within 48 hours:\nhttps://status.example.com/subscribe/confirm?token=abc\n"
        ));
        assert!(
            mail.text
                .contains("To stop, open:\nhttps://status.example.com/unsubscribe?token=xyz\n")
        );
        assert!(
            mail.html
                .contains("<a href=\"https://status.example.com/subscribe/confirm?token=abc\">")
        );
    }

    #[test]
    fn a_report_update_is_escaped_in_html_and_its_subject_is_one_line() {
        let notice = Notice::Report {
            report: 3,
            title: "Checkout <b>down</b>\r\nBcc: x@example.com".to_owned(),
            status: ReportStatus::Identified,
            message: "We found it: <script>alert(1)</script> & more".to_owned(),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_547_200),
        };
        let mail = notice_mail(&notice, "Shop & co", &links());
        assert_eq!(
            mail.subject,
            "[Shop & co] Identified: Checkout <b>down</b>  Bcc: x@example.com"
        );
        assert!(
            mail.text
                .contains("We found it: <script>alert(1)</script> & more")
        );
        assert!(mail.text.contains("Posted 2025-12-01T00:00:00Z"));
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(!mail.html.contains("<b>down"), "{}", mail.html);
        assert!(
            mail.html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more")
        );
        assert!(mail.html.contains("Shop &amp; co"));
    }

    #[test]
    fn an_incident_tells_what_fails_and_since_when_without_internals() {
        let firing = fixture::firing();
        let mail = notice_mail(
            &Notice::Incident {
                event: Box::new(firing.clone()),
            },
            "Shop",
            &links(),
        );
        let monitor = &firing.monitor.name;
        assert_eq!(mail.subject, format!("[Shop] {monitor} is failing"));
        assert!(mail.text.contains(&format!("checks of {monitor} fail (")));
        // Evidence and responders are for the person on call.
        if let Some(evidence) = &firing.evidence {
            for name in evidence.headers.keys() {
                assert!(!mail.text.contains(name.as_str()), "{name}");
            }
        }
        let resolved = notice_mail(
            &Notice::Incident {
                event: Box::new(fixture::resolved()),
            },
            "Shop",
            &links(),
        );
        assert!(
            resolved.subject.ends_with("is working again"),
            "{}",
            resolved.subject
        );
    }
}
