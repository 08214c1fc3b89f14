//! Catch-up at scale: a node that missed 1% of 100,000 events across 1,000
//! designs reconciles with a peer that has them all.
//!
//! Reports the round trips, the bytes of the reconciliation messages (both
//! directions), and the total a catch-up moves (reconciliation, plus the
//! list of wanted ids, plus the missing events themselves) as a ratio to
//! the bytes of the missing events alone. Events are counted at the size
//! of a real signed approval, the smallest kind, so the ratio is the worst
//! case.
//!
//! `cargo bench -p communs-protocol --bench catchup`

use std::time::Instant;

use communs_protocol::sync::{Initiator, Responder};
use communs_protocol::{Body, EventId, Hash, SecretKey, UnsignedEvent};

const DESIGNS: u64 = 1_000;
const EVENTS_PER_DESIGN: u64 = 100;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("catchup: skipped (run it with `cargo bench -p communs-protocol --bench catchup`)");
        return;
    }
    let all: Vec<(u64, EventId)> = (0..DESIGNS * EVENTS_PER_DESIGN)
        .map(|n| (n % EVENTS_PER_DESIGN, EventId::from_hash(Hash::of(&n.to_le_bytes()))))
        .collect();
    // 1% of the events, picked by their (random-looking) ids, so spread
    // over all designs and clocks, are missing.
    let is_missing = |id: &EventId| u16::from_be_bytes([id.as_bytes()[0], id.as_bytes()[1]]) < 655;
    let missing: Vec<(u64, EventId)> = all.iter().copied().filter(|(_, id)| is_missing(id)).collect();
    let lagging: Vec<(u64, EventId)> = all.iter().copied().filter(|(_, id)| !is_missing(id)).collect();
    let event_bytes = approval_size() as u64;

    let started = Instant::now();
    let (mut initiator, mut message) = Initiator::start(lagging.iter().copied()).expect("start");
    let mut responder = Responder::new(all.iter().copied()).expect("responder");
    let (mut rounds, mut reconcile_bytes, mut need) = (0, 0u64, Vec::new());
    loop {
        reconcile_bytes += message.len() as u64;
        let reply = responder.receive(&message).expect("reply");
        reconcile_bytes += reply.len() as u64;
        rounds += 1;
        let learned = initiator.receive(&reply).expect("step");
        need.extend(learned.need);
        match learned.next {
            Some(next) => message = next,
            None => break,
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(need.len(), missing.len(), "the lagging node learns exactly what it lacks");

    let missing_bytes = missing.len() as u64 * event_bytes;
    let request_bytes = need.len() as u64 * 32;
    let total = reconcile_bytes + request_bytes + missing_bytes;
    println!(
        "events {}, designs {}, missing {} ({:.2}%)",
        all.len(),
        DESIGNS,
        missing.len(),
        100.0 * missing.len() as f64 / all.len() as f64
    );
    println!("round trips                  {rounds}");
    println!("reconciliation bytes         {reconcile_bytes}");
    println!("missing events bytes         {missing_bytes} ({event_bytes} bytes each)");
    println!("total moved / missing bytes  {:.3}x", total as f64 / missing_bytes as f64);
    println!("time (both sides, in memory) {elapsed:.1?}");
    println!(
        "{{\"events\":{},\"missing\":{},\"round_trips\":{rounds},\"reconcile_bytes\":{reconcile_bytes},\"missing_bytes\":{missing_bytes},\"ratio\":{:.4}}}",
        all.len(),
        missing.len(),
        total as f64 / missing_bytes as f64
    );
}

/// The encoded size of a real signed approval deep in a design's log.
fn approval_size() -> usize {
    let key = SecretKey::from_bytes(&[1; 32]);
    let target = EventId::from_hash(Hash::of(b"revision"));
    UnsignedEvent {
        design: Some(communs_protocol::DesignId::from_hash(Hash::of(b"design"))),
        author: key.author(),
        parents: vec![EventId::from_hash(Hash::of(b"parent"))],
        clock: 1_000,
        time: 1_767_225_600_000,
        body: Body::Approve { target },
    }
    .sign(&key)
    .expect("valid")
    .bytes()
    .len()
}
