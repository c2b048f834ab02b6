//! The config file's shape (contract section 2) as plain serde data.
//! Loading, `${VAR}` interpolation and cross-field validation live beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::{
    KeepHealthy, Percent, duration, keep_healthy, opt_duration, write_opt_duration,
};
use crate::incident::Severity;
use crate::monitor::{AddressMode, FollowRedirects, MonitorKind, RecordKind, StatusMatcher};
use crate::secret::Secret;

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server for the status page, API and metrics.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where results are kept.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Monitor keys applied to every monitor that does not set them.
    #[serde(default)]
    pub defaults: Defaults,
    /// What to check. At least one.
    #[serde(default)]
    pub monitors: Vec<MonitorConfig>,
    /// When to tell someone.
    #[serde(default)]
    pub alerts: Vec<AlertConfig>,
    /// How to tell them.
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
    /// Windows during which no alert fires.
    #[serde(default)]
    pub maintenance: Vec<MaintenanceConfig>,
    /// This node's name and region (a cluster, or agents).
    #[serde(default)]
    pub node: NodeConfig,
    /// Agents allowed to check from their regions and push results.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Status pages. Default: one page at `/` with every monitor.
    #[serde(default)]
    pub pages: Vec<super::pages::PageConfig>,
    /// Email subscriptions to the public pages. Default: none (no form).
    #[serde(default)]
    pub subscriptions: Option<super::pages::SubscriptionsConfig>,
}

/// The region a node or agent checks from when none is given.
pub const DEFAULT_REGION: &str = "default";

/// `node:` section: who this process is in a cluster. Each node of one
/// cluster runs the same file; `HOPWATCH_NODE_NAME` and
/// `HOPWATCH_NODE_REGION` tell them apart.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Unique in the cluster. Default: the host name.
    pub name: Option<String>,
    /// Where it checks from. Default `default`.
    pub region: Option<String>,
}

/// One entry of `agents:`: a checker in a region without a database.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Unique among nodes and agents.
    pub name: String,
    /// The region it checks from.
    pub region: String,
    /// Its Bearer token.
    pub token: Secret,
}

/// `defaults:`, as written. Loading has already merged it into every
/// monitor, so it is kept for reference only.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Defaults(pub serde_json::Map<String, serde_json::Value>);

impl std::ops::Deref for Defaults {
    type Target = serde_json::Map<String, serde_json::Value>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

// By hand: these are raw values, not typed ones, so a default `token` or
// header would print as written. The keys are enough; the values show in
// each monitor, where secrets are typed and hidden.
impl std::fmt::Debug for Defaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// `server:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Base URL used for links in alerts. Default: none.
    pub public_url: Option<String>,
    /// Bearer token for write endpoints, and for the whole evidence in API
    /// answers; none disables writes. Default: none.
    pub admin_token: Option<Secret>,
    /// Status page title. Default `hopwatch`.
    pub title: Option<String>,
    /// `host:port` whose reachability proves the monitor's own network works.
    pub connectivity_check: Option<String>,
    /// Checks allowed to run at once. Default 256.
    pub max_concurrent_checks: Option<usize>,
    /// Show the response headers and body excerpts of evidence to everyone:
    /// on the pages, in the feed and in the API without a token. Default
    /// `false`: those show cause, status, responder, verdict and request
    /// id, and the whole evidence is for the admin token and alerts.
    #[serde(default)]
    pub public_evidence: bool,
    /// Web clients connected at once. Default: a quarter of the open-file
    /// limit, at most 4096; never more than half of the limit, so checks
    /// keep their sockets. At the cap, the connection idle the longest is
    /// closed to make room.
    pub max_connections: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            public_url: None,
            admin_token: None,
            title: None,
            connectivity_check: None,
            max_concurrent_checks: None,
            public_evidence: false,
            max_connections: None,
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

/// `storage:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// SQLite file, created with its parent folder. Default `data/hopwatch.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `postgres://` (a cluster) or `sqlite://FILE`; either this or `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// How long raw check results are kept. Default 30d.
    #[serde(default = "default_retention", deserialize_with = "duration")]
    pub retention: Duration,
    /// Which healthy checks stay once old; `None` (`off`) keeps them all.
    /// Default on: after 48h, one per monitor per 5m.
    #[serde(default = "default_keep_healthy", deserialize_with = "keep_healthy")]
    pub keep_healthy: Option<KeepHealthy>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            path: None,
            url: None,
            retention: default_retention(),
            keep_healthy: default_keep_healthy(),
        }
    }
}

impl StorageConfig {
    /// Which database to open: `url` when given, else `path`, else the
    /// default file. Validation has already refused both at once and a
    /// URL it cannot read.
    pub fn location(&self) -> Result<super::Location, String> {
        match &self.url {
            Some(url) => super::Location::parse(url),
            None => Ok(super::Location::Sqlite(
                self.path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("data/hopwatch.db")),
            )),
        }
    }
}

fn default_retention() -> Duration {
    Duration::from_secs(30 * 86_400)
}

fn default_keep_healthy() -> Option<KeepHealthy> {
    Some(KeepHealthy::default())
}

/// One entry of `monitors:`. Fields not used by the monitor's `type` are
/// rejected by validation, so a misplaced key is never silently ignored.
///
/// It serializes in the file's own spellings for one reader: an agent,
/// which compiles what it is sent with the same code (see
/// [`super::agents`]). A [`Secret`] in it writes `***` unless serialized
/// inside [`super::revealing`], which only the agents' endpoint does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Unique id, `[a-z0-9._-]`, used in URLs and metric labels.
    pub name: String,
    /// Shown on the status page. Default: `name`.
    pub title: Option<String>,
    /// Status page group. Default: none.
    pub group: Option<String>,
    /// Probe type. Default `http`.
    #[serde(rename = "type", default)]
    pub kind: MonitorKind,
    /// http: the URL to request; websocket: the `ws://` or `wss://` URL.
    pub url: Option<String>,
    /// http: request method. Default `GET`.
    pub method: Option<String>,
    /// http/websocket: extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// http: request body. Default empty.
    pub body: Option<String>,
    /// http: connect to this `ip:port` instead of resolving the URL's host,
    /// keeping Host and SNI (like curl `--resolve`).
    pub resolve: Option<String>,
    /// http: follow up to 10 redirects (`true`), never (`false`), or
    /// wherever they lead (`any`, lifting the refusals of unsafe hops).
    /// Default true.
    pub follow_redirects: Option<FollowRedirects>,
    /// http/tls/smtp/grpc/websocket: skip certificate verification. Default false.
    #[serde(default)]
    pub insecure: bool,
    /// http/tls/smtp/grpc/websocket: an extra trusted CA (PEM) besides the
    /// system store.
    pub ca_file: Option<PathBuf>,
    /// What counts as healthy.
    #[serde(default)]
    pub expect: Expect,
    /// The monitor that checks this hop's upstream directly.
    pub upstream: Option<String>,
    /// Regions that check it. Default: every region with a live node.
    #[serde(default)]
    pub regions: Option<Vec<String>>,
    /// Failing regions that make it `down` (fewer: `degraded`). Default: a
    /// majority of its live regions.
    #[serde(default)]
    pub quorum: Option<u32>,
    /// http/tcp/tls: check the first resolved address or all of them.
    #[serde(default)]
    pub addresses: AddressMode,
    /// After a failure, up to this many re-checks 1s apart. Default 0.
    #[serde(default)]
    pub confirm: u32,
    /// A link quoted in alerts.
    pub runbook: Option<String>,
    /// How often the check runs. Default 30s, at least 1s.
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "write_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// How long one check may take. Default 10s, at most `interval`.
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "write_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// tcp/tls/smtp/grpc: `host:port` to connect to. icmp: the host (name or IP).
    pub target: Option<String>,
    /// dns: the name to query.
    pub query: Option<String>,
    /// dns: record type. Default `A`.
    pub record: Option<RecordKind>,
    /// dns: resolver `ip[:port]`. Default: the system resolver.
    pub server: Option<String>,
    /// push: extra time after `interval` before a missing push counts as down.
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "write_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub grace: Option<Duration>,
    /// push: the token a heartbeat must carry. Required for push monitors.
    pub token: Option<Secret>,
    /// smtp: require STARTTLS and check the certificate. Default false.
    pub starttls: Option<bool>,
    /// domain: the registered name whose expiry is checked.
    pub domain: Option<String>,
    /// domain: RDAP base URL (`https://rdap.example/`), asked as
    /// `{base}/domain/{name}`. Default: the server the IANA bootstrap
    /// shipped in hopwatch names for the domain's TLD.
    pub rdap_server: Option<String>,
    /// icmp: echo requests per check, 1 to 20. Default 3.
    pub count: Option<u32>,
    /// grpc: the service whose health is asked for. Default `""`, the
    /// server as a whole.
    pub service: Option<String>,
    /// grpc: TLS (with ALPN h2) instead of plaintext h2c. Default false.
    pub tls: Option<bool>,
    /// websocket: a text message sent after the upgrade; one reply is read.
    /// Default: none (the upgrade alone is checked).
    pub send: Option<String>,
}

impl MonitorConfig {
    /// A monitor with this name and every other key at its default, for
    /// building monitors in code (`hopwatch check`, the demo, tests).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            group: None,
            kind: MonitorKind::default(),
            url: None,
            method: None,
            headers: BTreeMap::new(),
            body: None,
            resolve: None,
            follow_redirects: None,
            insecure: false,
            ca_file: None,
            expect: Expect::default(),
            upstream: None,
            regions: None,
            quorum: None,
            addresses: AddressMode::default(),
            service: None,
            tls: None,
            send: None,
            confirm: 0,
            runbook: None,
            interval: None,
            timeout: None,
            target: None,
            query: None,
            record: None,
            server: None,
            grace: None,
            token: None,
            starttls: None,
            domain: None,
            rdap_server: None,
            count: None,
        }
    }
}

/// `expect:` of a monitor. Everything optional; the default is "status 2xx".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Accepted statuses, codes or classes (`"2xx"`). Default `["2xx"]`.
    pub status: Option<Vec<StatusMatcher>>,
    /// The body (websocket: the reply) must contain this text.
    pub body_contains: Option<String>,
    /// The body must match this regex.
    pub body_regex: Option<String>,
    /// JSONPath -> expected value.
    #[serde(default)]
    pub json: BTreeMap<String, serde_json::Value>,
    /// Response header -> expected value (case-insensitive name, exact value).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A slower check fails with `too_slow`.
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "write_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_latency: Option<Duration>,
    /// https/tls/smtp: fewer days left fails with `tls_expiring`.
    pub cert_min_days: Option<u32>,
    /// dns: the answers expected (order ignored).
    pub answers: Option<Vec<String>>,
    /// domain: fewer days of registration left fails with
    /// `domain_expiring`. Default 30.
    pub min_days: Option<u32>,
}

/// One entry of `alerts:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// Unique alert name.
    pub name: String,
    /// Monitor names, `group:NAME`, or `*`.
    pub monitors: Vec<String>,
    /// The condition.
    pub when: Condition,
    /// Default `critical`.
    #[serde(default)]
    pub severity: Severity,
    /// How long the condition must hold before firing. Default 0.
    #[serde(default, rename = "for", deserialize_with = "opt_duration")]
    pub hold: Option<Duration>,
    /// Notifier names.
    #[serde(default)]
    pub notify: Vec<String>,
    /// Send a `resolved` message. Default true.
    pub send_resolved: Option<bool>,
    /// Re-notify this often while firing and unacknowledged.
    #[serde(default, deserialize_with = "opt_duration")]
    pub repeat: Option<Duration>,
    /// Regions in which the condition must hold. Default: the monitor's.
    #[serde(default)]
    pub quorum: Option<u32>,
}

/// `when:` of an alert: exactly one condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Condition {
    /// This many failed checks in a row.
    ConsecutiveFailures(u32),
    /// Share of failed checks over a window.
    ErrorRate(RateCondition),
    /// Share of 5xx answers over a window.
    #[serde(rename = "status_5xx_rate")]
    Status5xxRate(RateCondition),
    /// A latency percentile over a window.
    Latency(LatencyCondition),
    /// Certificate validity left below a duration.
    CertExpiry(CertExpiryCondition),
}

/// `error_rate` / `status_5xx_rate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCondition {
    /// Fires above this share.
    pub above: Percent,
    /// Sliding window.
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
    /// Fewer checks in the window never fire. Default 1.
    pub min_samples: Option<u32>,
}

/// `latency`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyCondition {
    /// 1-100. Default 95.
    pub percentile: Option<f64>,
    /// Fires above this latency.
    #[serde(deserialize_with = "duration")]
    pub above: Duration,
    /// Sliding window.
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
    /// Fewer checks in the window never fire. Default 1.
    pub min_samples: Option<u32>,
}

/// `cert_expiry`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertExpiryCondition {
    /// Fires when less validity than this is left.
    #[serde(deserialize_with = "duration")]
    pub below: Duration,
}

/// One entry of `notifiers:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierConfig {
    /// Unique name referenced by alerts.
    pub name: String,
    /// `email` or `webhook`.
    #[serde(rename = "type")]
    pub kind: NotifierKind,
    /// webhook: the URL to POST to.
    pub url: Option<String>,
    /// webhook: body format. Default `json`.
    pub format: Option<WebhookFormat>,
    /// webhook: HMAC-SHA256 signing secret. Default: none (bodies unsigned).
    pub secret: Option<Secret>,
    /// webhook (pagerduty): Events API v2 routing key. Required for that format.
    pub routing_key: Option<Secret>,
    /// email: the SMTP server.
    pub smtp: Option<SmtpConfig>,
    /// email: sender.
    pub from: Option<String>,
    /// email: recipients.
    #[serde(default)]
    pub to: Vec<String>,
}

/// Notifier type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierKind {
    /// SMTP email.
    Email,
    /// HTTP POST.
    Webhook,
}

/// Webhook body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// hopwatch's own JSON body (contract section 5). The default.
    #[default]
    Json,
    /// Slack incoming webhook.
    Slack,
    /// Discord webhook.
    Discord,
    /// PagerDuty Events API v2.
    Pagerduty,
}

/// `smtp:` of an email notifier.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Default 587 for starttls, 465 for tls, 25 for none.
    pub port: Option<u16>,
    /// Default `starttls`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login name. Default: none (no login).
    pub username: Option<String>,
    /// Login password. Default: none.
    pub password: Option<Secret>,
    /// Log in even with `security: none`, which sends `username` and
    /// `password` in clear text: only for a relay on a trusted network.
    /// Default false, so that such a config is an error.
    #[serde(default)]
    pub allow_plaintext_auth: bool,
}

impl SmtpConfig {
    /// Whether this would log in over an unencrypted connection without
    /// `allow_plaintext_auth`: a config error, and refused by the notifier.
    pub fn sends_login_in_clear(&self) -> bool {
        self.security == SmtpSecurity::None
            && (self.username.is_some() || self.password.is_some())
            && !self.allow_plaintext_auth
    }
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text (local relays only).
    None,
    /// Upgrade with STARTTLS. The default.
    #[default]
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// One entry of `maintenance:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// Monitor names, `group:NAME`, or `*`.
    pub monitors: Vec<String>,
    /// RFC 3339 start of a one-off window.
    pub start: Option<String>,
    /// Cron expression for a recurring window.
    pub cron: Option<String>,
    /// Window length.
    #[serde(deserialize_with = "duration")]
    pub duration: Duration,
    /// Send one message through each `notify` notifier when the window
    /// starts and one when it ends. Default `false`; needs `notify`.
    #[serde(default)]
    pub announce: bool,
    /// Notifier names the announcements go through. Default none.
    #[serde(default)]
    pub notify: Vec<String>,
}
