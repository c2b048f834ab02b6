//! The email notifier: one multipart/alternative message (text and HTML)
//! per delivery over SMTP, plain, STARTTLS or implicit TLS.

use std::fmt;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::Instrument;

use super::{DeliveryError, Notifier, PersonalMail, SendFuture, format};
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::incident::AlertEvent;

/// Default limit for each SMTP command (lettre's own default is 60 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Header carrying the delivery id, the same on every retry.
pub const DELIVERY_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-Hopwatch-Delivery");
/// Where a mail client's "unsubscribe" button goes (RFC 2369).
const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
/// Says that button works with one POST, no page to click through (RFC 8058).
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");

/// Why an email notifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailSetupError {
    /// `from` or a `to` entry is not an address.
    #[error("invalid address {address:?}: {reason}")]
    Address {
        /// The text as configured.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No recipients.
    #[error("no recipients")]
    NoRecipients,
    /// A login over `security: none` without `allow_plaintext_auth`.
    #[error(
        "security none would send the SMTP login in clear text (set allow_plaintext_auth to allow it)"
    )]
    PlaintextAuth,
    /// The TLS settings for the SMTP host could not be made.
    #[error("cannot set up TLS for {host}: {reason}")]
    Tls {
        /// The SMTP host.
        host: String,
        /// lettre's reason.
        reason: String,
    },
}

/// Sends alert events as email through one SMTP server.
pub struct EmailNotifier {
    name: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    host: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

// By hand: the transport holds the SMTP password.
impl fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

fn mailbox(address: &str) -> Result<Mailbox, EmailSetupError> {
    address.parse().map_err(
        |err: lettre::address::AddressError| EmailSetupError::Address {
            address: address.to_owned(),
            reason: err.to_string(),
        },
    )
}

impl EmailNotifier {
    /// A notifier sending from `from` (`"Name <addr>"` or a bare address)
    /// to every address of `to` through `smtp`. The port defaults to 25
    /// for `none`, 587 for `starttls` (required: no mail goes out if the
    /// upgrade fails) and 465 for `tls`. Certificates are checked against
    /// the system trust store.
    pub fn new(
        name: impl Into<String>,
        smtp: &SmtpConfig,
        from: &str,
        to: &[String],
    ) -> Result<Self, EmailSetupError> {
        let from = mailbox(from)?;
        let to = to
            .iter()
            .map(|a| mailbox(a))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(EmailSetupError::NoRecipients);
        }
        // Validation refuses this too; notifiers built from an unchecked
        // config (tests, tools) must not send a password in clear either.
        if smtp.sends_login_in_clear() {
            return Err(EmailSetupError::PlaintextAuth);
        }
        let tls_error = |err: lettre::transport::smtp::Error| EmailSetupError::Tls {
            host: smtp.host.clone(),
            reason: err.to_string(),
        };
        let builder = match smtp.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                    .map_err(tls_error)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(tls_error)?
            }
        };
        let port = smtp.port.unwrap_or(match smtp.security {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        });
        let mut builder = builder.port(port).timeout(Some(DEFAULT_TIMEOUT));
        if let Some(username) = &smtp.username {
            let password = smtp
                .password
                .as_ref()
                .map_or_else(String::new, |p| p.expose().to_owned());
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Self {
            name: name.into(),
            from,
            to,
            host: smtp.host.clone(),
            transport: builder.build(),
        })
    }

    /// The message for `events` under `delivery_id`: subject, a text and an
    /// HTML part, the delivery header, and a Message-ID made from the
    /// delivery id so a retried delivery is recognisable as the same mail.
    pub fn message(
        &self,
        delivery_id: &str,
        events: &[AlertEvent],
    ) -> Result<Message, DeliveryError> {
        // The id is hopwatch's own, but a header is no place for a control character.
        let clean: String = delivery_id.chars().filter(|c| !c.is_control()).collect();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(format::email_subject(events))
            .message_id(Some(message_id(&clean, self.from.email.domain())))
            .raw_header(HeaderValue::new(DELIVERY_HEADER, clean));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let body = MultiPart::alternative_plain_html(
            format::email_text(events),
            format::email_html(events),
        );
        builder
            .multipart(body)
            .map_err(|err| DeliveryError::permanent(format!("cannot build the message: {err}")))
    }
}

impl EmailNotifier {
    /// The message of `mail` to one subscriber: the notifier's `from`, the
    /// subscriber's address alone in `To`, and the unsubscribe headers.
    pub fn personal_message(
        &self,
        delivery_id: &str,
        mail: &PersonalMail,
    ) -> Result<Message, DeliveryError> {
        let clean: String = delivery_id.chars().filter(|c| !c.is_control()).collect();
        // A stored address was checked when it subscribed; one that no
        // longer parses will not parse on a retry either.
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| DeliveryError::permanent("the subscriber's address is not valid"))?;
        let unsubscribe: String = mail
            .unsubscribe
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.content.subject.clone())
            .message_id(Some(message_id(&clean, self.from.email.domain())))
            .raw_header(HeaderValue::new(DELIVERY_HEADER, clean))
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE,
                format!("<{unsubscribe}>"),
            ))
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE_POST,
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                mail.content.text.clone(),
                mail.content.html.clone(),
            ))
            .map_err(|err| DeliveryError::permanent(format!("cannot build the message: {err}")))
    }
}

/// `<id@domain>`, keeping only characters valid in a Message-ID's left part.
fn message_id(delivery_id: &str, domain: &str) -> String {
    let local: String = delivery_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<hopwatch.{local}@{domain}>")
}

/// 4xx replies and network or TLS trouble may pass; 5xx replies and a
/// server that cannot do what the config asks (no STARTTLS, no usable
/// login mechanism) will not.
fn classify(err: &lettre::transport::smtp::Error) -> DeliveryError {
    let message = match err.status() {
        Some(code) => format!("SMTP {code}: {err}"),
        None => format!("SMTP: {err}"),
    };
    if err.is_permanent() || err.is_client() {
        DeliveryError::permanent(message)
    } else {
        DeliveryError::retry(message)
    }
}

impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, delivery_id: &'a str, events: &'a [AlertEvent]) -> SendFuture<'a> {
        let span = tracing::info_span!("email", notifier = %self.name, delivery = %delivery_id);
        Box::pin(
            async move {
                let message = self.message(delivery_id, events)?;
                self.transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|err| classify(&err))
            }
            .instrument(span),
        )
    }

    fn send_personal<'a>(&'a self, delivery_id: &'a str, mail: &'a PersonalMail) -> SendFuture<'a> {
        let span = tracing::info_span!("email", notifier = %self.name, delivery = %delivery_id);
        Box::pin(
            async move {
                let message = self.personal_message(delivery_id, mail)?;
                self.transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        // Servers quote the recipient in their refusals, and
                        // this message is logged: the address stays out.
                        let mut error = classify(&err);
                        error.message = error.message.replace(&mail.to, "<subscriber>");
                        error
                    })
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(security: SmtpSecurity) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: None,
            security,
            username: Some("u".into()),
            password: Some("p4ssw0rd".into()),
            allow_plaintext_auth: security == SmtpSecurity::None,
        }
    }

    #[test]
    fn a_login_in_clear_text_needs_the_opt_in() {
        let to = ["oncall@example.com".to_owned()];
        let refused = SmtpConfig {
            allow_plaintext_auth: false,
            ..smtp(SmtpSecurity::None)
        };
        let err = EmailNotifier::new("mail", &refused, "a@example.com", &to)
            .expect_err("a password in clear text");
        assert!(matches!(err, EmailSetupError::PlaintextAuth), "{err}");
        let anonymous = SmtpConfig {
            username: None,
            password: None,
            ..refused
        };
        EmailNotifier::new("mail", &anonymous, "a@example.com", &to)
            .expect("no login, nothing to leak");
    }

    #[test]
    fn message_id_is_made_from_the_delivery_id() {
        assert_eq!(
            message_id("d-01 x/y", "example.com"),
            "<hopwatch.d-01-x-y@example.com>"
        );
    }

    #[test]
    fn bad_addresses_are_refused_by_name() {
        let to = vec!["oncall@example.com".to_owned(), "not an address".to_owned()];
        let err = EmailNotifier::new("mail", &smtp(SmtpSecurity::None), "a@example.com", &to)
            .expect_err("a bad recipient");
        assert!(err.to_string().contains("\"not an address\""), "{err}");
        let none = EmailNotifier::new("mail", &smtp(SmtpSecurity::None), "a@example.com", &[]);
        assert!(matches!(none, Err(EmailSetupError::NoRecipients)));
    }

    #[test]
    fn every_security_mode_builds_and_debug_hides_the_password() {
        let to = ["oncall@example.com".to_owned()];
        for security in [
            SmtpSecurity::None,
            SmtpSecurity::Starttls,
            SmtpSecurity::Tls,
        ] {
            let notifier =
                EmailNotifier::new("mail", &smtp(security), "hopwatch <a@example.com>", &to)
                    .expect("a valid notifier");
            let shown = format!("{notifier:?}");
            assert!(!shown.contains("p4ssw0rd"), "{shown}");
        }
    }

    #[test]
    fn message_carries_the_delivery_header_and_both_parts() {
        let to = ["oncall@example.com".to_owned()];
        let notifier = EmailNotifier::new("mail", &smtp(SmtpSecurity::None), "a@example.com", &to)
            .expect("a valid notifier");
        let events = [crate::alert::format::fixture::firing()];
        let message = notifier.message("d-1", &events).expect("a message");
        let raw = String::from_utf8(message.formatted()).expect("ASCII message");
        assert!(raw.contains("X-Hopwatch-Delivery: d-1\r\n"), "{raw}");
        assert!(
            raw.contains("Message-ID: <hopwatch.d-1@example.com>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("Subject: [FIRING] shop-5xx: shop-edge http_502 (origin)\r\n"));
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
    }
}
