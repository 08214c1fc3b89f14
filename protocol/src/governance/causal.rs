//! The causal order of a design log: which event happened before which.
//!
//! Only the parent links count. An event's clock is 1 + its parents' largest,
//! so an ancestor always has a smaller clock, and a search from a later
//! event can stop at anything older than the event it looks for.

use std::collections::{HashMap, HashSet};

use crate::hash::EventId;

#[derive(Debug, Clone, Default)]
pub(crate) struct Dag {
    nodes: HashMap<EventId, (u64, Vec<EventId>)>,
}

impl Dag {
    pub fn insert(&mut self, id: EventId, clock: u64, parents: Vec<EventId>) {
        self.nodes.insert(id, (clock, parents));
    }

    pub fn contains(&self, id: &EventId) -> bool {
        self.nodes.contains_key(id)
    }

    pub fn clock(&self, id: &EventId) -> Option<u64> {
        self.nodes.get(id).map(|(clock, _)| *clock)
    }

    /// Whether `ancestor` is a strict ancestor of `event`.
    pub fn precedes(&self, ancestor: &EventId, event: &EventId) -> bool {
        self.clock(event).is_some() && self.precedes_any(ancestor, std::slice::from_ref(event))
    }

    /// Whether `ancestor` is one of `events` or an ancestor of one: whether
    /// it is in the causal past of an event whose parents are `events`. One
    /// search from all of them, so that shared ancestry is walked once.
    pub fn in_past(&self, ancestor: &EventId, events: &[EventId]) -> bool {
        events.contains(ancestor) || self.precedes_any(ancestor, events)
    }

    fn precedes_any(&self, ancestor: &EventId, events: &[EventId]) -> bool {
        let Some(floor) = self.clock(ancestor) else { return false };
        let mut seen = HashSet::new();
        let mut stack: Vec<EventId> =
            events.iter().filter(|e| self.clock(e).is_some_and(|c| c > floor)).copied().collect();
        while let Some(id) = stack.pop() {
            let Some((_, parents)) = self.nodes.get(&id) else { continue };
            for parent in parents {
                if parent == ancestor {
                    return true;
                }
                if self.clock(parent).is_some_and(|c| c > floor) && seen.insert(*parent) {
                    stack.push(*parent);
                }
            }
        }
        false
    }
}
