//! What a running node counts, for Prometheus (`GET /metrics`,
//! spec/api.md, "Metrics").
//!
//! One [`Metrics`] per [`crate::Node`], made when the node opens: the code
//! that does the work (gossip, catch-up, fetches, bundle import, GC, the
//! API) increments its typed handles, which cost an atomic add and never
//! wait. The swarm's own metrics (libp2p-metrics: connections, gossipsub,
//! Kademlia, identify, ping, bytes per transport) are kept by the network
//! beside these and encoded with them.
//!
//! **Adding a metric**: add a field below (a handle of `prometheus-client`:
//! `Counter`, `Gauge`, `Histogram`, or a `Family` of one with a small,
//! bounded set of label values), register it in [`Metrics::new`] under
//! the `communs_` prefix with its unit, increment it where the work is
//! done (`node.metrics.your_field.inc()`), and add its row to the table
//! of spec/api.md. Names follow Prometheus' conventions: the unit in the
//! name (`_bytes`, `_seconds`), counters end in `_total` (added by the
//! encoder).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use crate::net::bandwidth::BandwidthCounters;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The `[metrics]` table of config.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// An address of its own where `/metrics` alone is served, for a
    /// scraper on the LAN (`0.0.0.0:9464`); off when absent. The API's
    /// loopback port serves `/metrics` in any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<std::net::SocketAddr>,
}

impl MetricsConfig {
    pub fn is_off(&self) -> bool {
        self.listen.is_none()
    }
}

/// A label set of one pair: the key is fixed in code, the value one of a
/// bounded set (a stable `reason()`, a path in).
pub type Label = [(&'static str, &'static str); 1];

/// Where an event came in: the label `path` of
/// `communs_events_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathIn {
    Gossip,
    Catchup,
    Bundle,
}

impl PathIn {
    fn label(self) -> &'static str {
        match self {
            PathIn::Gossip => "gossip",
            PathIn::Catchup => "catchup",
            PathIn::Bundle => "bundle",
        }
    }
}

/// The labels of an API request's duration: its method and its route's
/// template (`/v1/designs/{design}`, never the raw path, so that the set
/// of values stays that of the routes).
pub type RouteLabels = [(&'static str, String); 2];

fn request_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// communs' own metrics: the registry and a typed handle on each.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub peers_connected: Gauge,
    pub gossip_received: Counter,
    pub gossip_accepted: Counter,
    pub gossip_ignored: Counter,
    pub gossip_refused: Family<Label, Counter>,
    pub catchup_started: Counter,
    pub catchup_completed: Counter,
    pub catchup_failed: Counter,
    pub catchup_events: Counter,
    pub events_refused: Family<[(&'static str, &'static str); 2], Counter>,
    pub file_received_bytes: Counter,
    pub store_bytes: Gauge,
    pub store_blobs: Gauge,
    pub store_events: Gauge,
    pub store_designs: Gauge,
    pub gc_runs: Counter,
    pub gc_freed_bytes: Counter,
    pub api_requests: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Brought up to the network's own counts at each scrape
    /// ([`Metrics::sync_bandwidth`]).
    pub file_sent_bytes: Counter,
    pub bandwidth_granted_bytes: Family<Label, Counter>,
    pub bandwidth_waits: Family<Label, Counter>,
    pub bandwidth_waited_seconds: Family<Label, Counter<f64, AtomicU64>>,
    /// One scrape at a time brings them up to date.
    syncing: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: Mutex::new(Registry::with_prefix("communs")),
            peers_connected: Gauge::default(),
            gossip_received: Counter::default(),
            gossip_accepted: Counter::default(),
            gossip_ignored: Counter::default(),
            gossip_refused: Family::default(),
            catchup_started: Counter::default(),
            catchup_completed: Counter::default(),
            catchup_failed: Counter::default(),
            catchup_events: Counter::default(),
            events_refused: Family::default(),
            file_received_bytes: Counter::default(),
            store_bytes: Gauge::default(),
            store_blobs: Gauge::default(),
            store_events: Gauge::default(),
            store_designs: Gauge::default(),
            gc_runs: Counter::default(),
            gc_freed_bytes: Counter::default(),
            file_sent_bytes: Counter::default(),
            bandwidth_granted_bytes: Family::default(),
            bandwidth_waits: Family::default(),
            bandwidth_waited_seconds: Family::default(),
            syncing: Mutex::new(()),
            api_requests: Family::new_with_constructor(request_histogram as fn() -> Histogram),
        };
        {
            let mut r = metrics.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            r.register("peers_connected", "Peers with at least one open connection", metrics.peers_connected.clone());
            r.register(
                "gossip_messages_received",
                "Gossiped messages handed to this node for a verdict (first copies; catalog announcements included)",
                metrics.gossip_received.clone(),
            );
            r.register(
                "gossip_messages_accepted",
                "Gossiped messages accepted and forwarded",
                metrics.gossip_accepted.clone(),
            );
            r.register(
                "gossip_messages_ignored",
                "Gossiped messages dropped without penalty (a removed design, an event whose parents did not come)",
                metrics.gossip_ignored.clone(),
            );
            r.register(
                "gossip_messages_refused",
                "Gossiped messages rejected (the sender penalised), by reason",
                metrics.gossip_refused.clone(),
            );
            r.register("catchup_sessions_started", "Catch-ups this node started", metrics.catchup_started.clone());
            r.register(
                "catchup_sessions_completed",
                "Catch-ups this node started that ended well",
                metrics.catchup_completed.clone(),
            );
            r.register(
                "catchup_sessions_failed",
                "Catch-ups this node started that failed",
                metrics.catchup_failed.clone(),
            );
            r.register("catchup_events_received", "Events catch-ups stored", metrics.catchup_events.clone());
            r.register(
                "events_refused",
                "Events refused on their way in, by path (gossip, catchup, bundle) and reason",
                metrics.events_refused.clone(),
            );
            r.register_with_unit(
                "file_received",
                "Bytes of files (blobs) received from peers, counted as each transfer ends",
                Unit::Bytes,
                metrics.file_received_bytes.clone(),
            );
            r.register_with_unit(
                "store_size",
                "Bytes of the store folder (events, views, blobs) as du -sb counts them, measured at scrape time",
                Unit::Bytes,
                metrics.store_bytes.clone(),
            );
            r.register("store_blobs", "Blobs in the store, complete or partial", metrics.store_blobs.clone());
            r.register("store_events", "Events in the store", metrics.store_events.clone());
            r.register("store_designs", "Designs in the store", metrics.store_designs.clone());
            r.register("gc_runs", "Garbage collections of blobs run", metrics.gc_runs.clone());
            r.register_with_unit(
                "gc_freed",
                "Bytes of blobs garbage collection deleted",
                Unit::Bytes,
                metrics.gc_freed_bytes.clone(),
            );
            r.register_with_unit(
                "file_sent",
                "Bytes of files (blobs) sent to peers, as they go",
                Unit::Bytes,
                metrics.file_sent_bytes.clone(),
            );
            r.register_with_unit(
                "bandwidth_granted",
                "Bytes the bandwidth limit let through, by direction (upload, download; a direction without a limit counts nothing)",
                Unit::Bytes,
                metrics.bandwidth_granted_bytes.clone(),
            );
            r.register(
                "bandwidth_waits",
                "Times a transfer waited for the bandwidth limit, by direction",
                metrics.bandwidth_waits.clone(),
            );
            r.register_with_unit(
                "bandwidth_waited",
                "Time transfers were told to wait for the bandwidth limit, added up, by direction",
                Unit::Seconds,
                metrics.bandwidth_waited_seconds.clone(),
            );
            r.register_with_unit(
                "api_request_duration",
                "Time to answer an API request, by method and route template",
                Unit::Seconds,
                metrics.api_requests.clone(),
            );
        }
        metrics
    }

    /// Counts an event refused on its way in by `path`, for `reason` (a
    /// stable `reason()`).
    pub fn event_refused(&self, path: PathIn, reason: &'static str) {
        self.events_refused.get_or_create(&[("path", path.label()), ("reason", reason)]).inc();
    }

    /// Counts a gossiped message rejected for `reason`.
    pub fn gossip_refused(&self, reason: &'static str) {
        self.gossip_refused.get_or_create(&[("reason", reason)]).inc();
    }

    /// Brings the counters the network keeps itself (bytes on blob
    /// streams, the bandwidth limits' grants and waits) up to `counters`.
    pub fn sync_bandwidth(&self, counters: &BandwidthCounters) {
        let _one = self.syncing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let up_to = |counter: &Counter, total: u64| counter.inc_by(total.saturating_sub(counter.get()));
        up_to(&self.file_sent_bytes, counters.sent_bytes);
        for (direction, side) in [("upload", &counters.upload), ("download", &counters.download)] {
            let label = [("direction", direction)];
            up_to(&self.bandwidth_granted_bytes.get_or_create(&label), side.granted_bytes);
            up_to(&self.bandwidth_waits.get_or_create(&label), side.waits);
            let waited = self.bandwidth_waited_seconds.get_or_create(&label);
            let more = side.waited.as_secs_f64() - waited.get();
            if more > 0.0 {
                waited.inc_by(more);
            }
        }
    }

    /// Writes these metrics in the text exposition format, without the
    /// final `# EOF` (the network's follow).
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        let registry = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        prometheus_client::encoding::text::encode_registry(out, &registry)
    }
}

/// The stable reason of a store's refusal of an event from a peer, for
/// the label `reason`.
pub(crate) fn refusal_reason(error: &crate::store::EventStoreError) -> &'static str {
    use crate::store::EventStoreError;
    match error {
        EventStoreError::Invalid { source, .. } => source.reason(),
        EventStoreError::Refused { refusal, .. } => refusal.reason(),
        EventStoreError::MissingParent { .. } => "missing-parent",
        _ => "store-error",
    }
}

#[cfg(test)]
mod tests {
    use super::{Metrics, PathIn};

    #[test]
    fn counters_are_named_with_prefix_unit_and_total() {
        let metrics = Metrics::new();
        metrics.event_refused(PathIn::Catchup, "wrong-clock");
        metrics.file_received_bytes.inc_by(7);
        metrics
            .api_requests
            .get_or_create(&[("method", "GET".to_owned()), ("route", "/v1/designs/{design}".to_owned())])
            .observe(0.004);
        let mut text = String::new();
        metrics.encode(&mut text).expect("encode");
        assert!(text.contains("communs_events_refused_total{path=\"catchup\",reason=\"wrong-clock\"} 1\n"), "{text}");
        assert!(text.contains("communs_file_received_bytes_total 7\n"), "{text}");
        assert!(text.contains("# TYPE communs_api_request_duration_seconds histogram\n"), "{text}");
        assert!(
            text.contains(
                "communs_api_request_duration_seconds_count{method=\"GET\",route=\"/v1/designs/{design}\"} 1\n"
            ),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "the network's metrics follow");
    }
}
