//! What this node last saw of each peer it has known: its last successful
//! connection, its last catch-up and its last error, for `node status`
//! (so that "no peer ever connected" reads apart from "connected, nothing
//! new").
//!
//! A state machine owned by the `Driver`, fed what happened and the time
//! (milliseconds since the Unix epoch); no clock of its own. Bounded by
//! [`MAX_PEER_HISTORY`]: past it, the peer heard of longest ago is
//! forgotten. Kept in memory only: a restart starts it empty.

use std::collections::HashMap;

use communs_protocol::limits::{MAX_PEER_ERROR_CHARS, MAX_PEER_HISTORY};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

/// One peer's last connection, catch-up and error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerHistory {
    pub peer_id: String,
    /// Connected now.
    pub connected: bool,
    /// When a connection to it last succeeded, in milliseconds since the
    /// Unix epoch; absent if none ever did.
    pub last_connected_ms: Option<u64>,
    /// Its last catch-up that ended well; absent if none did.
    pub last_catchup: Option<LastCatchup>,
    /// The last thing that went wrong with it (a dial, a catch-up, a
    /// connection closed by an error); absent if nothing did.
    pub last_error: Option<LastError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastCatchup {
    pub at_ms: u64,
    /// Events it brought (0: nothing new).
    pub events: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastError {
    pub at_ms: u64,
    pub error: String,
}

#[derive(Debug, Default)]
struct Record {
    connected: bool,
    last_connected_ms: Option<u64>,
    last_catchup: Option<LastCatchup>,
    last_error: Option<LastError>,
    /// When anything was last heard of the peer: the eviction order.
    touched_ms: u64,
}

#[derive(Debug, Default)]
pub(super) struct PeerHistories {
    peers: HashMap<PeerId, Record>,
}

impl PeerHistories {
    pub(super) fn connected(&mut self, peer: PeerId, now_ms: u64) {
        let record = self.touch(peer, now_ms);
        record.connected = true;
        record.last_connected_ms = Some(now_ms);
    }

    pub(super) fn disconnected(&mut self, peer: PeerId, now_ms: u64) {
        self.touch(peer, now_ms).connected = false;
    }

    pub(super) fn caught_up(&mut self, peer: PeerId, now_ms: u64, events: usize) {
        self.touch(peer, now_ms).last_catchup = Some(LastCatchup { at_ms: now_ms, events });
    }

    pub(super) fn failed(&mut self, peer: PeerId, now_ms: u64, error: &str) {
        let error = match error.char_indices().nth(MAX_PEER_ERROR_CHARS) {
            Some((cut, _)) => format!("{}…", &error[..cut]),
            None => error.to_owned(),
        };
        self.touch(peer, now_ms).last_error = Some(LastError { at_ms: now_ms, error });
    }

    /// Every peer remembered, the connected first, then by last
    /// connection (newest first), then those never connected.
    pub(super) fn status(&self) -> Vec<PeerHistory> {
        let mut peers: Vec<(&PeerId, &Record)> = self.peers.iter().collect();
        peers.sort_by(|(a, x), (b, y)| {
            (y.connected, y.last_connected_ms, y.touched_ms)
                .cmp(&(x.connected, x.last_connected_ms, x.touched_ms))
                .then(a.cmp(b))
        });
        peers
            .into_iter()
            .map(|(peer, r)| PeerHistory {
                peer_id: peer.to_string(),
                connected: r.connected,
                last_connected_ms: r.last_connected_ms,
                last_catchup: r.last_catchup,
                last_error: r.last_error.clone(),
            })
            .collect()
    }

    /// The peer's record, made (and the oldest forgotten if full) if new.
    fn touch(&mut self, peer: PeerId, now_ms: u64) -> &mut Record {
        if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_PEER_HISTORY {
            // A connected peer is forgotten last: it is what a person
            // looks for first.
            let oldest = self.peers.iter().min_by_key(|(_, r)| (r.connected, r.touched_ms)).map(|(p, _)| *p);
            if let Some(oldest) = oldest {
                self.peers.remove(&oldest);
            }
        }
        let record = self.peers.entry(peer).or_default();
        record.touched_ms = record.touched_ms.max(now_ms);
        record
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::limits::{MAX_PEER_ERROR_CHARS, MAX_PEER_HISTORY};
    use libp2p::PeerId;

    use super::{LastCatchup, PeerHistories};

    #[test]
    fn a_peer_never_reached_shows_its_error_and_no_connection() {
        let mut peers = PeerHistories::default();
        let peer = PeerId::random();
        peers.failed(peer, 1_000, "dial failed: connection refused");
        let status = peers.status();
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].last_connected_ms, None);
        assert!(!status[0].connected);
        assert_eq!(
            status[0].last_error.as_ref().map(|e| (e.at_ms, e.error.as_str())),
            Some((1_000, "dial failed: connection refused"))
        );
    }

    #[test]
    fn connection_catch_up_and_disconnection_are_remembered_with_their_times() {
        let mut peers = PeerHistories::default();
        let peer = PeerId::random();
        peers.connected(peer, 10);
        peers.caught_up(peer, 20, 0);
        assert_eq!(peers.status()[0].last_catchup, Some(LastCatchup { at_ms: 20, events: 0 }), "nothing new");
        assert!(peers.status()[0].connected);
        peers.caught_up(peer, 30, 4);
        peers.disconnected(peer, 40);
        let status = &peers.status()[0];
        assert!(!status.connected);
        assert_eq!(status.last_connected_ms, Some(10), "a disconnection keeps the last connection's time");
        assert_eq!(status.last_catchup, Some(LastCatchup { at_ms: 30, events: 4 }));
        assert_eq!(status.last_error, None);
    }

    #[test]
    fn connected_peers_come_first_then_the_latest_connected() {
        let mut peers = PeerHistories::default();
        let (never, old, now) = (PeerId::random(), PeerId::random(), PeerId::random());
        peers.failed(never, 50, "refused");
        peers.connected(old, 10);
        peers.disconnected(old, 11);
        peers.connected(now, 5);
        let order: Vec<String> = peers.status().into_iter().map(|p| p.peer_id).collect();
        assert_eq!(order, [now.to_string(), old.to_string(), never.to_string()]);
    }

    #[test]
    fn the_history_is_bounded_and_forgets_the_oldest_unconnected_peer() {
        let mut peers = PeerHistories::default();
        let connected = PeerId::random();
        peers.connected(connected, 0);
        let first = PeerId::random();
        peers.failed(first, 1, "refused");
        for at in 2..MAX_PEER_HISTORY as u64 + 10 {
            peers.failed(PeerId::random(), at, "refused");
        }
        let status = peers.status();
        assert_eq!(status.len(), MAX_PEER_HISTORY);
        assert!(status.iter().any(|p| p.peer_id == connected.to_string()), "a connected peer is kept");
        assert!(!status.iter().any(|p| p.peer_id == first.to_string()), "the oldest is forgotten");
    }

    #[test]
    fn a_long_error_is_cut() {
        let mut peers = PeerHistories::default();
        peers.failed(PeerId::random(), 1, &"é".repeat(MAX_PEER_ERROR_CHARS * 3));
        let error = peers.status()[0].last_error.clone().expect("error").error;
        assert_eq!(error.chars().count(), MAX_PEER_ERROR_CHARS + 1);
    }
}
