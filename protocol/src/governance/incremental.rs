//! Resolution one event at a time, as events arrive from peers.
//!
//! An event whose parents have not all arrived waits in a pending set,
//! bounded by [`MAX_PENDING_EVENTS`]: a peer cannot make a node hold an
//! unbounded number of events that may never connect to the log. When the
//! missing parent arrives, everything waiting on it is applied in turn.

use std::collections::{BTreeMap, HashMap};

use super::GovernanceState;
use super::admission::Refusal;
use super::derived::Derived;
use super::rules::Index;
use crate::SignedEvent;
use crate::hash::{DesignId, EventId};
use crate::limits::MAX_PENDING_EVENTS;

/// What [`Resolver::apply`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied, along with `released` events that were waiting on it;
    /// `refused` are waiting events it unblocked that the log refuses.
    Accepted { released: usize, refused: Vec<(EventId, Refusal)> },
    /// Already applied or already waiting.
    Known,
    /// Waits for parents that have not arrived.
    Pending,
    /// Not taken: the pending set is full. The event may be offered again.
    PendingFull,
    /// Refused for good (`spec/governance.md`, "Admission").
    Refused(Refusal),
}

#[derive(Debug, Clone, Default)]
pub struct Resolver {
    index: Index,
    pending: BTreeMap<EventId, SignedEvent>,
    /// Missing event -> pending events that name it as a parent.
    waiting_on: HashMap<EventId, Vec<EventId>>,
    derived: Derived,
}

impl Resolver {
    pub fn new() -> Self {
        Resolver::default()
    }

    pub fn design(&self) -> Option<DesignId> {
        self.index.design()
    }

    /// Whether [`apply`](Self::apply) would take `event` now, changing
    /// nothing: a node checks what it received before it writes it. An
    /// event whose parents are all applied gets its final answer; one with
    /// a parent missing gets [`Refusal::MissingParent`], which is not
    /// final. To check a batch whose events build on each other, apply it
    /// in parents-first order to a resolver that holds the rest.
    pub fn admit(&self, event: &SignedEvent) -> Result<(), Refusal> {
        self.index.check(event)
    }

    /// Whether the event is applied (not merely waiting).
    pub fn contains(&self, id: &EventId) -> bool {
        self.index.dag.contains(id)
    }

    pub fn apply(&mut self, event: SignedEvent) -> Applied {
        let id = event.id();
        if self.pending.contains_key(&id) {
            return Applied::Known;
        }
        let missing = match self.index.check(&event) {
            Ok(()) => {
                self.add(&event);
                let (released, refused) = self.release(id);
                return Applied::Accepted { released, refused };
            }
            Err(Refusal::Duplicate) => return Applied::Known,
            Err(Refusal::MissingParent { .. }) => {
                event.parents().iter().filter(|p| !self.index.dag.contains(p)).copied().collect::<Vec<_>>()
            }
            Err(why) => return Applied::Refused(why),
        };
        if self.pending.len() >= MAX_PENDING_EVENTS {
            return Applied::PendingFull;
        }
        for parent in missing {
            self.waiting_on.entry(parent).or_default().push(id);
        }
        self.pending.insert(id, event);
        Applied::Pending
    }

    /// Applies, transitively, the pending events that `arrived` unblocks.
    fn release(&mut self, arrived: EventId) -> (usize, Vec<(EventId, Refusal)>) {
        let mut released = 0;
        let mut refused = Vec::new();
        let mut queue = vec![arrived];
        while let Some(id) = queue.pop() {
            for waiting in self.waiting_on.remove(&id).unwrap_or_default() {
                let Some(event) = self.pending.get(&waiting) else { continue };
                match self.index.check(event) {
                    Ok(()) => {
                        let event = self.pending.remove(&waiting).expect("present");
                        self.add(&event);
                        released += 1;
                        queue.push(waiting);
                    }
                    // Still waits for another parent, under which it is
                    // registered too.
                    Err(Refusal::MissingParent { .. }) => {}
                    Err(Refusal::Duplicate) => {
                        self.pending.remove(&waiting);
                    }
                    Err(why) => {
                        self.pending.remove(&waiting);
                        refused.push((waiting, why));
                    }
                }
            }
        }
        (released, refused)
    }

    fn add(&mut self, event: &SignedEvent) {
        let touched = self.index.add(event);
        self.derived.update(&self.index, touched);
    }

    /// Events waiting for parents.
    pub fn pending(&self) -> impl Iterator<Item = &EventId> {
        self.pending.keys()
    }

    /// The state for the events applied so far.
    pub fn state(&self) -> &GovernanceState {
        self.derived.state()
    }
}
