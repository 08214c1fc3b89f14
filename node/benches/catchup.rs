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
//! `cargo bench -p communs-node --bench catchup`

mod support;

use std::collections::HashMap;

use communs_protocol::limits::GENESIS_NONCE_BYTES;
use communs_protocol::{Body, Change, DesignId, Genesis, SecretKey, SignedEvent, UnsignedEvent};
use support::{open, start, wanted};

const DESIGNS: u64 = 1_000;
const EVENTS_PER_DESIGN: u64 = 100;

fn main() {
    if !wanted() {
        eprintln!("catchup: skipped (run it with `cargo bench -p communs-node --bench catchup`)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
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

async fn run() {
    let logs = build();
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
        for log in &logs {
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
        let report = loop {
            let status = lagging_net.status().await.expect("status");
            if let Some(sync) = status.sync.into_iter().find(|s| s.peer_id == peer) {
                break sync.report;
            }
            assert!(started.elapsed().as_secs() < 120, "no catch-up within 2 minutes");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
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
