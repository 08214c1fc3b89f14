//! A deterministic simulator of many nodes in one process: a virtual
//! clock, a simulated network with latency, loss, reordering and
//! partitions, and a seed that replays a run exactly.
//!
//! Each simulated node runs the network's own state machines, the ones a
//! real node's tasks drive: the gossip verdict and the pending set
//! (`gossip.rs`), both sides of catch-up (`catchup/initiator.rs`,
//! `catchup/responder.rs`, over `protocol::sync`), with every message
//! encoded and decoded by `protocol::wire` and every event's signature
//! checked. Its store ([`store::MemStore`]) makes the checks of the real
//! one in memory. What is modelled rather than run:
//! - gossipsub is an eager push to each node's mesh neighbours (degree D,
//!   as gossipsub's `mesh_n`), with its duplicate cache and its
//!   validate-then-forward rule; its lazy `IHAVE` repair is not modelled
//!   (catch-up is the repair here, as it is the one that works across
//!   partitions);
//! - a connection is a pair of neighbours both online and on the same
//!   side of every partition; when one comes up (a node back online, a
//!   partition healed), both sides start a catch-up, as the real driver
//!   does on `ConnectionEstablished`;
//! - CPU work (signature checks, stores) takes no simulated time.
//!
//! Nothing here reads the system clock or an OS random source: the
//! [`Rng`] is seeded, maps are ordered, and a run is a function of its
//! [`Config`] and what the test does.

mod store;

#[cfg(test)]
mod scenarios;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use communs_protocol::governance::GovernanceState;
use communs_protocol::identity::SecretKey;
use communs_protocol::limits::{
    CATCHUP_REQUEST_TIMEOUT_SECS, MAX_CATCHUP_MESSAGE_BYTES, MAX_FORWARDED_PER_CATCHUP, MAX_GOSSIP_MESSAGE_BYTES,
};
use communs_protocol::wire::{self, Request, Response};
use communs_protocol::{DesignId, EventId, SignedEvent};
use libp2p::PeerId;
use libp2p::gossipsub::MessageAcceptance;

use super::ANTI_ENTROPY_INTERVAL;
use super::anti_entropy::AntiEntropy;
use super::catchup::Interest;
use super::catchup::initiator::{Action, Catchup, Exchange, Input};
use super::catchup::responder::{Admitted, Responders};
use super::gossip::{self, Pending, Step};
use super::timing::GAP_WAIT;
use store::MemStore;

/// A small, seeded generator (SplitMix64): the simulator's only source of
/// chance.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `[low, high]`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = high.saturating_sub(low).as_micros() as u64;
        low + Duration::from_micros(if span == 0 { 0 } else { self.next_u64() % (span + 1) })
    }
}

/// The simulated network.
#[derive(Debug, Clone)]
pub struct Config {
    pub nodes: usize,
    /// Mesh neighbours each node picks (gossipsub's `mesh_n` is 6); the
    /// graph also holds a ring, so that it is connected.
    pub degree: usize,
    /// One-way latency of a message, uniform in this range: messages
    /// overtake each other when it is wide.
    pub latency: (Duration, Duration),
    /// Probability that a message is lost.
    pub loss: f64,
    pub seed: u64,
}

impl Config {
    pub fn new(nodes: usize, seed: u64) -> Config {
        Config { nodes, degree: 6, latency: (Duration::from_millis(5), Duration::from_millis(50)), loss: 0.0, seed }
    }
}

/// What travels between two nodes.
#[derive(Debug, Clone)]
enum Message {
    Gossip { topic: Arc<str>, bytes: Arc<[u8]> },
    Request { id: u64, bytes: Vec<u8> },
    Response { id: u64, bytes: Vec<u8> },
}

impl Message {
    fn len(&self) -> usize {
        match self {
            Message::Gossip { bytes, .. } => bytes.len(),
            Message::Request { bytes, .. } | Message::Response { bytes, .. } => bytes.len(),
        }
    }
}

/// Something that happens at an instant of simulated time.
#[derive(Debug)]
enum Happening {
    Deliver { from: usize, to: usize, message: Message },
    AntiEntropy(usize),
    RequestTimeout { node: usize, request: u64 },
    GapDeadline { node: usize, event: EventId },
}

/// How a hostile node misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostility {
    /// Gossips events whose signature is forged, bytes that are not an
    /// event, and messages over the size limit, and answers catch-up
    /// requests with garbage.
    Garbage,
    /// Gossips a flood of validly signed contributions by strangers to
    /// every design it knows.
    Flood,
}

/// A catch-up this node runs, with the requests it has on the wire.
struct Running {
    peer: usize,
    machine: Catchup,
    /// Events it brought that were gossiped on
    /// ([`MAX_FORWARDED_PER_CATCHUP`]).
    forwarded: usize,
}

/// A gossiped event whose parents were missing: its verdict waits for a
/// catch-up with its sender.
struct Gap {
    event: EventId,
    topic: Arc<str>,
    bytes: Arc<[u8]>,
    from: usize,
}

struct SimNode {
    peer: PeerId,
    online: bool,
    hostile: Option<Hostility>,
    store: MemStore,
    pending: Pending,
    /// Gossip messages seen (gossipsub's duplicate cache), by hash.
    seen: BTreeSet<[u8; 32]>,
    responders: Responders,
    catchups: BTreeMap<u64, Running>,
    /// Requests on the wire: request id → catch-up and exchange.
    requests: BTreeMap<u64, (u64, Exchange)>,
    gaps: Vec<Gap>,
    anti_entropy: AntiEntropy,
    /// When each watched event was first stored here.
    arrivals: BTreeMap<EventId, Duration>,
}

impl SimNode {
    /// Node `index`, its peer id drawn from the run's generator.
    fn new(rng: &mut Rng, index: usize) -> SimNode {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        seed[8..16].copy_from_slice(&(index as u64).to_le_bytes());
        let peer = libp2p::identity::Keypair::ed25519_from_bytes(seed)
            .expect("32 bytes make an ed25519 key")
            .public()
            .to_peer_id();
        SimNode {
            peer,
            online: true,
            hostile: None,
            store: MemStore::default(),
            pending: Pending::default(),
            seen: BTreeSet::new(),
            responders: Responders::default(),
            catchups: BTreeMap::new(),
            requests: BTreeMap::new(),
            gaps: Vec::new(),
            anti_entropy: AntiEntropy::default(),
            arrivals: BTreeMap::new(),
        }
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub messages: u64,
    pub bytes: u64,
    pub lost: u64,
    pub gossip_duplicates: u64,
    pub gossip_rejected: u64,
    pub catchups_started: u64,
    pub catchups_failed: u64,
}

pub struct Sim {
    config: Config,
    rng: Rng,
    /// Simulated time since the start.
    now: Duration,
    /// The instant simulated time 0 maps to, for the state machines that
    /// take `Instant`s.
    epoch: Instant,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    happenings: BTreeMap<u64, Happening>,
    next_seq: u64,
    nodes: Vec<SimNode>,
    neighbours: Vec<BTreeSet<usize>>,
    by_peer: BTreeMap<PeerId, usize>,
    /// Each node's side of the current partition (all 0: none).
    side: Vec<u32>,
    watched: BTreeSet<EventId>,
    counters: Counters,
}

impl Sim {
    pub fn new(config: Config) -> Sim {
        let mut rng = Rng::new(config.seed);
        let mut nodes = Vec::with_capacity(config.nodes);
        let mut by_peer = BTreeMap::new();
        for index in 0..config.nodes {
            let node = SimNode::new(&mut rng, index);
            by_peer.insert(node.peer, index);
            nodes.push(node);
        }
        let mut neighbours = vec![BTreeSet::new(); config.nodes];
        if config.nodes > 1 {
            for a in 0..config.nodes {
                let b = (a + 1) % config.nodes;
                if a != b {
                    neighbours[a].insert(b);
                    neighbours[b].insert(a);
                }
                for _ in 0..config.degree.saturating_sub(2) / 2 {
                    let b = rng.below(config.nodes);
                    if a != b {
                        neighbours[a].insert(b);
                        neighbours[b].insert(a);
                    }
                }
            }
        }
        let mut sim = Sim {
            side: vec![0; config.nodes],
            config,
            rng,
            now: Duration::ZERO,
            epoch: Instant::now(),
            queue: BinaryHeap::new(),
            happenings: BTreeMap::new(),
            next_seq: 0,
            nodes,
            neighbours,
            by_peer,
            watched: BTreeSet::new(),
            counters: Counters::default(),
        };
        for node in 0..sim.nodes.len() {
            // Anti-entropy at a random phase, as nodes start at different
            // times.
            let phase = sim.rng.between(Duration::ZERO, ANTI_ENTROPY_INTERVAL);
            sim.at(phase, Happening::AntiEntropy(node));
        }
        sim
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// An author's key, from the run's seed.
    pub fn author(&self, n: u64) -> SecretKey {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.config.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&n.to_le_bytes());
        seed[16] = 0xa5;
        SecretKey::from_bytes(&seed)
    }

    pub fn make_hostile(&mut self, node: usize, hostility: Hostility) {
        self.nodes[node].hostile = Some(hostility);
    }

    /// Records when `event` reaches each node ([`Sim::arrivals`]).
    pub fn watch(&mut self, event: EventId) {
        self.watched.insert(event);
    }

    /// When each node first stored a watched event (`None`: not yet).
    pub fn arrivals(&self, event: &EventId) -> Vec<Option<Duration>> {
        self.nodes.iter().map(|n| n.arrivals.get(event).copied()).collect()
    }

    pub fn has(&self, node: usize, event: &EventId) -> bool {
        self.nodes[node].store.contains(event)
    }

    pub fn event_count(&self, node: usize) -> usize {
        self.nodes[node].store.len()
    }

    pub fn pending(&self, node: usize) -> usize {
        self.nodes[node].pending.len()
    }

    /// The event ids node `node` holds.
    pub fn ids(&self, node: usize) -> BTreeSet<EventId> {
        self.nodes[node].store.ids().copied().collect()
    }

    pub fn event(&self, node: usize, id: &EventId) -> Option<SignedEvent> {
        self.nodes[node].store.get(id).cloned()
    }

    pub fn governance(&self, node: usize, design: &DesignId) -> Option<GovernanceState> {
        self.nodes[node].store.governance(design).cloned()
    }

    pub fn designs(&self, node: usize) -> Vec<DesignId> {
        self.nodes[node].store.designs().copied().collect()
    }

    /// The nodes neither hostile nor offline.
    pub fn honest_online(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|n| self.nodes[*n].online && self.nodes[*n].hostile.is_none()).collect()
    }

    /// What node `node` would name as the parents of an event `author`
    /// signs now in `design`, naming `named` (a base, a target).
    pub fn parents_for(&self, node: usize, design: &DesignId, author: &SecretKey, named: &[EventId]) -> Vec<EventId> {
        self.nodes[node].store.governance_parents(design, author.author(), named).unwrap_or_else(|| named.to_vec())
    }

    /// Node `node` signed `event`: it stores it and gossips it to its
    /// mesh, as `publish` or `approve` do.
    pub fn publish(&mut self, node: usize, event: SignedEvent) {
        let ingested = self.nodes[node].store.ingest(vec![event.clone()]);
        assert!(ingested.added.len() == 1, "a node publishes only events its own store takes: {ingested:?}");
        self.arrived(node, &ingested.added);
        let topic: Arc<str> = wire::topic_of(&event).into();
        let bytes: Arc<[u8]> = event.bytes().into();
        self.nodes[node].seen.insert(*blake3::hash(&bytes).as_bytes());
        self.forward(node, None, &topic, &bytes);
    }

    /// Runs until simulated time `until` (from the start).
    pub fn run_until(&mut self, until: Duration) {
        while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = at;
            if let Some(happening) = self.happenings.remove(&seq) {
                self.happen(happening);
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) {
        self.run_until(self.now + span);
    }

    /// Runs until `done` holds (checked every `step`), at most `limit`;
    /// returns whether it held.
    pub fn run_while_not(&mut self, step: Duration, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.run_for(step);
        }
        done(self)
    }

    /// Whether every honest online node holds the same events.
    pub fn converged(&self) -> bool {
        let honest = self.honest_online();
        let Some(first) = honest.first() else { return true };
        let ids = self.ids(*first);
        honest.iter().all(|n| self.nodes[*n].store.len() == ids.len() && self.ids(*n) == ids)
    }

    /// Each node's event count, pending events and catch-ups under way,
    /// for a failing scenario's message.
    pub fn describe(&self) -> String {
        let nodes: Vec<String> = (0..self.nodes.len())
            .map(|n| {
                let node = &self.nodes[n];
                format!(
                    "{n}:{}{}{} events/{} pending/{} catch-ups, neighbours {:?}",
                    if node.online { "" } else { "(offline)" },
                    if node.hostile.is_some() { "(hostile)" } else { "" },
                    node.store.len(),
                    node.pending.len(),
                    node.catchups.len(),
                    self.neighbours[n]
                )
            })
            .collect();
        format!("at {:?}, {:?}\n  {}", self.now, self.counters, nodes.join("\n  "))
    }

    /// Splits the network: a message between nodes of different sides is
    /// lost, from now on (also those on the wire).
    pub fn partition(&mut self, side: impl Fn(usize) -> u32) {
        self.side = (0..self.nodes.len()).map(side).collect();
    }

    /// Ends the partition: the connections between the sides come back,
    /// and each starts a catch-up both ways.
    pub fn heal(&mut self) {
        let before = std::mem::replace(&mut self.side, vec![0; self.nodes.len()]);
        for a in 0..self.nodes.len() {
            for b in self.neighbours[a].clone() {
                if a < b && before[a] != before[b] {
                    self.connected(a, b);
                }
            }
        }
    }

    /// Takes a node off the network, or brings it back (its connections
    /// come back and catch up both ways).
    pub fn set_online(&mut self, node: usize, online: bool) {
        let was = self.nodes[node].online;
        self.nodes[node].online = online;
        if online && !was {
            for b in self.neighbours[node].clone() {
                self.connected(node, b);
            }
        }
        if !online {
            // Whatever it had under way dies with its connections.
            let n = &mut self.nodes[node];
            n.catchups.clear();
            n.requests.clear();
            n.gaps.clear();
        }
    }

    /// A new node joins, connected to `links` random nodes; returns its
    /// index. It catches up with them as a real node does on connecting.
    pub fn join(&mut self, links: usize) -> usize {
        let index = self.nodes.len();
        let node = SimNode::new(&mut self.rng, index);
        self.by_peer.insert(node.peer, index);
        self.nodes.push(node);
        self.side.push(0);
        self.neighbours.push(BTreeSet::new());
        for _ in 0..links.max(1) {
            let other = self.rng.below(index);
            self.neighbours[index].insert(other);
            self.neighbours[other].insert(index);
        }
        for other in self.neighbours[index].clone() {
            self.connected(index, other);
        }
        let phase = self.rng.between(Duration::ZERO, ANTI_ENTROPY_INTERVAL);
        self.at(self.now + phase, Happening::AntiEntropy(index));
        index
    }

    fn at(&mut self, when: Duration, happening: Happening) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.happenings.insert(seq, happening);
        self.queue.push(Reverse((when, seq)));
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.nodes[a].online && self.nodes[b].online && self.side[a] == self.side[b]
    }

    fn send(&mut self, from: usize, to: usize, message: Message) {
        if !self.linked(from, to) {
            return;
        }
        self.counters.messages += 1;
        self.counters.bytes += message.len() as u64;
        if self.rng.chance(self.config.loss) {
            self.counters.lost += 1;
            return;
        }
        let delay = self.rng.between(self.config.latency.0, self.config.latency.1);
        self.at(self.now + delay, Happening::Deliver { from, to, message });
    }

    fn instant(&self) -> Instant {
        self.epoch + self.now
    }

    fn happen(&mut self, happening: Happening) {
        match happening {
            Happening::Deliver { from, to, message } => {
                if !self.linked(from, to) {
                    self.counters.lost += 1;
                    return;
                }
                match message {
                    Message::Gossip { topic, bytes } => self.gossip_received(to, from, topic, bytes),
                    Message::Request { id, bytes } => self.request_received(to, from, id, bytes),
                    Message::Response { id, bytes } => self.response_received(to, id, bytes),
                }
            }
            Happening::AntiEntropy(node) => {
                self.at(self.now + ANTI_ENTROPY_INTERVAL, Happening::AntiEntropy(node));
                if !self.nodes[node].online {
                    return;
                }
                if let Some(hostility) = self.nodes[node].hostile {
                    self.misbehave(node, hostility);
                    return;
                }
                let now = self.instant();
                self.nodes[node].responders.expire(now);
                let connected: Vec<PeerId> = self.neighbours[node]
                    .iter()
                    .filter(|b| self.linked(node, **b))
                    .map(|b| self.nodes[*b].peer)
                    .collect();
                if let Some(peer) = self.nodes[node].anti_entropy.tick(connected) {
                    let peer = self.by_peer[&peer];
                    self.start_catchup(node, peer, Interest::All);
                }
            }
            Happening::RequestTimeout { node, request } => {
                if let Some((catchup, _)) = self.nodes[node].requests.remove(&request) {
                    // The real request fails with a timeout: the catch-up
                    // ends there (what it stored stays).
                    if self.nodes[node].catchups.remove(&catchup).is_some() {
                        self.counters.catchups_failed += 1;
                    }
                    self.settle_gaps(node);
                }
            }
            Happening::GapDeadline { node, event } => {
                let stored = self.nodes[node].store.contains(&event);
                if let Some(i) = self.nodes[node].gaps.iter().position(|g| g.event == event) {
                    let gap = self.nodes[node].gaps.remove(i);
                    if matches!(gossip::gap_filled(stored), MessageAcceptance::Accept) {
                        self.forward(node, Some(gap.from), &gap.topic, &gap.bytes);
                    }
                }
            }
        }
    }

    /// Gossip to the mesh, but not back to where it came from.
    fn forward(&mut self, node: usize, except: Option<usize>, topic: &Arc<str>, bytes: &Arc<[u8]>) {
        for to in self.neighbours[node].clone() {
            if Some(to) != except {
                self.send(node, to, Message::Gossip { topic: topic.clone(), bytes: bytes.clone() });
            }
        }
    }

    fn gossip_received(&mut self, node: usize, from: usize, topic: Arc<str>, bytes: Arc<[u8]>) {
        if self.nodes[node].hostile.is_some() {
            return;
        }
        if bytes.len() > MAX_GOSSIP_MESSAGE_BYTES {
            // gossipsub drops it before validation.
            self.counters.gossip_rejected += 1;
            return;
        }
        if !self.nodes[node].seen.insert(*blake3::hash(&bytes).as_bytes()) {
            self.counters.gossip_duplicates += 1;
            return;
        }
        let source = self.nodes[from].peer;
        let step = gossip::received(source, &topic, SignedEvent::decode(&bytes), |_| true);
        self.gossip_step(node, from, step, topic, bytes);
    }

    fn gossip_step(&mut self, node: usize, from: usize, step: Step, topic: Arc<str>, bytes: Arc<[u8]>) {
        match step {
            Step::Verdict(MessageAcceptance::Accept) => self.forward(node, Some(from), &topic, &bytes),
            Step::Verdict(MessageAcceptance::Reject) => self.counters.gossip_rejected += 1,
            Step::Verdict(MessageAcceptance::Ignore) => {}
            Step::Store(event) => {
                let id = event.id();
                let ingested = self.nodes[node].store.ingest(vec![*event]);
                self.arrived(node, &ingested.added);
                let source = self.nodes[from].peer;
                let next = gossip::stored(source, id, Ok(ingested));
                self.gossip_step(node, from, next, topic, bytes);
            }
            Step::AcceptAndRelease(id) => {
                self.forward(node, Some(from), &topic, &bytes);
                self.release(node, vec![id]);
            }
            Step::FillGap { hold, design, event } => {
                self.nodes[node].pending.hold(hold);
                self.nodes[node].gaps.push(Gap { event, topic, bytes, from });
                self.at(self.now + GAP_WAIT, Happening::GapDeadline { node, event });
                self.start_catchup(node, from, Interest::designs([design]));
            }
            // The simulated nodes keep no profiles: dropped, as by a node
            // that holds none of the author's designs.
            Step::Profile(_) => {
                let next = Step::Verdict(gossip::profile_kept(false));
                self.gossip_step(node, from, next, topic, bytes);
            }
        }
    }

    /// Stores the held events that waited for `stored`, and those that
    /// waited for them, as `Network::release_pending` does.
    fn release(&mut self, node: usize, mut stored: Vec<EventId>) {
        while !stored.is_empty() {
            let children = self.nodes[node].pending.take_children(&stored);
            if children.is_empty() {
                return;
            }
            let ingested = self.nodes[node].store.ingest(children);
            self.nodes[node].pending.hold(ingested.waiting);
            self.arrived(node, &ingested.added);
            stored = ingested.added.iter().map(SignedEvent::id).collect();
        }
    }

    fn arrived(&mut self, node: usize, added: &[SignedEvent]) {
        for event in added {
            if self.watched.contains(&event.id()) {
                self.nodes[node].arrivals.entry(event.id()).or_insert(self.now);
            }
        }
    }

    fn start_catchup(&mut self, node: usize, peer: usize, interest: Interest) {
        if !self.linked(node, peer) {
            return;
        }
        self.counters.catchups_started += 1;
        let (session, restart) = (self.rng.next_u64(), self.rng.next_u64());
        let (machine, actions) = Catchup::start(self.nodes[peer].peer, interest, session, [restart]);
        let id = self.rng.next_u64();
        self.nodes[node].catchups.insert(id, Running { peer, machine, forwarded: 0 });
        self.drive(node, id, actions);
    }

    /// Carries out a catch-up's actions and feeds their results back, as
    /// `Network::catch_up` does; requests go on the wire and come back
    /// later through [`Sim::response_received`].
    fn drive(&mut self, node: usize, id: u64, actions: Vec<Action>) {
        let mut todo: VecDeque<Action> = actions.into();
        while let Some(action) = todo.pop_front() {
            let Some(peer) = self.nodes[node].catchups.get(&id).map(|r| r.peer) else { return };
            let input = match action {
                Action::ReadItems(scope) => Input::Items(self.nodes[node].store.items(&scope)),
                Action::Send(exchange, request) => {
                    let request_id = self.rng.next_u64();
                    self.nodes[node].requests.insert(request_id, (id, exchange));
                    let timeout = Duration::from_secs(CATCHUP_REQUEST_TIMEOUT_SECS);
                    self.at(self.now + timeout, Happening::RequestTimeout { node, request: request_id });
                    self.send(node, peer, Message::Request { id: request_id, bytes: request.encode() });
                    continue;
                }
                Action::Verify(number, records) => {
                    Input::Verified(number, records.iter().map(|r| SignedEvent::decode(r)).collect())
                }
                Action::Store(events) => {
                    let ingested = self.nodes[node].store.ingest(events);
                    self.arrived(node, &ingested.added);
                    self.forward_caught_up(node, id, peer, &ingested.added);
                    let added = ingested.added.len();
                    self.release(node, ingested.added.iter().map(SignedEvent::id).collect());
                    Input::Stored { added, waiting: ingested.waiting }
                }
                Action::Finish { hold, report } => {
                    if std::env::var_os("COMMUNS_SIM_TRACE").is_some() {
                        eprintln!("{:?} node {node} caught up with {peer}: {report:?}", self.now);
                    }
                    self.nodes[node].pending.hold(hold);
                    self.nodes[node].catchups.remove(&id);
                    self.settle_gaps(node);
                    continue;
                }
            };
            let Some(running) = self.nodes[node].catchups.get_mut(&id) else { return };
            match running.machine.handle(input) {
                Ok(actions) => todo.extend(actions),
                Err(e) => {
                    if std::env::var_os("COMMUNS_SIM_TRACE").is_some() {
                        eprintln!("{:?} node {node} with {peer}: failed {e}", self.now);
                    }
                    self.nodes[node].catchups.remove(&id);
                    self.counters.catchups_failed += 1;
                    self.settle_gaps(node);
                    return;
                }
            }
        }
    }

    /// Gossips on the first events a catch-up brought, as the real node
    /// does (network.md, "Forwarding what a catch-up brought").
    fn forward_caught_up(&mut self, node: usize, catchup: u64, peer: usize, added: &[SignedEvent]) {
        let Some(running) = self.nodes[node].catchups.get_mut(&catchup) else { return };
        let room = MAX_FORWARDED_PER_CATCHUP.saturating_sub(running.forwarded);
        running.forwarded += added.len().min(room);
        for event in added.iter().take(room) {
            let topic: Arc<str> = wire::topic_of(event).into();
            let bytes: Arc<[u8]> = event.bytes().into();
            if self.nodes[node].seen.insert(*blake3::hash(&bytes).as_bytes()) {
                self.forward(node, Some(peer), &topic, &bytes);
            }
        }
    }

    /// The gaps whose event is now stored get their verdict (`Accept`:
    /// forwarded) without waiting for their deadline.
    fn settle_gaps(&mut self, node: usize) {
        let (filled, waiting): (Vec<Gap>, Vec<Gap>) = std::mem::take(&mut self.nodes[node].gaps)
            .into_iter()
            .partition(|g| self.nodes[node].store.contains(&g.event));
        self.nodes[node].gaps = waiting;
        for gap in filled {
            self.forward(node, Some(gap.from), &gap.topic, &gap.bytes);
        }
    }

    fn request_received(&mut self, node: usize, from: usize, id: u64, bytes: Vec<u8>) {
        let response = match self.nodes[node].hostile {
            Some(Hostility::Garbage) => {
                let junk: Vec<Vec<u8>> = (0..3).map(|i| vec![0x80 | i as u8; 40]).collect();
                wire::events_response(junk.iter().map(Vec::as_slice))
            }
            _ => {
                let Ok(request) = Request::decode(&bytes) else {
                    // The codec fails the stream: no answer.
                    return;
                };
                let now = self.instant();
                let peer = self.nodes[from].peer;
                match self.nodes[node].responders.admit(now, peer, request) {
                    Admitted::Now(response) => response,
                    Admitted::Work(work) => {
                        let store = &self.nodes[node].store;
                        let answer = work.run(
                            |scope| Ok::<_, std::convert::Infallible>(store.items(scope)),
                            |prefixes, max| Ok(store.raw_by_prefixes(prefixes, max)),
                            // The simulator models no catalog.
                            |_, _| Ok(Vec::new()),
                            |_known| Ok(Vec::new()),
                        );
                        self.nodes[node].responders.answered(now, peer, answer)
                    }
                }
            }
        };
        let bytes = response.encode();
        if bytes.len() <= MAX_CATCHUP_MESSAGE_BYTES {
            self.send(node, from, Message::Response { id, bytes });
        }
    }

    fn response_received(&mut self, node: usize, id: u64, bytes: Vec<u8>) {
        let Some((catchup, exchange)) = self.nodes[node].requests.remove(&id) else { return };
        let Some(running) = self.nodes[node].catchups.get_mut(&catchup) else { return };
        let result = match Response::decode(&bytes) {
            Ok(response) => running.machine.handle(Input::Response(exchange, response)),
            Err(_) => {
                self.nodes[node].catchups.remove(&catchup);
                self.counters.catchups_failed += 1;
                self.settle_gaps(node);
                return;
            }
        };
        match result {
            Ok(actions) => self.drive(node, catchup, actions),
            Err(_) => {
                self.nodes[node].catchups.remove(&catchup);
                self.counters.catchups_failed += 1;
                self.settle_gaps(node);
            }
        }
    }

    /// Two nodes connect: each starts a catch-up with the other.
    fn connected(&mut self, a: usize, b: usize) {
        if !self.linked(a, b) {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            if self.nodes[x].hostile.is_none() {
                self.start_catchup(x, y, Interest::All);
            }
        }
    }

    /// A hostile node's turn: what it throws at its neighbours.
    fn misbehave(&mut self, node: usize, hostility: Hostility) {
        let designs: Vec<DesignId> = self.neighbours[node]
            .iter()
            .flat_map(|n| self.nodes[*n].store.designs().copied().collect::<Vec<_>>())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let stranger = self.author(1_000_000 + node as u64);
        let mut messages: Vec<(Arc<str>, Vec<u8>)> = Vec::new();
        match hostility {
            Hostility::Garbage => {
                let noise: Vec<u8> = (0..200).map(|_| self.rng.next_u64() as u8).collect();
                messages.push((wire::shard_topic(0).into(), noise));
                messages.push((wire::shard_topic(0).into(), vec![0x88; MAX_GOSSIP_MESSAGE_BYTES + 1]));
                for design in &designs {
                    let genesis = self.any_holder_event(&design.genesis());
                    if let Some(genesis) = genesis {
                        let event = contribution(&stranger, &genesis, self.rng.next_u64());
                        let mut forged = event.bytes().to_vec();
                        let last = forged.len() - 1;
                        forged[last] ^= 1;
                        messages.push((wire::topic_of(&event).into(), forged));
                    }
                }
            }
            Hostility::Flood => {
                for design in &designs {
                    if let Some(genesis) = self.any_holder_event(&design.genesis()) {
                        for _ in 0..32 {
                            let event = contribution(&stranger, &genesis, self.rng.next_u64());
                            messages.push((wire::topic_of(&event).into(), event.bytes().to_vec()));
                        }
                    }
                }
            }
        }
        for (topic, bytes) in messages {
            let bytes: Arc<[u8]> = bytes.into();
            self.forward(node, None, &topic, &bytes);
        }
    }

    fn any_holder_event(&self, id: &EventId) -> Option<SignedEvent> {
        self.nodes.iter().find_map(|n| n.store.get(id).cloned())
    }
}

/// A stranger's revision built on `genesis`: valid, signed, and a
/// contribution no maintainer has reviewed.
fn contribution(stranger: &SecretKey, genesis: &SignedEvent, nonce: u64) -> SignedEvent {
    let tree =
        communs_protocol::BlobHash(communs_protocol::Hash::from_bytes(*blake3::hash(&nonce.to_le_bytes()).as_bytes()));
    communs_protocol::fixtures::revision(stranger, genesis, tree, "flood", "CERN-OHL-S-2.0")
}
