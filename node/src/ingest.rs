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
            } else if seen.insert(event.id()) {
                fresh.push(event);
            }
        }
        // A valid event's clock is above its parents', so clock order puts
        // parents first; an event that lies about its clock is refused.
        fresh.sort_by_key(|e| (e.clock(), e.id()));
        let inserted = self.events.insert_each(&fresh)?;
        out.added = inserted.added;
        out.waiting = inserted.waiting;
        out.rejected = inserted.refused;
        Ok(out)
    }
}
