//! A seed-all node under churn: peers come, publish, go, one after the
//! other, for a bounded time; the node's memory and open file descriptors
//! stay flat. `COMMUNS_SOAK_SECONDS` (default 60) sets the length: CI runs
//! a minute, a longer run by hand prints the same figures.

mod support;

use std::time::{Duration, Instant};

use support::daemon::{Daemon, eventually};
use support::{Node, small_design};

/// The node's resident memory (kB) and open descriptors, from /proc.
fn sample(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("VmRSS");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc fd").count() as f64;
    (rss, fds)
}

/// The least-squares slope of `ys` against their index.
fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (x, y) in ys.iter().enumerate() {
        num += (x as f64 - mean_x) * (y - mean_y);
        den += (x as f64 - mean_x).powi(2);
    }
    if den == 0.0 { 0.0 } else { num / den }
}

#[test]
fn a_seed_all_node_with_churning_peers_keeps_its_memory_and_descriptors_flat() {
    let seconds: u64 = std::env::var("COMMUNS_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let dir = tempfile::tempdir().expect("tmp");
    let hub = Daemon::start(&Node::init(dir.path(), "hub"), &["--no-dht", "--seed-all"]);
    let pid = hub.child.id();
    let started = Instant::now();
    // One sample per round, taken once the round's peer is gone.
    let mut samples = Vec::new();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let name = format!("peer-{round}");
        let peer = Daemon::start(&Node::init(dir.path(), &name), &["--no-dht", "--bootstrap", &hub.addr]);
        let (design, _) = peer.node.publish(&small_design(dir.path(), &format!("Part {round}")), &["-m", "v1"]);
        eventually(30, "the hub holds the peer's design and its files", || {
            let fsck = hub.node.run(&["--json", "fsck"]);
            hub.node.run(&["show", &design]).code == 0 && fsck.code == 0 && fsck.json()["absent_blobs"] == 0
        });
        let gone = peer.stop();
        std::fs::remove_dir_all(&gone.home).expect("the peer's data directory");
        eventually(10, "the hub saw the peer go", || hub.peers().is_empty());
        samples.push(sample(pid));
        round += 1;
    }
    assert!(round >= 5, "only {round} rounds in {seconds} s");
    // The first rounds warm up (caches, the swarm's tables).
    let steady = &samples[samples.len() / 3..];
    let rss: Vec<f64> = steady.iter().map(|(rss, _)| *rss).collect();
    let fds: Vec<f64> = steady.iter().map(|(_, fds)| *fds).collect();
    let (rss_slope, fds_slope) = (slope(&rss), slope(&fds));
    println!(
        "{round} rounds in {} s: RSS {:.0} → {:.0} kB (slope {rss_slope:.1} kB a round), open descriptors {} → {} (slope {fds_slope:.3} a round)",
        started.elapsed().as_secs(),
        samples[0].0,
        samples[samples.len() - 1].0,
        samples[0].1,
        samples[samples.len() - 1].1,
    );
    // A descriptor kept per connection would climb by one a round.
    assert!(fds_slope < 0.25, "open descriptors climb: {fds:?}");
    // The hub keeps one more small design a round (its store, its
    // indexes); a connection's state kept forever would cost more.
    assert!(rss_slope < 1024.0, "memory climbs {rss_slope:.0} kB a round: {rss:?}");
}
