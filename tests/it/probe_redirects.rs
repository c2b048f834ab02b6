//! Redirects under the contract's rules (section 10): the monitor's headers
//! and URL credentials stay with its origin; downgrades and hops into
//! link-local addresses are refused unless `follow_redirects: any`.

use hopwatch::probe::Cause;
use serde_json::json;

use crate::helpers::{
    CertKind, assert_cause, check, spawn_redirect_loop, spawn_status, spawn_tls_status,
};

fn header_lines(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .filter(|line| {
            line.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn configured_headers_stay_with_their_origin() {
    let landing = spawn_status(200, &[], "landed").await;
    let target = landing.url("/landing");
    let start = spawn_status(302, &[("Location", target.as_str())], "").await;
    let result = check(json!({
        "type": "http",
        "url": start.url("/start"),
        "headers": {
            "Authorization": "Bearer s3cret-bearer",
            "X-Api-Key": "s3cret-key",
            "User-Agent": "probe-agent/1",
        },
    }))
    .await;
    assert_cause(&result, Cause::Ok);

    let first = start.heads().concat();
    assert_eq!(
        header_lines(&first, "authorization"),
        ["authorization: Bearer s3cret-bearer"]
    );
    assert_eq!(header_lines(&first, "x-api-key").len(), 1, "{first}");

    let other = landing.heads().concat();
    assert!(landing.requests() == 1, "the redirect was followed once");
    assert!(
        !other.contains("s3cret"),
        "credentials crossed origins:\n{other}"
    );
    assert!(header_lines(&other, "authorization").is_empty(), "{other}");
    assert!(header_lines(&other, "x-api-key").is_empty(), "{other}");
    assert_eq!(
        header_lines(&other, "user-agent"),
        ["user-agent: probe-agent/1"],
        "the User-Agent is no secret and goes along"
    );
}

#[tokio::test]
async fn url_credentials_are_sent_as_basic_auth_to_their_origin_only() {
    let landing = spawn_status(200, &[], "landed").await;
    let target = landing.url("/landing");
    let start = spawn_status(301, &[("Location", target.as_str())], "").await;
    let url = format!("http://bob:hunter%202@127.0.0.1:{}/start", start.port());
    let result = check(json!({ "type": "http", "url": url })).await;
    assert_cause(&result, Cause::Ok);

    // base64("bob:hunter 2")
    let first = start.heads().concat();
    assert_eq!(
        header_lines(&first, "authorization"),
        ["authorization: Basic Ym9iOmh1bnRlciAy"]
    );
    let other = landing.heads().concat();
    assert!(header_lines(&other, "authorization").is_empty(), "{other}");
}

#[tokio::test]
async fn same_origin_redirects_keep_the_headers() {
    let peer = spawn_redirect_loop().await;
    let result = check(json!({
        "type": "http",
        "url": peer.url("/"),
        "headers": { "Authorization": "Bearer same-origin" },
    }))
    .await;
    assert_cause(&result, Cause::HttpStatus);
    let heads = peer.heads();
    assert_eq!(heads.len(), 11, "the first request and ten redirects");
    for head in heads {
        assert_eq!(
            header_lines(&head, "authorization"),
            ["authorization: Bearer same-origin"]
        );
    }
}

#[tokio::test]
async fn a_redirect_into_link_local_is_not_followed() {
    let start = spawn_status(
        302,
        &[("Location", "http://169.254.169.254/latest/meta-data/")],
        "",
    )
    .await;
    let result = check(json!({ "type": "http", "url": start.url("/") })).await;
    assert_cause(&result, Cause::HttpStatus);
    let error = result.error.clone().unwrap_or_default();
    assert!(error.contains("not followed"), "{error}");
    assert!(error.contains("link-local"), "{error}");
    assert_eq!(
        result.status,
        Some(302),
        "the answer judged is the redirect"
    );
    assert_eq!(
        result.remote_addr,
        Some(start.addr),
        "nothing was connected after the redirecting hop"
    );
}

#[tokio::test]
async fn a_redirect_from_https_to_http_is_refused_unless_any() {
    let landing = spawn_status(200, &[], "plain").await;
    let target = landing.url("/plain");
    let secure = spawn_tls_status(
        CertKind::Valid { days_left: 90 },
        302,
        &[("Location", target.as_str())],
    )
    .await;
    let ca_file = secure.ca_file().display().to_string();

    let refused = check(json!({
        "type": "http",
        "url": secure.url("/"),
        "ca_file": ca_file,
    }))
    .await;
    assert_cause(&refused, Cause::HttpStatus);
    let error = refused.error.clone().unwrap_or_default();
    assert!(error.contains("https to http"), "{error}");
    assert_eq!(landing.requests(), 0, "the downgrade was not followed");

    let followed = check(json!({
        "type": "http",
        "url": secure.url("/"),
        "ca_file": ca_file,
        "follow_redirects": "any",
        "headers": { "X-Api-Key": "still-mine" },
    }))
    .await;
    assert_cause(&followed, Cause::Ok);
    assert_eq!(landing.requests(), 1);
    let other = landing.heads().concat();
    assert!(
        !other.contains("still-mine"),
        "`any` lifts refusals, not the origin rule:\n{other}"
    );
}

#[tokio::test]
async fn follow_redirects_false_judges_the_redirect_itself() {
    let landing = spawn_status(200, &[], "landed").await;
    let target = landing.url("/landing");
    let start = spawn_status(302, &[("Location", target.as_str())], "").await;
    let result = check(json!({
        "type": "http",
        "url": start.url("/"),
        "follow_redirects": false,
        "expect": { "status": [302] },
    }))
    .await;
    assert_cause(&result, Cause::Ok);
    assert_eq!(landing.requests(), 0);
}
