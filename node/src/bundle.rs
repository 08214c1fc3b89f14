//! Bundles: one file with designs' events and blobs, for sneakernet.
//!
//! Between fablabs with no network, a USB stick carries a bundle like a git
//! bundle. The format is in `spec/bundle.md`. Import is all or nothing:
//! it reads the whole file once, hashing every blob and keeping only the
//! events and where each blob lies; then verifies every signature (on every
//! core), orders the events by their parents, checks every parent, clock,
//! tree and file size, and that every blob is one a tree names. Only then
//! does it store: the blobs the store lacks, read again from where they
//! lie straight into the blob store (which hashes them once more), made
//! durable, and the events last, in one transaction. Importing the same
//! bundle twice changes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use communs_protocol::bundle::MAGIC;
use communs_protocol::bundle::{self as framing, kind};
use communs_protocol::limits::MAX_TREE_BYTES;
use communs_protocol::{BlobHash, Body, DesignId, EventId, Hash, SignedEvent, Tree, TreeError};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::progress::Progress;
use crate::store::EventStoreError;
use crate::{Node, NodeError};

/// Blobs up to this size are read into memory, checked, and handed to the
/// blob store whole; larger ones are streamed into it from the bundle.
const IN_MEMORY_BLOB: u64 = 4 << 20;

/// Read size when hashing or streaming a blob record.
const BLOCK: usize = 1 << 20;

/// Requests to the blob store in flight at once during an import.
const BLOBS_IN_FLIGHT: usize = 64;

/// Bytes of small blobs read into memory together during an import.
const GROUP_BYTES: u64 = 32 << 20;

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
    BadTree { path: PathBuf, revision: EventId, source: TreeError },
    #[error(
        "{path}: the tree of revision {revision} says {file} is {listed} bytes, but its blob {blob} is {actual} bytes"
    )]
    WrongSize { path: PathBuf, revision: EventId, file: String, blob: BlobHash, listed: u64, actual: u64 },
    #[error(
        "{path}: blob {blob} is named by no tree of the bundle's revisions (a bundle carries only its revisions' \
         trees and their files)"
    )]
    UnnamedBlob { path: PathBuf, blob: BlobHash },
    #[error(
        "{path}: the file changed while it was imported (blob {blob} no longer hashes to its name); import it again"
    )]
    Changed { path: PathBuf, blob: BlobHash },
}

/// The stable reason an import failed for, when it failed on an event
/// (the bundle is refused whole: one event counts), for the metrics.
fn refused_event_reason(error: &NodeError) -> Option<&'static str> {
    match error {
        NodeError::Bundle(bundle) => match &**bundle {
            BundleError::BadEvent { source, .. } | BundleError::InvalidEvent { source, .. } => Some(source.reason()),
            BundleError::MissingParent { .. } => Some("missing-parent"),
            _ => None,
        },
        NodeError::Events(e @ (EventStoreError::Refused { .. } | EventStoreError::Invalid { .. })) => {
            Some(crate::metrics::refusal_reason(e))
        }
        _ => None,
    }
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
        self.bundle_export_many(std::slice::from_ref(design), file, progress).await
    }

    /// [`Node::bundle_export_many`] of every design in the store.
    pub async fn bundle_export_all(&self, file: &Path, progress: &dyn Progress) -> Result<BundleSummary, NodeError> {
        let designs = self.events.designs()?;
        self.bundle_export_many(&designs, file, progress).await
    }

    /// Writes the events of `designs`, design after design, then every blob
    /// their revisions need, each once, to `file` (replaced atomically).
    /// Refuses a revision whose tree disagrees with a stored blob's size:
    /// import would refuse the bundle.
    pub async fn bundle_export_many(
        &self,
        designs: &[DesignId],
        file: &Path,
        progress: &dyn Progress,
    ) -> Result<BundleSummary, NodeError> {
        let mut logs = Vec::with_capacity(designs.len());
        let mut unique = HashSet::new();
        for design in designs {
            if unique.insert(*design) {
                logs.push(self.design_log(design)?.events);
            }
        }
        let mut blobs: Vec<(BlobHash, u64)> = Vec::new();
        let mut seen = HashSet::new();
        for event in logs.iter().flatten() {
            let Body::Revision(revision) = event.body() else { continue };
            if !seen.insert(revision.tree) {
                continue;
            }
            blobs.push((revision.tree, self.stored_size(&revision.tree).await?));
            for entry in self.read_tree(revision).await?.entries() {
                let size = self.stored_size(&entry.blob).await?;
                if size != entry.size {
                    return Err(wrong_size(file, event, entry, size));
                }
                if seen.insert(entry.blob) {
                    blobs.push((entry.blob, size));
                }
            }
        }
        let total = self.write_bundle(logs.iter().flatten(), &blobs, file, progress).await?;
        let mut exported: Vec<DesignId> = unique.into_iter().collect();
        exported.sort();
        Ok(BundleSummary {
            designs: exported,
            events: logs.iter().map(Vec::len).sum(),
            blobs: blobs.len(),
            bytes: total,
            ..BundleSummary::default()
        })
    }

    /// Writes `events`, then `blobs` (hash, stored size) read verified from
    /// the blob store, as one bundle file (replaced atomically). Returns
    /// the blobs' total size.
    pub(crate) async fn write_bundle<'e>(
        &self,
        events: impl Iterator<Item = &'e SignedEvent>,
        blobs: &[(BlobHash, u64)],
        file: &Path,
        progress: &dyn Progress,
    ) -> Result<u64, NodeError> {
        let total: u64 = blobs.iter().map(|(_, s)| s).sum();
        progress.start(total, blobs.len());

        let tmp = file.with_extension("communs-tmp");
        let handle = tokio::fs::File::create(&tmp).await.map_err(NodeError::io(&tmp))?;
        let mut out = HashingWriter { inner: BufWriter::with_capacity(BLOCK, handle), hasher: blake3::Hasher::new() };
        out.write(MAGIC).await.map_err(NodeError::io(&tmp))?;
        for event in events {
            out.record(kind::EVENT, event.bytes().len() as u64).await.map_err(NodeError::io(&tmp))?;
            out.write(event.bytes()).await.map_err(NodeError::io(&tmp))?;
        }
        for (hash, size) in blobs {
            out.record(kind::BLOB, 32 + size).await.map_err(NodeError::io(&tmp))?;
            out.write(hash.as_bytes()).await.map_err(NodeError::io(&tmp))?;
            let mut sink = HashingSink { out: &mut out };
            let copied = self.blobs.copy_verified(hash, *size, &mut sink).await?;
            if copied != *size {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(crate::store::BlobError::WrongSize { hash: *hash, expected: *size, actual: copied }.into());
            }
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
        Ok(total)
    }

    /// The size of a complete stored blob, or an error naming it.
    async fn stored_size(&self, hash: &BlobHash) -> Result<u64, NodeError> {
        Ok(self.blobs.size(hash).await?.ok_or(crate::store::BlobError::Missing(*hash))?)
    }

    /// Verifies a bundle completely, then stores what is new: everything
    /// or, on any error, nothing.
    pub async fn bundle_import(&self, file: &Path, progress: &dyn Progress) -> Result<BundleSummary, NodeError> {
        let imported = self.import_bundle(file, progress).await;
        if let Err(e) = &imported
            && let Some(reason) = refused_event_reason(e)
        {
            self.metrics.event_refused(crate::metrics::PathIn::Bundle, reason);
        }
        imported
    }

    async fn import_bundle(&self, file: &Path, progress: &dyn Progress) -> Result<BundleSummary, NodeError> {
        let mut scan = scan(file).await?;
        let records = Arc::new(std::mem::take(&mut scan.events));
        let (admitted, events, trees) = match self.decode_and_order(file, records.clone()).await? {
            Some(ordered) => {
                // Signatures are checked on every core while this thread
                // runs the dry run of admission and reads the trees, which
                // write nothing.
                let ordered = Arc::new(ordered);
                let stop = Arc::new(AtomicBool::new(false));
                let verifying = tokio::task::spawn_blocking({
                    let (ordered, stop) = (ordered.clone(), stop.clone());
                    let verifier = self.verifier.clone();
                    move || verifier.verify_all(&ordered, &stop)
                });
                let checked_then_trees = async {
                    // A flood that the design's rules refuse (an outsider's
                    // approvals) is refused after a few lookups, without
                    // waiting for its signatures.
                    let checked = self.events.check_insert(&ordered)?;
                    Ok::<_, NodeError>((checked, self.check_trees(file, &ordered, &scan.blobs).await))
                };
                let (checked, trees) = match checked_then_trees.await {
                    Ok(both) => both,
                    Err(refused) => {
                        stop.store(true, Ordering::Relaxed);
                        let _ = verifying.await;
                        return Err(refused);
                    }
                };
                let verified = verifying.await.unwrap_or(false);
                if !verified {
                    // Which event fails, and why, is said by the full
                    // decode; a forged event is reported before its tree.
                    self.verify_events(file, Arc::unwrap_or_clone(records)).await?;
                }
                let events = Arc::try_unwrap(ordered).unwrap_or_else(|shared| shared.as_ref().clone());
                (Some(checked), events, trees?)
            }
            None => {
                let events = self.verify_events(file, Arc::unwrap_or_clone(records)).await?;
                let trees = self.check_trees(file, &events, &scan.blobs).await?;
                (None, events, trees)
            }
        };
        let named: HashSet<&BlobHash> =
            trees.iter().flat_map(|(tree, files)| std::iter::once(tree).chain(files)).collect();
        // Every blob is one a tree names (a tree, or a file of a tree).
        let mut carried: Vec<&BlobHash> = scan.blobs.keys().collect();
        carried.sort();
        if let Some(blob) = carried.into_iter().find(|hash| !named.contains(*hash)) {
            return Err(BundleError::UnnamedBlob { path: file.to_owned(), blob: *blob }.into());
        }

        // Every event admitted by its design's rules (governance.md,
        // "Admission"): checked by a dry run of the very insert that ends
        // the import, so that no blob is stored for events that would not
        // go in. Done already if the events decoded without their
        // signatures (the same bytes give the same answer).
        let checked = match admitted {
            Some(checked) => checked,
            None => self.events.check_insert(&events)?,
        };
        let new = &checked.new;
        // Files of revisions the store keeps: not those of contributions
        // over the bound on unclaimed ones, which the insert drops.
        let mut needed: HashSet<BlobHash> = HashSet::new();
        for event in &events {
            let Body::Revision(revision) = event.body() else { continue };
            if new.contains(&event.id()) || self.events.contains(&event.id())? {
                needed.insert(revision.tree);
                needed.extend(trees.get(&revision.tree).into_iter().flatten());
            }
        }

        // Held from before they are stored until the events naming them
        // are committed, so that no collection takes them in between.
        let _held = self.blobs.protect(scan.blobs.keys().copied()).await;
        // Verified: now store, blobs first, in the order they lie in the file.
        let mut missing: Vec<(BlobHash, BlobRecord)> = Vec::new();
        // Only the blobs of events the insert will keep (the bound on
        // unclaimed contributions drops some), asked about concurrently.
        let mut statuses = futures::stream::iter(scan.blobs.iter().filter(|(hash, _)| needed.contains(*hash)))
            .map(|(hash, record)| async move { (*hash, *record, self.blobs.size(hash).await) })
            .buffer_unordered(BLOBS_IN_FLIGHT);
        while let Some((hash, record, size)) = statuses.next().await {
            if size?.is_none() {
                missing.push((hash, record));
            }
        }
        drop(statuses);
        missing.sort_by_key(|(_, record)| record.offset);
        progress.start(missing.iter().map(|(_, r)| r.size).sum(), missing.len());
        let mut rest = missing.as_slice();
        while let Some(((hash, record), after)) = rest.split_first() {
            if record.size > IN_MEMORY_BLOB {
                let stored = self.blobs.add_file_range(file, record.offset, record.size).await?;
                if stored != *hash {
                    return Err(BundleError::Changed { path: file.to_owned(), blob: *hash }.into());
                }
                progress.advance(record.size);
                rest = after;
                continue;
            }
            // A run of small blobs: read together off the async threads,
            // then handed to the blob store all at once (each add is a
            // round trip to its actor; many in flight share its writes).
            let mut count = 0;
            let mut bytes = 0;
            while let Some((_, next)) = rest.get(count) {
                if count == BLOBS_IN_FLIGHT
                    || next.size > IN_MEMORY_BLOB
                    || (count > 0 && bytes + next.size > GROUP_BYTES)
                {
                    break;
                }
                bytes += next.size;
                count += 1;
            }
            let (group, after) = rest.split_at(count);
            rest = after;
            let contents = read_blobs(file, group.to_vec()).await?;
            let stored = futures::future::try_join_all(contents.into_iter().map(|b| self.blobs.add_bytes(b))).await?;
            for ((hash, record), stored) in group.iter().zip(stored) {
                if stored != *hash {
                    return Err(BundleError::Changed { path: file.to_owned(), blob: *hash }.into());
                }
                progress.advance(record.size);
            }
        }
        self.blobs.sync().await?;
        let new_events = self.events.insert_checked(&events, checked)?;
        progress.finish();
        let designs: BTreeSet<DesignId> = events.iter().map(SignedEvent::design).collect();
        Ok(BundleSummary {
            designs: designs.into_iter().collect(),
            events: events.len(),
            blobs: scan.blobs.len(),
            bytes: scan.blobs.values().map(|r| r.size).sum(),
            new_events,
            new_blobs: missing.len(),
        })
    }

    /// The bundle's events decoded without checking their signatures (on
    /// every core), ordered by their parents and each checked against
    /// them, for the dry run of admission while the signatures are
    /// checked ([`BulkVerifier::verify_all`](communs_protocol::bulk::BulkVerifier::verify_all)). Sound because the dry run
    /// can only refuse: nothing is stored before every event verified.
    /// `None` if the events do not decode or order (the full decode of
    /// [`Node::verify_events`] then says why).
    async fn decode_and_order(
        &self,
        file: &Path,
        records: Arc<Vec<Vec<u8>>>,
    ) -> Result<Option<Vec<SignedEvent>>, NodeError> {
        // Off the async threads: a running node keeps serving meanwhile.
        let verifier = self.verifier.clone();
        let decoded = tokio::task::spawn_blocking(move || verifier.decode_trusted_many(&records))
            .await
            .map_err(|e| NodeError::Io { path: file.to_owned(), source: std::io::Error::other(e) })?;
        let Ok(unverified) = decoded.into_iter().collect::<Result<Vec<_>, _>>() else {
            return Ok(None);
        };
        Ok(self.order_events(file, unverified).ok())
    }

    /// Decodes the bundle's events, verifying their signatures on every
    /// core, and returns them ordered by their parents (each after all of
    /// its parents), each checked against its parents.
    pub(crate) async fn verify_events(
        &self,
        file: &Path,
        records: Vec<Vec<u8>>,
    ) -> Result<Vec<SignedEvent>, NodeError> {
        // Off the async threads: a running node keeps serving meanwhile.
        let verifier = self.verifier.clone();
        let decoded = tokio::task::spawn_blocking(move || verifier.decode_many(&records))
            .await
            .map_err(|e| NodeError::Io { path: file.to_owned(), source: std::io::Error::other(e) })?;
        let mut events = Vec::with_capacity(decoded.len());
        for (index, result) in decoded.into_iter().enumerate() {
            let event = result.map_err(|source| BundleError::BadEvent { path: file.to_owned(), index, source })?;
            events.push(event);
        }
        self.order_events(file, events)
    }

    /// `events` ordered by their parents (each after all of its parents),
    /// each checked against its parents, duplicates dropped.
    fn order_events(&self, file: &Path, mut events: Vec<SignedEvent>) -> Result<Vec<SignedEvent>, NodeError> {
        // (clock, id) order: once every event's clock is checked to be one
        // more than its largest parent's (below), every parent comes before
        // its children, whatever order the file had. A parent cycle cannot
        // pass that check (a clock would have to exceed itself).
        events.sort_by_key(|e| (e.clock(), e.id()));
        events.dedup_by_key(|e| e.id());
        let by_id: HashMap<EventId, &SignedEvent> = events.iter().map(|e| (e.id(), e)).collect();
        let mut stored = HashMap::new();
        for parent in events.iter().flat_map(|e| e.parents()) {
            if !by_id.contains_key(parent)
                && !stored.contains_key(parent)
                && let Some(p) = self.events.get(parent)?
            {
                stored.insert(*parent, p);
            }
        }
        for event in &events {
            let mut parents = Vec::with_capacity(event.parents().len());
            for parent in event.parents() {
                match by_id.get(parent).copied().or_else(|| stored.get(parent)) {
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
        Ok(events)
    }

    /// Checks every revision's tree (valid, in the bundle or the store)
    /// and every file it names (there, and exactly the size the tree says).
    /// Returns each tree with the blobs of its files.
    async fn check_trees(
        &self,
        file: &Path,
        events: &[SignedEvent],
        carried: &HashMap<BlobHash, BlobRecord>,
    ) -> Result<HashMap<BlobHash, Vec<BlobHash>>, NodeError> {
        let mut named: HashMap<BlobHash, Vec<BlobHash>> = HashMap::new();
        let mut input = None;
        for event in events {
            let Body::Revision(revision) = event.body() else { continue };
            if named.contains_key(&revision.tree) {
                continue;
            }
            let bad_tree = |source| BundleError::BadTree { path: file.to_owned(), revision: event.id(), source };
            let tree = match carried.get(&revision.tree) {
                Some(record) if record.size > MAX_TREE_BYTES as u64 => {
                    let len = usize::try_from(record.size).unwrap_or(usize::MAX);
                    return Err(bad_tree(TreeError::TooLarge { len, max: MAX_TREE_BYTES }).into());
                }
                Some(record) => {
                    if input.is_none() {
                        input = Some(tokio::fs::File::open(file).await.map_err(NodeError::io(file))?);
                    }
                    let input = input.as_mut().expect("opened above");
                    let bytes = read_record(input, record).await.map_err(NodeError::io(file))?;
                    if BlobHash(Hash::of(&bytes)) != revision.tree {
                        return Err(BundleError::Changed { path: file.to_owned(), blob: revision.tree }.into());
                    }
                    Tree::decode(&bytes).map_err(bad_tree)?
                }
                None if self.blobs.size(&revision.tree).await?.is_some() => self.read_tree(revision).await?,
                None => {
                    return Err(BundleError::MissingBlob {
                        path: file.to_owned(),
                        revision: event.id(),
                        blob: revision.tree,
                    }
                    .into());
                }
            };
            let mut files = Vec::with_capacity(tree.entries().len());
            for entry in tree.entries() {
                let actual = match carried.get(&entry.blob) {
                    Some(record) => record.size,
                    None => match self.blobs.size(&entry.blob).await? {
                        Some(size) => size,
                        None => {
                            return Err(BundleError::MissingBlob {
                                path: file.to_owned(),
                                revision: event.id(),
                                blob: entry.blob,
                            }
                            .into());
                        }
                    },
                };
                if actual != entry.size {
                    return Err(wrong_size(file, event, entry, actual));
                }
                files.push(entry.blob);
            }
            named.insert(revision.tree, files);
        }
        Ok(named)
    }
}

/// Where a blob's bytes lie in the bundle file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlobRecord {
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// A tree of `event` gives `entry` another size than its blob's.
fn wrong_size(file: &Path, event: &SignedEvent, entry: &communs_protocol::TreeEntry, actual: u64) -> NodeError {
    BundleError::WrongSize {
        path: file.to_owned(),
        revision: event.id(),
        file: entry.path.to_string(),
        blob: entry.blob,
        listed: entry.size,
        actual,
    }
    .into()
}

/// What one read of a bundle finds: the events' bytes, unverified, and
/// every blob, hashed, by where it lies.
pub(crate) struct Scan {
    pub(crate) events: Vec<Vec<u8>>,
    pub(crate) blobs: HashMap<BlobHash, BlobRecord>,
}

/// Reads a bundle from start to end: its framing, its limits and its end
/// record (the protocol's [`framing::Reader`]), and every blob's hash.
/// Keeps no blob in memory.
pub(crate) async fn scan(file: &Path) -> Result<Scan, NodeError> {
    let mut input = tokio::fs::File::open(file).await.map_err(NodeError::io(file))?;
    let framing_error = |error: framing::FramingError| -> NodeError {
        match error {
            framing::FramingError::NotABundle => BundleError::NotABundle { path: file.to_owned() }.into(),
            other => BundleError::Damaged { path: file.to_owned(), detail: other.to_string() }.into(),
        }
    };
    let mut reader = framing::Reader::new();
    let mut scan = Scan { events: Vec::new(), blobs: HashMap::new() };
    let mut blob: Option<(BlobHash, BlobRecord, blake3::Hasher)> = None;
    let mut buffer = vec![0u8; BLOCK];
    loop {
        let n = input.read(&mut buffer).await.map_err(NodeError::io(file))?;
        if n == 0 {
            reader.finish().map_err(framing_error)?;
            return Ok(scan);
        }
        let mut chunk = &buffer[..n];
        while let Some(record) = reader.next(&mut chunk).map_err(framing_error)? {
            match record {
                framing::Record::Event(bytes) => scan.events.push(bytes),
                framing::Record::BlobStart { hash, size, offset } => {
                    blob = Some((hash, BlobRecord { offset, size }, blake3::Hasher::new()));
                }
                framing::Record::BlobBytes(bytes) => {
                    let (_, _, hasher) = blob.as_mut().expect("the reader starts a blob before its bytes");
                    if bytes.len() >= 256 * 1024 {
                        hasher.update_rayon(bytes);
                    } else {
                        hasher.update(bytes);
                    }
                }
                framing::Record::BlobEnd => {
                    let (hash, record, hasher) = blob.take().expect("the reader starts a blob before its end");
                    if *hasher.finalize().as_bytes() != *hash.as_bytes() {
                        return Err(BundleError::BadBlob { path: file.to_owned(), hash }.into());
                    }
                    scan.blobs.entry(hash).or_insert(record);
                }
                framing::Record::End => {}
            }
        }
    }
}

/// The bytes of blob records, read again from the bundle (in one task
/// off the async threads) and checked against their hashes.
async fn read_blobs(file: &Path, records: Vec<(BlobHash, BlobRecord)>) -> Result<Vec<Vec<u8>>, NodeError> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek};
        let mut input = std::fs::File::open(&path).map_err(NodeError::io(&path))?;
        let mut out = Vec::with_capacity(records.len());
        for (hash, record) in records {
            let mut bytes =
                vec![0u8; usize::try_from(record.size).map_err(|e| NodeError::io(&path)(std::io::Error::other(e)))?];
            input.seek(SeekFrom::Start(record.offset)).map_err(NodeError::io(&path))?;
            input.read_exact(&mut bytes).map_err(NodeError::io(&path))?;
            if BlobHash(Hash::of(&bytes)) != hash {
                return Err(BundleError::Changed { path: path.clone(), blob: hash }.into());
            }
            out.push(bytes);
        }
        Ok(out)
    })
    .await
    .map_err(|e| NodeError::Io { path: file.to_owned(), source: std::io::Error::other(e) })?
}

/// The bytes of one blob record, read again from the bundle.
async fn read_record(input: &mut tokio::fs::File, record: &BlobRecord) -> std::io::Result<Vec<u8>> {
    input.seek(SeekFrom::Start(record.offset)).await?;
    let mut bytes = vec![0u8; usize::try_from(record.size).map_err(std::io::Error::other)?];
    input.read_exact(&mut bytes).await?;
    Ok(bytes)
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
