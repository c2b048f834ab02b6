//! Gatus conditions (`[STATUS] == 200`, `[BODY].status == UP`, …) mapped
//! to a hopwatch `expect:`; each one without an equivalent becomes a note.

use std::time::Duration;

use super::super::duration::{go_duration, spell};
use super::super::model::{Value, not_imported};
use super::super::status;

// Condition text comes from the tree `env` rewrote, so it is already in
// hopwatch's `${VAR}` spelling and is written as it is.

/// The kind of monitor the conditions belong to: it decides which
/// expectations hopwatch can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `http://` (no certificate to check).
    Http,
    /// `https://`.
    Https,
    /// `tcp://`.
    Tcp,
    /// `tls://`.
    Tls,
    /// An endpoint with `dns:`.
    Dns,
    /// `grpc://` or `grpcs://`: the gRPC health check.
    Grpc,
    /// `ws://` or `wss://`.
    Websocket,
    /// `starttls://`: an smtp monitor with `starttls: true`.
    Smtp,
    /// `icmp://`.
    Icmp,
}

/// The `expect:` built from a list of conditions, and a line for each
/// condition that did not map.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Mapped {
    /// The keys of `expect:`, in the schema's order.
    pub expect: Vec<(String, Value)>,
    /// `not imported: …` and other comment lines.
    pub notes: Vec<String>,
    /// Days of registration a `[DOMAIN_EXPIRATION]` condition asks for:
    /// a `domain` monitor of its own, since hopwatch checks it apart.
    pub domain_min_days: Option<u32>,
}

#[derive(Default)]
struct Builder {
    /// Allowed statuses once a status condition was read.
    status: Option<Vec<bool>>,
    max_latency: Option<Duration>,
    body_contains: Option<String>,
    body_regex: Option<String>,
    json: Vec<(String, String)>,
    cert_min_days: Option<u32>,
    domain_min_days: Option<u32>,
    answers: Option<Vec<String>>,
    notes: Vec<String>,
}

/// Maps the conditions of one endpoint.
pub(crate) fn map(conditions: &[String], probe: Probe) -> Mapped {
    let mut b = Builder::default();
    for condition in conditions {
        if let Err(why) = one(&mut b, condition, probe) {
            b.notes
                .push(not_imported(format!("condition {condition:?}"), why));
        }
    }
    b.finish(probe)
}

/// The operators Gatus knows, in the order it looks for them.
const OPERATORS: [&str; 6] = ["==", "!=", "<=", ">=", ">", "<"];

fn one(b: &mut Builder, condition: &str, probe: Probe) -> Result<(), String> {
    let (left, op, right) = OPERATORS
        .iter()
        .find_map(|op| {
            condition
                .split_once(&format!(" {op} "))
                .map(|(l, r)| (l.trim(), *op, r.trim()))
        })
        .ok_or("no comparison in it")?;
    // `200 == [STATUS]` reads like `[STATUS] == 200`, with `<` turned round.
    let (left, op, right) = if is_placeholder(right) && !is_placeholder(left) {
        let flipped = match op {
            "<" => ">",
            ">" => "<",
            "<=" => ">=",
            ">=" => "<=",
            same => same,
        };
        (right, flipped, left)
    } else {
        (left, op, right)
    };
    let only = |probes: &[Probe], what: &str| {
        if probes.contains(&probe) {
            Ok(())
        } else {
            Err(format!("hopwatch checks no {what} on this kind of monitor"))
        }
    };
    match left {
        "[STATUS]" => {
            only(&[Probe::Http, Probe::Https], "status")?;
            status(b, op, right)
        }
        "[RESPONSE_TIME]" => latency(b, op, right),
        "[CONNECTED]" => match (op, right) {
            // Every hopwatch check fails when it cannot connect.
            ("==", "true") | ("!=", "false") => Ok(()),
            _ => Err("hopwatch has no check that passes when nothing answers".into()),
        },
        "[CERTIFICATE_EXPIRATION]" => {
            only(&[Probe::Https, Probe::Tls, Probe::Smtp], "certificate")?;
            certificate(b, op, right)
        }
        "[DNS_RCODE]" => match (op, right) {
            // A dns monitor fails on any other answer code.
            ("==", "NOERROR") if probe == Probe::Dns => Ok(()),
            _ => Err("hopwatch's dns check passes only on NOERROR".into()),
        },
        "[BODY]" if probe == Probe::Dns => answers(b, op, right),
        "[BODY]" if probe == Probe::Websocket => reply(b, op, right),
        // What Gatus reads from the health answer, and what hopwatch's grpc
        // check requires anyway.
        "[BODY].status" if probe == Probe::Grpc => match (op, right) {
            ("==", "SERVING") => Ok(()),
            _ => Err("hopwatch's grpc check passes only on SERVING".into()),
        },
        "[BODY]" => {
            only(&[Probe::Http, Probe::Https], "response body")?;
            body(b, op, right)
        }
        // A name in the URL has a registration; a dns endpoint's URL is
        // its resolver, which Gatus does not check either.
        "[DOMAIN_EXPIRATION]" if probe == Probe::Dns => {
            Err("Gatus checks domain expiry on the endpoint's URL, and a dns endpoint's URL is its resolver".into())
        }
        "[DOMAIN_EXPIRATION]" => {
            let days = min_days(b, "domain registration", op, right)?;
            b.domain_min_days = Some(b.domain_min_days.map_or(days, |d| d.max(days)));
            Ok(())
        }
        "[IP]" => Err("hopwatch has no expectation on the address".into()),
        _ if left.starts_with("len(") || left.starts_with("has(") => {
            Err("hopwatch has no len() or has() on JSON".into())
        }
        _ if left.starts_with("[BODY]") => {
            only(&[Probe::Http, Probe::Https], "JSON body")?;
            json(b, op, &left["[BODY]".len()..], right)
        }
        _ => Err("hopwatch has no equivalent".into()),
    }
}

fn is_placeholder(text: &str) -> bool {
    text.starts_with('[') || text.starts_with("len(") || text.starts_with("has(")
}

/// `pat(…)` or `any(…)` around a value: the function and its inside.
fn function(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_suffix(')')?;
    ["pat(", "any("]
        .into_iter()
        .find_map(|f| inner.strip_prefix(f).map(|rest| (&f[..3], rest)))
}

fn status(b: &mut Builder, op: &str, right: &str) -> Result<(), String> {
    let codes = status::FIRST..=status::LAST;
    let allowed: Vec<bool> = match (op, function(right)) {
        ("==" | "!=", Some(("any", list))) => {
            let wanted: Vec<u16> = list
                .split(',')
                .map(|s| s.trim().parse::<u16>())
                .collect::<Result<_, _>>()
                .map_err(|_| "a status that is not a number".to_owned())?;
            codes.map(|c| wanted.contains(&c) == (op == "==")).collect()
        }
        ("==" | "!=", Some(("pat", pattern))) => {
            let regex = glob_regex(pattern).ok_or("a pattern hopwatch cannot read")?;
            let regex = regex::Regex::new(&regex).map_err(|e| e.to_string())?;
            codes
                .map(|c| regex.is_match(&c.to_string()) == (op == "=="))
                .collect()
        }
        (_, _) => {
            let n: i64 = right
                .parse()
                .map_err(|_| format!("{right:?} is not a status"))?;
            codes
                .map(|c| {
                    let c = i64::from(c);
                    match op {
                        "==" => c == n,
                        "!=" => c != n,
                        "<" => c < n,
                        "<=" => c <= n,
                        ">" => c > n,
                        _ => c >= n,
                    }
                })
                .collect()
        }
    };
    // Several status conditions must all hold: their sets intersect.
    let merged = match b.status.take() {
        None => allowed,
        Some(before) => before.iter().zip(&allowed).map(|(a, b)| *a && *b).collect(),
    };
    b.status = Some(merged);
    Ok(())
}

fn latency(b: &mut Builder, op: &str, right: &str) -> Result<(), String> {
    if !matches!(op, "<" | "<=") {
        return Err("hopwatch bounds latency from above only (max_latency)".into());
    }
    // Gatus reads a bare number as milliseconds, and also takes durations.
    let limit = match right.parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => go_duration(right).ok_or_else(|| format!("{right:?} is not a duration"))?,
    };
    b.max_latency = Some(b.max_latency.map_or(limit, |l| l.min(limit)));
    Ok(())
}

fn certificate(b: &mut Builder, op: &str, right: &str) -> Result<(), String> {
    let days = min_days(b, "certificate", op, right)?;
    b.cert_min_days = Some(b.cert_min_days.map_or(days, |d| d.max(days)));
    Ok(())
}

/// `> 48h`: the whole days left that `what` must have, rounded up (never
/// less strict than the source), with a note when that rounded.
fn min_days(b: &mut Builder, what: &str, op: &str, right: &str) -> Result<u32, String> {
    if !matches!(op, ">" | ">=") {
        return Err("hopwatch asks for a minimum of days left only".into());
    }
    let left = go_duration(right).ok_or_else(|| format!("{right:?} is not a duration"))?;
    let days = left.as_secs().div_ceil(86_400);
    let days = u32::try_from(days).map_err(|_| "too many days".to_owned())?;
    if left.as_secs() % 86_400 != 0 {
        b.notes.push(format!(
            "{what} must last more than {right}: hopwatch counts whole days, so {days}"
        ));
    }
    Ok(days)
}

fn body(b: &mut Builder, op: &str, right: &str) -> Result<(), String> {
    if op != "==" {
        return Err("hopwatch's body expectations are positive matches only".into());
    }
    let (contains, regex) = match function(right) {
        Some(("pat", pattern)) => match contained_text(pattern) {
            Some(text) => (Some(text), None),
            None => (
                None,
                Some(glob_regex(pattern).ok_or("a pattern hopwatch cannot read")?),
            ),
        },
        Some((_, list)) => {
            let options: Vec<String> = list.split(',').map(|o| regex::escape(o.trim())).collect();
            (None, Some(format!("^(?:{})$", options.join("|"))))
        }
        None => (None, Some(format!("^{}$", regex::escape(right)))),
    };
    // A text to contain fits in either slot, as a regex if it must.
    match (contains, regex) {
        (Some(text), _) if b.body_contains.is_none() => b.body_contains = Some(text),
        (Some(text), _) if b.body_regex.is_none() => b.body_regex = Some(regex::escape(&text)),
        (None, Some(regex)) if b.body_regex.is_none() => b.body_regex = Some(regex),
        _ => return Err("hopwatch takes one body_contains and one body_regex".into()),
    }
    Ok(())
}

/// A websocket reply: hopwatch takes one text it must contain, so only
/// `pat(*text*)` (or the exact text, which contains itself) maps.
fn reply(b: &mut Builder, op: &str, right: &str) -> Result<(), String> {
    let text = match function(right) {
        Some(("pat", pattern)) => contained_text(pattern),
        Some(_) => None,
        None => Some(right.to_owned()),
    };
    match text {
        Some(text) if op == "==" && b.body_contains.is_none() => {
            b.body_contains = Some(text);
            Ok(())
        }
        _ => Err("hopwatch's websocket check takes one text the reply contains".into()),
    }
}

fn json(b: &mut Builder, op: &str, path: &str, right: &str) -> Result<(), String> {
    if op != "==" {
        return Err("hopwatch compares JSON values for equality only".into());
    }
    if function(right).is_some() {
        return Err("hopwatch compares JSON values with one value, not pat() or any()".into());
    }
    let path = format!("${path}");
    serde_json_path::JsonPath::parse(&path).map_err(|_| format!("{path} is not a JSONPath"))?;
    // Gatus compares the text of the value, and hopwatch compares a string
    // with the text of a number or boolean: a string is always right.
    b.json.push((path, right.to_owned()));
    Ok(())
}

fn answers(b: &mut Builder, op: &str, right: &str) -> Result<(), String> {
    if op != "==" || function(right).is_some() {
        return Err("hopwatch expects a set of answers, not a pattern".into());
    }
    b.notes.push(format!(
        "Gatus compared the last answer with {right}; hopwatch compares the whole answer set"
    ));
    b.answers
        .get_or_insert_with(Vec::new)
        .push(right.to_owned());
    Ok(())
}

/// `*text*` with no other wildcard: the text it contains.
fn contained_text(pattern: &str) -> Option<String> {
    let inner = pattern.strip_prefix('*')?.strip_suffix('*')?;
    (!inner.is_empty() && !inner.contains(['*', '?', '[', '\\'])).then(|| inner.to_owned())
}

/// A Gatus pattern (Go's `filepath.Match`: `*`, `?`, `[…]`, `\` escapes)
/// as an anchored regex over the whole text. `None` for a malformed one,
/// which Gatus never matches either.
pub(crate) fn glob_regex(pattern: &str) -> Option<String> {
    let mut out = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => out.push_str(&regex::escape(&chars.next()?.to_string())),
            '[' => {
                out.push('[');
                let mut first = true;
                loop {
                    match chars.next()? {
                        ']' if !first => break,
                        '^' if first => out.push('^'),
                        '-' => out.push('-'),
                        '\\' => out.push_str(&regex::escape(&chars.next()?.to_string())),
                        other => out.push_str(&regex::escape(&other.to_string())),
                    }
                    first = false;
                }
                out.push(']');
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push('$');
    Some(out)
}

impl Builder {
    fn finish(mut self, probe: Probe) -> Mapped {
        let mut expect = Vec::new();
        let http = matches!(probe, Probe::Http | Probe::Https);
        match self.status.take() {
            Some(allowed) if !allowed.contains(&true) => self.notes.push(not_imported(
                "the status conditions",
                "no status meets them all",
            )),
            Some(allowed) => expect.push(("status".to_owned(), status::value(&allowed))),
            // Gatus passes any status unless a condition names one;
            // hopwatch's default is 2xx, so every class is written out.
            None if http => {
                self.notes
                    .push("no [STATUS] condition in Gatus: every status passes".into());
                expect.push(("status".to_owned(), status::value(&status::every(true))));
            }
            None => {}
        }
        if let Some(text) = self.body_contains {
            expect.push(("body_contains".to_owned(), Value::Str(text)));
        }
        if let Some(regex) = self.body_regex {
            expect.push(("body_regex".to_owned(), Value::Str(regex)));
        }
        if !self.json.is_empty() {
            let pairs = self
                .json
                .into_iter()
                .map(|(path, value)| (path, Value::Str(value)))
                .collect();
            expect.push(("json".to_owned(), Value::Map(pairs)));
        }
        if let Some(limit) = self.max_latency {
            expect.push(("max_latency".to_owned(), Value::Plain(spell(limit))));
        }
        if let Some(days) = self.cert_min_days {
            expect.push(("cert_min_days".to_owned(), Value::int(days)));
        }
        if let Some(answers) = self.answers {
            let answers = answers.into_iter().map(Value::Str).collect();
            expect.push(("answers".to_owned(), Value::List(answers)));
        }
        Mapped {
            expect,
            notes: self.notes,
            domain_min_days: self.domain_min_days,
        }
    }
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
