//! `/api/v1/status` for many monitors: filters by group and state, and
//! pages by name that walk the whole list once.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::TestApp;
use crate::pages::fixture::{CROWD_GROUPS, crowd_member, crowd_name, push_crowd};

const CROWD: usize = 120;

/// `path`'s JSON answer, which must be a 200.
async fn status(app: &TestApp, path: &str) -> Value {
    let (code, body) = app.get(path).await;
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{path}: {err}: {body}"))
}

/// The monitor names of an answer, in its order.
fn names(answer: &Value) -> Vec<String> {
    answer["monitors"]
        .as_array()
        .expect("a monitor list")
        .iter()
        .map(|m| m["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn status_filters_by_group_and_state_and_pages_through_everything_once() {
    let app = push_crowd(CROWD).await;
    let all: Vec<String> = (0..CROWD).map(crowd_name).collect();

    let whole = status(&app, "/api/v1/status").await;
    assert_eq!(
        names(&whole),
        all,
        "without parameters: all, in config order"
    );
    assert!(whole.get("next_cursor").is_none());
    let overall = whole["state"].clone();

    for group in CROWD_GROUPS {
        let answer = status(
            &app,
            &format!("/api/v1/status?group={}", group.replace(' ', "%20")),
        )
        .await;
        let expected: Vec<String> = (0..CROWD)
            .filter(|m| crowd_member(*m).0 == Some(group))
            .map(crowd_name)
            .collect();
        assert_eq!(names(&answer), expected, "group {group}");
        assert_eq!(
            answer["state"], overall,
            "the overall state ignores filters"
        );
    }
    for (query, states) in [
        ("down", &["down"][..]),
        ("unknown,down", &["unknown", "down"]),
    ] {
        let answer = status(&app, &format!("/api/v1/status?state={query}")).await;
        let expected: Vec<String> = (0..CROWD)
            .filter(|m| states.contains(&crowd_member(*m).1))
            .map(crowd_name)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(names(&answer), expected, "state={query}");
    }

    // Pages of 7 walk the whole list in name order, each monitor once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..=CROWD / 7 + 1 {
        let path = match &cursor {
            None => "/api/v1/status?limit=7".to_owned(),
            Some(c) => format!("/api/v1/status?limit=7&cursor={c}"),
        };
        let page = status(&app, &path).await;
        let got = names(&page);
        assert!(got.len() <= 7, "{path}: {got:?}");
        seen.extend(got);
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "the pages never ended");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "every monitor once, in name order");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), CROWD);

    // Filters and pages together: the group's monitors, two at a time.
    let group: Vec<String> = (0..CROWD)
        .filter(|m| crowd_member(*m).0 == Some("Back office"))
        .map(crowd_name)
        .collect();
    let first = status(&app, "/api/v1/status?group=Back%20office&limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("more remain");
    let rest = status(
        &app,
        &format!("/api/v1/status?group=Back%20office&cursor={cursor}"),
    )
    .await;
    assert!(
        rest.get("next_cursor").is_none(),
        "without limit, all that remain"
    );
    let walked: Vec<String> = names(&first).into_iter().chain(names(&rest)).collect();
    assert_eq!(walked, group);

    for (query, key) in [
        ("group=Nobody", "group"),
        ("state=sideways", "state"),
        ("state=", "state"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let path = format!("/api/v1/status?{query}");
        let (code, body) = app.get(&path).await;
        assert_eq!(code, 400, "{path}: {body}");
        let error: Value = serde_json::from_str(&body).expect("a JSON error");
        let text = error["error"].as_str().expect("an error text");
        assert!(text.starts_with(&format!("{key}:")), "{path}: {text}");
    }
    app.stop().await;
}
