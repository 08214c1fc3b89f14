//! Which peers hold a design: those that sent this node its events. Files
//! are asked of them first. A state machine owned by the driver, fed what
//! catch-ups stored and asked for an order of peers; no lock, no clock.
//!
//! Why: a file was asked of the connected peers in turn, each up to six
//! times over about 1.2 s before the next, whether or not it had the
//! design; on a LAN of 8 nodes with one seeder a 3.3 MB `get` took 7.7 to
//! 10.1 s where the seeder alone served it in 0.04 s.

use std::collections::HashMap;

use communs_protocol::DesignId;
use libp2p::PeerId;

/// Holders remembered per design, the most recent first.
pub(super) const MAX_HOLDERS_PER_DESIGN: usize = 8;
/// Designs whose holders are remembered; the least recently seen go (an
/// eighth at a time, so that forgetting costs a sort per that many saws).
pub(super) const MAX_DESIGNS_WITH_HOLDERS: usize = 16_384;

#[derive(Debug, Default)]
pub(super) struct Holders {
    /// The holders of each design, and when it was last seen (`tick`).
    by_design: HashMap<DesignId, (Vec<PeerId>, u64)>,
    tick: u64,
}

impl Holders {
    /// `peer` sent events of `design`, so it holds the design (and, a
    /// node keeping what it has, its files, or it is fetching them).
    pub(super) fn saw(&mut self, peer: PeerId, design: DesignId) {
        self.tick += 1;
        let (holders, seen) = self.by_design.entry(design).or_default();
        holders.retain(|p| *p != peer);
        holders.insert(0, peer);
        holders.truncate(MAX_HOLDERS_PER_DESIGN);
        *seen = self.tick;
        if self.by_design.len() > MAX_DESIGNS_WITH_HOLDERS + MAX_DESIGNS_WITH_HOLDERS / 8 {
            let mut ticks: Vec<u64> = self.by_design.values().map(|(_, seen)| *seen).collect();
            let excess = ticks.len() - MAX_DESIGNS_WITH_HOLDERS;
            let (_, &mut cut, _) = ticks.select_nth_unstable(excess);
            self.by_design.retain(|_, (_, seen)| *seen >= cut);
        }
    }

    /// `peers` (the connected ones) with those known to hold any of
    /// `designs` first, most recent first; and how many those are.
    pub(super) fn order(&self, designs: &[DesignId], peers: &[PeerId]) -> (Vec<PeerId>, usize) {
        let mut ordered: Vec<PeerId> = Vec::with_capacity(peers.len());
        for design in designs {
            for holder in self.by_design.get(design).into_iter().flat_map(|(holders, _)| holders) {
                if peers.contains(holder) && !ordered.contains(holder) {
                    ordered.push(*holder);
                }
            }
        }
        let holders = ordered.len();
        let others: Vec<PeerId> = peers.iter().filter(|p| !ordered.contains(p)).copied().collect();
        ordered.extend(others);
        (ordered, holders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(seed: u8) -> PeerId {
        libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).expect("key").public().to_peer_id()
    }

    fn design(n: u32) -> DesignId {
        DesignId::from_hash(communs_protocol::Hash::of(&n.to_le_bytes()))
    }

    #[test]
    fn holders_come_first_most_recent_first_then_the_other_peers() {
        let mut holders = Holders::default();
        let (a, b, c, d) = (peer(1), peer(2), peer(3), peer(4));
        holders.saw(b, design(1));
        holders.saw(c, design(1));
        holders.saw(a, design(2));
        assert_eq!(holders.order(&[design(1)], &[a, b, c, d]), (vec![c, b, a, d], 2));
        // A holder no longer connected is left out.
        assert_eq!(holders.order(&[design(1)], &[a, b, d]), (vec![b, a, d], 1));
        // Several designs: the holders of each.
        assert_eq!(holders.order(&[design(1), design(2)], &[a, b, c, d]), (vec![c, b, a, d], 3));
        // Nothing known: the peers as they were.
        assert_eq!(holders.order(&[design(3)], &[d, a]), (vec![d, a], 0));
    }

    #[test]
    fn holders_and_designs_are_bounded() {
        let mut holders = Holders::default();
        for seed in 0..20 {
            holders.saw(peer(seed), design(0));
        }
        let peers: Vec<PeerId> = (0..20).map(peer).collect();
        let (ordered, known) = holders.order(&[design(0)], &peers);
        assert_eq!(known, MAX_HOLDERS_PER_DESIGN);
        assert_eq!(ordered[0], peer(19));
        let many = (MAX_DESIGNS_WITH_HOLDERS + MAX_DESIGNS_WITH_HOLDERS / 8) as u32 + 100;
        for n in 0..many {
            holders.saw(peer(1), design(n + 1));
        }
        assert!(holders.by_design.len() <= MAX_DESIGNS_WITH_HOLDERS + MAX_DESIGNS_WITH_HOLDERS / 8);
        // The oldest went; the newest stayed.
        assert_eq!(holders.order(&[design(0)], &[peer(19)]).1, 0);
        assert_eq!(holders.order(&[design(many)], &[peer(1)]).1, 1);
    }
}
