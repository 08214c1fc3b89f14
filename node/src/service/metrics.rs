//! `GET /metrics`: the store's size measured, then every metric encoded.

use super::{Service, ServiceError};
use crate::NodeError;

/// What the store holds and takes on disk, measured at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSize {
    /// Bytes of the store's folder, as `du -sb` counts them (as the
    /// storage limit counts the data directory: [`crate::disk::measure`]).
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
        metrics.sync_bandwidth(&network.bandwidth_counters());
        Ok(network.encode_metrics())
    }

    /// Counts rows (redb keeps each table's length: no scan) and blobs,
    /// and sums the store folder's files. Its cost grows with the number
    /// of files on disk, not with their bytes.
    pub async fn store_size(&self) -> Result<StoreSize, ServiceError> {
        let (events, designs) = self.node.events.counts().map_err(NodeError::from)?;
        let blobs = self.node.blobs.list().await.map_err(NodeError::from)?.len() as u64;
        let store = self.node.home.store_dir();
        let bytes = tokio::task::spawn_blocking(move || crate::disk::measure(&store)).await.unwrap_or(0);
        Ok(StoreSize { bytes, blobs, events, designs })
    }
}
