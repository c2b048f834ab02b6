//! A Gatus `[DOMAIN_EXPIRATION] > 720h` condition as a hopwatch `domain`
//! monitor of its own, for the registered name of the endpoint's host.

use super::super::model::{Entry, Value};
use super::Context;

/// Second-level labels under which country registries sell names
/// (`example.co.uk`). hopwatch ships no public suffix list; this covers
/// the common cases, and the comment on the monitor shows the guess.
const SECOND_LEVEL: [&str; 8] = ["ac", "co", "com", "edu", "gov", "net", "or", "org"];

/// The `domain` monitor `<endpoint>-domain` for the endpoint at `url`,
/// failing below `min_days` days of registration; `Err` says why there is
/// no name to check.
pub(crate) fn monitor(
    cx: &mut Context,
    origin: &str,
    endpoint: &str,
    group: Option<&str>,
    url: &str,
    min_days: u32,
) -> Result<Entry, String> {
    let (host, domain) = names(url)?;
    let claimed = cx.monitor_names.claim(&format!("{endpoint}-domain"), group);
    let mut entry = Entry::named(&claimed.name);
    entry.origin = format!("{origin} [DOMAIN_EXPIRATION]");
    entry.note(format!("from {origin}: its [DOMAIN_EXPIRATION] condition"));
    if let Some(note) = claimed.note {
        entry.note(note);
    }
    if domain != host {
        entry.note(format!(
            "{domain} is the registered name guessed from the host {host}; correct it if the registration is another"
        ));
    }
    // Gatus failed the endpoint itself; hopwatch reports `domain_expiring`
    // (degraded) on this monitor instead.
    entry.note(format!(
        "an expiring registration shows here as domain_expiring, not on {endpoint}"
    ));
    if let Some(group) = group {
        entry.set("group", Value::Str(group.to_owned()));
    }
    entry.set("type", Value::Str("domain".into()));
    entry.set("domain", Value::Str(domain));
    entry.set(
        "expect",
        Value::Map(vec![("min_days".into(), Value::int(min_days))]),
    );
    Ok(entry)
}

/// The host of the endpoint's URL, in lower case, and its registered name.
fn names(url: &str) -> Result<(String, String), String> {
    let host = host(url)?;
    match registered_domain(&host) {
        Some(domain) => Ok((host, domain)),
        None => Err(format!("{host} is not a registered name (it has no dot)")),
    }
}

/// The host of the endpoint's URL, in lower case, when it is a name.
fn host(url: &str) -> Result<String, String> {
    if url.contains("${") {
        return Err("the URL comes from a variable, so its host is not known here".into());
    }
    let parsed = url::Url::parse(url).map_err(|_| "its URL has no host".to_owned())?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("its URL has no host")?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    // url leaves the address of a non-http scheme (tcp://1.2.3.4) as text.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "{host} is an IP address, which has no registration to expire"
        ));
    }
    Ok(host)
}

/// `api.example.com` -> `example.com`, `www.example.co.uk` ->
/// `example.co.uk`; `None` for a name of one label (`localhost`).
fn registered_domain(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n < 2 || labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    let country = labels[n - 1].len() == 2;
    let keep = if n >= 3 && country && SECOND_LEVEL.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    Some(labels[n - keep..].join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registered_name_is_taken_from_the_host() {
        let cases = [
            ("https://api.example.com/health", Ok("example.com")),
            ("https://Example.ORG.", Ok("example.org")),
            ("tcp://db.internal.example.co.uk:5432", Ok("example.co.uk")),
            ("grpcs://grpc.example.io:443", Ok("example.io")),
            ("https://127.0.0.1:8443/", Err("is an IP address")),
            ("tcp://10.0.0.1:80", Err("is an IP address")),
            ("https://[::1]/", Err("is an IP address")),
            ("http://localhost:8080/", Err("has no dot")),
            ("${SITE_URL}", Err("comes from a variable")),
        ];
        for (url, want) in cases {
            match (names(url).map(|(_, domain)| domain), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
                (Err(why), Err(want)) => assert!(why.contains(want), "{url}: {why}"),
                (got, want) => panic!("{url}: {got:?}, wanted {want:?}"),
            }
        }
    }
}
