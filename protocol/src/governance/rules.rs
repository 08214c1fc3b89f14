//! The rules of `spec/governance.md`, computed over an index of the log.

use std::collections::{BTreeMap, BTreeSet};

use super::admission::{Frontiers, Refusal, Scope};
use super::causal::Dag;
use super::{GovernanceState, Inapplicable, Proposal, ProposalOutcome, VoidReason};
use crate::SignedEvent;
use crate::event::{Body, Change};
use crate::hash::{DesignId, EventId};
use crate::identity::AuthorId;
use crate::limits::MAX_MAINTAINERS;

/// Resolves a design from its events, in any order. Events the log does
/// not admit (`spec/governance.md`, "Admission"), events whose parents are
/// not all admitted, events of other designs, and everything when no
/// genesis is present, are left out.
pub fn resolve<'a>(events: impl IntoIterator<Item = &'a SignedEvent>) -> GovernanceState {
    resolve_with_refusals(events).state
}

/// [`resolve`], and what became of the events left out.
pub fn resolve_with_refusals<'a>(events: impl IntoIterator<Item = &'a SignedEvent>) -> Resolution {
    let mut sorted: Vec<&SignedEvent> = events.into_iter().collect();
    // Parents before children: a parent's clock is lower. Among events of
    // one clock, admission does not depend on the others.
    sorted.sort_by_key(|e| (e.clock(), e.id()));
    let mut index = Index::default();
    let mut refused = BTreeMap::new();
    let mut waiting = BTreeSet::new();
    for event in sorted {
        match index.check(event) {
            Ok(()) => {
                index.add(event);
            }
            Err(Refusal::Duplicate) => {}
            Err(Refusal::MissingParent { .. }) => {
                waiting.insert(event.id());
            }
            Err(why) => {
                refused.insert(event.id(), why);
            }
        }
    }
    Resolution { state: super::derived::Derived::full(&index).into_state(), refused, waiting }
}

/// The state of a log, and the events that do not count in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub state: GovernanceState,
    /// Events the log does not admit, each with why. Final: no event to
    /// come changes them.
    pub refused: BTreeMap<EventId, Refusal>,
    /// Events with a parent that is not admitted: absent, refused, or
    /// itself waiting.
    pub waiting: BTreeSet<EventId>,
}

/// What the rules need of a log, gathered event by event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    pub(super) genesis: Option<Genesis>,
    pub(crate) dag: Dag,
    pub(super) revisions: BTreeMap<EventId, RevisionInfo>,
    pub(super) proposals: BTreeMap<EventId, ProposalInfo>,
    /// (author, target) -> the events by which the author endorses the
    /// target: their approvals of it, and the target itself if they wrote it.
    pub(super) endorsements: BTreeMap<(AuthorId, EventId), Vec<EventId>>,
    /// (author, target) -> their retractions of it.
    pub(super) retractions: BTreeMap<(AuthorId, EventId), Vec<EventId>>,
    /// Authors some proposal adds or removes: for anyone else, the genesis
    /// says whether they maintain the design, in every past.
    pub(super) membership_changes: BTreeSet<AuthorId>,
    pub(super) frontiers: Frontiers,
}

#[derive(Debug, Clone)]
pub(super) struct Genesis {
    pub id: EventId,
    pub maintainers: Vec<AuthorId>,
    pub threshold: u64,
}

#[derive(Debug, Clone)]
pub(super) struct RevisionInfo {
    pub clock: u64,
    pub base: Vec<EventId>,
}

/// What an added event may have changed, for incremental resolution.
#[derive(Debug, Clone, Copy)]
pub(super) enum Touched {
    Genesis,
    Revision {
        id: EventId,
    },
    Proposal,
    /// An approval or retraction of `target` by `author`.
    Stance {
        author: AuthorId,
        target: EventId,
    },
}

#[derive(Debug, Clone)]
pub(super) struct ProposalInfo {
    pub author: AuthorId,
    pub prev: EventId,
    pub change: Change,
}

impl Index {
    pub fn design(&self) -> Option<DesignId> {
        self.genesis.as_ref().map(|g| DesignId::from_genesis(g.id))
    }

    /// Adds an event [`check`](Self::check) accepted.
    pub fn add(&mut self, event: &SignedEvent) -> Touched {
        let id = event.id();
        let author = event.author();
        self.add_frontier(event);
        self.dag.insert(id, event.clock(), event.parents().to_vec());
        match event.body() {
            Body::Genesis(g) => {
                self.genesis = Some(Genesis { id, maintainers: g.maintainers.clone(), threshold: g.threshold });
                Touched::Genesis
            }
            Body::Revision(r) => {
                self.revisions.insert(id, RevisionInfo { clock: event.clock(), base: r.base.clone() });
                self.endorsements.entry((author, id)).or_default().push(id);
                Touched::Revision { id }
            }
            Body::Propose { prev, change } => {
                self.proposals.insert(id, ProposalInfo { author, prev: *prev, change: *change });
                self.endorsements.entry((author, id)).or_default().push(id);
                Touched::Proposal
            }
            Body::Approve { target } => {
                self.endorsements.entry((author, *target)).or_default().push(id);
                Touched::Stance { author, target: *target }
            }
            Body::Retract { target } => {
                self.retractions.entry((author, *target)).or_default().push(id);
                Touched::Stance { author, target: *target }
            }
        }
    }

    /// Rule 1: `author` endorses `target` if one of their endorsements was
    /// not withdrawn by a later retraction, and each of their retractions
    /// was overridden by a later endorsement.
    pub(super) fn endorses(&self, author: AuthorId, target: EventId) -> bool {
        self.endorses_within(author, target, Scope::All)
    }

    /// Rule 1 over the events of `scope` only.
    pub(super) fn endorses_within(&self, author: AuthorId, target: EventId, scope: Scope) -> bool {
        let Some(endorsements) = self.endorsements.get(&(author, target)) else { return false };
        let retractions = self.retractions.get(&(author, target)).map(Vec::as_slice).unwrap_or_default();
        endorsements
            .iter()
            .filter(|n| scope.has(self, n))
            .any(|n| !retractions.iter().filter(|t| scope.has(self, t)).any(|t| self.dag.precedes(n, t)))
            && !self.retracts_within(author, target, scope)
    }

    /// `author` has a retraction of `target` that no later endorsement
    /// overrides.
    pub(super) fn retracts(&self, author: AuthorId, target: EventId) -> bool {
        self.retracts_within(author, target, Scope::All)
    }

    pub(super) fn retracts_within(&self, author: AuthorId, target: EventId, scope: Scope) -> bool {
        let Some(retractions) = self.retractions.get(&(author, target)) else { return false };
        let endorsements = self.endorsements.get(&(author, target)).map(Vec::as_slice).unwrap_or_default();
        retractions
            .iter()
            .filter(|t| scope.has(self, t))
            .any(|t| !endorsements.iter().filter(|n| scope.has(self, n)).any(|n| self.dag.precedes(t, n)))
    }

    /// The endorsers of `target` among `maintainers`.
    pub(super) fn votes(&self, maintainers: &[AuthorId], target: EventId) -> Vec<AuthorId> {
        self.votes_within(maintainers, target, Scope::All)
    }

    fn votes_within(&self, maintainers: &[AuthorId], target: EventId, scope: Scope) -> Vec<AuthorId> {
        maintainers.iter().copied().filter(|m| self.endorses_within(*m, target, scope)).collect()
    }

    /// Rule 2: from the genesis, take at each state the accepted proposal
    /// with most approvals (then lowest id) among those amending it.
    pub(super) fn walk_chain(&self, genesis: &Genesis) -> Chain {
        self.walk_chain_within(genesis, Scope::All)
    }

    /// Rule 2 over the events of `scope` only: the chain as an event whose
    /// causal past is `scope` saw it.
    pub(super) fn walk_chain_within(&self, genesis: &Genesis, scope: Scope) -> Chain {
        let mut outcomes: BTreeMap<EventId, (Vec<AuthorId>, ProposalOutcome)> = BTreeMap::new();
        let mut by_prev: BTreeMap<EventId, Vec<EventId>> = BTreeMap::new();
        for (id, p) in &self.proposals {
            if scope.has(self, id) {
                by_prev.entry(p.prev).or_default().push(*id);
            }
        }
        let mut state = genesis.id;
        let mut maintainers = genesis.maintainers.clone();
        let mut threshold = genesis.threshold;
        let mut accepted = Vec::new();
        let mut states = vec![(state, maintainers.clone(), threshold)];
        loop {
            let candidates = by_prev.get(&state).cloned().unwrap_or_default();
            let mut winners: Vec<(usize, EventId)> = Vec::new();
            for id in &candidates {
                let votes = self.votes_within(&maintainers, *id, scope);
                let outcome = match applicable(&self.proposals[id].change, &maintainers, threshold) {
                    Err(why) => ProposalOutcome::Void(VoidReason::NotApplicable(why)),
                    Ok(_) if votes.len() as u64 >= threshold => {
                        winners.push((votes.len(), *id));
                        ProposalOutcome::Accepted
                    }
                    Ok(_) => ProposalOutcome::Pending,
                };
                outcomes.insert(*id, (votes, outcome));
            }
            // Most approvals, then lowest id.
            let Some(&(_, winner)) = winners.iter().max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1))) else { break };
            for id in &candidates {
                if *id == winner {
                    continue;
                }
                let entry = outcomes.get_mut(id).expect("every candidate has an outcome");
                entry.1 = match entry.1 {
                    ProposalOutcome::Accepted => ProposalOutcome::Void(VoidReason::LostTo(winner)),
                    ProposalOutcome::Pending => ProposalOutcome::Void(VoidReason::Superseded { by: winner }),
                    void => void,
                };
            }
            let change = self.proposals[&winner].change;
            (maintainers, threshold) = applicable(&change, &maintainers, threshold).expect("the winner is applicable");
            accepted.push(winner);
            state = winner;
            states.push((state, maintainers.clone(), threshold));
        }
        // Proposals never reached from the chain: pending if they amend a
        // pending proposal (they may be reached later), else void.
        let pending = outcomes_pending(&outcomes);
        let mut proposals = Vec::with_capacity(self.proposals.len());
        for (id, p) in self.proposals.iter().filter(|(id, _)| scope.has(self, id)) {
            let (approvals, outcome) = match outcomes.remove(id) {
                Some(known) => known,
                None => {
                    let outcome = if self.amends_pending(p, &pending) {
                        ProposalOutcome::Pending
                    } else {
                        ProposalOutcome::Void(VoidReason::NotOnChain)
                    };
                    (self.votes_within(&maintainers, *id, scope), outcome)
                }
            };
            proposals.push(Proposal { id: *id, author: p.author, prev: p.prev, change: p.change, approvals, outcome });
        }
        Chain { state, maintainers, threshold, accepted, proposals, states }
    }

    /// Whether `p` amends a pending proposal, directly or through a chain
    /// of proposals amending each other.
    fn amends_pending(&self, p: &ProposalInfo, pending: &BTreeSet<EventId>) -> bool {
        let mut prev = p.prev;
        let mut steps = 0;
        while let Some(parent) = self.proposals.get(&prev) {
            if pending.contains(&prev) {
                return true;
            }
            prev = parent.prev;
            steps += 1;
            if steps > self.proposals.len() {
                break;
            }
        }
        false
    }
}

fn outcomes_pending(outcomes: &BTreeMap<EventId, (Vec<AuthorId>, ProposalOutcome)>) -> BTreeSet<EventId> {
    outcomes.iter().filter(|(_, (_, o))| *o == ProposalOutcome::Pending).map(|(id, _)| *id).collect()
}

pub(super) struct Chain {
    pub state: EventId,
    pub maintainers: Vec<AuthorId>,
    pub threshold: u64,
    pub accepted: Vec<EventId>,
    /// Each state of the chain, from the genesis: id, maintainers, threshold.
    pub states: Vec<(EventId, Vec<AuthorId>, u64)>,
    pub proposals: Vec<Proposal>,
}

/// The state a change leads to from (`maintainers`, `threshold`), or why it
/// cannot apply. Removing a maintainer lowers the threshold if it would
/// exceed the maintainers left.
pub(super) fn applicable(
    change: &Change,
    maintainers: &[AuthorId],
    threshold: u64,
) -> Result<(Vec<AuthorId>, u64), Inapplicable> {
    let mut next = maintainers.to_vec();
    match change {
        Change::AddMaintainer(a) => {
            let Err(at) = next.binary_search(a) else { return Err(Inapplicable::AlreadyMaintainer) };
            if next.len() >= MAX_MAINTAINERS {
                return Err(Inapplicable::TooManyMaintainers);
            }
            next.insert(at, *a);
            Ok((next, threshold))
        }
        Change::RemoveMaintainer(a) => {
            let Ok(at) = next.binary_search(a) else { return Err(Inapplicable::NotMaintainer) };
            if next.len() == 1 {
                return Err(Inapplicable::LastMaintainer);
            }
            next.remove(at);
            let threshold = threshold.min(next.len() as u64);
            Ok((next, threshold))
        }
        Change::SetThreshold(n) => {
            if *n == 0 || *n > next.len() as u64 {
                return Err(Inapplicable::ThresholdOutOfRange);
            }
            Ok((next, *n))
        }
    }
}
