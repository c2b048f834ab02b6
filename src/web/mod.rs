//! Everything served over HTTP on `server.listen`: health, metrics, push
//! heartbeats and the JSON API. Each route module exposes `router()`;
//! `snapshot` serves the read-mostly answers from a cache; `serve` runs the
//! connections.

mod access;
mod api;
mod badges;
mod error;
mod evidence;
mod feed;
mod health;
mod pages;
mod push;
pub mod ratelimit;
pub mod serve;
mod snapshot;

pub use error::ApiError;
pub use evidence::EvidenceView;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

use axum::Router;

use crate::config::LoadedConfig;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::push::PushBoard;
use crate::store::Store;
use crate::store::writer::StoreHealth;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store, for reads.
    pub store: Store,
    /// Whether writes work.
    pub store_health: Arc<StoreHealth>,
    /// Recent hourly and daily counts.
    pub history: Arc<crate::store::history::History>,
    /// The config, monitors and latest results.
    pub live: Live,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Push inboxes.
    pub push: PushBoard,
    /// Where agents' results go, as the daemon's own checks' do.
    pub pipeline: Pipeline,
    /// The scheduler's heartbeat, unix ms.
    pub scheduler_beat: Arc<AtomicI64>,
    /// Request limits per client on push and the write endpoints.
    pub limits: Arc<ratelimit::RateLimits>,
}

impl AppState {
    /// The current config.
    pub fn config(&self) -> Arc<LoadedConfig> {
        self.live.setup().config.clone()
    }

    /// The store id of a monitor.
    pub fn monitor_id(&self, name: &str) -> Option<i64> {
        self.live.setup().id(name)
    }

    /// Marks the scheduler alive now.
    pub fn beat(&self) {
        self.scheduler_beat
            .store(crate::clock::unix_ms(SystemTime::now()), Ordering::Relaxed);
    }
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let snapshots = Arc::new(snapshot::Snapshots::new(state.clone()));
    Router::new()
        .merge(health::router())
        .merge(push::router())
        .merge(api::router())
        .merge(badges::router())
        .merge(feed::router())
        .merge(pages::router())
        .route_layer(axum::middleware::from_fn(request_span))
        .with_state(state)
        // Inside the security headers, so a snapshot carries the handler's
        // own headers and every answer, 304s included, gets the fixed ones.
        .layer(axum::middleware::from_fn_with_state(
            snapshots,
            snapshot::serve,
        ))
        .layer(axum::middleware::map_response(pages::security_headers))
}

/// A span per request named by the route that matched (`/monitors/{name}`),
/// not the raw path: few distinct names, and no visitor-chosen text in the
/// logs. Debug level, so a crowd pays nothing for it at the default level.
async fn request_span(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let span = tracing::debug_span!(
        "request",
        method = %request.method(),
        route = route.as_ref().map_or("", |r| r.as_str()),
    );
    next.run(request).instrument(span).await
}
