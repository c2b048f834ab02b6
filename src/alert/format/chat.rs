//! Chat formats: a Slack incoming-webhook message (text plus coloured
//! attachments) and a Discord webhook message (content plus embeds).

use serde_json::{Value, json};

use super::{
    colour, email_subject, responder_text, time, title, to_json, truncate, value_text, web_link,
};
use crate::incident::AlertEvent;

/// Slack shows at most this many attachments well; more events are counted.
const SLACK_MAX_ATTACHMENTS: usize = 20;
/// Slack's limit for a section's text (and our cut for evidence).
const SLACK_SECTION_MAX: usize = 3000;
/// Body excerpt shown in chat: enough to recognise the error page.
const EXCERPT_MAX: usize = 500;

/// Discord's limits (developer docs, "Embed Limits" and "Execute Webhook").
const DISCORD_CONTENT_MAX: usize = 2000;
const DISCORD_MAX_EMBEDS: usize = 10;
const DISCORD_TITLE_MAX: usize = 256;
const DISCORD_DESCRIPTION_MAX: usize = 4096;
const DISCORD_FIELD_VALUE_MAX: usize = 1024;
/// All embeds of one message together; kept a little under Discord's 6000.
const DISCORD_TOTAL_MAX: usize = 5900;

/// Escapes the three characters Slack's mrkdwn treats as control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<url|text>`: a `|` or `>` in the URL would end the link early.
fn slack_link(url: &str, text: &str) -> String {
    let url = slack_escape(url).replace('|', "%7C");
    format!("<{url}|{}>", slack_escape(text))
}

/// The short facts of an event as (label, value) pairs, for chat fields.
fn facts(event: &AlertEvent) -> Vec<(&'static str, String)> {
    if event.kind.is_maintenance() {
        let mut facts = vec![("Covers", event.monitor.name.clone())];
        facts.push(("Started", time(event.started_at)));
        if let Some(ended) = event.resolved_at {
            facts.push(("Ended", time(ended)));
        }
        return facts;
    }
    let mut facts = vec![
        ("Severity", event.severity.as_str().to_owned()),
        ("Cause", event.cause.as_str().to_owned()),
    ];
    if let Some(responder) = responder_text(event.responder.as_ref()) {
        facts.push(("Responder", responder));
    }
    if let Some(value) = value_text(event) {
        facts.push(("Value", value));
    }
    if let Some(group) = &event.monitor.group {
        facts.push(("Group", group.clone()));
    }
    facts.push(("Started", time(event.started_at)));
    if let Some(resolved) = event.resolved_at {
        facts.push(("Resolved", time(resolved)));
    }
    if let Some(request_id) = event.evidence.as_ref().and_then(|e| e.request_id.clone()) {
        facts.push(("Request id", request_id));
    }
    facts
}

/// The evidence excerpt, cut for chat; `None` when there is none.
fn excerpt(event: &AlertEvent) -> Option<String> {
    let evidence = event.evidence.as_ref()?;
    let body = evidence.body_excerpt.trim();
    let status = evidence.status.map(|s| format!("HTTP {s}"));
    match (status, body.is_empty()) {
        (None, true) => None,
        (Some(status), true) => Some(status),
        (status, false) => {
            let head = status.map(|s| format!("{s}: ")).unwrap_or_default();
            Some(format!("{head}{}", truncate(body, EXCERPT_MAX)))
        }
    }
}

fn slack_attachment(event: &AlertEvent) -> Value {
    let heading = match web_link(event.url.as_deref()) {
        Some(url) => slack_link(url, &title(event)),
        None => slack_escape(&title(event)),
    };
    let text = format!("*{heading}*\n{}", slack_escape(&event.verdict.summary));
    let fields: Vec<Value> = facts(event)
        .into_iter()
        .map(|(label, value)| {
            json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", slack_escape(&value))})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, SLACK_SECTION_MAX)}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(excerpt) = excerpt(event) {
        // Backticks would close the code block early; a look-alike keeps the text readable.
        let code = format!("```{}```", slack_escape(&excerpt).replace('`', "ˋ"));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": code}}));
    }
    let mut context = vec![format!("incident {}", slack_escape(&event.incident_id))];
    context.extend(
        event
            .annotations
            .iter()
            .map(|a| format!("{} {}", time(a.at), slack_escape(&a.text))),
    );
    if let Some(runbook) = web_link(event.runbook.as_deref()) {
        context.push(slack_link(runbook, "runbook"));
    }
    let context = truncate(&context.join(" · "), SLACK_SECTION_MAX).into_owned();
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({
        "color": format!("#{:06x}", colour(event)),
        "fallback": title(event),
        "blocks": blocks,
    })
}

/// A Slack incoming-webhook message: `text` is the subject line (shown in
/// notifications and by clients without blocks); one attachment per event,
/// coloured by severity (green when resolved), at most 20, then a count of
/// the rest.
pub fn slack_body(events: &[AlertEvent]) -> Vec<u8> {
    let mut attachments: Vec<Value> = events
        .iter()
        .take(SLACK_MAX_ATTACHMENTS)
        .map(slack_attachment)
        .collect();
    if let Some(rest) = events
        .len()
        .checked_sub(SLACK_MAX_ATTACHMENTS)
        .filter(|r| *r > 0)
    {
        attachments.push(
            json!({"fallback": format!("and {rest} more"), "text": format!("and {rest} more")}),
        );
    }
    to_json(&json!({
        "text": slack_escape(&email_subject(events)),
        "attachments": attachments,
    }))
}

/// One embed within `budget` characters (title, fields and description
/// together), each part within its own Discord limit.
fn discord_embed(event: &AlertEvent, budget: usize) -> Value {
    let title = truncate(&title(event), DISCORD_TITLE_MAX).into_owned();
    let mut used = title.chars().count();
    let mut fields = Vec::new();
    for (label, value) in facts(event) {
        let value = truncate(&value, DISCORD_FIELD_VALUE_MAX);
        let cost = label.len() + value.chars().count();
        // Facts come most important first: drop the tail when the budget is short.
        if used + cost > budget {
            break;
        }
        used += cost;
        fields.push(json!({"name": label, "value": value, "inline": true}));
    }
    let mut description = event.verdict.summary.clone();
    if let Some(excerpt) = excerpt(event) {
        // A code block keeps the page's text literal; backticks inside would close it.
        description.push_str(&format!("\n```\n{}\n```", excerpt.replace('`', "ˋ")));
    }
    let room = budget.saturating_sub(used).min(DISCORD_DESCRIPTION_MAX);
    let mut embed = json!({
        "title": title,
        "description": truncate(&description, room),
        "color": colour(event),
        "fields": fields,
        "timestamp": time(event.resolved_at.unwrap_or(event.started_at)),
    });
    if let Some(url) = web_link(event.url.as_deref()) {
        embed["url"] = json!(url);
    }
    embed
}

/// A Discord webhook message: `content` is the subject line, one embed per
/// event (at most 10; the content counts the rest), coloured like Slack's.
/// Every part respects Discord's limits, cut on character boundaries, and
/// mentions are disabled so an error page saying `@everyone` pings no one.
pub fn discord_body(events: &[AlertEvent]) -> Vec<u8> {
    let shown = events.len().min(DISCORD_MAX_EMBEDS);
    let mut content = email_subject(events);
    if events.len() > shown {
        content.push_str(&format!(" (showing {shown})"));
    }
    let budget = DISCORD_TOTAL_MAX / shown.max(1);
    let embeds: Vec<Value> = events[..shown]
        .iter()
        .map(|e| discord_embed(e, budget))
        .collect();
    to_json(&json!({
        "content": truncate(&content, DISCORD_CONTENT_MAX),
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    }))
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn parse(bytes: Vec<u8>) -> Value {
        serde_json::from_slice(&bytes).expect("valid JSON")
    }

    #[test]
    fn slack_message_for_one_firing_event() {
        let body = String::from_utf8(slack_body(&[fixture::firing()])).expect("UTF-8");
        assert_eq!(body, SLACK_FIRING);
    }

    #[test]
    fn discord_message_for_one_firing_event() {
        let body = String::from_utf8(discord_body(&[fixture::firing()])).expect("UTF-8");
        assert_eq!(body, DISCORD_FIRING);
    }

    #[test]
    fn resolved_events_are_green() {
        let slack = parse(slack_body(&[fixture::resolved()]));
        assert_eq!(slack["attachments"][0]["color"], "#2eb67d");
        assert!(
            slack["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("[RESOLVED] "))
        );
        let discord = parse(discord_body(&[fixture::resolved()]));
        assert_eq!(discord["embeds"][0]["color"], 0x2E_B6_7D);
        assert_eq!(
            discord["embeds"][0]["timestamp"],
            "2026-01-02T03:14:05.678Z"
        );
    }

    #[test]
    fn slack_escapes_control_characters_and_counts_a_storm() {
        let mut event = fixture::firing();
        event.verdict.summary = "<!channel> & <http://evil|click>".into();
        let storm = vec![event; 25];
        let slack = parse(slack_body(&storm));
        let attachments = slack["attachments"].as_array().expect("attachments");
        assert_eq!(attachments.len(), 21);
        assert_eq!(attachments[20]["text"], "and 5 more");
        let text = attachments[0]["blocks"][0]["text"]["text"]
            .as_str()
            .expect("text");
        assert!(
            text.ends_with("\n&lt;!channel&gt; &amp; &lt;http://evil|click&gt;"),
            "{text}"
        );
    }

    #[test]
    fn discord_respects_every_limit_on_multi_byte_text() {
        let mut event = fixture::firing();
        event.verdict.summary = "é".repeat(5000);
        event.monitor.group = Some("ü".repeat(2000));
        let one = parse(discord_body(std::slice::from_ref(&event)));
        let embed = &one["embeds"][0];
        let description = embed["description"].as_str().expect("description");
        assert_eq!(description.chars().count(), DISCORD_DESCRIPTION_MAX);
        assert!(description.ends_with("é…"));
        let group = embed["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == "Group")
            .expect("a group field");
        let group = group["value"].as_str().expect("value");
        assert_eq!(group.chars().count(), DISCORD_FIELD_VALUE_MAX);
        assert!(group.ends_with("ü…"));

        let storm = parse(discord_body(&vec![event; 12]));
        let embeds = storm["embeds"].as_array().expect("embeds");
        assert_eq!(embeds.len(), DISCORD_MAX_EMBEDS);
        assert!(
            storm["content"]
                .as_str()
                .is_some_and(|c| c.ends_with("(showing 10)"))
        );
        let total: usize = embeds.iter().map(embed_chars).sum();
        assert!(total <= 6000, "embeds hold {total} characters");
    }

    /// What Discord counts towards its 6000-character total.
    fn embed_chars(embed: &Value) -> usize {
        let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let fields: usize = embed["fields"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .map(|f| chars(&f["name"]) + chars(&f["value"]))
                    .sum()
            })
            .unwrap_or(0);
        chars(&embed["title"]) + chars(&embed["description"]) + fields
    }

    #[test]
    fn discord_disables_mentions_and_skips_non_web_links() {
        let mut event = fixture::bare();
        event.url = Some("ftp://status.example.com/x".into());
        let body = parse(discord_body(&[event]));
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert!(body["embeds"][0].get("url").is_none());
    }

    const SLACK_FIRING: &str = concat!(
        r#"{"attachments":[{"blocks":["#,
        r#"{"text":{"text":"*<https://status.example.com/incidents/inc-42|[FIRING] shop-5xx: shop-edge http_502 (origin)>*\norigin shop-origin refuses connections; the gateway answers 502","type":"mrkdwn"},"type":"section"},"#,
        r#"{"fields":["#,
        r#"{"text":"*Severity*\ncritical","type":"mrkdwn"},"#,
        r#"{"text":"*Cause*\nhttp_502","type":"mrkdwn"},"#,
        r#"{"text":"*Responder*\ngateway (nginx)","type":"mrkdwn"},"#,
        r#"{"text":"*Value*\n0.12 (threshold 0.05)","type":"mrkdwn"},"#,
        r#"{"text":"*Group*\nShop","type":"mrkdwn"},"#,
        r#"{"text":"*Started*\n2026-01-02T03:04:05.678Z","type":"mrkdwn"},"#,
        r#"{"text":"*Request id*\nreq-7","type":"mrkdwn"}],"type":"section"},"#,
        r#"{"text":{"text":"```HTTP 502: &lt;html&gt;502 Bad Gateway&lt;/html&gt;```","type":"mrkdwn"},"type":"section"},"#,
        r#"{"elements":[{"text":"incident inc-42 · 2026-01-02T02:54:05.678Z deploy v1.4.2 · <https://wiki.example.com/shop-502|runbook>","type":"mrkdwn"}],"type":"context"}],"#,
        r##""color":"#e01e5a","fallback":"[FIRING] shop-5xx: shop-edge http_502 (origin)"}],"##,
        r#""text":"[FIRING] shop-5xx: shop-edge http_502 (origin)"}"#,
    );

    const DISCORD_FIRING: &str = concat!(
        r#"{"allowed_mentions":{"parse":[]},"content":"[FIRING] shop-5xx: shop-edge http_502 (origin)","#,
        r#""embeds":[{"color":14687834,"#,
        r#""description":"origin shop-origin refuses connections; the gateway answers 502\n```\nHTTP 502: <html>502 Bad Gateway</html>\n```","#,
        r#""fields":["#,
        r#"{"inline":true,"name":"Severity","value":"critical"},"#,
        r#"{"inline":true,"name":"Cause","value":"http_502"},"#,
        r#"{"inline":true,"name":"Responder","value":"gateway (nginx)"},"#,
        r#"{"inline":true,"name":"Value","value":"0.12 (threshold 0.05)"},"#,
        r#"{"inline":true,"name":"Group","value":"Shop"},"#,
        r#"{"inline":true,"name":"Started","value":"2026-01-02T03:04:05.678Z"},"#,
        r#"{"inline":true,"name":"Request id","value":"req-7"}],"#,
        r#""timestamp":"2026-01-02T03:04:05.678Z","#,
        r#""title":"[FIRING] shop-5xx: shop-edge http_502 (origin)","#,
        r#""url":"https://status.example.com/incidents/inc-42"}]}"#,
    );
}
