//! The store's contract, run against both backends: a SQLite file and a
//! fresh database on a real PostgreSQL server. Everything above the store
//! relies on these answers being the same on both.

use std::time::{Duration, SystemTime};

use hopwatch::incident::ReportStatus;
use hopwatch::incident::{Incident, IncidentState, Severity};
use hopwatch::probe::{Cause, Hop};
use hopwatch::store::incidents::NewDelivery;
use hopwatch::store::reports::{NewReport, ReportState};
use hopwatch::store::rollup::Rollup;
use hopwatch::store::{Location, Store, StoredCheck, day_of, hour_of, unix_ms};

use crate::helpers::{both_stores as backends, firing_delivery, open_incident as incident};

/// A stored check of `cause` with an answer's usual figures.
pub(crate) fn check(
    monitor_id: i64,
    at_ms: i64,
    cause: Cause,
    detail: Option<&str>,
) -> StoredCheck {
    StoredCheck {
        monitor_id,
        at_ms,
        cause: cause.code(),
        status: Some(if cause.is_ok() { 200 } else { 502 }),
        latency_us: 1_500,
        phases_us: [10, 200, 300, 900, 90],
        flags: 0,
        node: None,
        detail: detail.map(str::to_owned),
    }
}

#[tokio::test]
async fn checks_rollups_and_runs_read_back_the_same_on_both_backends() {
    for (name, store, _keep) in backends().await {
        let ids = store.monitor_ids(&["edge", "origin"]).await.expect("ids");
        assert_eq!(ids.len(), 2, "{name}");
        // Ids are stable: asking again creates nothing and changes nothing.
        let again = store.monitor_ids(&["origin", "edge"]).await.expect("ids");
        assert_eq!(ids, again, "{name}");
        let known = store.known_monitors().await.expect("known");
        assert!(
            known.contains_key("edge") && known.contains_key("origin"),
            "{name}"
        );

        let edge = ids["edge"];
        let now = unix_ms(SystemTime::now());
        let run = store.start_run(SystemTime::now()).await.expect("run");
        let detail = r#"{"error":"bad gateway","verdict":{"hop":"origin","summary":"refused"}}"#;
        let batch = vec![
            check(edge, now - 2_000, Cause::Ok, None),
            check(edge, now - 1_000, Cause::Http5xx, Some(detail)),
            check(ids["origin"], now - 1_000, Cause::Ok, None),
        ];
        let mut rollup = Rollup::default();
        rollup.record(Cause::Ok, 1_500);
        rollup.record(Cause::Http5xx, 1_500);
        let hour = hour_of(now);
        let day = day_of(now);
        store
            .write_batch(
                &batch,
                &[(edge, hour, &rollup)],
                &[(edge, day, &rollup)],
                Some((run, now)),
            )
            .await
            .expect("write");
        // A replayed batch is harmless, and rollups take the newer totals.
        rollup.record(Cause::Ok, 2_500);
        store
            .write_batch(
                &batch,
                &[(edge, hour, &rollup)],
                &[(edge, day, &rollup)],
                Some((run, now + 5)),
            )
            .await
            .expect("replay");

        let read = store.checks(edge, 0, 10).await.expect("checks");
        assert_eq!(read.len(), 2, "{name}");
        assert_eq!(read[0].at_ms, now - 1_000, "{name}: newest first");
        assert_eq!(read[0].cause, Cause::Http5xx.code(), "{name}");
        assert_eq!(read[0].status, Some(502), "{name}");
        assert_eq!(read[0].phases_us, [10, 200, 300, 900, 90], "{name}");
        assert_eq!(read[0].detail.as_deref(), Some(detail), "{name}");
        assert_eq!(read[1].detail, None, "{name}");
        let result = read[0].clone().into_result("edge");
        assert_eq!(result.verdict.hop, Hop::Origin, "{name}");
        assert_eq!(store.count_checks(None).await.expect("count"), 3, "{name}");
        assert_eq!(
            store.count_checks(Some(edge)).await.expect("count"),
            2,
            "{name}"
        );

        let days = store.daily_stats(day - 1).await.expect("days");
        assert_eq!(days.len(), 1, "{name}");
        assert_eq!(
            (days[0].total, days[0].ok, days[0].failed),
            (3, 2, 1),
            "{name}"
        );
        let hours = store.hourly_latency(edge, hour - 1).await.expect("hours");
        assert_eq!(hours.len(), 1, "{name}");
        assert!(
            hours[0].p95_us >= hours[0].p50_us && hours[0].p50_us > 0,
            "{name}"
        );

        assert_eq!(
            store.last_alive().await.expect("alive"),
            Some(now + 5),
            "{name}"
        );
        store
            .stop_run(run, SystemTime::now() + Duration::from_secs(1))
            .await
            .expect("stop");
        let runs = store.runs(now - 60_000).await.expect("runs");
        assert_eq!(runs.len(), 1, "{name}");
        assert!(runs[0].alive_ms > now, "{name}");

        // Retention: the older check goes, then everything before now.
        let gone = store
            .delete_checks_before(edge, now - 1_500, 100)
            .await
            .expect("delete");
        assert_eq!(gone, 1, "{name}");
        let gone = store
            .delete_checks_before(edge, now, 100)
            .await
            .expect("delete");
        assert_eq!(gone, 1, "{name}");
        assert_eq!(
            store.count_checks(Some(edge)).await.expect("count"),
            0,
            "{name}"
        );
        store
            .delete_rollups_before(hour + 1, day + 1)
            .await
            .expect("rollups");
        assert!(
            store.daily_stats(0).await.expect("days").is_empty(),
            "{name}"
        );
        store.close().await;
    }
}

fn delivery(id: &str, incident: &Incident) -> NewDelivery {
    firing_delivery(id, "hook", incident)
}

#[tokio::test]
async fn incidents_annotations_and_the_outbox_behave_the_same_on_both_backends() {
    for (name, store, _keep) in backends().await {
        store
            .add_annotation(
                SystemTime::now() - Duration::from_secs(60),
                "deploy 42",
                &[],
            )
            .await
            .expect("annotation");
        let origin = incident("i-origin", "origin");
        let first = delivery("i-origin.hook.firing.0", &origin);
        store
            .open_incident(&origin, std::slice::from_ref(&first))
            .await
            .expect("open");
        // The same delivery queued twice (a replay) stays one row.
        store
            .repeat_incident(&origin.id, std::slice::from_ref(&first))
            .await
            .expect("repeat");
        let pending = store.pending_deliveries(10).await.expect("pending");
        assert_eq!(pending.len(), 1, "{name}");
        assert_eq!(pending[0].events[0].incident_id, "i-origin", "{name}");
        assert!(
            store.next_delivery_due().await.expect("due").is_some(),
            "{name}"
        );

        let read = store
            .incident("i-origin")
            .await
            .expect("read")
            .expect("found");
        assert_eq!(read.cause, Cause::ConnectRefused, "{name}");
        assert_eq!(read.severity, Severity::Warning, "{name}");
        assert_eq!(read.threshold, Some(2.5), "{name}");
        assert_eq!(read.verdict.summary, "origin refuses", "{name}");
        assert_eq!(read.annotations.len(), 1, "{name}");
        assert!(read.notified_at.is_some(), "{name}");
        assert!(
            store.incident("nope").await.expect("read").is_none(),
            "{name}"
        );

        // An edge folds into the origin's incident, then pages on its own.
        let edge = incident("i-edge", "edge");
        store.open_incident(&edge, &[]).await.expect("open edge");
        store
            .fold_incident("i-edge", "i-origin")
            .await
            .expect("fold");
        let folded = store
            .incident("i-edge")
            .await
            .expect("read")
            .expect("found");
        assert_eq!(folded.folded_into.as_deref(), Some("i-origin"), "{name}");
        let second = delivery("i-edge.hook.firing.0", &edge);
        store
            .unfold_incident(&edge, &[second])
            .await
            .expect("unfold");
        let unfolded = store
            .incident("i-edge")
            .await
            .expect("read")
            .expect("found");
        assert_eq!(unfolded.folded_into, None, "{name}");

        // Two untried messages grouped into one.
        let grouped = NewDelivery {
            id: "storm.hook.0".to_owned(),
            notifier: "hook".to_owned(),
            events: [first.events.clone(), delivery("x", &edge).events].concat(),
        };
        store
            .group_deliveries(
                &grouped,
                &[
                    "i-origin.hook.firing.0".into(),
                    "i-edge.hook.firing.0".into(),
                ],
            )
            .await
            .expect("group");
        let pending = store.pending_deliveries(10).await.expect("pending");
        assert_eq!(pending.len(), 1, "{name}");
        assert_eq!(pending[0].events.len(), 2, "{name}");

        store
            .delivery_retry("storm.hook.0", 1, SystemTime::now(), "503 from receiver")
            .await
            .expect("retry");
        store.delivery_sent("storm.hook.0", 2).await.expect("sent");
        assert!(
            store
                .pending_deliveries(10)
                .await
                .expect("pending")
                .is_empty(),
            "{name}"
        );
        let all = store.deliveries().await.expect("all");
        assert_eq!(
            all,
            vec![(
                "storm.hook.0".to_owned(),
                "hook".to_owned(),
                "sent".to_owned(),
                2
            )],
            "{name}"
        );

        assert!(store.acknowledge("i-origin").await.expect("ack"), "{name}");
        assert!(!store.acknowledge("nope").await.expect("ack"), "{name}");
        store
            .resolve_incident("i-origin", SystemTime::now(), &[])
            .await
            .expect("resolve");
        let open = store
            .incidents(Some(IncidentState::Open), 10)
            .await
            .expect("open");
        assert_eq!(
            open.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ["i-edge"],
            "{name}"
        );
        let resolved = store
            .incidents(Some(IncidentState::Resolved), 10)
            .await
            .expect("resolved");
        assert!(
            resolved[0].acknowledged && resolved[0].resolved_at.is_some(),
            "{name}"
        );
        assert_eq!(
            store.incidents(None, 10).await.expect("all").len(),
            2,
            "{name}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn status_reports_and_their_timelines_read_back_the_same_on_both_backends() {
    for (name, store, _keep) in backends().await {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let new = |title: &str, status: ReportStatus, monitors: &[&str]| NewReport {
            title: title.to_owned(),
            status,
            message: format!("{title}: <b>\"first\"</b> \u{e9}"),
            monitors: monitors.iter().map(|m| (*m).to_owned()).collect(),
            pages: vec!["shop".to_owned()],
        };
        let first = store
            .create_report(
                &new("Checkout", ReportStatus::Investigating, &["web"]),
                at(0),
                None,
            )
            .await
            .expect("create");
        let second = store
            .create_report(&new("Search", ReportStatus::Identified, &[]), at(10), None)
            .await
            .expect("create");
        assert_ne!(first.id, second.id, "{name}");
        // Two updates in the same millisecond keep the order they came in.
        for (status, message) in [
            (ReportStatus::Identified, "found it"),
            (ReportStatus::Monitoring, "fixed, watching"),
        ] {
            store
                .add_report_update(first.id, status, message, at(20), None)
                .await
                .expect("update")
                .expect("the report exists");
        }
        assert_eq!(
            store
                .add_report_update(first.id + 1_000, ReportStatus::Resolved, "x", at(30), None)
                .await
                .expect("update"),
            None,
            "{name}: an unknown report"
        );

        let open = store
            .reports(Some(ReportState::Open), 10)
            .await
            .expect("open");
        let ids: Vec<i64> = open.iter().map(|r| r.id).collect();
        assert_eq!(ids, [second.id, first.id], "{name}: newest first");
        let read = &open[1];
        assert_eq!(read.title, "Checkout", "{name}");
        assert_eq!(read.status, ReportStatus::Monitoring, "{name}");
        assert_eq!(
            (read.monitors.as_slice(), read.pages.as_slice()),
            (&["web".to_owned()][..], &["shop".to_owned()][..]),
            "{name}"
        );
        assert_eq!(read.created_at, at(0), "{name}");
        let timeline: Vec<(ReportStatus, &str)> = read
            .updates
            .iter()
            .map(|u| (u.status, u.message.as_str()))
            .collect();
        assert_eq!(
            timeline,
            [
                (
                    ReportStatus::Investigating,
                    "Checkout: <b>\"first\"</b> \u{e9}"
                ),
                (ReportStatus::Identified, "found it"),
                (ReportStatus::Monitoring, "fixed, watching"),
            ],
            "{name}: oldest first, the report's own message first"
        );
        assert_eq!(open[0].updates.len(), 1, "{name}");

        // Resolving closes it, once: a second resolve keeps the first time.
        store
            .add_report_update(first.id, ReportStatus::Resolved, "all good", at(40), None)
            .await
            .expect("resolve");
        let again = store
            .add_report_update(first.id, ReportStatus::Resolved, "really", at(50), None)
            .await
            .expect("resolve")
            .expect("exists");
        assert_eq!(again.resolved_at, Some(at(40)), "{name}");
        assert_eq!(again.updates.len(), 5, "{name}");
        let resolved = store
            .reports(Some(ReportState::Resolved), 10)
            .await
            .expect("resolved");
        assert_eq!(resolved.len(), 1, "{name}");
        assert_eq!(resolved[0], again, "{name}: the list and the update agree");
        let open = store
            .reports(Some(ReportState::Open), 10)
            .await
            .expect("open");
        assert_eq!(open.len(), 1, "{name}");
        assert_eq!(
            store.reports(None, 1).await.expect("all").len(),
            1,
            "{name}: limit"
        );
        assert_eq!(
            store.report(second.id).await.expect("one"),
            Some(second.clone()),
            "{name}: created as read"
        );
        // Another status opens it again.
        let reopened = store
            .add_report_update(first.id, ReportStatus::Investigating, "back", at(60), None)
            .await
            .expect("reopen")
            .expect("exists");
        assert!(reopened.is_open(), "{name}");
        store.close().await;
    }
}

#[tokio::test]
async fn an_unreachable_database_names_its_server_and_never_the_password() {
    // A port nothing listens on: connection refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("postgres://hopwatch:hunter2@127.0.0.1:{port}/hopwatch");
    let error = Store::open_at(&Location::parse(&url).expect("url"))
        .await
        .expect_err("nothing listens");
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn subscribers_and_their_fan_out_behave_the_same_on_both_backends() {
    use hopwatch::incident::Notice;
    use hopwatch::store::subscribers::{Audience, Fanout, Subscribed};
    for (name, store, _keep) in backends().await {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let Subscribed::Asked(ann) = store
            .subscribe("shop", "ann@example.com", "mail", at(0))
            .await
            .expect("subscribe")
        else {
            panic!("{name}: a new address is asked to confirm");
        };
        let again = |s| store.subscribe("shop", "ann@example.com", "mail", at(s));
        assert_eq!(
            again(60).await.expect("again"),
            Subscribed::AskedRecently,
            "{name}"
        );
        assert_eq!(
            again(11 * 60).await.expect("again"),
            Subscribed::Asked(ann),
            "{name}: asked again after a while, the same subscriber"
        );
        let Subscribed::Asked(bob) = store
            .subscribe("shop", "bob@example.com", "mail", at(0))
            .await
            .expect("subscribe")
        else {
            panic!("{name}: bob is new");
        };
        let Subscribed::Asked(ann_status) = store
            .subscribe("", "ann@example.com", "mail", at(0))
            .await
            .expect("subscribe")
        else {
            panic!("{name}: ann on another page is another row");
        };
        assert_eq!(
            store.confirm_subscriber(ann, at(5)).await.expect("confirm"),
            Some(true)
        );
        assert_eq!(
            store.confirm_subscriber(ann, at(6)).await.expect("confirm"),
            Some(false)
        );
        assert_eq!(
            store
                .confirm_subscriber(ann_status, at(5))
                .await
                .expect("confirm"),
            Some(true)
        );
        assert_eq!(
            store
                .confirm_subscriber(ann + 1_000, at(5))
                .await
                .expect("confirm"),
            None
        );
        assert_eq!(
            again(20 * 60).await.expect("again"),
            Subscribed::AlreadyConfirmed,
            "{name}: subscribing again keeps a confirmed subscriber confirmed"
        );
        let read = store.subscriber(ann).await.expect("read").expect("ann");
        assert_eq!(
            (read.page.as_str(), read.email.as_str(), read.confirmed),
            ("shop", "ann@example.com", true)
        );
        assert!(
            !store
                .subscriber(bob)
                .await
                .expect("read")
                .expect("bob")
                .confirmed
        );

        // Four confirmations queued, in time order: ann, bob, ann on the
        // other page, ann asked again.
        let pending = store.pending_deliveries(100).await.expect("pending");
        let confirmations: Vec<i64> = pending
            .iter()
            .filter_map(|d| d.subscriber.as_ref())
            .filter(|s| s.notice == Notice::Confirm)
            .map(|s| s.subscriber)
            .collect();
        assert_eq!(confirmations, [ann, bob, ann_status, ann], "{name}");

        // A report to both pages reaches ann once (one address, two
        // pages) and not bob, who never confirmed; queued twice, once.
        let audience = Audience {
            notifier: "mail".to_owned(),
            pages: vec!["shop".to_owned(), String::new()],
        };
        let report = store
            .create_report(
                &NewReport {
                    title: "Checkout".to_owned(),
                    status: ReportStatus::Investigating,
                    message: "looking".to_owned(),
                    monitors: Vec::new(),
                    pages: Vec::new(),
                },
                at(30),
                Some(&audience),
            )
            .await
            .expect("report");
        let told = |pending: &[hopwatch::store::incidents::Delivery]| -> Vec<(String, i64)> {
            pending
                .iter()
                .filter_map(|d| {
                    let s = d.subscriber.as_ref()?;
                    matches!(s.notice, Notice::Report { .. }).then(|| (d.id.clone(), s.subscriber))
                })
                .collect()
        };
        let pending = store.pending_deliveries(100).await.expect("pending");
        let reports = told(&pending);
        assert_eq!(reports.len(), 1, "{name}: {reports:?}");
        assert_eq!(reports[0].1, ann.min(ann_status), "{name}");
        let Some(Notice::Report {
            report: id, title, ..
        }) = pending
            .iter()
            .filter_map(|d| d.subscriber.as_ref().map(|s| &s.notice))
            .find(|n| matches!(n, Notice::Report { .. }))
        else {
            panic!("{name}: a report notice");
        };
        assert_eq!((*id, title.as_str()), (report.id, "Checkout"));
        let update = store
            .add_report_update(
                report.id,
                ReportStatus::Resolved,
                "fixed",
                at(40),
                Some(&audience),
            )
            .await
            .expect("update")
            .expect("the report");
        assert_eq!(update.updates.len(), 2);
        let fanout = Fanout {
            id: "same".to_owned(),
            audience: audience.clone(),
            notice: Notice::Confirm,
        };
        store.queue_fanout(&fanout).await.expect("queue");
        store.queue_fanout(&fanout).await.expect("queue again");
        let pending = store.pending_deliveries(100).await.expect("pending");
        assert_eq!(told(&pending).len(), 2, "{name}: the report and its update");
        assert_eq!(
            pending
                .iter()
                .filter(|d| d.id.starts_with("same.s"))
                .count(),
            1,
            "{name}: queued twice, once"
        );

        // Unsubscribing deletes the row and what was not sent to it.
        assert!(store.unsubscribe(ann).await.expect("unsubscribe"));
        assert!(
            !store.unsubscribe(ann).await.expect("unsubscribe"),
            "{name}: once"
        );
        assert_eq!(store.subscriber(ann).await.expect("read"), None);
        let pending = store.pending_deliveries(100).await.expect("pending");
        assert!(
            pending
                .iter()
                .all(|d| d.subscriber.as_ref().is_none_or(|s| s.subscriber != ann)),
            "{name}: {pending:?}"
        );

        let key = store.signing_key("links").await.expect("key");
        assert_eq!(key.len(), 32);
        assert_eq!(
            store.signing_key("links").await.expect("key"),
            key,
            "{name}"
        );
    }
}
