//! The status page's groups: monitors by group in config order, and what a
//! folded group says in its one summary line (worst state, counts, worst monitor).

use maud::{Markup, html};

use super::components::state_badge;
use super::links::Links;
use super::title_of;
use crate::config::MonitorConfig;
use crate::monitor::MonitorState;

/// Monitors without a group are listed under this heading, last.
pub const UNGROUPED: &str = "Other";

/// The monitor states from worst to best. Unknown (no result, or hopwatch's
/// own network failing) ranks above maintenance: nobody knows it is fine,
/// whereas maintenance was planned.
const WORST_FIRST: [MonitorState; 5] = [
    MonitorState::Down,
    MonitorState::Degraded,
    MonitorState::Unknown,
    MonitorState::Maintenance,
    MonitorState::Up,
];

/// A monitor with its current state.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// The monitor's config.
    pub monitor: &'a MonitorConfig,
    /// Its state now.
    pub state: MonitorState,
}

/// The monitors of one group, in config order.
#[derive(Debug)]
pub struct Group<'a> {
    /// The group's name, or [`UNGROUPED`].
    pub name: &'a str,
    /// Its monitors in config order.
    pub members: Vec<Member<'a>>,
}

/// Groups in the order they first appear in the config, ungrouped last.
pub fn by_group<'a>(members: impl IntoIterator<Item = Member<'a>>) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for member in members {
        let name = member.monitor.group.as_deref().unwrap_or(UNGROUPED);
        match groups.iter_mut().find(|group| group.name == name) {
            Some(group) => group.members.push(member),
            None => groups.push(Group {
                name,
                members: vec![member],
            }),
        }
    }
    if let Some(at) = groups.iter().position(|group| group.name == UNGROUPED) {
        let other = groups.remove(at);
        groups.push(other);
    }
    groups
}

/// How bad a state is: 0 is the worst.
fn rank(state: MonitorState) -> usize {
    WORST_FIRST.iter().position(|s| *s == state).unwrap_or(2)
}

/// Whether a monitor in this state needs looking at now.
pub fn is_problem(state: MonitorState) -> bool {
    matches!(state, MonitorState::Down | MonitorState::Degraded)
}

impl<'a> Group<'a> {
    /// The first monitor (in config order) in the group's worst state.
    pub fn worst(&self) -> Option<Member<'a>> {
        self.members
            .iter()
            .copied()
            .min_by_key(|member| rank(member.state))
    }

    /// `48 up · 2 down`: how many monitors are in each state, states
    /// without monitors left out. A no-break space keeps each number with
    /// its word when the line wraps on a phone.
    /// Listed in [`MonitorState::ALL`]'s order, as `/api/v1/status` lists
    /// the states: `48 up · 2 down` reads best first.
    pub fn counts(&self) -> String {
        MonitorState::ALL
            .iter()
            .filter_map(|state| {
                let n = self.members.iter().filter(|m| m.state == *state).count();
                (n > 0).then(|| format!("{n}\u{a0}{state}"))
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// Whether the group is shown open: only when something in it is down
    /// or degraded, as that is what a visitor during an incident came for.
    pub fn has_problem(&self) -> bool {
        self.members.iter().any(|m| is_problem(m.state))
    }
}

/// How a folded group is shown.
#[derive(Debug)]
pub struct Fold<'g, 'a> {
    /// Open by default: something in it is down or degraded.
    pub open: bool,
    /// Shown first, with figures and the 90-day bar.
    pub full: Vec<&'g Member<'a>>,
    /// The rest, in config order, as light rows without a bar.
    pub light: Vec<&'g Member<'a>>,
}

/// How each group is shown when folded: the down and degraded monitors of
/// open groups get full rows, at most `max_full` on the whole page in
/// group order, so a wide outage cannot bring back a bar per monitor.
pub fn split<'g, 'a>(groups: &'g [Group<'a>], max_full: usize) -> Vec<Fold<'g, 'a>> {
    let mut left = max_full;
    groups
        .iter()
        .map(|group| {
            let open = group.has_problem();
            let (full, light) = group.members.iter().partition(|m| {
                let full = open && is_problem(m.state) && left > 0;
                left -= usize::from(full);
                full
            });
            Fold { open, full, light }
        })
        .collect()
}

/// The `<summary>` of a folded group: its name, worst state, counts and,
/// unless all is up, its worst monitor, linked to the monitor's page.
pub fn summary(group: &Group, links: &Links) -> Markup {
    let worst = group.worst();
    html! {
        summary {
            h2 { (group.name) }
            @if let Some(worst) = worst { " " (state_badge(worst.state)) }
            " " span.counts { (group.counts()) }
            @if let Some(worst) = worst.filter(|w| w.state != MonitorState::Up) {
                " " span.worst {
                    "worst: " a href=(links.monitor(&worst.monitor.name)) { (title_of(worst.monitor)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(name: &str, group: Option<&str>) -> MonitorConfig {
        let mut monitor = MonitorConfig::named(name);
        monitor.group = group.map(str::to_owned);
        monitor
    }

    #[test]
    fn groups_keep_config_order_with_the_ungrouped_last() {
        let configs = [
            monitor("a", None),
            monitor("b", Some("Shop")),
            monitor("c", Some("API")),
            monitor("d", Some("Shop")),
        ];
        let groups = by_group(configs.iter().map(|monitor| Member {
            monitor,
            state: MonitorState::Up,
        }));
        let names: Vec<(&str, usize)> = groups.iter().map(|g| (g.name, g.members.len())).collect();
        assert_eq!(names, [("Shop", 2), ("API", 1), (UNGROUPED, 1)]);
    }

    #[test]
    fn a_summary_escapes_names_and_titles() {
        let mut configs = [monitor("evil", Some("<b>G</b>"))];
        configs[0].title = Some("<script>alert(1)</script>".to_owned());
        let groups = by_group(configs.iter().map(|monitor| Member {
            monitor,
            state: MonitorState::Down,
        }));
        let html = summary(&groups[0], &Links::public()).into_string();
        assert!(html.contains("<h2>&lt;b&gt;G&lt;/b&gt;</h2>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
    }

    #[test]
    fn only_problems_in_open_groups_get_full_rows_up_to_the_cap() {
        let configs: Vec<MonitorConfig> = (0..8)
            .map(|i| monitor(&format!("m{i}"), Some(if i < 4 { "A" } else { "B" })))
            .collect();
        let states = [
            "down", "up", "degraded", "down", "up", "unknown", "up", "up",
        ]
        .map(|s| MonitorState::parse(s).expect("a state"));
        let groups = by_group(
            configs
                .iter()
                .zip(states)
                .map(|(monitor, state)| Member { monitor, state }),
        );
        let names = |members: &[&Member]| -> Vec<String> {
            members.iter().map(|m| m.monitor.name.clone()).collect()
        };
        let folds = split(&groups, 2);
        assert!(folds[0].open && !folds[1].open);
        assert_eq!(names(&folds[0].full), ["m0", "m2"]);
        assert_eq!(names(&folds[0].light), ["m1", "m3"], "past the cap: light");
        assert!(folds[1].full.is_empty());
        assert_eq!(folds[1].light.len(), 4);
    }

    #[test]
    fn a_group_names_its_worst_monitor_and_counts_its_states() {
        let configs: Vec<MonitorConfig> = (0..6)
            .map(|i| monitor(&format!("m{i}"), Some("G")))
            .collect();
        let states = ["up", "maintenance", "down", "unknown", "down", "up"]
            .map(|s| MonitorState::parse(s).expect("a state"));
        let group = &by_group(
            configs
                .iter()
                .zip(states)
                .map(|(monitor, state)| Member { monitor, state }),
        )[0];
        assert_eq!(group.worst().map(|w| w.monitor.name.as_str()), Some("m2"));
        assert_eq!(
            group.counts().replace('\u{a0}', " "),
            "2 up · 2 down · 1 maintenance · 1 unknown"
        );
        assert!(group.has_problem());
        let html = summary(group, &Links::public()).into_string();
        assert!(html.contains("<h2>G</h2>"), "{html}");
        assert!(
            html.contains("worst: <a href=\"/monitors/m2\">m2</a>"),
            "{html}"
        );

        let calm = &by_group(
            configs
                .iter()
                .zip([
                    MonitorState::Up,
                    MonitorState::Maintenance,
                    MonitorState::Unknown,
                ])
                .map(|(monitor, state)| Member { monitor, state }),
        )[0];
        assert!(!calm.has_problem(), "unknown and maintenance stay folded");
        assert_eq!(calm.worst().map(|w| w.state), Some(MonitorState::Unknown));
        let all_up = &by_group(configs.iter().map(|monitor| Member {
            monitor,
            state: MonitorState::Up,
        }))[0];
        assert_eq!(all_up.counts(), "6\u{a0}up");
        assert!(
            !summary(all_up, &Links::public())
                .into_string()
                .contains("worst")
        );
    }
}
