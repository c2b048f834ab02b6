//! Who sees which monitors (contract sections 8 and 10). A monitor that
//! only private pages show is left out of every public answer; a private
//! page opens with its `?key=` or the cookie that key sets; the admin token
//! sees everything.

use std::collections::HashSet;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::AppState;
use super::api::auth::{Bearer, bearer};
use crate::config::{Config, PageConfig};
use crate::incident::{Incident, Report};

/// How long a browser keeps a private page's cookie: a bookmark keeps
/// working for a month without the key in it.
const COOKIE_MAX_AGE_S: u64 = 30 * 86_400;
/// What cookie names of private pages start with; the slug follows.
const COOKIE_PREFIX: &str = "hopwatch_page_";
/// Cookies read from one request: a browser sends a handful, and a
/// visitor's thousand must not cost a thousand digests.
const MAX_COOKIES: usize = 32;

/// The monitors one answer may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every monitor: the admin token.
    All,
    /// Every monitor but these: the public, and the public with a key
    /// that opens some of the private ones.
    Except(HashSet<String>),
    /// Only these: one page.
    Only(HashSet<String>),
}

impl Scope {
    /// What anyone may see: every monitor but those only private pages show.
    pub fn public(config: &Config) -> Scope {
        Scope::Except(owned(config.private_only()))
    }

    /// The monitors `page` shows. A public page never shows a monitor that
    /// only private pages show (it cannot list one, but `"*"` would).
    pub fn page(config: &Config, page: &PageConfig) -> Scope {
        let hidden = if page.private {
            HashSet::new()
        } else {
            config.private_only()
        };
        Scope::Only(
            config
                .monitors
                .iter()
                .filter(|m| page.shows(m) && !hidden.contains(m.name.as_str()))
                .map(|m| m.name.clone())
                .collect(),
        )
    }

    /// The public scope widened by the private pages in `opened`.
    pub fn public_and(config: &Config, opened: &[&PageConfig]) -> Scope {
        let mut hidden = config.private_only();
        hidden.retain(|name| {
            !config
                .monitors
                .iter()
                .any(|m| m.name == *name && opened.iter().any(|page| page.shows(m)))
        });
        Scope::Except(owned(hidden))
    }

    /// Whether the monitor named `name` may be shown.
    pub fn shows(&self, name: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Except(hidden) => !hidden.contains(name),
            Scope::Only(shown) => shown.contains(name),
        }
    }
}

impl Scope {
    /// Forgets what `incident` is folded into when that names a monitor
    /// this scope hides (a `monitor:NAME` marker) or is an incident of one;
    /// `monitor_of` gives the monitor of an incident id, when known. An id
    /// of unknown owner stays: it names nothing, and its own page and API
    /// answer 404 to whoever may not see it.
    pub fn hide_root(&self, incident: &mut Incident, monitor_of: &dyn Fn(&str) -> Option<String>) {
        let Some(into) = incident.folded_into.as_deref() else {
            return;
        };
        let owner = match into.strip_prefix("monitor:") {
            Some(name) => Some(name.to_owned()),
            None => monitor_of(into),
        };
        if owner.is_some_and(|name| !self.shows(&name)) {
            incident.folded_into = None;
        }
    }
}

fn owned(names: HashSet<&str>) -> HashSet<String> {
    names.into_iter().map(str::to_owned).collect()
}

/// How a page opened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// It is public.
    Public,
    /// With `?key=`: the answer sets the cookie.
    Key,
    /// With the cookie an earlier key set.
    Cookie,
}

/// What a request carries that may open private pages: the admin token,
/// a `?key=` and the page cookies. Reading it never refuses a request;
/// each answer decides what the credentials open. No `Debug`: the key is
/// a secret, and a log line must not show it.
pub struct Credentials {
    /// It carries `server.admin_token`.
    pub admin: bool,
    /// The `key` query parameter.
    key: Option<String>,
    /// `(slug, value)` of each page cookie sent.
    cookies: Vec<(String, String)>,
}

impl FromRequestParts<AppState> for Credentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let admin = bearer(parts, state) == Bearer::Admin;
        let key = parts.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "key")
                .map(|(_, value)| value.into_owned())
        });
        let cookies = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter_map(|(name, value)| {
                let slug = name.strip_prefix(COOKIE_PREFIX)?;
                Some((slug.to_owned(), value.to_owned()))
            })
            .take(MAX_COOKIES)
            .collect();
        Ok(Credentials {
            admin,
            key,
            cookies,
        })
    }
}

impl Credentials {
    /// Whether and how `page` opens to this request; `None` for a private
    /// page without its key or cookie, which must look like no page at all.
    pub fn opens(&self, page: &PageConfig) -> Option<Opened> {
        if !page.private {
            return Some(Opened::Public);
        }
        if self.key_opens(page) {
            return Some(Opened::Key);
        }
        let expected = cookie_value(page)?;
        self.cookies
            .iter()
            .filter(|(slug, _)| *slug == page.slug)
            .any(|(_, value)| crate::secret::same(value, &expected))
            .then_some(Opened::Cookie)
    }

    /// Whether `?key=` is `page`'s access key (compared as digests, so the
    /// time taken says nothing of the key). A page that does not exist
    /// gets a comparison too, from [`Credentials::no_page`].
    fn key_opens(&self, page: &PageConfig) -> bool {
        match (&self.key, &page.access_key) {
            (Some(given), Some(expected)) if !expected.is_empty() => {
                crate::secret::same(given, expected.expose())
            }
            _ => false,
        }
    }

    /// Spends the time of a key comparison on a page that does not exist,
    /// so that answering a missing page is no faster than a wrong key.
    pub fn no_page(&self) {
        if let Some(given) = &self.key {
            let _ = crate::secret::same(given, "");
        }
    }

    /// The private pages whose key `?key=` is: at most one in practice,
    /// but every page is compared, so the answer's time does not say which.
    pub fn keyed_pages<'c>(&self, config: &'c Config) -> Vec<&'c PageConfig> {
        if self.key.is_none() {
            return Vec::new();
        }
        config
            .pages
            .iter()
            .filter(|page| page.private && self.key_opens(page))
            .collect()
    }
}

impl Credentials {
    /// What an API read may show: everything to the admin token; to
    /// others the public monitors and those of the page whose key `?key=`
    /// is. `true` when a key widened it, so that the answer is kept private.
    pub fn api_scope(&self, config: &Config) -> (Scope, bool) {
        if self.admin {
            return (Scope::All, false);
        }
        let keyed = self.keyed_pages(config);
        (Scope::public_and(config, &keyed), !keyed.is_empty())
    }

    /// What `/api/v1/status` shows (contract section 8): everything to the
    /// admin token, the monitors of the page whose key `?key=` is, else the
    /// public ones. `true` when a key chose it.
    pub fn status_scope(&self, config: &Config) -> (Scope, bool) {
        if self.admin {
            return (Scope::All, false);
        }
        let keyed = self.keyed_pages(config);
        if keyed.is_empty() {
            return (Scope::public(config), false);
        }
        let shown = config
            .monitors
            .iter()
            .filter(|m| keyed.iter().any(|page| page.shows(m)))
            .map(|m| m.name.clone())
            .collect();
        (Scope::Only(shown), true)
    }
}

/// The pages whose status reports a reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagesOpen {
    /// Every page: the admin token.
    All,
    /// These slugs: the public pages, and the private ones a key opened.
    These(HashSet<String>),
}

impl PagesOpen {
    /// The public pages of `config`, and the private ones in `opened`.
    pub fn public_and(config: &Config, opened: &[&PageConfig]) -> PagesOpen {
        let mut slugs: HashSet<String> = config
            .pages
            .iter()
            .filter(|page| !page.private)
            .map(|page| page.slug.clone())
            .collect();
        slugs.extend(opened.iter().map(|page| page.slug.clone()));
        // `/` exists even when `pages:` does not list it.
        if config.page("").is_some_and(|page| !page.private) {
            slugs.insert(String::new());
        }
        PagesOpen::These(slugs)
    }

    /// Whether the page `slug` is open.
    pub fn contains(&self, slug: &str) -> bool {
        match self {
            PagesOpen::All => true,
            PagesOpen::These(slugs) => slugs.contains(slug),
        }
    }
}

/// `report` as a reader who sees the monitors of `scope` and the pages in
/// `pages` may see it: the names it may not see are left out, and a report
/// that named only such monitors and pages is not shown at all (left with
/// empty lists it would read as one for every page). A report naming
/// nothing concerns everyone.
pub fn visible_report(mut report: Report, scope: &Scope, pages: &PagesOpen) -> Option<Report> {
    if report.is_general() {
        return Some(report);
    }
    report.monitors.retain(|name| scope.shows(name));
    report.pages.retain(|slug| pages.contains(slug));
    (!report.is_general()).then_some(report)
}

impl Credentials {
    /// The pages whose reports an API read may show: all to the admin
    /// token, else the public ones and the page whose key `?key=` is.
    pub fn api_pages(&self, config: &Config) -> PagesOpen {
        if self.admin {
            return PagesOpen::All;
        }
        PagesOpen::public_and(config, &self.keyed_pages(config))
    }
}

/// What a private page's cookie holds: a digest of its slug and key, so
/// the cookie is not the key itself, and changing the key ends every
/// cookie it set. `None` for a page without a key.
fn cookie_value(page: &PageConfig) -> Option<String> {
    let key = page.access_key.as_ref().filter(|k| !k.is_empty())?;
    let mut digest = Sha256::new();
    digest.update(b"hopwatch page cookie\0");
    digest.update(page.slug.as_bytes());
    digest.update(b"\0");
    digest.update(key.expose().as_bytes());
    Some(URL_SAFE_NO_PAD.encode(digest.finalize()))
}

/// The `Set-Cookie` that opens `page` without its key from now on: only
/// under the page's own path, out of scripts' reach (`HttpOnly`), and not
/// sent along from other sites' forms and frames (`SameSite=Lax`).
/// `Secure` when the public URL is https; plain http would drop it.
pub fn set_cookie(page: &PageConfig, secure: bool) -> Option<HeaderValue> {
    let value = cookie_value(page)?;
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{COOKIE_PREFIX}{}={value}; Path={}; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax{secure}",
        page.slug,
        page.path()
    );
    HeaderValue::from_str(&text).ok()
}

/// Marks an answer that only a key holder may read: no snapshot shares it
/// with other readers, and no browser or proxy keeps it.
pub fn keep_private(response: &mut Response) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

/// Adds the cookie of `page` to an answer opened with its key.
pub fn add_cookie(response: &mut Response, page: &PageConfig, config: &Config) {
    let secure = config
        .server
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    if let Some(cookie) = set_cookie(page, secure) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MonitorConfig;
    use crate::secret::Secret;

    fn private_page(slug: &str, key: &str, monitors: &[&str]) -> PageConfig {
        PageConfig {
            slug: slug.to_owned(),
            title: None,
            groups: Vec::new(),
            monitors: monitors.iter().map(|m| (*m).to_owned()).collect(),
            private: true,
            access_key: Some(Secret::new(key)),
        }
    }

    fn config() -> Config {
        let mut public = PageConfig::root();
        public.monitors = vec!["web".to_owned()];
        Config {
            monitors: ["web", "db", "cache"]
                .into_iter()
                .map(MonitorConfig::named)
                .collect(),
            pages: vec![
                public,
                private_page("ops", "k-ops", &["db", "web"]),
                private_page("cache", "k-cache", &["cache"]),
            ],
            ..Config::default()
        }
    }

    fn with(key: Option<&str>, cookies: &[(&str, &str)]) -> Credentials {
        Credentials {
            admin: false,
            key: key.map(str::to_owned),
            cookies: cookies
                .iter()
                .map(|(s, v)| ((*s).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn scopes_hide_what_only_private_pages_show() {
        let config = config();
        let public = Scope::public(&config);
        assert!(public.shows("web") && !public.shows("db") && !public.shows("cache"));
        let ops = Scope::page(&config, &config.pages[1]);
        assert!(ops.shows("db") && ops.shows("web") && !ops.shows("cache"));
        let widened = Scope::public_and(&config, &[&config.pages[1]]);
        assert!(widened.shows("db") && widened.shows("web") && !widened.shows("cache"));
        // A public page with "*" still leaves the private ones out.
        let mut everything = PageConfig::root();
        everything.slug = "all".to_owned();
        assert_eq!(
            Scope::page(&config, &everything),
            Scope::Only(HashSet::from(["web".to_owned()]))
        );
    }

    #[test]
    fn a_private_page_opens_with_its_key_or_its_cookie_only() {
        let config = config();
        let ops = &config.pages[1];
        assert_eq!(
            with(None, &[]).opens(&config.pages[0]),
            Some(Opened::Public)
        );
        assert_eq!(with(None, &[]).opens(ops), None);
        assert_eq!(with(Some("k-cache"), &[]).opens(ops), None);
        assert_eq!(with(Some("k-ops"), &[]).opens(ops), Some(Opened::Key));
        let cookie = cookie_value(ops).expect("a value");
        assert!(!cookie.contains("k-ops"), "the cookie is not the key");
        assert_eq!(
            with(None, &[("ops", &cookie)]).opens(ops),
            Some(Opened::Cookie)
        );
        // Another page's cookie, or this one's under another name, is none.
        assert_eq!(with(None, &[("cache", &cookie)]).opens(ops), None);
        let other = cookie_value(&config.pages[2]).expect("a value");
        assert_eq!(with(None, &[("ops", &other)]).opens(ops), None);
        assert_eq!(
            with(Some("k-ops"), &[]).keyed_pages(&config),
            vec![&config.pages[1]]
        );
        assert!(with(Some("nope"), &[]).keyed_pages(&config).is_empty());
    }

    #[test]
    fn a_shown_incident_does_not_point_at_a_hidden_root() {
        let config = config();
        let public = Scope::public(&config);
        let folded = |into: &str| Incident {
            id: "edge-1".into(),
            alert: "down".into(),
            monitor: "web".into(),
            severity: crate::incident::Severity::Critical,
            state: crate::incident::IncidentState::Open,
            cause: crate::monitor::Cause::Http502,
            verdict: crate::monitor::Verdict {
                hop: crate::monitor::Hop::Origin,
                summary: String::new(),
            },
            responder: None,
            evidence: None,
            value: None,
            threshold: None,
            started_at: std::time::UNIX_EPOCH,
            resolved_at: None,
            acknowledged: false,
            folded_into: Some(into.to_owned()),
            annotations: Vec::new(),
            notified_at: None,
            regions: Default::default(),
        };
        let owner = |id: &str| (id == "db-1").then(|| "db".to_owned());
        for (into, kept) in [
            ("monitor:db", false),
            ("db-1", false),
            ("monitor:web", true),
            ("unknown-9", true),
        ] {
            let mut incident = folded(into);
            public.hide_root(&mut incident, &owner);
            assert_eq!(incident.folded_into.is_some(), kept, "{into}");
            let mut incident = folded(into);
            Scope::All.hide_root(&mut incident, &owner);
            assert!(incident.folded_into.is_some(), "the admin sees {into}");
        }
    }

    #[test]
    fn a_report_shows_only_what_its_reader_may_see() {
        let config = config();
        let public = Scope::public(&config);
        let pages = PagesOpen::public_and(&config, &[]);
        let report = |monitors: &[&str], pages: &[&str]| Report {
            id: 1,
            title: "t".into(),
            status: crate::incident::ReportStatus::Investigating,
            monitors: monitors.iter().map(|m| (*m).to_owned()).collect(),
            pages: pages.iter().map(|p| (*p).to_owned()).collect(),
            created_at: std::time::UNIX_EPOCH,
            resolved_at: None,
            updates: Vec::new(),
        };
        assert!(visible_report(report(&[], &[]), &public, &pages).is_some());
        assert_eq!(visible_report(report(&["db"], &[]), &public, &pages), None);
        assert_eq!(visible_report(report(&[], &["ops"]), &public, &pages), None);
        let mixed = visible_report(report(&["db", "web"], &["ops", ""]), &public, &pages)
            .expect("it names a public monitor");
        assert_eq!(
            (mixed.monitors, mixed.pages),
            (vec!["web".to_owned()], vec![String::new()])
        );
        let keyed = PagesOpen::public_and(&config, &[&config.pages[1]]);
        let widened = Scope::public_and(&config, &[&config.pages[1]]);
        assert!(visible_report(report(&[], &["ops"]), &widened, &keyed).is_some());
        assert!(visible_report(report(&["db"], &[]), &widened, &keyed).is_some());
        assert!(visible_report(report(&["cache"], &[]), &widened, &keyed).is_none());
    }

    #[test]
    fn the_cookie_stays_on_its_page_and_away_from_scripts() {
        let config = config();
        let text = set_cookie(&config.pages[1], false).expect("a cookie");
        let text = text.to_str().expect("ASCII");
        assert!(text.starts_with("hopwatch_page_ops="), "{text}");
        for attribute in ["; Path=/p/ops;", "; HttpOnly", "; SameSite=Lax"] {
            assert!(text.contains(attribute), "{attribute} in {text}");
        }
        assert!(!text.contains("Secure"));
        let secure = set_cookie(&config.pages[1], true).expect("a cookie");
        assert!(secure.to_str().expect("ASCII").ends_with("; Secure"));
    }
}
