//! Bundles: one file with a design's events and blobs, for sneakernet.
//!
//! Between fablabs with no network, a USB stick carries a bundle like a git
//! bundle. The format is in `spec/bundle.md`. Import reads the whole file
//! once to verify every signature, every hash and every parent before it
//! stores anything; then reads it again to store, re-checking each blob's
//! hash as the store computes it, and inserts the events last, in one
//! transaction. Importing the same bundle twice changes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use communs_protocol::limits::{MAX_BLOB_BYTES, MAX_EVENT_BYTES, MAX_TREE_BYTES};
use communs_protocol::{BlobHash, Body, DesignId, EventId, Hash, SignedEvent, Tree};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};

use crate::progress::Progress;
use crate::{Node, NodeError};

/// First bytes of every bundle: name and format version.
pub const MAGIC: &[u8] = b"communs-bundle/1\n";

mod kind {
    pub const END: u8 = 0;
    pub const EVENT: u8 = 1;
    pub const BLOB: u8 = 2;
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: not a communs bundle (or a newer format version)")]
    NotABundle { path: PathBuf },
    #[error("{path}: the bundle is truncated or damaged ({detail})")]
    Damaged { path: PathBuf, detail: String },
    #[error("{path}: event {index} is invalid: {source}")]
    BadEvent { path: PathBuf, index: usize, source: communs_protocol::EventError },
    #[error("{path}: the bundle is damaged: blob {hash} does not match its hash")]
    BadBlob { path: PathBuf, hash: BlobHash },
    #[error("{path}: event {event} names parent {parent}, which neither the bundle nor this store holds")]
    MissingParent { path: PathBuf, event: EventId, parent: EventId },
    #[error("{path}: event {event} is invalid against its parents: {source}")]
    InvalidEvent { path: PathBuf, event: EventId, source: communs_protocol::EventError },
    #[error("{path}: revision {revision} needs blob {blob}, which neither the bundle nor this store holds")]
    MissingBlob { path: PathBuf, revision: EventId, blob: BlobHash },
    #[error("{path}: the tree of revision {revision} is invalid: {source}")]
    BadTree { path: PathBuf, revision: EventId, source: communs_protocol::TreeError },
}

#[derive(Debug, Clone, Default)]
pub struct BundleSummary {
    pub designs: Vec<DesignId>,
    pub events: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// On import: what this store did not have yet.
    pub new_events: usize,
    pub new_blobs: usize,
}

impl Node {
    /// Writes `design`'s events and every blob its revisions need to `file`.
    pub async fn bundle_export(
        &self,
        design: &DesignId,
        file: &Path,
        progress: &dyn Progress,
    ) -> Result<BundleSummary, NodeError> {
        let log = self.design_log(design)?;
        let mut blobs: Vec<(BlobHash, u64)> = Vec::new();
        let mut seen = HashSet::new();
        for event in &log.events {
            let Body::Revision(revision) = event.body() else { continue };
            let tree_size = self.blobs.size(&revision.tree).await?.unwrap_or_default();
            if seen.insert(revision.tree) {
                blobs.push((revision.tree, tree_size));
            }
            for entry in self.read_tree(revision).await?.entries() {
                if seen.insert(entry.blob) {
                    blobs.push((entry.blob, entry.size));
                }
            }
        }
        let total: u64 = blobs.iter().map(|(_, s)| s).sum();
        progress.start(total, blobs.len());

        let tmp = file.with_extension("communs-tmp");
        let handle = tokio::fs::File::create(&tmp).await.map_err(NodeError::io(&tmp))?;
        let mut out = HashingWriter { inner: BufWriter::with_capacity(1 << 20, handle), hasher: blake3::Hasher::new() };
        out.write(MAGIC).await.map_err(NodeError::io(&tmp))?;
        for event in &log.events {
            out.record(kind::EVENT, event.bytes().len() as u64).await.map_err(NodeError::io(&tmp))?;
            out.write(event.bytes()).await.map_err(NodeError::io(&tmp))?;
        }
        for (hash, size) in &blobs {
            out.record(kind::BLOB, 32 + size).await.map_err(NodeError::io(&tmp))?;
            out.write(hash.as_bytes()).await.map_err(NodeError::io(&tmp))?;
            let mut sink = HashingSink { out: &mut out };
            self.blobs.copy_verified(hash, *size, &mut sink).await?;
            progress.advance(*size);
        }
        let digest = *out.hasher.finalize().as_bytes();
        out.inner.write_all(&[kind::END]).await.map_err(NodeError::io(&tmp))?;
        out.inner.write_all(&32u64.to_be_bytes()).await.map_err(NodeError::io(&tmp))?;
        out.inner.write_all(&digest).await.map_err(NodeError::io(&tmp))?;
        out.inner.flush().await.map_err(NodeError::io(&tmp))?;
        out.inner.get_ref().sync_all().await.map_err(NodeError::io(&tmp))?;
        tokio::fs::rename(&tmp, file).await.map_err(NodeError::io(file))?;
        progress.finish();
        Ok(BundleSummary {
            designs: vec![*design],
            events: log.events.len(),
            blobs: blobs.len(),
            bytes: total,
            ..BundleSummary::default()
        })
    }

    /// Verifies a bundle completely, then stores what is new.
    pub async fn bundle_import(&self, file: &Path, progress: &dyn Progress) -> Result<BundleSummary, NodeError> {
        let contents = self.read_bundle(file, None).await?;
        // Every event: signed (checked while reading), parents known, clock right.
        let by_id: HashMap<EventId, &SignedEvent> = contents.events.iter().map(|e| (e.id(), e)).collect();
        let mut stored_parents = HashMap::new();
        for parent in contents.events.iter().flat_map(|e| e.parents()) {
            if !by_id.contains_key(parent)
                && !stored_parents.contains_key(parent)
                && let Some(p) = self.events.get(parent)?
            {
                stored_parents.insert(*parent, p);
            }
        }
        for event in &contents.events {
            let mut parents = Vec::new();
            for parent in event.parents() {
                match by_id.get(parent).copied().or_else(|| stored_parents.get(parent)) {
                    Some(p) => parents.push(p),
                    None => {
                        let path = file.to_owned();
                        return Err(BundleError::MissingParent { path, event: event.id(), parent: *parent }.into());
                    }
                }
            }
            event.check_parents(&parents).map_err(|source| BundleError::InvalidEvent {
                path: file.to_owned(),
                event: event.id(),
                source,
            })?;
        }
        // Every revision: its tree and files in the bundle or the store.
        let available = |hash: &BlobHash| contents.blobs.contains_key(hash);
        for event in &contents.events {
            let Body::Revision(revision) = event.body() else { continue };
            let tree = match contents.trees.get(&revision.tree) {
                Some(tree) => tree.clone(),
                None if self.blobs.has(&revision.tree).await? => self.read_tree(revision).await?,
                None => {
                    return Err(BundleError::MissingBlob {
                        path: file.to_owned(),
                        revision: event.id(),
                        blob: revision.tree,
                    }
                    .into());
                }
            };
            for entry in tree.entries() {
                if !available(&entry.blob) && !self.blobs.has(&entry.blob).await? {
                    return Err(BundleError::MissingBlob {
                        path: file.to_owned(),
                        revision: event.id(),
                        blob: entry.blob,
                    }
                    .into());
                }
            }
        }
        // Verified: now store, blobs first.
        let missing: BTreeSet<BlobHash> = {
            let mut missing = BTreeSet::new();
            for hash in contents.blobs.keys() {
                if !self.blobs.has(hash).await? {
                    missing.insert(*hash);
                }
            }
            missing
        };
        // Held from before they are stored until the events naming them
        // are committed, so that no collection takes them in between.
        let _held = self.blobs.protect(contents.blobs.keys().copied()).await;
        let total: u64 = missing.iter().map(|h| contents.blobs[h]).sum();
        progress.start(total, missing.len());
        let staged = self.home.store_dir().join("bundle-staging");
        tokio::fs::create_dir_all(&staged).await.map_err(NodeError::io(&staged))?;
        let result = self.read_bundle(file, Some((&missing, &staged, progress))).await;
        let _ = tokio::fs::remove_dir_all(&staged).await;
        result?;
        self.blobs.sync().await?;
        let new_events = self.events.insert(&contents.events)?;
        progress.finish();
        let designs: BTreeSet<DesignId> = contents.events.iter().map(SignedEvent::design).collect();
        Ok(BundleSummary {
            designs: designs.into_iter().collect(),
            events: contents.events.len(),
            blobs: contents.blobs.len(),
            bytes: contents.blobs.values().sum(),
            new_events,
            new_blobs: missing.len(),
        })
    }

    /// Reads a bundle from start to end, verifying everything. With
    /// `store`, also imports the listed blobs (each through a staging file,
    /// re-hashed by the blob store on the way in).
    async fn read_bundle(
        &self,
        file: &Path,
        store: Option<(&BTreeSet<BlobHash>, &Path, &dyn Progress)>,
    ) -> Result<BundleContents, NodeError> {
        let handle = tokio::fs::File::open(file).await.map_err(NodeError::io(file))?;
        let mut input =
            HashingReader { inner: BufReader::with_capacity(1 << 20, handle), hasher: blake3::Hasher::new() };
        let damaged = |detail: &str| BundleError::Damaged { path: file.to_owned(), detail: detail.to_owned() };
        let mut magic = vec![0u8; MAGIC.len()];
        if input.read_exact(&mut magic).await.is_err() || magic != MAGIC {
            return Err(BundleError::NotABundle { path: file.to_owned() }.into());
        }
        let mut contents = BundleContents::default();
        let mut tree_hashes = HashSet::new();
        loop {
            let expected_digest = *input.hasher.finalize().as_bytes();
            let mut head = [0u8; 9];
            input.inner.read_exact(&mut head).await.map_err(|_| damaged("it ends before its end record"))?;
            let kind = head[0];
            let len = u64::from_be_bytes(head[1..].try_into().expect("8 bytes"));
            if kind == kind::END {
                let mut digest = [0u8; 32];
                if len != 32 || input.inner.read_exact(&mut digest).await.is_err() || digest != expected_digest {
                    return Err(damaged("the end record does not match the contents").into());
                }
                if input.inner.read(&mut [0u8; 1]).await.map_err(NodeError::io(file))? != 0 {
                    return Err(damaged("bytes after the end record").into());
                }
                return Ok(contents);
            }
            input.hasher.update(&head);
            match kind {
                kind::EVENT => {
                    if len > MAX_EVENT_BYTES as u64 {
                        return Err(damaged("an event record is over the event size limit").into());
                    }
                    let mut bytes = vec![0u8; len as usize];
                    input.read_exact(&mut bytes).await.map_err(|_| damaged("an event record is cut short"))?;
                    let index = contents.events.len();
                    let event = SignedEvent::decode(&bytes).map_err(|source| BundleError::BadEvent {
                        path: file.to_owned(),
                        index,
                        source,
                    })?;
                    if let Body::Revision(r) = event.body() {
                        tree_hashes.insert(r.tree);
                    }
                    contents.events.push(event);
                }
                kind::BLOB => {
                    if !(32..=32 + MAX_BLOB_BYTES).contains(&len) {
                        return Err(damaged("a blob record has an impossible length").into());
                    }
                    let mut hash = [0u8; 32];
                    input.read_exact(&mut hash).await.map_err(|_| damaged("a blob record is cut short"))?;
                    let hash = BlobHash(Hash::from_bytes(hash));
                    let size = len - 32;
                    let keep_tree = tree_hashes.contains(&hash) && size <= MAX_TREE_BYTES as u64;
                    let staging = match store {
                        Some((wanted, dir, _)) if wanted.contains(&hash) => Some(dir.join(hash.to_string())),
                        _ => None,
                    };
                    let (actual, kept) = copy_blob(&mut input, size, keep_tree, staging.as_deref())
                        .await
                        .map_err(|_| damaged("a blob record is cut short"))?;
                    if actual != hash {
                        return Err(BundleError::BadBlob { path: file.to_owned(), hash }.into());
                    }
                    if let (Some(path), Some((_, _, progress))) = (&staging, store) {
                        let (stored, _) = self.blobs.add_file(path).await?;
                        let _ = tokio::fs::remove_file(path).await;
                        if stored != hash {
                            return Err(BundleError::BadBlob { path: file.to_owned(), hash }.into());
                        }
                        progress.advance(size);
                    }
                    if let Some(bytes) = kept {
                        let tree = Tree::decode(&bytes).map_err(|source| BundleError::BadTree {
                            path: file.to_owned(),
                            revision: contents.revision_of(&hash).unwrap_or(EventId::from_hash(hash.0)),
                            source,
                        })?;
                        contents.trees.insert(hash, tree);
                    }
                    contents.blobs.insert(hash, size);
                }
                _ => return Err(damaged("unknown record kind").into()),
            }
        }
    }
}

#[derive(Default)]
struct BundleContents {
    events: Vec<SignedEvent>,
    blobs: HashMap<BlobHash, u64>,
    trees: HashMap<BlobHash, Tree>,
}

impl BundleContents {
    fn revision_of(&self, tree: &BlobHash) -> Option<EventId> {
        self.events.iter().find(|e| matches!(e.body(), Body::Revision(r) if r.tree == *tree)).map(SignedEvent::id)
    }
}

/// Reads `size` bytes of a blob record, hashing them; keeps them in memory
/// if `keep`, writes them to `staging` if given.
async fn copy_blob(
    input: &mut HashingReader,
    size: u64,
    keep: bool,
    staging: Option<&Path>,
) -> std::io::Result<(BlobHash, Option<Vec<u8>>)> {
    let mut hasher = blake3::Hasher::new();
    let mut kept = keep.then(Vec::new);
    let mut file = match staging {
        Some(path) => Some(BufWriter::new(tokio::fs::File::create(path).await?)),
        None => None,
    };
    let mut buffer = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buffer.len() as u64) as usize;
        input.read_exact(&mut buffer[..n]).await?;
        hasher.update(&buffer[..n]);
        if let Some(kept) = &mut kept {
            kept.extend_from_slice(&buffer[..n]);
        }
        if let Some(file) = &mut file {
            file.write_all(&buffer[..n]).await?;
        }
        left -= n as u64;
    }
    if let Some(mut file) = file {
        file.flush().await?;
    }
    Ok((BlobHash(Hash::from_bytes(*hasher.finalize().as_bytes())), kept))
}

/// Writes while hashing everything written, for the end record.
struct HashingWriter {
    inner: BufWriter<tokio::fs::File>,
    hasher: blake3::Hasher,
}

impl HashingWriter {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.inner.write_all(bytes).await
    }

    async fn record(&mut self, kind: u8, len: u64) -> std::io::Result<()> {
        self.write(&[kind]).await?;
        self.write(&len.to_be_bytes()).await
    }
}

/// Adapts [`HashingWriter`] to `AsyncWrite` for streaming a blob into it.
struct HashingSink<'a> {
    out: &'a mut HashingWriter,
}

impl tokio::io::AsyncWrite for HashingSink<'_> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let out = &mut *self.out;
        let poll = std::pin::Pin::new(&mut out.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &poll {
            out.hasher.update(&buf[..*n]);
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.out.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.out.inner).poll_shutdown(cx)
    }
}

/// Reads while hashing everything read, to check the end record.
struct HashingReader {
    inner: BufReader<tokio::fs::File>,
    hasher: blake3::Hasher,
}

impl HashingReader {
    async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact(buf).await?;
        self.hasher.update(buf);
        Ok(())
    }
}
