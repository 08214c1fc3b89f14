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
    /// Event -> how many events of the graph name it as a parent: the
    /// heads are the events with none.
    children: HashMap<EventId, u32>,
}

impl Dag {
    pub(super) fn insert(&mut self, id: EventId, clock: u64, parents: Vec<EventId>) {
        for parent in &parents {
            *self.children.entry(*parent).or_default() += 1;
        }
        self.nodes.insert(id, (clock, parents));
    }

    /// Takes out an event that nothing left in the graph names as a parent.
    pub(super) fn remove(&mut self, id: &EventId) {
        let Some((_, parents)) = self.nodes.remove(id) else { return };
        self.children.remove(id);
        for parent in parents {
            if let Some(n) = self.children.get_mut(&parent) {
                *n -= 1;
                if *n == 0 {
                    self.children.remove(&parent);
                }
            }
        }
    }

    /// Whether the event is in the graph and no event of it names it as a
    /// parent.
    pub(super) fn is_head(&self, id: &EventId) -> bool {
        self.contains(id) && !self.children.contains_key(id)
    }

    pub(super) fn parents(&self, id: &EventId) -> &[EventId] {
        self.nodes.get(id).map(|(_, parents)| &parents[..]).unwrap_or_default()
    }

    pub(super) fn contains(&self, id: &EventId) -> bool {
        self.nodes.contains_key(id)
    }

    pub(super) fn clock(&self, id: &EventId) -> Option<u64> {
        self.nodes.get(id).map(|(clock, _)| *clock)
    }

    /// Whether `ancestor` is a strict ancestor of `event`.
    pub(super) fn precedes(&self, ancestor: &EventId, event: &EventId) -> bool {
        self.clock(event).is_some() && self.precedes_any(ancestor, std::slice::from_ref(event))
    }

    /// Whether `ancestor` is one of `events` or an ancestor of one: whether
    /// it is in the causal past of an event whose parents are `events`. One
    /// search from all of them, so that shared ancestry is walked once.
    pub(super) fn in_past(&self, ancestor: &EventId, events: &[EventId]) -> bool {
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
