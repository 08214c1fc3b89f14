//! Governance resolution at scale: a design log of 100,000 events (1,000
//! revisions, 10 maintainers, the rest approvals and governance changes).
//!
//! Measures full resolution of the whole log, and the cost of one more
//! event applied to a [`Resolver`] holding the rest (apply + reading the
//! state), as medians over repeated runs.
//!
//! `cargo bench -p communs-protocol --bench governance`
//! (`COMMUNS_BENCH_EVENTS=N` for another log size.)

use std::time::{Duration, Instant};

use communs_protocol::governance::{Resolver, resolve};
use communs_protocol::manifest::License;
use communs_protocol::{
    BlobHash, Body, Change, EventId, Genesis, Manifest, Revision, SecretKey, SignedEvent, UnsignedEvent,
};

const MAINTAINERS: usize = 10;
const REVISIONS: usize = 1_000;
const PROPOSALS: usize = 100;

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`; signing a
    // 100,000-event log there would only slow the tests down.
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("governance: skipped (run it with `cargo bench -p communs-protocol --bench governance`)");
        return;
    }
    let total: usize = std::env::var("COMMUNS_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let started = Instant::now();
    let events = build_log(total);
    eprintln!("built and signed {} events in {:.1?}", events.len(), started.elapsed());

    let mut full = Vec::new();
    let mut state = None;
    for _ in 0..7 {
        let t = Instant::now();
        let s = resolve(&events);
        full.push(t.elapsed());
        state = Some(s);
    }
    let state = state.expect("ran");
    assert!(state.canonical.is_some(), "the log has a canonical head");

    // One more event on a resolver that holds all the others: the last
    // 2,000 events of the log, one at a time, each followed by reading the
    // state (what a node does when an event arrives).
    let split = events.len() - 2_000;
    let mut resolver = Resolver::new();
    for e in &events[..split] {
        resolver.apply(e.clone());
    }
    resolver.state();
    let mut incremental = Vec::with_capacity(2_000);
    // The slowest event of each kind says where the tail comes from.
    let mut slowest: std::collections::BTreeMap<&'static str, (usize, Duration)> = Default::default();
    let revisions: std::collections::HashSet<EventId> =
        events.iter().filter(|e| matches!(e.body(), Body::Revision(_))).map(SignedEvent::id).collect();
    for e in &events[split..] {
        let kind = match e.body() {
            Body::Revision(_) => "revision",
            Body::Approve { target } if revisions.contains(target) => "approve revision",
            Body::Approve { .. } => "approve proposal",
            Body::Propose { .. } => "propose",
            _ => "other",
        };
        let e = e.clone();
        let t = Instant::now();
        resolver.apply(e);
        std::hint::black_box(resolver.state());
        let took = t.elapsed();
        let entry = slowest.entry(kind).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(took);
        incremental.push(took);
    }
    for (kind, (count, max)) in &slowest {
        println!("  {kind:<18} {count:>5} events, slowest {max:.1?}");
    }
    assert_eq!(resolver.state(), &state, "incremental equals full");

    let rss = peak_rss_kib();
    println!("events                      {}", events.len());
    println!("full resolution, median     {:.1?} (7 runs; min {:.1?})", median(&mut full), full[0]);
    println!(
        "one incremental event       median {:.1?}, p99 {:.1?}, max {:.1?} (2,000 events)",
        median(&mut incremental),
        incremental[incremental.len() * 99 / 100],
        incremental[incremental.len() - 1]
    );
    println!("peak resident memory        {} MiB", rss / 1024);
    println!(
        "{{\"events\":{},\"full_ms\":{:.3},\"incremental_us_median\":{:.3},\"incremental_us_p99\":{:.3},\"peak_rss_mib\":{}}}",
        events.len(),
        median(&mut full).as_secs_f64() * 1e3,
        median(&mut incremental).as_secs_f64() * 1e6,
        incremental[incremental.len() * 99 / 100].as_secs_f64() * 1e6,
        rss / 1024
    );
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A deterministic log: maintainers take turns publishing revisions (each
/// on the previous one, with a branch now and then), approving them, and
/// every tenth of the way a governance change is proposed and approved.
fn build_log(total: usize) -> Vec<SignedEvent> {
    let keys: Vec<SecretKey> = (0..MAINTAINERS as u8 + 2).map(|i| SecretKey::from_bytes(&[i + 1; 32])).collect();
    let maintainers: Vec<_> = keys[..MAINTAINERS].iter().map(SecretKey::author).collect();
    let genesis = UnsignedEvent {
        design: None,
        author: keys[0].author(),
        parents: vec![],
        clock: 0,
        time: 0,
        body: Body::Genesis(Genesis {
            name: "Bench".into(),
            maintainers,
            threshold: 6,
            license: "CERN-OHL-S-2.0".into(),
            fork_of: None,
            nonce: [0; 16],
        }),
    }
    .sign(&keys[0])
    .expect("genesis");
    let design = genesis.design();
    let manifest = Manifest::minimal("Bench", License::all("CERN-OHL-S-2.0"));
    let mut events = vec![genesis.clone()];
    let mut revisions: Vec<EventId> = Vec::new();
    let mut state = genesis.id();
    let mut last_proposal: Option<EventId> = None;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let revision_every = total / REVISIONS;
    let proposal_every = total / PROPOSALS;
    for i in 1..total {
        let author = &keys[(next() % MAINTAINERS as u64) as usize];
        let body = if i % proposal_every == 0 {
            // Alternate between a threshold change and adding then removing
            // a contributor as maintainer.
            let change = match (i / proposal_every) % 3 {
                0 => Change::SetThreshold(5 + next() % 3),
                1 => Change::AddMaintainer(keys[MAINTAINERS].author()),
                _ => Change::RemoveMaintainer(keys[MAINTAINERS].author()),
            };
            Body::Propose { prev: state, change }
        } else if i % revision_every == 0 || revisions.is_empty() {
            let base = match revisions.len() {
                0 => vec![],
                n => vec![revisions[n - 1 - (next() % 3 == 0 && n > 1) as usize]],
            };
            Body::Revision(Revision {
                tree: BlobHash::of(&(i as u64).to_le_bytes()),
                manifest: manifest.clone(),
                base,
                message: String::new(),
            })
        } else if let Some(p) = last_proposal.filter(|_| i % proposal_every < 20) {
            Body::Approve { target: p }
        } else {
            let back = (next() % 3) as usize;
            Body::Approve { target: revisions[revisions.len().saturating_sub(1 + back)] }
        };
        let previous = events.last().expect("genesis");
        let event = UnsignedEvent {
            design: Some(design),
            author: author.author(),
            parents: vec![previous.id()],
            clock: previous.clock() + 1,
            time: i as u64,
            body,
        }
        .sign(author)
        .expect("valid");
        match event.body() {
            Body::Revision(_) => revisions.push(event.id()),
            Body::Propose { .. } => {
                last_proposal = Some(event.id());
            }
            _ => {}
        }
        events.push(event);
        // Follow the chain as it moves, so later proposals amend the
        // current state (as a real maintainer's node would).
        if i % proposal_every == 20
            && let Some(s) = resolve(&events).state
        {
            state = s;
        }
    }
    events
}
