//! `fsck`: re-verify everything the store holds, from the bytes up.
//!
//! Every event is decoded and its signature checked again, its parents
//! looked up and its clock re-checked; every blob is re-hashed; every
//! revision's tree is decoded and each of its files looked up with its
//! size; every design's stored governance state is compared with a replay
//! of its events. Nothing is repaired: the report says what is wrong.
//!
//! A file that is simply not here is not a problem: a node holds the
//! events of what it keeps but fetches files on demand (the revision it
//! checks out), and a transfer cut short leaves verified partial blobs to
//! resume from. Those are counted, not reported; a file whose stored size
//! disagrees with its tree, or whose bytes do not hash to its name, is.

use std::collections::HashMap;

use communs_protocol::limits::MAX_TREE_BYTES;
use communs_protocol::{Body, EventId, SignedEvent, Tree};

use crate::progress::Progress;
use crate::{Node, NodeError};

#[derive(Debug, Clone, Default)]
pub struct FsckReport {
    pub events: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// Blobs of which only verified parts are here (a transfer to resume).
    pub partial_blobs: usize,
    /// Trees, files and attachments named by stored events that are not
    /// here (yet).
    pub absent_blobs: usize,
    pub problems: Vec<Problem>,
}

/// One thing found wrong. `kind` is a stable name for scripts.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: &'static str,
    pub subject: String,
    pub detail: String,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, kind: &'static str, subject: impl ToString, detail: impl ToString) {
        self.problems.push(Problem { kind, subject: subject.to_string(), detail: detail.to_string() });
    }
}

impl Node {
    pub async fn fsck(&self, progress: &dyn Progress) -> Result<FsckReport, NodeError> {
        let mut report = FsckReport::default();
        let mut events: HashMap<EventId, SignedEvent> = HashMap::new();
        for (id, bytes) in self.events.raw_events()? {
            report.events += 1;
            match SignedEvent::decode(&bytes) {
                Ok(e) if e.id() == id => {
                    events.insert(id, e);
                }
                Ok(e) => report.problem("wrong-id", id, format!("the stored bytes hash to {}", e.id())),
                Err(e) => report.problem("bad-event", id, e),
            }
        }
        for event in events.values() {
            let parents: Option<Vec<&SignedEvent>> = event.parents().iter().map(|p| events.get(p)).collect();
            match parents {
                None => report.problem("missing-parent", event.id(), "a parent event is not in the store"),
                Some(parents) => {
                    if let Err(e) = event.check_parents(&parents) {
                        report.problem("invalid-event", event.id(), e);
                    }
                }
            }
        }

        let listed = self.blobs.list().await?;
        let sizes = blob_sizes(self, &listed).await?;
        report.partial_blobs = listed.len() - sizes.len();
        let blobs: Vec<_> = listed.into_iter().filter(|hash| sizes.contains_key(hash)).collect();
        progress.start(sizes.values().sum(), blobs.len());
        for hash in &blobs {
            report.blobs += 1;
            match self.blobs.verify(hash).await {
                Ok(size) => report.bytes += size,
                Err(e) => report.problem("damaged-blob", hash, e),
            }
            progress.advance(sizes.get(hash).copied().unwrap_or_default());
        }
        progress.finish();

        for event in events.values() {
            let Body::Revision(revision) = event.body() else { continue };
            let tree = match self.blobs.read(&revision.tree, MAX_TREE_BYTES as u64).await {
                Ok(bytes) => match Tree::decode(&bytes) {
                    Ok(tree) => tree,
                    Err(e) => {
                        report.problem("bad-tree", revision.tree, format!("tree of revision {}: {e}", event.id()));
                        continue;
                    }
                },
                // A damaged tree blob was reported with the blobs already.
                Err(crate::store::BlobError::Damaged { .. }) => continue,
                Err(crate::store::BlobError::Missing(_)) => {
                    report.absent_blobs += 1;
                    continue;
                }
                Err(e) => {
                    report.problem("bad-tree", revision.tree, format!("tree of revision {}: {e}", event.id()));
                    continue;
                }
            };
            for entry in tree.entries() {
                match sizes.get(&entry.blob) {
                    None => report.absent_blobs += 1,
                    Some(size) if *size != entry.size => report.problem(
                        "wrong-size",
                        entry.blob,
                        format!(
                            "{} in revision {}: {size} bytes stored, {} in the tree",
                            entry.path,
                            event.id(),
                            entry.size
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        // Profiles are re-verified like events; attachments (of comments,
        // make reports and profiles) are checked like a tree's files.
        let profiles = self.events.profiles()?;
        for profile in &profiles {
            if let Err(e) = SignedEvent::decode(profile.bytes()) {
                report.problem("bad-event", profile.id(), e);
            }
        }
        for event in events.values().chain(&profiles) {
            for attachment in crate::social::attachments(event) {
                match sizes.get(&attachment.blob) {
                    None => report.absent_blobs += 1,
                    Some(size) if *size != attachment.size => report.problem(
                        "wrong-size",
                        attachment.blob,
                        format!(
                            "{} of event {}: {size} bytes stored, {} declared",
                            attachment.name,
                            event.id(),
                            attachment.size
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        // The rows reads use are derived from the events: rebuilt here and
        // compared, so a row that drifted is reported, not trusted.
        for design in self.events.stale_views()? {
            report.problem(
                "stale-state",
                design,
                "the stored governance state differs from a replay of the design's events",
            );
        }
        for (subject, detail) in self.events.catalog_problems()? {
            report.problem("bad-catalog", subject, detail);
        }
        report.problems.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
        Ok(report)
    }
}

/// The recorded size of every listed blob.
async fn blob_sizes(
    node: &Node,
    blobs: &[communs_protocol::BlobHash],
) -> Result<HashMap<communs_protocol::BlobHash, u64>, NodeError> {
    let mut sizes = HashMap::with_capacity(blobs.len());
    for hash in blobs {
        if let Some(size) = node.blobs.size(hash).await? {
            sizes.insert(*hash, size);
        }
    }
    Ok(sizes)
}
