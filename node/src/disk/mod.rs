//! Keeping the data directory under `[storage] max_bytes`
//! (spec/storage.md, "The disk limit"): what it counts, the room a fetch
//! reserves before it starts, and the files given up, by the order of
//! `rank.rs`, to make room for more wanted ones or to come back under the
//! limit.
//!
//! Only files are given up: the events and the trees that governance and
//! catch-up need stay. A design whose files were given up, or that did not
//! fit, is set aside: the seeder skips it (no fetch, eviction, fetch loop)
//! until space frees up, when it is tried once more.

pub mod rank;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use bytesize::ByteSize;

use crate::units::Size;
use communs_protocol::limits::STORAGE_HEADROOM_BYTES;
use communs_protocol::{BlobHash, Body, DesignId};
use serde::{Deserialize, Serialize};

use crate::{Node, NodeError};
use rank::{Admission, Holding, Tier};

/// How often a running node measures its data directory and, over the
/// limit, gives up files: between two fetches, what grows without one
/// (the event log, the search index) is caught within this delay.
pub const STORAGE_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Rounds of eviction one admission may run: giving up a holding frees
/// less than its bytes when another design shares its files, so the
/// store is measured again after each round.
const EVICTION_ROUNDS: usize = 3;

/// Designs named in `node status` as the last whose files were given up.
const LAST_EVICTED_SHOWN: usize = 10;

/// The `[storage]` table of config.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Most bytes the data directory may hold (`200MB`, `10GiB`, or a
    /// number of bytes); none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<Size>,
    /// Which designs' files the node hosts: `"followed"`, `"all"` or
    /// `"from:AUTHOR,AUTHOR"` (spec/network.md, "Seeding policies"); a
    /// `communs seed` recorded in the policy log replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<crate::SeedPolicy>,
}

/// Why a design's files are not kept although it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetAside {
    /// Its older revisions' files were given up; its head's are kept.
    Older,
    /// None of its files are kept: given up, or they did not fit.
    All,
}

/// The limit, what was last measured and reserved, and what was given
/// up: shared by every fetch of the node.
pub(crate) struct DiskLimit {
    /// `[storage] max_bytes`; a reload may change it.
    max: Mutex<Option<u64>>,
    state: Mutex<State>,
    /// One admission at a time, so that two fetches never count the same
    /// free bytes, and an eviction's freed bytes go to the fetch that
    /// asked for them.
    admitting: tokio::sync::Mutex<()>,
    /// Counts the times space was freed (a collection freed bytes, a
    /// fetch ended): the designs set aside are then tried again.
    freed: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    used: u64,
    reserved: u64,
    set_aside: BTreeMap<DesignId, SetAside>,
    evicted_designs: u64,
    evicted_bytes: u64,
    last_evicted: VecDeque<DesignId>,
}

impl Default for DiskLimit {
    fn default() -> Self {
        DiskLimit {
            max: Mutex::new(None),
            state: Mutex::default(),
            admitting: tokio::sync::Mutex::new(()),
            freed: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// How full the store is and what was given up (`node status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StorageStatus {
    /// Bytes of the data directory, as last measured.
    pub used_bytes: u64,
    /// The limit (`[storage] max_bytes`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Room reserved by fetches in progress.
    pub reserved_bytes: u64,
    /// Times a design's files were given up since start.
    pub evicted_designs: u64,
    /// Bytes those evictions freed.
    pub evicted_bytes: u64,
    /// The designs whose files were given up last, newest first.
    pub last_evicted: Vec<String>,
    /// Kept designs whose files this node does not hold for lack of
    /// space (tried again when space frees up).
    pub set_aside: usize,
}

/// Room held for a fetch until it ends; then the space is measured again.
pub(crate) struct Reservation<'a> {
    disk: &'a DiskLimit,
    bytes: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.disk.state.lock() {
            state.reserved = state.reserved.saturating_sub(self.bytes);
        }
        self.disk.freed.send_modify(|n| *n += 1);
    }
}

/// The bytes `size` bytes of a blob take in the store: its data, its
/// outboard (the BLAKE3 tree, 64 bytes per 16 KiB) rounded up, and a
/// block for its files' metadata.
pub(crate) fn disk_cost(size: u64) -> u64 {
    size + size / 128 + 4096
}

impl DiskLimit {
    pub(crate) fn max(&self) -> Option<u64> {
        *self.max.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// Whether the seeder leaves `design` alone (its files did not fit).
    pub(crate) fn is_set_aside(&self, design: &DesignId) -> bool {
        self.with(|s| s.set_aside.get(design) == Some(&SetAside::All)).unwrap_or(false)
    }

    pub(crate) fn set_aside(&self) -> BTreeMap<DesignId, SetAside> {
        self.with(|s| s.set_aside.clone()).unwrap_or_default()
    }

    /// A design asked for by a person (a follow, a pin): kept whole again.
    pub(crate) fn forget(&self, design: &DesignId) {
        self.with(|s| s.set_aside.remove(design));
    }

    /// Takes the designs set aside whole, to try them again.
    pub(crate) fn take_set_aside(&self) -> Vec<DesignId> {
        self.with(|s| {
            let all: Vec<DesignId> =
                s.set_aside.iter().filter(|(_, part)| **part == SetAside::All).map(|(d, _)| *d).collect();
            for design in &all {
                s.set_aside.remove(design);
            }
            all
        })
        .unwrap_or_default()
    }

    pub(crate) fn freed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.freed.subscribe()
    }

    pub(crate) fn space_freed(&self) {
        self.freed.send_modify(|n| *n += 1);
    }

    pub(crate) fn status(&self) -> StorageStatus {
        let max_bytes = self.max();
        self.with(|s| StorageStatus {
            used_bytes: s.used,
            max_bytes,
            reserved_bytes: s.reserved,
            evicted_designs: s.evicted_designs,
            evicted_bytes: s.evicted_bytes,
            last_evicted: s.last_evicted.iter().map(ToString::to_string).collect(),
            set_aside: s.set_aside.values().filter(|p| **p == SetAside::All).count(),
        })
        .unwrap_or_default()
    }
}

/// Bytes under `path` as `du -sb` counts them: the apparent size of every
/// file and directory. Entries deleted while it walks are skipped. What
/// the storage limit, `node status`, the metrics and the web UI count.
pub fn measure(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    let mut total = meta.len();
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.flatten() {
            total += measure(&entry.path());
        }
    }
    total
}

/// A fetch that does not fit under the limit.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "not enough space under the storage limit of {}: needs {}, {} free even with every less wanted file \
     given up (raise [storage] max_bytes, or unfollow or remove designs)",
    ByteSize(*max), ByteSize(*needed), ByteSize(*free)
)]
pub struct NoSpace {
    pub needed: u64,
    pub free: u64,
    pub max: u64,
}

impl Node {
    /// Keeps the data directory under `max_bytes` (none: no limit) from
    /// now on. A higher limit than before frees room at once (the designs
    /// set aside are tried again); a lower one is enforced by the next
    /// [`Node::keep_under_limit`], which a reload runs at once.
    pub fn limit_storage(&self, max_bytes: Option<u64>) {
        let old =
            std::mem::replace(&mut *self.disk.max.lock().unwrap_or_else(std::sync::PoisonError::into_inner), max_bytes);
        let raised = match (old, max_bytes) {
            (Some(old), Some(new)) => new > old,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if raised {
            self.disk.space_freed();
        }
    }

    /// How full the store is, as last measured.
    pub fn storage_status(&self) -> StorageStatus {
        self.disk.status()
    }

    /// Measures the data directory now.
    fn measure_disk(&self) -> u64 {
        let used = measure(self.home.root());
        self.disk.with(|s| s.used = used);
        used
    }

    /// How much this node wants `design`'s files.
    pub(crate) fn tier_of(&self, design: &DesignId) -> Result<Tier, NodeError> {
        let policy = self.policy()?;
        if policy.followed.contains(design) || policy.pins.contains_key(design) {
            return Ok(Tier::Followed);
        }
        // One row, not the design's whole log: this is asked for every
        // design at every reservation.
        let own = self.events.has_written(&self.author(), design)?;
        Ok(if own { Tier::Followed } else { Tier::SeededHead })
    }

    /// Room for `bytes` of new files of `design` (`blobs` of them): none
    /// needed without a limit; otherwise reserved until the returned
    /// guard drops, after giving up less wanted files if that makes room.
    /// Refused, a seeded design is set aside until space frees up.
    pub(crate) async fn reserve_storage(
        &self,
        design: DesignId,
        bytes: u64,
        blobs: usize,
    ) -> Result<Option<Reservation<'_>>, NodeError> {
        let Some(max) = self.disk.max() else { return Ok(None) };
        if blobs == 0 {
            return Ok(None);
        }
        let needed = bytes.saturating_add(bytes / 128).saturating_add(4096 * blobs as u64);
        let tier = self.tier_of(&design)?;
        let _one_at_a_time = self.disk.admitting.lock().await;
        let mut refusal = NoSpace { needed, free: 0, max };
        for _ in 0..EVICTION_ROUNDS {
            let used = self.measure_disk();
            let reserved = self.disk.with(|s| s.reserved).unwrap_or(0);
            let free = max.saturating_sub(STORAGE_HEADROOM_BYTES).saturating_sub(used).saturating_sub(reserved);
            if needed <= free {
                self.disk.with(|s| {
                    s.reserved += needed;
                    s.set_aside.remove(&design);
                });
                return Ok(Some(Reservation { disk: &self.disk, bytes: needed }));
            }
            let holdings: Vec<Holding> = self.holdings().await?.into_iter().filter(|h| h.design != design).collect();
            match rank::admit(tier, needed, free, &holdings) {
                Admission::Fits => continue,
                Admission::Evict(evicted) => self.evict(evicted).await?,
                Admission::Refused { needed, free } => {
                    refusal = NoSpace { needed, free, max };
                    break;
                }
            }
        }
        if tier != Tier::Followed {
            self.disk.with(|s| s.set_aside.insert(design, SetAside::All));
        }
        Err(NodeError::NoSpace(refusal))
    }

    /// Gives up the files of `evicted` and collects them now.
    async fn evict(&self, evicted: Vec<Holding>) -> Result<(), NodeError> {
        self.disk.with(|s| {
            for holding in &evicted {
                let part = if holding.tier == Tier::SeededOlder { SetAside::Older } else { SetAside::All };
                let entry = s.set_aside.entry(holding.design).or_insert(part);
                if part == SetAside::All {
                    *entry = SetAside::All;
                }
            }
        });
        let report = self.gc().await?;
        let designs: Vec<String> = evicted.iter().map(|h| h.design.to_string()).collect();
        tracing::info!(
            "storage limit: gave up the files of {} ({} freed)",
            designs.join(", "),
            ByteSize(report.freed_bytes)
        );
        self.disk.with(|s| {
            s.evicted_designs += evicted.len() as u64;
            s.evicted_bytes += report.freed_bytes;
            for holding in &evicted {
                s.last_evicted.retain(|d| *d != holding.design);
                s.last_evicted.push_front(holding.design);
            }
            s.last_evicted.truncate(LAST_EVICTED_SHOWN);
        });
        Ok(())
    }

    /// Measures the store, and over the limit gives up files, least
    /// wanted first, until it is under (never a followed design's).
    pub async fn keep_under_limit(&self) -> Result<(), NodeError> {
        let Some(max) = self.disk.max() else {
            // Measured all the same, for `node status`.
            self.measure_disk();
            return Ok(());
        };
        let _one_at_a_time = self.disk.admitting.lock().await;
        let used = self.measure_disk();
        let reserved = self.disk.with(|s| s.reserved).unwrap_or(0);
        let ceiling = max.saturating_sub(STORAGE_HEADROOM_BYTES);
        let excess = (used + reserved).saturating_sub(ceiling);
        if excess == 0 {
            return Ok(());
        }
        let evicted = rank::shed(excess, &self.holdings().await?);
        if evicted.is_empty() {
            tracing::warn!(
                "storage limit: {} used of {}, and only followed designs' files are left to give up",
                ByteSize(used),
                ByteSize(max)
            );
            return Ok(());
        }
        self.evict(evicted).await?;
        self.measure_disk();
        Ok(())
    }

    /// The files the store holds of each kept design, by tier: its head's,
    /// and its other revisions' (those not also in its head). Files given
    /// up already are left out.
    pub(crate) async fn holdings(&self) -> Result<Vec<Holding>, NodeError> {
        let policy = self.policy()?;
        let set_aside = self.disk.set_aside();
        let mut out = Vec::new();
        for design in self.events.designs()? {
            if policy.removed.contains(&design) || policy.unfollowed.contains(&design) || !self.hosts_files(&design)? {
                continue;
            }
            let part = set_aside.get(&design);
            if part == Some(&SetAside::All) {
                continue;
            }
            let tier = self.tier_of(&design)?;
            let head = self.revision_tree(&design, None).ok().map(|(_, tree)| tree);
            let mut head_files = HashSet::new();
            let mut older_files = HashSet::new();
            for event in self.events.design_log(&design)? {
                let Body::Revision(revision) = event.body() else { continue };
                let Some(tree) = self.stored_tree(&revision.tree).await? else { continue };
                let files = tree.entries().iter().map(|e| e.blob);
                if Some(revision.tree) == head {
                    head_files.extend(files);
                } else {
                    older_files.extend(files);
                }
            }
            let older_files: HashSet<BlobHash> = older_files.difference(&head_files).copied().collect();
            let older_tier = if tier == Tier::Followed { Tier::Followed } else { Tier::SeededOlder };
            out.push(Holding { design, tier, bytes: self.bytes_held(&head_files).await? });
            if part != Some(&SetAside::Older) {
                out.push(Holding { design, tier: older_tier, bytes: self.bytes_held(&older_files).await? });
            }
        }
        Ok(out)
    }

    async fn bytes_held(&self, blobs: &HashSet<BlobHash>) -> Result<u64, NodeError> {
        let mut total = 0;
        for blob in blobs {
            if let Some(size) = self.blobs.size(blob).await? {
                total += disk_cost(size);
            }
        }
        Ok(total)
    }
}

/// For as long as the node is open: every [`STORAGE_CHECK_INTERVAL`],
/// comes back under the limit if the store went over it, and whenever
/// space frees up, hands the designs set aside to `retry`.
pub(crate) async fn watch(node: std::sync::Weak<Node>, retry: impl Fn(Vec<DesignId>)) {
    let Some(mut freed) = node.upgrade().map(|n| n.disk.freed()) else { return };
    let mut every = tokio::time::interval(STORAGE_CHECK_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                let Some(node) = node.upgrade() else { return };
                if let Err(e) = node.keep_under_limit().await {
                    tracing::warn!("storage limit: {e}");
                }
            }
            changed = freed.changed() => {
                if changed.is_err() {
                    return;
                }
                let Some(node) = node.upgrade() else { return };
                let again = node.disk.take_set_aside();
                if !again.is_empty() {
                    tracing::debug!("space freed: trying {} designs set aside again", again.len());
                    retry(again);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::{Body, Comment, DesignId, SecretKey, UnsignedEvent, fixtures};

    use super::rank::Tier;
    use crate::{Home, Node};

    /// A design the node wrote an event in (here a comment on another
    /// author's design) is kept as one it follows; others are seeded.
    #[tokio::test]
    async fn a_design_the_node_wrote_to_is_kept_as_a_followed_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let home = Home::locate(Some(&dir.path().join("home"))).expect("home");
        crate::keyfile::load_or_create(&home).expect("identity");
        let node = Node::open(home).await.expect("open");
        let other = SecretKey::from_bytes(&[5; 32]);
        let (commented, seeded) = (fixtures::genesis(&other, "A", "MIT", 1), fixtures::genesis(&other, "B", "MIT", 2));
        node.insert_events(&[commented.clone(), seeded.clone()]).expect("insert");
        let comment = UnsignedEvent {
            design: Some(commented.design()),
            author: node.author(),
            parents: vec![commented.id()],
            clock: 1,
            time: 1_767_225_600_000,
            body: Body::Comment(Comment { on: None, text: "Printed it".into(), attachments: vec![] }),
        }
        .sign(&node.key)
        .expect("sign");
        node.insert_events(&[comment]).expect("insert");
        let tier = |design: DesignId| node.tier_of(&design).expect("tier");
        assert_eq!(tier(commented.design()), Tier::Followed);
        assert_eq!(tier(seeded.design()), Tier::SeededHead);
    }

    /// The count is `du -sb`'s, as spec/storage.md says (where `du` is).
    #[test]
    fn measure_counts_as_du_sb_does() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("store/blobs/ab")).expect("mkdir");
        std::fs::write(dir.path().join("store/events.redb"), vec![1u8; 10_000]).expect("write");
        std::fs::write(dir.path().join("store/blobs/ab/a"), vec![2u8; 70_001]).expect("write");
        let measured = super::measure(dir.path());
        assert!(measured >= 80_001, "{measured}");
        assert_eq!(super::measure(&dir.path().join("absent")), 0);
        let Ok(du) = std::process::Command::new("du").arg("-sb").arg(dir.path()).output() else { return };
        let du: u64 = String::from_utf8_lossy(&du.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("du -sb prints a number");
        assert_eq!(measured, du);
    }
}
