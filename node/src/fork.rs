//! `fork`: a remix, as a new design whose genesis names its source.
//!
//! Provenance is content-addressed (`fork_of` holds the source design and
//! revision ids), so the chain from a remix back to its source never rots.
//! A share-alike source license carries over; asking for another one is
//! refused with the reason.

use communs_protocol::license::share_alike_licenses;
use communs_protocol::manifest::License;
use communs_protocol::{DesignId, EventId, Revision};

use crate::publish::NewDesign;
use crate::{Node, NodeError};

#[derive(Debug, Clone)]
pub struct ForkRequest {
    pub source: DesignId,
    pub revision: Option<EventId>,
    pub name: Option<String>,
    /// A different license, allowed only if the source is not share-alike.
    pub license: Option<String>,
    pub now_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Forked {
    pub design: DesignId,
    pub revision: EventId,
    pub source: DesignId,
    pub source_revision: EventId,
    pub license: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    #[error(
        "the source design is licensed {source_license}, which is share-alike ({}): a remix must keep that \
         license, so --license {requested} is refused",
        share_alike.join(", ")
    )]
    ShareAlike { source_license: String, share_alike: Vec<String>, requested: String },
}

impl Node {
    pub fn fork(&self, request: ForkRequest) -> Result<Forked, NodeError> {
        let resolution = self.governance_of(&request.source)?;
        let source_revision = match request.revision {
            Some(r) => r,
            None => resolution.canonical.ok_or(NodeError::NoCanonical(request.source))?,
        };
        let (_, source) = self.revision_of(&request.source, &source_revision)?;
        let source_license = self.genesis_of(&request.source)?.license;
        let mut manifest = source.manifest.clone();
        let license = match request.license {
            Some(requested) if requested != source_license => {
                let share_alike = share_alike_licenses(&source_license);
                if !share_alike.is_empty() {
                    return Err(ForkError::ShareAlike { source_license, share_alike, requested }.into());
                }
                manifest.license = License::all(&requested);
                requested
            }
            _ => source_license,
        };
        if let Some(name) = &request.name {
            manifest.name = name.clone();
        }
        manifest.check()?;
        let new_design = NewDesign {
            co_maintainers: vec![],
            threshold: 1,
            license: license.clone(),
            fork_of: Some((request.source, source_revision)),
        };
        let first = Revision {
            tree: source.tree,
            manifest,
            base: vec![],
            message: format!("Remix of {}@{}", request.source, source_revision),
        };
        let [genesis, revision] = self.sign_new_design(new_design, first, request.now_ms)?;
        let forked = Forked {
            design: genesis.design(),
            revision: revision.id(),
            source: request.source,
            source_revision,
            license,
        };
        self.events.insert(&[genesis, revision])?;
        Ok(forked)
    }
}
