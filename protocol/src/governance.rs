//! Which revisions of a design are accepted, and which one is canonical.
//!
//! A pure function of the set of events: two nodes holding the same events
//! compute the same result, whatever order they received them in.
//!
//! This module implements rules 3 to 5 of DESIGN.md section 4 with the
//! governance state of the genesis (its maintainers and threshold):
//! approval sets (authored or approved revisions and all their ancestors
//! through `base`), accepted revisions, the canonical head with its
//! tie-break, competing heads, and open contributions. Governance changes
//! (`Propose`) and retractions are not applied yet; until they are, such
//! events are listed in [`Resolution::ignored`] so nothing is silently
//! misread.

use std::collections::{BTreeMap, BTreeSet};

use crate::SignedEvent;
use crate::event::{Body, Genesis};
use crate::hash::EventId;
use crate::identity::AuthorId;

/// The outcome of resolving one design's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    pub maintainers: Vec<AuthorId>,
    pub threshold: u64,
    /// The accepted revision with no accepted descendant that wins the
    /// tie-break; `None` until some revision is accepted.
    pub canonical: Option<EventId>,
    /// Other accepted heads, best first.
    pub competing: Vec<EventId>,
    /// Revisions not (yet) accepted, with the maintainers who approve them.
    pub open: Vec<(EventId, Vec<AuthorId>)>,
    /// For every revision: the maintainers whose approval set holds it.
    pub approvals: BTreeMap<EventId, Vec<AuthorId>>,
    /// Events whose effect this version does not apply yet (proposals,
    /// retractions).
    pub ignored: Vec<EventId>,
}

/// Resolves a design from its events (any order; events of other designs
/// and a missing genesis give an empty resolution).
pub fn resolve(events: &[SignedEvent]) -> Resolution {
    let Some(genesis) = events.iter().find_map(|e| match e.body() {
        Body::Genesis(g) => Some(g),
        _ => None,
    }) else {
        return Resolution::default();
    };
    let Genesis { maintainers, threshold, .. } = genesis;
    let is_maintainer = |a: &AuthorId| maintainers.binary_search(a).is_ok();

    // Revision -> (clock, base).
    let revisions: BTreeMap<EventId, (u64, &[EventId])> = events
        .iter()
        .filter_map(|e| match e.body() {
            Body::Revision(r) => Some((e.id(), (e.clock(), r.base.as_slice()))),
            _ => None,
        })
        .collect();

    // Each maintainer's endorsed revisions, then closed over `base`.
    let mut endorsed: BTreeMap<AuthorId, Vec<EventId>> = BTreeMap::new();
    let mut ignored = Vec::new();
    for e in events {
        match e.body() {
            Body::Revision(_) if is_maintainer(&e.author()) => endorsed.entry(e.author()).or_default().push(e.id()),
            Body::Approve { target } if is_maintainer(&e.author()) && revisions.contains_key(target) => {
                endorsed.entry(e.author()).or_default().push(*target)
            }
            Body::Retract { .. } | Body::Propose { .. } => ignored.push(e.id()),
            _ => {}
        }
    }
    let mut approvals: BTreeMap<EventId, Vec<AuthorId>> = revisions.keys().map(|r| (*r, Vec::new())).collect();
    for (maintainer, roots) in &endorsed {
        for revision in ancestors(&revisions, roots) {
            approvals.entry(revision).or_default().push(*maintainer);
        }
    }

    let accepted: BTreeSet<EventId> =
        approvals.iter().filter(|(_, who)| who.len() as u64 >= *threshold).map(|(r, _)| *r).collect();
    // Heads: accepted revisions that no other accepted revision builds on.
    let mut covered = BTreeSet::new();
    for r in &accepted {
        let (_, base) = revisions[r];
        covered.extend(ancestors(&revisions, base));
    }
    let mut heads: Vec<EventId> = accepted.iter().filter(|r| !covered.contains(r)).copied().collect();
    // Most approvals, then highest clock, then lowest id.
    heads.sort_by(|a, b| {
        let key = |r: &EventId| (approvals[r].len(), revisions[r].0);
        key(b).cmp(&key(a)).then(a.cmp(b))
    });
    let canonical = heads.first().copied();
    let competing = heads.into_iter().skip(1).collect();
    let open = approvals.iter().filter(|(r, _)| !accepted.contains(r)).map(|(r, who)| (*r, who.clone())).collect();
    ignored.sort();
    Resolution {
        maintainers: maintainers.clone(),
        threshold: *threshold,
        canonical,
        competing,
        open,
        approvals,
        ignored,
    }
}

/// `roots` and every revision they reach through `base` (known revisions
/// only: a base this node lacks is skipped).
fn ancestors(revisions: &BTreeMap<EventId, (u64, &[EventId])>, roots: &[EventId]) -> BTreeSet<EventId> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<EventId> = roots.to_vec();
    while let Some(r) = stack.pop() {
        if let Some((_, base)) = revisions.get(&r)
            && seen.insert(r)
        {
            stack.extend_from_slice(base);
        }
    }
    seen
}
