//! `hopwatch import kuma`: Uptime Kuma's database (`kuma.db`, 1.x or 2.x)
//! or its 1.x JSON backup mapped to hopwatch: monitors, group monitors and
//! tags to groups, notifications to notifiers and alerts.

mod grpc;
mod monitors;
mod notify;
mod read;

use std::path::Path;

use super::ImportError;
use super::model::{Draft, Names, Section};
use monitors::Groups;
use read::{Setup, flag, int, string};

/// Reads the file and maps it.
pub(crate) async fn import(path: &Path) -> Result<Draft, ImportError> {
    let setup = read::read(path).await?;
    Ok(map(&setup, &path.display().to_string()))
}

/// The monitor types whose certificate Uptime Kuma can watch.
const HTTP_TYPES: [&str; 3] = ["http", "keyword", "json-query"];

fn map(setup: &Setup, label: &str) -> Draft {
    let mut draft = Draft {
        header: vec![
            format!(
                "hopwatch config imported from the Uptime Kuma {} {label} (hopwatch import kuma).",
                setup.describe
            ),
            "Check it with `hopwatch validate -c FILE`. Each monitor keeps its Uptime Kuma name"
                .into(),
            "as its title; `# not imported` lines say what hopwatch has no place for, and why."
                .into(),
            "Secrets (passwords, tokens, webhook URLs) are copied as written: keep this file"
                .into(),
            "private (chmod 600) or move them to ${VAR}.".into(),
        ],
        ..Draft::default()
    };
    let notifiers = notify::notifiers(&mut draft, &setup.notifications);
    let groups: Groups = setup
        .monitors
        .iter()
        .filter(|m| string(&m.row, "type").as_deref() == Some("group"))
        .filter_map(|m| {
            let id = int(&m.row, "id")?;
            Some((id, (string(&m.row, "name")?, int(&m.row, "parent"))))
        })
        .collect();
    let mut names = Names::default();
    let mut watches = Vec::new();
    for m in &setup.monitors {
        let kind = string(&m.row, "type").unwrap_or_default();
        if kind == "group" {
            continue;
        }
        let origin = format!(
            "monitor {} {:?} ({kind})",
            int(&m.row, "id").unwrap_or(0),
            string(&m.row, "name").unwrap_or_default()
        );
        let mut entry = match monitors::monitor(&mut names, m, &groups) {
            Ok(entry) => entry,
            Err(why) => {
                draft.skip(Section::Monitors, origin, why);
                continue;
            }
        };
        let mut notify: Vec<String> = Vec::new();
        for id in &m.notifications {
            match notifiers.get(id) {
                Some(name) => notify.push(name.clone()),
                None => entry.not_imported(
                    format!("its notification {id}"),
                    "that notification was not imported (see the notifiers)",
                ),
            }
        }
        notify.sort();
        let interval = int(&m.row, "interval").filter(|i| *i > 0).unwrap_or(60);
        let url = string(&m.row, "url").unwrap_or_default();
        watches.push(notify::Watch {
            monitor: entry.name().unwrap_or_default().to_owned(),
            failures: int(&m.row, "maxretries").unwrap_or(0).max(0) + 1,
            // Uptime Kuma counts the resend interval in checks.
            repeat: int(&m.row, "resend_interval")
                .filter(|n| *n > 0)
                .map(|n| n * interval),
            notify,
            cert: HTTP_TYPES.contains(&kind.as_str())
                && flag(&m.row, "expiry_notification")
                && url.to_ascii_lowercase().starts_with("https://"),
        });
        draft.monitors.push(entry);
    }
    notify::alerts(&mut draft, &watches, &setup.tls_expiry_days);
    draft
}

#[cfg(test)]
mod tests;
