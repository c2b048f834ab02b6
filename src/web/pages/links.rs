//! Where a page's links point. From `/` they go to `/monitors/x` and
//! `/incidents/y`; from `/p/{slug}` they stay under it, so a private page's
//! cookie (scoped to that path) goes along and the reader stays on the page.

use crate::config::PageConfig;

/// The link targets of one rendered page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// `""` or `/p/{slug}`: what monitor and incident links start with.
    base: String,
}

impl Links {
    /// Links of the public monitor and incident pages and of `/`.
    pub fn public() -> Links {
        Links {
            base: String::new(),
        }
    }

    /// Links that stay under `page`.
    pub fn of(page: &PageConfig) -> Links {
        Links {
            base: if page.slug.is_empty() {
                String::new()
            } else {
                page.path()
            },
        }
    }

    /// The status page these links belong to.
    pub fn home(&self) -> &str {
        if self.base.is_empty() {
            "/"
        } else {
            &self.base
        }
    }

    /// A monitor's page.
    pub fn monitor(&self, name: &str) -> String {
        format!("{}/monitors/{name}", self.base)
    }

    /// An incident's page.
    pub fn incident(&self, id: &str) -> String {
        format!("{}/incidents/{id}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_under_their_page() {
        let mut page = PageConfig::root();
        assert_eq!(Links::of(&page), Links::public());
        assert_eq!(Links::public().monitor("web"), "/monitors/web");
        assert_eq!(Links::public().home(), "/");
        page.slug = "ops".to_owned();
        let links = Links::of(&page);
        assert_eq!(links.home(), "/p/ops");
        assert_eq!(links.monitor("web"), "/p/ops/monitors/web");
        assert_eq!(links.incident("i-1"), "/p/ops/incidents/i-1");
    }
}
