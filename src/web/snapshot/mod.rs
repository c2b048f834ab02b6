//! Render once, serve many: the status page, monitor and incident pages,
//! `/api/v1/status`, the feed, badges and `/metrics` are kept as compressed
//! snapshots, rebuilt at most once a second or when a monitor's state
//! changes, so a crowd of readers costs bytes, not renders.

mod encode;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, ETAG,
    IF_NONE_MATCH, TRANSFER_ENCODING, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use self::encode::{Coding, Encoded, Encoder};
use super::AppState;
use super::api::auth::{Bearer, bearer};

/// How long a snapshot is served before it is rebuilt, unless a monitor's
/// state changes first. One second keeps pages current to the eye while a
/// crowd of any size costs one render a second.
const MAX_AGE: Duration = Duration::from_secs(1);
/// How young a snapshot is still served after a state change: with
/// thousands of monitors some state changes nearly every second, and that
/// must not turn into a render per request.
const MIN_AGE: Duration = Duration::from_millis(250);
/// Most snapshots kept: every page of a large install fits, and a crawler
/// inventing query strings only pushes out the oldest.
const MAX_ENTRIES: usize = 256;
/// Most bytes kept across snapshots, every coding counted. The status page
/// and `/metrics` of 2,000 monitors are 3-4 MB each as rendered.
const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Largest rendered body read into a snapshot; our own handlers stay far
/// below it, so hitting it means something is wrong.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Longest path and query kept as a key: ours are far shorter, and a
/// visitor's 64 KiB URI must not be held 256 times outside [`MAX_BYTES`].
/// Longer ones are rendered for that request and not kept.
const MAX_KEY: usize = 2048;
/// What browsers and proxies may do with an answer whose handler did not
/// say: keep it as long as we do.
const DEFAULT_CACHE_CONTROL: &str = "public, max-age=1";

/// A route served from snapshots.
#[derive(Debug, Clone, Copy)]
struct Route {
    /// The route's pattern, the `route` label of the render counter.
    label: &'static str,
    /// Whether the answer can depend on who asks (evidence shown to the
    /// admin token), so that a request carrying credentials bypasses the
    /// snapshot shared by visitors.
    per_reader: bool,
}

/// Which snapshot route, if any, serves `request`. Only plain GETs: HEAD
/// and writes go straight through.
fn route_of(request: &Request) -> Option<Route> {
    if request.method() != Method::GET {
        return None;
    }
    let path = request.uri().path();
    let (label, per_reader) = match path {
        "/" => ("/", true),
        "/api/v1/status" => ("/api/v1/status", true),
        "/feed.atom" => ("/feed.atom", true),
        // The same text for everyone, so an authenticated scraper shares it.
        "/metrics" => ("/metrics", false),
        _ if path.starts_with("/monitors/") => ("/monitors/{name}", true),
        _ if path.starts_with("/incidents/") => ("/incidents/{id}", true),
        _ if path.starts_with("/badge/") => ("/badge/{name}/{file}", false),
        // A private page's answer is marked `no-store` and never kept (see
        // `keeps`), so only public pages are shared.
        _ if path.starts_with(crate::config::PAGE_PREFIX) => {
            let below = path[crate::config::PAGE_PREFIX.len()..]
                .split_once('/')
                .map_or("", |(_, rest)| rest);
            let label = if below.starts_with("monitors/") {
                "/p/{slug}/monitors/{name}"
            } else if below.starts_with("incidents/") {
                "/p/{slug}/incidents/{id}"
            } else {
                "/p/{slug}"
            };
            (label, true)
        }
        _ => return None,
    };
    Some(Route { label, per_reader })
}

/// The snapshots of one router; shared by every connection.
pub struct Snapshots {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// For the state generation, the render counter and the admin token.
    state: AppState,
}

/// One key's snapshot and the lock that lets a single request rebuild it.
#[derive(Default)]
struct Slot {
    entry: Mutex<Option<Arc<Entry>>>,
    /// Held by the one request rendering this key; the others serve the
    /// previous snapshot, or wait when there is none yet.
    rebuild: tokio::sync::Mutex<()>,
}

/// A rendered 200 answer, ready in every coding.
struct Entry {
    built: Instant,
    /// [`Pipeline::generation`] read before rendering.
    generation: u64,
    /// [`crate::live::Live::edits`] read before rendering.
    edits: u64,
    /// The handler's headers, less those about the body's framing.
    headers: HeaderMap,
    body: Encoded,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent at every step, so a panic elsewhere
    // leaves nothing half-written.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    fn current(&self) -> Option<Arc<Entry>> {
        lock(&self.entry).clone()
    }

    /// The snapshot if it may still be served: young enough for the
    /// state `generation`, and rendered after the latest edit, whatever
    /// its age (a report just posted shows on the next request).
    fn fresh(&self, generation: u64, edits: u64) -> Option<Arc<Entry>> {
        self.current().filter(|e| {
            let age = e.built.elapsed();
            e.edits == edits && (age < MIN_AGE || (e.generation == generation && age < MAX_AGE))
        })
    }
}

impl Snapshots {
    /// Snapshots rebuilt when the pipeline reports a changed state and
    /// counted in the metrics of `state`.
    pub fn new(state: AppState) -> Snapshots {
        Snapshots {
            slots: Mutex::new(HashMap::new()),
            state,
        }
    }

    fn rendered(&self, route: Route) {
        self.state
            .metrics
            .web_renders
            .with_label_values(&[route.label])
            .inc();
    }

    /// Whether `request` carries the admin token, which may show more than
    /// a visitor sees. Any other `Authorization` reads as a visitor (see
    /// [`super::EvidenceView`]) and shares the snapshot, so junk tokens
    /// cannot force a render per request.
    fn is_admin(&self, request: Request) -> (bool, Request) {
        if !request.headers().contains_key(AUTHORIZATION) {
            return (false, request);
        }
        let (parts, body) = request.into_parts();
        let admin = bearer(&parts, &self.state) == Bearer::Admin;
        (admin, Request::from_parts(parts, body))
    }

    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        // A hit, the common case, allocates no key.
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        slots.entry(key.to_owned()).or_default().clone()
    }

    /// Drops a key whose render was not a 200, unless another request has
    /// since put a snapshot in it.
    fn forget(&self, key: &str, slot: &Arc<Slot>) {
        *lock(&slot.entry) = None;
        let mut slots = lock(&self.slots);
        if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(key);
        }
    }

    /// Evicts the oldest snapshots until both bounds hold again; `keep` is
    /// the one just built.
    fn evict(&self, keep: &str) {
        let mut slots = lock(&self.slots);
        loop {
            let mut bytes = 0;
            let mut oldest: Option<(&String, Instant)> = None;
            for (key, slot) in slots.iter() {
                let Some(entry) = slot.current() else {
                    continue;
                };
                bytes += entry.body.size();
                if key != keep && oldest.is_none_or(|(_, built)| entry.built < built) {
                    oldest = Some((key, entry.built));
                }
            }
            let over = slots.len() > MAX_ENTRIES || bytes > MAX_BYTES;
            match oldest {
                Some((key, _)) if over => {
                    let key = key.clone();
                    slots.remove(&key);
                }
                _ => {
                    self.state.metrics.web_snapshots.set(slots.len() as i64);
                    self.state.metrics.web_snapshot_bytes.set(bytes as i64);
                    return;
                }
            }
        }
    }

    /// The snapshot for `key`: the fresh one, the previous one while another
    /// request rebuilds it, or one rendered now. `Err` carries an answer
    /// that is not kept (anything but a 200).
    async fn get(
        &self,
        key: &str,
        route: Route,
        request: Request,
        next: Next,
    ) -> Result<Arc<Entry>, Response> {
        let slot = self.slot(key);
        let live = &self.state.live;
        if let Some(entry) = slot.fresh(live.generation(), live.edits()) {
            return Ok(entry);
        }
        let _rebuilding = match slot.rebuild.try_lock() {
            Ok(guard) => guard,
            // The previous snapshot while another request renders, unless
            // an edit came after it: then wait for the new one.
            Err(_) => match slot.current().filter(|e| e.edits == live.edits()) {
                Some(previous) => return Ok(previous),
                None => slot.rebuild.lock().await,
            },
        };
        // Whoever held the lock may have just built it.
        let generation = live.generation();
        let edits = live.edits();
        if let Some(entry) = slot.fresh(generation, edits) {
            return Ok(entry);
        }
        self.rendered(route);
        let response = next.run(request).await;
        if !keeps(&response) {
            self.forget(key, &slot);
            return Err(response);
        }
        let (mut parts, body) = response.into_parts();
        let body = match encode(body).await {
            Ok(encoded) => encoded,
            Err(err) => {
                tracing::error!(error = %err, route = route.label, "cannot read a rendered answer");
                self.forget(key, &slot);
                return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            }
        };
        for framing in [CONTENT_LENGTH, CONTENT_ENCODING, TRANSFER_ENCODING] {
            parts.headers.remove(framing);
        }
        parts
            .headers
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static(DEFAULT_CACHE_CONTROL));
        parts
            .headers
            .insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        let entry = Arc::new(Entry {
            built: Instant::now(),
            generation,
            edits,
            headers: parts.headers,
            body,
        });
        *lock(&slot.entry) = Some(entry.clone());
        // A key evicted while it rendered comes back; the bounds still hold.
        lock(&self.slots)
            .entry(key.to_owned())
            .or_insert_with(|| slot.clone());
        self.evict(key);
        Ok(entry)
    }
}

impl Entry {
    /// The answer in `coding`, or 304 when the client holds this content.
    fn answer(&self, coding: Coding, if_none_match: Option<&str>) -> Response {
        let mut headers = self.headers.clone();
        if let Ok(etag) = HeaderValue::from_str(self.body.etag(coding)) {
            headers.insert(ETAG, etag);
        }
        if if_none_match.is_some_and(|tags| self.body.matches(tags)) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            *response.headers_mut() = headers;
            return response;
        }
        if let Some(name) = coding.header() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(name));
        }
        let (body, length) = self.body.body(coding);
        // Said even when the body is inflated as it goes out.
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        let mut response = Response::new(body);
        *response.headers_mut() = headers;
        response
    }
}

/// Reads a rendered body as it comes and compresses it on the blocking
/// pool (megabytes of it are CPU work), piece by piece, so that a large
/// one is never held whole.
async fn encode(body: Body) -> Result<Encoded, String> {
    use futures_util::StreamExt as _;
    let (pieces, mut received) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let encoding = tokio::task::spawn_blocking(move || {
        let mut encoder = Encoder::default();
        while let Some(piece) = received.blocking_recv() {
            encoder.push(piece);
        }
        encoder.finish()
    });
    let mut stream = body.into_data_stream();
    let mut read = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|err| err.to_string())?;
        read += piece.len();
        if read > MAX_BODY {
            return Err(format!("a rendered answer is larger than {MAX_BODY} bytes"));
        }
        if pieces.send(piece).await.is_err() {
            break;
        }
    }
    drop(pieces);
    encoding.await.map_err(|err| err.to_string())
}

/// Whether a rendered answer may be shared: a 200 that its handler did not
/// mark `no-store`, as answers for a private page's key holders are. Kept,
/// such an answer would go to the next reader of the same URL, key or not.
fn keeps(response: &Response) -> bool {
    response.status() == StatusCode::OK
        && !response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .any(|value| value.to_str().is_ok_and(|v| v.contains("no-store")))
}

/// The middleware: serves snapshot routes from [`Snapshots`], passes every
/// other request through. Meant for
/// `router.layer(axum::middleware::from_fn_with_state(snapshots, serve))`.
pub async fn serve(
    State(snapshots): State<Arc<Snapshots>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(route) = route_of(&request) else {
        return next.run(request).await;
    };
    // Only a route whose answer can differ for the admin pays for the
    // token check.
    let (admin, request) = if route.per_reader {
        snapshots.is_admin(request)
    } else {
        (false, request)
    };
    if admin {
        // The admin may see evidence visitors do not: never share a
        // snapshot either way.
        snapshots.rendered(route);
        return next.run(request).await;
    }
    let key = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    if key.len() > MAX_KEY {
        snapshots.rendered(route);
        return next.run(request).await;
    }
    let accept_encoding = header(&request, ACCEPT_ENCODING);
    let if_none_match = header(&request, IF_NONE_MATCH);
    match snapshots.get(&key, route, request, next).await {
        Ok(entry) => {
            let coding = entry.body.coding_for(accept_encoding.as_deref());
            if !entry.body.ready(coding) {
                // The first reader that takes brotli makes it, off the web's
                // async threads; those who come meanwhile wait for the same.
                let making = entry.clone();
                let _ = tokio::task::spawn_blocking(move || making.body.prepare(coding)).await;
            }
            entry.answer(coding, if_none_match.as_deref())
        }
        Err(response) => response,
    }
}

/// A request header as text, owned so that no borrow of the request (whose
/// body is not `Sync`) lives across an await.
fn header(request: &Request, name: axum::http::HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
