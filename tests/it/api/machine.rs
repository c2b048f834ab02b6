//! What machines read besides JSON: SVG badges and the Atom feed, parsed
//! as XML, with a monitor whose title is markup.

use super::{Answer, EVIL_TITLE, Fixture};

const ATOM: &str = "http://www.w3.org/2005/Atom";

/// The Atom child element `name` of `node`, or a panic.
fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    node.children()
        .find(|n| n.has_tag_name((ATOM, name)))
        .unwrap_or_else(|| panic!("no <{name}>"))
}

/// The text of the Atom child element `name` of `node`.
fn text(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    child(node, name).text().unwrap_or_default().to_owned()
}

/// The badge parsed as SVG: (texts drawn, fill of the value's rectangle).
fn parse_badge(answer: &Answer) -> (Vec<String>, String) {
    assert_eq!(answer.header("content-type"), "image/svg+xml");
    assert_eq!(answer.header("cache-control"), "no-cache");
    let svg = roxmltree::Document::parse(&answer.body)
        .unwrap_or_else(|err| panic!("not XML ({err}): {}", answer.body));
    let root = svg.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let width: f64 = root
        .attribute("width")
        .and_then(|w| w.parse().ok())
        .expect("a width");
    let texts: Vec<String> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    let rects: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .collect();
    // clip rect, label, value, gradient overlay
    assert_eq!(rects.len(), 4, "{}", answer.body);
    let widths: f64 = rects[1..3]
        .iter()
        .filter_map(|r| r.attribute("width")?.parse::<f64>().ok())
        .sum();
    assert_eq!(widths, width, "the two halves fill the badge");
    let fill = rects[2].attribute("fill").unwrap_or_default().to_owned();
    (texts, fill)
}

#[tokio::test]
async fn badges_show_state_uptime_and_latency_with_escaped_text() {
    let fixture = Fixture::start().await;
    let daemon = &fixture.daemon;

    let down = daemon.get("/badge/shop-edge/status.svg").await;
    assert_eq!(down.status, 200);
    assert!(!down.body.contains("<script"), "{}", down.body);
    assert!(down.body.contains("&lt;script&gt;"), "{}", down.body);
    let (texts, fill) = parse_badge(&down);
    assert_eq!(texts, [EVIL_TITLE, EVIL_TITLE, "down", "down"]);
    assert_eq!(fill, "#e05d44", "down is red");

    let up = daemon.get("/badge/web/status.svg").await;
    let (texts, fill) = parse_badge(&up);
    assert_eq!(texts[2], "up");
    assert_eq!(fill, "#4c1", "up is green");
    // Shorter text, narrower badge: the width follows the text.
    let width = |a: &Answer| {
        roxmltree::Document::parse(&a.body)
            .ok()
            .and_then(|d| d.root_element().attribute("width")?.parse::<u32>().ok())
    };
    assert!(
        width(&up) < width(&down),
        "'web | up' is narrower than the long title"
    );

    let latency = daemon.get("/badge/web/latency.svg").await;
    let (texts, _) = parse_badge(&latency);
    assert_eq!(texts[0], "latency");
    assert!(texts[2].ends_with(" ms"), "{texts:?}");
    let (texts, fill) = parse_badge(&daemon.get("/badge/shop-edge/latency.svg").await);
    assert_eq!((texts[2].as_str(), fill.as_str()), ("down", "#e05d44"));

    for span in ["24h", "7d", "30d"] {
        let answer = daemon
            .get(&format!("/badge/shop-edge/uptime-{span}.svg"))
            .await;
        assert_eq!(answer.status, 200);
        let (texts, fill) = parse_badge(&answer);
        assert_eq!(texts[0], format!("uptime {span}"));
        // Every check of shop-edge failed: 0% (or no data before the first
        // rollup flush), never green.
        assert!(texts[2] == "0.00%" || texts[2] == "no data", "{texts:?}");
        assert_ne!(fill, "#4c1");
    }

    for path in [
        "/badge/nope/status.svg",
        "/badge/web/uptime-1y.svg",
        "/badge/web/status.png",
    ] {
        let answer = daemon.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        let (texts, _) = parse_badge(&answer);
        assert_eq!(texts[2], "no such monitor");
        assert!(!answer.body.contains("nope"), "the name is not echoed");
    }
    fixture.daemon.stop().await;
}

#[tokio::test]
async fn the_feed_is_atom_with_every_incident_and_its_verdict_escaped() {
    let fixture = Fixture::start().await;
    let daemon = &fixture.daemon;
    let incidents = daemon.get("/api/v1/incidents").await.json();
    let incidents = incidents.as_array().expect("a list").clone();

    let answer = daemon.get("/feed.atom").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .starts_with("application/atom+xml")
    );
    assert!(!answer.body.contains("<script"), "{}", answer.body);
    let feed = roxmltree::Document::parse(&answer.body)
        .unwrap_or_else(|err| panic!("not XML ({err}): {}", answer.body));
    let root = feed.root_element();
    assert_eq!(root.tag_name().namespace(), Some(ATOM));
    assert_eq!(root.tag_name().name(), "feed");
    assert_eq!(text(root, "title"), "Shop & Co incidents");
    assert_eq!(text(root, "id"), "https://status.example.com/feed.atom");
    assert!(humantime::parse_rfc3339(&text(root, "updated")).is_ok());
    let links: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name((ATOM, "link")))
        .collect();
    assert!(
        links.iter().any(|l| l.attribute("rel") == Some("self")
            && l.attribute("href") == Some("https://status.example.com/feed.atom")),
        "a self link"
    );
    child(child(root, "author"), "name");

    let entries: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name((ATOM, "entry")))
        .collect();
    assert_eq!(entries.len(), incidents.len(), "one entry per incident");
    for incident in &incidents {
        let id = incident["id"].as_str().expect("id");
        let entry = entries
            .iter()
            .find(|e| text(**e, "id") == format!("urn:hopwatch:incident:{id}"))
            .unwrap_or_else(|| panic!("no entry for {id}"));
        let tag = if incident["state"] == "open" {
            "FIRING"
        } else {
            "RESOLVED"
        };
        let title = format!(
            "[{tag}] down: {} {} ({})",
            incident["monitor"].as_str().unwrap_or(""),
            incident["cause"].as_str().unwrap_or(""),
            incident["verdict"]["hop"].as_str().unwrap_or("")
        );
        assert_eq!(text(*entry, "title"), title);
        assert!(humantime::parse_rfc3339(&text(*entry, "updated")).is_ok());
        assert_eq!(
            child(*entry, "link").attribute("href"),
            Some(format!("https://status.example.com/incidents/{id}").as_str())
        );
        assert_eq!(
            text(*entry, "summary"),
            incident["verdict"]["summary"].as_str().unwrap_or("")
        );
        assert!(!text(*entry, "summary").is_empty());
    }
    assert!(
        entries
            .iter()
            .any(|e| text(*e, "title").starts_with("[RESOLVED] down: flappy"))
    );

    // The content is HTML in which the title is still text, not markup.
    let shop = entries
        .iter()
        .find(|e| text(**e, "title").contains("shop-edge http_502"))
        .expect("the 502 incident");
    let content = child(*shop, "content");
    assert_eq!(content.attribute("type"), Some("html"));
    let html = content.text().unwrap_or_default();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; (shop-edge)"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("<td>502</td>"),
        "the evidence's status: {html}"
    );
    fixture.daemon.stop().await;
}
