//! Which files give way first when the store must stay under its limit
//! (spec/storage.md, "The disk limit"): a pure function of what the store
//! holds, of each holding's size and of the policy, so that the order can
//! be tested without a store and read in one place.

use communs_protocol::DesignId;
use serde::{Deserialize, Serialize};

/// How much a node wants a design's files, most wanted first. Files of a
/// tier are given up only to make room for a more wanted one: a design
/// never pushes out one it ranks with, so two seeded designs cannot
/// evict each other in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    /// What this node or its users asked for: followed, pinned, or
    /// written here. Never evicted; a follow that does not fit is refused.
    Followed,
    /// The files of the revision a seeded design checks out.
    SeededHead,
    /// Files of a seeded design's other revisions, fetched when they were
    /// its head.
    SeededOlder,
}

/// Files of one design in one tier, with the bytes that giving them up
/// would free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub design: DesignId,
    pub tier: Tier,
    pub bytes: u64,
}

/// What a fetch of `needed` bytes for a design of some tier may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// It fits in what is free now.
    Fits,
    /// It fits once these holdings are given up.
    Evict(Vec<Holding>),
    /// It does not fit even with every less wanted file given up: `free`
    /// is what would be free then.
    Refused { needed: u64, free: u64 },
}

/// The holdings in the order they are given up: the least wanted tier
/// first, in it the largest first (fewest designs lose their files), then
/// by design id, so that the order does not depend on how the store
/// listed them.
pub fn eviction_order(holdings: &[Holding]) -> Vec<Holding> {
    let mut order = holdings.to_vec();
    order.sort_by(|a, b| b.tier.cmp(&a.tier).then(b.bytes.cmp(&a.bytes)).then(a.design.cmp(&b.design)));
    order
}

/// Whether `needed` bytes for a design of `tier` fit in `free` bytes,
/// or after giving up which of `holdings` (only those of a less wanted
/// tier, the fewest that make room, in [`eviction_order`]).
pub fn admit(tier: Tier, needed: u64, free: u64, holdings: &[Holding]) -> Admission {
    if needed <= free {
        return Admission::Fits;
    }
    let mut freed = free;
    let mut evicted = Vec::new();
    for holding in eviction_order(holdings).into_iter().filter(|h| h.tier > tier && h.bytes > 0) {
        freed = freed.saturating_add(holding.bytes);
        evicted.push(holding);
        if needed <= freed {
            return Admission::Evict(evicted);
        }
    }
    Admission::Refused { needed, free: freed }
}

/// What to give up so that `excess` bytes are freed (the store went over
/// its limit: the limit was lowered, or something grew that no fetch
/// reserved): in [`eviction_order`], never a followed design's files.
/// Fewer than `excess` bytes if even that is not enough.
pub fn shed(excess: u64, holdings: &[Holding]) -> Vec<Holding> {
    let mut freed = 0u64;
    let mut evicted = Vec::new();
    for holding in eviction_order(holdings).into_iter().filter(|h| h.tier > Tier::Followed && h.bytes > 0) {
        if freed >= excess {
            break;
        }
        freed = freed.saturating_add(holding.bytes);
        evicted.push(holding);
    }
    evicted
}

#[cfg(test)]
mod tests {
    use communs_protocol::Hash;

    use super::*;

    fn design(n: u8) -> DesignId {
        DesignId::from_hash(Hash::from_bytes([n; 32]))
    }

    fn holding(n: u8, tier: Tier, bytes: u64) -> Holding {
        Holding { design: design(n), tier, bytes }
    }

    fn store() -> Vec<Holding> {
        vec![
            holding(1, Tier::Followed, 500),
            holding(2, Tier::SeededHead, 100),
            holding(3, Tier::SeededHead, 300),
            holding(2, Tier::SeededOlder, 50),
            holding(4, Tier::SeededOlder, 80),
            holding(5, Tier::SeededHead, 300),
        ]
    }

    #[test]
    fn older_revisions_go_first_then_heads_largest_first_and_followed_designs_never() {
        let order: Vec<(u8, Tier)> =
            eviction_order(&store()).iter().map(|h| (h.design.as_bytes()[0], h.tier)).collect();
        assert_eq!(
            order,
            vec![
                (4, Tier::SeededOlder),
                (2, Tier::SeededOlder),
                (3, Tier::SeededHead),
                (5, Tier::SeededHead),
                (2, Tier::SeededHead),
                (1, Tier::Followed),
            ]
        );
        // Shedding everything it can leaves the followed design.
        let shed_all = shed(u64::MAX, &store());
        assert_eq!(shed_all.len(), 5);
        assert!(shed_all.iter().all(|h| h.tier != Tier::Followed));
    }

    #[test]
    fn a_fetch_that_fits_evicts_nothing() {
        assert_eq!(admit(Tier::SeededHead, 100, 100, &store()), Admission::Fits);
        assert_eq!(admit(Tier::SeededOlder, 0, 0, &store()), Admission::Fits);
    }

    #[test]
    fn a_follow_evicts_the_fewest_less_wanted_holdings_that_make_room() {
        // 40 free, 200 needed: the older revisions (80 + 50) are not
        // enough, the largest head then is.
        let Admission::Evict(evicted) = admit(Tier::Followed, 200, 40, &store()) else { panic!("room can be made") };
        let evicted: Vec<(u8, Tier)> = evicted.iter().map(|h| (h.design.as_bytes()[0], h.tier)).collect();
        assert_eq!(evicted, vec![(4, Tier::SeededOlder), (2, Tier::SeededOlder), (3, Tier::SeededHead)]);
        // Older revisions alone make room for 100.
        let Admission::Evict(evicted) = admit(Tier::Followed, 100, 40, &store()) else { panic!("room can be made") };
        assert_eq!(evicted.len(), 1);
    }

    #[test]
    fn a_seeded_head_evicts_only_older_revisions_never_another_head() {
        let Admission::Evict(evicted) = admit(Tier::SeededHead, 150, 20, &store()) else { panic!("room") };
        assert!(evicted.iter().all(|h| h.tier == Tier::SeededOlder));
        assert_eq!(admit(Tier::SeededHead, 151, 20, &store()), Admission::Refused { needed: 151, free: 150 });
        // An older revision makes room for nothing.
        assert_eq!(admit(Tier::SeededOlder, 30, 20, &store()), Admission::Refused { needed: 30, free: 20 });
    }

    #[test]
    fn a_follow_larger_than_everything_below_it_is_refused_with_what_would_be_free() {
        // 10 free + 50 + 80 + 100 + 300 + 300 of seeded files.
        assert_eq!(admit(Tier::Followed, 10_000, 10, &store()), Admission::Refused { needed: 10_000, free: 840 });
    }

    #[test]
    fn shedding_stops_once_enough_is_freed() {
        let shed_some = shed(100, &store());
        let freed: u64 = shed_some.iter().map(|h| h.bytes).sum();
        assert_eq!(shed_some.len(), 2, "80 then 50");
        assert!(freed >= 100);
        assert!(shed(0, &store()).is_empty());
    }
}
