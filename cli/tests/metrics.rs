//! Prometheus metrics and per-peer status of real `communs node run`
//! processes on loopback: scraped from the API and from `[metrics]
//! listen`, parsed line by line, and seen to move as a design travels.
// Signals to the node processes (kill(2)).
#![allow(unsafe_code)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::daemon::{Daemon, eventually};
use support::http::{get, request};
use support::{Node, small_design, write_files};

/// One sample line: its metric name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Checks `text` line by line against the text exposition format
/// (OpenMetrics, as `prometheus-client` writes it and Prometheus reads
/// it): metadata lines, then samples whose names belong to a declared
/// family, every family declared once, `# EOF` last. Returns the samples.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "the exposition ends with # EOF");
    assert!(text.ends_with("# EOF\n"));
    for line in &lines[..lines.len() - 1] {
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let name = name.unwrap_or_else(|| panic!("metadata without a name: {line:?}"));
            assert!(name_ok(name), "bad metric name in {line:?}");
            match kind {
                Some("TYPE") => {
                    let kind = rest.unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "info", "unknown", "summary", "stateset"].contains(&kind),
                        "unknown type in {line:?}"
                    );
                    assert!(families.insert(name.to_owned(), kind.to_owned()).is_none(), "{name} declared twice");
                }
                Some("HELP") | Some("UNIT") => {}
                _ => panic!("not a metadata line: {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample without a value: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name, parse_labels(inner, line))
            }
            None => (series, BTreeMap::new()),
        };
        assert!(name_ok(name), "bad metric name in {line:?}");
        let family = ["_total", "_bucket", "_count", "_sum", "_created", "_info", ""]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| families.contains_key(*f)))
            .unwrap_or_else(|| panic!("sample {name} of no declared family"));
        if families[family] == "counter" {
            assert!(
                name.ends_with("_total") || name.ends_with("_created"),
                "a counter sample ends in _total: {line:?}"
            );
        }
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    samples
}

fn parse_labels(mut inner: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !inner.is_empty() {
        let (key, rest) = inner.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line:?}"));
        // A value ends at the first quote not escaped.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end.unwrap_or_else(|| panic!("unterminated label value in {line:?}"));
        assert!(labels.insert(key.to_owned(), rest[..end].to_owned()).is_none(), "label {key} twice in {line:?}");
        inner = rest[end + 1..].strip_prefix(',').unwrap_or(&rest[end + 1..]);
    }
    labels
}

/// The sum of the samples named `name` (over every label set).
fn total(samples: &[Sample], name: &str) -> f64 {
    samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
}

fn api_addr(node: &Node) -> String {
    let running: serde_json::Value =
        serde_json::from_slice(&std::fs::read(node.home.join("api.json")).expect("api.json")).expect("json");
    running["api"].as_str().expect("api address").to_owned()
}

fn scrape(addr: &str) -> Vec<Sample> {
    let answer = get(addr, "/metrics");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.header("content-type").is_some_and(|t| t.starts_with("application/openmetrics-text")), "{answer:?}");
    parse_exposition(&answer.text())
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn metrics_move_as_a_design_travels_and_node_status_tells_each_peers_story() {
    let dir = tempfile::tempdir().expect("tmp");
    let a_metrics = format!("127.0.0.1:{}", free_port());
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht", "--metrics", &a_metrics]);

    // Before any peer: said plainly, in text and in JSON.
    let alone = a.node.run(&["node", "status"]).ok().stdout;
    assert!(alone.contains("no peer ever connected"), "{alone}");
    assert_eq!(a.node.json(&["node", "status"])["peer_history"], serde_json::json!([]));
    let before = scrape(&a_metrics);
    assert_eq!(total(&before, "communs_peers_connected"), 0.0);
    assert_eq!(total(&before, "communs_catchup_events_received_total"), 0.0);

    let folder = small_design(dir.path(), "Spool holder");
    let (design, _) = a.node.publish(&folder, &["-m", "v1"]);

    // B reads `[metrics] listen` from its config file.
    let b_node = Node::init(dir.path(), "b");
    let b_metrics = format!("127.0.0.1:{}", free_port());
    std::fs::write(b_node.home.join("config.toml"), format!("[metrics]\nlisten = \"{b_metrics}\"\n")).expect("config");
    let b = Daemon::start(&b_node, &["--bootstrap", &a.addr, "--no-dht"]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    b.node.json(&["follow", &design]);
    let out = dir.path().join("b-checkout");
    b.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    // A second revision travels by gossip.
    write_files(&folder, &[("README.md", b"# Spool holder\n\nSecond version.\n")]);
    let (_, second) = a.node.publish(&folder, &["-m", "v2"]);
    eventually(10, "b has a's second revision", || {
        b.node.run(&["--json", "status", &design]).json()["canonical"].as_str() == Some(&second)
    });

    // From the API and from the metrics listener: the same families, and
    // counters that moved.
    let from_api = scrape(&api_addr(&b.node));
    let from_lan = scrape(&b_metrics);
    let families = |samples: &[Sample]| samples.iter().map(|s| s.name.clone()).collect::<BTreeSet<_>>();
    assert_eq!(families(&from_api), families(&from_lan));
    for samples in [&from_api, &from_lan] {
        assert_eq!(total(samples, "communs_peers_connected"), 1.0);
        assert!(total(samples, "communs_catchup_sessions_started_total") >= 1.0);
        assert!(total(samples, "communs_catchup_sessions_completed_total") >= 1.0);
        assert!(total(samples, "communs_catchup_events_received_total") > 0.0, "follow caught up a's events");
        assert!(total(samples, "communs_file_received_bytes_total") > 0.0, "get fetched a's files");
        assert!(total(samples, "communs_gossip_messages_received_total") >= 1.0, "v2 came by gossip");
        assert!(total(samples, "communs_gossip_messages_accepted_total") >= 1.0);
        assert!(total(samples, "communs_store_events") >= 3.0, "genesis, v1 and v2");
        assert_eq!(total(samples, "communs_store_designs"), 1.0);
        assert!(total(samples, "communs_store_blobs") >= 2.0, "a tree and its files");
        assert!(total(samples, "communs_store_size_bytes") > 0.0);
        // The swarm's own, from libp2p-metrics: connections and bytes on
        // the TCP transport.
        assert!(total(samples, "libp2p_swarm_connections_established_total") >= 1.0);
        let inbound: f64 = samples
            .iter()
            .filter(|s| {
                s.name == "libp2p_bandwidth_bytes_total"
                    && s.labels.get("direction").map(String::as_str) == Some("Inbound")
            })
            .map(|s| s.value)
            .sum();
        assert!(inbound > 0.0, "bytes in over the transport");
    }
    // API latencies by route template, not by raw path.
    let routes: BTreeSet<&str> = from_api
        .iter()
        .filter(|s| s.name == "communs_api_request_duration_seconds_count")
        .filter_map(|s| s.labels.get("route").map(String::as_str))
        .collect();
    assert!(routes.contains("/v1/node"), "{routes:?}");
    assert!(routes.contains("/v1/designs/{design}/status"), "{routes:?}");
    assert!(!routes.iter().any(|r| r.contains(&design)), "a raw path became a label: {routes:?}");
    // A's metrics listener, from the flag: A sent the files.
    let a_samples = scrape(&a_metrics);
    assert_eq!(total(&a_samples, "communs_peers_connected"), 1.0);
    assert!(total(&a_samples, "communs_file_sent_bytes_total") > 0.0, "a served the files");
    // No limit set: the limits' counters are there, at zero.
    for name in ["communs_bandwidth_granted_bytes_total", "communs_bandwidth_waits_total"] {
        assert!(a_samples.iter().any(|s| s.name == name && s.labels.contains_key("direction")), "{name}");
        assert_eq!(total(&a_samples, name), 0.0, "{name}");
    }

    // The metrics listener serves nothing else of the node.
    for path in ["/v1/node", "/v1/openapi.json", "/", "/v1/designs", "/ui"] {
        assert_eq!(get(&b_metrics, path).status, 404, "{path} on the metrics listener");
    }
    let write = request(&b_metrics, "POST", "/v1/gc", &[], "{}");
    assert!(write.status == 404 || write.status == 405, "{write:?}");
    // The API's Host guard still holds for /metrics there.
    let foreign = request(&api_addr(&b.node), "GET", "/metrics", &[("Host", "evil.example")], []);
    assert_eq!(foreign.status, 403, "{foreign:?}");

    // Node status: B connected to A and caught up with it.
    let status = b.node.json(&["node", "status"]);
    let history = status["peer_history"].as_array().expect("peer history");
    let peer = history.iter().find(|p| p["peer_id"] == a.peer_id()).expect("a in b's history");
    assert_eq!(peer["connected"], true, "{peer}");
    assert!(peer["last_connected_ms"].as_u64().is_some(), "{peer}");
    assert!(peer["last_catchup"]["at_ms"].as_u64().is_some(), "{peer}");
    let text = b.node.run(&["node", "status"]).ok().stdout;
    let line = text.lines().find(|l| l.contains(&a.peer_id())).unwrap_or_else(|| panic!("a in {text}"));
    assert!(line.contains("connected since") && line.contains("caught up"), "{text}");
    assert!(!text.contains("no peer ever connected"), "{text}");
}

#[test]
fn a_peer_that_never_answers_shows_its_error_and_no_connection() {
    let dir = tempfile::tempdir().expect("tmp");
    // A real peer id, with nothing listening at the address given for it.
    let ghost = Daemon::start(&Node::init(dir.path(), "ghost"), &["--no-dht"]);
    let ghost_id = ghost.peer_id();
    ghost.stop();
    let bootstrap = format!("/ip4/127.0.0.1/tcp/{}/p2p/{ghost_id}", free_port());
    never_connected(dir.path(), &bootstrap, &ghost_id);
}

fn never_connected(dir: &std::path::Path, bootstrap: &str, peer: &str) {
    let a = Daemon::start(&Node::init(dir, "a"), &["--no-dht", "--bootstrap", bootstrap]);
    eventually(10, "a tried the bootstrap peer", || {
        a.node.json(&["node", "status"])["peer_history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|p| p["peer_id"] == peer && p["last_error"].is_object()))
    });
    let status = a.node.json(&["node", "status"]);
    let entry = status["peer_history"].as_array().expect("history").iter().find(|p| p["peer_id"] == peer).cloned();
    let entry = entry.expect("the peer");
    assert_eq!(entry["last_connected_ms"], serde_json::Value::Null, "{entry}");
    assert!(entry["last_error"]["error"].as_str().is_some_and(|e| e.contains("dial failed")), "{entry}");
    let text = a.node.run(&["node", "status"]).ok().stdout;
    assert!(text.contains("no peer ever connected"), "{text}");
    assert!(text.contains("dial failed"), "{text}");
}
