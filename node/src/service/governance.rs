//! Governance: approve, retract, propose, status.

use communs_protocol::governance::{GovernanceState, ProposalOutcome, VoidReason};
use communs_protocol::{AuthorId, Change, DesignId, EventId, SignedEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CompetingHead, Service, ServiceError, now_ms};

/// A revision or a proposal to approve, or to withdraw an approval of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TargetRequest {
    #[schema(value_type = String)]
    pub target: EventId,
    /// Sign only on exactly these parents: those of the event a person
    /// reviewed (`GovernancePreview`). If the design moved since, nothing
    /// is signed and the error's reason is `changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub parents: Option<Vec<EventId>>,
}

/// The approval or retraction this node would sign now, before it does.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GovernancePreview {
    /// `approve` or `retract`.
    pub kind: String,
    #[schema(value_type = String)]
    pub design: DesignId,
    #[schema(value_type = String)]
    pub target: EventId,
    #[schema(value_type = String)]
    pub author: AuthorId,
    /// The events it would sign on: this author's latest of the design
    /// and the maintainers' latest, and the target.
    #[schema(value_type = Vec<String>)]
    pub parents: Vec<EventId>,
    /// Its clock: one more than its parents' largest.
    pub clock: u64,
    /// The time it would carry, ms since the epoch (the time of signing
    /// replaces it).
    pub time: u64,
}

/// A change to who maintains a design, or to its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum ChangeRequest {
    AddMaintainer {
        #[schema(value_type = String)]
        author: AuthorId,
    },
    RemoveMaintainer {
        #[schema(value_type = String)]
        author: AuthorId,
    },
    SetThreshold {
        threshold: u64,
    },
}

impl From<ChangeRequest> for Change {
    fn from(change: ChangeRequest) -> Change {
        match change {
            ChangeRequest::AddMaintainer { author } => Change::AddMaintainer(author),
            ChangeRequest::RemoveMaintainer { author } => Change::RemoveMaintainer(author),
            ChangeRequest::SetThreshold { threshold } => Change::SetThreshold(threshold),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct ProposeRequest {
    pub change: ChangeRequest,
}

/// The event this node signed, and the design's governance after it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GovernanceResult {
    #[schema(value_type = String)]
    pub event: EventId,
    pub status: DesignStatus,
}

/// Where a design's governance stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DesignStatus {
    #[schema(value_type = String)]
    pub design: DesignId,
    #[schema(value_type = Option<String>)]
    pub canonical: Option<EventId>,
    /// Maintainers approving the canonical revision.
    pub canonical_approvals: usize,
    #[schema(value_type = Vec<String>)]
    pub competing: Vec<EventId>,
    pub competing_heads: Vec<CompetingHead>,
    /// Revisions not accepted yet, with the maintainers approving each.
    pub open: Vec<OpenRow>,
    #[schema(value_type = Vec<String>)]
    pub maintainers: Vec<AuthorId>,
    pub threshold: u64,
    /// The current governance state: the genesis or the last accepted
    /// proposal.
    #[schema(value_type = Option<String>)]
    pub state: Option<EventId>,
    pub proposals: Vec<ProposalRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenRow {
    #[schema(value_type = String)]
    pub revision: EventId,
    #[schema(value_type = Vec<String>)]
    pub approvals: Vec<AuthorId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProposalRow {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub author: AuthorId,
    /// The change, in words (`add maintainer author1…`).
    pub change: String,
    #[schema(value_type = Vec<String>)]
    pub approvals: Vec<AuthorId>,
    /// `accepted`, `pending`, or `void: …` with why.
    pub outcome: String,
}

/// `status`: the governance, with this node's own view on it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusResult {
    #[serde(flatten)]
    pub status: DesignStatus,
    /// Open contributions by muted authors, left out of `open`.
    pub muted_open: usize,
    /// The revision this node uses instead of the canonical one.
    #[schema(value_type = Option<String>)]
    pub pinned: Option<EventId>,
    /// The names shown for the maintainers and proposal authors, by
    /// author id.
    pub names: std::collections::BTreeMap<String, String>,
}

/// A change in words, as `log` and `status` show it.
pub(super) fn change_text(change: &Change) -> String {
    match change {
        Change::AddMaintainer(a) => format!("add maintainer {a}"),
        Change::RemoveMaintainer(a) => format!("remove maintainer {a}"),
        Change::SetThreshold(n) => format!("set threshold to {n}"),
    }
}

fn outcome_text(outcome: &ProposalOutcome) -> String {
    match outcome {
        ProposalOutcome::Accepted => "accepted".to_owned(),
        ProposalOutcome::Pending => "pending".to_owned(),
        ProposalOutcome::Void(VoidReason::LostTo(w)) => format!("void: lost to {w}"),
        ProposalOutcome::Void(VoidReason::Superseded { by }) => format!("void: superseded by {by}"),
        ProposalOutcome::Void(VoidReason::NotOnChain) => "void: amends no state of the chain".to_owned(),
        ProposalOutcome::Void(VoidReason::NotApplicable(why)) => format!("void: not applicable ({why:?})"),
    }
}

impl DesignStatus {
    fn of(design: DesignId, state: &GovernanceState) -> DesignStatus {
        DesignStatus {
            design,
            canonical: state.canonical,
            canonical_approvals: state.canonical.and_then(|c| state.approvals.get(&c)).map_or(0, Vec::len),
            competing: state.competing.iter().map(|c| c.revision).collect(),
            competing_heads: state.competing.iter().map(CompetingHead::of).collect(),
            open: state.open.iter().map(|o| OpenRow { revision: o.revision, approvals: o.approvals.clone() }).collect(),
            maintainers: state.maintainers.clone(),
            threshold: state.threshold,
            state: state.state,
            proposals: state
                .proposals
                .iter()
                .map(|p| ProposalRow {
                    id: p.id,
                    author: p.author,
                    change: change_text(&p.change),
                    approvals: p.approvals.clone(),
                    outcome: outcome_text(&p.outcome),
                })
                .collect(),
        }
    }

    /// The proposal `id`, if the design has it.
    pub fn proposal(&self, id: &EventId) -> Option<&ProposalRow> {
        self.proposals.iter().find(|p| p.id == *id)
    }
}

impl Service {
    pub fn approve(&self, design: &DesignId, request: TargetRequest) -> Result<GovernanceResult, ServiceError> {
        let unsigned = self.node.approval(design, request.target, now_ms())?;
        self.sign_reviewed(unsigned, request.parents.as_deref())
    }

    pub fn retract(&self, design: &DesignId, request: TargetRequest) -> Result<GovernanceResult, ServiceError> {
        let unsigned = self.node.retraction(design, request.target, now_ms())?;
        self.sign_reviewed(unsigned, request.parents.as_deref())
    }

    /// What approving (`approve`) or retracting `target` would sign now,
    /// after the same checks, signing nothing.
    pub fn preview(
        &self,
        design: &DesignId,
        target: EventId,
        approve: bool,
    ) -> Result<GovernancePreview, ServiceError> {
        let now = now_ms();
        let unsigned = if approve {
            self.node.approval(design, target, now)?
        } else {
            self.node.retraction(design, target, now)?
        };
        Ok(GovernancePreview {
            kind: if approve { "approve" } else { "retract" }.to_owned(),
            design: *design,
            target,
            author: unsigned.author,
            parents: unsigned.parents,
            clock: unsigned.clock,
            time: unsigned.time,
        })
    }

    fn sign_reviewed(
        &self,
        unsigned: communs_protocol::UnsignedEvent,
        reviewed: Option<&[EventId]>,
    ) -> Result<GovernanceResult, ServiceError> {
        if let Some(reviewed) = reviewed
            && reviewed != unsigned.parents.as_slice()
        {
            return Err(ServiceError::Changed(
                "the design changed since this event was shown: review it again before signing".to_owned(),
            ));
        }
        let event = self.node.append_prepared(unsigned)?;
        self.signed(&event)
    }

    pub fn propose(&self, design: &DesignId, request: ProposeRequest) -> Result<GovernanceResult, ServiceError> {
        let event = self.node.propose(design, request.change.into(), now_ms())?;
        self.signed(&event)
    }

    fn signed(&self, event: &SignedEvent) -> Result<GovernanceResult, ServiceError> {
        let design = event.design();
        let state = self.node.status(&design)?;
        Ok(GovernanceResult { event: event.id(), status: DesignStatus::of(design, &state) })
    }

    /// The design's governance, without the open contributions of authors
    /// this node mutes (counted in `muted_open`).
    pub fn status(&self, design: &DesignId) -> Result<StatusResult, ServiceError> {
        let mut state = self.node.status(design)?;
        let muted = self.node.muted_revisions(design)?;
        let before = state.open.len();
        state.open.retain(|o| !muted.contains(&o.revision));
        let status = DesignStatus::of(*design, &state);
        let names = self.names(status.maintainers.iter().chain(status.proposals.iter().map(|p| &p.author)).copied())?;
        Ok(StatusResult {
            status,
            muted_open: before - state.open.len(),
            pinned: self.node.policy()?.pins.get(design).copied(),
            names,
        })
    }
}
