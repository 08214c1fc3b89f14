//! Reading what the store holds: `list`, `show`, `log`.

use communs_protocol::governance::{self, GovernanceState};
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

/// A design's log and its genesis, loaded once.
pub(crate) struct DesignLog {
    pub events: Vec<SignedEvent>,
}

impl DesignLog {
    pub fn genesis(&self) -> &Genesis {
        self.events
            .iter()
            .find_map(|e| match e.body() {
                Body::Genesis(g) => Some(g),
                _ => None,
            })
            .expect("a stored design log holds its genesis")
    }

    pub fn revision(&self, id: &EventId) -> Option<(&SignedEvent, &Revision)> {
        self.events.iter().find(|e| e.id() == *id).and_then(|e| match e.body() {
            Body::Revision(r) => Some((e, r)),
            _ => None,
        })
    }
}

impl Node {
    pub(crate) fn design_log(&self, design: &DesignId) -> Result<DesignLog, NodeError> {
        let events = self.events.design_log(design)?;
        if !events.iter().any(|e| matches!(e.body(), Body::Genesis(_))) {
            return Err(NodeError::UnknownDesign(*design));
        }
        Ok(DesignLog { events })
    }

    pub fn list(&self) -> Result<Vec<DesignSummary>, NodeError> {
        let mut out = Vec::new();
        for design in self.events.designs()? {
            let log = self.design_log(&design)?;
            let resolution = governance::resolve(&log.events);
            let genesis = log.genesis();
            let name = resolution
                .canonical
                .and_then(|c| log.revision(&c).map(|(_, r)| r.manifest.name.clone()))
                .unwrap_or_else(|| genesis.name.clone());
            out.push(DesignSummary {
                design,
                name,
                canonical: resolution.canonical,
                revisions: log.events.iter().filter(|e| matches!(e.body(), Body::Revision(_))).count(),
                fork_of: genesis.fork_of,
            });
        }
        out.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.design.cmp(&b.design)));
        Ok(out)
    }

    /// The design at `revision`, or at its canonical head.
    pub async fn show(&self, design: &DesignId, revision: Option<EventId>) -> Result<RevisionView, NodeError> {
        let log = self.design_log(design)?;
        let resolution = governance::resolve(&log.events);
        let id = match revision {
            Some(id) => id,
            None => self.default_revision(design, resolution.canonical)?.ok_or(NodeError::NoCanonical(*design))?,
        };
        let (event, body) = log.revision(&id).ok_or(NodeError::UnknownRevision { design: *design, revision: id })?;
        let tree = self.read_tree(body).await?;
        Ok(RevisionView {
            design: *design,
            genesis: log.genesis().clone(),
            revision: id,
            body: body.clone(),
            author: event.author(),
            time: event.event().time,
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
        let log = self.design_log(design)?;
        let id = match revision {
            Some(id) => id,
            None => {
                let canonical = governance::resolve(&log.events).canonical;
                self.default_revision(design, canonical)?.ok_or(NodeError::NoCanonical(*design))?
            }
        };
        let (_, body) = log.revision(&id).ok_or(NodeError::UnknownRevision { design: *design, revision: id })?;
        Ok((id, body.tree))
    }

    /// The events of a design, newest first.
    pub fn log(&self, design: &DesignId) -> Result<Vec<SignedEvent>, NodeError> {
        let mut events = self.design_log(design)?.events;
        events.sort_by(|a, b| b.clock().cmp(&a.clock()).then(a.id().cmp(&b.id())));
        Ok(events)
    }

    pub(crate) async fn read_tree(&self, revision: &Revision) -> Result<Tree, NodeError> {
        let bytes = self.blobs.read(&revision.tree, MAX_TREE_BYTES as u64).await?;
        Ok(Tree::decode(&bytes)?)
    }
}
