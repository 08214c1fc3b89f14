//! A simulated node's event store, in memory: the same checks as the
//! node's redb store on insert (parents present, `check_parents`, the
//! design's admission through its `Resolver`, the bound on unclaimed
//! contributions at the end of a batch), so that simulated nodes refuse
//! and keep exactly what real ones would, at a fraction of the memory.

use std::collections::{BTreeMap, BTreeSet};

use communs_protocol::governance::{Applied, GovernanceState, Resolver};
use communs_protocol::wire::Scope;
use communs_protocol::{DesignId, EventId, SignedEvent};

use crate::ingest::Ingested;
use crate::store::EventStoreError;

#[derive(Default)]
pub(super) struct MemStore {
    events: BTreeMap<EventId, SignedEvent>,
    /// (design, event) → time: the reconciliation items.
    items: BTreeSet<(DesignId, EventId)>,
    resolvers: BTreeMap<DesignId, Resolver>,
}

impl MemStore {
    pub(super) fn contains(&self, id: &EventId) -> bool {
        self.events.contains_key(id)
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    pub(super) fn ids(&self) -> impl Iterator<Item = &EventId> {
        self.events.keys()
    }

    pub(super) fn designs(&self) -> impl Iterator<Item = &DesignId> {
        self.resolvers.keys()
    }

    pub(super) fn governance(&self, design: &DesignId) -> Option<&GovernanceState> {
        self.resolvers.get(design).map(Resolver::state)
    }

    /// What an event `author` signs now in `design` should name as
    /// parents (the protocol's rule), if the design is here.
    pub(super) fn governance_parents(
        &self,
        design: &DesignId,
        author: communs_protocol::AuthorId,
        named: &[EventId],
    ) -> Option<Vec<EventId>> {
        self.resolvers.get(design).map(|r| r.parents_for(author, named))
    }

    pub(super) fn get(&self, id: &EventId) -> Option<&SignedEvent> {
        self.events.get(id)
    }

    /// The reconciliation items of `scope`, as the node's store gives them.
    pub(super) fn items(&self, scope: &Scope) -> Vec<(u64, EventId)> {
        self.items
            .iter()
            .filter(|(design, _)| scope.covers(design))
            .filter_map(|(_, id)| self.events.get(id).map(|e| (e.event().time, *id)))
            .collect()
    }

    /// The stored events whose ids start with one of `prefixes`, at most
    /// `max`, in the order asked.
    pub(super) fn raw_by_prefixes(&self, prefixes: &[[u8; 8]], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for prefix in prefixes {
            let mut low = [0u8; 32];
            low[..8].copy_from_slice(prefix);
            let low = EventId::from_hash(communs_protocol::Hash::from_bytes(low));
            for (id, event) in self.events.range(low..) {
                if id.as_bytes()[..8] != prefix[..] || out.len() >= max {
                    break;
                }
                out.push(event.bytes().to_vec());
            }
        }
        out
    }

    /// Stores verified events from a peer, parents first, as
    /// `Node::ingest` does.
    pub(super) fn ingest(&mut self, events: Vec<SignedEvent>) -> Ingested {
        let mut fresh: Vec<SignedEvent> = Vec::new();
        let mut seen = BTreeSet::new();
        for event in events {
            if !self.events.contains_key(&event.id()) && seen.insert(event.id()) {
                fresh.push(event);
            }
        }
        fresh.sort_by_key(|e| (e.clock(), e.id()));
        let mut out = Ingested::default();
        let mut touched = BTreeSet::new();
        for event in fresh {
            let id = event.id();
            let Some(parents) = event.parents().iter().map(|p| self.events.get(p)).collect::<Option<Vec<_>>>() else {
                out.waiting.push(event);
                continue;
            };
            if let Err(source) = event.check_parents(&parents) {
                out.rejected.push((id, EventStoreError::Invalid { event: id, source }));
                continue;
            }
            let design = event.design();
            let resolver = self.resolvers.entry(design).or_default();
            match resolver.apply_in_batch(event.clone()) {
                Applied::Accepted { evicted, .. } => {
                    self.remove(&design, &evicted);
                    self.items.insert((design, id));
                    self.events.insert(id, event.clone());
                    touched.insert(design);
                    out.added.push(event);
                }
                Applied::Refused(refusal) => out.rejected.push((id, EventStoreError::Refused { event: id, refusal })),
                Applied::Known => {}
                Applied::Pending | Applied::PendingFull => out.waiting.push(event),
            }
        }
        for design in touched {
            let evicted = self.resolvers.get_mut(&design).map(Resolver::end_batch).unwrap_or_default();
            out.added.retain(|e| !evicted.contains(&e.id()));
            self.remove(&design, &evicted);
        }
        out
    }

    fn remove(&mut self, design: &DesignId, ids: &[EventId]) {
        for id in ids {
            self.events.remove(id);
            self.items.remove(&(*design, *id));
        }
    }
}
