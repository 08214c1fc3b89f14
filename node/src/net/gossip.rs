//! Checking a gossiped event before it is accepted or forwarded.

use communs_protocol::wire;
use communs_protocol::{SignedEvent, limits::MAX_PENDING_EVENTS};
use libp2p::PeerId;
use libp2p::gossipsub::{Message, MessageAcceptance};

use super::Interest;
use super::Network;

impl Network {
    /// The verdict on one gossiped message:
    /// - `Reject` (the sender is penalised) for bytes that are not a valid
    ///   signed event, an event on the wrong topic, or one that contradicts
    ///   its parents;
    /// - `Ignore` (dropped, not forwarded, no penalty) for an event whose
    ///   parents this node lacks: it is held and a catch-up with the sender
    ///   brings the rest;
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
            self.hold(ingested.waiting);
            let network = self.clone();
            tokio::spawn(async move {
                if let Err(e) = network.catch_up(source, Interest::designs([design])).await {
                    tracing::debug!(%source, "catch-up after a gap failed: {e}");
                }
            });
            return MessageAcceptance::Ignore;
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
