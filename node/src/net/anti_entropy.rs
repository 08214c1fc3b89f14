//! Which connected peer the periodic catch-up (anti-entropy) asks next: a
//! state machine fed the connected peers at each tick of
//! [`ANTI_ENTROPY_INTERVAL`](super::timing::ANTI_ENTROPY_INTERVAL), with
//! no clock, lock or randomness of its own.
//!
//! Why: gossip is lossy, and a peer may learn events after the catch-up
//! made when the connection opened (spec/network.md, "When a connection
//! opens"). Peers are taken in the order of their ids, each after the one
//! asked last, so that with `d` peers each is asked within `d` ticks
//! whatever peers come and go meanwhile; an index into the swarm's list
//! of peers (in no stable order) gave no such bound.

use libp2p::PeerId;

#[derive(Debug, Default)]
pub(super) struct AntiEntropy {
    /// The peer asked at the last tick.
    last: Option<PeerId>,
}

impl AntiEntropy {
    /// A tick, with `connected` the peers connected now (any order): the
    /// peer to catch up with, if any.
    pub(super) fn tick(&mut self, connected: impl IntoIterator<Item = PeerId>) -> Option<PeerId> {
        let mut first = None;
        let mut after_last = None;
        for peer in connected {
            if first.is_none_or(|f| peer < f) {
                first = Some(peer);
            }
            if self.last.is_some_and(|last| peer > last) && after_last.is_none_or(|a| peer < a) {
                after_last = Some(peer);
            }
        }
        let next = after_last.or(first)?;
        self.last = Some(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_peer_is_asked_in_turn_whatever_the_order_given() {
        let mut peers: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
        let mut turns = AntiEntropy::default();
        let mut asked = Vec::new();
        for round in 0..10 {
            peers.rotate_left(round % 3);
            asked.extend(turns.tick(peers.iter().copied()));
        }
        let mut sorted = peers.clone();
        sorted.sort();
        assert_eq!(asked[..5], sorted[..]);
        assert_eq!(asked[5..], sorted[..]);
    }

    #[test]
    fn peers_that_come_and_go_do_not_delay_the_others() {
        let mut peers: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
        peers.sort();
        let mut turns = AntiEntropy::default();
        assert_eq!(turns.tick(peers.clone()), Some(peers[0]));
        // The peer asked leaves; a newcomer before it in order arrives.
        let mut newcomer = PeerId::random();
        while newcomer > peers[1] {
            newcomer = PeerId::random();
        }
        let now: Vec<PeerId> = vec![newcomer, peers[1], peers[2], peers[3]];
        let mut asked = BTreeSet::new();
        for _ in 0..now.len() {
            asked.extend(turns.tick(now.clone()));
        }
        assert_eq!(asked, now.into_iter().collect(), "each within as many ticks as peers");
        assert_eq!(AntiEntropy::default().tick(Vec::new()), None);
    }
}
