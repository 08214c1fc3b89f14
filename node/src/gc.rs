//! `gc`: giving back the space of blobs that no kept tree names.
//!
//! Mark and sweep. The live set comes from the event log: the tree of
//! every revision of every design in the store, and the files those trees
//! name for the designs whose files this node keeps (all but the
//! unfollowed ones; a pinned revision's files always), with the
//! attachments of their comments and make reports, and the avatars of the
//! profiles kept, but for the files the storage limit gave up
//! (`disk`) and those the seeding policy does not host. The sweep
//! (`store::sweep`) deletes every other blob that no operation in progress
//! holds: what an unfollow or a remove left, and what a publish, an import
//! or a fetch stored and never committed an event for.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use communs_protocol::limits::MAX_TREE_BYTES;
use communs_protocol::{BlobHash, Body, Tree};
use serde::Serialize;

use crate::disk::SetAside;
use crate::{Node, NodeError};

/// How often a running node collects by itself, besides after an unfollow
/// or a remove: what a killed publish or an abandoned fetch left does not
/// stay long.
pub const GC_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// What a collection did.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct GcReport {
    /// Blobs deleted.
    pub freed_blobs: usize,
    /// Their bytes.
    pub freed_bytes: u64,
    /// Blobs the store holds after it.
    pub kept_blobs: usize,
    /// Blobs the event log names for what this node keeps.
    pub live_blobs: usize,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

impl Node {
    /// Deletes every blob that is neither live nor held by an operation in
    /// progress. Runs beside everything else: operations that start storing
    /// blobs meanwhile wait for the sweep to end.
    pub async fn gc(&self) -> Result<GcReport, NodeError> {
        let started = Instant::now();
        let _activity = self.activities.begin("gc", "blobs");
        let run = self.blobs.start_collection().await;
        let live = self.live_blobs().await?;
        let freed = self.blobs.sweep(&run, &live).await?;
        drop(run);
        self.metrics.gc_runs.inc();
        self.metrics.gc_freed_bytes.inc_by(freed.bytes);
        if freed.bytes > 0 {
            self.disk.space_freed();
        }
        Ok(GcReport {
            freed_blobs: freed.blobs,
            freed_bytes: freed.bytes,
            kept_blobs: freed.kept,
            live_blobs: live.len(),
            millis: started.elapsed().as_millis() as u64,
        })
    }

    /// Every blob the event log names for what this node keeps.
    async fn live_blobs(&self) -> Result<HashSet<BlobHash>, NodeError> {
        let policy = self.policy()?;
        // Designs whose files the storage limit gave up (`disk`): all of
        // them, or those of every revision but the one checked out.
        let set_aside = self.disk.set_aside();
        let mut live = HashSet::new();
        let mut trees_read = HashSet::new();
        for design in self.events.designs()? {
            if policy.removed.contains(&design) {
                continue;
            }
            let part = set_aside.get(&design);
            let keeps_files =
                !policy.unfollowed.contains(&design) && part != Some(&SetAside::All) && self.hosts_files(&design)?;
            let head = match part {
                Some(SetAside::Older) => self.revision_tree(&design, None).ok().map(|(revision, _)| revision),
                _ => None,
            };
            let pin = policy.pins.get(&design);
            for event in self.events.design_log(&design)? {
                if keeps_files {
                    live.extend(crate::social::attachments(&event).map(|a| a.blob));
                }
                let Body::Revision(revision) = event.body() else { continue };
                live.insert(revision.tree);
                let older_given_up = part == Some(&SetAside::Older) && head != Some(event.id());
                if ((keeps_files && !older_given_up) || pin == Some(&event.id()))
                    && trees_read.insert(revision.tree)
                    && let Some(tree) = self.stored_tree(&revision.tree).await?
                {
                    live.extend(tree.entries().iter().map(|e| e.blob));
                }
            }
        }
        // Every profile kept is of an author of a design held here.
        for profile in self.events.profiles()? {
            live.extend(crate::social::attachments(&profile).map(|a| a.blob));
        }
        Ok(live)
    }

    /// A tree the store holds complete; `None` if it does not (its files
    /// then cannot be here but through a fetch, which holds them). A tree
    /// that does not decode stops the collection: what it names is
    /// unknown, so nothing may be deleted.
    pub(crate) async fn stored_tree(&self, hash: &BlobHash) -> Result<Option<Tree>, NodeError> {
        if self.blobs.size(hash).await?.is_none() {
            return Ok(None);
        }
        let bytes = self.blobs.read(hash, MAX_TREE_BYTES as u64).await?;
        Ok(Some(Tree::decode(&bytes)?))
    }
}

/// Collects once, in a task of its own, and logs what it freed (after an
/// unfollow or a remove on a running node).
pub fn collect_in_background(node: Arc<Node>) {
    tokio::spawn(async move { log(node.gc().await) });
}

/// Collects every [`GC_INTERVAL`] for as long as the node is open.
pub async fn collect_periodically(node: Weak<Node>) {
    let mut every = tokio::time::interval(GC_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        let Some(node) = node.upgrade() else { return };
        log(node.gc().await);
    }
}

fn log(result: Result<GcReport, NodeError>) {
    match result {
        Ok(report) if report.freed_blobs > 0 => tracing::info!(
            "garbage collection freed {} blobs ({} bytes) in {} ms",
            report.freed_blobs,
            report.freed_bytes,
            report.millis
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("garbage collection failed: {e}"),
    }
}
