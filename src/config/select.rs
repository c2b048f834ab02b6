//! Which monitors a list of selectors (names, `group:NAME`, `*`) picks, as
//! alerts and maintenance windows use them.

use super::schema::MonitorConfig;

/// The monitors that `selectors` (names, `group:NAME`, `*`) pick, each
/// once, in config order. A selector naming nothing picks nothing; the
/// config validator reports it.
pub fn select_monitors(selectors: &[String], monitors: &[MonitorConfig]) -> Vec<String> {
    let picks = |monitor: &MonitorConfig| {
        selectors
            .iter()
            .any(|selector| match selector.strip_prefix("group:") {
                _ if selector == "*" => true,
                Some(group) => monitor.group.as_deref() == Some(group),
                None => *selector == monitor.name,
            })
    };
    let mut names: Vec<String> = Vec::new();
    for monitor in monitors.iter().filter(|m| picks(m)) {
        if !names.contains(&monitor.name) {
            names.push(monitor.name.clone());
        }
    }
    names
}
