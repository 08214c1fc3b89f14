//! Errors of the node's operations, each saying what to do about it.

use std::path::PathBuf;

use communs_protocol::manifest::ManifestError;
use communs_protocol::{DesignId, EventError, EventId, TreeError};

use crate::folder::FolderError;
use crate::marker::MarkerError;
use crate::store::{BlobError, EventStoreError};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Marker(#[from] MarkerError),
    #[error(transparent)]
    Events(#[from] EventStoreError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
    #[error("{path}: {source}")]
    File { path: String, source: BlobError },
    #[error("the files do not form a valid design: {0}")]
    Tree(#[from] TreeError),
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    #[error("{file}: {source}")]
    Manifest { file: PathBuf, source: ManifestError },
    #[error(transparent)]
    ManifestRule(#[from] ManifestError),
    #[error(
        "{folder} has no okh.toml or okh.yml, and no --license was given: a design needs a license to be a \
         commons. Pass --license SPDX-EXPRESSION (for example --license CERN-OHL-S-2.0), or add an okh.toml"
    )]
    NoLicense { folder: PathBuf },
    #[error("{path}: {reason}")]
    Unavailable { path: String, reason: String },
    #[error(
        "the design is licensed {current}, which is share-alike ({}): its revisions keep that license, so \
         --license {requested} is refused",
        share_alike.join(", ")
    )]
    ShareAlikeLicense { current: String, share_alike: Vec<String>, requested: String },
    #[error("design {0} is not in this store (see `communs list`)")]
    UnknownDesign(DesignId),
    #[error(
        "{folder} holds design {design} (its .communs marker says so), which this store does not have: \
         import the design's bundle first, or delete {folder}/.communs to publish it as a new design"
    )]
    MarkedDesignMissing { folder: PathBuf, design: DesignId },
    #[error("design {design} has no revision {revision} (see `communs log {design}`)")]
    UnknownRevision { design: DesignId, revision: EventId },
    #[error("design {design} has no event {event} (see `communs log {design}`)")]
    UnknownEvent { design: DesignId, event: EventId },
    #[error("design {0} has no accepted revision yet; name one with DESIGN@REVISION (see `communs log`)")]
    NoCanonical(DesignId),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Bundle(Box<crate::bundle::BundleError>),
    #[error(transparent)]
    Govern(#[from] crate::govern::GovernError),
    #[error(transparent)]
    Fork(#[from] crate::fork::ForkError),
    #[error(transparent)]
    Social(#[from] crate::social::SocialError),

    #[error(transparent)]
    Checkout(#[from] crate::checkout::CheckoutError),
    #[error(transparent)]
    Home(#[from] crate::home::HomeError),
    #[error(transparent)]
    NoSpace(#[from] crate::disk::NoSpace),
    #[error("file cache: {0}")]
    Cache(#[from] redb::Error),
}

impl From<crate::bundle::BundleError> for NodeError {
    fn from(e: crate::bundle::BundleError) -> Self {
        NodeError::Bundle(Box::new(e))
    }
}

impl NodeError {
    /// For `map_err`: an I/O error at `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
        move |source| NodeError::Io { path: path.to_owned(), source }
    }
}
