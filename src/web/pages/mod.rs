//! The pages people read: the status pages of `pages:` (`/` and
//! `/p/{slug}`), one page per monitor and one per incident, rendered on the
//! server with maud so they work without JavaScript.

mod assets;
mod bars;
mod charts;
mod components;
mod format;
mod groups;
mod headers;
mod incident;
mod layout;
mod links;
mod maintenance;
mod monitor;
mod reports;
mod roots;
mod sla;
mod status;
mod subscribe;
mod timeline;

pub use headers::security_headers;

use std::borrow::Cow;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use self::links::Links;
use super::access::{Credentials, Opened, Scope};
use super::{AppState, EvidenceView};
use crate::config::{Config, MonitorConfig, PageConfig};

/// Page and asset routes. The pages of `pages:` other than `/` live under
/// `/p/{slug}`, with their monitor and incident pages below them.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(status::root))
        .route("/monitors/{name}", get(monitor::page))
        .route("/incidents/{id}", get(incident::page))
        .route("/p/{slug}", get(status::named))
        .route("/reports/{month}", get(sla::page))
        .route("/p/{slug}/monitors/{name}", get(monitor::on_page))
        .route("/p/{slug}/incidents/{id}", get(incident::on_page))
        .merge(subscribe::router())
        .merge(assets::router())
        // Any other path outside /api/ (which answers JSON itself) gets the
        // same HTML 404 page as an unknown monitor.
        .fallback(not_found)
}

async fn not_found(uri: axum::http::Uri) -> PageError {
    PageError::NotFound(format!("nothing at {}", uri.path()))
}

/// Why a page could not be shown; answered as an HTML page, never JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// 404: no such monitor or incident; the text says which.
    #[error("{0}")]
    NotFound(String),
    /// 500: reading the store failed; logged in full, shown plainly.
    #[error("the store could not be read")]
    Store(#[from] crate::store::StoreError),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading) = match &self {
            PageError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            PageError::Store(err) => {
                tracing::error!(error = %err, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
            }
        };
        (status, layout::error_page(heading, &self.to_string())).into_response()
    }
}

/// What every missing page answers, and every private page to a reader
/// without its key: the same words, so the answer tells neither apart.
fn no_page() -> PageError {
    PageError::NotFound("There is no page here.".to_owned())
}

/// What one rendered page may show and how, worked out from the request.
pub struct Context {
    /// The monitors it may show.
    pub scope: Scope,
    /// Where its links point.
    pub links: Links,
    /// How much of the evidence it shows.
    pub evidence: EvidenceView,
    /// The title at the top: its page's, or `server.title`.
    pub site: String,
    /// Only a key holder may read the answer (see [`Context::finish`]).
    pub private: bool,
    /// It was opened with `?key=` of this page: the answer sets its cookie.
    pub set_cookie: Option<PageConfig>,
}

impl Context {
    /// The public monitor and incident pages: what anyone sees, and the
    /// monitors of private pages whose key `?key=` is.
    fn public(config: &Config, credentials: &Credentials) -> Context {
        let keyed = credentials.keyed_pages(config);
        Context {
            scope: Scope::public_and(config, &keyed),
            links: Links::public(),
            evidence: EvidenceView::visitor(&config.server),
            site: site_title(config).to_owned(),
            private: !keyed.is_empty(),
            set_cookie: None,
        }
    }

    /// The page `slug` as this request may see it, or the 404 of a page
    /// that does not exist: a wrong or missing key must look the same.
    fn page(config: &Config, slug: &str, credentials: &Credentials) -> Result<Context, PageError> {
        let Some(page) = config.page(slug) else {
            credentials.no_page();
            return Err(no_page());
        };
        let opened = credentials.opens(&page).ok_or_else(no_page)?;
        Ok(Context {
            scope: Scope::page(config, &page),
            links: Links::of(&page),
            // Contract section 10: a private page shows its key holders
            // the whole evidence.
            evidence: if page.private {
                EvidenceView::Whole
            } else {
                EvidenceView::visitor(&config.server)
            },
            site: page.title_or(site_title(config)).to_owned(),
            private: page.private,
            set_cookie: (opened == Opened::Key).then(|| Cow::into_owned(page)),
        })
    }

    /// The answer for `markup`: kept out of shared caches when private,
    /// with the page's cookie when its key opened it.
    fn finish(&self, markup: maud::Markup, config: &Config) -> Response {
        let mut response = markup.into_response();
        if self.private {
            super::access::keep_private(&mut response);
        }
        if let Some(page) = &self.set_cookie {
            super::access::add_cookie(&mut response, page, config);
        }
        response
    }
}

/// The title a monitor is shown under.
fn title_of(monitor: &MonitorConfig) -> &str {
    monitor.title.as_deref().unwrap_or(&monitor.name)
}

/// The status page's title: `server.title`, default `hopwatch`.
fn site_title(config: &Config) -> &str {
    config.server.title.as_deref().unwrap_or("hopwatch")
}
