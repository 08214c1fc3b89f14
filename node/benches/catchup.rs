//! Catch-up over the real network: two nodes in this process, on loopback.
//! The peer holds 100,000 events across 1,000 designs; the other missed
//! the newest 1% (what happened while it was offline). It reconciles and
//! fetches them.
//!
//! Reported for two scopes: `all` (a node that seeds everything) and the
//! list of its 1,000 designs (a node that follows each): round trips of
//! reconciliation, and every byte of catch-up messages both ways as a
//! ratio to the bytes of the missing events themselves.
//!
//! Then bulk catch-up: a node with an empty store that seeds everything
//! connects to the peer and catches up all 100,000 events (reconciliation,
//! fetches, every signature verified, admission, the inserts). Reported:
//! the median of `COMMUNS_BENCH_ROUNDS` rounds (default 3) as events per
//! second, beside the goal of issue 10 (the figure to set beside
//! `bundle_import`'s), with the CPU time the process used per event: both
//! nodes run in it, so that counts the sender's work too, and it moves
//! much less than the wall clock on a shared machine.
//!
//! `cargo bench -p communs-node --bench catchup`

mod support;

use std::collections::HashMap;

use communs_node::net::CatchupReport;
use communs_protocol::limits::GENESIS_NONCE_BYTES;
use communs_protocol::{Body, Change, DesignId, Genesis, SecretKey, SignedEvent, UnsignedEvent};
use support::{open, start, wanted};

const DESIGNS: u64 = 1_000;
const EVENTS_PER_DESIGN: u64 = 100;
const GOAL_EVENTS_PER_S: f64 = 20_000.0;

fn main() {
    if !wanted() {
        eprintln!("catchup: skipped (run it with `cargo bench -p communs-node --bench catchup`)");
        return;
    }
    let rounds = std::env::var("COMMUNS_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3usize).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let logs = build();
    runtime.block_on(run(&logs));
    runtime.block_on(bulk(&logs, rounds));
}

/// Time from start-up to the end of the first catch-up with `peer`, and
/// its report.
async fn caught_up(network: &communs_node::net::Network, peer: &str) -> (std::time::Duration, CatchupReport) {
    let started = std::time::Instant::now();
    loop {
        let status = network.status().await.expect("status");
        if let Some(sync) = status.sync.into_iter().find(|s| s.peer_id == peer) {
            return (started.elapsed(), sync.report);
        }
        assert!(started.elapsed().as_secs() < 300, "no catch-up within 5 minutes");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// An empty node catches up every event of the peer, `rounds` times.
async fn bulk(logs: &[Vec<SignedEvent>], rounds: usize) {
    let total: usize = logs.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().expect("tmp");
    let full = open(dir.path(), "full").await;
    for log in logs {
        full.insert_events(log).expect("insert");
    }
    let (_full_net, full_addr) = start(&full, vec![], true).await;
    let peer = full_addr.rsplit('/').next().expect("peer id").to_owned();
    let mut seconds = Vec::with_capacity(rounds);
    let mut cpu = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let empty = open(dir.path(), &format!("empty-{round}")).await;
        let started = std::time::Instant::now();
        let cpu_started = support::cpu_seconds();
        let (network, _) = start(&empty, vec![full_addr.clone()], true).await;
        let (_, report) = caught_up(&network, &peer).await;
        let elapsed = started.elapsed().as_secs_f64();
        let used = support::cpu_seconds() - cpu_started;
        assert_eq!(report.added, total, "the empty node got every event");
        println!(
            "  bulk round {round}: {elapsed:.3} s, {} round trips, {:.0} events/s, CPU {used:.3} s ({:.1} µs per event, both nodes)",
            report.rounds,
            total as f64 / elapsed,
            used * 1e6 / total as f64
        );
        seconds.push(elapsed);
        cpu.push(used);
        network.shutdown().await;
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let rate = total as f64 / median;
    cpu.sort_by(f64::total_cmp);
    let cpu_per_event = cpu[cpu.len() / 2] * 1e6 / total as f64;
    println!(
        "bulk catch-up of {total} events into an empty store: median {median:.3} s over {rounds} rounds, {rate:.0} events/s (goal >= {GOAL_EVENTS_PER_S:.0}: {}), median CPU {cpu_per_event:.1} µs per event (both nodes)",
        if rate >= GOAL_EVENTS_PER_S { "met" } else { "not met" }
    );
}

/// 100 events per design: a genesis and approvals, each on the previous,
/// at times spread over a year so that designs interleave.
fn build() -> Vec<Vec<SignedEvent>> {
    let key = SecretKey::from_bytes(&[3; 32]);
    let mut designs = Vec::new();
    for d in 0..DESIGNS {
        let mut nonce = [0u8; GENESIS_NONCE_BYTES];
        nonce[..8].copy_from_slice(&d.to_le_bytes());
        let time = |i: u64| 1_700_000_000_000 + (i * DESIGNS + d) * 300_000;
        let genesis = UnsignedEvent {
            design: None,
            author: key.author(),
            parents: vec![],
            clock: 0,
            time: time(0),
            body: Body::Genesis(Genesis {
                name: format!("Design {d}"),
                maintainers: vec![key.author()],
                threshold: 1,
                license: "CERN-OHL-S-2.0".into(),
                fork_of: None,
                nonce,
            }),
        }
        .sign(&key)
        .expect("sign");
        let genesis_id = genesis.id();
        let design = DesignId::from_genesis(genesis_id);
        let mut log = vec![genesis];
        for i in 1..EVENTS_PER_DESIGN {
            let previous = log.last().expect("a previous event");
            let event = UnsignedEvent {
                design: Some(design),
                author: key.author(),
                parents: vec![previous.id()],
                clock: i,
                time: time(i),
                // Proposals pass the admission rules whoever writes them
                // (an approval of an approval would not).
                body: Body::Propose { prev: genesis_id, change: Change::SetThreshold(1) },
            }
            .sign(&key)
            .expect("sign");
            log.push(event);
        }
        designs.push(log);
    }
    designs
}

async fn run(logs: &[Vec<SignedEvent>]) {
    let mut times: Vec<u64> = logs.iter().flatten().map(|e| e.event().time).collect();
    times.sort();
    let cutoff = times[times.len() - times.len() / 100];
    let missing: HashMap<_, usize> =
        logs.iter().flatten().filter(|e| e.event().time >= cutoff).map(|e| (e.id(), e.bytes().len())).collect();
    let missing_bytes: usize = missing.values().sum();
    println!(
        "{} events across {DESIGNS} designs; the lagging node misses {} ({} bytes of events)",
        times.len(),
        missing.len(),
        missing_bytes
    );

    for scope_name in ["all", "designs"] {
        let dir = tempfile::tempdir().expect("tmp");
        let full = open(dir.path(), "full").await;
        let lagging = open(dir.path(), "lagging").await;
        for log in logs {
            full.insert_events(log).expect("insert");
            let held: Vec<SignedEvent> = log.iter().filter(|e| e.event().time < cutoff).cloned().collect();
            lagging.insert_events(&held).expect("insert");
        }
        let (_full_net, full_addr) = start(&full, vec![], true).await;
        // On connection the lagging node catches up by itself, over its
        // scope: everything when it seeds everything, else the list of the
        // designs it keeps.
        let started = std::time::Instant::now();
        let (lagging_net, _) = start(&lagging, vec![full_addr.clone()], scope_name == "all").await;
        let peer = full_addr.rsplit('/').next().expect("peer id").to_owned();
        let (_, report) = caught_up(&lagging_net, &peer).await;
        let elapsed = started.elapsed();
        assert_eq!(report.added, missing.len(), "the lagging node got every missing event");
        let moved = report.bytes_received + report.bytes_sent;
        println!(
            "scope {scope_name}: {} round trips, {} needed, {} added, {} bytes moved = {:.3}x the missing events, {:.0} ms",
            report.rounds,
            report.needed,
            report.added,
            moved,
            moved as f64 / missing_bytes as f64,
            elapsed.as_secs_f64() * 1000.0
        );
        lagging_net.shutdown().await;
    }
}
