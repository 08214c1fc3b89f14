//! Reading what the store holds: `list`, `show`, `log`.

use communs_protocol::governance::GovernanceState;
use communs_protocol::limits::MAX_TREE_BYTES;
use communs_protocol::{Body, DesignId, EventId, Genesis, Manifest, Revision, SignedEvent, Tree};

use crate::{Node, NodeError};

/// One line of `communs list`.
#[derive(Debug, Clone)]
pub struct DesignSummary {
    pub design: DesignId,
    /// The canonical revision's manifest name, else the genesis name.
    pub name: String,
    pub canonical: Option<EventId>,
    pub revisions: usize,
    /// Events of every kind in its log.
    pub events: u64,
    pub fork_of: Option<(DesignId, EventId)>,
}

/// A design at one revision, as `communs show` prints it.
#[derive(Debug, Clone)]
pub struct RevisionView {
    pub design: DesignId,
    pub genesis: Genesis,
    pub revision: EventId,
    pub body: Revision,
    pub author: communs_protocol::AuthorId,
    pub time: u64,
    pub tree: Tree,
    pub resolution: GovernanceState,
}

impl RevisionView {
    pub fn manifest(&self) -> &Manifest {
        &self.body.manifest
    }
}

/// A design's whole log, for what must read all of it (bundles, fsck).
pub(crate) struct DesignLog {
    pub events: Vec<SignedEvent>,
}

impl Node {
    pub(crate) fn design_log(&self, design: &DesignId) -> Result<DesignLog, NodeError> {
        let events = self.events.design_log(design)?;
        if !events.iter().any(|e| matches!(e.body(), Body::Genesis(_))) {
            return Err(NodeError::UnknownDesign(*design));
        }
        Ok(DesignLog { events })
    }

    /// The design's governance state, as kept in the store (one row).
    pub(crate) fn governance_of(&self, design: &DesignId) -> Result<GovernanceState, NodeError> {
        self.events.governance(design)?.ok_or(NodeError::UnknownDesign(*design))
    }

    pub(crate) fn genesis_of(&self, design: &DesignId) -> Result<Genesis, NodeError> {
        match self.events.get(&design.genesis())?.map(|e| e.body().clone()) {
            Some(Body::Genesis(g)) => Ok(g),
            _ => Err(NodeError::UnknownDesign(*design)),
        }
    }

    /// A revision of `design` by id, with its body.
    pub(crate) fn revision_of(&self, design: &DesignId, id: &EventId) -> Result<(SignedEvent, Revision), NodeError> {
        let unknown = || NodeError::UnknownRevision { design: *design, revision: *id };
        let event = self.events.get(id)?.filter(|e| e.design() == *design).ok_or_else(unknown)?;
        match event.body() {
            Body::Revision(r) => {
                let r = r.clone();
                Ok((event, r))
            }
            _ => Err(unknown()),
        }
    }

    /// A page of designs in name order (case aside, then id), after
    /// `after` when given: one stored row per design shown, whatever the
    /// store holds.
    pub fn list(&self, after: Option<&DesignId>, limit: usize) -> Result<Vec<DesignSummary>, NodeError> {
        let rows = match (self.events.design_page(after, limit)?, after) {
            (Some(rows), _) => rows,
            (None, Some(after)) => return Err(NodeError::UnknownDesign(*after)),
            (None, None) => Vec::new(),
        };
        Ok(rows
            .into_iter()
            .map(|row| DesignSummary {
                design: row.design,
                name: row.name,
                canonical: row.canonical,
                revisions: row.revisions as usize,
                events: row.events,
                fork_of: row.fork_of,
            })
            .collect())
    }

    /// The design at `revision`, or at its canonical head.
    pub async fn show(&self, design: &DesignId, revision: Option<EventId>) -> Result<RevisionView, NodeError> {
        let resolution = self.governance_of(design)?;
        let id = match revision {
            Some(id) => id,
            None => self.default_revision(design, resolution.canonical)?.ok_or(NodeError::NoCanonical(*design))?,
        };
        let (event, body) = self.revision_of(design, &id)?;
        let tree = self.read_tree(&body).await?;
        Ok(RevisionView {
            design: *design,
            genesis: self.genesis_of(design)?,
            revision: id,
            author: event.author(),
            time: event.event().time,
            body,
            tree,
            resolution,
        })
    }

    /// Whether the store holds a design's genesis.
    pub fn has_design(&self, design: &DesignId) -> Result<bool, NodeError> {
        Ok(self.events.contains(&design.genesis())?)
    }

    /// A revision (`None`: the one this node checks out) and the hash of
    /// its tree, from the log alone: the tree itself may not be here yet.
    pub fn revision_tree(
        &self,
        design: &DesignId,
        revision: Option<EventId>,
    ) -> Result<(EventId, communs_protocol::BlobHash), NodeError> {
        let id = match revision {
            Some(id) => id,
            None => {
                let canonical = self.governance_of(design)?.canonical;
                self.default_revision(design, canonical)?.ok_or(NodeError::NoCanonical(*design))?
            }
        };
        let (_, body) = self.revision_of(design, &id)?;
        Ok((id, body.tree))
    }

    /// A page of a design's events, newest first (ties by id): at most
    /// `limit`, older than `before` when given.
    pub fn log(&self, design: &DesignId, before: Option<EventId>, limit: usize) -> Result<Vec<SignedEvent>, NodeError> {
        if !self.has_design(design)? {
            return Err(NodeError::UnknownDesign(*design));
        }
        let before = match before {
            Some(id) => Some(
                self.events
                    .get(&id)?
                    .filter(|e| e.design() == *design)
                    .ok_or(NodeError::UnknownEvent { design: *design, event: id })?,
            ),
            None => None,
        };
        Ok(self.events.log_page(design, before.as_ref(), limit)?)
    }

    pub(crate) async fn read_tree(&self, revision: &Revision) -> Result<Tree, NodeError> {
        self.read_tree_blob(&revision.tree).await
    }

    pub(crate) async fn read_tree_blob(&self, tree: &communs_protocol::BlobHash) -> Result<Tree, NodeError> {
        let bytes = self.blobs.read(tree, MAX_TREE_BYTES as u64).await?;
        Ok(Tree::decode(&bytes)?)
    }
}
