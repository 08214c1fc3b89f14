//! Which events a design's log admits (`spec/governance.md`, "Admission").
//!
//! Admission is a function of the event and its causal past only, so every
//! node admits the same events whatever order they arrive in, and reaches
//! the same state. An approval or a retraction must come from a maintainer
//! of the governance state its past defines, name a revision or proposal of
//! its past, and say something its author has not already said there. A
//! revision's base is in its past; a contribution by a non-maintainer
//! builds only on maintainers' events and its author's own, so that the
//! bound on one author's unclaimed contributions (`rules.rs`) never takes
//! another author's work with it.
//!
//! The state a past defines depends only on the governance events in it
//! (proposals and stances on proposals). Each event keeps the *frontier* of
//! those, the latest ones in its past; the frontiers link the governance
//! events into a small graph of their own, walked instead of the whole log,
//! and the maintainers of each frontier are remembered once computed. Most
//! authors are never named by a proposal; for them the genesis decides and
//! nothing is walked at all.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::rules::Index;
use crate::SignedEvent;
use crate::event::{Body, Change};
use crate::hash::{DesignId, EventId};
use crate::identity::AuthorId;

/// Why a design's log does not take an event. Every refusal but
/// [`MissingParent`](Refusal::MissingParent) and
/// [`Duplicate`](Refusal::Duplicate) is final: it follows from the event
/// and its past, which never change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the event belongs to design {found}, not {expected}")]
    WrongDesign { found: DesignId, expected: DesignId },
    #[error("a design has one genesis; this is another")]
    SecondGenesis,
    #[error("the log already holds this event")]
    Duplicate,
    #[error("parent {parent} has not arrived (the event may be taken once it does)")]
    MissingParent { parent: EventId },
    #[error("clock is {found}, expected {expected} (1 + the largest parent clock)")]
    WrongClock { found: u64, expected: u64 },
    #[error("base {base} is not in the revision's past (not among its parents or their ancestors)")]
    BaseNotInPast { base: EventId },
    #[error(
        "parent {parent} is another stranger's contribution no maintainer has built on: a contribution by a non-maintainer builds on maintainers' events and its author's own"
    )]
    StrangerParent { parent: EventId },
    #[error(
        "{author} already has as many contributions to this design as a log keeps that no maintainer has built on, all before this one (in clock order, then id); kept again once a maintainer builds on it"
    )]
    OverQuota { author: AuthorId },
    #[error("{author} is not a maintainer in the state the event's parents define: their stance could not count")]
    NotMaintainer { author: AuthorId },
    #[error("target {target} is not in the event's past (not among its parents or their ancestors)")]
    TargetNotInPast { target: EventId },
    #[error("target {target} is neither a revision nor a proposal")]
    NotATarget { target: EventId },
    #[error("{target} is not a revision: a make report names the revision built")]
    NotARevision { target: EventId },
    #[error("a profile belongs to no design's log: it travels on its own")]
    NotInADesign,
    #[error("the author already endorses {target} in the event's past: approving again adds nothing")]
    AlreadyEndorses { target: EventId },
    #[error("the author already retracts {target} in the event's past")]
    AlreadyRetracts { target: EventId },
}

impl Refusal {
    /// A short, stable name for the reason, used by the spec's vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::WrongDesign { .. } => "wrong-design",
            Refusal::SecondGenesis => "second-genesis",
            Refusal::Duplicate => "duplicate",
            Refusal::MissingParent { .. } => "missing-parent",
            Refusal::WrongClock { .. } => "wrong-clock",
            Refusal::BaseNotInPast { .. } => "base-not-in-past",
            Refusal::StrangerParent { .. } => "stranger-parent",
            Refusal::OverQuota { .. } => "over-quota",
            Refusal::NotMaintainer { .. } => "not-maintainer",
            Refusal::TargetNotInPast { .. } => "target-not-in-past",
            Refusal::NotATarget { .. } => "not-a-target",
            Refusal::NotARevision { .. } => "not-a-revision",
            Refusal::NotInADesign => "not-in-a-design",
            Refusal::AlreadyEndorses { .. } => "already-endorses",
            Refusal::AlreadyRetracts { .. } => "already-retracts",
        }
    }

    /// Whether no later event can make this one admissible. A missing
    /// parent may still arrive; a duplicate is already in; a contribution
    /// over the bound is taken once a maintainer's event builds on it.
    pub fn is_final(&self) -> bool {
        !matches!(self, Refusal::MissingParent { .. } | Refusal::Duplicate | Refusal::OverQuota { .. })
    }
}

/// Which events a rule looks at: all the log, or one event's past.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    All,
    /// These governance events (the governance past of some event).
    Governance(&'a HashSet<EventId>),
    /// The causal past of an event with these parents.
    Before(&'a [EventId]),
}

impl Scope<'_> {
    pub(super) fn has(&self, index: &Index, id: &EventId) -> bool {
        match self {
            Scope::All => true,
            Scope::Governance(set) => set.contains(id),
            Scope::Before(parents) => index.dag.in_past(id, parents),
        }
    }
}

/// The governance events as a graph of their own: for each event of the
/// log, the latest governance events in its past, itself included.
#[derive(Debug, Clone, Default)]
pub(super) struct Frontiers {
    /// Event -> the governance events of its past (itself included) that no
    /// other governance event of that past follows.
    of: HashMap<EventId, Frontier>,
    /// Governance event -> the frontier of its past, itself excluded.
    below: HashMap<EventId, Frontier>,
    /// Maintainers of the state each frontier's past defines, as computed.
    maintainers: Memo,
}

type Frontier = Arc<[EventId]>;

impl Frontiers {
    /// Drops an event taken out of the log (with everything built on it).
    /// Remembered maintainer sets stay true: a frontier's past is the same
    /// events whenever it is met.
    pub(super) fn forget(&mut self, id: &EventId) {
        self.of.remove(id);
        self.below.remove(id);
    }
}

/// Computed maintainer sets, shared by `&self` checks. Bounded: cleared
/// when full, since every entry can be computed again.
#[derive(Debug, Default)]
struct Memo(Mutex<HashMap<Frontier, Arc<[AuthorId]>>>);

const MEMO_ENTRIES: usize = 4096;

impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo(Mutex::new(self.0.lock().map(|m| m.clone()).unwrap_or_default()))
    }
}

impl Index {
    /// Whether `event` can be added now, or why not: the checks of
    /// `spec/governance.md`, "Admission", in the order the spec gives.
    pub(super) fn check(&self, event: &SignedEvent) -> Result<(), Refusal> {
        if matches!(event.body(), Body::Profile(_)) {
            return Err(Refusal::NotInADesign);
        }
        let Some(genesis) = &self.genesis else {
            // A signed event other than a genesis has parents (events.md).
            return match (event.body(), event.parents().first()) {
                (Body::Genesis(_), _) | (_, None) => Ok(()),
                (_, Some(parent)) => Err(Refusal::MissingParent { parent: *parent }),
            };
        };
        let expected = DesignId::from_genesis(genesis.id);
        if event.id() == genesis.id || self.dag.contains(&event.id()) {
            return Err(Refusal::Duplicate);
        }
        if matches!(event.body(), Body::Genesis(_)) {
            return Err(Refusal::SecondGenesis);
        }
        if event.design() != expected {
            return Err(Refusal::WrongDesign { found: event.design(), expected });
        }
        let mut top = 0;
        for parent in event.parents() {
            let Some(clock) = self.dag.clock(parent) else { return Err(Refusal::MissingParent { parent: *parent }) };
            top = top.max(clock);
        }
        if event.clock() != top + 1 {
            return Err(Refusal::WrongClock { found: event.clock(), expected: top + 1 });
        }
        let parents = event.parents();
        let author = event.author();
        let (target, approve) = match event.body() {
            Body::Approve { target } => (*target, true),
            Body::Retract { target } => (*target, false),
            Body::Revision(r) => {
                // A revision builds on what its author has seen: rules 3
                // and 4 then never meet a base after the revision naming it.
                if let Some(base) = r.base.iter().find(|b| !self.dag.in_past(b, parents)) {
                    return Err(Refusal::BaseNotInPast { base: *base });
                }
                return self.check_stranger_parents(author, parents);
            }
            Body::Propose { .. } | Body::Comment(_) => return self.check_stranger_parents(author, parents),
            Body::MakeReport(m) => {
                if !self.dag.in_past(&m.revision, parents) {
                    return Err(Refusal::TargetNotInPast { target: m.revision });
                }
                if !self.revisions.contains_key(&m.revision) {
                    return Err(Refusal::NotARevision { target: m.revision });
                }
                return self.check_stranger_parents(author, parents);
            }
            Body::Genesis(_) | Body::Profile(_) => return Ok(()),
        };
        if !self.maintainer_before(author, parents) {
            return Err(Refusal::NotMaintainer { author });
        }
        if !self.dag.in_past(&target, parents) {
            return Err(Refusal::TargetNotInPast { target });
        }
        if !self.revisions.contains_key(&target) && !self.proposals.contains_key(&target) {
            return Err(Refusal::NotATarget { target });
        }
        let before = Scope::Before(parents);
        if approve && self.endorses_within(author, target, before) {
            return Err(Refusal::AlreadyEndorses { target });
        }
        if !approve && self.retracts_within(author, target, before) {
            return Err(Refusal::AlreadyRetracts { target });
        }
        Ok(())
    }

    /// A contribution by someone who does not maintain the design in its
    /// past builds only on maintainers' events and on its author's own: so
    /// every unclaimed contribution in its past is its author's, and the
    /// bound on one author never reaches another's work.
    fn check_stranger_parents(&self, author: AuthorId, parents: &[EventId]) -> Result<(), Refusal> {
        let foreign = |p: &&EventId| self.authors.get(p).is_some_and(|(by, maintains)| !maintains && *by != author);
        if let Some(parent) = parents.iter().find(foreign)
            && !self.maintainer_before(author, parents)
        {
            return Err(Refusal::StrangerParent { parent: *parent });
        }
        Ok(())
    }

    /// Whether `author` is a maintainer of the current state of the past
    /// of an event with these parents.
    pub(super) fn maintainer_before(&self, author: AuthorId, parents: &[EventId]) -> bool {
        let Some(genesis) = &self.genesis else { return false };
        // No proposal in the whole log names them, so none in the past
        // does: the genesis decides.
        if !self.membership_changes.contains_key(&author) {
            return genesis.maintainers.contains(&author);
        }
        let frontier = self.frontier_before(parents);
        if let Some(known) = self.frontiers.maintainers.0.lock().ok().and_then(|m| m.get(&frontier).cloned()) {
            return known.contains(&author);
        }
        let past = self.governance_past(&frontier);
        let maintainers: Arc<[AuthorId]> = self.walk_chain_within(genesis, Scope::Governance(&past)).maintainers.into();
        let is = maintainers.contains(&author);
        if let Ok(mut memo) = self.frontiers.maintainers.0.lock() {
            if memo.len() >= MEMO_ENTRIES {
                memo.clear();
            }
            memo.insert(frontier, maintainers);
        }
        is
    }

    /// Records the frontier of an event being added (its parents are in).
    pub(super) fn add_frontier(&mut self, event: &SignedEvent) {
        let id = event.id();
        let governs = match event.body() {
            Body::Genesis(_) | Body::Propose { .. } => true,
            Body::Approve { target } | Body::Retract { target } => self.proposals.contains_key(target),
            Body::Revision(_) | Body::Comment(_) | Body::MakeReport(_) | Body::Profile(_) => false,
        };
        if let Body::Propose { change: Change::AddMaintainer(a) | Change::RemoveMaintainer(a), .. } = event.body() {
            *self.membership_changes.entry(*a).or_default() += 1;
        }
        let below = self.frontier_before(event.parents());
        let frontier = if governs {
            self.frontiers.below.insert(id, below);
            Arc::from([id])
        } else {
            below
        };
        self.frontiers.of.insert(id, frontier);
    }

    /// The latest governance events in the past of an event with these
    /// parents. Usually every parent shares one frontier; otherwise the
    /// union, less what another member follows.
    fn frontier_before(&self, parents: &[EventId]) -> Frontier {
        let mut of = parents.iter().filter_map(|p| self.frontiers.of.get(p));
        let Some(first) = of.next() else { return Arc::from([]) };
        let mut union: Vec<EventId> = first.to_vec();
        let mut same = true;
        for f in of {
            if !Arc::ptr_eq(f, first) && **f != **first {
                same = false;
                union.extend_from_slice(f);
            }
        }
        if same {
            return first.clone();
        }
        union.sort();
        union.dedup();
        let latest: Vec<EventId> = union
            .iter()
            .filter(|g| !union.iter().any(|h| h != *g && self.governance_precedes(g, h)))
            .copied()
            .collect();
        latest.into()
    }

    /// Whether governance event `a` precedes governance event `b`, walking
    /// the governance graph only.
    fn governance_precedes(&self, a: &EventId, b: &EventId) -> bool {
        let Some(floor) = self.dag.clock(a) else { return false };
        let mut seen = HashSet::new();
        let mut stack = vec![*b];
        while let Some(g) = stack.pop() {
            for below in self.frontiers.below.get(&g).map(|f| &f[..]).unwrap_or_default() {
                if below == a {
                    return true;
                }
                if self.dag.clock(below).is_some_and(|c| c > floor) && seen.insert(*below) {
                    stack.push(*below);
                }
            }
        }
        false
    }

    /// Every governance event at or below `frontier`.
    fn governance_past(&self, frontier: &[EventId]) -> HashSet<EventId> {
        let mut past: HashSet<EventId> = frontier.iter().copied().collect();
        let mut stack = frontier.to_vec();
        while let Some(g) = stack.pop() {
            for below in self.frontiers.below.get(&g).map(|f| &f[..]).unwrap_or_default() {
                if past.insert(*below) {
                    stack.push(*below);
                }
            }
        }
        past
    }
}
