//! `hopwatch demo` runs one cycle of its story: its webhook sink receives
//! a firing and a resolved alert naming the origin, then the gateway, then
//! the overloaded origin's 503, the name server's NXDOMAIN and the
//! inventory service's gRPC NOT_SERVING.

use std::time::Duration;

use hopwatch::demo::{self, DemoOptions};
use tokio::sync::oneshot;

fn has(alerts: &[serde_json::Value], event: &str, monitor: &str, hop: &str) -> bool {
    alerts.iter().any(|a| {
        a["event"] == event && a["monitor"]["name"] == monitor && a["verdict"]["hop"] == hop
    })
}

/// Firing alerts of `monitor` with `cause`.
fn pages(alerts: &[serde_json::Value], monitor: &str, cause: &str) -> usize {
    alerts
        .iter()
        .filter(|a| {
            a["event"] == "firing" && a["monitor"]["name"] == monitor && a["cause"] == cause
        })
        .count()
}

#[tokio::test]
async fn the_demo_story_pages_for_the_origin_then_the_gateway_and_resolves() {
    let options = DemoOptions {
        listen: "127.0.0.1:0".to_owned(),
        beat: Duration::from_secs(6),
        cycles: Some(1),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (tx, rx) = oneshot::channel();
    let demo = tokio::spawn(demo::run(
        options,
        async {
            let _ = stopped.await;
        },
        move |handles| {
            let _ = tx.send(handles);
        },
    ));
    let handles = rx.await.expect("the demo starts");
    let mut alerts = Vec::new();
    // One cycle is eighteen beats (108 s here); allow well over one cycle's
    // time, then judge.
    for _ in 0..180 {
        alerts = handles.sink.received();
        if has(&alerts, "firing", "shop-origin", "origin")
            && has(&alerts, "resolved", "shop-origin", "origin")
            && has(&alerts, "firing", "shop-edge", "gateway")
            && pages(&alerts, "shop-origin", "http_503") > 0
            && has(&alerts, "firing", "shop-dns", "dns")
            && pages(&alerts, "shop-inventory", "grpc_not_serving") > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (status, page) = crate::helpers::http_get(handles.addr, "/demo/alerts").await;
    let _ = stop.send(());
    demo.await
        .expect("demo task")
        .expect("the demo stops cleanly");
    assert!(
        has(&alerts, "firing", "shop-origin", "origin"),
        "origin crash paged with verdict origin: {alerts:#?}"
    );
    assert!(
        has(&alerts, "resolved", "shop-origin", "origin"),
        "and resolved: {alerts:#?}"
    );
    assert!(
        has(&alerts, "firing", "shop-edge", "gateway"),
        "misroute paged with verdict gateway: {alerts:#?}"
    );
    assert_eq!(
        pages(&alerts, "shop-origin", "connect_refused"),
        1,
        "the crash paged once: {alerts:#?}"
    );
    assert_eq!(
        pages(&alerts, "shop-origin", "http_503"),
        1,
        "the overload paged once, with its 503: {alerts:#?}"
    );
    let edge_origin_pages = alerts
        .iter()
        .filter(|a| {
            a["event"] == "firing"
                && a["monitor"]["name"] == "shop-edge"
                && a["verdict"]["hop"] == "origin"
        })
        .count();
    assert_eq!(
        edge_origin_pages, 0,
        "the edge folds into the origin's incident, not a page per hop: {alerts:#?}"
    );
    assert!(
        has(&alerts, "firing", "shop-dns", "dns"),
        "the forgotten name paged with verdict dns: {alerts:#?}"
    );
    assert_eq!(
        pages(&alerts, "shop-inventory", "grpc_not_serving"),
        1,
        "the inventory's NOT_SERVING paged once: {alerts:#?}"
    );
    assert!(
        has(&alerts, "firing", "shop-inventory", "origin"),
        "with verdict origin, the service itself: {alerts:#?}"
    );
    assert_eq!(status, 200);
    assert!(
        page.contains("shop-origin"),
        "the sink page lists the alerts"
    );
}
