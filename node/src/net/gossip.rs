//! Checking a gossiped event before it is accepted or forwarded.

use communs_protocol::wire;
use std::collections::{BTreeMap, HashMap};

use communs_protocol::{EventId, SignedEvent, limits::MAX_PENDING_EVENTS};
use libp2p::PeerId;
use libp2p::gossipsub::{Message, MessageAcceptance};

use super::Interest;

/// How long the verdict on an event whose parents are missing waits for a
/// catch-up to bring them: less than gossipsub keeps a message it has not
/// validated (5 heartbeats of 500 ms).
const GAP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
use super::Network;

impl Network {
    /// The verdict on one gossiped message:
    /// - `Reject` (the sender is penalised) for bytes that are not a valid
    ///   signed event, an event on the wrong topic, or one that contradicts
    ///   its parents;
    /// - for an event whose parents this node lacks, a catch-up with the
    ///   sender first (up to [`GAP_WAIT`]): `Accept` if the event then
    ///   connects, else `Ignore` (dropped, not forwarded, no penalty; it is
    ///   held until its parents come);
    /// - `Ignore` for an event of a design this node removed;
    /// - `Accept` otherwise: stored if this node keeps the design, and
    ///   forwarded.
    pub(super) async fn validate_gossip(&self, source: PeerId, message: &Message) -> MessageAcceptance {
        let event = match SignedEvent::decode(&message.data) {
            Ok(event) => event,
            Err(e) => {
                tracing::info!(%source, "rejected a gossiped message: {e}");
                return MessageAcceptance::Reject;
            }
        };
        if !wire::topic_matches(&event, message.topic.as_str()) {
            tracing::info!(%source, "rejected event {} gossiped on the wrong topic", event.id());
            return MessageAcceptance::Reject;
        }
        let design = event.design();
        let id = event.id();
        if !self.keeps(&design) {
            // Valid as far as this node can tell without the design's log;
            // forwarded for the peers that keep it.
            return MessageAcceptance::Accept;
        }
        let node = self.shared.node.clone();
        let ingested = match tokio::task::spawn_blocking(move || node.ingest(vec![event])).await {
            Ok(Ok(ingested)) => ingested,
            Ok(Err(e)) => {
                tracing::warn!("cannot store a gossiped event: {e}");
                return MessageAcceptance::Ignore;
            }
            Err(_) => return MessageAcceptance::Ignore,
        };
        if !ingested.ignored.is_empty() {
            // A design this node removed: not stored, not forwarded, and
            // the sender did nothing wrong.
            return MessageAcceptance::Ignore;
        }
        if let Some((id, e)) = ingested.rejected.first() {
            tracing::info!(%source, "rejected event {id}: {e}");
            return MessageAcceptance::Reject;
        }
        if !ingested.waiting.is_empty() {
            // The sender accepted this event, so it holds its parents: the
            // verdict waits while a catch-up with it brings them, and the
            // event is forwarded if it then connects. Past the wait, gossip
            // would have dropped the message anyway.
            self.hold(ingested.waiting);
            let caught_up = tokio::time::timeout(GAP_WAIT, self.catch_up(source, Interest::designs([design]))).await;
            if let Ok(Err(e)) = caught_up {
                tracing::debug!(%source, "catch-up after a gap failed: {e}");
            }
            let node = self.shared.node.clone();
            let stored = tokio::task::spawn_blocking(move || node.events.contains(&id)).await;
            return match stored {
                Ok(Ok(true)) => MessageAcceptance::Accept,
                _ => MessageAcceptance::Ignore,
            };
        }
        self.release_pending(vec![id]).await;
        MessageAcceptance::Accept
    }

    /// Keeps events whose parents are missing, up to the limit; beyond it
    /// the newest arrivals are dropped (catch-up brings them back).
    pub(super) fn hold(&self, events: Vec<SignedEvent>) {
        let Ok(mut pending) = self.shared.pending.lock() else { return };
        for event in events {
            if pending.len() >= MAX_PENDING_EVENTS {
                tracing::warn!("{MAX_PENDING_EVENTS} events wait for their parents; dropping the rest");
                return;
            }
            pending.insert(event);
        }
    }

    /// Stores the held events that wait for one of `arrived` (and, through
    /// them, those that wait for them in turn). Only those are looked at:
    /// a peer that filled the pending set with events that never connect
    /// costs nothing to the events that do.
    pub(super) async fn release_pending(&self, arrived: Vec<EventId>) {
        let mut arrived = arrived;
        while !arrived.is_empty() {
            let waiting = match self.shared.pending.lock() {
                Ok(mut pending) => pending.take_children(&arrived),
                Err(_) => return,
            };
            if waiting.is_empty() {
                return;
            }
            let node = self.shared.node.clone();
            let Ok(Ok(ingested)) = tokio::task::spawn_blocking(move || node.ingest(waiting)).await else { return };
            arrived = ingested.added.iter().map(SignedEvent::id).collect();
            self.hold(ingested.waiting);
        }
    }
}

/// Events held until their parents arrive, indexed by parent.
#[derive(Default)]
pub(super) struct Pending {
    events: BTreeMap<EventId, SignedEvent>,
    by_parent: HashMap<EventId, Vec<EventId>>,
}

impl Pending {
    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    fn insert(&mut self, event: SignedEvent) {
        let id = event.id();
        if self.events.contains_key(&id) {
            return;
        }
        for parent in event.parents() {
            self.by_parent.entry(*parent).or_default().push(id);
        }
        self.events.insert(id, event);
    }

    /// Removes and returns the events that name one of `parents`.
    fn take_children(&mut self, parents: &[EventId]) -> Vec<SignedEvent> {
        let mut out = Vec::new();
        for parent in parents {
            for child in self.by_parent.remove(parent).unwrap_or_default() {
                if let Some(event) = self.events.remove(&child) {
                    for other in event.parents() {
                        if let Some(siblings) = self.by_parent.get_mut(other) {
                            siblings.retain(|c| *c != child);
                        }
                    }
                    out.push(event);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::{Body, DesignId, EventId, Hash, SecretKey, SignedEvent, UnsignedEvent};

    use super::Pending;

    fn approval(key: &SecretKey, parent: EventId, clock: u64) -> SignedEvent {
        UnsignedEvent {
            design: Some(DesignId::from_hash(Hash::from_bytes([1; 32]))),
            author: key.author(),
            parents: vec![parent],
            clock,
            time: clock,
            body: Body::Approve { target: parent },
        }
        .sign(key)
        .expect("sign")
    }

    #[test]
    fn held_events_come_back_only_when_their_parent_arrives() {
        let key = SecretKey::from_bytes(&[9; 32]);
        let root = EventId::from_hash(Hash::from_bytes([2; 32]));
        let first = approval(&key, root, 1);
        let second = approval(&key, first.id(), 2);
        let stranger = approval(&key, EventId::from_hash(Hash::from_bytes([3; 32])), 1);
        let mut pending = Pending::default();
        for event in [second.clone(), first.clone(), stranger.clone(), first.clone()] {
            pending.insert(event);
        }
        assert_eq!(pending.len(), 3);
        assert!(pending.take_children(&[second.id()]).is_empty());
        assert_eq!(pending.take_children(&[root]).iter().map(SignedEvent::id).collect::<Vec<_>>(), vec![first.id()]);
        assert_eq!(
            pending.take_children(&[first.id()]).iter().map(SignedEvent::id).collect::<Vec<_>>(),
            vec![second.id()]
        );
        assert_eq!(pending.len(), 1, "the event whose parent never came stays");
    }
}
