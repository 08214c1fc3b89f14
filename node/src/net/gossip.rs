//! Checking a gossiped event before it is accepted or forwarded.

use communs_protocol::wire;
use communs_protocol::{SignedEvent, limits::MAX_PENDING_EVENTS};
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
        self.release_pending().await;
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
            pending.insert(event.id(), event);
        }
    }

    /// Stores the held events whose parents have arrived since.
    pub(super) async fn release_pending(&self) {
        let held: Vec<SignedEvent> = match self.shared.pending.lock() {
            Ok(mut pending) if !pending.is_empty() => std::mem::take(&mut *pending).into_values().collect(),
            _ => return,
        };
        let node = self.shared.node.clone();
        if let Ok(Ok(ingested)) = tokio::task::spawn_blocking(move || node.ingest(held)).await {
            self.hold(ingested.waiting);
        }
    }
}
