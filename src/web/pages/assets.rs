//! The page's static files: one stylesheet, one script, one icon, compiled
//! into the binary and served with year-long caching under a content hash.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::web::AppState;

/// One file under `/assets`.
pub struct Asset {
    /// Where it is served.
    pub path: &'static str,
    /// Its bytes.
    pub body: &'static str,
    /// Its media type.
    pub content_type: &'static str,
}

/// Every page's stylesheet (light and dark).
pub const STYLE: &Asset = &Asset {
    path: "/assets/style.css",
    body: include_str!("style.css"),
    content_type: "text/css; charset=utf-8",
};

/// Reloads live pages every 30 s; the pages work without it.
pub const SCRIPT: &Asset = &Asset {
    path: "/assets/app.js",
    body: include_str!("app.js"),
    content_type: "text/javascript; charset=utf-8",
};

/// The favicon.
pub const ICON: &Asset = &Asset {
    path: "/assets/icon.svg",
    body: include_str!("icon.svg"),
    content_type: "image/svg+xml",
};

/// A short hash of all assets, appended to their links: a new version of
/// hopwatch changes the link, so the long cache never serves a stale file.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in [STYLE, SCRIPT, ICON] {
        hash.update(asset.body.as_bytes());
    }
    hex::encode(&hash.finalize()[..6])
});

/// The link to an asset, with the cache-busting version.
pub fn href(asset: &Asset) -> String {
    format!("{}?v={}", asset.path, *VERSION)
}

/// Routes for the assets.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for asset in [STYLE, SCRIPT, ICON] {
        router = router.route(
            asset.path,
            get(move || async move {
                (
                    [
                        (CONTENT_TYPE, asset.content_type),
                        (CACHE_CONTROL, "public, max-age=31536000, immutable"),
                    ],
                    asset.body,
                )
                    .into_response()
            }),
        );
    }
    router
}
