//! Which known peers to dial, and when: a state machine fed what the swarm
//! saw and the current time, with no clock, lock or randomness of its own
//! (its jitter is a hash of the two peer ids and the attempt), so that the
//! driver only carries out what it returns and tests need no sockets.
//!
//! Why it exists: on a fablab LAN, peers find each other by mDNS, which
//! reports a peer once and then only refreshes its record, and two laptops
//! that discover each other at the same instant used to dial each other at
//! the same instant. Without this, a peer whose connection died, or whose
//! first dial failed, was not dialled again until a 5-minute timer.
//!
//! The rules (spec/network.md, "Staying connected"):
//! - a peer given in the config is dialled at once; a peer announced by
//!   mDNS and not connected, at once by the peer with the lower id, after
//!   [`YIELD_TO_LOWER`] by the other (the lower one has usually connected
//!   by then, and crossing dials are avoided);
//! - a peer whose last connection closed, or whose dial failed, is dialled
//!   again after a back-off: [`FIRST_RETRY`] doubled per failure, capped at
//!   [`MAX_RETRY`], each with up to a quarter more as jitter;
//! - a peer known only from a past connection is forgotten after
//!   [`MAX_FAILURES`] failed dials in a row (mDNS and the config bring it
//!   back); at most [`MAX_KNOWN_PEERS`] are kept, the most failed first out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId};

pub(super) use super::timing::{DIAL_TIMEOUT, FIRST_RETRY, MAX_RETRY, YIELD_TO_LOWER};
/// Failed dials in a row after which a peer known only from a past
/// connection is forgotten (about 7 minutes of retries).
pub(super) const MAX_FAILURES: u32 = 60;
/// Peers remembered for redialling.
pub(super) const MAX_KNOWN_PEERS: usize = 256;
/// Addresses remembered per peer (the newest).
pub(super) const MAX_ADDRESSES_PER_PEER: usize = 8;

/// Where a peer became known: what decides whether it may be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    /// A past connection (either way), with the addresses it announced.
    Connection,
    /// An mDNS announcement on the LAN.
    Mdns,
    /// The config (`bootstrap`, relays): never forgotten.
    Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connected,
    /// A dial went out at this instant.
    Dialing(Instant),
    /// To dial at this instant.
    Waiting(Instant),
}

#[derive(Debug, Clone)]
struct Peer {
    addresses: Vec<Multiaddr>,
    source: Source,
    state: State,
    /// Failed dials since the last connection.
    failures: u32,
    /// Why the last dial failed.
    last_error: Option<String>,
}

/// Where the dialling of a peer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DialStatus {
    Connected,
    Dialing,
    /// Waiting to dial again; why the last dial failed, if one did.
    Failed(Option<String>),
    Unknown,
}

/// A dial to make now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dial {
    pub peer: PeerId,
    pub addresses: Vec<Multiaddr>,
}

#[derive(Debug)]
pub(super) struct Redial {
    local: PeerId,
    peers: HashMap<PeerId, Peer>,
}

impl Redial {
    pub(super) fn new(local: PeerId) -> Redial {
        Redial { local, peers: HashMap::new() }
    }

    /// `peer` is at `address`, as `source` says. Dialled soon if not
    /// connected and not being dialled.
    pub(super) fn discovered(&mut self, now: Instant, peer: PeerId, address: Multiaddr, source: Source) {
        if peer == self.local {
            return;
        }
        // Only discovery is symmetric: a config peer is dialled at once.
        let first = if self.local < peer || source == Source::Config { now } else { now + YIELD_TO_LOWER };
        let entry = self.peers.entry(peer).or_insert_with(|| Peer {
            addresses: Vec::new(),
            source,
            state: State::Waiting(first),
            failures: 0,
            last_error: None,
        });
        entry.source = entry.source.max(source);
        remember(&mut entry.addresses, address);
        // An announcement of a peer that waits out a back-off: it is there
        // now, so the back-off is over.
        if let State::Waiting(at) = entry.state
            && at > first
            && source != Source::Connection
        {
            entry.state = State::Waiting(first);
        }
        self.bound();
    }

    /// A connection to `peer` is up; `dialed` is the address dialled, if
    /// this node dialled it (an inbound connection's address is the other
    /// side's outgoing port, not one to dial).
    pub(super) fn connected(&mut self, peer: PeerId, dialed: Option<Multiaddr>) {
        if peer == self.local {
            return;
        }
        let entry = self.peers.entry(peer).or_insert_with(|| Peer {
            addresses: Vec::new(),
            source: Source::Connection,
            state: State::Connected,
            failures: 0,
            last_error: None,
        });
        entry.state = State::Connected;
        entry.failures = 0;
        entry.last_error = None;
        if let Some(address) = dialed {
            remember(&mut entry.addresses, address);
        }
        self.bound();
    }

    /// The last connection to `peer` closed: dialled again after the
    /// first back-off.
    pub(super) fn disconnected(&mut self, now: Instant, peer: PeerId) {
        let local = self.local;
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.state = State::Waiting(now + backoff(local, peer, 0));
        }
    }

    /// A dial of `peer` failed, for `reason`: dialled again after a longer
    /// back-off, or forgotten.
    pub(super) fn dial_failed(&mut self, now: Instant, peer: PeerId, reason: String) {
        let local = self.local;
        let Some(entry) = self.peers.get_mut(&peer) else { return };
        if entry.state == State::Connected {
            // Another connection is up (a crossing dial lost, or a second
            // address failed): nothing to retry.
            return;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_error = Some(reason);
        if entry.failures >= MAX_FAILURES && entry.source == Source::Connection {
            self.peers.remove(&peer);
            return;
        }
        entry.state = State::Waiting(now + backoff(local, peer, entry.failures));
    }

    /// Every known peer that is not connected is dialled at the next
    /// [`Redial::due`], back-offs forgotten (`communs sync`).
    pub(super) fn dial_all_now(&mut self, now: Instant) {
        for entry in self.peers.values_mut() {
            if matches!(entry.state, State::Waiting(_)) {
                entry.state = State::Waiting(now);
            }
        }
    }

    /// The dials to make now; each peer is then `Dialing` until the swarm
    /// says how it went (or [`DIAL_TIMEOUT`]).
    pub(super) fn due(&mut self, now: Instant) -> Vec<Dial> {
        let mut dials = Vec::new();
        let mut timed_out = Vec::new();
        for (peer, entry) in &mut self.peers {
            match entry.state {
                State::Waiting(at) if at <= now && !entry.addresses.is_empty() => {
                    entry.state = State::Dialing(now);
                    dials.push(Dial { peer: *peer, addresses: entry.addresses.clone() });
                }
                State::Dialing(since) if now.saturating_duration_since(since) >= DIAL_TIMEOUT => timed_out.push(*peer),
                _ => {}
            }
        }
        for peer in timed_out {
            self.dial_failed(now, peer, format!("no answer within {} s", DIAL_TIMEOUT.as_secs()));
        }
        dials.sort_by_key(|d| d.peer);
        dials
    }

    /// Known peers that are not connected.
    pub(super) fn unconnected(&self) -> usize {
        self.peers.values().filter(|p| p.state != State::Connected).count()
    }

    /// Where the dialling of `peer` stands.
    pub(super) fn status(&self, peer: &PeerId) -> DialStatus {
        match self.peers.get(peer) {
            None => DialStatus::Unknown,
            Some(Peer { state: State::Connected, .. }) => DialStatus::Connected,
            Some(Peer { state: State::Dialing(_), .. }) => DialStatus::Dialing,
            Some(Peer { state: State::Waiting(_), last_error, .. }) => DialStatus::Failed(last_error.clone()),
        }
    }

    /// Keeps at most [`MAX_KNOWN_PEERS`]: those from past connections that
    /// failed most go first.
    fn bound(&mut self) {
        while self.peers.len() > MAX_KNOWN_PEERS {
            let worst = self
                .peers
                .iter()
                .filter(|(_, p)| p.state != State::Connected)
                .min_by_key(|(id, p)| (p.source, std::cmp::Reverse(p.failures), **id))
                .map(|(id, _)| *id);
            match worst {
                Some(peer) => {
                    self.peers.remove(&peer);
                }
                None => return,
            }
        }
    }
}

/// Newest last, bounded, no repeats.
fn remember(addresses: &mut Vec<Multiaddr>, address: Multiaddr) {
    addresses.retain(|a| *a != address);
    addresses.push(address);
    if addresses.len() > MAX_ADDRESSES_PER_PEER {
        addresses.remove(0);
    }
}

/// [`FIRST_RETRY`] doubled `failures` times, capped at [`MAX_RETRY`], plus
/// up to a quarter of it as jitter: a hash of both ids and the attempt, so
/// that peers that lost each other at the same instant do not redial in
/// step, and a run replays exactly.
fn backoff(local: PeerId, peer: PeerId, failures: u32) -> Duration {
    let base = FIRST_RETRY.saturating_mul(1u32 << failures.min(16)).min(MAX_RETRY);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&local.to_bytes());
    hasher.update(&peer.to_bytes());
    hasher.update(&failures.to_le_bytes());
    let draw = u64::from_le_bytes(hasher.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
    let quarter = base.as_millis() as u64 / 4;
    base + Duration::from_millis(if quarter == 0 { 0 } else { draw % quarter })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(seed: u8) -> PeerId {
        let key = libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).expect("key");
        key.public().to_peer_id()
    }

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/10.0.0.1/tcp/{port}").parse().expect("address")
    }

    /// Two peers, the first with the lower id.
    fn pair() -> (PeerId, PeerId) {
        let (a, b) = (peer(1), peer(2));
        if a < b { (a, b) } else { (b, a) }
    }

    #[test]
    fn the_lower_id_dials_a_discovered_peer_at_once_the_higher_after_a_while() {
        let (low, high) = pair();
        let now = Instant::now();
        let mut lower = Redial::new(low);
        lower.discovered(now, high, addr(1), Source::Mdns);
        assert_eq!(lower.due(now), vec![Dial { peer: high, addresses: vec![addr(1)] }]);
        assert!(lower.due(now).is_empty(), "dialling: not twice");

        let mut higher = Redial::new(high);
        higher.discovered(now, low, addr(2), Source::Mdns);
        assert!(higher.due(now).is_empty());
        assert!(higher.due(now + YIELD_TO_LOWER - Duration::from_millis(1)).is_empty());
        // The lower one's dial arrived: nothing more to do.
        higher.connected(low, None);
        assert!(higher.due(now + YIELD_TO_LOWER).is_empty());
    }

    #[test]
    fn a_lost_peer_is_redialled_within_seconds_then_with_a_growing_capped_back_off() {
        let (low, high) = pair();
        let start = Instant::now();
        let mut redial = Redial::new(low);
        redial.discovered(start, high, addr(1), Source::Mdns);
        assert_eq!(redial.due(start).len(), 1);
        redial.connected(high, Some(addr(1)));
        assert_eq!(redial.unconnected(), 0);

        let mut now = start + Duration::from_secs(100);
        redial.disconnected(now, high);
        assert!(redial.due(now).is_empty());
        let first = now + FIRST_RETRY + FIRST_RETRY / 4;
        assert_eq!(redial.due(first).len(), 1, "redialled within 1.25 s");

        // Failures: each wait at least the doubled base, at most capped plus
        // a quarter; never longer than the cap's 1.25.
        let mut previous = Duration::ZERO;
        for failure in 1..12u32 {
            now = first + Duration::from_secs(u64::from(failure) * 1000);
            redial.dial_failed(now, high, "refused".into());
            let base = FIRST_RETRY.saturating_mul(1 << failure).min(MAX_RETRY);
            assert!(redial.due(now + base - Duration::from_millis(1)).is_empty(), "failure {failure}");
            let at = now + base + base / 4;
            assert_eq!(redial.due(at).len(), 1, "failure {failure}");
            assert!(base >= previous && base <= MAX_RETRY);
            previous = base;
        }
    }

    #[test]
    fn an_announcement_ends_a_back_off_and_sync_dials_everyone_now() {
        let (low, high) = pair();
        let now = Instant::now();
        let mut redial = Redial::new(low);
        redial.discovered(now, high, addr(1), Source::Mdns);
        redial.due(now);
        for _ in 0..6 {
            redial.dial_failed(now, high, "refused".into());
        }
        let later = now + Duration::from_secs(5);
        assert!(redial.due(later).is_empty(), "backing off");
        redial.discovered(later, high, addr(1), Source::Mdns);
        assert_eq!(redial.due(later).len(), 1);

        redial.dial_failed(later, high, "refused".into());
        assert!(redial.due(later + Duration::from_millis(500)).is_empty(), "backing off");
        redial.dial_all_now(later + Duration::from_millis(500));
        assert_eq!(redial.due(later + Duration::from_millis(500)).len(), 1);
    }

    #[test]
    fn a_dial_that_never_reports_counts_as_failed() {
        let (low, high) = pair();
        let now = Instant::now();
        let mut redial = Redial::new(low);
        redial.discovered(now, high, addr(1), Source::Config);
        assert_eq!(redial.due(now).len(), 1);
        assert_eq!(redial.status(&high), DialStatus::Dialing);
        assert!(redial.due(now + DIAL_TIMEOUT).is_empty(), "timed out, now backing off");
        assert_eq!(redial.status(&high), DialStatus::Failed(Some("no answer within 30 s".into())));
        assert_eq!(redial.due(now + DIAL_TIMEOUT + FIRST_RETRY * 3).len(), 1);
    }

    #[test]
    fn peers_from_past_connections_are_forgotten_after_many_failures_config_peers_never() {
        let (low, high) = pair();
        let other = peer(3);
        let now = Instant::now();
        let mut redial = Redial::new(low);
        redial.connected(high, Some(addr(1)));
        redial.discovered(now, other, addr(2), Source::Config);
        redial.disconnected(now, high);
        for _ in 0..MAX_FAILURES {
            redial.dial_failed(now, high, "refused".into());
            redial.dial_failed(now, other, "refused".into());
        }
        assert!(redial.due(now + MAX_RETRY * 2).iter().all(|d| d.peer == other));
        assert_eq!(redial.unconnected(), 1);
    }

    #[test]
    fn the_table_is_bounded_and_keeps_its_own_id_out() {
        let (low, _) = pair();
        let now = Instant::now();
        let mut redial = Redial::new(low);
        redial.discovered(now, low, addr(1), Source::Mdns);
        assert_eq!(redial.unconnected(), 0);
        for seed in 10..(10 + MAX_KNOWN_PEERS as u16 + 20) {
            let key = libp2p::identity::Keypair::ed25519_from_bytes({
                let mut b = [0u8; 32];
                b[..2].copy_from_slice(&seed.to_le_bytes());
                b
            })
            .expect("key");
            redial.discovered(now, key.public().to_peer_id(), addr(seed), Source::Connection);
        }
        assert_eq!(redial.unconnected(), MAX_KNOWN_PEERS);
        let mut addresses = Vec::new();
        for port in 0..20 {
            remember(&mut addresses, addr(port));
        }
        assert_eq!(addresses.len(), MAX_ADDRESSES_PER_PEER);
        assert_eq!(addresses.last(), Some(&addr(19)));
    }
}
