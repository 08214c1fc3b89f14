//! Upload and download limits for file transfers (spec/network.md,
//! "Bandwidth"): one [`Scheduler`] per direction, shared by every blob
//! stream of every peer, each peer with a fair share of the rate.
//!
//! Only the blob streams are throttled: gossip and catch-up ride streams
//! of their own on the same connections, and since a limited transfer
//! never hands the muxer more than its grants, they are never queued
//! behind file bytes.

mod scheduler;
mod throttle;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use libp2p::PeerId;
use std::sync::Arc;

pub use crate::units::Rate;
pub use scheduler::{Counters, Decision, MAX_GRANT, MIN_BURST, MIN_GRANT, Scheduler};
pub use throttle::Throttled;

/// The two limits (absent: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per second sent on blob streams, to all peers together.
    pub upload: Option<Rate>,
    /// Bytes per second received on blob streams, from all peers together.
    pub download: Option<Rate>,
}

/// One direction's scheduler, and the time its `now` counts from.
pub(super) struct Limiter {
    scheduler: Mutex<Scheduler<PeerId>>,
    start: tokio::time::Instant,
}

impl Limiter {
    fn new(rate: Rate) -> Limiter {
        Limiter {
            scheduler: Mutex::new(Scheduler::new(rate.bytes_per_second(), Duration::ZERO)),
            start: tokio::time::Instant::now(),
        }
    }

    fn scheduler(&self) -> std::sync::MutexGuard<'_, Scheduler<PeerId>> {
        // A panic under the lock leaves only token counts behind: still
        // usable.
        self.scheduler.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn request(&self, peer: PeerId, wanted: usize) -> Decision {
        let now = self.start.elapsed();
        self.scheduler().request(peer, wanted, now)
    }

    pub(super) fn give_back(&self, bytes: usize) {
        let now = self.start.elapsed();
        self.scheduler().give_back(bytes, now);
    }

    fn set_rate(&self, rate: Rate) {
        let now = self.start.elapsed();
        self.scheduler().set_rate(rate.bytes_per_second(), now);
    }
}

/// What each direction's scheduler has done, and the bytes every blob
/// stream moved (limited or not), for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BandwidthCounters {
    pub upload: Counters,
    pub download: Counters,
    /// Bytes written to peers on blob streams: files served.
    pub sent_bytes: u64,
    /// Bytes read from peers on blob streams: files fetched, as they come.
    pub received_bytes: u64,
}

/// The node's limits, shared by its blob streams. A reload may change
/// them while streams run: each stream asks for the direction's limiter
/// at every read or write.
pub struct Bandwidth {
    upload: RwLock<Option<Arc<Limiter>>>,
    download: RwLock<Option<Arc<Limiter>>>,
    sent: AtomicU64,
    received: AtomicU64,
}

impl Bandwidth {
    pub fn new(limits: Limits) -> Bandwidth {
        let limiter = |rate: Option<Rate>| RwLock::new(rate.map(|rate| Arc::new(Limiter::new(rate))));
        Bandwidth {
            upload: limiter(limits.upload),
            download: limiter(limits.download),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        }
    }

    pub(super) fn count_sent(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn count_received(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Sets new limits from now on (a reload). A direction that keeps a
    /// limit keeps its scheduler, with its peers' shares, at the new rate.
    pub fn set_limits(&self, limits: Limits) {
        for (side, rate) in [(&self.upload, limits.upload), (&self.download, limits.download)] {
            let mut side = side.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            match (side.as_ref(), rate) {
                (Some(limiter), Some(rate)) => limiter.set_rate(rate),
                (None, Some(rate)) => *side = Some(Arc::new(Limiter::new(rate))),
                (_, None) => *side = None,
            }
        }
    }

    pub(super) fn upload(&self) -> Option<Arc<Limiter>> {
        self.upload.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(super) fn download(&self) -> Option<Arc<Limiter>> {
        self.download.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// `stream`, to or from `peer`, under these limits: its writes count
    /// as upload, its reads as download.
    pub fn throttle<S>(self: &Arc<Self>, peer: PeerId, stream: S) -> Throttled<S> {
        Throttled::new(stream, peer, self.clone())
    }

    /// Bytes granted, waits and time waited per direction (zero for a
    /// direction without a limit), and the bytes moved either way.
    pub fn counters(&self) -> BandwidthCounters {
        let of = |limiter: Option<Arc<Limiter>>| limiter.map(|l| l.scheduler().counters()).unwrap_or_default();
        BandwidthCounters {
            upload: of(self.upload()),
            download: of(self.download()),
            sent_bytes: self.sent.load(Ordering::Relaxed),
            received_bytes: self.received.load(Ordering::Relaxed),
        }
    }

    #[cfg(test)]
    fn upload_burst(&self) -> u64 {
        self.upload().map_or(0, |l| l.scheduler().burst())
    }

    #[cfg(test)]
    fn download_burst(&self) -> u64 {
        self.download().map_or(0, |l| l.scheduler().burst())
    }
}

#[cfg(test)]
mod tests {
    use crate::net::NetConfig;

    #[test]
    fn the_limits_read_from_the_network_table_and_are_absent_by_default() {
        let config: NetConfig =
            toml::from_str("max_upload_bytes_per_second = \"10MB\"\nmax_download_bytes_per_second = 2500000\n")
                .expect("valid");
        assert_eq!(config.max_upload_bytes_per_second.map(|r| r.bytes_per_second()), Some(10_000_000));
        assert_eq!(config.max_download_bytes_per_second.map(|r| r.bytes_per_second()), Some(2_500_000));
        let bare: NetConfig = toml::from_str("").expect("valid");
        assert_eq!((bare.max_upload_bytes_per_second, bare.max_download_bytes_per_second), (None, None));
        let written = toml::to_string(&config).expect("serialises");
        assert_eq!(toml::from_str::<NetConfig>(&written).expect("reads back"), config);
        let zero = toml::from_str::<NetConfig>("max_upload_bytes_per_second = 0\n").expect_err("refused");
        assert!(zero.to_string().contains("leave the limit out"), "{zero}");
    }
}
