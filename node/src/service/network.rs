//! What only a running node can do: sync, and say how its network is.

use communs_protocol::DesignId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Service, ServiceError};
use crate::net::{
    CatchupReport, FetchReport, GossipCounts, Interest, NetStatus, PeerInfo, PeerSync, SEED_BATCH, SeedingStatus,
};
use crate::progress::{ActivityView, Both, Progress};

/// Catch up now with every connected (and known) peer: one design, or
/// all this node keeps.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct SyncRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub design: Option<DesignId>,
}

/// What a sync brought. A sync that reached no peer is not an error of
/// the request: `catch_up.peers` is 0 and `catch_up.failures` says why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncResult {
    pub catch_up: CatchupReport,
    /// The files of each design present, fetched from peers.
    pub files: Vec<FetchReport>,
    /// Designs whose files could not be fetched, and why.
    pub errors: Vec<String>,
}

/// Connect to a peer now (`communs dial`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DialRequest {
    /// Where: `/ip4/192.0.2.10/tcp/4517/p2p/12D3KooW…` (the `listen`
    /// address with the peer id that `communs node status` prints).
    pub address: String,
}

/// The peer now connected.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DialResult {
    pub peer_id: String,
    pub address: String,
}

/// How a running node is doing (`GET /v1/node`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeStatus {
    pub peer_id: String,
    pub author: String,
    pub listen: Vec<String>,
    pub api: String,
    pub peers: Vec<PeerInfo>,
    /// Known peers not connected, redialled with back-off.
    pub redialling: usize,
    pub seed_all: bool,
    /// How many designs this node keeps up to date and seeds (a count: at
    /// a tiers-lieu's size their ids would be most of every status; `list`
    /// and `policy` name them).
    pub kept: usize,
    /// Events held until their parents arrive.
    pub pending_events: usize,
    pub gossip: GossipCounts,
    /// The last catch-up with each peer.
    pub sync: Vec<PeerSync>,
    /// The last catalog catch-up with each peer (spec/catalog.md):
    /// `needed` and `added` count announcements.
    pub catalog_sync: Vec<PeerSync>,
    /// Files of kept designs still to fetch, and DHT announcements to make.
    pub seeding: SeedingStatus,
    /// The long work running now (transfers, catch-ups, collections...),
    /// oldest first, with its progress.
    pub activities: Vec<ActivityView>,
    /// Every peer known since start, connected first: its last successful
    /// connection, last catch-up and last error. Empty: no peer was ever
    /// heard of.
    pub peer_history: Vec<crate::net::PeerHistory>,
    /// How full the store is under `[storage] max_bytes`, and what was
    /// given up to stay under it.
    pub storage: crate::disk::StorageStatus,
    /// The seeding policy in force: `followed`, `all` or
    /// `from:AUTHOR,…` (spec/network.md, "Seeding policies").
    pub seed: String,
}

impl Service {
    /// `progress` counts the files fetched (bytes and files), over every
    /// design synced.
    pub async fn sync(&self, request: SyncRequest, progress: &dyn Progress) -> Result<SyncResult, ServiceError> {
        let net = self.net()?;
        let subject = request.design.map_or_else(|| "kept designs".to_owned(), |d| d.to_string());
        let activity = self.node.activities.begin("sync", subject);
        let progress = &Summed::new(Both(&activity, progress));
        let scope = match request.design {
            Some(design) => Interest::designs([design]),
            None => net.own_scope()?,
        };
        let catch_up = net.catch_up_all(&scope).await;
        let designs = match request.design {
            Some(design) => vec![design],
            None => self.node.kept_designs()?,
        };
        let mut present = Vec::with_capacity(designs.len());
        for design in designs {
            if self.node.has_design(&design)? {
                present.push((design, None));
            }
        }
        let mut files = Vec::new();
        let mut errors = Vec::new();
        // Fetched together, as the seeder does: many designs' trees and
        // small files share streams.
        for batch in present.chunks(SEED_BATCH) {
            for (design, fetched) in net.fetch_revisions(batch, progress).await {
                match fetched {
                    Ok(fetched) => files.push(fetched),
                    Err(e) => errors.push(format!("{design}: {e}")),
                }
            }
        }
        Ok(SyncResult { catch_up, files, errors })
    }

    /// Dials a peer now and waits for the connection (up to 10 s).
    pub async fn dial(&self, request: &DialRequest) -> Result<DialResult, ServiceError> {
        let addr: libp2p::Multiaddr = request
            .address
            .parse()
            .map_err(|e| ServiceError::BadRequest(format!("{:?} is not a multiaddr: {e}", request.address)))?;
        if !matches!(addr.iter().last(), Some(libp2p::multiaddr::Protocol::P2p(_))) {
            return Err(ServiceError::BadRequest(format!(
                "{} does not end in /p2p/PEER_ID (`communs node status` on that node prints it)",
                request.address
            )));
        }
        let peer = self.net()?.dial_now(addr).await?;
        Ok(DialResult { peer_id: peer.to_string(), address: request.address.clone() })
    }

    pub async fn peers(&self) -> Result<Vec<PeerInfo>, ServiceError> {
        Ok(self.net()?.status().await?.peers)
    }

    /// The status reads nothing from the store (the designs kept are the
    /// network's copy), so that it answers at once however busy the
    /// store is.
    /// `api` is where the node's API listens, which only the API knows.
    pub async fn node_status(&self, api: std::net::SocketAddr) -> Result<NodeStatus, ServiceError> {
        let network = self.net()?;
        // Read before the seeding queue: a design is queued for its files
        // before it is shown kept, so a status showing it kept and nothing
        // queued means its files are here. Read after, the queue could be
        // older than the designs kept.
        let kept = network.kept_count();
        let NetStatus {
            peer_id,
            listen,
            peers,
            redialling,
            seed_all,
            pending_events,
            gossip,
            sync,
            catalog_sync,
            seeding,
            history,
        } = network.status().await?;
        Ok(NodeStatus {
            peer_id,
            author: self.node.author().to_string(),
            listen,
            api: api.to_string(),
            peers,
            redialling,
            seed_all,
            kept,
            pending_events,
            gossip,
            sync,
            catalog_sync,
            seeding,
            activities: self.node.activities.list(std::time::Instant::now()),
            peer_history: history,
            storage: self.node.storage_status(),
            seed: self.node.seed_policy_in_force()?.to_string(),
        })
    }
}

/// Work found a part at a time (a sync's designs, a batch at a time),
/// told as one: each part's total adds to the whole.
struct Summed<P> {
    inner: P,
    totals: std::sync::Mutex<(u64, usize)>,
}

impl<P: Progress> Summed<P> {
    fn new(inner: P) -> Self {
        Summed { inner, totals: std::sync::Mutex::new((0, 0)) }
    }
}

impl<P: Progress> Progress for Summed<P> {
    fn start(&self, bytes: u64, items: usize) {
        if let Ok(mut totals) = self.totals.lock() {
            totals.0 += bytes;
            totals.1 += items;
            self.inner.start(totals.0, totals.1);
        }
    }
    fn advance(&self, bytes: u64) {
        self.inner.advance(bytes)
    }
    fn advance_items(&self, items: usize) {
        self.inner.advance_items(items)
    }
    fn serving(&self, peer: &str) {
        self.inner.serving(peer)
    }
    fn finish(&self) {
        self.inner.finish()
    }
}
