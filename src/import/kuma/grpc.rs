//! Uptime Kuma's `grpc-keyword` monitor as a hopwatch `grpc` health check:
//! Kuma calls any method and looks for a keyword, hopwatch asks
//! `grpc.health.v1.Health/Check` only, and the comments say what changed.

use serde_json::Value as Json;

use super::super::model::{Entry, Value};
use super::read::{Monitor, flag, string};

/// What the health answer reads as in Uptime Kuma (the response as JSON):
/// a keyword found in it is what hopwatch's SERVING check asks anyway.
const SERVING_ANSWER: &str = r#"{"status":"SERVING"}"#;

/// The target, the health service asked about and TLS; notes for the call
/// and keyword that became a health check.
pub(crate) fn grpc(entry: &mut Entry, m: &Monitor) -> Result<(), String> {
    let row = &m.row;
    let url = string(row, "grpc_url").ok_or("no gRPC URL")?;
    // Kuma asks for host:port; a scheme written in front is dropped.
    let target = url
        .split_once("://")
        .map_or(url.as_str(), |(_, rest)| rest)
        .trim_end_matches('/');
    if target.is_empty() {
        return Err("no host:port in its gRPC URL".into());
    }
    let service_name = string(row, "grpc_service_name").unwrap_or_default();
    let method = string(row, "grpc_method").unwrap_or_default();
    let body = string(row, "grpc_body");
    // Kuma's service name is the protobuf service it calls; when that is
    // the health service, its request names the service asked about.
    let health = service_name == "Health" || service_name.ends_with(".Health");
    let checks_health = health && method.eq_ignore_ascii_case("check");
    let asked = if checks_health {
        body.as_deref().and_then(health_service)
    } else {
        None
    };
    entry.set("type", Value::Str("grpc".into()));
    entry.set("target", Value::literal(target));
    if let Some(service) = asked.as_deref().filter(|s| !s.is_empty()) {
        entry.set("service", Value::literal(service));
    }
    if flag(row, "grpc_enable_tls") {
        entry.set("tls", Value::bool(true));
    }

    let keyword = string(row, "keyword").unwrap_or_default();
    let asked_about = match asked.as_deref() {
        Some(service) if !service.is_empty() => format!("service {service:?}"),
        _ => "the server as a whole".to_owned(),
    };
    entry.note(format!(
        "note: Uptime Kuma called {service_name}/{method} and looked for {keyword:?} in the answer; \
         hopwatch asks grpc.health.v1.Health/Check about {asked_about} and passes on SERVING"
    ));
    let inverted = flag(row, "invert_keyword");
    if inverted {
        entry.not_imported(
            format!("keyword {keyword:?} must be absent"),
            "hopwatch's grpc check passes on SERVING only",
        );
    } else if !(checks_health && !keyword.is_empty() && SERVING_ANSWER.contains(&keyword)) {
        entry.not_imported(
            format!("keyword {keyword:?} in the answer of {service_name}/{method}"),
            "hopwatch's grpc check reads the health status, not the text of an answer",
        );
    }
    if !checks_health && body.as_deref().is_some_and(|b| !b.trim().is_empty()) {
        entry.not_imported(
            "the request body",
            "hopwatch sends the health check's own request",
        );
    }
    let metadata = string(row, "grpc_metadata").unwrap_or_default();
    if !matches!(metadata.trim(), "" | "{}" | "[]") {
        entry.not_imported("the request metadata", "hopwatch's grpc check sends none");
    }
    Ok(())
}

/// The `service` of a health request body (`{"service": "shop.Cart"}`);
/// `""` when the body names none, as the health protocol reads it.
fn health_service(body: &str) -> Option<String> {
    if body.trim().is_empty() {
        return Some(String::new());
    }
    match serde_json::from_str::<Json>(body).ok()? {
        Json::Object(map) => match map.get("service") {
            None => Some(String::new()),
            Some(Json::String(service)) => Some(service.clone()),
            Some(_) => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_request_names_the_service() {
        let cases = [
            ("", Some("")),
            ("{}", Some("")),
            (r#"{"service": "shop.Cart"}"#, Some("shop.Cart")),
            (r#"{"service": 3}"#, None),
            ("not json", None),
        ];
        for (body, want) in cases {
            assert_eq!(health_service(body).as_deref(), want, "{body:?}");
        }
    }
}
