//! The rules of `spec/governance.md`, computed over an index of the log.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::admission::{Frontiers, Refusal, Scope};
use super::causal::Dag;
use super::{GovernanceState, Inapplicable, Proposal, ProposalOutcome, VoidReason};
use crate::SignedEvent;
use crate::event::{Body, Change};
use crate::hash::{DesignId, EventId};
use crate::identity::AuthorId;
use crate::limits::{MAX_MAINTAINERS, MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR};

/// Resolves a design from its events, in any order. Events the log does
/// not admit (`spec/governance.md`, "Admission"), events whose parents are
/// not all admitted, events of other designs, and everything when no
/// genesis is present, are left out.
pub fn resolve<'a>(events: impl IntoIterator<Item = &'a SignedEvent>) -> GovernanceState {
    resolve_with_refusals(events).state
}

/// [`resolve`], and what became of the events left out.
pub fn resolve_with_refusals<'a>(events: impl IntoIterator<Item = &'a SignedEvent>) -> Resolution {
    resolve_with_quota(events, MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR)
}

/// [`resolve_with_refusals`] with another bound on unclaimed contributions
/// than [`MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR`]: for tests and
/// simulations that exercise the bound with a few events. Nodes that
/// differ in this bound do not reach the same state.
pub fn resolve_with_quota<'a>(events: impl IntoIterator<Item = &'a SignedEvent>, quota: usize) -> Resolution {
    let mut sorted: Vec<&SignedEvent> = events.into_iter().collect();
    // Parents before children: a parent's clock is lower. Among events of
    // one clock, admission does not depend on the others.
    sorted.sort_by_key(|e| (e.clock(), e.id()));
    let mut index = Index::with_quota(quota);
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
    // The bound applies to the whole set: which contributions are claimed
    // is known only once every maintainer's event is in.
    for evicted in index.evict_over_quota() {
        refused.insert(evicted.id, Refusal::OverQuota { author: evicted.author });
    }
    Resolution { state: super::derived::Derived::full(&index).into_state(), refused, waiting }
}

/// The state of a log, and the events that do not count in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub state: GovernanceState,
    /// Events the log does not admit, each with why. Final but for
    /// [`Refusal::OverQuota`], which a maintainer's event building on the
    /// contribution lifts.
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
    /// Event -> how many proposals amend it (name it as their `prev`): a
    /// new proposal asks whether one came first that amends it, which a
    /// scan of every proposal made quadratic in a log of many.
    pub(super) amended: HashMap<EventId, usize>,
    /// (author, target) -> the events by which the author endorses the
    /// target: their approvals of it, and the target itself if they wrote it.
    pub(super) endorsements: BTreeMap<(AuthorId, EventId), Vec<EventId>>,
    /// (author, target) -> their retractions of it.
    pub(super) retractions: BTreeMap<(AuthorId, EventId), Vec<EventId>>,
    /// Authors some proposal adds or removes (with how many proposals): for
    /// anyone else, the genesis says whether they maintain the design, in
    /// every past.
    pub(super) membership_changes: BTreeMap<AuthorId, usize>,
    pub(super) frontiers: Frontiers,
    /// Event -> its author, and whether they maintain the design in the
    /// state of the event's past (a *maintainer's event*; the genesis is
    /// one).
    pub(super) authors: HashMap<EventId, (AuthorId, bool)>,
    /// Per author, their contributions that no maintainer's event has in
    /// its past, by (clock, id): the order in which the bound keeps them.
    pub(super) unclaimed: BTreeMap<AuthorId, BTreeSet<(u64, EventId)>>,
    /// Authors whose unclaimed contributions grew since the bound was last
    /// applied.
    pub(super) grown: BTreeSet<AuthorId>,
    pub(super) quota: Quota,
    /// Maintainers' events that no other maintainer's event follows: what
    /// every claimed event is below, and what an honest node signs on.
    pub(super) claimed_heads: BTreeSet<EventId>,
}

/// How many unclaimed contributions per author a log keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quota(pub usize);

impl Default for Quota {
    fn default() -> Quota {
        Quota(MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR)
    }
}

/// A contribution taken out of the log by the bound, with what rules 2 to
/// 5 need to forget it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Evicted {
    pub id: EventId,
    pub author: AuthorId,
    pub proposal: bool,
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
    Proposal {
        id: EventId,
    },
    /// An approval or retraction of `target` by `author`.
    Stance {
        author: AuthorId,
        target: EventId,
    },
    /// A comment or a make report: part of the log, never of governance.
    Nothing,
}

#[derive(Debug, Clone)]
pub(super) struct ProposalInfo {
    pub author: AuthorId,
    pub prev: EventId,
    pub change: Change,
}

impl Index {
    pub(super) fn with_quota(quota: usize) -> Index {
        Index { quota: Quota(quota), ..Index::default() }
    }

    pub(super) fn design(&self) -> Option<DesignId> {
        self.genesis.as_ref().map(|g| DesignId::from_genesis(g.id))
    }

    /// Adds an event [`check`](Self::check) accepted.
    pub(super) fn add(&mut self, event: &SignedEvent) -> Touched {
        let id = event.id();
        let author = event.author();
        let by_maintainer = match event.body() {
            // Admitted approvals and retractions are a maintainer's.
            Body::Genesis(_) | Body::Approve { .. } | Body::Retract { .. } => true,
            Body::Revision(_) | Body::Propose { .. } | Body::Comment(_) | Body::MakeReport(_) => {
                self.maintainer_before(author, event.parents())
            }
            // Refused by `check`: a profile belongs to no design.
            Body::Profile(_) => false,
        };
        self.authors.insert(id, (author, by_maintainer));
        if by_maintainer {
            self.claim(event.parents());
            let below: Vec<EventId> =
                self.claimed_heads.iter().filter(|h| self.dag.in_past(h, event.parents())).copied().collect();
            for h in below {
                self.claimed_heads.remove(&h);
            }
            self.claimed_heads.insert(id);
        } else {
            self.unclaimed.entry(author).or_default().insert((event.clock(), id));
            self.grown.insert(author);
        }
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
                *self.amended.entry(*prev).or_default() += 1;
                self.endorsements.entry((author, id)).or_default().push(id);
                Touched::Proposal { id }
            }
            Body::Approve { target } => {
                self.endorsements.entry((author, *target)).or_default().push(id);
                Touched::Stance { author, target: *target }
            }
            Body::Retract { target } => {
                self.retractions.entry((author, *target)).or_default().push(id);
                Touched::Stance { author, target: *target }
            }
            Body::Comment(_) | Body::MakeReport(_) | Body::Profile(_) => Touched::Nothing,
        }
    }

    /// The parents an honest event by `author` takes: the maintainers'
    /// events no other follows, and the author's own unclaimed
    /// contributions that nothing builds on, plus each of `named` (a base,
    /// a target) not already in their past. Never another stranger's
    /// unreviewed work, which a contribution may not build on (check 6)
    /// and a maintainer's event would claim; at most `MAX_PARENTS`, the
    /// named ones first, then the latest.
    pub(super) fn parents_for(&self, author: AuthorId, named: &[EventId]) -> Vec<EventId> {
        let own = self.unclaimed.get(&author).into_iter().flatten().filter(|(_, id)| self.dag.is_head(id));
        let mut heads: Vec<(u64, EventId)> =
            own.copied().chain(self.claimed_heads.iter().filter_map(|h| Some((self.dag.clock(h)?, *h)))).collect();
        heads.sort_by(|a, b| b.cmp(a));
        let ids: Vec<EventId> = heads.iter().map(|(_, h)| *h).collect();
        let mut parents: Vec<EventId> =
            named.iter().filter(|n| self.dag.contains(n) && !self.dag.in_past(n, &ids)).copied().collect();
        for h in ids {
            if parents.len() == crate::limits::MAX_PARENTS {
                break;
            }
            if !parents.contains(&h) {
                parents.push(h);
            }
        }
        parents.sort();
        parents
    }

    /// A maintainer's event with these parents claims every contribution of
    /// its past. Claimed events are closed downwards (an ancestor of one
    /// is in the same past), so the walk stops at the first claimed one.
    fn claim(&mut self, parents: &[EventId]) {
        let mut stack = parents.to_vec();
        while let Some(id) = stack.pop() {
            let Some(&(author, _)) = self.authors.get(&id) else { continue };
            let Some(clock) = self.dag.clock(&id) else { continue };
            let Some(set) = self.unclaimed.get_mut(&author) else { continue };
            if !set.remove(&(clock, id)) {
                continue;
            }
            if set.is_empty() {
                self.unclaimed.remove(&author);
            }
            stack.extend(self.dag.parents(&id).iter().copied());
        }
    }

    /// Applies the bound to the authors whose unclaimed contributions grew:
    /// each keeps their first `quota` in (clock, id) order, and the rest
    /// leave the log. A contribution's unclaimed ancestors are its
    /// author's own (check 6) and come before it in that order, so what is
    /// kept is closed downwards and nothing kept loses a parent.
    pub(super) fn evict_over_quota(&mut self) -> Vec<Evicted> {
        let mut out = Vec::new();
        for author in std::mem::take(&mut self.grown) {
            while let Some(set) = self.unclaimed.get_mut(&author)
                && set.len() > self.quota.0
            {
                let (_, id) = set.pop_last().expect("longer than the quota");
                out.push(self.remove(id, author));
            }
        }
        out
    }

    /// Takes an unclaimed contribution out of the index. Everything built
    /// on it is its author's unclaimed work ranked after it, taken out
    /// before it.
    fn remove(&mut self, id: EventId, author: AuthorId) -> Evicted {
        self.dag.remove(&id);
        self.authors.remove(&id);
        self.frontiers.forget(&id);
        self.endorsements.remove(&(author, id));
        self.revisions.remove(&id);
        let proposal = match self.proposals.remove(&id) {
            Some(p) => {
                if let Some(n) = self.amended.get_mut(&p.prev) {
                    *n -= 1;
                    if *n == 0 {
                        self.amended.remove(&p.prev);
                    }
                }
                if let Change::AddMaintainer(a) | Change::RemoveMaintainer(a) = p.change
                    && let Some(n) = self.membership_changes.get_mut(&a)
                {
                    *n -= 1;
                    if *n == 0 {
                        self.membership_changes.remove(&a);
                    }
                }
                true
            }
            None => false,
        };
        if self.unclaimed.get(&author).is_some_and(BTreeSet::is_empty) {
            self.unclaimed.remove(&author);
        }
        Evicted { id, author, proposal }
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
