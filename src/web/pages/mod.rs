//! The pages people read: the status page, one page per monitor and one per
//! incident, rendered on the server with maud so they work without JavaScript.

mod assets;
mod bars;
mod charts;
mod components;
mod format;
mod groups;
mod headers;
mod incident;
mod layout;
mod monitor;
mod roots;
mod status;
mod timeline;

pub use headers::security_headers;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::config::MonitorConfig;

/// Page and asset routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(status::page))
        .route("/monitors/{name}", get(monitor::page))
        .route("/incidents/{id}", get(incident::page))
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

/// The title a monitor is shown under.
fn title_of(monitor: &MonitorConfig) -> &str {
    monitor.title.as_deref().unwrap_or(&monitor.name)
}

/// The status page's title: `server.title`, default `hopwatch`.
fn site_title(state: &AppState) -> String {
    state
        .config()
        .config
        .server
        .title
        .clone()
        .unwrap_or_else(|| "hopwatch".to_owned())
}
