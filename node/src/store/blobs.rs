//! File contents, in the iroh-blobs file store.
//!
//! iroh-blobs keeps each blob with its BLAKE3 outboard so that it can later
//! be served by verified streaming. Reads that leave the store (a checkout,
//! `fsck`) are re-hashed here while streaming: a byte altered on disk is
//! caught, never handed to the maker.

use std::path::{Path, PathBuf};

use communs_protocol::{BlobHash, Hash};
use iroh_blobs::BlobFormat;
use iroh_blobs::api::blobs::{AddPathOptions, ImportMode};
use iroh_blobs::store::fs::FsStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store: {0}")]
    Store(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("blob {0} is not in this store")]
    Missing(BlobHash),
    #[error("blob {expected} is damaged in the store: its bytes hash to {actual}; run `communs fsck`")]
    Damaged { expected: BlobHash, actual: BlobHash },
    #[error("blob {hash} is {actual} bytes in the store, expected {expected}")]
    WrongSize { hash: BlobHash, expected: u64, actual: u64 },
}

fn store_error(e: impl std::fmt::Debug) -> BlobError {
    BlobError::Store(format!("{e:?}"))
}

fn to_iroh(hash: &BlobHash) -> iroh_blobs::Hash {
    iroh_blobs::Hash::from_bytes(*hash.as_bytes())
}

fn from_iroh(hash: iroh_blobs::Hash) -> BlobHash {
    BlobHash(Hash::from_bytes(*hash.as_bytes()))
}

pub struct BlobStore {
    store: FsStore,
}

/// Size of the buffer used to stream a blob out of the store.
const COPY_BUFFER: usize = 1 << 20;

impl BlobStore {
    pub async fn open(dir: &Path) -> Result<Self, BlobError> {
        let store = FsStore::load(dir).await.map_err(store_error)?;
        Ok(BlobStore { store })
    }

    /// Imports a file (copied into the store, hashed once). Returns the
    /// hash and size of what was imported, which is what counts if the file
    /// changed since it was listed.
    pub async fn add_file(&self, path: &Path) -> Result<(BlobHash, u64), BlobError> {
        let options = AddPathOptions { path: path.to_owned(), format: BlobFormat::Raw, mode: ImportMode::Copy };
        let tag = self.store.blobs().add_path_with_opts(options).temp_tag().await.map_err(store_error)?;
        let hash = from_iroh(tag.hash());
        let size = self.size(&hash).await?.ok_or(BlobError::Missing(hash))?;
        Ok((hash, size))
    }

    /// The size of a complete blob, `None` if absent or partial.
    pub async fn size(&self, hash: &BlobHash) -> Result<Option<u64>, BlobError> {
        match self.store.blobs().status(to_iroh(hash)).await.map_err(store_error)? {
            iroh_blobs::api::blobs::BlobStatus::Complete { size } => Ok(Some(size)),
            _ => Ok(None),
        }
    }

    pub async fn add_bytes(&self, bytes: Vec<u8>) -> Result<BlobHash, BlobError> {
        let tag = self.store.blobs().add_bytes(bytes).temp_tag().await.map_err(store_error)?;
        Ok(from_iroh(tag.hash()))
    }

    pub async fn has(&self, hash: &BlobHash) -> Result<bool, BlobError> {
        self.store.blobs().has(to_iroh(hash)).await.map_err(store_error)
    }

    /// Reads a whole blob into memory, verified (for trees and small files).
    pub async fn read(&self, hash: &BlobHash, max: u64) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        self.copy_verified(hash, max, &mut out).await?;
        Ok(out)
    }

    /// Writes a blob of `size` bytes to `target` (created or truncated),
    /// verifying hash and size while streaming; on a mismatch the file is
    /// removed.
    pub async fn export(&self, hash: &BlobHash, size: u64, target: &Path) -> Result<(), BlobError> {
        let io = |source| BlobError::Io { path: target.to_owned(), source };
        let mut file = tokio::fs::File::create(target).await.map_err(io)?;
        let result = match self.copy_verified(hash, size, &mut file).await {
            Ok(written) if written != size => {
                Err(BlobError::WrongSize { hash: *hash, expected: size, actual: written })
            }
            Ok(_) => file.flush().await.map_err(io),
            Err(e) => Err(e),
        };
        if result.is_err() {
            drop(file);
            let _ = tokio::fs::remove_file(target).await;
        }
        result
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
        let mut reader = self.store.blobs().reader(to_iroh(hash));
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; COPY_BUFFER];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buffer).await.map_err(store_error)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max {
                return Err(BlobError::WrongSize { hash: *hash, expected: max, actual: total });
            }
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n]).await.map_err(|source| BlobError::Io { path: PathBuf::new(), source })?;
        }
        let actual = BlobHash(Hash::from_bytes(*hasher.finalize().as_bytes()));
        if actual != *hash {
            return Err(BlobError::Damaged { expected: *hash, actual });
        }
        Ok(total)
    }

    /// Every complete blob in the store.
    pub async fn list(&self) -> Result<Vec<BlobHash>, BlobError> {
        let hashes = self.store.blobs().list().hashes().await.map_err(store_error)?;
        Ok(hashes.into_iter().map(from_iroh).collect())
    }

    /// Makes everything imported so far durable.
    pub async fn sync(&self) -> Result<(), BlobError> {
        self.store.sync_db().await.map_err(store_error)
    }

    pub async fn shutdown(&self) -> Result<(), BlobError> {
        self.store.shutdown().await.map_err(store_error)
    }
}
