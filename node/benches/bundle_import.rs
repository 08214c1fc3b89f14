//! Bulk ingest: `bundle import` of one busy design into an empty store.
//!
//! The design has three maintainers (threshold 2) and 1,667 revisions, each
//! with a tree of its own (a shared README and one new small file) and
//! approved by the two maintainers who did not write it (writing one
//! endorses it already): 5,002 signed events and 3,335 blobs,
//! one chain of parents. The bundle is written once; each round imports it
//! into a fresh store (signatures, parents, clocks, trees, sizes, then
//! blobs and the events in one transaction, made durable) and times that.
//! Reported: the median of `COMMUNS_BENCH_ROUNDS` rounds (default 5) as
//! events per second, beside the goal of issue 10.
//!
//! Two more cases: the same design with 20,002 events whose revisions all
//! name one tree (the import is then nearly all events: signatures,
//! parents, admission, one transaction), and an outsider's flood of 20,000
//! validly signed approvals on that design's first revision, which the
//! import refuses (every signature verified, then the first approval
//! refused by the rules) before storing anything.
//!
//! The last two cases and the flood are measured again as catch-up stores
//! what it fetched, without the network: every signature verified on
//! every core (`BulkVerifier::decode_many`, as catch-up does per fetched
//! batch), then `Node::ingest` (one transaction, refused events left out
//! with their reasons). The `catchup` benchmark measures a bulk catch-up
//! over loopback, network included.
//!
//! Each round also reports the CPU time the process used (every thread,
//! from `/proc/self/stat`) per event: on a machine shared with other work,
//! the wall clock moves with the load, the CPU time much less.
//! `COMMUNS_BENCH_CASE=<text>` runs only the cases whose name contains it.
//!
//! `cargo bench -p communs-node --bench bundle_import`

mod support;

use std::path::Path;
use std::time::Instant;

use communs_node::progress::NoProgress;
use communs_protocol::bulk::BulkVerifier;
use communs_protocol::limits::GENESIS_NONCE_BYTES;
use communs_protocol::manifest::License;
use communs_protocol::{
    BlobHash, Body, Genesis, Hash, Manifest, Revision, SecretKey, SignedEvent, Tree, TreeEntry, UnsignedEvent,
    ValidatedPath,
};
use support::{open, wanted};

const REVISIONS: u64 = 1_667;
/// 20,002 events.
const EVENTS_ONLY_REVISIONS: u64 = 6_667;
const FLOOD: u64 = 20_000;
const GOAL_EVENTS_PER_S: f64 = 20_000.0;

fn main() {
    if !wanted() {
        eprintln!("bundle_import: skipped (run it with `cargo bench -p communs-node --bench bundle_import`)");
        return;
    }
    let rounds = std::env::var("COMMUNS_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5usize).max(1);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(run(rounds));
}

async fn run(rounds: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    // (name, events, blobs, whether the import is refused)
    let (busy, busy_blobs) = build(REVISIONS, false);
    let (events_only, few_blobs) = build(EVENTS_ONLY_REVISIONS, true);
    let flood = outsider_flood(&events_only, FLOOD);
    let cases = [
        ("bundle: busy design (a tree per revision)", busy, busy_blobs, false, Way::Bundle),
        (
            "bundle: events only (one tree for every revision)",
            events_only.clone(),
            few_blobs.clone(),
            false,
            Way::Bundle,
        ),
        ("bundle: an outsider's flood of approvals, refused", flood.clone(), few_blobs, true, Way::Bundle),
        ("catch-up's store path: events only", events_only, vec![], false, Way::Ingest),
        ("catch-up's store path: an outsider's flood of approvals, refused", flood, vec![], true, Way::Ingest),
    ];
    // `COMMUNS_BENCH_CASE=catch-up` runs only the cases whose name has it.
    let only = std::env::var("COMMUNS_BENCH_CASE").unwrap_or_default();
    for (name, events, blobs, refused, way) in cases {
        if !name.contains(only.as_str()) {
            continue;
        }
        let bundle = dir.path().join("bundle.communs");
        let records: Vec<Vec<u8>> = events.iter().map(|e| e.bytes().to_vec()).collect();
        if way == Way::Bundle {
            write_bundle(&bundle, &events, &blobs);
            let size = std::fs::metadata(&bundle).expect("bundle").len();
            println!(
                "{name}: {} events, {} blobs, {:.1} MiB",
                events.len(),
                blobs.len(),
                size as f64 / (1 << 20) as f64
            );
        } else {
            println!("{name}: {} events", events.len());
        }
        let mut seconds = Vec::with_capacity(rounds);
        let mut cpu = Vec::with_capacity(rounds);
        for round in 0..rounds {
            let node = open(dir.path(), &format!("store-{name}-{round}")).await;
            let start = Instant::now();
            let cpu_start = support::cpu_seconds();
            match way {
                Way::Bundle => {
                    let result = node.bundle_import(&bundle, &NoProgress).await;
                    match (result, refused) {
                        (Ok(summary), false) => assert_eq!(summary.new_events, events.len()),
                        (Err(e), true) => assert!(e.to_string().contains("not a maintainer"), "{e}"),
                        (result, _) => panic!("{name}: unexpected {:?}", result.map(|s| s.new_events)),
                    }
                }
                Way::Ingest => {
                    let records = records.clone();
                    let ingested = tokio::task::spawn_blocking({
                        let node = node.clone();
                        move || {
                            let threads = std::thread::available_parallelism().expect("cores");
                            let verified: Vec<SignedEvent> = BulkVerifier::new(threads)
                                .decode_many(&records)
                                .into_iter()
                                .map(|e| e.expect("valid signature"))
                                .collect();
                            node.ingest(verified).expect("ingest")
                        }
                    })
                    .await
                    .expect("ingest task");
                    if refused {
                        // The genesis and the revision approved go in.
                        assert_eq!((ingested.added.len(), ingested.rejected.len()), (2, events.len() - 2));
                        let (_, why) = &ingested.rejected[0];
                        assert!(why.to_string().contains("not a maintainer"), "{why}");
                    } else {
                        assert_eq!(ingested.added.len(), events.len());
                    }
                }
            }
            let elapsed = start.elapsed().as_secs_f64();
            let used = support::cpu_seconds() - cpu_start;
            println!(
                "  round {round}: {elapsed:.3} s, {:.0} events/s, CPU {used:.3} s ({:.1} µs per event)",
                events.len() as f64 / elapsed,
                used * 1e6 / events.len() as f64
            );
            seconds.push(elapsed);
            cpu.push(used);
            if let Ok(node) = std::sync::Arc::try_unwrap(node) {
                node.close().await.expect("close");
            }
        }
        seconds.sort_by(f64::total_cmp);
        let median = seconds[seconds.len() / 2];
        let rate = events.len() as f64 / median;
        cpu.sort_by(f64::total_cmp);
        let cpu_per_event = cpu[cpu.len() / 2] * 1e6 / events.len() as f64;
        println!(
            "{name}: median {median:.3} s over {rounds} rounds, {rate:.0} events/s (goal >= {GOAL_EVENTS_PER_S:.0}: {}), median CPU {cpu_per_event:.1} µs per event",
            if rate >= GOAL_EVENTS_PER_S { "met" } else { "not met" }
        );
    }
}

/// How the events come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Bundle,
    Ingest,
}

/// The genesis and first revision of `design`, then `count` approvals of
/// that revision by a key that maintains nothing.
fn outsider_flood(design: &[SignedEvent], count: u64) -> Vec<SignedEvent> {
    let outsider = SecretKey::from_bytes(&[9; 32]);
    let revision = &design[1];
    let mut events = design[..2].to_vec();
    for i in 0..count {
        let approval = UnsignedEvent {
            design: Some(revision.design()),
            author: outsider.author(),
            parents: vec![revision.id()],
            clock: revision.clock() + 1,
            time: 1_700_000_000_000 + i,
            body: Body::Approve { target: revision.id() },
        }
        .sign(&outsider)
        .expect("approval");
        events.push(approval);
    }
    events
}

/// The events of the design and its blobs (hash, bytes). With
/// `shared_tree`, every revision names the first one's tree: the import is
/// then nearly all events.
fn build(revisions: u64, shared_tree: bool) -> (Vec<SignedEvent>, Vec<(BlobHash, Vec<u8>)>) {
    let keys: Vec<SecretKey> = (1..=3u8).map(|seed| SecretKey::from_bytes(&[seed; 32])).collect();
    let genesis = UnsignedEvent {
        design: None,
        author: keys[0].author(),
        parents: vec![],
        clock: 0,
        time: 1_700_000_000_000,
        body: Body::Genesis(Genesis {
            name: "Busy design".into(),
            maintainers: keys.iter().map(SecretKey::author).collect(),
            threshold: 2,
            license: "CERN-OHL-S-2.0".into(),
            fork_of: None,
            nonce: [1; GENESIS_NONCE_BYTES],
        }),
    }
    .sign(&keys[0])
    .expect("genesis");
    let design = genesis.design();
    let readme = b"# Busy design\n\nMany revisions, each approved.\n".to_vec();
    let readme_hash = BlobHash(Hash::of(&readme));
    let mut blobs = vec![(readme_hash, readme.clone())];
    let mut events = vec![genesis];
    let mut previous_revision = None;
    for r in 0..revisions {
        let seed = if shared_tree { 0 } else { r };
        let part = format!("cube([{seed}, 20, 3]); // revision {seed}\n").into_bytes();
        let part_hash = BlobHash(Hash::of(&part));
        let entry = |path: &str, blob: BlobHash, size: usize| TreeEntry {
            path: ValidatedPath::new(path).expect("path"),
            blob,
            size: size as u64,
            executable: false,
        };
        let tree = Tree::new(vec![
            entry("README.md", readme_hash, readme.len()),
            entry("cad/part.scad", part_hash, part.len()),
        ])
        .expect("tree")
        .encode();
        let tree_hash = BlobHash(Hash::of(&tree));
        if r == 0 || !shared_tree {
            blobs.push((tree_hash, tree));
            blobs.push((part_hash, part));
        }
        let revision = Body::Revision(Revision {
            tree: tree_hash,
            manifest: Manifest::minimal("Busy design", License::all("CERN-OHL-S-2.0")),
            base: previous_revision.into_iter().collect(),
            message: format!("revision {r}"),
        });
        let author = &keys[(r % 3) as usize];
        let revision = next(&mut events, design, author, revision);
        previous_revision = Some(revision);
        // The other maintainers approve (its author endorses it by writing it).
        for key in keys.iter().filter(|k| k.author() != author.author()) {
            next(&mut events, design, key, Body::Approve { target: revision });
        }
    }
    (events, blobs)
}

/// Signs `body` on the last event and appends it; returns its id.
fn next(
    events: &mut Vec<SignedEvent>,
    design: communs_protocol::DesignId,
    key: &SecretKey,
    body: Body,
) -> communs_protocol::EventId {
    let parent = events.last().expect("a genesis");
    let event = UnsignedEvent {
        design: Some(design),
        author: key.author(),
        parents: vec![parent.id()],
        clock: parent.clock() + 1,
        time: 1_700_000_000_000 + parent.clock() + 1,
        body,
    }
    .sign(key)
    .expect("event");
    let id = event.id();
    events.push(event);
    id
}

/// The bundle as an exporter writes it (spec/bundle.md).
fn write_bundle(path: &Path, events: &[SignedEvent], blobs: &[(BlobHash, Vec<u8>)]) {
    let mut bytes = communs_node::bundle::MAGIC.to_vec();
    let mut record = |kind: u8, parts: &[&[u8]]| {
        bytes.push(kind);
        bytes.extend_from_slice(&(parts.iter().map(|p| p.len()).sum::<usize>() as u64).to_be_bytes());
        for part in parts {
            bytes.extend_from_slice(part);
        }
    };
    for event in events {
        record(1, &[event.bytes()]);
    }
    for (hash, blob) in blobs {
        record(2, &[hash.as_bytes(), blob]);
    }
    let digest = blake3::hash(&bytes);
    bytes.push(0);
    bytes.extend_from_slice(&32u64.to_be_bytes());
    bytes.extend_from_slice(digest.as_bytes());
    std::fs::write(path, bytes).expect("write bundle");
}
