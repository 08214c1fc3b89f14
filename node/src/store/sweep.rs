//! Freeing blobs: the guards that operations in progress hold, and the
//! sweep that deletes what is neither live nor guarded.
//!
//! iroh-blobs deletes blobs only from its own garbage collector (its delete
//! is not public), so the store is opened with that collector on, driven
//! from here: each run waits, inside the collector's "protect" callback,
//! until this node asks for one with its live set (computed from the event
//! log, `crate::gc`). The collector then keeps that set, its own tags and
//! the blobs written during the run, and deletes the rest.
//!
//! A blob that an operation is about to store is not named by any
//! committed event yet. Such an operation holds a [`Guard`] taken before it
//! stores anything and dropped after its events are committed: a run reads
//! the guarded hashes when it starts, and a guard asked for during a run
//! waits for the run to end (runs are short: a list and deletes), so a blob
//! is always either named by a committed event, guarded, or garbage.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use communs_protocol::BlobHash;
use iroh_blobs::Hash;
use iroh_blobs::store::{GcConfig, ProtectCb, ProtectOutcome};
use tokio::sync::{OwnedRwLockReadGuard, RwLock, RwLockWriteGuard, mpsc, oneshot};

use super::blobs::to_iroh;

/// How long iroh-blobs' collector pauses between two runs before it asks
/// for the next one (it then waits for a request, costing nothing).
const COLLECTOR_PAUSE: Duration = Duration::from_millis(5);

/// A run asked of the collector: the hashes to keep, and who to tell when
/// it has ended.
type Request = (HashSet<Hash>, oneshot::Sender<()>);

/// The blobs that operations in progress hold, and the gate that makes a
/// run and the taking of a guard exclusive.
pub(crate) struct Guards {
    held: Arc<Mutex<HashMap<BlobHash, usize>>>,
    /// Read by whoever takes a guard (for a moment, or for a whole
    /// operation whose hashes are not known in advance), written by a run.
    gate: Arc<RwLock<()>>,
    requests: mpsc::Sender<Request>,
}

/// Hashes held by an operation in progress; released when dropped.
#[must_use = "the blobs are protected only while the guard lives"]
pub struct Guard {
    held: Arc<Mutex<HashMap<BlobHash, usize>>>,
    hashes: Vec<BlobHash>,
    /// For an operation whose hashes are learnt as it stores them: no run
    /// starts until it ends.
    _unnamed: Option<OwnedRwLockReadGuard<()>>,
}

impl Guard {
    /// Adds hashes to those this guard holds: only while no run can start
    /// (in [`Guards::protect`], which holds the gate).
    fn extend(&mut self, hashes: impl IntoIterator<Item = BlobHash>) {
        let Ok(mut held) = self.held.lock() else { return };
        for hash in hashes {
            *held.entry(hash).or_default() += 1;
            self.hashes.push(hash);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Ok(mut held) = self.held.lock() else { return };
        for hash in &self.hashes {
            if let Some(count) = held.get_mut(hash) {
                *count -= 1;
                if *count == 0 {
                    held.remove(hash);
                }
            }
        }
    }
}

/// A run in progress: the guards held when it started, and the gate held
/// until it ends.
pub(crate) struct Run<'a> {
    pub held: HashSet<BlobHash>,
    _gate: RwLockWriteGuard<'a, ()>,
}

impl Guards {
    /// The guards, and iroh-blobs' collector configured to run when asked.
    pub(crate) fn new() -> (Guards, GcConfig) {
        let (requests, receiver) = mpsc::channel::<Request>(1);
        let collector = Arc::new(Collector { requests: tokio::sync::Mutex::new(receiver), ended: Mutex::new(None) });
        let protect: ProtectCb = Arc::new(move |live: &mut HashSet<Hash>| {
            let collector = collector.clone();
            Box::pin(async move { collector.next(live).await })
        });
        let guards = Guards { held: Arc::default(), gate: Arc::new(RwLock::new(())), requests };
        (guards, GcConfig { interval: COLLECTOR_PAUSE, add_protected: Some(protect) })
    }

    /// Holds `hashes` until the guard is dropped; waits for a run in
    /// progress to end.
    pub(crate) async fn protect(&self, hashes: impl IntoIterator<Item = BlobHash>) -> Guard {
        let _no_run = self.gate.read().await;
        let mut guard = Guard { held: self.held.clone(), hashes: Vec::new(), _unnamed: None };
        guard.extend(hashes);
        guard
    }

    /// Keeps any run from starting until the guard is dropped, for an
    /// operation that learns its hashes only by storing its blobs (a
    /// publish hashes each file as it imports it).
    pub(crate) async fn protect_unnamed(&self) -> Guard {
        let gate = self.gate.clone().read_owned().await;
        Guard { held: self.held.clone(), hashes: Vec::new(), _unnamed: Some(gate) }
    }

    /// Starts a run: waits until no operation holds the gate, then returns
    /// the hashes guarded now. No guard is taken until the run is dropped.
    pub(crate) async fn start(&self) -> Run<'_> {
        let gate = self.gate.write().await;
        let held = self.held.lock().map(|h| h.keys().copied().collect()).unwrap_or_default();
        Run { held, _gate: gate }
    }

    /// Has iroh-blobs' collector delete every blob but `keep` (and its own
    /// tags and blobs written meanwhile), and waits until it has.
    pub(crate) async fn sweep(&self, _run: &Run<'_>, keep: &HashSet<BlobHash>) -> Result<(), String> {
        let (ended, done) = oneshot::channel();
        let keep = keep.iter().map(to_iroh).collect();
        self.requests.send((keep, ended)).await.map_err(|_| STOPPED.to_owned())?;
        done.await.map_err(|_| STOPPED.to_owned())
    }
}

const STOPPED: &str = "the blob store's garbage collector stopped after an error (see the log)";

/// The side of iroh-blobs' collector: before each run it asks for the next
/// request, which also tells it the previous run ended.
struct Collector {
    requests: tokio::sync::Mutex<mpsc::Receiver<Request>>,
    ended: Mutex<Option<oneshot::Sender<()>>>,
}

impl Collector {
    async fn next(&self, live: &mut HashSet<Hash>) -> ProtectOutcome {
        if let Some(ended) = self.ended.lock().ok().and_then(|mut e| e.take()) {
            let _ = ended.send(());
        }
        let request = self.requests.lock().await.recv().await;
        match request {
            Some((keep, ended)) => {
                live.extend(keep);
                if let Ok(mut slot) = self.ended.lock() {
                    *slot = Some(ended);
                }
                ProtectOutcome::Continue
            }
            // The store is closing: no run will be asked for again.
            None => std::future::pending().await,
        }
    }
}
