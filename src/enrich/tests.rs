//! Unit tests of the enriching sink and of the rebuilt record.

use super::reported::MAX_REPORTED_ENDPOINTS;
use super::*;
use crate::engine::MemorySink;
use serde_json::json;

/// A captured TLS 1.3 flow to 127.0.0.1:`port` whose chain was hidden.
fn hidden(port: u16) -> FlowRecord {
    serde_json::from_value(json!({
        "transport": "tcp",
        "client": {"ip": "127.0.0.2", "port": 40000},
        "server": {"ip": "127.0.0.1", "port": port},
        "role_source": "syn", "first_seen": "2026-12-05T08:00:00Z",
        "last_seen": "2026-12-05T08:00:01Z", "packets": 10, "bytes": 1000,
        "protection": "tls", "app_protocol": null,
        "tls": {
            "handshake_seen": true, "version": "TLS1.3",
            "cipher_suite": "TLS_AES_128_GCM_SHA256", "sni": null,
            "alpn_offered": [], "alpn": null, "resumed": false,
            "client_cert_requested": false, "mutual": false,
            "mutual_evidence": "encrypted-flight-size",
            "mutual_unknown_reason": null, "mutual_inference": null,
            "server_chain": [], "client_chain": [], "certificates_encrypted": true,
            "ja4": null, "versions_offered": ["TLS1.3"], "hello_retry_request": false,
            "starttls": false, "alerts": [], "record_version": null, "notes": []
        },
        "tcp": null, "inside": null, "ended_by": null, "truncated": false
    }))
    .unwrap()
}

/// Thousands of endpoints: at most `max_endpoints` are asked, the rest
/// are said to be over the limit, every flow still comes out, and
/// flows that need nothing pass straight through.
#[test]
fn endpoints_and_held_flows_are_bounded() {
    // Ports nothing listens on: each handshake is refused at once.
    let cfg = EnrichConfig {
        max_endpoints: 20,
        max_held_flows: 1500,
        ..EnrichConfig::default()
    };
    let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
    let mut plain = hidden(1);
    plain.tls = None;
    plain.protection = crate::model::Protection::Plaintext;
    sink.flow(0, plain);
    for i in 0..2000u16 {
        sink.flow(u64::from(i) + 1, hidden(20_000 + i));
    }
    assert_eq!(sink.held.len(), 1500, "held flows are bounded");
    let (inner, run) = sink.finish();
    let flows = inner.into_sorted();
    assert_eq!(flows.len(), 2001, "every flow comes out");
    assert_eq!(run.endpoints.len(), 20);
    assert_eq!(run.endpoints_over_limit, 1480);
    assert!(
        run.endpoints
            .iter()
            .all(|e| e.error.as_deref().is_some_and(|e| e.starts_with("refused"))),
        "{:?}",
        run.endpoints
    );
    assert_eq!(run.flows_enriched, 0);
    assert_eq!(run.flows_not_enriched, 2000);
    let errors: Vec<_> = flows
        .iter()
        .filter_map(|f| f.tls.as_ref()?.enrichment.as_ref()?.server_error.clone())
        .collect();
    // 1,480 endpoints over the limit, 500 flows past the held bound.
    assert_eq!(errors.iter().filter(|e| *e == "over-limit").count(), 1980);
}

/// A server that accepts and never answers, with a handshake deadline
/// far away: the run's own deadline ends the wait, and says so.
#[test]
fn the_run_waits_for_handshakes_at_most_max_wait() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let mut cfg = EnrichConfig {
        max_wait: std::time::Duration::from_millis(500),
        ..EnrichConfig::default()
    };
    cfg.probe.io_timeout = std::time::Duration::from_secs(60);
    let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
    sink.flow(1, hidden(port));
    let started = std::time::Instant::now();
    let (inner, run) = sink.finish();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let error = run.endpoints[0].error.clone().unwrap_or_default();
    assert!(error.starts_with("timeout"), "{error}");
    let flows = inner.into_sorted();
    let e = flows[0].tls.as_ref().unwrap().enrichment.as_ref().unwrap();
    assert!(
        e.server_error
            .as_deref()
            .unwrap_or_default()
            .starts_with("timeout")
    );
    drop(silent);
}

/// A TLS server on 127.0.0.1 presenting, to each connection in turn,
/// the next of `names`' self-signed certificates (one per name).
fn rotating_server(names: &[&str], connections: usize) -> u16 {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let configs: Vec<Arc<rustls::ServerConfig>> = names
        .iter()
        .map(|n| {
            let c = rcgen::generate_simple_self_signed(vec![(*n).to_string()]).unwrap();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.signing_key.serialize_der()));
            Arc::new(
                rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(vec![c.cert.der().clone()], key)
                    .unwrap(),
            )
        })
        .collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for n in 0..connections {
            let Ok((mut tcp, _)) = listener.accept() else {
                return;
            };
            let cfg = Arc::clone(&configs[n % configs.len()]);
            let mut conn = rustls::ServerConnection::new(cfg).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    break;
                }
            }
            let _ = conn.complete_io(&mut tcp);
        }
    });
    port
}

/// An endpoint that presents one chain, then another (a Service
/// address over pods with different identities): the chain is not
/// attached, the flow's certificate checks stay open with the reason,
/// and the record says the answers differed.
#[test]
fn a_chain_that_changes_between_two_handshakes_is_not_attached() {
    let port = rotating_server(&["a.test", "b.test"], 2);
    let mut sink = EnrichingSink::new(MemorySink::default(), EnrichConfig::default());
    sink.flow(1, hidden(port));
    let (inner, run) = sink.finish();
    let ep = &run.endpoints[0];
    assert_eq!(ep.same_on_repeat, Some(false), "{ep:?}");
    assert!(
        ep.error
            .as_deref()
            .unwrap_or_default()
            .starts_with("unstable"),
        "{ep:?}"
    );
    let flows = inner.into_sorted();
    let t = flows[0].tls.as_ref().unwrap();
    assert!(t.server_chain.is_empty(), "no chain attached");
    let e = t.enrichment.as_ref().unwrap();
    assert!(e.server_error.as_deref().unwrap().starts_with("unstable"));
    assert_eq!(run.flows_enriched, 0);
    assert_eq!(run.flows_not_enriched, 1);
}

/// The same endpoint twice with one certificate: attached, and said to
/// be stable.
#[test]
fn a_stable_chain_is_attached_with_its_provenance() {
    let port = rotating_server(&["a.test"], 2);
    let mut sink = EnrichingSink::new(MemorySink::default(), EnrichConfig::default());
    sink.flow(1, hidden(port));
    let (inner, run) = sink.finish();
    assert_eq!(run.endpoints[0].same_on_repeat, Some(true));
    assert_eq!(run.endpoints[0].error, None);
    let flows = inner.into_sorted();
    let t = flows[0].tls.as_ref().unwrap();
    assert_eq!(t.server_chain.len(), 1);
    let src = t
        .enrichment
        .as_ref()
        .unwrap()
        .server_chain_source
        .as_ref()
        .unwrap();
    assert_eq!(src.same_on_repeat, Some(true));
    assert_eq!(src.source, "probe");
    assert!(!src.vantage.is_empty());
    assert_eq!(src.endpoint, format!("127.0.0.1:{port}"));
}

/// A running agent (`refresh`): a held flow goes on as soon as its
/// handshakes are in, on a tick, not at the end of the capture.
#[test]
fn a_running_agent_passes_flows_on_when_their_handshake_ends() {
    let port = rotating_server(&["a.test"], 2);
    let cfg = EnrichConfig {
        refresh: Some(std::time::Duration::from_secs(600)),
        ..EnrichConfig::default()
    };
    let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
    sink.flow(1, hidden(port));
    assert_eq!(sink.held.len(), 1, "held while the handshake runs");
    let started = std::time::Instant::now();
    while !sink.held.is_empty() && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        sink.tick();
    }
    assert!(sink.held.is_empty(), "released before the end");
    let flows = std::mem::take(&mut sink.inner).into_sorted();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].tls.as_ref().unwrap().server_chain.len(), 1);
    // A second flow to the same endpoint within `refresh`: no new
    // handshake, attached at once.
    sink.flow(2, hidden(port));
    assert!(sink.held.is_empty());
    let (_, run) = sink.finish();
    assert_eq!(run.endpoints.len(), 1);
    assert_eq!(run.endpoints[0].flows, 2);
    assert_eq!(run.flows_enriched, 2);
}

/// A running agent at its endpoint limit forgets the endpoint asked
/// longest ago instead of refusing every new one for good.
#[test]
fn a_running_agent_makes_room_for_new_endpoints() {
    let cfg = EnrichConfig {
        max_endpoints: 2,
        refresh: Some(std::time::Duration::from_secs(600)),
        ..EnrichConfig::default()
    };
    let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
    for (i, port) in [1u16, 2, 3, 4].into_iter().enumerate() {
        sink.flow(i as u64, hidden(port));
        // Refused at once: let the handshake end before the next.
        let started = std::time::Instant::now();
        while !sink.held.is_empty() && started.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(10));
            sink.tick();
        }
    }
    let (_, run) = sink.finish();
    assert_eq!(run.endpoints_over_limit, 0);
    let ports: Vec<&str> = run.endpoints.iter().map(|e| e.endpoint.as_str()).collect();
    assert_eq!(ports.len(), 2);
    assert!(
        ports.contains(&"127.0.0.1:3") && ports.contains(&"127.0.0.1:4"),
        "{ports:?}"
    );
}

/// A replayed stream's agent-made enrichment is rebuilt from its flows,
/// labelled as the agent's.
#[test]
fn reported_enrichment_is_rebuilt_from_the_flows() {
    let port = rotating_server(&["a.test"], 2);
    let mut sink = EnrichingSink::new(MemorySink::default(), EnrichConfig::default());
    sink.flow(1, hidden(port));
    sink.flow(2, hidden(1));
    let (inner, _) = sink.finish();
    let mut reported = Reported::default();
    for f in inner.into_sorted() {
        reported.observe(&f);
    }
    reported.observe(&hidden(5));
    let record = reported.record().expect("a record");
    assert!(
        record.vantage.starts_with("reported by the agent: "),
        "{}",
        record.vantage
    );
    assert_eq!(record.flows_enriched, 1);
    assert_eq!(record.flows_not_enriched, 1);
    assert_eq!(record.endpoints.len(), 2);
    assert!(Reported::default().record().is_none());
}

/// A hostile stream's enrichment is bounded: oversized entries and
/// endpoints past the limit are counted, not kept.
#[test]
fn reported_enrichment_is_bounded() {
    let mut reported = Reported::default();
    let with = |endpoint: String, sni: String| {
        let mut f = hidden(443);
        let t = f.tls.as_mut().unwrap();
        t.enrichment = Some(Box::new(TlsEnrichment {
            server_error: Some("refused: no".into()),
            ..TlsEnrichment::default()
        }));
        t.sni = Some(sni);
        f.server.ip = endpoint;
        f
    };
    reported.observe(&with("10.0.0.1".into(), "x".repeat(100_000)));
    for i in 0..(MAX_REPORTED_ENDPOINTS + 10) {
        reported.observe(&with(
            format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            "a".into(),
        ));
    }
    let r = reported.record().unwrap();
    assert_eq!(r.endpoints.len(), MAX_REPORTED_ENDPOINTS);
    assert_eq!(r.endpoints_over_limit, 11);
    assert!(r.endpoints.iter().all(|e| e.sni.as_deref() == Some("a")));
}
