//! File contents, in the iroh-blobs file store.
//!
//! iroh-blobs keeps each blob with its BLAKE3 outboard so that it can later
//! be served by verified streaming. Reads that leave the store (a checkout,
//! `fsck`) are re-hashed here while streaming: a byte altered on disk is
//! caught, never handed to the maker.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use communs_protocol::limits::MAX_INLINE_BYTES;
use communs_protocol::{BlobHash, Hash};
use iroh_blobs::BlobFormat;
use iroh_blobs::api::blobs::{AddPathOptions, BlobStatus, ExportMode, ExportOptions, ImportMode};
use iroh_blobs::api::proto::ExportRangesItem;
use iroh_blobs::store::fs::FsStore;
use iroh_blobs::store::fs::options::{Options, PathOptions};
use n0_future::StreamExt;
use std::io::Read;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) use super::sweep::Guard;
use super::sweep::{Guards, Run};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// iroh-blobs failed: its error, as the cause.
    #[error("blob store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("blob {0} is not in this store")]
    Missing(BlobHash),
    #[error("blob {expected} is damaged in the store: its bytes hash to {actual}; run `communs fsck`")]
    Damaged { expected: BlobHash, actual: BlobHash },
    #[error("the disk holding {0} is full: free some space and try again (nothing was stored)")]
    DiskFull(PathBuf),
    #[error("blob {hash} is {actual} bytes in the store, expected {expected}")]
    WrongSize { hash: BlobHash, expected: u64, actual: u64 },
}

fn store_error(e: impl std::error::Error + Send + Sync + 'static) -> BlobError {
    BlobError::Store(Box::new(e))
}

/// Blocks read at once when copying or hashing a file: large enough for
/// the hash to use every core, small enough to keep memory flat.
const BLOCK: usize = 4 << 20;

/// The buffer for a file of `len` bytes: a checkout writes hundreds of
/// small files, and zeroing a whole [`BLOCK`] for each cost more than
/// copying them.
fn block_for(len: u64) -> usize {
    usize::try_from(len).unwrap_or(BLOCK).clamp(1, BLOCK)
}

/// BLAKE3 and length of a file.
fn hash_file(path: &Path) -> std::io::Result<(BlobHash, u64)> {
    copy_hashing_into(std::fs::File::open(path)?, &mut std::io::sink())
}

/// Copies `from` to `to` the way `cp` does (in the kernel, or as a
/// reflink where the file system can) while hashing `from` on the other
/// cores, so a checkout costs about one copy. Hashing the store's file
/// rather than reading the copy back checks the same bytes: the kernel
/// copies them from that file, which the store never changes once complete
/// (someone who can rewrite it mid-copy can rewrite the checkout too), and
/// a read-back would come from the page cache, not the disk, anyway. Fails
/// before creating `to` if `from` does not exist.
fn copy_hashing(from: &Path, to: &Path) -> std::io::Result<(BlobHash, u64)> {
    let source = std::fs::File::open(from)?;
    std::thread::scope(|scope| {
        let copy = scope.spawn(|| std::fs::copy(from, to));
        let hashed = copy_hashing_into(source, &mut std::io::sink());
        let copied = copy.join().unwrap_or_else(|_| Err(std::io::Error::other("copy thread panicked")))?;
        let (hash, len) = hashed?;
        if copied != len {
            return Err(std::io::Error::other("the store file changed while it was copied"));
        }
        Ok((hash, len))
    })
}

fn copy_hashing_into(mut source: std::fs::File, out: &mut impl std::io::Write) -> std::io::Result<(BlobHash, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; block_for(source.metadata()?.len())];
    let block = buffer.len();
    loop {
        let mut filled = 0;
        while filled < block {
            match source.read(&mut buffer[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        let block = &buffer[..filled];
        if filled >= 256 * 1024 {
            hasher.update_rayon(block);
        } else {
            hasher.update(block);
        }
        out.write_all(block)?;
    }
    Ok((BlobHash(Hash::from_bytes(*hasher.finalize().as_bytes())), hasher.count()))
}

/// A store error, told apart when its cause is a full disk (which a user
/// can fix) under `path`.
fn import_error(e: &(dyn std::error::Error + 'static), path: &Path) -> BlobError {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return BlobError::DiskFull(path.to_owned());
        }
        cause = c.source();
    }
    BlobError::Store(e.to_string().into())
}

/// A failed write of `path`, told apart when the disk is full.
fn write_error(path: &Path, source: std::io::Error) -> BlobError {
    match source.kind() {
        std::io::ErrorKind::StorageFull => BlobError::DiskFull(path.to_owned()),
        _ => BlobError::Io { path: path.to_owned(), source },
    }
}

/// Removes what interrupted imports left in the store's scratch folder.
/// Only called while this process holds the store lock, so no import is
/// in flight.
fn clear_scratch(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir.join("temp")) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Our blob hash as iroh-blobs names it (the same BLAKE3 bytes).
pub(crate) fn to_iroh(hash: &BlobHash) -> iroh_blobs::Hash {
    iroh_blobs::Hash::from_bytes(*hash.as_bytes())
}

pub(crate) fn from_iroh(hash: iroh_blobs::Hash) -> BlobHash {
    BlobHash(Hash::from_bytes(*hash.as_bytes()))
}

/// Whether an export hashes the bytes it writes out.
#[derive(Debug, Clone, Copy)]
enum Rehash {
    Yes,
    No,
}

/// Sweeps of one collection at most, when iroh-blobs keeps a blob
/// written during the previous one.
const SWEEP_TRIES: usize = 3;
const SWEEP_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// What a sweep freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Freed {
    /// Blobs deleted, complete or partial.
    pub blobs: usize,
    /// Their bytes (what a partial blob announced).
    pub bytes: u64,
    /// Blobs in the store after the sweep.
    pub kept: usize,
}

pub struct BlobStore {
    /// Loaded on first use: a command that reads no file (`list`, `log`,
    /// `status`) neither starts iroh-blobs' actor nor syncs its database.
    store: tokio::sync::OnceCell<FsStore>,
    options: Options,
    /// What operations in progress hold, and the runs of the collector.
    guards: Guards,
    /// Where the store keeps each complete blob's data file (read only
    /// through [`BlobStore::data_file`]).
    paths: PathOptions,
    root: PathBuf,
}

impl BlobStore {
    pub async fn open(dir: &Path) -> Result<Self, BlobError> {
        clear_scratch(dir);
        // Small blobs in the database (iroh-blobs' default is 16 KiB).
        let mut options = Options::new(dir);
        options.inline.max_data_inlined = MAX_INLINE_BYTES;
        let (guards, collector) = Guards::new();
        options.gc = Some(collector);
        Ok(BlobStore {
            store: tokio::sync::OnceCell::new(),
            options,
            guards,
            paths: PathOptions::new(dir),
            root: dir.to_owned(),
        })
    }

    /// The file in which iroh-blobs keeps a complete blob too large to
    /// inline in its database. Reading it directly (in large blocks, or
    /// copied by the kernel) is what makes `get` and `copy_verified` fast,
    /// but the layout is iroh-blobs' own, not its API: this is the one
    /// place that relies on it, and its test fails if an upgrade moves it.
    fn data_file(&self, hash: &BlobHash) -> PathBuf {
        self.paths.data_path(&to_iroh(hash))
    }

    /// The iroh-blobs store, loaded if it was not yet.
    async fn fs(&self) -> Result<&FsStore, BlobError> {
        self.store
            .get_or_try_init(|| FsStore::load_with_opts(self.root.join("blobs.db"), self.options.clone()))
            .await
            .map_err(store_error)
    }

    /// The iroh-blobs store, for the network to serve and fetch blobs
    /// through its verified streaming.
    pub async fn store(&self) -> Result<&iroh_blobs::api::Store, BlobError> {
        Ok(self.fs().await?)
    }

    /// Imports a file (copied into the store, hashed once). Returns the
    /// hash and size of what was imported, which is what counts if the file
    /// changed since it was listed.
    pub async fn add_file(&self, path: &Path) -> Result<(BlobHash, u64), BlobError> {
        let options = AddPathOptions { path: path.to_owned(), format: BlobFormat::Raw, mode: ImportMode::Copy };
        let imported = self.fs().await?.blobs().add_path_with_opts(options).temp_tag().await;
        let tag = imported.map_err(|e| import_error(&e, &self.root))?;
        let hash = from_iroh(tag.hash());
        let size = self.size(&hash).await?.ok_or(BlobError::Missing(hash))?;
        Ok((hash, size))
    }

    /// Removes the scratch copies failed imports left behind (on a full
    /// disk, they are what keeps it full). Call only when no import is in
    /// flight.
    pub fn discard_scratch(&self) {
        clear_scratch(&self.root);
    }

    /// The size of a complete blob, `None` if absent or partial.
    pub async fn size(&self, hash: &BlobHash) -> Result<Option<u64>, BlobError> {
        match self.fs().await?.blobs().status(to_iroh(hash)).await.map_err(store_error)? {
            BlobStatus::Complete { size } => Ok(Some(size)),
            _ => Ok(None),
        }
    }

    pub async fn add_bytes(&self, bytes: Vec<u8>) -> Result<BlobHash, BlobError> {
        let tag =
            self.fs().await?.blobs().add_bytes(bytes).temp_tag().await.map_err(|e| import_error(&e, &self.root))?;
        Ok(from_iroh(tag.hash()))
    }

    pub async fn has(&self, hash: &BlobHash) -> Result<bool, BlobError> {
        self.fs().await?.blobs().has(to_iroh(hash)).await.map_err(store_error)
    }

    /// Reads a whole blob into memory, verified (for trees and small files).
    pub async fn read(&self, hash: &BlobHash, max: u64) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        self.copy_verified(hash, max, &mut out).await?;
        Ok(out)
    }

    /// Writes a blob of `size` bytes to `target` (absolute; created or
    /// replaced), hashing it as it goes; on a mismatch the file is removed.
    ///
    /// A complete blob's data file is immutable, so it is copied directly
    /// while being hashed: a checkout costs about a `cp`.
    /// A blob the store keeps in its database (small) is read whole,
    /// hashed, and written in one go.
    pub async fn export(&self, hash: &BlobHash, size: u64, target: &Path) -> Result<(), BlobError> {
        self.export_checked(hash, size, target, Rehash::Yes).await
    }

    /// [`BlobStore::export`] for a blob that was verified chunk by chunk as
    /// it arrived moments ago, in the same operation: hashing it a second
    /// time would check the bytes just checked, at the cost of reading them
    /// all into memory, so only the size is checked.
    pub async fn export_just_verified(&self, hash: &BlobHash, size: u64, target: &Path) -> Result<(), BlobError> {
        self.export_checked(hash, size, target, Rehash::No).await
    }

    async fn export_checked(&self, hash: &BlobHash, size: u64, target: &Path, rehash: Rehash) -> Result<(), BlobError> {
        let data_file = self.data_file(hash);
        let (from, to) = (data_file.clone(), target.to_owned());
        let copied = match tokio::task::spawn_blocking(move || match rehash {
            Rehash::Yes => copy_hashing(&from, &to).map(|(hash, len)| (Some(hash), len)),
            Rehash::No => std::fs::copy(&from, &to).map(|len| (None, len)),
        })
        .await
        {
            Ok(result) => result,
            Err(e) => return Err(store_error(e)),
        };
        let written = match copied {
            Ok(written) => written,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !data_file.exists() => {
                // No file of its own: the store keeps it in its database.
                let exported = if size <= MAX_INLINE_BYTES {
                    self.write_inline(hash, target, rehash).await
                } else {
                    self.export_by_store(hash, target, rehash).await
                };
                match exported {
                    Ok(found) => found,
                    Err(e) => {
                        let _ = tokio::fs::remove_file(target).await;
                        return Err(e);
                    }
                }
            }
            Err(source) => {
                // A copy cut short (a full disk) leaves part of a file.
                let _ = tokio::fs::remove_file(target).await;
                return Err(write_error(target, source));
            }
        };
        let result = match written {
            (_, len) if len != size => Err(BlobError::WrongSize { hash: *hash, expected: size, actual: len }),
            (Some(actual), _) if actual != *hash => Err(BlobError::Damaged { expected: *hash, actual }),
            _ => Ok(()),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(target).await;
        }
        result
    }

    /// A small blob read whole from the database, hashed (if asked), and
    /// written in one go. Returns its hash (if hashed) and length.
    async fn write_inline(
        &self,
        hash: &BlobHash,
        target: &Path,
        rehash: Rehash,
    ) -> Result<(Option<BlobHash>, u64), BlobError> {
        let bytes = match self.fs().await?.blobs().get_bytes(to_iroh(hash)).await {
            Ok(bytes) => bytes,
            Err(_) if !self.has(hash).await? => return Err(BlobError::Missing(*hash)),
            Err(e) => return Err(store_error(e)),
        };
        let found = match rehash {
            Rehash::Yes => Some(BlobHash(Hash::from_bytes(*blake3::hash(&bytes).as_bytes()))),
            Rehash::No => None,
        };
        tokio::fs::write(target, &bytes).await.map_err(|source| write_error(target, source))?;
        Ok((found, bytes.len() as u64))
    }

    /// Any other blob without a data file: exported by the store, then
    /// hashed (if asked) from the written file.
    async fn export_by_store(
        &self,
        hash: &BlobHash,
        target: &Path,
        rehash: Rehash,
    ) -> Result<(Option<BlobHash>, u64), BlobError> {
        let options = ExportOptions { hash: to_iroh(hash), mode: ExportMode::Copy, target: target.to_owned() };
        match self.fs().await?.blobs().export_with_opts(options).finish().await {
            Ok(_) => {}
            Err(_) if !self.has(hash).await? => return Err(BlobError::Missing(*hash)),
            Err(e) => return Err(import_error(&e, target)),
        }
        let path = target.to_owned();
        let checked = tokio::task::spawn_blocking(move || match rehash {
            Rehash::Yes => hash_file(&path).map(|(hash, len)| (Some(hash), len)),
            Rehash::No => std::fs::metadata(&path).map(|m| (None, m.len())),
        });
        checked.await.map_err(store_error)?.map_err(|source| BlobError::Io { path: target.to_owned(), source })
    }

    /// Re-hashes a stored blob; returns its size if intact.
    pub async fn verify(&self, hash: &BlobHash) -> Result<u64, BlobError> {
        self.copy_verified(hash, u64::MAX, &mut tokio::io::sink()).await
    }

    /// Streams a blob into `out`, hashing as it goes, and fails if more than
    /// `max` bytes come or the hash differs. `out` may have received bytes
    /// when it fails: callers discard it.
    pub async fn copy_verified(
        &self,
        hash: &BlobHash,
        max: u64,
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> Result<u64, BlobError> {
        if !self.has(hash).await? {
            return Err(BlobError::Missing(*hash));
        }
        let io = |source| BlobError::Io { path: PathBuf::new(), source };
        // A complete blob's data file is immutable: read it in large blocks.
        if let Ok(mut file) = tokio::fs::File::open(self.data_file(hash)).await {
            let mut hasher = blake3::Hasher::new();
            let len = file.metadata().await.map_err(io)?.len();
            let mut buffer = vec![0u8; block_for(len)];
            let mut total = 0u64;
            loop {
                let n = file.read(&mut buffer).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                if total > max {
                    return Err(BlobError::WrongSize { hash: *hash, expected: max, actual: total });
                }
                hasher.update(&buffer[..n]);
                out.write_all(&buffer[..n]).await.map_err(io)?;
            }
            let actual = BlobHash(Hash::from_bytes(*hasher.finalize().as_bytes()));
            if actual != *hash {
                return Err(BlobError::Damaged { expected: *hash, actual });
            }
            return Ok(total);
        }
        // Kept inline by the store (small): one streaming request, which
        // comes in 1 KiB leaves.
        let mut items = std::pin::pin!(self.fs().await?.blobs().export_ranges(to_iroh(hash), 0..u64::MAX).stream());
        let mut hasher = blake3::Hasher::new();
        let mut total = 0u64;
        while let Some(item) = items.next().await {
            let leaf = match item {
                ExportRangesItem::Size(size) if size > max => {
                    return Err(BlobError::WrongSize { hash: *hash, expected: max, actual: size });
                }
                ExportRangesItem::Size(_) => continue,
                ExportRangesItem::Data(leaf) => leaf,
                ExportRangesItem::Error(e) => return Err(store_error(e)),
            };
            total += leaf.data.len() as u64;
            if total > max {
                return Err(BlobError::WrongSize { hash: *hash, expected: max, actual: total });
            }
            hasher.update(&leaf.data);
            out.write_all(&leaf.data).await.map_err(io)?;
        }
        let actual = BlobHash(Hash::from_bytes(*hasher.finalize().as_bytes()));
        if actual != *hash {
            return Err(BlobError::Damaged { expected: *hash, actual });
        }
        Ok(total)
    }

    /// Every blob in the store, complete or partial (see [`BlobStore::size`]).
    pub async fn list(&self) -> Result<Vec<BlobHash>, BlobError> {
        let hashes = self.fs().await?.blobs().list().hashes().await.map_err(store_error)?;
        Ok(hashes.into_iter().map(from_iroh).collect())
    }

    /// Holds `hashes` against garbage collection until the guard is
    /// dropped: taken before an operation stores them, dropped once the
    /// events that name them are committed (or the operation gave up).
    /// Waits while a collection runs.
    pub async fn protect(&self, hashes: impl IntoIterator<Item = BlobHash>) -> Guard {
        self.guards.protect(hashes).await
    }

    /// Holds off garbage collection until the guard is dropped, for an
    /// operation that learns its blobs' hashes only as it stores them.
    pub async fn protect_unnamed(&self) -> Guard {
        self.guards.protect_unnamed().await
    }

    /// Starts a collection: waits for the operations that hold it off,
    /// and keeps new guards from being taken until the run is dropped.
    pub(crate) async fn start_collection(&self) -> Run<'_> {
        self.guards.start().await
    }

    /// Deletes every blob that is neither in `live` nor held by a guard,
    /// and the files of blobs the store's database does not list (what a
    /// process killed mid-import left: data written, its row never
    /// committed), and says what that freed.
    pub(crate) async fn sweep(&self, run: &Run<'_>, live: &HashSet<BlobHash>) -> Result<Freed, BlobError> {
        let mut keep = live.clone();
        keep.extend(run.held.iter().copied());
        // Rows still in iroh-blobs' open transaction are listed too.
        self.sync().await?;
        let mut candidates = Vec::new();
        for hash in self.list().await? {
            if !keep.contains(&hash) {
                candidates.push((hash, self.stored_size(&hash).await?));
            }
        }
        let mut freed = Freed::default();
        // Deleted by iroh-blobs, which removes their files itself.
        let mut deleted = keep.clone();
        let mut tries = 0;
        while !candidates.is_empty() {
            self.guards.sweep(run, &keep).await.map_err(|e| BlobError::Store(e.into()))?;
            let mut left = Vec::new();
            for (hash, size) in candidates {
                match self.fs().await?.blobs().status(to_iroh(&hash)).await.map_err(store_error)? {
                    BlobStatus::NotFound => {
                        freed.blobs += 1;
                        freed.bytes += size;
                        deleted.insert(hash);
                    }
                    _ => left.push((hash, size)),
                }
            }
            // iroh-blobs keeps what was written while it ran (a fetch
            // finishing, its state saved as it closes): tried again, a few
            // times, and otherwise left to the next collection.
            tries += 1;
            if tries == SWEEP_TRIES {
                break;
            }
            candidates = left;
            if !candidates.is_empty() {
                tokio::time::sleep(SWEEP_PAUSE).await;
            }
        }
        let listed: HashSet<BlobHash> = self.list().await?.into_iter().collect();
        let orphans = self.remove_orphan_files(&listed, &deleted).await;
        freed.blobs += orphans.blobs;
        freed.bytes += orphans.bytes;
        freed.kept = listed.len();
        Ok(freed)
    }

    /// Removes the files in the data folder of blobs that are neither
    /// listed by the store's database nor in `skip` (kept, or deleted by
    /// the store a moment ago). Only a process killed
    /// between writing a blob's file and committing its row leaves such
    /// files, and only during a collection run: nothing else writes there
    /// then but the fetches of kept or held blobs.
    async fn remove_orphan_files(&self, listed: &HashSet<BlobHash>, skip: &HashSet<BlobHash>) -> Freed {
        let mut freed = Freed::default();
        let Ok(entries) = std::fs::read_dir(self.root.join("data")) else { return freed };
        let mut orphans = HashSet::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some((stem, _)) = name.to_str().and_then(|n| n.split_once('.')) else { continue };
            let Some(hash) = hex::decode(stem).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) else { continue };
            let hash = BlobHash(Hash::from_bytes(hash));
            if listed.contains(&hash) || skip.contains(&hash) {
                continue;
            }
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if std::fs::remove_file(entry.path()).is_ok() {
                orphans.insert(hash);
                freed.bytes += len;
            }
        }
        freed.blobs = orphans.len();
        freed
    }

    /// The size of a blob, complete or as far as a partial one announced.
    async fn stored_size(&self, hash: &BlobHash) -> Result<u64, BlobError> {
        Ok(match self.fs().await?.blobs().status(to_iroh(hash)).await.map_err(store_error)? {
            BlobStatus::Complete { size } => size,
            BlobStatus::Partial { size } => size.unwrap_or(0),
            BlobStatus::NotFound => 0,
        })
    }

    /// Makes everything imported so far durable (nothing to do if the
    /// store was never loaded).
    pub async fn sync(&self) -> Result<(), BlobError> {
        match self.store.get() {
            Some(store) => store.sync_db().await.map_err(store_error),
            None => Ok(()),
        }
    }

    pub async fn shutdown(&self) -> Result<(), BlobError> {
        match self.store.get() {
            Some(store) => store.shutdown().await.map_err(store_error),
            None => Ok(()),
        }
    }
}

impl BlobStore {
    /// Streams `len` bytes of `path` from `offset` into the store, with no
    /// copy of our own: the store writes them once into its scratch file,
    /// hashing as it goes, and moves that into place. Returns the hash the
    /// store computed; a caller that expected another gets an unnamed blob
    /// left in the store (as a failed `add_file` does).
    pub async fn add_file_range(&self, path: &Path, offset: u64, len: u64) -> Result<BlobHash, BlobError> {
        let io = |source| BlobError::Io { path: path.to_owned(), source };
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(offset)).await.map_err(io)?;
        let chunks = n0_future::stream::unfold((file.take(len), false), |(mut input, done)| async move {
            if done {
                return None;
            }
            let mut chunk = vec![0u8; BLOCK.min(usize::try_from(input.limit()).unwrap_or(BLOCK))];
            match input.read(&mut chunk).await {
                Ok(0) if input.limit() > 0 => {
                    Some((Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)), (input, true)))
                }
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    Some((Ok(bytes::Bytes::from(chunk)), (input, false)))
                }
                Err(e) => Some((Err(e), (input, true))),
            }
        });
        let tag = self.fs().await?.blobs().add_stream(chunks).await.temp_tag().await;
        let tag = tag.map_err(|e| import_error(&e, &self.root))?;
        Ok(from_iroh(tag.hash()))
    }
}

#[cfg(test)]
mod tests {
    use super::{BlobStore, MAX_INLINE_BYTES};

    /// If an iroh-blobs upgrade changes where it keeps a blob's bytes, the
    /// fast paths of `get` would silently fall back to the slow ones (or
    /// read the wrong file): this fails first.
    #[tokio::test]
    async fn a_large_blob_is_kept_whole_in_the_data_file_named_by_its_hash() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BlobStore::open(dir.path()).await.expect("open");
        let bytes: Vec<u8> = (0..MAX_INLINE_BYTES as usize * 4).map(|i| (i * 7 % 251) as u8).collect();
        let hash = store.add_bytes(bytes.clone()).await.expect("add");
        store.sync().await.expect("sync");
        let file = store.data_file(&hash);
        assert!(file.starts_with(dir.path()), "{}", file.display());
        assert_eq!(std::fs::read(&file).expect("the data file is where data_file says"), bytes);
        store.shutdown().await.expect("shutdown");
    }
}
