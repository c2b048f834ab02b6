//! One check of a monitor written as JSON, run as the scheduler would, and
//! assertions on its result that print the whole result when they fail.

use hopwatch::config::MonitorConfig;
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::{Cause, CheckResult, Hop, Role};

/// A monitor from JSON, the shape a config file has; `name` defaults to `test`.
pub fn monitor(mut json: serde_json::Value) -> MonitorConfig {
    if let Some(fields) = json.as_object_mut() {
        fields.entry("name").or_insert_with(|| "test".into());
    }
    serde_json::from_value(json.clone())
        .unwrap_or_else(|err| panic!("not a monitor: {err}\n{json:#}"))
}

/// Compiles the monitor and runs one check of it, as the scheduler would.
pub async fn check(json: serde_json::Value) -> CheckResult {
    let monitor = monitor(json);
    let spec = compile::probe(&monitor, &TrustStore::default())
        .unwrap_or_else(|errors| panic!("monitor does not compile: {errors:?}"));
    hopwatch::probe::run(&spec).await
}

/// Asserts the cause, showing the whole result when it differs.
#[track_caller]
pub fn assert_cause(result: &CheckResult, cause: Cause) {
    assert_eq!(
        result.cause, cause,
        "wrong cause; the whole result:\n{result:#?}"
    );
    assert_eq!(
        result.ok,
        cause == Cause::Ok,
        "ok disagrees with the cause:\n{result:#?}"
    );
}

/// Asserts who answered.
#[track_caller]
pub fn assert_responder(result: &CheckResult, role: Role, product: Option<&str>) {
    let responder = result
        .responder
        .as_ref()
        .unwrap_or_else(|| panic!("no responder:\n{result:#?}"));
    assert_eq!(responder.role, role, "wrong responder role:\n{result:#?}");
    assert_eq!(
        responder.product.as_deref(),
        product,
        "wrong responder product:\n{result:#?}"
    );
}

/// Asserts the hop the verdict blames.
#[track_caller]
pub fn assert_hop(result: &CheckResult, hop: Hop) {
    assert_eq!(result.verdict.hop, hop, "wrong verdict:\n{result:#?}");
}
