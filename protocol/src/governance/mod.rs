//! Governance: who maintains a design, and which revision is canonical.
//!
//! Resolution is a pure function of the *set* of events a node holds: two
//! nodes with the same events compute the same [`GovernanceState`] whatever
//! order the events arrived in. No clock is trusted; only the causal order
//! of the log (parents) and the events' contents count. The rules are in
//! `spec/governance.md`, each with a worked example that the tests replay.
//!
//! Not every signed event counts: a log admits an approval or a retraction
//! only from a maintainer of the state its own past defines, of a target in
//! that past, when it says something new ([`Refusal`] says why not).
//! Contributions (revisions, proposals) are welcome from anyone, but a log
//! keeps at most
//! [`MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR`](crate::limits::MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR)
//! per author that no maintainer's event has in its past: the first ones
//! in causal order, a function of the set of events like the rest.
//!
//! [`resolve`] computes the state from a whole log. [`Resolver`] takes
//! events one at a time, holds back those whose parents have not arrived
//! (in a bounded pending set), and gives exactly what [`resolve`] gives for
//! the events it has accepted.

mod admission;
mod causal;
mod derived;
mod incremental;
mod rules;

use std::collections::BTreeMap;

use crate::event::Change;
use crate::hash::{DesignId, EventId};
use crate::identity::AuthorId;

pub use admission::Refusal;
pub use incremental::{Applied, Resolver};
pub use rules::{Resolution, resolve, resolve_with_quota, resolve_with_refusals};

/// Everything governance decides about one design.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GovernanceState {
    /// `None` until the genesis is known.
    pub design: Option<DesignId>,
    /// Maintainers of the current governance state, sorted.
    pub maintainers: Vec<AuthorId>,
    /// Approvals needed to accept a revision or a proposal.
    pub threshold: u64,
    /// The current governance state: the genesis, or the last accepted
    /// proposal of the chain.
    pub state: Option<EventId>,
    /// Accepted proposals, from the genesis to the current state.
    pub chain: Vec<EventId>,
    /// Every proposal with its outcome, by id.
    pub proposals: Vec<Proposal>,
    /// For every revision: the current maintainers whose approval set holds
    /// it.
    pub approvals: BTreeMap<EventId, Vec<AuthorId>>,
    /// The canonical head, if some revision is accepted.
    pub canonical: Option<EventId>,
    /// Other accepted heads, best first, each with why it lost.
    pub competing: Vec<CompetingHead>,
    /// Revisions not accepted, oldest first, with their approvals so far.
    pub open: Vec<OpenContribution>,
}

/// A governance proposal and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: EventId,
    pub author: AuthorId,
    pub prev: EventId,
    pub change: Change,
    /// Maintainers of the state it amends who endorse it.
    pub approvals: Vec<AuthorId>,
    pub outcome: ProposalOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalOutcome {
    /// On the chain.
    Accepted,
    /// Amends the current state (or a pending proposal) and may still be
    /// accepted.
    Pending,
    /// Can never be accepted.
    Void(VoidReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidReason {
    /// Accepted at the same state as the winner, which had more approvals
    /// (or as many and a lower id).
    LostTo(EventId),
    /// Amends a state the chain has moved past.
    Superseded { by: EventId },
    /// Amends something that is not a governance state of this design (a
    /// void proposal, another kind of event, an unknown id).
    NotOnChain,
    /// The change makes no sense against the state it amends.
    NotApplicable(Inapplicable),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inapplicable {
    AlreadyMaintainer,
    NotMaintainer,
    LastMaintainer,
    TooManyMaintainers,
    ThresholdOutOfRange,
}

/// An accepted head that is not canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetingHead {
    pub revision: EventId,
    pub approvals: usize,
    pub clock: u64,
    pub lost: LossReason,
}

/// Why a competing head lost to the canonical one (the tie-break of
/// `spec/governance.md`, rule 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReason {
    FewerApprovals,
    LowerClock,
    HigherId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenContribution {
    pub revision: EventId,
    pub approvals: Vec<AuthorId>,
}

impl GovernanceState {
    pub fn proposal(&self, id: &EventId) -> Option<&Proposal> {
        self.proposals.iter().find(|p| p.id == *id)
    }
}
