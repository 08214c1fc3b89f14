//! Events that arrive from peers, in whatever order they come.

use std::collections::HashSet;

use communs_protocol::{EventId, SignedEvent};

use crate::Node;
use crate::store::EventStoreError;

/// What [`Node::ingest`] did with a batch.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Stored now.
    pub added: Vec<SignedEvent>,
    /// Not stored: a parent is neither in the store nor in the batch.
    pub waiting: Vec<SignedEvent>,
    /// Not stored: invalid against their parents (a clock that does not
    /// follow them, a design that differs). The sender is broken or hostile.
    pub rejected: Vec<(EventId, EventStoreError)>,
    /// Not stored: events of a design this node removed (`communs
    /// remove`) and has not followed since. Valid; the sender is not at
    /// fault.
    pub ignored: Vec<EventId>,
}

impl Node {
    /// Stores verified events from a peer: parents first, everything that
    /// can be stored in one durable transaction. Events stored already are
    /// skipped, and so are those of designs this node removed.
    pub fn ingest(&self, events: Vec<SignedEvent>) -> Result<Ingested, EventStoreError> {
        let policy = self.events.policy()?;
        let removed = &policy.removed;
        let mut seen = HashSet::new();
        let mut fresh = Vec::new();
        let mut out = Ingested::default();
        for event in events {
            if removed.contains(&event.design()) {
                out.ignored.push(event.id());
            } else if seen.insert(event.id()) && !self.events.contains(&event.id())? {
                fresh.push(event);
            }
        }
        // A valid event's clock is above its parents', so clock order puts
        // parents first; an event that lies about its clock fails below.
        fresh.sort_by_key(|e| (e.clock(), e.id()));
        let mut ready = Vec::new();
        let mut ready_ids = HashSet::new();
        for event in fresh {
            let mut connected = true;
            for parent in event.parents() {
                if !ready_ids.contains(parent) && !self.events.contains(parent)? {
                    connected = false;
                    break;
                }
            }
            if connected {
                ready_ids.insert(event.id());
                ready.push(event);
            } else {
                out.waiting.push(event);
            }
        }
        if ready.is_empty() {
            return Ok(out);
        }
        // One transaction, bad events left out: the bound on unclaimed
        // contributions must see a maintainer's event and what it claims
        // together (one by one, the contribution could be dropped first).
        let (added, left_out) = self.events.insert_valid(&ready)?;
        out.added = added;
        let mut by_id: std::collections::HashMap<EventId, SignedEvent> =
            ready.into_iter().map(|e| (e.id(), e)).collect();
        for (id, why) in left_out {
            match why {
                // Its parent was itself left out.
                EventStoreError::MissingParent { .. } => out.waiting.extend(by_id.remove(&id)),
                why => out.rejected.push((id, why)),
            }
        }
        Ok(out)
    }
}
