//! `pages:` (contract section 8): several status pages, each showing chosen
//! groups and monitors, some of them private behind an access key.
//!
//! Plain data and the checks on it; serving the pages is the web's. Later
//! features that belong to a page (reports, subscribers) find it with
//! [`Config::page`] and ask it which monitors it shows with
//! [`PageConfig::shows`].

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;

use super::schema::{Config, MonitorConfig, NotifierKind};
use super::sections::Draft;
use super::{Problem, join_index, join_key};
use crate::secret::Secret;

/// Where the pages other than `/` are served: `/p/{slug}`.
pub const PAGE_PREFIX: &str = "/p/";

/// One entry of `pages:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageConfig {
    /// The page's address: `/p/{slug}`, or `/` for `""`. Unique; `a-z`,
    /// `0-9`, `-` and `_`, so it needs no escaping in a URL or a cookie name.
    pub slug: String,
    /// Shown at the top and in the browser's title. Default: `server.title`
    /// for the page at `/`, the slug for the others.
    pub title: Option<String>,
    /// Groups whose every monitor the page shows. Default: none.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Monitors the page shows, by name; `"*"` shows every monitor.
    /// Default: none (but a page must show something).
    #[serde(default)]
    pub monitors: Vec<String>,
    /// Only readers with `?key=<access_key>`, or the cookie that key sets,
    /// see the page; anyone else gets the 404 of a page that does not
    /// exist. Default false.
    #[serde(default)]
    pub private: bool,
    /// The key of a private page; `${VAR}` keeps it out of the file.
    /// Required with `private: true`, refused without it.
    pub access_key: Option<Secret>,
}

/// `subscriptions:`: readers of the public pages may subscribe by email.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// The `email` notifier that sends confirmations and updates (its SMTP
    /// server and `from`; its own `to` is not used for subscribers).
    pub notifier: String,
    /// Also tell subscribers when an automatic incident of one of their
    /// page's monitors fires and resolves. Default false: reports only.
    #[serde(default)]
    pub incidents: bool,
}

impl PageConfig {
    /// The page at `/` when `pages:` defines none: every monitor that is
    /// not kept for private pages, as before pages existed.
    pub fn root() -> PageConfig {
        PageConfig {
            slug: String::new(),
            title: None,
            groups: Vec::new(),
            monitors: vec!["*".to_owned()],
            private: false,
            access_key: None,
        }
    }

    /// Where the page is served: `/` or `/p/{slug}`.
    pub fn path(&self) -> String {
        if self.slug.is_empty() {
            "/".to_owned()
        } else {
            format!("{PAGE_PREFIX}{}", self.slug)
        }
    }

    /// Whether the page lists `monitor`: by name, by group or by `"*"`.
    pub fn shows(&self, monitor: &MonitorConfig) -> bool {
        self.monitors
            .iter()
            .any(|name| name == "*" || *name == monitor.name)
            || monitor
                .group
                .as_ref()
                .is_some_and(|group| self.groups.contains(group))
    }

    /// The title the page is shown under; `site` is `server.title`'s.
    pub fn title_or<'a>(&'a self, site: &'a str) -> &'a str {
        match &self.title {
            Some(title) => title,
            None if self.slug.is_empty() => site,
            None => &self.slug,
        }
    }
}

impl Config {
    /// The page with this slug. `""` is always a page: the one `pages:`
    /// defines, or [`PageConfig::root`] when it defines none.
    pub fn page(&self, slug: &str) -> Option<Cow<'_, PageConfig>> {
        match self.pages.iter().find(|page| page.slug == slug) {
            Some(page) => Some(Cow::Borrowed(page)),
            None if slug.is_empty() => Some(Cow::Owned(PageConfig::root())),
            None => None,
        }
    }

    /// The public pages whose readers should hear of what concerns the
    /// monitors `shown` picks: their slugs, for subscriptions.
    pub fn public_pages_showing(&self, shown: impl Fn(&PageConfig) -> bool) -> Vec<String> {
        let root = PageConfig::root();
        let pages: Vec<&PageConfig> = if self.pages.is_empty() {
            vec![&root]
        } else {
            self.pages.iter().collect()
        };
        pages
            .into_iter()
            .filter(|page| !page.private && shown(page))
            .map(|page| page.slug.clone())
            .collect()
    }

    /// The monitors that only private pages show: they are left out of
    /// every public page, badge, feed and tokenless API answer. A monitor
    /// on no page at all stays public, as it was before pages existed.
    pub fn private_only(&self) -> HashSet<&str> {
        // The common case, no private page, costs nothing per request.
        if !self.pages.iter().any(|page| page.private) {
            return HashSet::new();
        }
        self.monitors
            .iter()
            .filter(|m| {
                let mut on = self.pages.iter().filter(|page| page.shows(m)).peekable();
                on.peek().is_some() && on.all(|page| page.private)
            })
            .map(|m| m.name.as_str())
            .collect()
    }
}

/// Whether `slug` may name a page: empty (the page at `/`) or `a-z`, `0-9`,
/// `-`, `_`, at most 64 of them.
fn valid_slug(slug: &str) -> bool {
    slug.len() <= 64
        && slug
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// `subscriptions:` names an email notifier, and links in its mail need
/// the address the pages are reached at.
fn check_subscriptions(draft: &Draft, problems: &mut Vec<Problem>) {
    let Some(subscriptions) = &draft.subscriptions else {
        return;
    };
    let named = draft
        .notifiers
        .iter()
        .find(|(_, n)| n.name == subscriptions.notifier);
    match named {
        Some((_, notifier)) if notifier.kind != NotifierKind::Email => {
            let message = format!(
                "notifier {:?} is a webhook; subscribers need an email notifier",
                subscriptions.notifier
            );
            problems.push(Problem::new("subscriptions.notifier", message));
        }
        Some(_) => {}
        // A notifier that exists but did not parse has its own error.
        None if draft
            .notifier_names
            .iter()
            .any(|(_, n)| *n == subscriptions.notifier) => {}
        None => {
            let message = format!("no notifier named {:?}", subscriptions.notifier);
            problems.push(Problem::new("subscriptions.notifier", message));
        }
    }
    if draft
        .server
        .as_ref()
        .is_none_or(|server| server.public_url.is_none())
    {
        let message = "subscriptions need the pages' address for the links they mail \
                       (for example https://status.example.com)";
        problems.push(Problem::new("server.public_url", message));
    }
}

/// Checks every page: slugs unique and URL-safe, groups and monitors that
/// exist, something to show, and a key exactly when the page is private.
pub(crate) fn check(draft: &Draft, problems: &mut Vec<Problem>) {
    check_subscriptions(draft, problems);
    let names: BTreeSet<&str> = draft
        .monitor_names
        .iter()
        .map(|(_, n)| n.as_str())
        .collect();
    let mut seen: Vec<(usize, &str)> = Vec::new();
    for (index, page) in &draft.pages {
        let base = join_index("pages", *index);
        let at = |key: &str| join_key(&base, key);
        if !valid_slug(&page.slug) {
            let message = format!(
                "invalid slug {:?} (use a-z, 0-9, '-', '_', at most 64; \"\" is the page at /)",
                page.slug
            );
            problems.push(Problem::new(at("slug"), message));
        }
        if let Some((first, _)) = seen.iter().find(|(_, slug)| *slug == page.slug) {
            let message = format!(
                "duplicate slug {:?} (also used by {})",
                page.slug,
                join_index("pages", *first)
            );
            problems.push(Problem::new(at("slug"), message));
        }
        seen.push((*index, &page.slug));
        if page.groups.is_empty() && page.monitors.is_empty() {
            let message = "a page needs groups or monitors (monitors: [\"*\"] shows every monitor)";
            problems.push(Problem::new(&base, message));
        }
        for (n, group) in page.groups.iter().enumerate() {
            if !draft.groups.contains(group) {
                let message = format!("no group named {group:?}");
                problems.push(Problem::new(join_index(&at("groups"), n), message));
            }
        }
        for (n, name) in page.monitors.iter().enumerate() {
            if name != "*" && !names.contains(name.as_str()) {
                let message = format!("no monitor named {name:?}");
                problems.push(Problem::new(join_index(&at("monitors"), n), message));
            }
        }
        let has_key = page.access_key.as_ref().is_some_and(|k| !k.is_empty());
        match (page.private, has_key) {
            (true, _) if page.slug.is_empty() => problems.push(Problem::new(
                at("private"),
                "the page at / cannot be private: give it a slug and serve it at /p/{slug}",
            )),
            (true, false) => problems.push(Problem::new(
                at("access_key"),
                "a private page needs a non-empty access_key",
            )),
            // A key on a public page protects nothing; saying so beats
            // letting someone believe the page is closed.
            (false, _) if page.access_key.is_some() => problems.push(Problem::new(
                at("access_key"),
                "only used with private: true (without it the page is public)",
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(name: &str, group: Option<&str>) -> MonitorConfig {
        let mut monitor = MonitorConfig::named(name);
        monitor.group = group.map(str::to_owned);
        monitor
    }

    fn page(slug: &str, groups: &[&str], monitors: &[&str], private: bool) -> PageConfig {
        PageConfig {
            slug: slug.to_owned(),
            title: None,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            monitors: monitors.iter().map(|m| (*m).to_owned()).collect(),
            private,
            access_key: private.then(|| Secret::new("k")),
        }
    }

    fn config(pages: Vec<PageConfig>) -> Config {
        Config {
            monitors: vec![
                monitor("web", Some("Shop")),
                monitor("db", Some("Back")),
                monitor("queue", Some("Back")),
                monitor("loose", None),
            ],
            pages,
            ..Config::default()
        }
    }

    #[test]
    fn pages_show_their_groups_and_names() {
        let shop = page("shop", &["Shop"], &["queue"], false);
        let config = config(vec![]);
        let shown: Vec<&str> = config
            .monitors
            .iter()
            .filter(|m| shop.shows(m))
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(shown, ["web", "queue"]);
        assert!(PageConfig::root().shows(&monitor("anything", None)));
        assert_eq!(shop.path(), "/p/shop");
        assert_eq!(PageConfig::root().path(), "/");
        assert_eq!(shop.title_or("Site"), "shop");
        assert_eq!(PageConfig::root().title_or("Site"), "Site");
    }

    #[test]
    fn the_root_page_exists_even_when_pages_define_none() {
        let config = config(vec![page("shop", &["Shop"], &[], false)]);
        assert_eq!(config.page("").map(|p| p.slug.clone()), Some(String::new()));
        assert!(config.page("shop").is_some());
        assert!(config.page("nope").is_none());
    }

    #[test]
    fn only_monitors_kept_off_every_public_page_are_private() {
        assert!(config(vec![]).private_only().is_empty());
        let config = config(vec![
            page("shop", &["Shop"], &["queue"], false),
            page("ops", &["Back"], &[], true),
        ]);
        // queue is on a public page too; loose is on none.
        assert_eq!(config.private_only(), HashSet::from(["db"]));
    }

    #[test]
    fn slugs_are_url_safe() {
        for good in ["", "shop", "eu-west_1", "a1"] {
            assert!(valid_slug(good), "{good}");
        }
        for bad in ["Shop", "a b", "a/b", "..", "é", &"x".repeat(65)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
