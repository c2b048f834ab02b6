//! The cluster's keys (`storage.url`, `node`, `agents`, a monitor's
//! `regions` and `quorum`, an alert's `quorum`): each mistake is one error
//! line naming its key path, and a good cluster config loads.

use hopwatch::config::{Format, parse};

fn errors(text: &str) -> Vec<String> {
    match parse(text, Format::Yaml, "hopwatch.yaml") {
        Ok(_) => Vec::new(),
        Err(errors) => errors.errors,
    }
}

const MONITOR: &str = "monitors:\n  - { name: shop, url: 'http://127.0.0.1:1/' }\n";

#[test]
fn each_bad_cluster_key_is_one_error_at_its_path() {
    let cases: &[(&str, String, &str)] = &[
        (
            "path and url together",
            format!("storage: {{ path: a.db, url: 'postgres://h/db' }}\n{MONITOR}"),
            "hopwatch.yaml: storage: set either path (SQLite) or url (postgres:// or sqlite://), not both",
        ),
        (
            "a url of another database",
            format!("storage: {{ url: 'mysql://h/db' }}\n{MONITOR}"),
            "hopwatch.yaml: storage.url: must start with postgres://, postgresql:// or sqlite://",
        ),
        (
            "a region with capitals",
            format!("node: {{ region: EU-West }}\n{MONITOR}"),
            "hopwatch.yaml: node.region: invalid region \"EU-West\" (use a-z, 0-9, '.', '_', '-'; at most 64)",
        ),
        (
            "a quorum above the regions listed",
            "monitors:\n  - { name: shop, url: 'http://127.0.0.1:1/', regions: [eu, us], quorum: 3 }\n".to_owned(),
            "hopwatch.yaml: monitors[0].quorum: 3 is more than the 2 regions listed in regions",
        ),
        (
            "a region listed twice",
            "monitors:\n  - { name: shop, url: 'http://127.0.0.1:1/', regions: [eu, eu] }\n".to_owned(),
            "hopwatch.yaml: monitors[0].regions[1]: \"eu\" is listed twice",
        ),
        (
            "an alert quorum its monitor's regions cannot reach",
            "monitors:\n  - { name: shop, url: 'http://127.0.0.1:1/', regions: [eu, us] }\nalerts:\n  - { name: down, monitors: [shop], when: { consecutive_failures: 2 }, quorum: 3 }\n".to_owned(),
            "hopwatch.yaml: alerts[0].quorum: 3 regions can never agree: monitor \"shop\" is checked from 2",
        ),
        (
            "a quorum of zero",
            "monitors:\n  - { name: shop, url: 'http://127.0.0.1:1/', quorum: 0 }\n".to_owned(),
            "hopwatch.yaml: monitors[0].quorum: must be at least 1",
        ),
        (
            "two agents with one name",
            format!("{MONITOR}agents:\n  - {{ name: a1, region: eu, token: 0123456789abcdef }}\n  - {{ name: a1, region: us, token: fedcba9876543210 }}\n"),
            "hopwatch.yaml: agents[1].name: duplicate agent name \"a1\"",
        ),
        (
            "a guessable agent token",
            format!("{MONITOR}agents:\n  - {{ name: a1, region: eu, token: abc123 }}\n"),
            "hopwatch.yaml: agents[0].token: too short: use at least 16 random characters",
        ),
    ];
    for (what, text, expected) in cases {
        assert_eq!(errors(text), vec![(*expected).to_owned()], "{what}");
    }
}

#[test]
fn a_cluster_config_loads_with_its_keys() {
    let text = "storage: { url: 'postgres://hopwatch@127.0.0.1:5432/hopwatch' }\n\
                node: { name: eu-1, region: eu-west }\n\
                monitors:\n  - { name: shop, url: 'http://127.0.0.1:1/', regions: [eu-west, us-east], quorum: 2 }\n\
                alerts:\n  - { name: down, monitors: [shop], when: { consecutive_failures: 2 }, quorum: 1 }\n\
                agents:\n  - { name: us-agent, region: us-east, token: 0123456789abcdef }\n";
    let loaded = parse(text, Format::Yaml, "hopwatch.yaml").expect("valid");
    let config = &loaded.config;
    assert_eq!(config.node.region.as_deref(), Some("eu-west"));
    assert_eq!(config.monitors[0].regions.as_ref().map(Vec::len), Some(2));
    assert_eq!(config.monitors[0].quorum, Some(2));
    assert_eq!(config.alerts[0].quorum, Some(1));
    assert_eq!(config.agents[0].region, "us-east");
    assert!(
        !format!("{config:?}").contains("0123456789abcdef"),
        "the agent token is a secret"
    );
}

#[test]
fn the_deploy_example_validates() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/hopwatch.yaml"),
    )
    .expect("deploy/hopwatch.yaml");
    let env = |name: &str| match name {
        "PGPASSWORD" => Some("pw".to_owned()),
        "HOPWATCH_ADMIN_TOKEN" => Some("admin-0123456789abcdef".to_owned()),
        "AP_AGENT_TOKEN" => Some("ap-0123456789abcdef".to_owned()),
        _ => None,
    };
    let loaded = hopwatch::config::parse_with_env(&text, Format::Yaml, "hopwatch.yaml", &env)
        .unwrap_or_else(|e| panic!("{:?}", e.errors));
    assert_eq!(loaded.config.agents.len(), 1);
    assert!(matches!(
        loaded.config.storage.location(),
        Ok(hopwatch::config::Location::Postgres(_))
    ));
}
