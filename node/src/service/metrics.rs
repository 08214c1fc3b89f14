//! `GET /metrics`: the store's size measured, then every metric encoded.

use std::path::Path;

use super::{Service, ServiceError};
use crate::NodeError;

/// What the store holds and takes on disk, measured at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSize {
    /// Bytes allocated on disk to the store's folder (what `du` says).
    pub bytes: u64,
    pub blobs: u64,
    pub events: u64,
    pub designs: u64,
}

impl Service {
    /// Every metric of the running node in the text exposition format,
    /// the store's gauges measured first. A store read: run it on a
    /// command thread.
    pub async fn metrics_text(&self) -> Result<String, ServiceError> {
        let network = self.net()?;
        let size = self.store_size().await?;
        let metrics = &self.node.metrics;
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        metrics.store_bytes.set(gauge(size.bytes));
        metrics.store_blobs.set(gauge(size.blobs));
        metrics.store_events.set(gauge(size.events));
        metrics.store_designs.set(gauge(size.designs));
        Ok(network.encode_metrics())
    }

    /// Counts rows (redb keeps each table's length: no scan) and blobs,
    /// and sums the store folder's files. Its cost grows with the number
    /// of files on disk, not with their bytes.
    pub async fn store_size(&self) -> Result<StoreSize, ServiceError> {
        let (events, designs) = self.node.events.counts().map_err(NodeError::from)?;
        let blobs = self.node.blobs.list().await.map_err(NodeError::from)?.len() as u64;
        let bytes = disk_usage(&self.node.home.store_dir());
        Ok(StoreSize { bytes, blobs, events, designs })
    }
}

/// Bytes allocated to the files under `dir` (blocks, as `du` counts
/// them; a file that vanishes meanwhile, as the blob store's temporary
/// files do, counts nothing).
fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += disk_usage(&entry.path());
        } else {
            total += allocated(&meta);
        }
    }
    total
}

#[cfg(unix)]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::blocks(meta) * 512
}

#[cfg(not(unix))]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn disk_usage_sums_the_files_of_every_subfolder() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("blobs")).expect("mkdir");
        std::fs::write(dir.path().join("events.redb"), vec![1u8; 10_000]).expect("write");
        std::fs::write(dir.path().join("blobs").join("a"), vec![2u8; 70_000]).expect("write");
        let used = super::disk_usage(dir.path());
        assert!((80_000..=80_000 + 2 * 8192).contains(&used), "{used}");
        assert_eq!(super::disk_usage(&dir.path().join("absent")), 0);
    }
}
