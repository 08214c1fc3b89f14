//! Fetching a revision's files from the peers that have them.

use communs_protocol::limits::MAX_TREE_BYTES;
use communs_protocol::{BlobHash, DesignId, EventId, Tree};
use futures::StreamExt;
use libp2p::PeerId;
use serde::Serialize;
use std::sync::Arc;

use super::{NetError, Network, blobs};
use crate::NodeError;

/// Blobs fetched at once, spread over the peers.
const FETCH_CONCURRENCY: usize = 8;

/// Tries of one blob from one peer before the next peer.
const ATTEMPTS: u32 = 4;

/// See [`Network::claim_design`].
pub struct DesignClaim {
    network: Network,
    design: DesignId,
    claimed: bool,
}

impl Drop for DesignClaim {
    /// Releases the design, and runs the background fetch asked for while
    /// the claim held (a newer head may have arrived).
    fn drop(&mut self) {
        if !self.claimed {
            return;
        }
        let asked_again = self.network.shared.fetching.lock().ok().and_then(|mut f| f.remove(&self.design));
        if asked_again == Some(true) {
            self.network.spawn_fetch(self.design);
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FetchReport {
    pub design: String,
    pub revision: String,
    /// Blobs of the revision (tree and files, without duplicates).
    pub blobs: usize,
    /// Blobs that were missing and are now stored.
    pub fetched: usize,
    /// Bytes of file content received.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("no peer is connected to fetch the files from")]
    NoPeers,
    #[error("no connected peer could send blob {hash} ({tried} tried); last error: {last}")]
    Unavailable { hash: BlobHash, tried: usize, last: String },
}

impl Network {
    /// Fetches, in the background, the files of the revision this node
    /// would check out of `design`: a node keeps the files of what it
    /// keeps, so that it can check them out offline and seed them.
    ///
    /// One fetch per design runs at a time; a request while one runs (a
    /// newer head arrived) makes it run once more when it ends, so the
    /// files of the latest head are fetched.
    pub(super) fn spawn_fetch(&self, design: DesignId) {
        {
            let Ok(mut fetching) = self.shared.fetching.lock() else { return };
            if let Some(again) = fetching.get_mut(&design) {
                *again = true;
                return;
            }
            fetching.insert(design, false);
        }
        let network = self.clone();
        tokio::spawn(async move {
            loop {
                match network.fetch_files(design, None).await {
                    Ok(report) if report.fetched > 0 => {
                        tracing::info!("fetched {} blobs ({} bytes) of {design}", report.fetched, report.bytes);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("files of {design} not fetched: {e}"),
                }
                if !network.finish_fetch(design) {
                    return;
                }
            }
        });
    }

    /// Ends a fetch of `design`: `true` if another was asked for
    /// meanwhile (the caller runs it), else the design is released.
    fn finish_fetch(&self, design: DesignId) -> bool {
        let Ok(mut fetching) = self.shared.fetching.lock() else { return false };
        match fetching.get_mut(&design) {
            Some(again) if *again => {
                *again = false;
                true
            }
            _ => {
                fetching.remove(&design);
                false
            }
        }
    }

    /// Keeps a background fetch of `design` from starting while the
    /// returned guard lives (a `get` fetches the files itself, in the order
    /// it writes them; two fetchers would only compete for the same link).
    pub fn claim_design(&self, design: DesignId) -> DesignClaim {
        let claimed = match self.shared.fetching.lock() {
            Ok(mut fetching) if !fetching.contains_key(&design) => {
                fetching.insert(design, false);
                true
            }
            _ => false,
        };
        DesignClaim { network: self.clone(), design, claimed }
    }

    /// The lock that makes one fetch of `hash` run at a time: a follower's
    /// background fetch and a `get` of the same design each take the blobs
    /// no one is fetching, and wait for the others.
    fn blob_lock(&self, hash: BlobHash) -> Arc<tokio::sync::Mutex<()>> {
        match self.shared.in_flight.lock() {
            Ok(mut locks) => {
                locks.retain(|_, lock| Arc::strong_count(lock) > 1);
                locks.entry(hash).or_default().clone()
            }
            Err(_) => Arc::default(),
        }
    }

    /// Checks a revision out into `dir` (as [`crate::Node::get`]), fetching
    /// what the store lacks from connected peers while the files already
    /// here are written: the tree first, then each missing file just
    /// before it is written, several at once.
    pub async fn get(
        &self,
        design: DesignId,
        revision: Option<EventId>,
        dir: &std::path::Path,
        force: bool,
        progress: &dyn crate::progress::Progress,
    ) -> Result<crate::checkout::CheckedOut, FilesError> {
        let node = &self.shared.node;
        let _no_background_fetch = self.claim_design(design);
        let (revision, _, peers, _) = self.revision_with_tree(design, revision).await?;
        let peers = &peers;
        let checked_out = node
            .get_with(&design, Some(revision), dir, force, progress, |i, hash| async move {
                if node.blobs.size(&hash).await?.is_some() {
                    return Ok(());
                }
                self.fetch_blob(hash, peers, i)
                    .await
                    .map(|_| ())
                    .map_err(|e| NodeError::Unavailable { path: hash.to_string(), reason: e.to_string() })
            })
            .await?;
        node.blobs.sync().await.map_err(NodeError::from)?;
        Ok(checked_out)
    }

    /// A revision (`None`: the one this node checks out) and its tree
    /// hash, with the tree fetched if the store lacked it (its size then),
    /// and the peers to fetch from.
    async fn revision_with_tree(
        &self,
        design: DesignId,
        revision: Option<EventId>,
    ) -> Result<(EventId, BlobHash, Vec<PeerId>, Option<u64>), FilesError> {
        let node = &self.shared.node;
        let (revision, tree_hash) = node.revision_tree(&design, revision)?;
        let peers = self.connected_peers().await?;
        let fetched = match node.blobs.has(&tree_hash).await.map_err(NodeError::from)? {
            true => None,
            false => Some(self.fetch_blob(tree_hash, &peers, 0).await?),
        };
        Ok((revision, tree_hash, peers, fetched))
    }

    /// Makes sure the store holds the tree and every file of a revision
    /// (`None`: the one this node checks out), fetching what is missing
    /// from connected peers, several blobs at once, each verified as it
    /// arrives.
    pub async fn fetch_files(&self, design: DesignId, revision: Option<EventId>) -> Result<FetchReport, FilesError> {
        let node = &self.shared.node;
        let (revision, tree_hash, peers, tree_bytes) = self.revision_with_tree(design, revision).await?;
        let mut report =
            FetchReport { design: design.to_string(), revision: revision.to_string(), ..Default::default() };
        if let Some(bytes) = tree_bytes {
            report.bytes += bytes;
            report.fetched += 1;
        }
        let bytes = node.blobs.read(&tree_hash, MAX_TREE_BYTES as u64).await.map_err(NodeError::from)?;
        let tree = Tree::decode(&bytes).map_err(NodeError::from)?;
        let mut wanted: Vec<BlobHash> = tree.entries().iter().map(|e| e.blob).collect();
        wanted.sort();
        wanted.dedup();
        report.blobs = wanted.len() + 1;
        let mut missing = Vec::new();
        for hash in wanted {
            if node.blobs.size(&hash).await.map_err(NodeError::from)?.is_none() {
                missing.push(hash);
            }
        }
        if missing.is_empty() {
            if report.fetched > 0 {
                node.blobs.sync().await.map_err(NodeError::from)?;
            }
            return Ok(report);
        }
        let peers = &peers;
        let results: Vec<Result<u64, FilesError>> = futures::stream::iter(missing.into_iter().enumerate())
            .map(|(i, hash)| self.fetch_blob(hash, peers, i))
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        for result in results {
            report.bytes += result?;
            report.fetched += 1;
        }
        node.blobs.sync().await.map_err(NodeError::from)?;
        Ok(report)
    }

    /// Fetches one blob, trying the peers in turn from `start` (so that
    /// concurrent fetches spread over them), each up to [`ATTEMPTS`] times:
    /// libp2p-stream hands a node's inbound streams over one at a time and
    /// drops one that arrives while the previous is still being taken, so
    /// under load a stream can fail before carrying anything.
    async fn fetch_blob(&self, hash: BlobHash, peers: &[PeerId], start: usize) -> Result<u64, FilesError> {
        if peers.is_empty() {
            return Err(FilesError::NoPeers);
        }
        let lock = self.blob_lock(hash);
        let _one_fetch_at_a_time = lock.lock().await;
        if self.shared.node.blobs.size(&hash).await.map_err(NodeError::from)?.is_some() {
            return Ok(0);
        }
        let store = self.shared.node.blobs.store();
        let mut last = String::new();
        for k in 0..peers.len() {
            let peer = peers[(start + k) % peers.len()];
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
                let mut control = self.shared.control.clone();
                match blobs::fetch(&mut control, store, peer, hash).await {
                    Ok(bytes) => {
                        if self.shared.node.blobs.size(&hash).await.map_err(NodeError::from)?.is_some() {
                            return Ok(bytes);
                        }
                        last = format!("{peer} sent only part of it");
                    }
                    Err(e) => {
                        tracing::debug!("attempt {}: {e}", attempt + 1);
                        last = e.to_string();
                    }
                }
            }
        }
        Err(FilesError::Unavailable { hash, tried: peers.len(), last })
    }
}
