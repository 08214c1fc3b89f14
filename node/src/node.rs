//! A node: one author's key and one store, opened by one process.
//!
//! Every command of the CLI is a method here (in the modules beside this
//! one), so that the CLI stays a thin layer and the future daemon and HTTP
//! API call exactly the same code.

use communs_protocol::{AuthorId, SecretKey};

use crate::home::{Home, HomeError};
use crate::keyfile::{self, KeyFileError};
use crate::lock::{LockError, StoreLock};
use crate::store::file_cache::FileCache;
use crate::store::{BlobError, BlobStore, EventStore, EventStoreError};

pub struct Node {
    pub(crate) home: Home,
    pub(crate) key: SecretKey,
    pub(crate) events: EventStore,
    pub(crate) blobs: BlobStore,
    pub(crate) file_cache: FileCache,
    // Last, so it is released after the stores are closed.
    _lock: StoreLock,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Events(#[from] EventStoreError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
}

impl Node {
    /// Opens the node's store. The identity must exist (`communs init`);
    /// a second process gets [`LockError::Held`].
    pub async fn open(home: Home) -> Result<Node, OpenError> {
        let key = keyfile::load(&home)?;
        let lock = StoreLock::acquire(&home)?;
        let store = home.store_dir();
        std::fs::create_dir_all(&store).map_err(|source| HomeError::Io { path: store.clone(), source })?;
        let events = EventStore::open(&store.join("events.redb"))?;
        let blobs = BlobStore::open(&store.join("blobs")).await?;
        let file_cache = FileCache::open(&store.join("file-cache.redb")).map_err(EventStoreError::Db)?;
        Ok(Node { home, key, events, blobs, file_cache, _lock: lock })
    }

    pub fn author(&self) -> AuthorId {
        self.key.author()
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Stores events that are already signed (from a peer, a bundle, a
    /// test): each needs its parents stored or earlier in the slice.
    /// Returns how many were new.
    pub fn insert_events(&self, events: &[communs_protocol::SignedEvent]) -> Result<usize, EventStoreError> {
        self.events.insert(events)
    }

    /// Stores bytes as a blob (durably) and returns their hash.
    pub async fn add_blob(&self, bytes: Vec<u8>) -> Result<communs_protocol::BlobHash, BlobError> {
        let hash = self.blobs.add_bytes(bytes).await?;
        self.blobs.sync().await?;
        Ok(hash)
    }

    /// Flushes and closes the blob store; the event store is durable after
    /// every write already.
    pub async fn close(self) -> Result<(), BlobError> {
        self.blobs.sync().await?;
        self.blobs.shutdown().await
    }
}
