//! Keeping the files of every kept design (spec/network.md, "Seeding").
//!
//! Which designs may lack files is work recorded in a queue, not only a
//! signal: the store's broadcast of new events is lossy (a receiver that
//! lags is only told it missed some), so the queue is refilled from the
//! store itself — every kept design at start-up and whenever the broadcast
//! lagged — and a design whose files no peer could send yet is tried again
//! after the next catch-up. A restart loses nothing: the start-up scan
//! finds what the last run left unfetched.

use std::collections::{BTreeSet, HashSet, VecDeque};

use communs_protocol::DesignId;
use futures::StreamExt;
use futures::future::OptionFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::oneshot;

use super::{FilesError, Network};
use crate::NodeError;

/// Designs checked and fetched together, at most: their trees travel on
/// shared streams, their files too, and the store is made durable once
/// for all of them (see [`Network::fetch_revisions`]). A design of one
/// small file alone would cost two streams, two round trips and a sync.
pub const SEED_BATCH: usize = 256;

/// Batches worked at once: while one reads the store, another's transfers
/// run. Bounded so that a burst of thousands of new designs is worked
/// through, not started all at once.
pub const SEED_CONCURRENCY: usize = 2;

/// The designs waiting for their files to be checked and fetched, each
/// once, oldest first: a state machine owned by the driver, so that a
/// design queued when it becomes kept is counted as queued in the same
/// step (`node status` never shows it kept and nothing queued). Other
/// tasks reach it through [`SeedMessage`]s.
#[derive(Default)]
pub(super) struct SeedQueue {
    queued: VecDeque<DesignId>,
    members: HashSet<DesignId>,
    /// Designs whose last fetch found no peer with the files: tried again
    /// after the next catch-up (a peer then has the events, and soon the
    /// files).
    failed: BTreeSet<DesignId>,
    /// Designs being fetched.
    active: usize,
}

impl SeedQueue {
    pub(super) fn push(&mut self, design: DesignId) {
        self.failed.remove(&design);
        if self.members.insert(design) {
            self.queued.push_back(design);
        }
    }

    fn pop(&mut self) -> Option<DesignId> {
        let design = self.queued.pop_front()?;
        self.members.remove(&design);
        Some(design)
    }

    /// Takes up to [`SEED_BATCH`] designs to fetch, counted as being
    /// fetched until [`SeedQueue::done`].
    pub(super) fn take_batch(&mut self) -> Vec<DesignId> {
        let batch: Vec<DesignId> = std::iter::from_fn(|| self.pop()).take(SEED_BATCH).collect();
        self.active += batch.len();
        batch
    }

    /// A batch of `taken` designs ended; `failed` found no peer with
    /// their files (unless queued again meanwhile, they wait for the next
    /// catch-up).
    pub(super) fn done(&mut self, taken: usize, failed: Vec<DesignId>) {
        self.active = self.active.saturating_sub(taken);
        for design in failed {
            if !self.members.contains(&design) {
                self.failed.insert(design);
            }
        }
    }

    /// Queues again the designs whose files could not be fetched; returns
    /// how many.
    pub(super) fn retry(&mut self) -> usize {
        let failed = std::mem::take(&mut self.failed);
        let count = failed.len();
        for design in failed {
            self.push(design);
        }
        count
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// The queue's lengths, for `node status` (the DHT's part is the
    /// driver's).
    pub(super) fn status(&self) -> super::SeedingStatus {
        super::SeedingStatus {
            queued: self.queued.len(),
            fetching: self.active,
            waiting_for_peers: self.failed.len(),
            announcing: 0,
        }
    }
}

/// What tasks tell the driver about the seed queue. They travel on a
/// channel of their own, unbounded so that sending never waits nor fails
/// while the driver runs (a `get`'s claim queues its design when dropped,
/// in no async context): work is never lost to a full channel. The driver
/// reads them all before it answers `node status`.
pub(super) enum SeedMessage {
    /// Queue these designs.
    Queue(Vec<DesignId>),
    /// Queue again the designs no peer could serve (after a catch-up).
    Retry,
    /// The seeder asks for a batch; answered when there is one.
    Take(oneshot::Sender<Vec<DesignId>>),
    /// The seeder ended a batch of `taken` designs.
    Done { taken: usize, failed: Vec<DesignId> },
}

impl Network {
    /// Queues `designs` for their files to be fetched (those already here
    /// cost a look at the store).
    pub(super) fn seed(&self, designs: impl IntoIterator<Item = DesignId>) {
        let designs: Vec<DesignId> = designs.into_iter().collect();
        if !designs.is_empty() {
            let _ = self.shared.seeds.send(SeedMessage::Queue(designs));
        }
    }

    /// Queues every kept design the store holds: at start-up, and when
    /// the signal of new events was lost.
    pub(crate) async fn seed_everything(&self) {
        let _ = self.send(super::Command::SeedEverything).await;
    }

    /// Queues again the designs whose files could not be fetched.
    pub(super) fn retry_seeds(&self) {
        let _ = self.shared.seeds.send(SeedMessage::Retry);
    }

    /// Works through the queue, [`SEED_CONCURRENCY`] batches of up to
    /// [`SEED_BATCH`] designs at a time, until the network stops (the
    /// driver aborts this task).
    pub(super) async fn run_seeder(self) {
        let mut running = FuturesUnordered::new();
        let mut asking: Option<oneshot::Receiver<Vec<DesignId>>> = None;
        loop {
            if asking.is_none() && running.len() < SEED_CONCURRENCY {
                let (reply, answer) = oneshot::channel();
                if self.shared.seeds.send(SeedMessage::Take(reply)).is_err() {
                    return;
                }
                asking = Some(answer);
            }
            tokio::select! {
                Some(batch) = OptionFuture::from(asking.as_mut()), if asking.is_some() => {
                    asking = None;
                    // The driver is gone: the network has stopped.
                    let Ok(batch) = batch else { return };
                    let network = self.clone();
                    running.push(async move { (batch.len(), network.seed_batch(batch).await) });
                }
                Some((taken, results)) = running.next(), if !running.is_empty() => {
                    let mut failed = Vec::new();
                    for (design, result) in results {
                        if let Err(e) = result {
                            tracing::debug!("files of {design} not fetched: {e}");
                            failed.push(design);
                        }
                    }
                    if self.shared.seeds.send(SeedMessage::Done { taken, failed }).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Fetches what the store lacks of the revisions this node would check
    /// out of `batch`, together. A design a `get` is checking out is left
    /// to it; it is queued again when the `get` ends. Returns the designs
    /// whose fetch is worth trying again later (no peer had the files),
    /// each with why; other errors are logged.
    async fn seed_batch(&self, batch: Vec<DesignId>) -> Vec<(DesignId, Result<(), FilesError>)> {
        // Queued while kept (or by a `get` that ended), unfollowed or
        // removed since: their files are garbage to this node now.
        // Set aside by the storage limit meanwhile: tried again when space
        // frees up (`disk`), not before.
        // Those the seeding policy does not host are skipped too.
        let node = &self.shared.node;
        let kept: Vec<DesignId> = batch
            .into_iter()
            .filter(|design| {
                self.keeps(design) && !node.disk.is_set_aside(design) && node.hosts_files(design).unwrap_or(true)
            })
            .collect();
        let claimed: Vec<DesignId> = {
            let Ok(mut fetching) = self.shared.fetching.lock() else { return Vec::new() };
            kept.into_iter()
                .filter(|design| match fetching.get_mut(design) {
                    Some(again) => {
                        *again = true;
                        false
                    }
                    None => {
                        fetching.insert(*design, false);
                        true
                    }
                })
                .collect()
        };
        if claimed.is_empty() {
            return Vec::new();
        }
        let wanted: Vec<_> = claimed.iter().map(|design| (*design, None)).collect();
        let subject = match &claimed[..] {
            [design] => design.to_string(),
            many => format!("{} designs", many.len()),
        };
        let activity = self.shared.node.activities.begin("seed", subject);
        let results = self.fetch_revisions(&wanted, &activity).await;
        drop(activity);
        // Unfollowed or removed meanwhile: the collection that followed
        // kept what this fetch held; free it now.
        if claimed.iter().any(|design| !self.keeps(design)) {
            crate::gc::collect_in_background(self.shared.node.clone());
        }
        let again: Vec<DesignId> = match self.shared.fetching.lock() {
            Ok(mut fetching) => {
                claimed.iter().filter(|design| fetching.remove(design) == Some(true)).copied().collect()
            }
            Err(_) => Vec::new(),
        };
        if !again.is_empty() {
            self.seed(again);
        }
        let (mut blobs, mut bytes, mut designs) = (0, 0, 0);
        let mut retry = Vec::new();
        for (design, result) in results {
            match result {
                Ok(report) => {
                    if report.fetched > 0 {
                        designs += 1;
                        blobs += report.fetched;
                        bytes += report.bytes;
                    }
                }
                // Nothing to fetch until the log changes (a design without
                // a canonical revision, a tree that is not one): the next
                // event of the design queues it again. One that did not fit
                // under the storage limit is tried when space frees up.
                Err(FilesError::Node(
                    e @ (NodeError::NoCanonical(_) | NodeError::UnknownRevision { .. } | NodeError::NoSpace(_)),
                )) => {
                    tracing::debug!("files of {design} not fetched: {e}");
                }
                Err(e) => retry.push((design, Err(e))),
            }
        }
        if blobs > 0 {
            tracing::info!("fetched {blobs} blobs ({bytes} bytes) of {designs} designs");
        }
        retry
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::{DesignId, Hash};

    use super::SeedQueue;

    fn design(n: u8) -> DesignId {
        DesignId::from_hash(Hash::from_bytes([n; 32]))
    }

    #[test]
    fn batches_are_counted_until_done_and_failures_wait_for_a_retry() {
        let mut queue = SeedQueue::default();
        for n in 0..=u8::try_from(super::SEED_BATCH / 2).expect("small") {
            queue.push(design(n));
        }
        let first = queue.take_batch();
        assert_eq!(first.len(), super::SEED_BATCH / 2 + 1);
        assert!(queue.is_empty());
        assert_eq!(queue.status().fetching, first.len());
        // Design 1 was queued again while its fetch ran: not a failure.
        queue.push(design(1));
        queue.done(first.len(), vec![design(0), design(1)]);
        let status = queue.status();
        assert_eq!((status.queued, status.fetching, status.waiting_for_peers), (1, 0, 1));
        assert_eq!(queue.retry(), 1);
        assert_eq!(queue.take_batch(), vec![design(1), design(0)]);
        assert_eq!(queue.retry(), 0);
    }

    #[test]
    fn a_design_waits_once_in_order_and_leaves_the_failed_set_when_queued_again() {
        let mut queue = SeedQueue::default();
        queue.failed.insert(design(2));
        for n in [1, 2, 1, 3, 2] {
            queue.push(design(n));
        }
        assert_eq!(queue.queued.len(), 3);
        assert!(queue.failed.is_empty(), "a queued design is no longer a failed one");
        let order: Vec<DesignId> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, vec![design(1), design(2), design(3)]);
        queue.push(design(1));
        assert_eq!(queue.pop(), Some(design(1)), "a design leaves the queue when taken and may come back");
    }
}
