//! Subscribing to a page by email (contract section 8): the form each
//! public page carries, `POST /subscribe`, and the two links the mail
//! carries, `/subscribe/confirm?token=…` and `/unsubscribe?token=…`.
//!
//! Plain HTML forms and pages, no JavaScript. The answer to a subscribe is
//! the same whether the address was known, confirmed or new, so the form
//! cannot be used to find out who subscribed; addresses are never logged
//! above debug.

use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Refresh};
use super::links::Links;
use super::{PageError, no_page, site_title};
use crate::alert::subscribers::{CONFIRM_PATH, UNSUBSCRIBE_PATH};
use crate::config::{Config, PageConfig};
use crate::store::subscribers::{LINKS_KEY, Subscribed};
use crate::token::{Purpose, TokenError, verify};
use crate::web::AppState;

/// Longest address taken (RFC 5321's path limit).
const MAX_ADDRESS: usize = 254;
/// Largest form body read: an address and a slug.
const FORM_BODY: usize = 4 * 1024;

/// The subscribe routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/subscribe",
            post(subscribe).layer(DefaultBodyLimit::max(FORM_BODY)),
        )
        .route(CONFIRM_PATH, get(confirm))
        // POST is the one-click unsubscribe of RFC 8058, which mail
        // clients send from the `List-Unsubscribe-Post` header.
        .route(
            UNSUBSCRIBE_PATH,
            get(unsubscribe)
                .post(unsubscribe)
                .layer(DefaultBodyLimit::max(FORM_BODY)),
        )
}

/// The form at the foot of a public page, when subscriptions are on.
pub fn form(config: &Config, slug: &str, private: bool) -> Markup {
    if config.subscriptions.is_none() || private {
        return html! {};
    }
    form_with(slug, "", None)
}

fn form_with(slug: &str, email: &str, error: Option<&str>) -> Markup {
    html! {
        section.subscribe aria-labelledby="subscribe-h" {
            h2 #subscribe-h { "Get updates by email" }
            form method="post" action="/subscribe" {
                input type="hidden" name="page" value=(slug);
                label for="subscribe-email" { "Email address" }
                div.field {
                    input #subscribe-email type="email" name="email" value=(email)
                        required autocomplete="email" maxlength=(MAX_ADDRESS)
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| "subscribe-error")];
                    button type="submit" { "Subscribe" }
                }
                @if let Some(error) = error {
                    p.error #subscribe-error role="alert" { (error) }
                }
            }
            p.hint { "We mail a link to confirm. Every mail has a one-click unsubscribe link." }
        }
    }
}

/// The address as stored (lower case), if `text` is one a mail server
/// would take: one `@`, a dotted domain, no spaces or control characters.
pub fn address(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty()
        || text.len() > MAX_ADDRESS
        || text.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return None;
    }
    let parsed: lettre::Address = text.parse().ok()?;
    let domain = parsed.domain();
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return None;
    }
    Some(text.to_lowercase())
}

/// The fields of the form, read from an urlencoded body.
fn fields(body: &[u8]) -> (String, String) {
    let (mut page, mut email) = (String::new(), String::new());
    for (key, value) in url::form_urlencoded::parse(body) {
        match &*key {
            "page" => page = value.into_owned(),
            "email" => email = value.into_owned(),
            _ => {}
        }
    }
    (page, email)
}

/// A small page under the page subscribed to.
fn answer(status: StatusCode, home: &str, site: &str, heading: &str, body: Markup) -> Response {
    let markup = layout::page_under(
        home,
        site,
        Some(heading),
        Refresh::Static,
        html! {
            h1 { (heading) }
            (body)
            p { a href=(home) { "Back to the status page" } }
        },
    );
    let mut response = (status, markup).into_response();
    // Nothing here is for a shared cache: each answer is one person's.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The public page `slug` that takes subscribers, or the 404 of a page
/// that does not exist (a private page is no different).
fn public_page<'a>(
    config: &'a Config,
    slug: &str,
) -> Result<std::borrow::Cow<'a, PageConfig>, PageError> {
    config
        .subscriptions
        .as_ref()
        .and(config.page(slug))
        .filter(|page| !page.private)
        .ok_or_else(no_page)
}

/// `POST /subscribe` `email=…&page=…`.
async fn subscribe(
    State(state): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Result<Response, PageError> {
    let config = state.config();
    let config = &config.config;
    let (slug, email) = fields(&body);
    let page = public_page(config, &slug)?;
    let home = Links::of(&page).home().to_owned();
    let site = page.title_or(site_title(config)).to_owned();
    let client = connect.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
    if let Err(wait) = state.limits.subscribe.admit(client, Instant::now()) {
        let seconds = wait.as_secs().max(1);
        let mut response = answer(
            StatusCode::TOO_MANY_REQUESTS,
            &home,
            &site,
            "Too many requests",
            html! { p { "Too many subscribe requests from this address. Try again in a minute." } },
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
        return Ok(response);
    }
    let Some(address) = address(&email) else {
        let email = email.chars().take(MAX_ADDRESS).collect::<String>();
        let error = "That does not look like an email address (name@example.com).";
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            &home,
            &site,
            "Check the address",
            form_with(&page.slug, &email, Some(error)),
        ));
    };
    let notifier = config
        .subscriptions
        .as_ref()
        .map_or("", |s| s.notifier.as_str());
    let outcome = state
        .store
        .subscribe(&page.slug, &address, notifier, SystemTime::now())
        .await?;
    let outcome = match outcome {
        Subscribed::Asked(_) => "confirmation queued",
        Subscribed::AskedRecently => "asked recently; nothing queued",
        Subscribed::AlreadyConfirmed => "already confirmed; nothing queued",
    };
    tracing::debug!(page = %page.slug, address = %crate::escape::log_field(&address), outcome, "subscribe");
    Ok(answer(
        StatusCode::OK,
        &home,
        &site,
        "Check your inbox",
        html! {
            p { "If this address can be subscribed, a mail with a link to confirm is on its way. The link works for 48 hours." }
            p { "Nothing is sent until the link is opened." }
        },
    ))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Why a link did nothing, as its page says.
fn refused(config: &Config, heading: &str, error: TokenError) -> Response {
    let (status, text) = match error {
        TokenError::Invalid => (
            StatusCode::BAD_REQUEST,
            "This link is not valid. Nothing was changed.",
        ),
        TokenError::Expired => (
            StatusCode::GONE,
            "This link has expired. Nothing was changed; subscribe again from the status page to get a new one.",
        ),
    };
    answer(
        status,
        "/",
        site_title(config),
        heading,
        html! { p { (text) } },
    )
}

/// The subject of `token` for `purpose`, checked with the store's key now.
async fn subject(
    state: &AppState,
    purpose: Purpose,
    token: Option<&str>,
) -> Result<Result<i64, TokenError>, PageError> {
    let Some(token) = token else {
        return Ok(Err(TokenError::Invalid));
    };
    let key = state.store.signing_key(LINKS_KEY).await?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Ok(verify(&key, purpose, token, now))
}

/// `GET /subscribe/confirm?token=…`: the double opt-in's second step.
async fn confirm(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let config = state.config();
    let config = &config.config;
    let id = match subject(&state, Purpose::Confirm, query.token.as_deref()).await? {
        Ok(id) => id,
        Err(error) => return Ok(refused(config, "Subscription not confirmed", error)),
    };
    let site = site_title(config);
    Ok(
        match state
            .store
            .confirm_subscriber(id, SystemTime::now())
            .await?
        {
            Some(true) => {
                tracing::info!(subscriber = id, "subscriber confirmed");
                answer(
                    StatusCode::OK,
                    "/",
                    site,
                    "Subscribed",
                    html! { p { "You will get an email with each update. Every mail has a link to stop them." } },
                )
            }
            Some(false) => answer(
                StatusCode::OK,
                "/",
                site,
                "Already subscribed",
                html! { p { "This link was used before: the subscription is confirmed. Nothing was changed." } },
            ),
            None => answer(
                StatusCode::GONE,
                "/",
                site,
                "Subscription not found",
                html! { p { "This subscription no longer exists (it was cancelled). Nothing was changed." } },
            ),
        },
    )
}

/// `GET` or `POST /unsubscribe?token=…`: deletes the subscription, its
/// address with it.
async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let config = state.config();
    let config = &config.config;
    let id = match subject(&state, Purpose::Unsubscribe, query.token.as_deref()).await? {
        Ok(id) => id,
        Err(error) => return Ok(refused(config, "Not unsubscribed", error)),
    };
    let site = site_title(config);
    Ok(if state.store.unsubscribe(id).await? {
        tracing::info!(subscriber = id, "subscriber unsubscribed");
        answer(
            StatusCode::OK,
            "/",
            site,
            "Unsubscribed",
            html! { p { "You will get no more mail from this status page. Your address was deleted." } },
        )
    } else {
        answer(
            StatusCode::GONE,
            "/",
            site,
            "Already unsubscribed",
            html! { p { "This subscription no longer exists. Nothing was changed." } },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_lower_cased() {
        assert_eq!(
            address(" Ann.Smith@Example.COM ").as_deref(),
            Some("ann.smith@example.com")
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "ann smith@example.com",
            "ann@example.com\r\nBcc: x@example.com",
            "ann@@example.com",
            "ann@example.",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert_eq!(address(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn form_fields_are_read_whatever_their_order() {
        assert_eq!(
            fields(b"email=a%40example.com&page=shop&extra=1"),
            ("shop".to_owned(), "a@example.com".to_owned())
        );
        assert_eq!(fields(b""), (String::new(), String::new()));
    }
}
