//! What the network benchmarks share: nodes in temporary stores, started on
//! loopback.

#![allow(dead_code)] // each benchmark uses a part

use std::path::Path;
use std::sync::Arc;

use communs_node::net::{NetConfig, Network};
use communs_node::{Home, Node, keyfile};

pub(crate) fn wanted() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// CPU time this process has used so far, every thread (user and system,
/// from `/proc/self/stat`, in clock ticks of 10 ms); 0 where there is no
/// `/proc`.
pub(crate) fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // After the command name (in parentheses, which may hold spaces):
    // fields 3 onwards; utime and stime are fields 14 and 15.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub(crate) async fn open(dir: &Path, name: &str) -> Arc<Node> {
    let home = Home::locate(Some(&dir.join(name))).expect("home");
    keyfile::load_or_create(&home).expect("identity");
    Arc::new(Node::open(home).await.expect("open"))
}

/// Starts the network of `node` on a free loopback port, no mDNS, no DHT.
pub(crate) async fn start(node: &Arc<Node>, bootstrap: Vec<String>, seed_all: bool) -> (Network, String) {
    let config = NetConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
        bootstrap: bootstrap.iter().map(|a| a.parse().expect("multiaddr")).collect(),
        mdns: false,
        dht: false,
        seed_all,
        ..NetConfig::default()
    };
    let network = Network::start(node.clone(), &config).await.expect("network");
    let status = network.status().await.expect("status");
    let addr = format!("{}/p2p/{}", status.listen[0], status.peer_id);
    (network, addr)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
