//! Request limits per client address on the endpoints that write (push,
//! annotations, acknowledgements) and the agents' endpoints: a token bucket
//! each, in a bounded table.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Clients remembered at most per limiter; a bucket is a few dozen bytes,
/// so a flood of addresses costs well under a megabyte.
pub const MAX_CLIENTS: usize = 10_000;

/// How fast one client may go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_second: f64,
    /// Requests allowed at once after a quiet spell.
    pub burst: f64,
}

impl Rate {
    /// Pushes: 50/s, burst 500. One host often runs many jobs, each with
    /// its push monitor, that all finish on the same cron minute (or sit
    /// behind one NAT); the bucket is shared by every monitor, so it is
    /// sized for hundreds at once while a token-guessing flood still stops.
    pub const PUSH: Rate = Rate {
        per_second: 50.0,
        burst: 500.0,
    };
    /// Annotations and acknowledgements: 5/s, burst 20 (a deploy script
    /// that annotates a dozen services at once is not a flood).
    pub const WRITES: Rate = Rate {
        per_second: 5.0,
        burst: 20.0,
    };
    /// Agents: 20/s, burst 400. One agent polls its monitors every few
    /// seconds and sends a batch a second; back from an outage it sends
    /// its whole buffer (100,000 results in batches of 500 is 200
    /// requests) at once. Several agents behind one address share it.
    pub const AGENTS: Rate = Rate {
        per_second: 20.0,
        burst: 400.0,
    };
    /// Subscribing by email: 5 at once, then one a minute. A person
    /// subscribes once; a form posted in a loop is someone mailing
    /// strangers through hopwatch.
    pub const SUBSCRIBE: Rate = Rate {
        per_second: 1.0 / 60.0,
        burst: 5.0,
    };
}

/// One client's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket at `now`: refilled for the time since `at`, never past
    /// the burst. A clock that went back refills nothing.
    fn refilled(self, rate: Rate, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Bucket {
            tokens: (self.tokens + elapsed * rate.per_second).min(rate.burst),
            at: now.max(self.at),
        }
    }

    /// Takes one token, or says how long until there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        *self = self.refilled(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / rate.per_second;
            Err(Duration::from_secs_f64(wait))
        }
    }
}

/// Token buckets by client address, for one kind of request.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    capacity: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Limiter {
    /// Remembers at most `capacity` clients.
    pub fn new(rate: Rate, capacity: usize) -> Self {
        Self {
            rate,
            capacity: capacity.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Admits one request of `client` at `now`, or says how long it should
    /// wait before the next.
    pub fn admit(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = client_key(client);
        // Held for a map lookup and a little arithmetic; a full sweep only
        // when the table is full.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= self.capacity {
            self.make_room(&mut buckets, now);
        }
        let fresh = Bucket {
            tokens: self.rate.burst,
            at: now,
        };
        buckets.entry(key).or_insert(fresh).take(self.rate, now)
    }

    /// Clients remembered now.
    pub fn clients(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Forgets every client whose bucket has refilled (it is the same as a
    /// new one); if none has, the one seen longest ago, so that a flood of
    /// addresses cannot grow the table past its capacity.
    fn make_room(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let rate = self.rate;
        buckets.retain(|_, bucket| bucket.refilled(rate, now).tokens < rate.burst);
        if buckets.len() >= self.capacity
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.at)
                .map(|(key, _)| *key)
        {
            buckets.remove(&oldest);
        }
    }
}

/// The address a limit counts against: an IPv6 client is its /64, which
/// one host usually holds whole (it could otherwise take a new address per
/// request); an IPv4-mapped one is the IPv4 address.
fn client_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// The limiters of the HTTP surface.
#[derive(Debug)]
pub struct RateLimits {
    /// `/api/v1/push/{name}`, every monitor together.
    pub push: Limiter,
    /// `POST /api/v1/annotations` and `POST /api/v1/incidents/{id}/ack`.
    pub writes: Limiter,
    /// `/api/v1/agent/...`.
    pub agents: Limiter,
    /// `POST /subscribe`.
    pub subscribe: Limiter,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            push: Limiter::new(Rate::PUSH, MAX_CLIENTS),
            writes: Limiter::new(Rate::WRITES, MAX_CLIENTS),
            agents: Limiter::new(Rate::AGENTS, MAX_CLIENTS),
            subscribe: Limiter::new(Rate::SUBSCRIBE, MAX_CLIENTS),
        }
    }
}

/// A handler argument that admits the request under the push limit, or
/// answers 429 before anything else (the token included) is looked at.
pub struct PushLimit;

/// Like [`PushLimit`], under the limit for annotations, acknowledgements
/// and status reports.
pub struct WriteLimit;

/// Like [`PushLimit`], under the limit for agents.
pub struct AgentLimit;

impl FromRequestParts<AppState> for PushLimit {
    type Rejection = TooManyRequests;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, TooManyRequests> {
        admit(&state.limits.push, parts).map(|()| PushLimit)
    }
}

impl FromRequestParts<AppState> for WriteLimit {
    type Rejection = TooManyRequests;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, TooManyRequests> {
        admit(&state.limits.writes, parts).map(|()| WriteLimit)
    }
}

impl FromRequestParts<AppState> for AgentLimit {
    type Rejection = TooManyRequests;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, TooManyRequests> {
        admit(&state.limits.agents, parts).map(|()| AgentLimit)
    }
}

/// The client is the peer address `serve` puts on every request; without
/// one (a router used outside `serve`), all such requests share a bucket.
fn admit(limiter: &Limiter, parts: &Parts) -> Result<(), TooManyRequests> {
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    limiter
        .admit(client, Instant::now())
        .map_err(|wait| TooManyRequests { client, wait })
}

/// A request over its client's limit.
#[derive(Debug)]
pub struct TooManyRequests {
    client: IpAddr,
    wait: Duration,
}

impl IntoResponse for TooManyRequests {
    /// 429 with `Retry-After` in whole seconds, at least one (a client that
    /// retries at once would only be refused again).
    fn into_response(self) -> Response {
        let wait = self.wait;
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        tracing::debug!(client = %self.client, retry_after = seconds, "request limit reached");
        let message = format!("too many requests from this address; retry in {seconds} s");
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use super::{Limiter, Rate, client_key};

    /// The figures these tests reason in: 10/s with bursts of 20.
    const TEN_A_SECOND: Rate = Rate {
        per_second: 10.0,
        burst: 20.0,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds_and_the_wait_is_told() {
        let limiter = Limiter::new(TEN_A_SECOND, 10);
        let now = Instant::now();
        let client = ip("127.0.0.2");
        for n in 0..20 {
            assert_eq!(
                limiter.admit(client, now),
                Ok(()),
                "request {n} of the burst"
            );
        }
        let wait = limiter.admit(client, now).expect_err("past the burst");
        assert!(
            wait.abs_diff(Duration::from_millis(100)) < Duration::from_micros(1),
            "{wait:?}"
        );
        // A tenth of a second buys one more request at 10/s, not two.
        let later = now + Duration::from_millis(100);
        assert_eq!(limiter.admit(client, later), Ok(()));
        assert!(limiter.admit(client, later).is_err());
        // Another client has its own bucket.
        assert_eq!(limiter.admit(ip("127.0.0.3"), now), Ok(()));
    }

    #[test]
    fn a_steady_client_at_the_rate_is_never_limited() {
        let limiter = Limiter::new(Rate::WRITES, 10);
        let start = Instant::now();
        let client = ip("127.0.0.2");
        for n in 0..1_000u32 {
            let at = start + Duration::from_millis(200) * n;
            assert_eq!(limiter.admit(client, at), Ok(()), "request {n}");
        }
    }

    #[test]
    fn a_clock_that_goes_back_refills_nothing() {
        let limiter = Limiter::new(
            Rate {
                per_second: 1.0,
                burst: 1.0,
            },
            10,
        );
        let now = Instant::now() + Duration::from_secs(10);
        let client = ip("127.0.0.2");
        assert_eq!(limiter.admit(client, now), Ok(()));
        assert!(limiter.admit(client, now - Duration::from_secs(5)).is_err());
    }

    #[test]
    fn a_flood_of_addresses_never_grows_the_table_past_its_capacity() {
        let limiter = Limiter::new(TEN_A_SECOND, 100);
        let now = Instant::now();
        for n in 0..10_000u32 {
            let client = IpAddr::from((0x7f00_0000 | n).to_be_bytes());
            // Each spends its whole burst, so none is forgettable as refilled.
            for _ in 0..20 {
                let _ = limiter.admit(client, now);
            }
            assert!(limiter.clients() <= 100, "{} clients", limiter.clients());
        }
        // The last client is remembered: it is still limited.
        let last = IpAddr::from((0x7f00_0000u32 | 9_999).to_be_bytes());
        assert!(limiter.admit(last, now).is_err());
    }

    #[test]
    fn refilled_buckets_are_forgotten_first() {
        let limiter = Limiter::new(TEN_A_SECOND, 2);
        let now = Instant::now();
        let (quiet, busy) = (ip("127.0.0.2"), ip("127.0.0.3"));
        assert_eq!(limiter.admit(quiet, now), Ok(()));
        for _ in 0..20 {
            let _ = limiter.admit(busy, now);
        }
        // Seconds later the quiet one is full again; the busy one, seen
        // later but not refilled, is kept, and remains limited.
        let later = now + Duration::from_millis(500);
        assert_eq!(limiter.admit(ip("127.0.0.4"), later), Ok(()));
        assert_eq!(limiter.clients(), 2);
        for _ in 0..5 {
            let _ = limiter.admit(busy, later);
        }
        assert!(limiter.admit(busy, later).is_err());
    }

    #[test]
    fn an_ipv6_client_counts_as_its_slash_64() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:ffff::9")),
            client_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(client_key(ip("::ffff:127.0.0.5")), ip("127.0.0.5"));
        assert_eq!(client_key(ip("127.0.0.5")), ip("127.0.0.5"));
    }
}
