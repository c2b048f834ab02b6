//! The frame around every page: head with the stylesheet and script from
//! `/assets`, the site header, a skip link and the footer.

use maud::{DOCTYPE, Markup, html};

use super::assets;

/// Whether the page reloads itself every 30 s (with JavaScript on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Live figures: the status and monitor pages.
    Live,
    /// A record that does not change much: incidents, errors.
    Static,
}

/// A whole page: `site` names the status page, `title` this page (none for
/// the status page itself).
pub fn page(site: &str, title: Option<&str>, refresh: Refresh, body: Markup) -> Markup {
    page_under("/", site, title, refresh, body)
}

/// [`page`] belonging to the status page at `home` (`/` or `/p/{slug}`),
/// which the site's name in the header links back to.
pub fn page_under(
    home: &str,
    site: &str,
    title: Option<&str>,
    refresh: Refresh,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title {
                    @if let Some(title) = title { (title) " · " }
                    (site)
                }
                link rel="stylesheet" href=(assets::href(assets::STYLE));
                link rel="icon" type="image/svg+xml" href=(assets::href(assets::ICON));
                script src=(assets::href(assets::SCRIPT)) defer {}
            }
            body data-refresh=[(refresh == Refresh::Live).then_some("30")] {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    div.wrap {
                        a.brand href=(home) { (site) }
                    }
                }
                main #main .wrap { (body) }
                footer.wrap {
                    p {
                        "Times in UTC. Data also as "
                        a href="/api/v1/status" { "JSON" }
                        "; uptime by month in the "
                        a href=(this_months_report()) { "monthly report" }
                        ". Powered by hopwatch " (env!("CARGO_PKG_VERSION")) "."
                    }
                }
            }
        }
    }
}

/// A page for a 404 or 500: what went wrong and the way back.
pub fn error_page(heading: &str, message: &str) -> Markup {
    page(
        "hopwatch",
        Some(heading),
        Refresh::Static,
        html! {
            h1 { (heading) }
            p { (message) }
            p { a href="/" { "Back to the status page" } }
        },
    )
}

/// `/reports/YYYY-MM` of the current month (UTC).
fn this_months_report() -> String {
    let today = crate::clock::day_of(crate::clock::unix_ms(std::time::SystemTime::now()));
    let (year, month) = crate::clock::year_month(today);
    format!("/reports/{year:04}-{month:02}")
}
