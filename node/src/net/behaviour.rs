//! The libp2p protocols a node speaks, in one behaviour, and how they are
//! tuned.

use communs_protocol::limits::{GOSSIP_SHARDS, MAX_GOSSIP_MESSAGE_BYTES, MAX_PROVIDER_KEYS};
use communs_protocol::wire::{self, CATCHUP_PROTOCOL, IDENTIFY_PROTOCOL, KAD_PROTOCOL};
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::kad::{self, store::MemoryStore, store::MemoryStoreConfig};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    StreamProtocol, connection_limits, dcutr, identify, identity::Keypair, mdns, ping, relay, request_response,
};

use super::codec::{CatchupCodec, SearchCodec};
use super::timing::{
    CATCHUP_REQUEST_TIMEOUT, GOSSIP_HEARTBEAT, MDNS_QUERY_INTERVAL, PING_INTERVAL, PING_TIMEOUT,
    RELAY_MAX_CIRCUIT_DURATION, SCORE_TIME_IN_MESH_QUANTUM,
};

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub limits: connection_limits::Behaviour,
    pub gossipsub: gossipsub::Behaviour,
    pub catchup: request_response::Behaviour<CatchupCodec>,
    pub search: request_response::Behaviour<SearchCodec>,
    pub blobs: libp2p_stream::Behaviour,
    pub kad: Toggle<kad::Behaviour<MemoryStore>>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    /// Off until the node listens ([`mdns_once_listening`]).
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    pub relay_client: relay::client::Behaviour,
    pub relay: Toggle<relay::Behaviour>,
    pub dcutr: dcutr::Behaviour,
}

pub(super) struct Options {
    pub dht: bool,
    pub max_connections: u32,
    pub max_connections_per_peer: u32,
    pub relay_server: bool,
}

/// The message id is the event id: BLAKE3 of the message bytes, which are
/// the signed event. Two copies of one event are one message, whoever
/// signs the gossipsub envelope.
fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::from(blake3::hash(&message.data).as_bytes().to_vec())
}

fn gossipsub(
    key: &Keypair,
    registry: &mut prometheus_client::registry::Registry,
) -> Result<gossipsub::Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        // Nothing is forwarded before the node has checked it.
        .validate_messages()
        .message_id_fn(message_id)
        .max_transmit_size(MAX_GOSSIP_MESSAGE_BYTES)
        .heartbeat_interval(GOSSIP_HEARTBEAT)
        .build()?;
    let behaviour = gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)?;
    // Counters of messages received, first copies and duplicates (see
    // `GossipCounts`).
    let mut behaviour = behaviour.with_metrics(registry, gossipsub::MetricsConfig::default());
    behaviour.with_peer_score(score_params(), score_thresholds())?;
    Ok(behaviour)
}

/// Scoring that punishes what a hostile peer does (invalid messages) and
/// nothing an honest one does on a LAN: many peers share one address there
/// (no IP colocation penalty), and a design's shard may stay quiet for
/// weeks (no penalty for missing mesh deliveries).
fn score_params() -> gossipsub::PeerScoreParams {
    let mut params = gossipsub::PeerScoreParams { ip_colocation_factor_weight: 0.0, ..Default::default() };
    let topic = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        // Time in the mesh earns little (at most +10): the defaults count
        // it in milliseconds, and a well-connected hostile peer would bank
        // enough credit to spend on invalid messages.
        time_in_mesh_weight: 0.1,
        time_in_mesh_quantum: SCORE_TIME_IN_MESH_QUANTUM,
        time_in_mesh_cap: 100.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.5,
        first_message_deliveries_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // One invalid event outweighs any credit (at most +110) and
        // drops the sender below the graylist threshold.
        invalid_message_deliveries_weight: -1000.0,
        invalid_message_deliveries_decay: 0.9,
        ..Default::default()
    };
    for topic_name in all_topics() {
        params.topics.insert(topic_name.hash(), topic.clone());
    }
    params
}

/// The application-specific score (P5, weight 10: libp2p's default) of a
/// peer that sent something invalid outside gossip (an announcement in a
/// catalog catch-up): -1,000, what one invalid gossip message costs.
pub(super) const PENALTY: f64 = -100.0;

fn score_thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 5.0,
    }
}

/// A tiers-lieu relays for the laptops of its makers: circuits long and
/// large enough to catch up and fetch a design through it when hole
/// punching fails (libp2p's defaults, 2 minutes and 128 KiB, only suffice
/// to set up a direct connection).
fn relay_config() -> relay::Config {
    relay::Config {
        max_circuit_duration: RELAY_MAX_CIRCUIT_DURATION,
        max_circuit_bytes: 1 << 30,
        ..relay::Config::default()
    }
}

pub(super) fn all_topics() -> impl Iterator<Item = IdentTopic> {
    (0..GOSSIP_SHARDS)
        .map(|s| IdentTopic::new(wire::shard_topic(s)))
        .chain(std::iter::once(IdentTopic::new(wire::ANNOUNCE_TOPIC)))
        .chain(std::iter::once(IdentTopic::new(wire::CATALOG_TOPIC)))
}

/// mDNS, started once the node listens, told the addresses it listens on
/// (`listening`, as the swarm reported them). Started with the swarm, a
/// node answers the queries of the nodes started with it before it
/// listens, with no address; libp2p ends its fast first queries at the
/// first answer, so laptops started together never learnt of each other
/// until the next query.
pub(super) fn mdns_once_listening(
    peer_id: libp2p::PeerId,
    listening: &[(libp2p::core::transport::ListenerId, libp2p::Multiaddr)],
) -> std::io::Result<mdns::tokio::Behaviour> {
    use libp2p::swarm::{FromSwarm, NetworkBehaviour, NewListenAddr};
    let config = mdns::Config { query_interval: MDNS_QUERY_INTERVAL, ..Default::default() };
    let mut mdns = mdns::tokio::Behaviour::new(config, peer_id)?;
    for (listener_id, addr) in listening {
        mdns.on_swarm_event(FromSwarm::NewListenAddr(NewListenAddr { listener_id: *listener_id, addr }));
    }
    Ok(mdns)
}

impl Behaviour {
    pub(super) fn new(
        key: &Keypair,
        relay_client: relay::client::Behaviour,
        options: &Options,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let peer_id = key.public().to_peer_id();
        let store = MemoryStore::with_config(
            peer_id,
            MemoryStoreConfig { max_provided_keys: MAX_PROVIDER_KEYS, ..Default::default() },
        );
        let mut config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // The driver re-announces the kept designs itself, in batches
        // (`PROVIDE_REFRESH_INTERVAL`), rather than all at once.
        config.set_provider_publication_interval(None);
        let mut kad = kad::Behaviour::with_config(peer_id, store, config);
        kad.set_mode(Some(kad::Mode::Server));
        let kad = options.dht.then_some(kad);
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(options.max_connections))
            .with_max_established_per_peer(Some(options.max_connections_per_peer));
        Ok(Behaviour {
            limits: connection_limits::Behaviour::new(limits),
            gossipsub: gossipsub(key, registry)?,
            catchup: request_response::Behaviour::with_codec(
                CatchupCodec::default(),
                [(StreamProtocol::new(CATCHUP_PROTOCOL), request_response::ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(CATCHUP_REQUEST_TIMEOUT),
            ),
            search: request_response::Behaviour::with_codec(
                SearchCodec::default(),
                [(
                    StreamProtocol::new(communs_protocol::search::SEARCH_PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(super::search::SEARCH_WAIT),
            ),
            blobs: libp2p_stream::Behaviour::new(),
            kad: kad.into(),
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                    .with_agent_version(format!("communs/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::new(ping::Config::new().with_interval(PING_INTERVAL).with_timeout(PING_TIMEOUT)),
            mdns: None.into(),
            relay_client,
            relay: options.relay_server.then(|| relay::Behaviour::new(peer_id, relay_config())).into(),
            dcutr: dcutr::Behaviour::new(peer_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use libp2p::kad::store::RecordStore;
    use libp2p::kad::{self, RecordKey};

    use super::*;

    #[test]
    fn the_dht_holds_provider_records_for_more_designs_than_libp2p_kads_default() {
        let key = Keypair::generate_ed25519();
        let options = Options { dht: true, max_connections: 8, max_connections_per_peer: 1, relay_server: false };
        let (relay_transport, relay_client) = relay::client::new(key.public().to_peer_id());
        drop(relay_transport);
        let mut registry = prometheus_client::registry::Registry::default();
        let mut behaviour = Behaviour::new(&key, relay_client, &options, &mut registry).expect("behaviour");
        let kad: &mut kad::Behaviour<MemoryStore> = behaviour.kad.as_mut().expect("the DHT is on");
        for n in 0..5_000u32 {
            let design = blake3::hash(&n.to_le_bytes());
            if let Err(e) = kad.start_providing(RecordKey::new(design.as_bytes())) {
                panic!("design {n} not provided: {e}");
            }
        }
        assert_eq!(kad.store_mut().provided().count(), 5_000);
    }
}
