//! What an agent is sent: the monitors of its region, as config it compiles
//! with the daemon's own code, and a version that changes when they do.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::schema::{AgentConfig, Config, MonitorConfig};
use super::secret::revealing;
use crate::monitor::MonitorKind;

/// The header of `POST /api/v1/agent/results` that carries the agent's
/// clock when it sent the batch, in Unix milliseconds: the server reads
/// how far the agent's clock is from its own and moves the results' times
/// onto its own clock (a server that does not know it ignores it).
pub const SENT_AT_HEADER: &str = "hopwatch-sent-at";

/// The answer of `GET /api/v1/agent/monitors`: what one agent checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMonitors {
    /// The agent the token belongs to, for the agent to compare with the
    /// name it was given.
    pub agent: String,
    /// The region it checks from.
    pub region: String,
    /// Changes whenever `monitors` does; also the answer's `ETag`, so an
    /// agent that polls is answered 304 until the config changes.
    pub version: String,
    /// The monitors of the agent's region in config order, `defaults`
    /// merged in and `${VAR}`s filled, as the server compiled them.
    pub monitors: Vec<MonitorConfig>,
}

impl AgentMonitors {
    /// The monitors `agent` checks.
    pub fn for_agent(config: &Config, agent: &AgentConfig) -> Self {
        let monitors: Vec<MonitorConfig> = config
            .monitors
            .iter()
            .filter(|monitor| checked_from(monitor, &agent.region))
            .cloned()
            .collect();
        // Secrets included: a changed header value or password must reach
        // the agent as surely as a changed URL.
        let json = revealing(|| serde_json::to_vec(&monitors)).unwrap_or_default();
        let version = hex::encode(&Sha256::digest(&json)[..12]);
        Self {
            agent: agent.name.clone(),
            region: agent.region.clone(),
            version,
            monitors,
        }
    }

    /// The JSON sent to the agent, with its secrets written as their values:
    /// it probes with them. Only the agents' endpoint calls this.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys: serializing it cannot fail.
        revealing(|| serde_json::to_vec(self)).unwrap_or_default()
    }
}

/// Whether an agent of `region` checks `monitor`: not a push monitor (there
/// is nothing to probe; heartbeats come to the server), and `regions`
/// absent (every region) or naming it.
pub fn checked_from(monitor: &MonitorConfig, region: &str) -> bool {
    monitor.kind != MonitorKind::Push
        && monitor
            .regions
            .as_ref()
            .is_none_or(|regions| regions.iter().any(|r| r == region))
}

impl Config {
    /// The agent whose token is `given`. Every agent's token is compared,
    /// each as a digest in constant time, whichever matches: how long it
    /// takes says nothing of which one matched, nor how close a guess came.
    pub fn agent_with_token(&self, given: &str) -> Option<&AgentConfig> {
        let mut found = None;
        for agent in &self.agents {
            let same = crate::secret::same(given, agent.token.expose());
            if same && found.is_none() {
                found = Some(agent);
            }
        }
        // Validation refuses tokens under 16 characters; an empty one in a
        // config built in code still opens nothing.
        found.filter(|agent| !agent.token.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Format, compile, parse_with_env};

    const TOKEN_EU: &str = "eu-agent-token-0123456789";

    fn config(text: &str) -> crate::config::LoadedConfig {
        let env = |_: &str| None;
        parse_with_env(text, Format::Yaml, "t.yaml", &env).expect("valid config")
    }

    /// What an agent of `region` is sent.
    fn for_region(config: &Config, region: &str) -> AgentMonitors {
        let agent = AgentConfig {
            name: "a-1".to_owned(),
            region: region.to_owned(),
            token: TOKEN_EU.into(),
        };
        AgentMonitors::for_agent(config, &agent)
    }

    fn names(monitors: &AgentMonitors) -> Vec<&str> {
        monitors.monitors.iter().map(|m| m.name.as_str()).collect()
    }

    const TWO_REGIONS: &str = "agents:\n\
        \x20 - { name: eu-1, region: eu-west, token: eu-agent-token-0123456789 }\n\
        \x20 - { name: us-1, region: us-east, token: us-agent-token-0123456789 }\n\
        monitors:\n\
        \x20 - { name: everywhere, url: 'http://127.0.0.1:1/', headers: { authorization: 'Bearer h3ader-s3cret' } }\n\
        \x20 - { name: eu-only, type: tcp, target: '127.0.0.1:2', regions: [eu-west], interval: 1500ms }\n\
        \x20 - { name: us-only, type: tcp, target: '127.0.0.1:3', regions: [us-east] }\n\
        \x20 - { name: beat, type: push, token: pu5h-t0ken-0123 }\n";

    #[test]
    fn an_agent_gets_the_monitors_of_its_region_and_no_push_monitor() {
        let loaded = config(TWO_REGIONS);
        let eu = for_region(&loaded.config, "eu-west");
        assert_eq!(names(&eu), ["everywhere", "eu-only"]);
        let us = for_region(&loaded.config, "us-east");
        assert_eq!(names(&us), ["everywhere", "us-only"]);
        assert_ne!(eu.version, us.version);
        let nowhere = for_region(&loaded.config, "ap-south");
        assert_eq!(names(&nowhere), ["everywhere"]);
    }

    #[test]
    fn the_version_changes_with_any_value_a_secret_included() {
        let before = for_region(&config(TWO_REGIONS).config, "eu-west");
        let same = for_region(&config(TWO_REGIONS).config, "eu-west");
        assert_eq!(before.version, same.version);
        let changed = TWO_REGIONS.replace("h3ader-s3cret", "h3ader-s3cret2");
        let after = for_region(&config(&changed).config, "eu-west");
        assert_ne!(before.version, after.version);
        // A monitor of another region is not this agent's business.
        let other = TWO_REGIONS.replace("127.0.0.1:3", "127.0.0.1:4");
        let after = for_region(&config(&other).config, "eu-west");
        assert_eq!(before.version, after.version);
    }

    #[test]
    fn what_an_agent_is_sent_compiles_to_what_the_server_compiled() {
        let env = |_: &str| None;
        let text = include_str!("../../config/hopwatch.yaml");
        let loaded = parse_with_env(text, Format::Yaml, "hopwatch.yaml", &env).expect("valid");
        let sent = for_region(&loaded.config, "default");
        assert!(sent.monitors.len() > 5, "{:?}", names(&sent));
        let received: AgentMonitors = serde_json::from_slice(&sent.to_json()).expect("read back");
        assert_eq!(received, sent);
        let server: Vec<_> = loaded
            .compile()
            .expect("compiles")
            .into_iter()
            .filter(|m| m.kind != MonitorKind::Push)
            .collect();
        let agent: Vec<_> = compile::each(&received.monitors, &loaded.trust)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("compiles on the agent");
        assert_eq!(agent, server);
    }

    #[test]
    fn secrets_show_only_in_what_is_sent_to_the_agent() {
        let mut monitor = MonitorConfig::named("beat");
        monitor.kind = MonitorKind::Push;
        monitor.token = Some("pu5h-t0ken-0123".into());
        let plain = serde_json::to_string(&monitor).expect("json");
        assert!(!plain.contains("pu5h-t0ken"), "{plain}");
        assert!(plain.contains(r#""token":"***""#), "{plain}");
        let sent = AgentMonitors {
            agent: "a-1".to_owned(),
            region: "eu-west".to_owned(),
            version: String::new(),
            monitors: vec![monitor],
        };
        let sent = String::from_utf8(sent.to_json()).expect("utf-8");
        assert!(sent.contains("pu5h-t0ken-0123"), "{sent}");
    }

    #[test]
    fn an_agent_is_found_by_its_whole_token_only() {
        let loaded = config(TWO_REGIONS);
        let found = loaded.config.agent_with_token(TOKEN_EU).map(|a| &*a.name);
        assert_eq!(found, Some("eu-1"));
        for wrong in ["", "eu-agent-token", "eu-agent-token-01234567890", "x"] {
            assert!(loaded.config.agent_with_token(wrong).is_none(), "{wrong}");
        }
    }
}
