//! A node: one author's key and one store, opened by one process.
//!
//! Every command of the CLI is a method here (in the modules beside this
//! one), so that the CLI stays a thin layer and a running node (`node
//! run`, its HTTP API) calls exactly the same code.

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
    /// Opened by the first publish: other commands never read it.
    file_cache: tokio::sync::OnceCell<FileCache>,
    /// The search index, opened by the first search (`search/`).
    pub(crate) search: crate::search::Search,
    /// The long work running now, for `node status`.
    pub(crate) activities: crate::progress::Activities,
    /// What a running node counts (`GET /metrics`).
    pub(crate) metrics: crate::metrics::Metrics,
    /// `[storage] max_bytes`, and the room fetches reserved under it.
    pub(crate) disk: crate::disk::DiskLimit,
    /// The config's seeding policy (`Node::configure_seeding`).
    pub(crate) configured_seed: std::sync::OnceLock<crate::policy::SeedPolicy>,
    /// Checks bulks of events (bundles, catch-up batches, backups) on every
    /// core, keeping frequent authors' keys from one bulk to the next.
    pub(crate) verifier: std::sync::Arc<communs_protocol::bulk::BulkVerifier>,
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

/// Creates the store's databases in a scratch folder and renames it into
/// place, so that a process killed during the very first open leaves no
/// half-written database behind (redb refuses a file whose header was cut
/// short).
async fn create_store(home: &Home) -> Result<(), OpenError> {
    let store = home.store_dir();
    let partial = home.root().join("store.partial");
    let io = |path: &std::path::Path| {
        let path = path.to_owned();
        move |source| HomeError::Io { path, source }
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    std::fs::create_dir_all(&partial).map_err(io(&partial))?;
    drop(EventStore::open(&partial.join("events.redb"))?);
    drop(FileCache::open(&partial.join("file-cache.redb")).map_err(EventStoreError::Db)?);
    let blobs = BlobStore::open(&partial.join("blobs")).await?;
    blobs.store().await?;
    blobs.sync().await?;
    blobs.shutdown().await?;
    std::fs::File::open(&partial).and_then(|d| d.sync_all()).map_err(io(&partial))?;
    std::fs::rename(&partial, &store).map_err(io(&store))?;
    std::fs::File::open(home.root()).and_then(|d| d.sync_all()).map_err(io(home.root()))?;
    Ok(())
}

impl Node {
    /// Opens the node's store, for a running node. The identity must
    /// exist (`communs init`); a second process gets [`LockError::Held`].
    pub async fn open(home: Home) -> Result<Node, OpenError> {
        let key = keyfile::load(&home)?;
        Self::open_with(home, key, EventStore::open).await
    }

    /// Opens the node's store for one command: the event database stays
    /// read-only (no write, no sync) unless the command writes.
    pub async fn open_for_one_command(home: Home) -> Result<Node, OpenError> {
        let key = keyfile::load(&home)?;
        Self::open_with(home, key, EventStore::open_for_one_command).await
    }

    /// Opens (creating) the store of a data directory whose key is not
    /// written yet: a restore writes the key last, once the store holds
    /// everything, so that an interrupted restore leaves no identity.
    pub(crate) async fn open_without_key_file(home: Home, key: SecretKey) -> Result<Node, OpenError> {
        Self::open_with(home, key, EventStore::open).await
    }

    async fn open_with(
        home: Home,
        key: SecretKey,
        open_events: fn(&std::path::Path) -> Result<EventStore, EventStoreError>,
    ) -> Result<Node, OpenError> {
        let lock = StoreLock::acquire(&home)?;
        let store = home.store_dir();
        if !store.exists() {
            create_store(&home).await?;
        }
        let events = open_events(&store.join("events.redb"))?;
        let blobs = BlobStore::open(&store.join("blobs")).await?;
        Ok(Node {
            home,
            key,
            events,
            blobs,
            file_cache: tokio::sync::OnceCell::new(),
            search: Default::default(),
            activities: Default::default(),
            metrics: crate::metrics::Metrics::new(),
            disk: Default::default(),
            configured_seed: Default::default(),
            verifier: std::sync::Arc::new(communs_protocol::bulk::BulkVerifier::new(
                std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN),
            )),
            _lock: lock,
        })
    }

    /// The cache of published files' hashes, opened on first use.
    pub(crate) async fn file_cache(&self) -> Result<&FileCache, EventStoreError> {
        let path = self.home.store_dir().join("file-cache.redb");
        self.file_cache.get_or_try_init(|| async { FileCache::open(&path).map_err(EventStoreError::Db) }).await
    }

    /// What this node counts, for Prometheus.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
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

    /// Every event as it is stored, from any source (a receiver that lags
    /// misses some and is told so).
    pub fn watch_events(&self) -> tokio::sync::broadcast::Receiver<communs_protocol::SignedEvent> {
        self.events.subscribe()
    }

    /// Stores bytes as a blob (durably) and returns their hash.
    pub async fn add_blob(&self, bytes: Vec<u8>) -> Result<communs_protocol::BlobHash, BlobError> {
        let hash = self.blobs.add_bytes(bytes).await?;
        self.blobs.sync().await?;
        Ok(hash)
    }

    /// Signs `body` on top of the design's current heads and stores it,
    /// durably.
    pub(crate) fn append(
        &self,
        design: &communs_protocol::DesignId,
        body: communs_protocol::Body,
        now_ms: u64,
    ) -> Result<communs_protocol::SignedEvent, crate::NodeError> {
        let unsigned = self.prepare(design, body, now_ms)?;
        self.append_prepared(unsigned)
    }

    /// The event [`Node::append`] would sign now, unsigned: its parents
    /// and clock chosen from the design's heads.
    pub(crate) fn prepare(
        &self,
        design: &communs_protocol::DesignId,
        body: communs_protocol::Body,
        now_ms: u64,
    ) -> Result<communs_protocol::UnsignedEvent, crate::NodeError> {
        // Not every head: strangers' unreviewed heads may be many (more
        // than MAX_PARENTS), a maintainer's event would claim them, and a
        // stranger's may not build on them.
        let named: Vec<communs_protocol::EventId> = match &body {
            communs_protocol::Body::Revision(r) => r.base.clone(),
            communs_protocol::Body::Approve { target } | communs_protocol::Body::Retract { target } => vec![*target],
            _ => Vec::new(),
        };
        let heads = self.events.parents_for(design, self.author(), &named)?;
        Ok(communs_protocol::UnsignedEvent {
            design: Some(*design),
            author: self.author(),
            parents: heads.iter().map(|(id, _)| *id).collect(),
            clock: 1 + heads.iter().map(|(_, clock)| *clock).max().unwrap_or(0),
            time: now_ms,
            body,
        })
    }

    /// Signs and stores an event [`Node::prepare`] made.
    pub(crate) fn append_prepared(
        &self,
        unsigned: communs_protocol::UnsignedEvent,
    ) -> Result<communs_protocol::SignedEvent, crate::NodeError> {
        let event = self.sign(unsigned)?;
        self.events.insert(std::slice::from_ref(&event))?;
        if !self.events.contains(&event.id())? {
            // Taken out at once by the bound on unclaimed contributions.
            return Err(crate::store::EventStoreError::Refused {
                event: event.id(),
                refusal: communs_protocol::governance::Refusal::OverQuota { author: self.author() },
            }
            .into());
        }
        Ok(event)
    }

    /// Flushes and closes the blob store; the event store is durable after
    /// every write already.
    pub async fn close(self) -> Result<(), BlobError> {
        self.flush().await
    }

    /// [`Node::close`] for a node still shared with tasks that are ending.
    pub async fn flush(&self) -> Result<(), BlobError> {
        self.blobs.sync().await?;
        self.blobs.shutdown().await
    }
}
