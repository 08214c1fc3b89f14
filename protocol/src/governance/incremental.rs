//! Resolution one event at a time, as events arrive from peers.
//!
//! An event whose parents have not all arrived waits in a pending set,
//! bounded by [`MAX_PENDING_EVENTS`]: a peer cannot make a node hold an
//! unbounded number of events that may never connect to the log. When the
//! missing parent arrives, everything waiting on it is applied in turn.

use std::collections::{BTreeMap, HashMap};

use super::GovernanceState;
use super::derived::Derived;
use super::rules::Index;
use crate::SignedEvent;
use crate::hash::{DesignId, EventId};
use crate::limits::MAX_PENDING_EVENTS;

/// What [`Resolver::apply`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied, along with this many events that were waiting on it.
    Accepted { released: usize },
    /// Already applied or already waiting.
    Known,
    /// Waits for parents that have not arrived.
    Pending,
    /// Refused: the pending set is full.
    PendingFull,
    /// Refused: it belongs to another design, or contradicts its parents
    /// (wrong clock), or is a second genesis.
    Refused,
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

    pub fn apply(&mut self, event: SignedEvent) -> Applied {
        let id = event.id();
        if self.index.dag.contains(&id) || self.pending.contains_key(&id) {
            return Applied::Known;
        }
        if self.index.admits(&event) {
            self.add(&event);
            return Applied::Accepted { released: self.release(id) };
        }
        let missing: Vec<EventId> = event.parents().iter().filter(|p| !self.index.dag.contains(p)).copied().collect();
        let belongs = match self.index.design() {
            Some(design) => event.design() == design,
            None => true,
        };
        if missing.is_empty() || !belongs {
            return Applied::Refused;
        }
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
    fn release(&mut self, arrived: EventId) -> usize {
        let mut released = 0;
        let mut queue = vec![arrived];
        while let Some(id) = queue.pop() {
            for waiting in self.waiting_on.remove(&id).unwrap_or_default() {
                let Some(event) = self.pending.get(&waiting) else { continue };
                if self.index.admits(event) {
                    let event = self.pending.remove(&waiting).expect("present");
                    self.add(&event);
                    released += 1;
                    queue.push(waiting);
                } else if event.parents().iter().all(|p| self.index.dag.contains(p)) {
                    // All parents are here but the event still does not fit
                    // (a wrong clock): it never will.
                    self.pending.remove(&waiting);
                }
            }
        }
        released
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
