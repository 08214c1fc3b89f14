//! Progress of long work (publish, get, sync, catch-up, collection...),
//! reported to whoever watches.
//!
//! The node only counts. Work that runs registers an [`Activity`] in the
//! node's [`Activities`], which `node status` lists (bytes and items done
//! and to do, rate, peers serving); the CLI decides whether counts become a
//! progress bar (a terminal, large work) or nothing (`--json`, scripts),
//! and a client of the API may ask for them as they change (`Accept:
//! application/x-ndjson`, spec/api.md), which the API reads from a
//! [`Counters`] passed in as the work's `Progress`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Peers listed per activity, at most: a seeding batch may ask many.
pub const MAX_PEERS_SHOWN: usize = 8;

/// The span over which a rate is measured: recent enough to follow a
/// change of speed, long enough not to jump with each chunk.
const RATE_WINDOW: Duration = Duration::from_secs(5);

pub trait Progress: Send + Sync {
    /// The work ahead: total bytes and items. Called again when more work
    /// is found (a sync learns each design's files as it reads its tree).
    fn start(&self, _bytes: u64, _items: usize) {}
    /// `bytes` more are done.
    fn advance(&self, _bytes: u64) {}
    /// `items` more (events, files, designs) are done.
    fn advance_items(&self, _items: usize) {}
    /// `peer` sends (or is sent) part of the work.
    fn serving(&self, _peer: &str) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// One progress feeding two: the node's own record and the caller's.
pub struct Both<'a>(pub &'a dyn Progress, pub &'a dyn Progress);

impl Progress for Both<'_> {
    fn start(&self, bytes: u64, items: usize) {
        self.0.start(bytes, items);
        self.1.start(bytes, items);
    }
    fn advance(&self, bytes: u64) {
        self.0.advance(bytes);
        self.1.advance(bytes);
    }
    fn advance_items(&self, items: usize) {
        self.0.advance_items(items);
        self.1.advance_items(items);
    }
    fn serving(&self, peer: &str) {
        self.0.serving(peer);
        self.1.serving(peer);
    }
    fn finish(&self) {
        self.0.finish();
        self.1.finish();
    }
}

/// Counts of one piece of work, read by others while it runs.
#[derive(Debug)]
pub struct Counters {
    started: Instant,
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    items_done: AtomicU64,
    items_total: AtomicU64,
    peers: Mutex<BTreeSet<String>>,
    /// `(when, bytes_done)` of past reads, for the rate.
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters::new(Instant::now())
    }
}

/// What a piece of work has done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProgressView {
    pub bytes_done: u64,
    /// 0 while unknown.
    pub bytes_total: u64,
    pub items_done: u64,
    /// 0 while unknown.
    pub items_total: u64,
    /// Bytes per second over the last few seconds.
    pub rate_bytes_per_second: u64,
    /// Peers sending or receiving part of it (at most 8 listed).
    pub peers: Vec<String>,
    /// Since it started, in milliseconds.
    pub elapsed_ms: u64,
}

impl Counters {
    pub fn new(started: Instant) -> Counters {
        Counters {
            started,
            bytes_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            items_done: AtomicU64::new(0),
            items_total: AtomicU64::new(0),
            peers: Mutex::new(BTreeSet::new()),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// The counts at `now`, with the rate over the last [`RATE_WINDOW`]
    /// (over the whole work while it is younger than that, or while
    /// nobody read it for longer).
    pub fn view(&self, now: Instant) -> ProgressView {
        let bytes_done = self.bytes_done.load(Ordering::Relaxed);
        let rate = match self.samples.lock() {
            Ok(mut samples) => {
                while samples.len() > 1 && samples.get(1).is_some_and(|(t, _)| now.duration_since(*t) >= RATE_WINDOW) {
                    samples.pop_front();
                }
                let (since, base) = match samples.front() {
                    Some(&(t, bytes)) if now.duration_since(t) > Duration::ZERO => (t, bytes),
                    _ => (self.started, 0),
                };
                if samples.back().is_none_or(|(t, _)| now.duration_since(*t) >= Duration::from_millis(250)) {
                    samples.push_back((now, bytes_done));
                }
                rate(bytes_done.saturating_sub(base), now.duration_since(since))
            }
            Err(_) => 0,
        };
        ProgressView {
            bytes_done,
            bytes_total: self.bytes_total.load(Ordering::Relaxed),
            items_done: self.items_done.load(Ordering::Relaxed),
            items_total: self.items_total.load(Ordering::Relaxed),
            rate_bytes_per_second: rate,
            peers: self.peers.lock().map(|p| p.iter().cloned().collect()).unwrap_or_default(),
            elapsed_ms: now.duration_since(self.started).as_millis() as u64,
        }
    }
}

fn rate(bytes: u64, over: Duration) -> u64 {
    bytes.saturating_mul(1000).checked_div(over.as_millis() as u64).unwrap_or(0)
}

impl Progress for Counters {
    fn start(&self, bytes: u64, items: usize) {
        self.bytes_total.store(bytes, Ordering::Relaxed);
        self.items_total.store(items as u64, Ordering::Relaxed);
    }
    fn advance(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
    fn advance_items(&self, items: usize) {
        self.items_done.fetch_add(items as u64, Ordering::Relaxed);
    }
    fn serving(&self, peer: &str) {
        if let Ok(mut peers) = self.peers.lock()
            && peers.len() < MAX_PEERS_SHOWN
        {
            peers.insert(peer.to_owned());
        }
    }
}

impl Progress for Arc<Counters> {
    fn start(&self, bytes: u64, items: usize) {
        self.as_ref().start(bytes, items)
    }
    fn advance(&self, bytes: u64) {
        self.as_ref().advance(bytes)
    }
    fn advance_items(&self, items: usize) {
        self.as_ref().advance_items(items)
    }
    fn serving(&self, peer: &str) {
        self.as_ref().serving(peer)
    }
}

/// What the node is busy with: every piece of long work while it runs.
#[derive(Debug, Clone, Default)]
pub struct Activities {
    running: Arc<Mutex<Running>>,
}

#[derive(Debug, Default)]
struct Running {
    next: u64,
    by_id: BTreeMap<u64, Arc<Activity>>,
}

#[derive(Debug)]
struct Activity {
    kind: &'static str,
    subject: String,
    counters: Counters,
}

/// One piece of work in [`Activities`], counted through it, listed until
/// it is dropped.
pub struct Tracked {
    id: u64,
    activity: Arc<Activity>,
    activities: Activities,
}

/// A piece of work `node status` lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityView {
    /// `get`, `publish`, `sync`, `seed` (the seeder fetching kept
    /// designs' files), `catch-up`, `gc`, `fsck`, `import` or `export`.
    pub kind: String,
    /// What it works on: a design id, a folder, a file, or a count.
    pub subject: String,
    #[serde(flatten)]
    pub progress: ProgressView,
}

impl Activities {
    /// Registers work of `kind` on `subject`, listed while the returned
    /// guard lives.
    pub fn begin(&self, kind: &'static str, subject: impl Into<String>) -> Tracked {
        let activity = Arc::new(Activity { kind, subject: subject.into(), counters: Counters::default() });
        let id = match self.running.lock() {
            Ok(mut running) => {
                running.next += 1;
                let id = running.next;
                running.by_id.insert(id, activity.clone());
                id
            }
            Err(_) => 0,
        };
        Tracked { id, activity, activities: self.clone() }
    }

    /// Every piece of work running, oldest first.
    pub fn list(&self, now: Instant) -> Vec<ActivityView> {
        let running: Vec<Arc<Activity>> =
            self.running.lock().map(|r| r.by_id.values().cloned().collect()).unwrap_or_default();
        running
            .iter()
            .map(|a| ActivityView {
                kind: a.kind.to_owned(),
                subject: a.subject.clone(),
                progress: a.counters.view(now),
            })
            .collect()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Ok(mut running) = self.activities.running.lock() {
            running.by_id.remove(&self.id);
        }
    }
}

impl Progress for Tracked {
    fn start(&self, bytes: u64, items: usize) {
        self.activity.counters.start(bytes, items)
    }
    fn advance(&self, bytes: u64) {
        self.activity.counters.advance(bytes)
    }
    fn advance_items(&self, items: usize) {
        self.activity.counters.advance_items(items)
    }
    fn serving(&self, peer: &str) {
        self.activity.counters.serving(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_listed_while_it_runs_with_its_counts() {
        let activities = Activities::default();
        let t0 = Instant::now();
        let get = activities.begin("get", "design");
        get.start(1000, 2);
        get.advance(400);
        get.advance_items(1);
        get.serving("peer-a");
        let seen = activities.list(t0 + Duration::from_secs(1));
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].kind.as_str(), seen[0].subject.as_str()), ("get", "design"));
        let p = &seen[0].progress;
        assert_eq!((p.bytes_done, p.bytes_total, p.items_done, p.items_total), (400, 1000, 1, 2));
        assert_eq!(p.peers, vec!["peer-a".to_owned()]);
        drop(get);
        assert!(activities.list(t0).is_empty(), "finished work is no longer listed");
    }

    #[test]
    fn the_rate_follows_the_last_seconds_not_the_whole_work() {
        let t0 = Instant::now();
        let counters = Counters::new(t0);
        // 10 MB in the first 10 s, read each second.
        for s in 1..=10 {
            counters.advance(1_000_000);
            counters.view(t0 + Duration::from_secs(s));
        }
        // Then 100 KB/s for 10 s.
        let mut last = ProgressView::default();
        for s in 11..=20 {
            counters.advance(100_000);
            last = counters.view(t0 + Duration::from_secs(s));
        }
        assert_eq!(last.rate_bytes_per_second, 100_000, "the rate of the last window: {last:?}");
        assert_eq!(last.bytes_done, 11_000_000);
    }

    #[test]
    fn a_rate_read_once_is_the_average_so_far() {
        let t0 = Instant::now();
        let counters = Counters::new(t0);
        counters.advance(3_000_000);
        assert_eq!(counters.view(t0 + Duration::from_secs(3)).rate_bytes_per_second, 1_000_000);
    }

    #[test]
    fn peers_listed_are_bounded() {
        let counters = Counters::default();
        for i in 0..100 {
            counters.serving(&format!("peer-{i:03}"));
        }
        assert_eq!(counters.view(Instant::now()).peers.len(), MAX_PEERS_SHOWN);
    }
}
