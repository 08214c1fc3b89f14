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
