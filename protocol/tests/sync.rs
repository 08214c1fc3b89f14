//! Catch-up reconciliation: both sides learn exactly what the other lacks.

use std::collections::BTreeSet;

use communs_protocol::limits::MAX_RECONCILE_MESSAGE_BYTES;
use communs_protocol::sync::{Initiator, Responder, SyncError};
use communs_protocol::{EventId, Hash};
use proptest::prelude::*;

fn id(n: u64) -> EventId {
    EventId::from_hash(Hash::of(&n.to_le_bytes()))
}

/// Runs a whole session; returns (have, need, round trips).
fn reconcile(mine: &[(u64, EventId)], theirs: &[(u64, EventId)]) -> (BTreeSet<EventId>, BTreeSet<EventId>, usize) {
    let (mut initiator, mut message) = Initiator::start(mine.iter().copied()).expect("start");
    let mut responder = Responder::new(theirs.iter().copied()).expect("responder");
    let (mut have, mut need) = (BTreeSet::new(), BTreeSet::new());
    let mut rounds = 0;
    loop {
        assert!(message.len() <= MAX_RECONCILE_MESSAGE_BYTES);
        let reply = responder.receive(&message).expect("reply");
        rounds += 1;
        let learned = initiator.receive(&reply).expect("step");
        have.extend(learned.have);
        need.extend(learned.need);
        match learned.next {
            Some(next) => message = next,
            None => return (have, need, rounds),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn each_side_learns_exactly_what_the_other_lacks(
        shared in proptest::collection::btree_set(0u64..1_000_000, 0..400),
        only_mine in proptest::collection::btree_set(1_000_000u64..2_000_000, 0..40),
        only_theirs in proptest::collection::btree_set(2_000_000u64..3_000_000, 0..40),
    ) {
        let item = |n: &u64| (n % 97, id(*n));
        let mine: Vec<_> = shared.iter().chain(&only_mine).map(item).collect();
        let theirs: Vec<_> = shared.iter().chain(&only_theirs).map(item).collect();
        let (have, need, _) = reconcile(&mine, &theirs);
        prop_assert_eq!(have, only_mine.iter().map(|n| id(*n)).collect::<BTreeSet<_>>());
        prop_assert_eq!(need, only_theirs.iter().map(|n| id(*n)).collect::<BTreeSet<_>>());
    }

    #[test]
    fn arbitrary_bytes_never_panic_either_side(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let items: Vec<_> = (0..50u64).map(|n| (n, id(n))).collect();
        let mut responder = Responder::new(items.iter().copied()).expect("responder");
        let _ = responder.receive(&bytes);
        let (mut initiator, _) = Initiator::start(items).expect("start");
        let _ = initiator.receive(&bytes);
    }
}

#[test]
fn identical_sets_reconcile_in_one_round_trip() {
    let items: Vec<_> = (0..10_000u64).map(|n| (n / 10, id(n))).collect();
    let (have, need, rounds) = reconcile(&items, &items);
    assert!(have.is_empty() && need.is_empty());
    assert_eq!(rounds, 1);
}

#[test]
fn an_oversized_message_is_refused_before_parsing() {
    let mut responder = Responder::new([(0, id(0))]).expect("responder");
    let huge = vec![0x61; MAX_RECONCILE_MESSAGE_BYTES + 1];
    assert!(matches!(responder.receive(&huge), Err(SyncError::TooLarge { .. })));
}

/// A random DAG: event n's parents are drawn among earlier events.
fn dag(len: u64, seed: u64) -> Vec<(EventId, Vec<EventId>)> {
    let mut state = seed | 1;
    let mut events: Vec<(EventId, Vec<EventId>)> = Vec::new();
    for n in 0..len {
        let mut parents = Vec::new();
        if n > 0 {
            for _ in 0..1 + state % 2 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                parents.push(events[(state % n) as usize].0);
            }
        }
        parents.sort();
        parents.dedup();
        events.push((id(seed.wrapping_mul(1_000_003) + n), parents));
    }
    events
}

fn heads(events: &[(EventId, Vec<EventId>)]) -> Vec<EventId> {
    let named: BTreeSet<EventId> = events.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    events.iter().map(|(id, _)| *id).filter(|id| !named.contains(id)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn heads_tell_exactly_what_a_peer_lacks(len in 1u64..120, cut in 0u64..120, seed in any::<u64>()) {
        let full = dag(len, seed);
        // The peer holds a prefix of the log: closed under parents.
        let theirs = &full[..(cut.min(len) as usize).max(1)];
        let missing = communs_protocol::sync::missing_from_heads(
            full.iter().map(|(id, p)| (*id, p.as_slice())),
            &heads(theirs),
        );
        let held: BTreeSet<EventId> = theirs.iter().map(|(id, _)| *id).collect();
        let expected: Vec<EventId> = {
            let mut v: Vec<EventId> = full.iter().map(|(id, _)| *id).filter(|id| !held.contains(id)).collect();
            v.sort();
            v
        };
        prop_assert_eq!(missing.they_lack, expected);
        prop_assert!(missing.we_lack.is_empty());
    }
}

#[test]
fn a_head_this_side_does_not_know_is_reported_as_lacking() {
    let log = dag(10, 7);
    let stranger = id(999_999_999);
    let missing =
        communs_protocol::sync::missing_from_heads(log.iter().map(|(id, p)| (*id, p.as_slice())), &[stranger]);
    assert_eq!(missing.we_lack, vec![stranger]);
    assert_eq!(missing.they_lack.len(), 10);
}
