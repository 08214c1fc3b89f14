//! The network: one libp2p swarm carrying gossip, catch-up and files.
//!
//! One task owns the swarm and does nothing slow: it routes swarm events
//! to tasks (validating a gossiped event, answering a catch-up request,
//! fetching files) and carries out the [`Command`]s those tasks and the API
//! send back. Everything that reads or writes the store runs in those
//! tasks, so a slow disk never stalls gossip.

mod anti_entropy;
pub mod bandwidth;
mod behaviour;
pub mod blobs;
mod catchup;
mod codec;
mod fetch;
mod gossip;
mod holders;
mod kept;
mod peer_history;
pub use peer_history::{LastCatchup, LastError, PeerHistory};
mod redial;
mod search;
pub use search::{PeerAnswer, SEARCH_WAIT};
mod seed;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod timing;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use communs_protocol::wire::{self, Request, Response};
use communs_protocol::{DesignId, SignedEvent};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::kad;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, identify, mdns, noise, ping, tcp, yamux};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::Node;
use behaviour::{Behaviour, BehaviourEvent};
use redial::Redial;

pub use catchup::{CatchupError, CatchupReport, Interest, PeerFailure};
pub use fetch::{FetchReport, FilesError};
pub(crate) use gossip::peer_of;
pub use libp2p::Multiaddr as Address;
pub use seed::{SEED_BATCH, SEED_CONCURRENCY};
pub use timing::{ANTI_ENTROPY_INTERVAL, PROVIDE_REFRESH_INTERVAL, SYNC_DIAL_WAIT};
use timing::{DIAL_STATUS_POLL, FIND_PROVIDERS_WAIT, IDLE_CONNECTION_TIMEOUT, REDIAL_TICK};

/// How the node joins the network (the `[network]` table of config.toml,
/// each field overridable by a flag of `communs node run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Addresses to listen on (default: all interfaces, TCP port 4517).
    #[serde(default)]
    pub listen: Vec<Multiaddr>,
    /// Peers to connect to at start and to keep in the DHT.
    #[serde(default)]
    pub bootstrap: Vec<Multiaddr>,
    /// Relays (tiers-lieux with a public address) to be reachable through
    /// from behind a NAT: `/ip4/.../tcp/.../p2p/RELAY`.
    #[serde(default)]
    pub relays: Vec<Multiaddr>,
    /// Find peers on the local network with mDNS.
    #[serde(default = "yes")]
    pub mdns: bool,
    /// Find peers and providers through the Kademlia DHT. Off, the node
    /// talks only to the peers it is given and those mDNS finds.
    #[serde(default = "yes")]
    pub dht: bool,
    /// Keep and seed every design the node hears of, not only those it keeps.
    #[serde(default)]
    pub seed_all: bool,
    /// Serve as a circuit relay for others.
    #[serde(default)]
    pub relay_server: bool,
    /// Addresses at which others reach this node (a tiers-lieu's public
    /// address). A relay serves only when it has one; without any, a relay
    /// server takes its listen addresses.
    #[serde(default)]
    pub external: Vec<Multiaddr>,
    /// Connections the node keeps at most (a tiers-lieu may allow more).
    #[serde(default = "max_connections")]
    pub max_connections: u32,
    /// Connections to one peer at most.
    #[serde(default = "max_connections_per_peer")]
    pub max_connections_per_peer: u32,
    /// Bytes per second sent on file transfers, to all peers together,
    /// each peer with a fair share (absent: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload_bytes_per_second: Option<bandwidth::Rate>,
    /// Bytes per second received on file transfers, from all peers
    /// together (absent: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_download_bytes_per_second: Option<bandwidth::Rate>,
}

fn max_connections() -> u32 {
    communs_protocol::limits::MAX_CONNECTIONS
}

fn max_connections_per_peer() -> u32 {
    communs_protocol::limits::MAX_CONNECTIONS_PER_PEER
}

fn yes() -> bool {
    true
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: Vec::new(),
            bootstrap: Vec::new(),
            relays: Vec::new(),
            mdns: true,
            dht: true,
            seed_all: false,
            relay_server: false,
            external: Vec::new(),
            max_connections: max_connections(),
            max_connections_per_peer: max_connections_per_peer(),
            max_upload_bytes_per_second: None,
            max_download_bytes_per_second: None,
        }
    }
}

pub const DEFAULT_PORT: u16 = 4517;

/// DHT announcements (provider records) in flight at once: a node keeping
/// thousands of designs announces them a batch at a time, not in one burst
/// of queries.
pub const PROVIDE_AT_ONCE: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The swarm could not be built: libp2p's error, as the cause.
    #[error("starting the network: {0}")]
    Start(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: Multiaddr, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("the network has stopped")]
    Stopped,
    #[error("request to {peer} failed: {reason}")]
    Request { peer: PeerId, reason: String },
    #[error("cannot dial {addr}: {reason}")]
    Dial { addr: Multiaddr, reason: String },
    #[error("no connection to {peer} at {addr} within {} s (is a node running there, and reachable from here?)", timing::DIAL_WAIT.as_secs())]
    Unreachable { addr: Multiaddr, peer: PeerId },
    #[error(transparent)]
    Node(#[from] crate::NodeError),
}

/// A peer as `communs peers` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PeerInfo {
    pub peer_id: String,
    pub addresses: Vec<String>,
    /// The gossipsub score this node gives the peer; below -80 its
    /// messages are ignored.
    pub score: Option<f64>,
    pub agent: Option<String>,
}

/// What `communs node status` shows of the network.
#[derive(Debug, Clone, Serialize)]
pub struct NetStatus {
    pub peer_id: String,
    pub listen: Vec<String>,
    pub peers: Vec<PeerInfo>,
    /// Known peers (from mDNS, the config, past connections) that are not
    /// connected and are redialled with back-off.
    pub redialling: usize,
    pub seed_all: bool,
    pub pending_events: usize,
    pub gossip: GossipCounts,
    /// The last catch-up with each peer met since start.
    pub sync: Vec<PeerSync>,
    /// The last catalog catch-up with each peer met since start.
    pub catalog_sync: Vec<PeerSync>,
    pub seeding: SeedingStatus,
    /// Every peer known since start: last connection, catch-up, error.
    pub history: Vec<PeerHistory>,
}

/// Where the fetching of kept designs' files stands.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SeedingStatus {
    /// Designs waiting for their files to be checked and fetched.
    pub queued: usize,
    /// Designs whose files are being checked and fetched.
    pub fetching: usize,
    /// Designs whose files no peer could send yet; tried again after the
    /// next catch-up.
    pub waiting_for_peers: usize,
    /// Designs being announced in the DHT, or waiting to be.
    pub announcing: usize,
}

/// Gossip messages received since start, over every topic.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct GossipCounts {
    /// Every copy received, duplicates included.
    pub received: u64,
    /// First copies (each message once).
    pub delivered: u64,
}

enum Command {
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, String>>,
    },
    /// The work of a peer's catch-up request ended: the answer to send,
    /// and the session to keep open.
    Answered {
        peer: PeerId,
        channel: ResponseChannel<Response>,
        answer: catchup::Answer,
    },
    Validated {
        id: gossipsub::MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    },
    Publish(Box<SignedEvent>),
    /// Ask `peer` a network search.
    Search {
        peer: PeerId,
        query: communs_protocol::search::Query,
        reply: oneshot::Sender<Result<communs_protocol::search::Response, String>>,
    },
    /// The answer to a peer's network search, once the index gave it.
    SearchAnswered {
        channel: ResponseChannel<communs_protocol::search::Response>,
        response: communs_protocol::search::Response,
    },
    /// Gossip these bytes on each of these topics (a profile).
    PublishOn {
        topics: Vec<String>,
        bytes: Vec<u8>,
    },
    /// Gossip this announcement of a design this node keeps.
    Announce(Vec<u8>),
    /// The peer sent something invalid outside gossip (a catalog
    /// catch-up): it is scored as if it had sent an invalid message.
    Penalise {
        peer: PeerId,
        reason: String,
    },
    /// The store says these designs are kept, and these of them present:
    /// subscribe, announce, publish the set; `done` once it is published.
    Kept {
        kept: BTreeSet<DesignId>,
        present: BTreeSet<DesignId>,
        done: oneshot::Sender<()>,
    },
    /// Queue every present kept design for its files.
    SeedEverything,
    /// A catch-up with this peer ended.
    Synced(PeerId, PeerSync),
    /// A catalog catch-up with this peer ended.
    CatalogSynced(PeerId, PeerSync),
    /// Something went wrong with this peer (a catch-up failed), for its
    /// history.
    PeerFailed(PeerId, String),
    FindProviders {
        design: DesignId,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Dial(Multiaddr),
    /// Bootstrap peers added to the config while running: kept and dialled
    /// as those of the config at start.
    Bootstrap(Vec<Multiaddr>),
    /// Dial now, answering whether the dial could start.
    DialNow(Multiaddr, oneshot::Sender<Result<(), String>>),
    Status(oneshot::Sender<NetStatus>),
    Peers(oneshot::Sender<Vec<PeerId>>),
    /// Dial every known peer not connected, now; the peers dialled.
    DialKnown(oneshot::Sender<Vec<PeerId>>),
    /// Where the dialling of these peers stands.
    DialStatus(Vec<PeerId>, oneshot::Sender<Vec<(PeerId, redial::DialStatus)>>),
    /// The peer sent events of these designs: it holds them.
    Holds {
        peer: PeerId,
        designs: Vec<DesignId>,
    },
    /// The connected peers, those holding any of these designs first.
    PeersFor {
        designs: Vec<DesignId>,
        reply: oneshot::Sender<fetch::PeerOrder>,
    },
    /// Events whose parents are missing, for the pending set.
    Hold(Vec<SignedEvent>),
    /// Holds `hold`, then takes out of the pending set the events that
    /// waited for one of `arrived` (just stored): those to store now.
    Release {
        hold: Vec<SignedEvent>,
        arrived: Vec<communs_protocol::EventId>,
        reply: oneshot::Sender<Vec<SignedEvent>>,
    },
    Shutdown(oneshot::Sender<()>),
}

/// A handle on the running network, cheap to clone.
#[derive(Clone)]
pub struct Network {
    shared: Arc<Shared>,
}

struct Shared {
    node: Arc<Node>,
    peer_id: PeerId,
    seed_all: bool,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    /// The upload and download limits every blob stream is under.
    bandwidth: Arc<bandwidth::Bandwidth>,
    /// Designs whose files are being fetched (by a background task, or a
    /// `get`), each with whether another fetch was asked for meanwhile.
    /// A lock rather than the driver's: [`Network::claim_design`] answers
    /// at once, on any thread, and its guard gives the claim back in
    /// `Drop`; it decides only which of this node's tasks fetches a
    /// design's files, nothing a peer sees.
    fetching: Mutex<HashMap<DesignId, bool>>,
    /// One lock per blob being fetched, so that no two fetches of the same
    /// blob run at once: tasks wait on these while another fetches, which
    /// the driver must never do.
    in_flight: Mutex<HashMap<communs_protocol::BlobHash, Arc<tokio::sync::Mutex<()>>>>,
    /// The peers a catalog catch-up runs with (one at a time per peer).
    catalog_runs: Mutex<HashSet<PeerId>>,
    /// Set when the swarm stops, so that the tasks that watch the store end
    /// and the store can close.
    stopped: tokio::sync::watch::Sender<bool>,
    /// Gossipsub's counters.
    metrics: prometheus_client::registry::Registry,
    /// libp2p-metrics' counters of the swarm's events and of the bytes of
    /// each transport.
    swarm_metrics: prometheus_client::registry::Registry,
    /// The designs this node keeps ([`Node::kept_designs`]), as the driver
    /// last published them (it holds the only sender), so that checking a
    /// gossiped event needs no store read and no round trip to the driver;
    /// refreshed when a design arrives and when the follow policy changes.
    kept: tokio::sync::watch::Receiver<Arc<BTreeSet<DesignId>>>,
    /// To the driver, which owns the queue of designs whose files may be
    /// missing (`seed.rs`).
    seeds: mpsc::UnboundedSender<seed::SeedMessage>,
}

/// The last catch-up with one peer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PeerSync {
    pub peer_id: String,
    /// When it ended, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    #[serde(flatten)]
    pub report: CatchupReport,
}

impl Network {
    /// Starts the swarm on `node`'s identity and waits until it listens on
    /// every address of `config`.
    pub async fn start(node: Arc<Node>, config: &NetConfig) -> Result<Network, NetError> {
        let key = libp2p::identity::Keypair::ed25519_from_bytes(node.key.to_bytes())
            .map_err(|e| NetError::Start(e.into()))?;
        let options = behaviour::Options {
            dht: config.dht,
            relay_server: config.relay_server,
            max_connections: config.max_connections,
            max_connections_per_peer: config.max_connections_per_peer,
        };
        fn start(e: impl std::error::Error + Send + Sync + 'static) -> NetError {
            NetError::Start(Box::new(e))
        }
        // Gossipsub's own metrics apart: `gossip_counts` reads them for
        // every `node status`, and encoding the rest too would slow it.
        let mut registry = prometheus_client::registry::Registry::with_prefix("libp2p_gossipsub");
        // The swarm's events and the bytes of each transport (`/metrics`).
        let mut swarm_registry = prometheus_client::registry::Registry::default();
        let swarm_metrics = libp2p::metrics::Metrics::new(&mut swarm_registry);
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(start)?
            .with_relay_client(noise::Config::new, yamux::Config::default)
            .map_err(start)?
            .with_bandwidth_metrics(&mut swarm_registry)
            .with_behaviour(|key, relay_client| Behaviour::new(key, relay_client, &options, &mut registry))
            .map_err(start)?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
            .build();
        let listen = if config.listen.is_empty() {
            vec![format!("/ip4/0.0.0.0/tcp/{DEFAULT_PORT}").parse().map_err(start)?]
        } else {
            config.listen.clone()
        };
        for addr in &listen {
            swarm.listen_on(addr.clone()).map_err(|e| NetError::Listen { addr: addr.clone(), source: Box::new(e) })?;
        }
        // Wait for the real addresses (port 0 becomes a port) so that
        // `node status` right after start shows them.
        let mut listening = Vec::new();
        let mut listeners = Vec::new();
        while listening.len() < listen.len() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, listener_id } => {
                    listeners.push((listener_id, address.clone()));
                    listening.push(address);
                }
                SwarmEvent::ListenerError { error, .. } | SwarmEvent::ListenerClosed { reason: Err(error), .. } => {
                    return Err(NetError::Listen { addr: listen[listening.len()].clone(), source: Box::new(error) });
                }
                _ => {}
            }
        }
        if config.mdns {
            let mdns = behaviour::mdns_once_listening(*swarm.local_peer_id(), &listeners).map_err(start)?;
            swarm.behaviour_mut().mdns = Some(mdns).into();
        }
        let mut redial = Redial::new(*swarm.local_peer_id());
        let external = if config.external.is_empty() && config.relay_server { &listening } else { &config.external };
        for addr in external {
            swarm.add_external_address(addr.clone());
        }
        // Listening through a relay waits for the connection to it (see
        // `Driver::on_swarm_event`): asked before, the relay transport
        // closes the listener at once.
        let relays: HashMap<PeerId, Multiaddr> = config
            .relays
            .iter()
            .filter_map(|addr| match addr.iter().last() {
                Some(Protocol::P2p(peer)) => Some((peer, addr.clone())),
                _ => {
                    tracing::warn!("relay address {addr} does not end in /p2p/PEER; ignored");
                    None
                }
            })
            .collect();
        // Config peers with an id are dialled by the driver's first tick,
        // and again whenever they are lost; others are dialled once, here.
        add_config_peers(&mut swarm, &mut redial, config.bootstrap.iter().chain(&config.relays));
        let (commands, receiver) = mpsc::channel(1024);
        let (kept_sender, kept_receiver) = tokio::sync::watch::channel(Arc::default());
        let (seeds_sender, seeds_receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            peer_id: *swarm.local_peer_id(),
            node,
            seed_all: config.seed_all,
            commands,
            control: swarm.behaviour().blobs.new_control(),
            bandwidth: Arc::new(bandwidth::Bandwidth::new(bandwidth::Limits {
                upload: config.max_upload_bytes_per_second,
                download: config.max_download_bytes_per_second,
            })),
            fetching: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            catalog_runs: Mutex::new(HashSet::new()),
            stopped: tokio::sync::watch::Sender::new(false),
            metrics: registry,
            swarm_metrics: swarm_registry,
            kept: kept_receiver,
            seeds: seeds_sender,
        });
        let network = Network { shared };
        let mut driver = Driver {
            network: network.clone(),
            swarm,
            relays,
            known: HashMap::new(),
            redial,
            holders: holders::Holders::default(),
            requests: HashMap::new(),
            searches: HashMap::new(),
            search_budgets: search::Budgets::default(),
            responders: catchup::Responders::default(),
            pending: gossip::Pending::default(),
            kept: kept::Kept::new(config.seed_all),
            kept_sender,
            synced: BTreeMap::new(),
            catalog_synced: BTreeMap::new(),
            anti_entropy: anti_entropy::AntiEntropy::default(),
            seeds: seed::SeedQueue::default(),
            seed_messages: seeds_receiver,
            seeder_waiting: None,
            providers: HashMap::new(),
            to_announce: BTreeSet::new(),
            announcing: HashSet::new(),
            dht_empty: true,
            tasks: tokio::task::JoinSet::new(),
            swarm_metrics,
            histories: peer_history::PeerHistories::default(),
        };
        // Also queues every kept design in the store for its files: what
        // the last run left unfetched is found again here.
        network.subscribe_kept(&mut driver)?;
        let store = network.shared.node.blobs.store().await.map_err(crate::NodeError::from)?.clone();
        driver.tasks.spawn(blobs::serve(network.shared.control.clone(), store, network.shared.bandwidth.clone()));
        driver.tasks.spawn(network.clone().watch_store());
        driver.tasks.spawn(network.clone().run_seeder());
        // Under a storage limit: back under it when over, and the designs
        // that did not fit tried again when space frees up.
        let retrying = network.clone();
        driver
            .tasks
            .spawn(crate::disk::watch(Arc::downgrade(&network.shared.node), move |designs| retrying.seed(designs)));
        driver.tasks.spawn(network.clone().refresh_own_announcements(None));
        // The driver's own task needs no handle: it answers `Shutdown` only
        // once everything it owns is gone (see `Driver::run`).
        tokio::spawn(driver.run(receiver));
        Ok(network)
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.shared.node
    }

    pub fn peer_id(&self) -> PeerId {
        self.shared.peer_id
    }

    fn subscribe_kept(&self, driver: &mut Driver) -> Result<(), NetError> {
        let gossipsub = &mut driver.swarm.behaviour_mut().gossipsub;
        if self.shared.seed_all {
            for topic in behaviour::all_topics() {
                gossipsub.subscribe(&topic).map_err(|e| NetError::Start(Box::new(e)))?;
            }
        }
        // Every node keeps a catalog (spec/catalog.md).
        gossipsub.subscribe(&IdentTopic::new(wire::CATALOG_TOPIC)).map_err(|e| NetError::Start(Box::new(e)))?;
        let (kept, present) = self.shared.node.kept_and_present()?;
        driver.set_kept(kept, present);
        Ok(())
    }

    /// How many designs this node keeps, as last read from the store (see
    /// [`Network::refresh_kept`]): what the API shows without a store read.
    pub fn kept_count(&self) -> usize {
        self.shared.kept.borrow().len()
    }

    /// Whether this node keeps (stores, catches up, seeds) `design`.
    pub fn keeps(&self, design: &DesignId) -> bool {
        self.shared.seed_all || self.shared.kept.borrow().contains(design)
    }

    /// Re-reads which designs this node keeps (after a policy change or a
    /// new design): subscribes to the shards and announces the designs
    /// newly kept.
    pub async fn refresh_kept(&self) -> Result<(), NetError> {
        let node = self.shared.node.clone();
        let (kept, present) =
            tokio::task::spawn_blocking(move || node.kept_and_present()).await.map_err(|_| NetError::Stopped)??;
        self.ask(|done| Command::Kept { kept, present, done }).await
    }

    async fn send(&self, command: Command) -> Result<(), NetError> {
        self.shared.commands.send(command).await.map_err(|_| NetError::Stopped)
    }

    /// One catch-up request and its response.
    pub(crate) async fn request(&self, peer: PeerId, request: Request) -> Result<Response, NetError> {
        self.ask(|reply| Command::Request { peer, request, reply })
            .await?
            .map_err(|reason| NetError::Request { peer, reason })
    }

    /// New upload and download limits from now on (a reload).
    pub fn set_bandwidth(&self, limits: bandwidth::Limits) {
        self.shared.bandwidth.set_limits(limits);
    }

    /// What the upload and download limits have granted and made wait,
    /// for metrics.
    pub fn bandwidth_counters(&self) -> bandwidth::BandwidthCounters {
        self.shared.bandwidth.counters()
    }

    pub async fn status(&self) -> Result<NetStatus, NetError> {
        let mut status = self.ask(Command::Status).await?;
        // Encoding gossipsub's metrics takes a while (a family per topic):
        // done here, not by the swarm's task.
        status.gossip = self.gossip_counts();
        Ok(status)
    }

    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        self.ask(Command::Peers).await
    }

    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.send(Command::Dial(addr)).await
    }

    /// Adds bootstrap peers (a reloaded config's): dialled now, and again
    /// whenever lost, as those given at start.
    pub async fn add_bootstrap(&self, addrs: Vec<Multiaddr>) -> Result<(), NetError> {
        self.send(Command::Bootstrap(addrs)).await
    }

    /// Dials `addr` (which ends in `/p2p/PEER`) now and waits until that
    /// peer is connected, up to [`timing::DIAL_WAIT`] (`communs dial`).
    pub async fn dial_now(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
            return Err(NetError::Dial { addr, reason: "it does not end in /p2p/PEER_ID".to_owned() });
        };
        let started = tokio::time::Instant::now();
        if self.connected_peers().await?.contains(&peer) {
            return Ok(peer);
        }
        self.ask(|reply| Command::DialNow(addr.clone(), reply))
            .await?
            .map_err(|reason| NetError::Dial { addr: addr.clone(), reason })?;
        while started.elapsed() < timing::DIAL_WAIT {
            if self.connected_peers().await?.contains(&peer) {
                return Ok(peer);
            }
            tokio::time::sleep(timing::DIAL_STATUS_POLL).await;
        }
        Err(NetError::Unreachable { addr, peer })
    }

    /// Starts keeping `design`: gossip on its shard, a provider record, and
    /// a catch-up of it with every connected peer (and with the providers
    /// the DHT knows, if no connected peer had it). Then fetches the files
    /// of the revision this node would check out.
    pub async fn follow(&self, design: DesignId) -> Result<CatchupReport, NetError> {
        self.refresh_kept().await?;
        let scope = Interest::designs([design]);
        let mut report = self.catch_up_all(&scope).await;
        if !self.has_design(design).await? {
            let (reply, providers) = oneshot::channel();
            self.send(Command::FindProviders { design, reply }).await?;
            let providers = tokio::time::timeout(FIND_PROVIDERS_WAIT, providers).await.ok().and_then(Result::ok);
            for peer in providers.unwrap_or_default() {
                if let Ok(r) = self.catch_up(peer, scope.clone()).await {
                    report.merge(r);
                }
            }
        }
        if self.has_design(design).await? {
            self.seed([design]);
        }
        Ok(report)
    }

    async fn has_design(&self, design: DesignId) -> Result<bool, NetError> {
        let node = self.shared.node.clone();
        Ok(tokio::task::spawn_blocking(move || node.has_design(&design)).await.map_err(|_| NetError::Stopped)??)
    }

    /// Catches up `scope` with every connected peer, one after the other,
    /// after dialling the known peers that are not connected (back-offs
    /// forgotten) and waiting up to [`SYNC_DIAL_WAIT`] for them. Peers that
    /// could not be dialled or caught up with are in the report's
    /// `failures`, with the reason.
    pub async fn catch_up_all(&self, scope: &Interest) -> CatchupReport {
        let mut report = CatchupReport::default();
        let dialled = self.dial_known().await.unwrap_or_default();
        let deadline = tokio::time::Instant::now() + SYNC_DIAL_WAIT;
        let mut statuses = Vec::new();
        while !dialled.is_empty() {
            statuses = self.dial_status(dialled.clone()).await.unwrap_or_default();
            let dialling = statuses.iter().any(|(_, s)| *s == redial::DialStatus::Dialing);
            if !dialling || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(DIAL_STATUS_POLL).await;
        }
        for (peer, status) in statuses {
            let reason = match status {
                redial::DialStatus::Connected => continue,
                redial::DialStatus::Dialing => format!("no connection within {} s", SYNC_DIAL_WAIT.as_secs()),
                redial::DialStatus::Failed(why) => format!("cannot connect: {}", why.unwrap_or_default()),
                redial::DialStatus::Unknown => "forgotten".to_owned(),
            };
            report.failed(peer, reason);
        }
        for peer in self.connected_peers().await.unwrap_or_default() {
            match self.catch_up(peer, scope.clone()).await {
                Ok(r) => report.merge(r),
                Err(e) => {
                    tracing::info!(%peer, "catch-up failed: {e}");
                    report.failed(peer, e.to_string());
                }
            }
        }
        report
    }

    /// The connected peers to fetch the files of `designs` from, those
    /// known to hold them first.
    async fn peers_for(&self, designs: Vec<DesignId>) -> Result<fetch::PeerOrder, NetError> {
        self.ask(|reply| Command::PeersFor { designs, reply }).await
    }

    /// Sends the driver a command carrying a reply channel, and waits for
    /// the reply.
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    async fn dial_known(&self) -> Result<Vec<PeerId>, NetError> {
        self.ask(Command::DialKnown).await
    }

    async fn dial_status(&self, peers: Vec<PeerId>) -> Result<Vec<(PeerId, redial::DialStatus)>, NetError> {
        self.ask(|reply| Command::DialStatus(peers, reply)).await
    }

    /// The scope this node catches up: everything when it seeds
    /// everything, else the designs it keeps.
    pub fn own_scope(&self) -> Result<Interest, NetError> {
        if self.shared.seed_all {
            return Ok(Interest::All);
        }
        Ok(Interest::designs(self.shared.kept.borrow().iter().copied()))
    }

    /// Gossips a profile on the shard topics of the designs its author
    /// has events in (spec/network.md, "Profiles"): the nodes that hold
    /// one of them keep it.
    pub async fn publish_profile(&self, profile: SignedEvent) {
        let node = self.shared.node.clone();
        let author = profile.author();
        let designs = tokio::task::spawn_blocking(move || node.events.designs_of_author(&author)).await;
        let topics = match designs {
            Ok(Ok(designs)) => wire::profile_topics(designs),
            _ => return,
        };
        let _ = self.send(Command::PublishOn { topics, bytes: profile.bytes().to_vec() }).await;
    }

    /// Gossips an event this node stored.
    async fn publish(&self, event: SignedEvent) {
        let _ = self.send(Command::Publish(Box::new(event))).await;
    }

    /// Records in `peer`'s history that something went wrong with it.
    pub(super) async fn peer_failed(&self, peer: PeerId, error: String) {
        let _ = self.send(Command::PeerFailed(peer, error)).await;
    }

    /// Scores `peer` as if it had sent an invalid gossip message.
    pub(super) async fn penalise(&self, peer: PeerId, reason: String) {
        let _ = self.send(Command::Penalise { peer, reason }).await;
    }

    /// Brings this node's own announcements up to date (spec/catalog.md,
    /// "What a node announces"): of the kept designs of `touched`, or of
    /// every kept design (`None`, at start). Those of `gossip` that
    /// changed are gossiped on the catalog topic.
    async fn refresh_own_announcements(self, touched: Option<(Vec<DesignId>, BTreeSet<DesignId>)>) {
        let node = self.shared.node.clone();
        let kept: BTreeSet<DesignId> = self.shared.kept.borrow().iter().copied().collect();
        let (touched, gossip) = match touched {
            Some((touched, gossip)) => (Some(touched), gossip),
            None => (None, BTreeSet::new()),
        };
        let changed =
            tokio::task::spawn_blocking(move || node.refresh_own_announcements(&kept, touched.as_deref())).await;
        match changed {
            Ok(Ok(changed)) => {
                for announcement in changed.into_iter().filter(|a| gossip.contains(&a.design())) {
                    let _ = self.send(Command::Announce(announcement.bytes().to_vec())).await;
                }
            }
            Ok(Err(e)) => tracing::warn!("cannot update this node's announcements: {e}"),
            Err(_) => {}
        }
    }

    /// Gossips what this node signs, and queues the designs it keeps for
    /// their files when their log grows. Events are taken in bursts (all
    /// those already waiting), so that a catch-up of thousands of designs
    /// re-reads the designs kept once, not once per design. When the
    /// broadcast lagged, what was missed is unknown: every kept design is
    /// queued (the seeder skips those whose files are here).
    async fn watch_store(self) {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        let mut inserted = self.shared.node.events.subscribe();
        let mut stopped = self.shared.stopped.subscribe();
        let me = self.shared.node.author();
        loop {
            let first = tokio::select! {
                received = inserted.recv() => received,
                _ = stopped.wait_for(|stopped| *stopped) => return,
            };
            let mut burst = Vec::new();
            let mut lagged = false;
            let mut next = first.map_err(|e| match e {
                RecvError::Lagged(_) => TryRecvError::Lagged(0),
                RecvError::Closed => TryRecvError::Closed,
            });
            loop {
                match next {
                    Ok(event) => burst.push(event),
                    Err(TryRecvError::Lagged(_)) => lagged = true,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
                next = inserted.try_recv();
            }
            let mut designs = BTreeSet::new();
            let mut mine = BTreeSet::new();
            let mut new_design = false;
            for event in burst {
                designs.insert(event.design());
                if event.author() == me {
                    mine.insert(event.design());
                }
                // A genesis is a design new to this store: kept, unless
                // this node unfollowed it before it arrived.
                new_design |= matches!(event.body(), communs_protocol::Body::Genesis(_));
                if event.author() == me {
                    self.publish(event).await;
                }
            }
            if lagged {
                tracing::info!("missed new events in a burst; checking every kept design for files");
            }
            if lagged {
                self.seed_everything().await;
            }
            // The designs new to the store are queued as they are read.
            if (new_design || lagged)
                && let Err(e) = self.refresh_kept().await
            {
                tracing::warn!("cannot update the designs kept: {e}");
            }
            let kept: Vec<DesignId> = designs.into_iter().filter(|d| self.keeps(d)).collect();
            // The announcements of the designs whose log grew, gossiped
            // when this node's own author changed them.
            self.clone().refresh_own_announcements(Some((kept.clone(), mine))).await;
            if !lagged {
                self.seed(kept);
            }
        }
    }

    /// Sums gossipsub's per-topic receive counters (read from its metrics
    /// registry, the only place it keeps them).
    pub fn gossip_counts(&self) -> GossipCounts {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.shared.metrics).is_err() {
            return GossipCounts::default();
        }
        let mut counts = GossipCounts::default();
        for line in text.lines() {
            let Some((name, value)) = line.split_once(' ') else { continue };
            let value: u64 = value.trim().parse::<f64>().map(|v| v as u64).unwrap_or(0);
            let name = name.strip_prefix("libp2p_gossipsub_").unwrap_or(name);
            if name.starts_with("topic_msg_recv_counts_unfiltered_total") {
                counts.received += value;
            } else if name.starts_with("topic_msg_recv_counts_total") {
                counts.delivered += value;
            }
        }
        counts
    }

    /// Every metric of the running node in the text exposition format
    /// (OpenMetrics, which Prometheus reads): communs' own, then the
    /// swarm's and gossipsub's.
    pub fn encode_metrics(&self) -> String {
        use prometheus_client::encoding::text;
        let mut out = String::new();
        let written = self
            .shared
            .node
            .metrics
            .encode(&mut out)
            .and_then(|()| text::encode_registry(&mut out, &self.shared.swarm_metrics))
            .and_then(|()| text::encode_registry(&mut out, &self.shared.metrics))
            .and_then(|()| text::encode_eof(&mut out));
        if written.is_err() {
            tracing::warn!("cannot encode the metrics");
        }
        out
    }

    /// Stops the swarm; in-flight tasks end with [`NetError::Stopped`].
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// What the driver knows of a connected peer.
#[derive(Default)]
struct Known {
    addresses: Vec<Multiaddr>,
    agent: Option<String>,
}

struct Driver {
    network: Network,
    swarm: Swarm<Behaviour>,
    /// Relays to listen through, by peer id, once connected to them.
    relays: HashMap<PeerId, Multiaddr>,
    known: HashMap<PeerId, Known>,
    /// Which known peers to dial, and when.
    redial: Redial,
    /// Which peers hold which designs: asked first for their files.
    holders: holders::Holders,
    requests: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, String>>>,
    /// Network searches asked of peers, waiting for their answers.
    searches: HashMap<OutboundRequestId, oneshot::Sender<Result<communs_protocol::search::Response, String>>>,
    /// Each connected peer's search budget (spec/search.md).
    search_budgets: search::Budgets,
    /// The answering side of catch-up: open sessions and request slots.
    responders: catchup::Responders,
    /// Events whose parents have not arrived (bounded), released when
    /// they do.
    pending: gossip::Pending,
    /// The kept designs and those present, and the only sender of the set
    /// the other tasks read.
    kept: kept::Kept,
    kept_sender: tokio::sync::watch::Sender<Arc<BTreeSet<DesignId>>>,
    /// The last catch-up with each peer, for `node status`.
    synced: BTreeMap<PeerId, PeerSync>,
    /// The last catalog catch-up with each peer, for `node status`.
    catalog_synced: BTreeMap<PeerId, PeerSync>,
    /// Which peer the next periodic catch-up asks.
    anti_entropy: anti_entropy::AntiEntropy,
    /// The designs whose files may be missing, and what tasks say of it.
    seeds: seed::SeedQueue,
    seed_messages: mpsc::UnboundedReceiver<seed::SeedMessage>,
    /// The seeder's request for a batch, while the queue is empty.
    seeder_waiting: Option<oneshot::Sender<Vec<DesignId>>>,
    providers: HashMap<kad::QueryId, (oneshot::Sender<Vec<PeerId>>, HashSet<PeerId>)>,
    /// Kept designs to announce in the DHT, [`PROVIDE_AT_ONCE`] at a time.
    to_announce: BTreeSet<DesignId>,
    /// The announcements in flight.
    announcing: HashSet<kad::QueryId>,
    /// No peer in the DHT's routing table yet: announcements reach no one,
    /// and are made again when the first peer enters it.
    dht_empty: bool,
    /// Every task the network started (the blob server, the store's
    /// watcher, the seeder, and one per gossiped message, catch-up request
    /// answered and catch-up started here): aborted and waited for at
    /// shutdown.
    tasks: tokio::task::JoinSet<()>,
    /// Counts the swarm's events (libp2p-metrics).
    swarm_metrics: libp2p::metrics::Metrics,
    /// Each known peer's last connection, catch-up and error.
    histories: peer_history::PeerHistories,
}

/// Peers of the config (bootstrap, relays): those with a `/p2p/` id go to
/// the DHT and to [`Redial`], which dials them on its next tick and again
/// whenever they are lost; others are dialled once, now.
fn add_config_peers<'a>(swarm: &mut Swarm<Behaviour>, redial: &mut Redial, addrs: impl Iterator<Item = &'a Multiaddr>) {
    let now = std::time::Instant::now();
    for addr in addrs {
        match addr.iter().last() {
            Some(Protocol::P2p(peer)) => {
                if let Some(kad) = swarm.behaviour_mut().kad.as_mut() {
                    kad.add_address(&peer, addr.clone());
                }
                redial.discovered(now, peer, addr.clone(), redial::Source::Config);
            }
            _ => {
                if let Err(e) = swarm.dial(addr.clone()) {
                    tracing::warn!("cannot dial bootstrap peer {addr}: {e}");
                }
            }
        }
    }
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut anti_entropy = tokio::time::interval(ANTI_ENTROPY_INTERVAL);
        anti_entropy.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        anti_entropy.tick().await;
        let mut refresh = tokio::time::interval(PROVIDE_REFRESH_INTERVAL);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        refresh.tick().await;
        let mut redial = tokio::time::interval(REDIAL_TICK);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let done = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = redial.tick() => {
                    self.dial_due();
                }
                _ = refresh.tick() => self.announce_all(),
                _ = anti_entropy.tick() => {
                    // Sessions of peers that went away, freed.
                    self.responders.expire(std::time::Instant::now());
                    // One peer per tick, in turn: what gossip lost or a
                    // peer learnt by its own catch-up after ours reaches
                    // us within a few ticks.
                    if let Some(peer) = self.anti_entropy.tick(self.swarm.connected_peers().copied()) {
                        let network = self.network.clone();
                        self.tasks.spawn(async move {
                            let Ok(scope) = network.own_scope() else { return };
                            if let Err(e) = network.catch_up(peer, scope).await {
                                tracing::debug!(%peer, "periodic catch-up failed: {e}");
                            }
                            if let Err(e) = network.catch_up_catalog(peer).await {
                                tracing::debug!(%peer, "periodic catalog catch-up failed: {e}");
                            }
                        });
                    }
                }
                // Reaps the tasks that ended, so that the set holds only
                // those running; a panic is logged, not propagated.
                Some(ended) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Err(e) = ended
                        && e.is_panic()
                    {
                        tracing::error!("a network task panicked: {e}");
                    }
                }
                Some(message) = self.seed_messages.recv() => self.on_seed_message(message),
                command = commands.recv() => match command {
                    Some(Command::Shutdown(done)) => break Some(done),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
            }
        };
        self.stop().await;
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Stops every task the network started and waits until each has
    /// ended, then closes the swarm (its connections and listeners): when
    /// `Network::shutdown` returns, nothing of the network runs any more
    /// but store work already on a blocking thread, which finishes on its
    /// own (a transaction is never cut in half).
    async fn stop(mut self) {
        self.network.shared.stopped.send_replace(true);
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        drop(self);
    }

    /// Makes the dials [`Redial`] says are due. Each from a new local
    /// port: two peers dialling each other from their listening ports at
    /// the same instant make one TCP connection that both sides take as
    /// their own outgoing one, and its Noise handshake fails on both.
    fn dial_due(&mut self) -> Vec<PeerId> {
        let now = std::time::Instant::now();
        let mut dialled = Vec::new();
        for dial in self.redial.due(now) {
            let peer = dial.peer;
            let opts = DialOpts::peer_id(peer)
                .addresses(dial.addresses)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .allocate_new_port()
                .build();
            match self.swarm.dial(opts) {
                Ok(()) => {
                    tracing::debug!(%peer, "dialling");
                    dialled.push(peer);
                }
                Err(_) if self.swarm.is_connected(&peer) => self.redial.connected(peer, None),
                Err(e) => {
                    tracing::info!(%peer, "cannot dial: {e}");
                    self.histories.failed(peer, crate::clock::now_ms(), &format!("dial failed: {e}"));
                    self.redial.dial_failed(now, peer, e.to_string());
                }
            }
        }
        dialled
    }

    fn on_command(&mut self, command: Command) {
        let behaviour = self.swarm.behaviour_mut();
        match command {
            Command::Request { peer, request, reply } => {
                let id = behaviour.catchup.send_request(&peer, request);
                self.requests.insert(id, reply);
            }
            Command::Answered { peer, channel, answer } => {
                let response = self.responders.answered(std::time::Instant::now(), peer, answer);
                let _ = behaviour.catchup.send_response(channel, response);
            }
            Command::Validated { id, source, acceptance } => {
                behaviour.gossipsub.report_message_validation_result(&id, &source, acceptance);
            }
            Command::PublishOn { topics, bytes } => {
                for topic in topics {
                    if let Err(e) = behaviour.gossipsub.publish(IdentTopic::new(topic), bytes.clone()) {
                        tracing::debug!("profile not gossiped: {e}");
                    }
                }
            }
            Command::Publish(event) => {
                let topic = IdentTopic::new(wire::topic_of(&event));
                if let Err(e) = behaviour.gossipsub.publish(topic, event.bytes().to_vec()) {
                    // No peer on the topic yet: catch-up brings it to them.
                    tracing::debug!("event {} not gossiped: {e}", event.id());
                }
            }
            Command::Announce(bytes) => {
                if let Err(e) = behaviour.gossipsub.publish(IdentTopic::new(wire::CATALOG_TOPIC), bytes) {
                    tracing::debug!("announcement not gossiped: {e}");
                }
            }
            Command::Search { peer, query, reply } => {
                let id = behaviour.search.send_request(&peer, query);
                self.searches.insert(id, reply);
            }
            Command::SearchAnswered { channel, response } => {
                let _ = behaviour.search.send_response(channel, response);
            }
            Command::Penalise { peer, reason } => {
                tracing::info!(%peer, "penalised: {reason}");
                behaviour.gossipsub.set_application_score(&peer, behaviour::PENALTY);
            }
            Command::Kept { kept, present, done } => {
                self.set_kept(kept, present);
                let _ = done.send(());
            }
            Command::SeedEverything => {
                let present: Vec<DesignId> = self.kept.present().iter().copied().collect();
                self.queue_seeds(present);
            }
            Command::CatalogSynced(peer, sync) => {
                self.catalog_synced.insert(peer, sync);
            }
            Command::Synced(peer, sync) => {
                self.histories.caught_up(peer, sync.at_ms, sync.report.added);
                self.synced.insert(peer, sync);
            }
            Command::PeerFailed(peer, error) => self.histories.failed(peer, crate::clock::now_ms(), &error),
            Command::FindProviders { design, reply } => match behaviour.kad.as_mut() {
                Some(kad) => {
                    let id = kad.get_providers(kad::RecordKey::new(design.as_bytes()));
                    self.providers.insert(id, (reply, HashSet::new()));
                }
                None => {
                    let _ = reply.send(Vec::new());
                }
            },
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::warn!("cannot dial {addr}: {e}");
                }
            }
            Command::Bootstrap(addrs) => {
                add_config_peers(&mut self.swarm, &mut self.redial, addrs.iter());
                self.dial_due();
            }
            Command::DialNow(addr, reply) => {
                let _ = reply.send(self.swarm.dial(addr).map_err(|e| e.to_string()));
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::DialKnown(reply) => {
                self.redial.dial_all_now(std::time::Instant::now());
                let _ = reply.send(self.dial_due());
            }
            Command::Holds { peer, designs } => {
                for design in designs {
                    self.holders.saw(peer, design);
                }
            }
            Command::PeersFor { designs, reply } => {
                let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                let (peers, holders) = self.holders.order(&designs, &connected);
                let _ = reply.send(fetch::PeerOrder { peers, holders });
            }
            Command::DialStatus(peers, reply) => {
                let _ = reply.send(peers.into_iter().map(|p| (p, self.redial.status(&p))).collect());
            }
            Command::Hold(events) => self.hold(events),
            Command::Release { hold, arrived, reply } => {
                self.hold(hold);
                let _ = reply.send(self.pending.take_children(&arrived));
            }
            Command::Status(reply) => {
                // What tasks queued before they asked is counted.
                while let Ok(message) = self.seed_messages.try_recv() {
                    self.on_seed_message(message);
                }
                let _ = reply.send(self.status());
            }
            Command::Shutdown(_) => {}
        }
    }

    fn on_seed_message(&mut self, message: seed::SeedMessage) {
        match message {
            seed::SeedMessage::Queue(designs) => self.queue_seeds(designs),
            seed::SeedMessage::Retry => {
                let again = self.seeds.retry();
                if again > 0 {
                    tracing::debug!("trying again the files of {again} designs");
                }
                self.give_seeder_a_batch();
            }
            seed::SeedMessage::Take(reply) => {
                self.seeder_waiting = Some(reply);
                self.give_seeder_a_batch();
            }
            seed::SeedMessage::Done { taken, failed } => self.seeds.done(taken, failed),
        }
    }

    fn queue_seeds(&mut self, designs: impl IntoIterator<Item = DesignId>) {
        for design in designs {
            self.seeds.push(design);
        }
        self.give_seeder_a_batch();
    }

    /// Answers the seeder's request for a batch, if it waits and there is
    /// one.
    fn give_seeder_a_batch(&mut self) {
        if self.seeds.is_empty() {
            return;
        }
        let Some(reply) = self.seeder_waiting.take() else { return };
        let batch = self.seeds.take_batch();
        if let Err(batch) = reply.send(batch) {
            // The seeder has stopped: the batch is not being fetched.
            self.seeds.done(batch.len(), Vec::new());
        }
    }

    fn hold(&mut self, events: Vec<SignedEvent>) {
        let dropped = self.pending.hold(events);
        if dropped > 0 {
            tracing::warn!(
                "{} events wait for their parents; dropped {dropped} more",
                communs_protocol::limits::MAX_PENDING_EVENTS
            );
        }
    }

    /// Records what the store says is kept and present, and makes the
    /// swarm follow: see [`Driver::keep`].
    fn set_kept(&mut self, kept: BTreeSet<DesignId>, present: BTreeSet<DesignId>) {
        let (change, published) = self.kept.update(kept, present);
        // A design new to the store is queued for its files before it is
        // shown as kept: whoever sees it kept and nothing queued knows its
        // files are here.
        self.queue_seeds(change.provide.iter().copied());
        if !change.unprovide.is_empty() {
            // No longer kept: their catalog entries become ordinary ones.
            let (node, unkept) = (self.network.shared.node.clone(), change.unprovide.clone());
            self.tasks.spawn(async move {
                let unkept = tokio::task::spawn_blocking(move || node.unkeep_announcements(&unkept)).await;
                if let Ok(Err(e)) = unkept {
                    tracing::warn!("cannot update the catalog: {e}");
                }
            });
        }
        self.kept_sender.send_replace(published);
        self.keep(change);
    }

    /// Subscribes to the shards of the kept designs, and announces the
    /// present ones in the DHT (in batches) or stops announcing them.
    fn keep(&mut self, change: kept::KeepChange) {
        let behaviour = self.swarm.behaviour_mut();
        for shard in change.subscribe {
            let topic = IdentTopic::new(wire::shard_topic(shard));
            if let Err(e) = behaviour.gossipsub.subscribe(&topic) {
                tracing::warn!("cannot subscribe to {topic}: {e}");
            }
        }
        for shard in change.unsubscribe {
            behaviour.gossipsub.unsubscribe(&IdentTopic::new(wire::shard_topic(shard)));
        }
        let Some(kad) = behaviour.kad.as_mut() else { return };
        for design in change.unprovide {
            self.to_announce.remove(&design);
            kad.stop_providing(&kad::RecordKey::new(design.as_bytes()));
        }
        self.to_announce.extend(change.provide);
        self.announce();
    }

    /// Queues every present kept design for a new announcement.
    fn announce_all(&mut self) {
        self.to_announce.extend(self.kept.present().iter().copied());
        self.announce();
    }

    /// Starts announcements until [`PROVIDE_AT_ONCE`] are in flight.
    fn announce(&mut self) {
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            self.to_announce.clear();
            return;
        };
        while self.announcing.len() < PROVIDE_AT_ONCE
            && let Some(design) = self.to_announce.pop_first()
        {
            match kad.start_providing(kad::RecordKey::new(design.as_bytes())) {
                Ok(id) => {
                    self.announcing.insert(id);
                }
                Err(e) => tracing::warn!("cannot announce {design} in the DHT: {e}"),
            }
        }
    }

    fn status(&self) -> NetStatus {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let peers = self
            .swarm
            .connected_peers()
            .map(|peer| {
                let known = self.known.get(peer);
                PeerInfo {
                    peer_id: peer.to_string(),
                    addresses: known.map(|k| k.addresses.iter().map(ToString::to_string).collect()).unwrap_or_default(),
                    score: gossipsub.peer_score(peer),
                    agent: known.and_then(|k| k.agent.clone()),
                }
            })
            .collect();
        NetStatus {
            peer_id: self.swarm.local_peer_id().to_string(),
            listen: self.swarm.listeners().map(ToString::to_string).collect(),
            peers,
            seed_all: self.network.shared.seed_all,
            redialling: self.redial.unconnected(),
            pending_events: self.pending.len(),
            // Read by the caller, off the swarm's task (see `Network::status`).
            gossip: GossipCounts::default(),
            sync: self.synced.values().cloned().collect(),
            catalog_sync: self.catalog_synced.values().cloned().collect(),
            seeding: SeedingStatus {
                announcing: self.announcing.len() + self.to_announce.len(),
                ..self.seeds.status()
            },
            history: self.histories.status(),
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.record(&event);
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                self.redial.connected(peer_id, endpoint.is_dialer().then(|| endpoint.get_remote_address().clone()));
                let known = self.known.entry(peer_id).or_default();
                let address = endpoint.get_remote_address().clone();
                if !known.addresses.contains(&address) {
                    known.addresses.push(address);
                }
                if num_established.get() > 1 {
                    return;
                }
                self.histories.connected(peer_id, crate::clock::now_ms());
                tracing::info!(%peer_id, "connected");
                if let Some(relay) = self.relays.get(&peer_id) {
                    let circuit = relay.clone().with(Protocol::P2pCircuit);
                    if let Err(e) = self.swarm.listen_on(circuit) {
                        tracing::warn!("cannot listen through relay {relay}: {e}");
                    }
                }
                let network = self.network.clone();
                self.tasks.spawn(async move {
                    let Ok(scope) = network.own_scope() else { return };
                    match network.catch_up(peer_id, scope).await {
                        Ok(report) if report.added > 0 => {
                            tracing::info!(%peer_id, "caught up {} events", report.added);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::debug!(%peer_id, "catch-up failed: {e}"),
                    }
                    match network.catch_up_catalog(peer_id).await {
                        Ok(report) if report.added > 0 => {
                            tracing::info!(%peer_id, "heard of {} designs", report.added);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::info!(%peer_id, "catalog catch-up failed: {e}"),
                    }
                });
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, cause, .. } => {
                self.known.remove(&peer_id);
                self.search_budgets.forget(&peer_id);
                self.redial.disconnected(std::time::Instant::now(), peer_id);
                let now_ms = crate::clock::now_ms();
                self.histories.disconnected(peer_id, now_ms);
                match cause {
                    Some(cause) => {
                        tracing::info!(%peer_id, "disconnected: {cause}");
                        // An idle connection closed is no error.
                        if !matches!(cause, libp2p::swarm::ConnectionError::KeepAliveTimeout) {
                            self.histories.failed(peer_id, now_ms, &format!("disconnected: {cause}"));
                        }
                    }
                    None => tracing::info!(%peer_id, "disconnected"),
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer_id), error, .. } => {
                tracing::info!(%peer_id, "dial failed: {error}");
                self.histories.failed(peer_id, crate::clock::now_ms(), &format!("dial failed: {error}"));
                self.redial.dial_failed(std::time::Instant::now(), peer_id, error.to_string());
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    /// Counts a swarm event in libp2p-metrics' metrics, and the peers
    /// connected in communs'.
    fn record(&mut self, event: &SwarmEvent<BehaviourEvent>) {
        use libp2p::metrics::Recorder;
        self.swarm_metrics.record(event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.swarm_metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(e)) => self.swarm_metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => self.swarm_metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(e)) => self.swarm_metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Relay(e)) => self.swarm_metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(e)) => self.swarm_metrics.record(e),
            SwarmEvent::ConnectionEstablished { num_established, .. } if num_established.get() == 1 => {
                self.network.shared.node.metrics.peers_connected.inc();
            }
            SwarmEvent::ConnectionClosed { num_established: 0, .. } => {
                self.network.shared.node.metrics.peers_connected.dec();
            }
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                let network = self.network.clone();
                self.tasks.spawn(async move {
                    let acceptance = network.validate_gossip(propagation_source, &message).await;
                    let _ = network
                        .send(Command::Validated { id: message_id, source: propagation_source, acceptance })
                        .await;
                });
            }
            BehaviourEvent::Catchup(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    match self.responders.admit(std::time::Instant::now(), peer, request) {
                        catchup::Admitted::Now(response) => {
                            let _ = self.swarm.behaviour_mut().catchup.send_response(channel, response);
                        }
                        catchup::Admitted::Work(work) => {
                            let network = self.network.clone();
                            self.tasks.spawn(async move {
                                let answer = network.answer(work).await;
                                let _ = network.send(Command::Answered { peer, channel, answer }).await;
                            });
                        }
                    }
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            BehaviourEvent::Search(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let now_ms = crate::clock::now_ms();
                    let busy = communs_protocol::search::Response::Refused(communs_protocol::search::Refusal::Busy);
                    match self.search_budgets.take(peer, now_ms) {
                        communs_protocol::search::Verdict::Answer => {
                            let network = self.network.clone();
                            self.tasks.spawn(async move {
                                let response = network.answer_search(request).await;
                                let _ = network.send(Command::SearchAnswered { channel, response }).await;
                            });
                        }
                        communs_protocol::search::Verdict::Refuse => {
                            let _ = self.swarm.behaviour_mut().search.send_response(channel, busy);
                        }
                        communs_protocol::search::Verdict::Penalise => {
                            tracing::info!(%peer, "penalised: floods searches");
                            let behaviour = self.swarm.behaviour_mut();
                            behaviour.gossipsub.set_application_score(&peer, behaviour::PENALTY);
                            let _ = behaviour.search.send_response(channel, busy);
                        }
                    }
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.searches.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            BehaviourEvent::Search(request_response::Event::OutboundFailure { request_id, error, .. }) => {
                if let Some(reply) = self.searches.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            BehaviourEvent::Catchup(request_response::Event::OutboundFailure { request_id, error, .. }) => {
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let now = std::time::Instant::now();
                for (peer, addr) in found {
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        kad.add_address(&peer, addr.clone());
                    }
                    self.redial.discovered(now, peer, addr, redial::Source::Mdns);
                }
                self.dial_due();
            }
            // A connection that stopped answering is dead (a link down, a
            // peer frozen): closed, so that its peer is redialled.
            BehaviourEvent::Ping(ping::Event { peer, connection, result: Err(failure) })
                if !matches!(failure, ping::Failure::Unsupported) =>
            {
                tracing::info!(%peer, "connection does not answer pings ({failure}): closing it");
                self.histories.failed(peer, crate::clock::now_ms(), &format!("does not answer pings: {failure}"));
                self.swarm.close_connection(connection);
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                if let Some(known) = self.known.get_mut(&peer_id) {
                    known.agent = Some(info.agent_version.clone());
                }
                // Only peers that speak our DHT go into its routing table
                // (one started with --no-dht asked not to be found).
                let speaks_kad = info.protocols.iter().any(|p| p.as_ref() == wire::KAD_PROTOCOL);
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut()
                    && speaks_kad
                {
                    for addr in info.listen_addrs {
                        kad.add_address(&peer_id, addr);
                    }
                }
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetProviders(result),
                step,
                ..
            }) => {
                if let Some((_, found)) = self.providers.get_mut(&id)
                    && let Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) = result
                {
                    found.extend(providers);
                }
                if step.last
                    && let Some((reply, found)) = self.providers.remove(&id)
                {
                    let _ = reply.send(found.into_iter().collect());
                }
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::StartProviding(result) | kad::QueryResult::RepublishProvider(result),
                ..
            }) => {
                self.announcing.remove(&id);
                if let Err(e) = result {
                    let key: Option<[u8; 32]> = e.key().as_ref().try_into().ok();
                    let design = key.map(|k| DesignId::from_hash(communs_protocol::Hash::from_bytes(k)).to_string());
                    tracing::warn!("announcing {} in the DHT failed: {e}", design.unwrap_or_default());
                }
                self.announce();
            }
            BehaviourEvent::Kad(kad::Event::RoutingUpdated { .. }) if self.dht_empty => {
                self.dht_empty = false;
                self.announce_all();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{NetConfig, Network};
    use crate::Node;

    async fn open(dir: &std::path::Path, name: &str) -> Arc<Node> {
        let home = crate::home::Home::locate(Some(&dir.join(name))).expect("home");
        crate::keyfile::load_or_create(&home).expect("identity");
        Arc::new(Node::open(home).await.expect("open"))
    }

    fn loopback(bootstrap: Vec<libp2p::Multiaddr>) -> NetConfig {
        NetConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
            bootstrap,
            mdns: false,
            dht: false,
            ..NetConfig::default()
        }
    }

    /// What the daemon relies on to close the store: once `shutdown`
    /// returns and the handle is dropped, no task of the network holds the
    /// node any more.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_returns_once_every_task_of_the_network_has_ended() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b) = (open(dir.path(), "a").await, open(dir.path(), "b").await);
        let first = Network::start(a.clone(), &loopback(Vec::new())).await.expect("a starts");
        let status = first.status().await.expect("status");
        let addr = format!("{}/p2p/{}", status.listen[0], status.peer_id).parse().expect("address");
        let second = Network::start(b.clone(), &loopback(vec![addr])).await.expect("b starts");
        // Connected, and both catch-ups of the new connection ended: the
        // network's tasks ran.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let caught_up = |s: super::NetStatus| !s.sync.is_empty();
            if caught_up(first.status().await.expect("status")) && caught_up(second.status().await.expect("status")) {
                break;
            }
            assert!(Instant::now() < deadline, "no catch-up within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (network, node) in [(first, a), (second, b)] {
            let handle = network.clone();
            network.shutdown().await;
            drop(network);
            // At once: no task may still be on its way out.
            assert_eq!(Arc::strong_count(&node), 2, "a task of the network still holds the node");
            assert!(handle.status().await.is_err(), "the driver has stopped");
            drop(handle);
            assert_eq!(Arc::strong_count(&node), 1);
        }
    }
}
