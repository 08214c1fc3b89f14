//! The bytes of files and attachments, for clients that show them (the
//! web UI draws pictures and renders READMEs; the API streams files).
//! Every byte is hashed as it is read: a damaged blob fails the read.

use communs_protocol::{BlobHash, DesignId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RevisionRef, Service, ServiceError};
use crate::NodeError;

/// A held design that remixes another.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForkRow {
    #[schema(value_type = String)]
    pub design: DesignId,
    pub name: String,
    /// The revision of the source it was forked from.
    pub fork_of: RevisionRef,
}

impl Service {
    /// A blob's bytes, if it is at most `max` bytes long: a README to
    /// render, a part to draw, never a file of any size into memory.
    pub async fn read_blob(&self, blob: &BlobHash, max: u64) -> Result<Vec<u8>, ServiceError> {
        let mut bytes = Vec::new();
        self.node.blobs.copy_verified(blob, max, &mut bytes).await.map_err(NodeError::from)?;
        Ok(bytes)
    }

    /// A blob's bytes as a stream of `size` bytes, read and verified by a
    /// task of its own. An error midway (a damaged blob) ends the stream
    /// short: a client reading a `Content-Length` of `size` sees it fail.
    pub fn blob_reader(&self, blob: BlobHash, size: u64) -> tokio::io::DuplexStream {
        let (reader, mut writer) = tokio::io::duplex(1 << 16);
        let node = self.node.clone();
        tokio::spawn(async move {
            if let Err(e) = node.blobs.copy_verified(&blob, size, &mut writer).await {
                tracing::warn!("reading blob {blob}: {e}");
            }
        });
        reader
    }

    /// The size of `blob` if it is a file attached to one of `design`'s
    /// comments or make reports, or to a profile of one of its authors,
    /// and is in the store.
    pub async fn attachment(&self, design: &DesignId, blob: &BlobHash) -> Result<Option<u64>, ServiceError> {
        let Some(size) = self.node.attachments_of(design)?.into_iter().find(|(b, _)| b == blob).map(|(_, s)| s) else {
            return Ok(None);
        };
        Ok(self.node.blobs.has(blob).await.map_err(NodeError::from)?.then_some(size))
    }

    /// The held designs forked from `design`, by name (an index kept with
    /// the store's views: no scan of every design).
    pub fn forks(&self, design: &DesignId) -> Result<Vec<ForkRow>, ServiceError> {
        let mut forks = Vec::new();
        for remix in self.node.events.remixes_of(design).map_err(NodeError::from)? {
            let Some(row) = self.node.events.design_row(&remix).map_err(NodeError::from)? else { continue };
            if let Some(source) = row.fork_of {
                forks.push(ForkRow { design: remix, name: row.name, fork_of: source.into() });
            }
        }
        forks.sort_by_cached_key(|f| (f.name.to_lowercase(), f.design));
        Ok(forks)
    }
}
