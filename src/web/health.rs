//! `/healthz` and `/metrics`.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

/// The scheduler heartbeat may be this old before health fails.
const STALE_MS: i64 = 5_000;

/// Health and metrics routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let now = crate::clock::unix_ms(SystemTime::now());
    let beat = state.scheduler_beat.load(Ordering::Relaxed);
    let mut problems = Vec::new();
    if now - beat > STALE_MS {
        problems.push(format!("scheduler: no heartbeat for {} ms", now - beat));
    }
    if let Err(reason) = state.store_health.status() {
        problems.push(reason);
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Encoding 10,000 monitors' series takes milliseconds of CPU; the web
    // runtime's blocking pool keeps it from holding a web worker, so pages
    // keep answering during a scrape. The text goes out in pieces as it is
    // written, a few at a time: 50,000 monitors' is 98 MB, never held whole.
    let metrics = state.metrics.clone();
    let (pieces, received) = tokio::sync::mpsc::channel::<String>(4);
    tokio::task::spawn_blocking(move || {
        metrics.render_pieces(&mut |piece| pieces.blocking_send(piece).is_ok());
    });
    let body = Body::from_stream(futures_util::stream::unfold(
        received,
        |mut received| async move {
            let piece = received.recv().await?;
            Some((Ok::<_, Infallible>(piece), received))
        },
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
