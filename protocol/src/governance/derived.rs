//! Rules 3 to 5 (approval sets, accepted revisions, heads, open
//! contributions), computed in full or kept up to date event by event.
//!
//! The incremental path exists because a node applies events one at a
//! time as they arrive, and recomputing everything for each would cost as
//! much as resolving the whole log. It keeps, per current maintainer, the
//! revisions they endorse (roots), those they retract (excluded), and their
//! approval set; plus the accepted revisions and the set of revisions some
//! accepted revision builds on (covered). The property tests check that it
//! always equals a full computation.

use std::collections::{BTreeMap, BTreeSet};

use super::rules::{Evicted, Index, Touched, applicable};
use super::{CompetingHead, GovernanceState, LossReason, OpenContribution, Proposal, ProposalOutcome, VoidReason};
use crate::hash::{DesignId, EventId};
use crate::identity::AuthorId;

#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    state: GovernanceState,
    roots: BTreeMap<AuthorId, BTreeSet<EventId>>,
    excluded: BTreeMap<AuthorId, BTreeSet<EventId>>,
    sets: BTreeMap<AuthorId, BTreeSet<EventId>>,
    accepted: BTreeSet<EventId>,
    /// Revisions reached through `base` from some accepted revision.
    covered: BTreeSet<EventId>,
    heads: BTreeSet<EventId>,
    /// The chain's states: id, maintainers, threshold.
    chain_states: Vec<(EventId, Vec<AuthorId>, u64)>,
}

impl Derived {
    pub(super) fn state(&self) -> &GovernanceState {
        &self.state
    }

    pub(super) fn into_state(self) -> GovernanceState {
        self.state
    }

    /// Everything from scratch.
    pub(super) fn full(index: &Index) -> Derived {
        let Some(genesis) = &index.genesis else { return Derived::default() };
        let chain = index.walk_chain(genesis);
        let mut derived = Derived {
            state: GovernanceState {
                design: Some(DesignId::from_genesis(genesis.id)),
                maintainers: chain.maintainers,
                threshold: chain.threshold,
                state: Some(chain.state),
                chain: chain.accepted,
                proposals: chain.proposals,
                approvals: index.revisions.keys().map(|r| (*r, Vec::new())).collect(),
                ..GovernanceState::default()
            },
            chain_states: chain.states,
            ..Derived::default()
        };
        for m in derived.state.maintainers.clone() {
            let range = (m, EventId::MIN)..=(m, EventId::MAX);
            let roots: BTreeSet<EventId> = index
                .endorsements
                .range(range.clone())
                .map(|((_, t), _)| *t)
                .filter(|t| index.revisions.contains_key(t) && index.endorses(m, *t))
                .collect();
            let excluded: BTreeSet<EventId> = index
                .retractions
                .range(range)
                .map(|((_, t), _)| *t)
                .filter(|t| index.revisions.contains_key(t) && index.retracts(m, *t))
                .collect();
            let set: BTreeSet<EventId> = closure(index, roots.iter().copied(), |_| false)
                .into_iter()
                .filter(|r| !excluded.contains(r))
                .collect();
            for r in &set {
                derived.state.approvals.entry(*r).or_default().push(m);
            }
            derived.roots.insert(m, roots);
            derived.excluded.insert(m, excluded);
            derived.sets.insert(m, set);
        }
        derived.recount_heads(index);
        derived.state.open = derived
            .state
            .approvals
            .iter()
            .filter(|(r, _)| !derived.accepted.contains(r))
            .map(|(r, who)| OpenContribution { revision: *r, approvals: who.clone() })
            .collect();
        derived.state.open.sort_by_key(|o| (index.revisions[&o.revision].clock, o.revision));
        derived
    }

    /// Brings the state up to date after `index` gained one event.
    pub(super) fn update(&mut self, index: &Index, touched: Touched) {
        match touched {
            Touched::Nothing => {}
            Touched::Genesis => *self = Derived::full(index),
            Touched::Proposal { id } => self.proposal_added(index, id),
            Touched::Stance { target, .. } if index.proposals.contains_key(&target) => {
                self.proposal_vote(index, target)
            }
            Touched::Stance { author, target } => {
                if index.revisions.contains_key(&target) && self.sets.contains_key(&author) {
                    self.stance_changed(index, author, target);
                }
            }
            // No revision already here builds on this one (a base is in
            // its revision's past): its approvals are its author's and the
            // stances that named it before it arrived, nothing else moves.
            Touched::Revision { id } => {
                self.state.approvals.insert(id, Vec::new());
                self.set_open(index, id, true);
                // Its author's approval, and any approvals that arrived first.
                let maintainers: Vec<AuthorId> = self.sets.keys().copied().collect();
                for m in maintainers {
                    if index.endorsements.contains_key(&(m, id)) || index.retractions.contains_key(&(m, id)) {
                        self.stance_changed(index, m, id);
                    }
                }
            }
        }
    }

    /// Contributions the bound took out of `index`. Unclaimed ones count
    /// for nothing, as a rule: no maintainer approved them or built on
    /// them. The exception is an author who maintains the current state
    /// but not the state of their contribution's past (added since, and
    /// not yet building on their addition): their writing endorses it
    /// (rule 1), so rules 2 to 5 are recounted.
    pub(super) fn forget(&mut self, index: &Index, evicted: &[Evicted]) {
        let mut recount = false;
        let mut proposals = false;
        let mut gone = BTreeSet::new();
        for e in evicted {
            if e.proposal {
                proposals = true;
                continue;
            }
            gone.insert(e.id);
            let counted = self.state.approvals.remove(&e.id).is_some_and(|who| !who.is_empty())
                || self.roots.values().any(|roots| roots.contains(&e.id));
            recount |= counted;
        }
        if recount {
            *self = Derived::full(index);
            return;
        }
        if !gone.is_empty() {
            self.state.open.retain(|o| !gone.contains(&o.revision));
        }
        if proposals {
            self.chain_changed(index);
        }
    }

    /// A proposal or a vote on one arrived: re-walk the chain (proposals
    /// are few); if maintainers or threshold moved, every vote is recounted.
    fn chain_changed(&mut self, index: &Index) {
        let Some(genesis) = &index.genesis else { return };
        let chain = index.walk_chain(genesis);
        if chain.maintainers != self.state.maintainers || chain.threshold != self.state.threshold {
            *self = Derived::full(index);
            return;
        }
        self.state.state = Some(chain.state);
        self.state.chain = chain.accepted;
        self.state.proposals = chain.proposals;
        self.chain_states = chain.states;
    }

    /// A new proposal `p`. It moves the chain only if it is accepted and
    /// wins at the state it amends (at the current state: if it is
    /// accepted at all); otherwise, when no proposal here amends it (its
    /// `prev` need not be in its past, so one may have come first), only
    /// its own entry is new. Rule 2 as `Index::walk_chain` applies it, for
    /// that one proposal: a log of many proposals costs a walk per
    /// proposal that moves the chain, not per proposal.
    fn proposal_added(&mut self, index: &Index, p: EventId) {
        if index.genesis.is_none() || index.amended.contains_key(&p) {
            return self.chain_changed(index);
        }
        let info = &index.proposals[&p];
        let at_state = self.chain_states.iter().position(|(s, _, _)| *s == info.prev);
        let (approvals, outcome) = match at_state {
            // Not amending a state of the chain: pending if it amends a
            // pending proposal (reached, or pending in turn), else void.
            None => {
                let amends_pending = self
                    .state
                    .proposals
                    .binary_search_by(|x| x.id.cmp(&info.prev))
                    .is_ok_and(|at| self.state.proposals[at].outcome == ProposalOutcome::Pending);
                let outcome = if amends_pending {
                    ProposalOutcome::Pending
                } else {
                    ProposalOutcome::Void(VoidReason::NotOnChain)
                };
                (index.votes(&self.state.maintainers, p), outcome)
            }
            Some(k) => {
                let (_, maintainers, threshold) = &self.chain_states[k];
                let votes = index.votes(maintainers, p);
                // The proposal the chain took at this state, if it moved on.
                let winner = self.state.chain.get(k).copied();
                let outcome = match (applicable(&info.change, maintainers, *threshold), winner) {
                    (Err(why), _) => ProposalOutcome::Void(VoidReason::NotApplicable(why)),
                    (Ok(_), winner) if votes.len() as u64 >= *threshold => {
                        let Some(winner) = winner else { return self.chain_changed(index) };
                        let Ok(w) = self.state.proposals.binary_search_by(|x| x.id.cmp(&winner)) else {
                            return self.chain_changed(index);
                        };
                        let winner_votes = self.state.proposals[w].approvals.len();
                        // Most approvals, then lowest id.
                        if (votes.len(), std::cmp::Reverse(p)) > (winner_votes, std::cmp::Reverse(winner)) {
                            return self.chain_changed(index);
                        }
                        ProposalOutcome::Void(VoidReason::LostTo(winner))
                    }
                    (Ok(_), Some(winner)) => ProposalOutcome::Void(VoidReason::Superseded { by: winner }),
                    (Ok(_), None) => ProposalOutcome::Pending,
                };
                (votes, outcome)
            }
        };
        let proposal =
            Proposal { id: p, author: info.author, prev: info.prev, change: info.change, approvals, outcome };
        match self.state.proposals.binary_search_by(|x| x.id.cmp(&p)) {
            Ok(at) => self.state.proposals[at] = proposal,
            Err(at) => self.state.proposals.insert(at, proposal),
        }
    }

    /// A vote on proposal `p`. Two common cases change only that
    /// proposal's approvals: a proposal amending the current state that
    /// stays short of the threshold, and one more vote for a proposal
    /// already on the chain (a winner with more votes still wins). Anything
    /// else re-walks the chain.
    fn proposal_vote(&mut self, index: &Index, p: EventId) {
        let info = &index.proposals[&p];
        let Ok(at) = self.state.proposals.binary_search_by(|x| x.id.cmp(&p)) else {
            return self.chain_changed(index);
        };
        if let Some((_, maintainers, threshold)) = self.chain_states.iter().find(|(s, _, _)| *s == info.prev) {
            let votes = index.votes(maintainers, p);
            let entry = &self.state.proposals[at];
            let unchanged_outcome = if Some(info.prev) == self.state.state {
                let applicable = applicable(&info.change, maintainers, *threshold).is_ok();
                !applicable || (votes.len() as u64) < *threshold
            } else {
                self.state.chain.contains(&p) && votes.len() >= entry.approvals.len()
            };
            if unchanged_outcome {
                self.state.proposals[at].approvals = votes;
                return;
            }
        }
        self.chain_changed(index);
    }

    /// `author`'s stance on revision `target` may have changed.
    fn stance_changed(&mut self, index: &Index, author: AuthorId, target: EventId) {
        let endorses = index.endorses(author, target);
        let retracts = index.retracts(author, target);
        let roots = self.roots.entry(author).or_default();
        let excluded = self.excluded.entry(author).or_default();
        let root_added = endorses && roots.insert(target);
        let root_removed = !endorses && roots.remove(&target);
        let exclusion_changed = if retracts { excluded.insert(target) } else { excluded.remove(&target) };
        let set = self.sets.entry(author).or_default();
        let changed: Vec<EventId> = if !root_removed && !exclusion_changed {
            if !root_added {
                return;
            }
            // Only a new root: its closure joins the set. Anything already
            // in the set has its ancestors there (or excluded) already.
            let fresh: Vec<EventId> = closure(index, [target], |r| set.contains(r))
                .into_iter()
                .filter(|r| !excluded.contains(r) && !set.contains(r))
                .collect();
            set.extend(fresh.iter().copied());
            fresh
        } else {
            let new_set: BTreeSet<EventId> = closure(index, roots.iter().copied(), |_| false)
                .into_iter()
                .filter(|r| !excluded.contains(r))
                .collect();
            let changed = set.symmetric_difference(&new_set).copied().collect();
            *set = new_set;
            changed
        };
        let mut became_unaccepted = false;
        let mut newly_accepted = Vec::new();
        for r in &changed {
            let in_set = self.sets[&author].contains(r);
            let who = self.state.approvals.entry(*r).or_default();
            match (who.binary_search(&author), in_set) {
                (Err(at), true) => who.insert(at, author),
                (Ok(at), false) => {
                    who.remove(at);
                }
                _ => {}
            }
            let accepted_now = who.len() as u64 >= self.state.threshold;
            if accepted_now && self.accepted.insert(*r) {
                newly_accepted.push(*r);
            } else if !accepted_now && self.accepted.remove(r) {
                became_unaccepted = true;
            }
            self.set_open(index, *r, !accepted_now);
        }
        if became_unaccepted {
            self.recount_heads(index);
            return;
        }
        let heads_moved = !newly_accepted.is_empty();
        for r in newly_accepted {
            let bases = index.revisions[&r].base.clone();
            for a in closure(index, bases, |x| self.covered.contains(x)) {
                if self.covered.insert(a) {
                    self.heads.remove(&a);
                }
            }
            if !self.covered.contains(&r) {
                self.heads.insert(r);
            }
        }
        // The order of the heads depends on the heads and their approvals
        // only: re-sorting them for every approval of a revision that is
        // not a head cost most of an approval's time on logs with many
        // competing heads.
        if heads_moved || changed.iter().any(|r| self.heads.contains(r)) {
            self.order_heads(index);
        }
    }

    /// Keeps `r` in the open list (with its current approvals) or out of it.
    fn set_open(&mut self, index: &Index, r: EventId, open: bool) {
        let clock = index.revisions[&r].clock;
        let key = |o: &OpenContribution| (index.revisions[&o.revision].clock, o.revision);
        let at = self.state.open.binary_search_by(|o| key(o).cmp(&(clock, r)));
        match (at, open) {
            (Ok(i), true) => self.state.open[i].approvals = self.state.approvals[&r].clone(),
            (Err(i), true) => {
                self.state.open.insert(i, OpenContribution { revision: r, approvals: self.state.approvals[&r].clone() })
            }
            (Ok(i), false) => {
                self.state.open.remove(i);
            }
            (Err(_), false) => {}
        }
    }

    /// Accepted revisions, covered ones and heads, from the approvals.
    fn recount_heads(&mut self, index: &Index) {
        let threshold = self.state.threshold;
        self.accepted =
            self.state.approvals.iter().filter(|(_, who)| who.len() as u64 >= threshold).map(|(r, _)| *r).collect();
        let bases: Vec<EventId> = self.accepted.iter().flat_map(|r| index.revisions[r].base.iter().copied()).collect();
        self.covered = closure(index, bases, |_| false);
        self.heads = self.accepted.iter().filter(|r| !self.covered.contains(r)).copied().collect();
        self.order_heads(index);
    }

    /// Rule 4's order over the heads: most approvals, highest clock,
    /// lowest id.
    fn order_heads(&mut self, index: &Index) {
        let mut heads: Vec<(usize, u64, EventId)> =
            self.heads.iter().map(|r| (self.state.approvals[r].len(), index.revisions[r].clock, *r)).collect();
        heads.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let Some(&(best_approvals, best_clock, canonical)) = heads.first() else {
            self.state.canonical = None;
            self.state.competing.clear();
            return;
        };
        self.state.canonical = Some(canonical);
        self.state.competing = heads[1..]
            .iter()
            .map(|&(approvals, clock, revision)| CompetingHead {
                revision,
                approvals,
                clock,
                lost: if approvals < best_approvals {
                    LossReason::FewerApprovals
                } else if clock < best_clock {
                    LossReason::LowerClock
                } else {
                    LossReason::HigherId
                },
            })
            .collect();
    }
}

/// `roots` and every revision they reach through `base`, not going past
/// revisions for which `stop` holds (they are left out too).
fn closure(
    index: &Index,
    roots: impl IntoIterator<Item = EventId>,
    stop: impl Fn(&EventId) -> bool,
) -> BTreeSet<EventId> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<EventId> = roots.into_iter().collect();
    while let Some(r) = stack.pop() {
        if stop(&r) {
            continue;
        }
        if let Some(info) = index.revisions.get(&r)
            && seen.insert(r)
        {
            stack.extend_from_slice(&info.base);
        }
    }
    seen
}
