//! The designs this node keeps, and what the swarm must change when they
//! change: a state machine owned by the driver, fed the sets read from the
//! store and returning the shards to subscribe to or leave and the designs
//! to announce in the DHT or stop announcing. No lock, no store.
//!
//! Why the driver owns it: the kept set decides gossip subscriptions and
//! DHT announcements, which only the driver can change; computing the
//! change where it is applied keeps the two from drifting apart when
//! several tasks refresh the set at once. Other tasks read the set
//! through the snapshot [`Kept::update`] returns for publication (a
//! `watch` channel of which the driver holds the only sender).

use std::collections::BTreeSet;
use std::sync::Arc;

use communs_protocol::{DesignId, wire};

/// A change in the shards a node listens to and the designs it announces
/// in the DHT: a followed design is announced once it is here, and an
/// unfollowed one no longer.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct KeepChange {
    pub(super) subscribe: Vec<u16>,
    pub(super) unsubscribe: Vec<u16>,
    /// Kept designs new to the store: announced, and queued for their
    /// files.
    pub(super) provide: Vec<DesignId>,
    pub(super) unprovide: Vec<DesignId>,
}

/// The kept designs and those of them present in the store.
#[derive(Debug)]
pub(super) struct Kept {
    /// A node that seeds everything stays on every shard.
    seed_all: bool,
    kept: Arc<BTreeSet<DesignId>>,
    /// The kept designs present in the store: those announced in the DHT.
    present: BTreeSet<DesignId>,
}

impl Kept {
    pub(super) fn new(seed_all: bool) -> Kept {
        Kept { seed_all, kept: Arc::default(), present: BTreeSet::new() }
    }

    /// The store now says `kept` and `present`: the change to make, and
    /// the kept set to publish.
    pub(super) fn update(
        &mut self,
        kept: BTreeSet<DesignId>,
        present: BTreeSet<DesignId>,
    ) -> (KeepChange, Arc<BTreeSet<DesignId>>) {
        let shards = |designs: &BTreeSet<DesignId>| designs.iter().map(wire::shard).collect::<BTreeSet<u16>>();
        let (before, after) = (shards(&self.kept), shards(&kept));
        let change = KeepChange {
            subscribe: after.difference(&before).copied().collect(),
            unsubscribe: if self.seed_all { Vec::new() } else { before.difference(&after).copied().collect() },
            provide: present.difference(&self.present).copied().collect(),
            unprovide: self.present.difference(&present).copied().collect(),
        };
        self.kept = Arc::new(kept);
        self.present = present;
        (change, self.kept.clone())
    }

    /// The kept designs present in the store.
    pub(super) fn present(&self) -> &BTreeSet<DesignId> {
        &self.present
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::Hash;

    use super::*;

    /// A design on the given shard.
    fn design_on(shard: u16, salt: u8) -> DesignId {
        (0..=u16::MAX)
            .map(|n| DesignId::from_hash(Hash::of(&[&n.to_be_bytes()[..], &[salt]].concat())))
            .find(|d| wire::shard(d) == shard)
            .expect("some design lands on every shard")
    }

    fn set(designs: &[DesignId]) -> BTreeSet<DesignId> {
        designs.iter().copied().collect()
    }

    #[test]
    fn shards_are_joined_and_left_as_designs_come_and_go() {
        let (a, b, c) = (design_on(3, 0), design_on(3, 1), design_on(7, 0));
        let mut kept = Kept::new(false);
        let (change, published) = kept.update(set(&[a, b]), set(&[a]));
        assert_eq!(change, KeepChange { subscribe: vec![3], provide: vec![a], ..Default::default() });
        assert_eq!(*published, set(&[a, b]));
        // b arrives: announced, no new shard.
        let (change, _) = kept.update(set(&[a, b]), set(&[a, b]));
        assert_eq!(change, KeepChange { provide: vec![b], ..Default::default() });
        // a unfollowed: shard 3 stays for b; c followed, not here yet.
        let (change, _) = kept.update(set(&[b, c]), set(&[b]));
        assert_eq!(change, KeepChange { subscribe: vec![7], unprovide: vec![a], ..Default::default() });
        // Everything unfollowed.
        let (change, published) = kept.update(BTreeSet::new(), BTreeSet::new());
        assert_eq!(change, KeepChange { unsubscribe: vec![3, 7], unprovide: vec![b], ..Default::default() });
        assert!(published.is_empty() && kept.present().is_empty());
    }

    #[test]
    fn a_node_seeding_everything_never_leaves_a_shard() {
        let a = design_on(5, 0);
        let mut kept = Kept::new(true);
        kept.update(set(&[a]), set(&[a]));
        let (change, _) = kept.update(BTreeSet::new(), BTreeSet::new());
        assert_eq!(change, KeepChange { unprovide: vec![a], ..Default::default() });
    }
}
