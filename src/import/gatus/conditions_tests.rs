//! The condition mapping as a table: each Gatus condition, the monitor
//! kind, and the `expect:` (written inline) or the note it gives.

use super::*;
use crate::import::emit::scalar;

/// `expect:` written as one flow mapping, for compact expectations.
fn inline(mapped: &Mapped) -> String {
    let mut parts = Vec::new();
    for (key, value) in &mapped.expect {
        parts.push(format!("{}: {}", scalar(key), show(value)));
    }
    format!("{{{}}}", parts.join(", "))
}

fn show(value: &Value) -> String {
    match value {
        Value::Str(s) => scalar(s),
        Value::Plain(p) => p.clone(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

use Probe::*;

/// (conditions, kind, expected `expect:`, a text the notes must contain or "").
const TABLE: &[(&[&str], Probe, &str, &str)] = &[
    (&["[STATUS] == 200"], Http, "{status: [200]}", ""),
    (
        &["[STATUS] == any(200, 429)"],
        Http,
        "{status: [200, 429]}",
        "",
    ),
    (&["[STATUS] < 300"], Https, "{status: [1xx, 2xx]}", ""),
    (
        &["[STATUS] <= 299", "[STATUS] >= 200"],
        Http,
        "{status: [2xx]}",
        "",
    ),
    (&["[STATUS] == pat(2*)"], Http, "{status: [2xx]}", ""),
    (
        &["[STATUS] != 500", "[STATUS] < 600", "[STATUS] > 499"],
        Http,
        "{status: [501, 502, 503, 504, 505, 506, 507, 508, 509, 510, 511, 512, 513, 514, 515, 516, 517, 518, 519, 520, 521, 522, 523, 524, 525, 526, 527, 528, 529, 530, 531, 532, 533, 534, 535, 536, 537, 538, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549, 550, 551, 552, 553, 554, 555, 556, 557, 558, 559, 560, 561, 562, 563, 564, 565, 566, 567, 568, 569, 570, 571, 572, 573, 574, 575, 576, 577, 578, 579, 580, 581, 582, 583, 584, 585, 586, 587, 588, 589, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599]}",
        "",
    ),
    (&["200 == [STATUS]"], Http, "{status: [200]}", ""),
    (
        &["[STATUS] == 200", "[STATUS] == 201"],
        Http,
        "{}",
        "no status meets them all",
    ),
    (
        &["[STATUS] == ok"],
        Http,
        "{status: [1xx, 2xx, 3xx, 4xx, 5xx]}",
        "is not a status",
    ),
    (
        &["[RESPONSE_TIME] < 300"],
        Http,
        "{status: [1xx, 2xx, 3xx, 4xx, 5xx], max_latency: 300ms}",
        "every status passes",
    ),
    (
        &[
            "[STATUS] == 200",
            "[RESPONSE_TIME] <= 1500",
            "[RESPONSE_TIME] < 2s",
        ],
        Http,
        "{status: [200], max_latency: 1500ms}",
        "",
    ),
    (&["[RESPONSE_TIME] > 10"], Tcp, "{}", "from above only"),
    (
        &["[STATUS] == 200", "[BODY] == pat(*ok*)"],
        Http,
        "{status: [200], body_contains: ok}",
        "",
    ),
    (
        &["[STATUS] == 200", "[BODY] == pat(ok*)"],
        Http,
        "{status: [200], body_regex: \"(?s)^ok.*$\"}",
        "",
    ),
    (
        &[
            "[STATUS] == 200",
            "[BODY] == pat(*ok*)",
            "[BODY] == pat(*up*)",
        ],
        Http,
        "{status: [200], body_contains: ok, body_regex: up}",
        "",
    ),
    (
        &["[STATUS] == 200", "[BODY] == 1"],
        Http,
        "{status: [200], body_regex: \"^1$\"}",
        "",
    ),
    (
        &["[STATUS] == 200", "[BODY] == any(a.b, c)"],
        Http,
        "{status: [200], body_regex: \"^(?:a\\\\.b|c)$\"}",
        "",
    ),
    (
        &["[STATUS] == 200", "[BODY] != 1"],
        Http,
        "{status: [200]}",
        "positive matches only",
    ),
    (
        &["[STATUS] == 200", "[BODY].status == UP"],
        Http,
        "{status: [200], json: {\"$.status\": UP}}",
        "",
    ),
    (
        &["[STATUS] == 200", "[BODY].data[0].id == 1"],
        Http,
        "{status: [200], json: {\"$.data[0].id\": \"1\"}}",
        "",
    ),
    (
        &["[STATUS] == 200", "[BODY].name == pat(john*)"],
        Http,
        "{status: [200]}",
        "not pat() or any()",
    ),
    (
        &["[STATUS] == 200", "len([BODY].data) < 5"],
        Http,
        "{status: [200]}",
        "no len() or has()",
    ),
    (
        &["[STATUS] == 200", "has([BODY].errors) == false"],
        Http,
        "{status: [200]}",
        "no len() or has()",
    ),
    (
        &["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"],
        Https,
        "{status: [200], cert_min_days: 2}",
        "",
    ),
    (
        &["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 36h"],
        Tls,
        "{cert_min_days: 2}",
        "whole days, so 2",
    ),
    (
        &["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 48h"],
        Smtp,
        "{cert_min_days: 2}",
        "",
    ),
    (
        &[
            "[CERTIFICATE_EXPIRATION] > 720h",
            "[CERTIFICATE_EXPIRATION] > 240h",
        ],
        Tls,
        "{cert_min_days: 30}",
        "",
    ),
    (
        &["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"],
        Http,
        "{status: [200]}",
        "no certificate on this kind",
    ),
    (&["[CONNECTED] == true"], Tcp, "{}", ""),
    (
        &["[CONNECTED] == false"],
        Tcp,
        "{}",
        "passes when nothing answers",
    ),
    (&["[STATUS] == 200"], Tcp, "{}", "no status on this kind"),
    (
        &["[DNS_RCODE] == NOERROR", "[BODY] == 192.0.2.1"],
        Dns,
        "{answers: [192.0.2.1]}",
        "whole answer set",
    ),
    (&["[DNS_RCODE] == NXDOMAIN"], Dns, "{}", "only on NOERROR"),
    (&["[BODY] == pat(192.0.2.*)"], Dns, "{}", "not a pattern"),
    (
        &["[STATUS] == 200", "[DOMAIN_EXPIRATION] < 720h"],
        Https,
        "{status: [200]}",
        "a minimum of days left only",
    ),
    (
        &["[STATUS] == 200", "[IP] == 127.0.0.1"],
        Http,
        "{status: [200]}",
        "on the address",
    ),
    (
        &["[STATUS] == 200", "[BODY].x ==1"],
        Http,
        "{status: [200]}",
        "no comparison",
    ),
    (
        &["[CONNECTED] == true", "[BODY].status == SERVING"],
        Grpc,
        "{}",
        "",
    ),
    (
        &["[BODY].status == NOT_SERVING"],
        Grpc,
        "{}",
        "passes only on SERVING",
    ),
    (
        &["[BODY] == pat(*pong*)", "[RESPONSE_TIME] < 500"],
        Websocket,
        "{body_contains: pong, max_latency: 500ms}",
        "",
    ),
    (
        &["[BODY] == pat(p?ng)"],
        Websocket,
        "{}",
        "one text the reply contains",
    ),
    (&["[STATUS] == 101"], Websocket, "{}", "no status"),
];

#[test]
fn conditions_map_as_the_table_says() {
    for (conditions, probe, want, note) in TABLE {
        let conditions: Vec<String> = conditions.iter().map(|c| (*c).to_owned()).collect();
        let mapped = map(&conditions, *probe);
        assert_eq!(inline(&mapped), *want, "{conditions:?} ({probe:?})");
        let notes = mapped.notes.join("\n");
        if note.is_empty() {
            assert!(
                !notes.contains("not imported"),
                "{conditions:?}: unexpected notes {notes}"
            );
        } else {
            assert!(
                notes.contains(note),
                "{conditions:?}: notes {notes:?} lack {note:?}"
            );
        }
    }
}

#[test]
fn patterns_become_anchored_regexes() {
    let cases = [
        ("*ok*", Some("(?s)^.*ok.*$")),
        ("a?c", Some("(?s)^a.c$")),
        ("[a-c]x", Some("(?s)^[a-c]x$")),
        ("[^0-9]", Some("(?s)^[^0-9]$")),
        ("a.b", Some("(?s)^a\\.b$")),
        ("\\*", Some("(?s)^\\*$")),
        ("[ab", None),
        ("x\\", None),
    ];
    for (pattern, want) in cases {
        let got = glob_regex(pattern);
        assert_eq!(got.as_deref(), want, "{pattern:?}");
        if let Some(regex) = got {
            regex::Regex::new(&regex).expect("compiles");
        }
    }
    let regex =
        regex::Regex::new(&glob_regex("*\"status\":\"ok\"*").expect("pattern")).expect("ok");
    assert!(regex.is_match("{\n\"status\":\"ok\"}"));
}

#[test]
fn domain_expiration_asks_for_whole_days_of_registration() {
    let cases = [
        ("[DOMAIN_EXPIRATION] > 720h", Https, Some(30), ""),
        (
            "[DOMAIN_EXPIRATION] >= 36h",
            Tcp,
            Some(2),
            "hopwatch counts whole days, so 2",
        ),
        (
            "[DOMAIN_EXPIRATION] > 720h",
            Dns,
            None,
            "a dns endpoint's URL is its resolver",
        ),
        ("[DOMAIN_EXPIRATION] > soon", Http, None, "not a duration"),
    ];
    for (condition, probe, days, note) in cases {
        let mapped = map(&[condition.to_owned()], probe);
        assert_eq!(mapped.domain_min_days, days, "{condition} ({probe:?})");
        let notes = mapped.notes.join("\n");
        assert!(
            notes.contains(note),
            "{condition}: notes {notes:?} lack {note:?}"
        );
    }
}
