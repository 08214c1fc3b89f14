//! Resolution one event at a time, as events arrive from peers.
//!
//! An event whose parents have not all arrived waits in a pending set,
//! bounded by [`MAX_PENDING_EVENTS`]: a peer cannot make a node hold an
//! unbounded number of events that may never connect to the log. When the
//! missing parent arrives, everything waiting on it is applied in turn.
//!
//! The bound on unclaimed contributions is applied after each event (or
//! each batch, with [`Resolver::apply_in_batch`] and
//! [`Resolver::end_batch`]), and what it takes out is reported, so that a
//! node deletes it: a batch lets a maintainer's event claim a contribution
//! that arrived with it before the bound would have dropped it.

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
    /// `refused` are waiting events it unblocked that the log refuses;
    /// `evicted` are contributions it pushed over the bound on unclaimed
    /// contributions, taken out of the log (a node deletes them).
    Accepted { released: usize, refused: Vec<(EventId, Refusal)>, evicted: Vec<EventId> },
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

    /// A resolver with another bound on unclaimed contributions than
    /// [`MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR`](crate::limits::MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR), for tests and
    /// simulations (see [`resolve_with_quota`](super::resolve_with_quota)).
    pub fn with_quota(quota: usize) -> Self {
        Resolver { index: Index::with_quota(quota), ..Resolver::default() }
    }

    /// The bound this resolver applies.
    pub fn quota(&self) -> usize {
        self.index.quota.0
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

    /// What an event signed now by `author` should name as parents, so
    /// that the log takes it: maintainers' latest events, the author's own
    /// unclaimed contributions nothing builds on, and `named` (a revision's
    /// base, an approval's target) when not below those. Not every head:
    /// strangers' heads may be many, and a contribution may not build on
    /// another stranger's unreviewed work.
    pub fn parents_for(&self, author: crate::identity::AuthorId, named: &[EventId]) -> Vec<EventId> {
        self.index.parents_for(author, named)
    }

    /// Whether the event is applied and no applied event names it as a
    /// parent.
    pub fn is_head(&self, id: &EventId) -> bool {
        self.index.dag.is_head(id)
    }

    /// An applied event's clock.
    pub fn clock(&self, id: &EventId) -> Option<u64> {
        self.index.dag.clock(id)
    }

    /// Whether the event is applied (not merely waiting).
    pub fn contains(&self, id: &EventId) -> bool {
        self.index.dag.contains(id)
    }

    /// Applies one event, then the bound on unclaimed contributions. An
    /// arrival the bound takes out at once is [`Refusal::OverQuota`].
    pub fn apply(&mut self, event: SignedEvent) -> Applied {
        let id = event.id();
        let author = event.author();
        let applied = self.apply_in_batch(event);
        let evicted = self.end_batch();
        match applied {
            Applied::Accepted { .. } if evicted.contains(&id) => Applied::Refused(Refusal::OverQuota { author }),
            Applied::Accepted { released, refused, .. } => Applied::Accepted { released, refused, evicted },
            other => other,
        }
    }

    /// Applies one event of a batch; the bound waits for
    /// [`end_batch`](Self::end_batch). `evicted` is always empty here.
    pub fn apply_in_batch(&mut self, event: SignedEvent) -> Applied {
        let id = event.id();
        if self.pending.contains_key(&id) {
            return Applied::Known;
        }
        let missing = match self.index.check(&event) {
            Ok(()) => {
                self.add(&event);
                let (released, refused) = self.release(id);
                return Applied::Accepted { released, refused, evicted: Vec::new() };
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
                    // Still waits for another parent. It was registered
                    // under every parent missing when it arrived, but one
                    // may have arrived since and been evicted again by
                    // the bound: register it anew under the one missing
                    // now (a second registration only costs a check).
                    Err(Refusal::MissingParent { parent }) => {
                        self.waiting_on.entry(parent).or_default().push(waiting);
                    }
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

    /// Applies the bound on unclaimed contributions to what the batch
    /// added, and returns the ids it took out of the log: arrivals of the
    /// batch as well as events applied before. Events still waiting on one
    /// of them keep waiting (a peer that kept it may send it again).
    pub fn end_batch(&mut self) -> Vec<EventId> {
        let evicted = self.index.evict_over_quota();
        if evicted.is_empty() {
            return Vec::new();
        }
        self.derived.forget(&self.index, &evicted);
        evicted.iter().map(|e| e.id).collect()
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
