//! `approve`, `retract`, `propose`, `status`: a design's governance.
//!
//! Each action is a signed event on top of the design's current heads. The
//! node refuses actions that could not count (approving as a
//! non-maintainer, targeting an event that is not a revision or proposal of
//! the design) with the reason, rather than publishing noise.

use communs_protocol::governance::GovernanceState;
use communs_protocol::{AuthorId, Body, Change, DesignId, EventId, SignedEvent, UnsignedEvent};

use crate::{Node, NodeError};

#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    #[error("{target} is not a revision or a proposal of design {design} (see `communs log {design}`)")]
    NotATarget { design: DesignId, target: EventId },
    #[error("you ({author}) are not a maintainer of this design: your approval would not count")]
    NotMaintainer { author: AuthorId },
    #[error("you have not approved {target}: there is nothing to retract")]
    NothingToRetract { target: EventId },
}

impl Node {
    /// The governance state of a design from every event the store holds.
    /// The design's governance state, as kept in the store: reading it
    /// costs the same whatever the log holds.
    pub fn status(&self, design: &DesignId) -> Result<GovernanceState, NodeError> {
        self.governance_of(design)
    }

    pub fn approve(&self, design: &DesignId, target: EventId, now_ms: u64) -> Result<SignedEvent, NodeError> {
        self.append_prepared(self.approval(design, target, now_ms)?)
    }

    /// The approval [`Node::approve`] would sign now, unsigned (what a
    /// person reviews before it is signed).
    pub fn approval(&self, design: &DesignId, target: EventId, now_ms: u64) -> Result<UnsignedEvent, NodeError> {
        let state = self.target_of(design, target)?;
        if !state.maintainers.contains(&self.author()) {
            return Err(GovernError::NotMaintainer { author: self.author() }.into());
        }
        self.prepare(design, Body::Approve { target }, now_ms)
    }

    pub fn retract(&self, design: &DesignId, target: EventId, now_ms: u64) -> Result<SignedEvent, NodeError> {
        self.append_prepared(self.retraction(design, target, now_ms)?)
    }

    /// The retraction [`Node::retract`] would sign now, unsigned.
    pub fn retraction(&self, design: &DesignId, target: EventId, now_ms: u64) -> Result<UnsignedEvent, NodeError> {
        self.target_of(design, target)?;
        // A rare command: reading the log is acceptable here.
        let log = self.design_log(design)?.events;
        let endorsed = log.iter().any(|e| {
            e.author() == self.author()
                && (e.id() == target || matches!(e.body(), Body::Approve { target: t } if *t == target))
        });
        if !endorsed {
            return Err(GovernError::NothingToRetract { target }.into());
        }
        self.prepare(design, Body::Retract { target }, now_ms)
    }

    /// Proposes a change to the current governance state.
    pub fn propose(&self, design: &DesignId, change: Change, now_ms: u64) -> Result<SignedEvent, NodeError> {
        let state = self.governance_of(design)?;
        let prev = state.state.ok_or(NodeError::UnknownDesign(*design))?;
        self.append(design, Body::Propose { prev, change }, now_ms)
    }

    /// The design's state, after checking that `target` is one of its
    /// revisions or proposals.
    fn target_of(&self, design: &DesignId, target: EventId) -> Result<GovernanceState, NodeError> {
        let state = self.governance_of(design)?;
        let is_target = self
            .events
            .get(&target)?
            .is_some_and(|e| e.design() == *design && matches!(e.body(), Body::Revision(_) | Body::Propose { .. }));
        if !is_target {
            return Err(GovernError::NotATarget { design: *design, target }.into());
        }
        Ok(state)
    }
}
