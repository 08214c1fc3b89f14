//! Fetching a revision's files from the peers that have them: the
//! awaits, the store and the streams, carrying out what `plan.rs`
//! decides (the grouping of the blobs, which peer to ask next for what,
//! when to give up).

mod plan;

use communs_protocol::limits::MAX_TREE_BYTES;
use communs_protocol::{BlobHash, DesignId, EventId, Tree};
use futures::future::FusedFuture;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::blobs::Length;
use super::{NetError, Network, blobs};
use crate::NodeError;
use crate::checkout::Arrival;
use crate::progress::{NoProgress, Progress};
pub(super) use plan::PeerOrder;
use plan::{BATCH_BLOBS, Fetch, Retries, Step, plan};

/// Fetches (a large blob, or a batch of small ones) run at once, spread
/// over the peers.
const FETCH_CONCURRENCY: usize = 8;

/// Requests to the store (a blob's status, a tree's bytes) in flight at
/// once when many designs are fetched together: the store answers those
/// waiting together in one read transaction.
const READS_AT_ONCE: usize = 32;

/// A tree read from the store, with its length in bytes.
type TreeRead = (Tree, usize);

/// Blobs and bytes a fetch received.
type Received = (usize, u64);

/// See [`Network::claim_design`].
pub struct DesignClaim {
    network: Network,
    design: DesignId,
    claimed: bool,
}

impl Drop for DesignClaim {
    /// Releases the design, and queues it for the seeder if it was asked
    /// for while the claim held (a newer head may have arrived).
    fn drop(&mut self) {
        if !self.claimed {
            return;
        }
        let asked_again = self.network.shared.fetching.lock().ok().and_then(|mut f| f.remove(&self.design));
        if asked_again == Some(true) {
            self.network.seed([self.design]);
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
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
    /// The failure of a step several designs fetched together shared (a
    /// fetch carrying blobs of several of them, the store's sync).
    #[error(transparent)]
    Shared(Arc<FilesError>),
}

impl Network {
    /// Keeps the seeder (`seed.rs`) from fetching `design` while the
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
    /// here are written: the tree first, then the missing files in the
    /// order they are written, several fetches at once, each file written
    /// as soon as its blob is here.
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
        let (revision, tree_hash, peers, _, _tree_held) = self.revision_with_tree(design, revision).await?;
        let missing = self.missing_blobs(&self.read_tree(tree_hash).await?).await?;
        // Held before they are stored, until written out.
        let _held = node.blobs.protect(missing.iter().map(|(hash, _)| *hash)).await;
        let plan = plan(missing);
        // Each fetch tells the files waiting for it how it ended.
        let mut arrived = HashMap::new();
        let mut fetches = Vec::with_capacity(plan.len());
        for fetch in plan {
            let (done, waiting) = futures::channel::oneshot::channel::<Result<(), String>>();
            let waiting = waiting.shared();
            for hash in fetch.blobs() {
                arrived.insert(hash, waiting.clone());
            }
            fetches.push((fetch, done));
        }
        let peers = &peers;
        let fetcher = futures::stream::iter(fetches.into_iter().enumerate())
            .map(|(i, (fetch, done))| async move {
                let result =
                    self.run_fetch(&fetch, peers, i, &BytesOnly(progress)).await.map(|_| ()).map_err(|e| e.to_string());
                let _ = done.send(result);
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect::<()>();
        let arrived = &arrived;
        let checkout = node.get_with(&design, Some(revision), dir, force, progress, |_, hash| async move {
            let Some(waiting) = arrived.get(&hash) else { return Ok(Arrival::Stored) };
            match waiting.clone().await {
                Ok(Ok(())) => Ok(Arrival::JustVerified),
                Ok(Err(reason)) => Err(NodeError::Unavailable { path: hash.to_string(), reason }),
                Err(_) => Err(NodeError::Unavailable { path: hash.to_string(), reason: "fetch abandoned".into() }),
            }
        });
        // The checkout waits on the fetches; if it stops first (an error),
        // the fetches still running are dropped with it.
        let (mut fetcher, mut checkout) = (std::pin::pin!(fetcher.fuse()), std::pin::pin!(checkout));
        let checked_out = loop {
            tokio::select! {
                done = &mut checkout => break done?,
                () = &mut fetcher, if !fetcher.is_terminated() => {}
            }
        };
        node.blobs.sync().await.map_err(NodeError::from)?;
        Ok(checked_out)
    }

    async fn read_tree(&self, tree_hash: BlobHash) -> Result<Tree, FilesError> {
        let bytes = self.shared.node.blobs.read(&tree_hash, MAX_TREE_BYTES as u64).await.map_err(NodeError::from)?;
        Ok(Tree::decode(&bytes).map_err(NodeError::from)?)
    }

    /// The blobs of a tree the store lacks (absent or partial), with their
    /// sizes, in the tree's order and without duplicates.
    async fn missing_blobs(&self, tree: &Tree) -> Result<Vec<(BlobHash, u64)>, FilesError> {
        let blobs = &self.shared.node.blobs;
        let mut seen = HashSet::new();
        let mut missing = Vec::new();
        for entry in tree.entries() {
            if seen.insert(entry.blob) && blobs.size(&entry.blob).await.map_err(NodeError::from)?.is_none() {
                missing.push((entry.blob, entry.size));
            }
        }
        Ok(missing)
    }

    /// A revision (`None`: the one this node checks out) and its tree
    /// hash, with the tree fetched if the store lacked it (its size then),
    /// the peers to fetch from, and the tree held against collection.
    async fn revision_with_tree(
        &self,
        design: DesignId,
        revision: Option<EventId>,
    ) -> Result<(EventId, BlobHash, PeerOrder, Option<u64>, crate::store::Guard), FilesError> {
        let node = &self.shared.node;
        // Reading the log and resolving it is store work: off the async
        // workers that drive the swarm and the API.
        let reader = node.clone();
        let (revision, tree_hash) = tokio::task::spawn_blocking(move || reader.revision_tree(&design, revision))
            .await
            .map_err(|_| NetError::Stopped)??;
        let held = node.blobs.protect([tree_hash]).await;
        let peers = self.peers_for(vec![design]).await?;
        let fetched = match node.blobs.has(&tree_hash).await.map_err(NodeError::from)? {
            true => None,
            false => Some(self.fetch_blob(tree_hash, None, &peers, 0, &NoProgress).await?),
        };
        Ok((revision, tree_hash, peers, fetched, held))
    }

    /// Makes sure the store holds the tree and every file of a revision of
    /// each design (`None`: the one this node checks out), fetching what is
    /// missing from connected peers, several fetches at once, each blob
    /// verified as it arrives; returns each design's outcome, in the order
    /// asked. The designs share the work, as the seeder and `sync` need:
    /// their trees travel together (a `GetMany` of up to [`BATCH_BLOBS`]
    /// trees), then every file any of them lacks, planned as one
    /// revision's files would be, and the store is made durable once. A
    /// design of one small file then costs a share of two streams rather
    /// than two streams and a sync of its own.
    ///
    /// `progress` counts the files' bytes (not the trees'): their total
    /// once the trees are read, then each chunk as it arrives.
    pub async fn fetch_revisions(
        &self,
        wanted: &[(DesignId, Option<EventId>)],
        progress: &dyn Progress,
    ) -> Vec<(DesignId, Result<FetchReport, FilesError>)> {
        match self.fetch_revisions_together(wanted, progress).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let e = Arc::new(e);
                wanted.iter().map(|(design, _)| (*design, Err(FilesError::Shared(e.clone())))).collect()
            }
        }
    }

    /// [`Network::fetch_revisions`]; an error here is every design's.
    async fn fetch_revisions_together(
        &self,
        wanted: &[(DesignId, Option<EventId>)],
        progress: &dyn Progress,
    ) -> Result<Vec<(DesignId, Result<FetchReport, FilesError>)>, FilesError> {
        let node = &self.shared.node;
        // Reading the logs is store work: off the async workers that drive
        // the swarm and the API.
        let (reader, asked) = (node.clone(), wanted.to_vec());
        let (resolved, attached) = tokio::task::spawn_blocking(move || {
            let trees =
                asked.iter().map(|(design, revision)| reader.revision_tree(design, *revision)).collect::<Vec<_>>();
            // Photos and attachments of comments, make reports and profiles
            // come with the files (one that no peer sends fails the design,
            // which is tried again later, like a missing file).
            let attached: Vec<Vec<(BlobHash, u64)>> =
                asked.iter().map(|(design, _)| reader.attachments_of(design).unwrap_or_default()).collect();
            (trees, attached)
        })
        .await
        .map_err(|_| NetError::Stopped)?;
        // Each design's outcome so far, and the trees of those still going.
        let mut outcomes = Vec::with_capacity(wanted.len());
        let mut going: Vec<(usize, BlobHash)> = Vec::new();
        for ((design, _), resolved) in wanted.iter().zip(resolved) {
            match resolved {
                Ok((revision, tree)) => {
                    going.push((outcomes.len(), tree));
                    let report = FetchReport {
                        design: design.to_string(),
                        revision: revision.to_string(),
                        ..Default::default()
                    };
                    outcomes.push((*design, Ok(report)));
                }
                Err(e) => outcomes.push((*design, Err(e.into()))),
            }
        }
        if going.is_empty() {
            return Ok(outcomes);
        }
        // Held from before they are stored: a design may be unfollowed
        // meanwhile, and a collection then must not take a blob mid-way.
        let _trees_held = node.blobs.protect(going.iter().map(|(_, tree)| *tree)).await;
        let peers = self.peers_for(going.iter().map(|(at, _)| wanted[*at].0).collect()).await?;
        let absent_trees: HashSet<BlobHash> = self.absent(going.iter().map(|(_, tree)| *tree)).await?;
        let mut listed = HashSet::new();
        let trees_in_order: Vec<BlobHash> = going
            .iter()
            .map(|(_, tree)| *tree)
            .filter(|tree| absent_trees.contains(tree) && listed.insert(*tree))
            .collect();
        let tree_fetches = trees_in_order.chunks(BATCH_BLOBS).map(|trees| Fetch::Trees(trees.to_vec())).collect();
        let failed_trees = self.run_fetches(tree_fetches, &peers, &NoProgress).await;

        // Every tree here is read (in parallel: each is a few requests to
        // the store), and what the designs lack is gathered, each blob
        // once.
        let (blobs, failed_trees) = (&node.blobs, &failed_trees);
        let read: Vec<(usize, BlobHash, Result<TreeRead, FilesError>)> = futures::stream::iter(going)
            .map(|(i, tree)| async move {
                if let Some(e) = failed_trees.get(&tree) {
                    return (i, tree, Err(FilesError::Shared(e.clone())));
                }
                let read = async {
                    let bytes = blobs.read(&tree, MAX_TREE_BYTES as u64).await.map_err(NodeError::from)?;
                    let decoded = Tree::decode(&bytes).map_err(NodeError::from)?;
                    Ok::<_, FilesError>((decoded, bytes.len()))
                };
                (i, tree, read.await)
            })
            .buffered(READS_AT_ONCE)
            .collect()
            .await;
        // Each design's distinct files, with their sizes.
        let mut needs: Vec<(usize, HashMap<BlobHash, u64>)> = Vec::new();
        let mut seen = HashSet::new();
        let mut in_order: Vec<(BlobHash, u64)> = Vec::new();
        for (i, tree_hash, tree) in read {
            let (tree, tree_bytes) = match tree {
                Ok(tree) => tree,
                Err(e) => {
                    outcomes[i].1 = Err(e);
                    continue;
                }
            };
            let mut own = HashMap::new();
            let files = tree.entries().iter().map(|e| (e.blob, e.size));
            for (blob, size) in files.chain(attached[i].iter().copied()) {
                own.entry(blob).or_insert(size);
                if seen.insert(blob) {
                    in_order.push((blob, size));
                }
            }
            if let (_, Ok(report)) = &mut outcomes[i] {
                report.blobs = own.len() + 1;
                if absent_trees.contains(&tree_hash) {
                    report.fetched += 1;
                    report.bytes += tree_bytes as u64;
                }
            }
            needs.push((i, own));
        }
        let absent = self.absent(in_order.iter().map(|(hash, _)| *hash)).await?;
        // Under a storage limit, each design's missing files are fetched
        // only if room is reserved for them first (spec/storage.md, "The
        // disk limit"); a design refused fetches nothing.
        let mut reserved = Vec::new();
        let mut admitted: HashSet<BlobHash> = HashSet::new();
        for (i, own) in &needs {
            let lacking: Vec<(&BlobHash, &u64)> = own.iter().filter(|(hash, _)| absent.contains(*hash)).collect();
            let bytes = lacking.iter().map(|(_, size)| **size).sum();
            match node.reserve_storage(outcomes[*i].0, bytes, lacking.len()).await {
                Ok(reservation) => {
                    reserved.extend(reservation);
                    admitted.extend(lacking.iter().map(|(hash, _)| **hash));
                }
                Err(e) => outcomes[*i].1 = Err(e.into()),
            }
        }
        let needs: Vec<(usize, HashMap<BlobHash, u64>)> =
            needs.into_iter().filter(|(i, _)| outcomes[*i].1.is_ok()).collect();
        let missing: Vec<(BlobHash, u64)> =
            in_order.into_iter().filter(|(hash, _)| absent.contains(hash) && admitted.contains(hash)).collect();
        let _files_held = node.blobs.protect(missing.iter().map(|(hash, _)| *hash)).await;
        let fetched_any = !missing.is_empty() || !absent_trees.is_empty();
        progress.start(missing.iter().map(|(_, size)| size).sum(), missing.len());
        let failed_files = self.run_fetches(plan(missing), &peers, progress).await;
        if fetched_any {
            node.blobs.sync().await.map_err(NodeError::from)?;
        }
        for (i, own) in needs {
            let lacking: Vec<(&BlobHash, &u64)> = own.iter().filter(|(hash, _)| absent.contains(hash)).collect();
            if let Some(e) = lacking.iter().find_map(|(hash, _)| failed_files.get(*hash)) {
                outcomes[i].1 = Err(FilesError::Shared(e.clone()));
            } else if let (_, Ok(report)) = &mut outcomes[i] {
                report.fetched += lacking.len();
                report.bytes += lacking.iter().map(|(_, size)| **size).sum::<u64>();
            }
        }
        drop(reserved);
        Ok(outcomes)
    }

    /// Those of `hashes` the store lacks (absent or partial), asked of the
    /// store several at once.
    async fn absent(&self, hashes: impl IntoIterator<Item = BlobHash>) -> Result<HashSet<BlobHash>, FilesError> {
        let blobs = &self.shared.node.blobs;
        let unique: HashSet<BlobHash> = hashes.into_iter().collect();
        let sizes: Vec<(BlobHash, Result<Option<u64>, crate::store::BlobError>)> = futures::stream::iter(unique)
            .map(|hash| async move { (hash, blobs.size(&hash).await) })
            .buffer_unordered(READS_AT_ONCE)
            .collect()
            .await;
        let mut absent = HashSet::new();
        for (hash, size) in sizes {
            if size.map_err(NodeError::from)?.is_none() {
                absent.insert(hash);
            }
        }
        Ok(absent)
    }

    /// Runs `plan`, [`FETCH_CONCURRENCY`] fetches at once, and returns the
    /// blobs of the fetches that failed, each with its fetch's error.
    async fn run_fetches(
        &self,
        plan: Vec<Fetch>,
        peers: &PeerOrder,
        progress: &dyn Progress,
    ) -> HashMap<BlobHash, Arc<FilesError>> {
        let results: Vec<(Vec<BlobHash>, Result<Received, FilesError>)> =
            futures::stream::iter(plan.into_iter().enumerate())
                .map(|(i, fetch)| async move { (fetch.blobs(), self.run_fetch(&fetch, peers, i, progress).await) })
                .buffer_unordered(FETCH_CONCURRENCY)
                .collect()
                .await;
        let mut failed = HashMap::new();
        for (blobs, result) in results {
            if let Err(e) = result {
                let e = Arc::new(e);
                failed.extend(blobs.into_iter().map(|hash| (hash, e.clone())));
            }
        }
        failed
    }

    /// Runs one fetch of [`plan`]. Returns how many blobs and bytes were
    /// received. `progress` is told each chunk as it arrives, and once the
    /// fetch succeeds, whatever of its files' bytes it was not told (a blob
    /// another fetch brought meanwhile), so that a finished fetch has
    /// counted its files' sizes exactly once. A file counts an item.
    async fn run_fetch(
        &self,
        fetch: &Fetch,
        peers: &PeerOrder,
        start: usize,
        progress: &dyn Progress,
    ) -> Result<(usize, u64), FilesError> {
        let counted = Counted { inner: progress, bytes: AtomicU64::new(0) };
        let (received, expected, items) = match fetch {
            Fetch::Large(hash, size) => {
                let bytes = self.fetch_blob(*hash, Some(*size), peers, start, &counted).await?;
                ((usize::from(bytes > 0), bytes), *size, 1)
            }
            Fetch::Small(blobs) => {
                let expected = blobs.iter().map(|(_, size)| size).sum();
                let blobs: Vec<_> = blobs.iter().map(|(hash, size)| (*hash, Length::Exactly(*size))).collect();
                (self.fetch_small(&blobs, peers, start, &counted).await?, expected, blobs.len())
            }
            Fetch::Trees(trees) => {
                let trees: Vec<_> = trees.iter().map(|hash| (*hash, Length::AtMost(MAX_TREE_BYTES as u64))).collect();
                return self.fetch_small(&trees, peers, start, &NoProgress).await;
            }
        };
        progress.advance(expected.saturating_sub(counted.bytes.load(Ordering::Relaxed)));
        progress.advance_items(items);
        Ok(received)
    }

    /// Fetches small blobs on one stream, asking the peers as [`Retries`]
    /// says for the blobs still missing. Returns how many blobs and bytes
    /// were received.
    async fn fetch_small(
        &self,
        blobs: &[(BlobHash, Length)],
        peers: &PeerOrder,
        start: usize,
        progress: &dyn Progress,
    ) -> Result<(usize, u64), FilesError> {
        let store = &self.shared.node.blobs;
        // Locks taken in hash order, as by every fetch of several blobs,
        // so two fetches never wait on each other.
        let mut sorted: Vec<(BlobHash, Length)> = blobs.to_vec();
        sorted.sort();
        sorted.dedup_by_key(|(hash, _)| *hash);
        let locks: Vec<_> = sorted.iter().map(|(hash, _)| self.blob_lock(*hash)).collect();
        let mut held = Vec::with_capacity(locks.len());
        for lock in &locks {
            held.push(lock.lock().await);
        }
        // An empty file needs no peer.
        if sorted.iter().any(|(_, length)| *length == Length::Exactly(0)) {
            store.add_bytes(Vec::new()).await.map_err(NodeError::from)?;
        }
        let lengths: HashMap<BlobHash, Length> = sorted.iter().copied().collect();
        let wanted = self.absent(lengths.keys().copied()).await?;
        let in_order = sorted.iter().map(|(hash, _)| *hash).filter(|hash| wanted.contains(hash)).collect();
        let mut retries = Retries::new(peers, start, in_order);
        let mut received = 0;
        loop {
            let (peer, pause, asked) = match retries.next() {
                Step::Ask { peer, pause, blobs } => (peer, pause, blobs),
                Step::Done => return Ok((wanted.len(), received)),
                Step::GiveUp(e) => return Err(e),
            };
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let asked: Vec<(BlobHash, Length)> =
                asked.into_iter().filter_map(|hash| lengths.get(&hash).map(|length| (hash, *length))).collect();
            let mut control = self.shared.control.clone();
            progress.serving(&peer.to_string());
            let failure =
                match blobs::fetch_many(&mut control, &self.shared.bandwidth, store, peer, &asked, progress).await {
                    Ok(bytes) => {
                        received += bytes;
                        self.shared.node.metrics.file_received_bytes.inc_by(bytes);
                        None
                    }
                    Err(e) => {
                        tracing::debug!("{e}");
                        Some(e.to_string())
                    }
                };
            let still_missing = self.absent(asked.iter().map(|(hash, _)| *hash)).await?;
            retries.answered(&still_missing, failure);
        }
    }

    /// Fetches one blob, asking the peers as [`Retries`] says (each
    /// several times: libp2p-stream hands a node's inbound streams over
    /// one at a time and drops one that arrives while the previous is
    /// still being taken, so under load a stream can fail before carrying
    /// anything).
    async fn fetch_blob(
        &self,
        hash: BlobHash,
        size: Option<u64>,
        peers: &PeerOrder,
        start: usize,
        progress: &dyn Progress,
    ) -> Result<u64, FilesError> {
        // Before waiting on the lock: with no peer, nothing to wait for.
        if peers.peers.is_empty() {
            return Err(FilesError::NoPeers);
        }
        let lock = self.blob_lock(hash);
        let _one_fetch_at_a_time = lock.lock().await;
        if self.shared.node.blobs.size(&hash).await.map_err(NodeError::from)?.is_some() {
            return Ok(0);
        }
        let store = self.shared.node.blobs.store().await.map_err(NodeError::from)?;
        let mut retries = Retries::new(peers, start, vec![hash]);
        let mut received = 0;
        loop {
            let (peer, pause) = match retries.next() {
                Step::Ask { peer, pause, .. } => (peer, pause),
                Step::Done => return Ok(received),
                Step::GiveUp(e) => return Err(e),
            };
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let mut control = self.shared.control.clone();
            progress.serving(&peer.to_string());
            match blobs::fetch(&mut control, &self.shared.bandwidth, store, peer, hash, size, progress).await {
                Ok(bytes) => {
                    received = bytes;
                    self.shared.node.metrics.file_received_bytes.inc_by(bytes);
                    if self.shared.node.blobs.size(&hash).await.map_err(NodeError::from)?.is_some() {
                        retries.answered(&HashSet::new(), None);
                    } else {
                        retries.answered(&HashSet::from([hash]), Some(format!("{peer} sent only part of it")));
                    }
                }
                Err(e) => {
                    tracing::debug!("{e}");
                    retries.answered(&HashSet::from([hash]), Some(e.to_string()));
                }
            }
        }
    }
}

/// One fetch's view of the work's progress: what it passes on, counted.
struct Counted<'a> {
    inner: &'a dyn Progress,
    bytes: AtomicU64,
}

impl Progress for Counted<'_> {
    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner.advance(bytes);
    }
    fn serving(&self, peer: &str) {
        self.inner.serving(peer);
    }
}

/// A `get`'s fetches: their bytes count as they arrive, their files as the
/// checkout writes them.
struct BytesOnly<'a>(&'a dyn Progress);

impl Progress for BytesOnly<'_> {
    fn advance(&self, bytes: u64) {
        self.0.advance(bytes);
    }
    fn serving(&self, peer: &str) {
        self.0.serving(peer);
    }
}
