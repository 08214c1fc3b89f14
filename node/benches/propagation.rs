//! Propagation: 50 nodes in this process, each with its own store and swarm
//! on loopback, connected in a random graph (each dials 4 earlier nodes).
//! Node 0 publishes a design (every node seeds everything, so all take
//! it), then signs events on it; we time their arrival in every store.
//!
//! Reported: p50, p99 and max of the arrival latencies over all rounds and
//! nodes, events that never arrived, and gossipsub's duplicate-delivery
//! ratio (copies received per message delivered, minus one), summed over
//! the nodes.
//!
//! `cargo bench -p communs-node --bench propagation`

mod support;

use std::time::{Duration, Instant};

use communs_node::progress::NoProgress;
use communs_node::publish::PublishRequest;
use support::{now_ms, open, percentile, start, wanted};

const NODES: usize = 50;
const DEGREE: usize = 4;
const ROUNDS: usize = 30;

fn main() {
    if !wanted() {
        eprintln!("propagation: skipped (run it with `cargo bench -p communs-node --bench propagation`)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut nodes = Vec::new();
    for i in 0..NODES {
        nodes.push(open(dir.path(), &format!("n{i}")).await);
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut networks = Vec::new();
    let mut addrs: Vec<String> = Vec::new();
    for node in &nodes {
        let mut bootstrap = Vec::new();
        for _ in 0..DEGREE.min(addrs.len()) {
            let addr = addrs[next(addrs.len())].clone();
            if !bootstrap.contains(&addr) {
                bootstrap.push(addr);
            }
        }
        let (network, addr) = start(node, bootstrap, true).await;
        networks.push(network);
        addrs.push(addr);
    }
    // Let the gossip meshes form (a few heartbeats), then node 0 publishes
    // a design: its genesis goes out on the announce topic, its first
    // revision on the design's shard.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let folder = dir.path().join("design");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join("okh.toml"),
        "okhv = \"OKH-LOSHv1.0\"\nname = \"Visor clip\"\nlicense = \"CERN-OHL-S-2.0\"\n",
    )
    .expect("write");
    std::fs::write(folder.join("clip.scad"), "cube([10, 4, 2]);\n").expect("write");
    let published = nodes[0]
        .publish(PublishRequest { folder, now_ms: now_ms(), ..PublishRequest::default() }, &NoProgress)
        .await
        .expect("publish");

    let deadline = Instant::now() + Duration::from_secs(60);
    while !nodes.iter().all(|n| n.has_design(&published.design).unwrap_or(false)) {
        assert!(Instant::now() < deadline, "the design did not reach every node");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before: Vec<_> = networks.iter().map(|n| n.gossip_counts()).collect();

    let mut latencies = Vec::new();
    let mut missed = 0;
    for round in 0..ROUNDS {
        let receivers: Vec<_> = nodes[1..].iter().map(|n| n.watch_events()).collect();
        let started = Instant::now();
        let event = if round % 2 == 0 {
            nodes[0].retract(&published.design, published.revision, now_ms())
        } else {
            nodes[0].approve(&published.design, published.revision, now_ms())
        }
        .expect("sign");
        let id = event.id();
        let arrivals = receivers.into_iter().map(|mut receiver| async move {
            let wait = async {
                loop {
                    match receiver.recv().await {
                        Ok(e) if e.id() == id => return Some(started.elapsed()),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(10), wait).await.ok().flatten()
        });
        for arrival in futures::future::join_all(arrivals).await {
            match arrival {
                Some(latency) => latencies.push(latency.as_secs_f64() * 1000.0),
                None => missed += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut received, mut delivered) = (0, 0);
    for (network, before) in networks.iter().zip(before) {
        let now = network.gossip_counts();
        received += now.received - before.received;
        delivered += now.delivered - before.delivered;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "{NODES} nodes, degree {DEGREE}, {ROUNDS} events: latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {missed} arrivals missed; gossip copies {received} for {delivered} deliveries: duplicate ratio {:.2}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        if delivered == 0 { 0.0 } else { (received - delivered) as f64 / delivered as f64 },
    );
    for network in &networks {
        network.shutdown().await;
    }
}
