//! Catch-up at scale: a node that was offline missed the newest 1% of
//! 100,000 events across 1,000 designs; it reconciles with a peer that has
//! them all.
//!
//! Three ways are measured side by side on the same logs:
//! - negentropy over (time, id): the events' advisory time as the sort key,
//!   so what a node missed while offline sits in one range;
//! - negentropy over (clock, id);
//! - heads: the lagging node sends each design's heads (its log is closed
//!   under parents, so they describe all of it) and the peer answers with
//!   every event they do not reach.
//!
//! Reported for each: round trips, bytes of the reconciliation messages,
//! and everything moved (messages, requests for ids, the missing events) as
//! a ratio to the bytes of the missing events alone. Events are counted at
//! the size of a real signed approval, the smallest kind: the worst case.
//!
//! `cargo bench -p communs-protocol --bench catchup`

use std::time::Instant;

use communs_protocol::sync::{Initiator, Responder, missing_from_heads};
use communs_protocol::{Body, DesignId, EventId, Hash, SecretKey, UnsignedEvent};

const DESIGNS: u64 = 1_000;
const EVENTS_PER_DESIGN: u64 = 100;

struct Event {
    design: u64,
    id: EventId,
    parents: Vec<EventId>,
    clock: u64,
    time: u64,
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("catchup: skipped (run it with `cargo bench -p communs-protocol --bench catchup`)");
        return;
    }
    let events = build();
    // The offline node missed everything after a cut-off time: 1%.
    let mut times: Vec<u64> = events.iter().map(|e| e.time).collect();
    times.sort();
    let cutoff = times[times.len() - times.len() / 100];
    let held = |e: &&Event| e.time < cutoff;
    let missing = events.iter().filter(|e| !held(e)).count();
    let event_bytes = approval_size() as u64;
    let missing_bytes = missing as u64 * event_bytes;
    println!(
        "events {}, designs {DESIGNS}, missing {missing} ({:.2}%), {event_bytes} bytes per event",
        events.len(),
        100.0 * missing as f64 / events.len() as f64
    );

    for (name, key) in [("negentropy (time, id)", 0), ("negentropy (clock, id)", 1)] {
        let item = |e: &Event| (if key == 0 { e.time } else { e.clock }, e.id);
        let started = Instant::now();
        let (rounds, bytes, need) =
            negentropy(events.iter().filter(held).map(item).collect(), events.iter().map(item).collect());
        assert_eq!(need, missing);
        let total = bytes + 32 * need as u64 + missing_bytes;
        report(name, rounds, bytes, total as f64 / missing_bytes as f64, started.elapsed());
    }

    // Heads: one message of (design id, count, heads) per design, one
    // answer carrying the events.
    let started = Instant::now();
    let mut message_bytes = 0u64;
    let mut found = 0;
    for design in 0..DESIGNS {
        let log: Vec<&Event> = events.iter().filter(|e| e.design == design).collect();
        let lagging: Vec<&Event> = log.iter().copied().filter(|e| e.time < cutoff).collect();
        let named: std::collections::HashSet<EventId> =
            lagging.iter().flat_map(|e| e.parents.iter().copied()).collect();
        let heads: Vec<EventId> = lagging.iter().map(|e| e.id).filter(|id| !named.contains(id)).collect();
        message_bytes += 32 + 1 + 32 * heads.len() as u64;
        let missing_here = missing_from_heads(log.iter().map(|e| (e.id, e.parents.as_slice())), &heads);
        found += missing_here.they_lack.len();
    }
    assert_eq!(found, missing);
    let total = message_bytes + missing_bytes;
    report("heads", 1, message_bytes, total as f64 / missing_bytes as f64, started.elapsed());
}

fn report(name: &str, rounds: usize, bytes: u64, ratio: f64, elapsed: std::time::Duration) {
    println!("{name:<24} round trips {rounds}, messages {bytes:>7} bytes, total / missing {ratio:.3}x ({elapsed:.1?})");
    println!("{{\"method\":\"{name}\",\"round_trips\":{rounds},\"message_bytes\":{bytes},\"ratio\":{ratio:.4}}}");
}

/// A whole session; returns round trips, bytes both ways, ids learned.
fn negentropy(lagging: Vec<(u64, EventId)>, full: Vec<(u64, EventId)>) -> (usize, u64, usize) {
    let (mut initiator, mut message) = Initiator::start(lagging).expect("start");
    let mut responder = Responder::new(full).expect("responder");
    let (mut rounds, mut bytes, mut need) = (0, 0u64, 0);
    loop {
        bytes += message.len() as u64;
        let reply = responder.receive(&message).expect("reply");
        bytes += reply.len() as u64;
        rounds += 1;
        let learned = initiator.receive(&reply).expect("step");
        need += learned.need.len();
        match learned.next {
            Some(next) => message = next,
            None => return (rounds, bytes, need),
        }
    }
}

/// Per design, a log that grows over a year: a chain where, every ten
/// events, two are concurrent and the next one merges them. Designs start
/// at different times and move at different paces, so the newest events
/// are spread unevenly across them.
fn build() -> Vec<Event> {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let year_ms = 365 * 24 * 3600 * 1000u64;
    let mut events = Vec::new();
    for design in 0..DESIGNS {
        let pace = 1 + next() % (year_ms / EVENTS_PER_DESIGN);
        let mut time = next() % (year_ms / 2);
        let mut log: Vec<(EventId, u64)> = Vec::new();
        for k in 0..EVENTS_PER_DESIGN as usize {
            time += 1 + next() % (2 * pace);
            let parents: Vec<usize> = match k {
                0 => vec![],
                k if k % 10 == 5 && k >= 2 => vec![k - 2],
                k if k % 10 == 6 => vec![k - 1, k - 2],
                k => vec![k - 1],
            };
            let clock = parents.iter().map(|p| log[*p].1 + 1).max().unwrap_or(0);
            let id = EventId::from_hash(Hash::of(&(design * 1_000_000 + k as u64).to_le_bytes()));
            events.push(Event { design, id, parents: parents.iter().map(|p| log[*p].0).collect(), clock, time });
            log.push((id, clock));
        }
    }
    events
}

/// The encoded size of a real signed approval deep in a design's log.
fn approval_size() -> usize {
    let key = SecretKey::from_bytes(&[1; 32]);
    UnsignedEvent {
        design: Some(DesignId::from_hash(Hash::of(b"design"))),
        author: key.author(),
        parents: vec![EventId::from_hash(Hash::of(b"parent"))],
        clock: 1_000,
        time: 1_767_225_600_000,
        body: Body::Approve { target: EventId::from_hash(Hash::of(b"revision")) },
    }
    .sign(&key)
    .expect("valid")
    .bytes()
    .len()
}
