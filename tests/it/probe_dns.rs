//! The dns probe and name resolution against a tiny authoritative server on
//! loopback (UDP and TCP on one port), through the real config path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hopwatch::config::MonitorConfig;
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::resolve;
use hopwatch::probe::{Cause, CheckResult, Hop};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Queries (and connections) a test server serves before it stops, so that
/// every server loop ends even if the runtime outlived the test.
const MAX_QUERIES: usize = 512;

/// How long `slow.hop.test.` keeps the client waiting.
const SLOW: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("a valid test name")
}

/// The test zone. `None` is a name that does not exist.
fn zone(owner: &str) -> Option<Vec<RData>> {
    let a = |last| RData::A(A::new(127, 0, 0, last));
    Some(match owner {
        "www.hop.test." => vec![a(10), a(11), RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1))],
        "alias.hop.test." => vec![RData::CNAME(CNAME(name("www.hop.test.")))],
        "hop.test." => vec![
            RData::MX(MX::new(10, name("mail.hop.test."))),
            RData::NS(NS(name("ns1.hop.test."))),
            RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()])),
        ],
        "mail.hop.test." | "ns1.hop.test." => vec![a(25)],
        "slow.hop.test." => vec![a(12)],
        // Larger than any UDP answer this server is willing to give.
        "big.hop.test." => vec![RData::TXT(TXT::new(vec!["x".repeat(200); 10]))],
        _ => return None,
    })
}

/// The reply to one wire-format query, or `None` to stay silent.
fn reply(query: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries.first()?.clone();
    let qname = question.name().to_ascii().to_ascii_lowercase();
    let qtype = question.query_type();
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.add_query(question.clone());
    match qname.as_str() {
        "silent.test." => return None,
        "broken.test." => response.metadata.response_code = ResponseCode::ServFail,
        "big.hop.test." if transport == Transport::Udp => response.metadata.truncation = true,
        _ if zone(&qname).is_none() => response.metadata.response_code = ResponseCode::NXDomain,
        _ => {
            // Follow in-zone CNAMEs as an authoritative server does, at
            // most a few hops.
            let mut owner = question.name().clone();
            for _ in 0..4 {
                let key = owner.to_ascii().to_ascii_lowercase();
                let data = zone(&key).unwrap_or_default();
                let matching: Vec<RData> = data
                    .iter()
                    .filter(|d| d.record_type() == qtype)
                    .cloned()
                    .collect();
                if !matching.is_empty() {
                    for d in matching {
                        response.add_answer(Record::from_rdata(owner.clone(), 60, d));
                    }
                    break;
                }
                let Some(RData::CNAME(target)) =
                    data.iter().find(|d| d.record_type() == RecordType::CNAME)
                else {
                    break;
                };
                response.add_answer(Record::from_rdata(
                    owner.clone(),
                    60,
                    RData::CNAME(target.clone()),
                ));
                owner = target.0.clone();
            }
        }
    }
    response.to_vec().ok()
}

fn delay_for(query: &[u8]) -> Option<Duration> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries.first()?;
    question
        .name()
        .to_ascii()
        .eq_ignore_ascii_case("slow.hop.test.")
        .then_some(SLOW)
}

/// A running test server.
struct TestDns {
    addr: SocketAddr,
    /// Queries received so far, over both transports.
    queries: Arc<AtomicUsize>,
}

async fn serve_udp(socket: UdpSocket, queries: Arc<AtomicUsize>) {
    let mut buf = vec![0u8; 4096];
    for _ in 0..MAX_QUERIES {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            return;
        };
        queries.fetch_add(1, Ordering::SeqCst);
        let query = &buf[..len];
        if let Some(delay) = delay_for(query) {
            tokio::time::sleep(delay).await;
        }
        if let Some(bytes) = reply(query, Transport::Udp) {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, queries: Arc<AtomicUsize>) {
    for _ in 0..MAX_QUERIES {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve_tcp_connection(stream, queries.clone()));
    }
}

/// RFC 1035 4.2.2: each message prefixed with its length, many per connection.
async fn serve_tcp_connection(mut stream: TcpStream, queries: Arc<AtomicUsize>) {
    for _ in 0..MAX_QUERIES {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        queries.fetch_add(1, Ordering::SeqCst);
        if let Some(delay) = delay_for(&query) {
            tokio::time::sleep(delay).await;
        }
        // Silence keeps the connection open and says nothing.
        let Some(bytes) = reply(&query, Transport::Tcp) else {
            continue;
        };
        let Ok(len) = u16::try_from(bytes.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Starts the test server on 127.0.0.1, UDP and TCP on the same port.
async fn spawn_dns() -> TestDns {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = udp.local_addr().expect("udp address");
        // The TCP port of the same number may be taken; try another pair.
        let Ok(tcp) = TcpListener::bind(addr).await else {
            continue;
        };
        let queries = Arc::new(AtomicUsize::new(0));
        tokio::spawn(serve_udp(udp, queries.clone()));
        tokio::spawn(serve_tcp(tcp, queries.clone()));
        return TestDns { addr, queries };
    }
    panic!("no free UDP+TCP port pair on 127.0.0.1");
}

/// Builds a dns monitor from `fields` as the config loader would, and runs it.
async fn run(server: SocketAddr, fields: Value) -> CheckResult {
    let mut monitor =
        json!({"name": "d", "type": "dns", "server": server.to_string(), "timeout": "2s"});
    let (Some(monitor_fields), Value::Object(extra)) = (monitor.as_object_mut(), fields) else {
        panic!("monitor fields must be an object");
    };
    monitor_fields.extend(extra);
    let config: MonitorConfig = serde_json::from_value(monitor).expect("a valid dns monitor");
    let spec =
        compile::probe(&config, &TrustStore::default()).expect("a dns monitor that compiles");
    hopwatch::probe::run(&spec).await
}

/// The cause, and for DNS failures (and success) the hop the verdict names.
fn assert_cause(result: &CheckResult, cause: Cause) {
    assert_eq!(result.cause, cause, "error: {:?}", result.error);
    assert_eq!(result.ok, cause == Cause::Ok);
    match cause {
        Cause::Ok => assert_eq!(result.verdict.hop, Hop::None),
        Cause::DnsNxdomain | Cause::DnsError | Cause::DnsTimeout => {
            assert_eq!(result.verdict.hop, Hop::Dns, "{:?}", result.verdict)
        }
        _ => {}
    }
}

#[tokio::test]
async fn a_records_match_expected_answers_as_a_set() {
    let server = spawn_dns().await.addr;
    let result = run(
        server,
        json!({"query": "www.hop.test", "record": "A", "expect": {"answers": ["127.0.0.11", "127.0.0.10"]}}),
    )
    .await;
    assert_cause(&result, Cause::Ok);
    assert_eq!(result.remote_addr, Some(server));
    assert_eq!(result.error, None);
}

#[tokio::test]
async fn every_record_type_renders_as_configured() {
    let server = spawn_dns().await.addr;
    let cases = [
        ("www.hop.test", "AAAA", json!(["0:0:0:0:0:0:0:1"])),
        ("alias.hop.test", "CNAME", json!(["WWW.hop.test."])),
        // An A query through a CNAME yields the addresses only.
        ("alias.hop.test", "A", json!(["127.0.0.10", "127.0.0.11"])),
        ("hop.test", "MX", json!(["10 mail.hop.test"])),
        ("hop.test", "TXT", json!(["v=spf1 -all"])),
        ("hop.test", "NS", json!(["ns1.hop.test"])),
    ];
    for (query, record, answers) in cases {
        let result = run(
            server,
            json!({"query": query, "record": record, "expect": {"answers": answers}}),
        )
        .await;
        assert_eq!(
            result.cause,
            Cause::Ok,
            "{query} {record}: {:?}",
            result.error
        );
    }
}

#[tokio::test]
async fn a_different_answer_fails_the_assertion_and_names_both_sets() {
    let server = spawn_dns().await.addr;
    let result = run(
        server,
        json!({"query": "www.hop.test", "record": "A", "expect": {"answers": ["127.0.0.99"]}}),
    )
    .await;
    assert_cause(&result, Cause::AssertionFailed);
    assert_eq!(
        result.error.as_deref(),
        Some("expected answers [127.0.0.99], got [127.0.0.10, 127.0.0.11]")
    );
}

#[tokio::test]
async fn an_unknown_name_is_nxdomain() {
    let server = spawn_dns().await.addr;
    let result = run(server, json!({"query": "nope.hop.test", "record": "A"})).await;
    assert_cause(&result, Cause::DnsNxdomain);
}

#[tokio::test]
async fn servfail_is_a_dns_error_naming_the_rcode() {
    let server = spawn_dns().await.addr;
    let result = run(server, json!({"query": "broken.test", "record": "A"})).await;
    assert_cause(&result, Cause::DnsError);
    let error = result.error.unwrap_or_default();
    assert!(error.contains("SERVFAIL"), "{error}");
}

#[tokio::test]
async fn a_silent_server_is_a_dns_timeout() {
    let server = spawn_dns().await.addr;
    let result = run(
        server,
        json!({"query": "silent.test", "record": "A", "timeout": "300ms"}),
    )
    .await;
    assert_cause(&result, Cause::DnsTimeout);
    assert_eq!(result.remote_addr, Some(server));
}

#[tokio::test]
async fn an_empty_answer_fails_unless_none_is_expected() {
    let server = spawn_dns().await.addr;
    let result = run(server, json!({"query": "www.hop.test", "record": "MX"})).await;
    assert_cause(&result, Cause::DnsError);
    let error = result.error.unwrap_or_default();
    assert!(error.contains("NOERROR"), "{error}");

    let expected_some = run(
        server,
        json!({"query": "www.hop.test", "record": "MX", "expect": {"answers": ["10 mail.hop.test"]}}),
    )
    .await;
    assert_cause(&expected_some, Cause::DnsError);

    let expected_empty = run(
        server,
        json!({"query": "www.hop.test", "record": "MX", "expect": {"answers": []}}),
    )
    .await;
    assert_cause(&expected_empty, Cause::Ok);
}

#[tokio::test]
async fn a_truncated_udp_answer_is_retried_over_tcp() {
    let server = spawn_dns().await.addr;
    let whole = "x".repeat(2000);
    let result = run(
        server,
        json!({"query": "big.hop.test", "record": "TXT", "expect": {"answers": [whole]}}),
    )
    .await;
    assert_cause(&result, Cause::Ok);
}

#[tokio::test]
async fn a_correct_but_slow_answer_is_too_slow() {
    let server = spawn_dns().await.addr;
    // The server waits 50 ms before answering, so 1 ms cannot be met.
    let result = run(
        server,
        json!({"query": "slow.hop.test", "record": "A", "expect": {"answers": ["127.0.0.12"], "max_latency": "1ms"}}),
    )
    .await;
    assert_cause(&result, Cause::TooSlow);
    assert!(result.phases_ms.dns >= 1.0, "{:?}", result.phases_ms);

    let relaxed = run(
        server,
        json!({"query": "slow.hop.test", "record": "A", "expect": {"max_latency": "10s"}}),
    )
    .await;
    assert_cause(&relaxed, Cause::Ok);
}

#[tokio::test]
async fn every_check_asks_the_server_again() {
    // A cached answer would hide a record deleted since the last check.
    let dns = spawn_dns().await;
    let fields = json!({"query": "www.hop.test", "record": "A"});
    for _ in 0..2 {
        assert_cause(&run(dns.addr, fields.clone()).await, Cause::Ok);
    }
    assert!(dns.queries.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn localhost_resolves_to_a_loopback_address() {
    let addrs = resolve::lookup("localhost", 80)
        .await
        .expect("localhost resolves");
    assert!(!addrs.is_empty());
    for addr in addrs {
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 80);
    }
}

#[tokio::test]
async fn invalid_names_are_nxdomain_and_literals_are_themselves() {
    let failure = resolve::lookup("name.invalid", 80)
        .await
        .expect_err("no such name");
    assert_eq!(failure.cause, Cause::DnsNxdomain);

    let v4 = resolve::lookup("127.0.0.1", 8080).await.expect("a literal");
    assert_eq!(
        v4,
        vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 8080)]
    );
    let v6 = resolve::lookup("[::1]", 443)
        .await
        .expect("a bracketed literal");
    assert_eq!(v6, vec!["[::1]:443".parse::<SocketAddr>().unwrap()]);
}

/// Resolvers are kept per server for the process, and their UDP and TCP
/// connections are tasks of the runtime that opened them. A later runtime
/// (another test, another command) must get fresh ones, not a dns_error.
#[test]
fn a_kept_resolver_works_from_a_later_runtime() {
    let server_runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dns = server_runtime.block_on(spawn_dns());
    for _ in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let udp = runtime.block_on(run(
            dns.addr,
            json!({"query": "www.hop.test", "record": "A"}),
        ));
        assert_cause(&udp, Cause::Ok);
        let tcp = runtime.block_on(run(
            dns.addr,
            json!({"query": "big.hop.test", "record": "TXT"}),
        ));
        assert_cause(&tcp, Cause::Ok);
    }
}
