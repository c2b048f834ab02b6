//! A monitor seen from two regions, through the daemon's surfaces: this
//! node checks a healthy target, a second region (as an agent's results
//! arrive) reports it failing; below the quorum the monitor is degraded
//! with the regional verdict, and `/api/v1/cluster` lists both checkers.

use std::sync::Arc;
use std::time::SystemTime;

use hopwatch::live::PeerKind;
use hopwatch::probe::{Cause, CheckResult, Hop, Verdict};

use crate::helpers::{spawn_app, spawn_status, wait_until};

#[tokio::test]
async fn a_failure_from_one_region_of_two_is_that_regions_path_and_pages_nobody() {
    let target = spawn_status(200, &[], "ok").await;
    let app = spawn_app(&format!(
        "  - {{ name: shop, url: 'http://127.0.0.1:{}/health', interval: 1s, quorum: 2 }}\n",
        target.port()
    ))
    .await;
    wait_until("this node checked the shop", || {
        app.state.live.latest("shop").is_some()
    })
    .await;
    // The other region's checker reports a refused connection.
    let live = &app.state.live;
    live.peers()
        .seen("us-agent", "us-east", PeerKind::Agent, SystemTime::now());
    let mut failed = CheckResult::new(SystemTime::now(), Cause::ConnectRefused);
    failed.monitor = Some("shop".to_owned());
    failed.region = Some(Arc::from("us-east"));
    failed.node = Some(Arc::from("us-agent"));
    failed.verdict = Verdict {
        hop: Hop::Origin,
        summary: "connection refused".to_owned(),
    };
    live.record("shop", Arc::new(failed));

    let (code, body) = app.get("/api/v1/status").await;
    assert_eq!(code, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("json");
    let shop = &status["monitors"][0];
    assert_eq!(shop["state"], "degraded", "{shop:#}");
    assert_eq!(shop["last_check"]["verdict"]["hop"], "network", "{shop:#}");
    assert_eq!(
        shop["last_check"]["verdict"]["summary"],
        "fails only from us-east (default sees it up): the path between us-east and 127.0.0.1",
    );
    let regions = shop["regions"].as_array().expect("regions");
    assert_eq!(regions.len(), 2, "{shop:#}");
    let us = regions
        .iter()
        .find(|r| r["region"] == "us-east")
        .expect("us-east");
    assert_eq!(us["state"], "down");
    assert_eq!(
        us["last_check"]["verdict"]["hop"], "network",
        "a failing region's check carries it"
    );
    assert_eq!(us["last_check"]["node"], "us-agent");
    let here = regions
        .iter()
        .find(|r| r["region"] == "default")
        .expect("this node");
    assert_eq!(here["state"], "up");
    assert_eq!(here["last_check"]["region"], "default");

    let (code, body) = app.get("/api/v1/cluster").await;
    assert_eq!(code, 200, "{body}");
    let cluster: serde_json::Value = serde_json::from_str(&body).expect("json");
    let nodes = cluster["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2, "{cluster:#}");
    assert_eq!(nodes[0]["leader"], true);
    assert_eq!(nodes[0]["monitors"], 1);
    assert_eq!(nodes[1]["name"], "us-agent");
    assert_eq!(nodes[1]["kind"], "agent");
    assert_eq!(nodes[1]["alive"], true);
    app.stop().await;
}
