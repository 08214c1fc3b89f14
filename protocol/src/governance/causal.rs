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
        let (Some(floor), Some(top)) = (self.clock(ancestor), self.clock(event)) else { return false };
        if floor >= top {
            return false;
        }
        let mut seen = HashSet::new();
        let mut stack = vec![*event];
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
