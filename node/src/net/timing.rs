//! Every duration the network uses, in one place, each with why it has
//! its value.
//!
//! The protocol-level ones (how long an answering node keeps a catch-up
//! session, how long a request may wait) are limits of
//! `communs_protocol::limits` and spec/limits.md, which both sides of a
//! session must agree on; they appear here as `Duration`s derived from
//! them. The rest are this node's local choices: changing one changes how
//! fast this node notices or retries something, never what it accepts.
//!
//! The state machines (`redial.rs`, `catchup/`, `gossip.rs`) take these as
//! plain values and the current time as an argument: a simulator with a
//! virtual clock drives them unchanged.

use std::time::Duration;

use communs_protocol::limits::{CATCHUP_REQUEST_TIMEOUT_SECS, CATCHUP_SESSION_TTL_SECS};

// Catch-up (spec/catchup.md).

/// A catch-up session not continued within this time of its last step is
/// dropped by the answering side ([`CATCHUP_SESSION_TTL_SECS`]).
pub(super) const SESSION_TTL: Duration = Duration::from_secs(CATCHUP_SESSION_TTL_SECS);

/// A catch-up request not answered within this time fails
/// ([`CATCHUP_REQUEST_TIMEOUT_SECS`]).
pub(super) const CATCHUP_REQUEST_TIMEOUT: Duration = Duration::from_secs(CATCHUP_REQUEST_TIMEOUT_SECS);

/// How often a node catches up with one of its peers (in turn) besides
/// when it connects: gossip is lossy, and a peer may learn events after
/// the catch-up made when the connection opened. Also how often the
/// answering side frees the sessions of peers that went away.
pub const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(30);

// Gossip (spec/network.md, "Gossip", "Validation before forwarding").

/// Gossipsub's heartbeat (libp2p's default is 1 s): it paces the mesh's
/// upkeep and how long an unvalidated message is kept (5 heartbeats);
/// half a second lets an event cross a LAN of a few hops within a second.
pub(super) const GOSSIP_HEARTBEAT: Duration = Duration::from_millis(500);

/// The unit in which time in the mesh earns score (libp2p's default is a
/// millisecond): capped at 100 units, it earns at most +10 after 100 s,
/// so that a hostile peer cannot bank in seconds the credit to spend on
/// invalid messages (spec/network.md, "Peer scoring").
pub(super) const SCORE_TIME_IN_MESH_QUANTUM: Duration = Duration::from_secs(1);

/// How long the verdict on an event whose parents are missing waits for a
/// catch-up to bring them: less than gossipsub keeps a message it has not
/// validated (5 heartbeats of [`GOSSIP_HEARTBEAT`]).
pub(super) const GAP_WAIT: Duration = Duration::from_secs(2);

// Connections (spec/network.md, "Staying connected").

/// How often each connection is pinged, and how long an answer may take:
/// a connection that misses one is closed (`Driver`), and its peer
/// redialled. TCP alone notices a dead link only after minutes of
/// retransmissions; libp2p's defaults (15 s, 20 s) and libp2p no longer
/// closing a connection whose ping fails left a node whose cable was
/// pulled connected to nothing for minutes.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(5);
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How often mDNS asks who is on the LAN (libp2p's default: 5 minutes).
/// Every answer is multicast, so one query refreshes what every node of
/// the LAN knows of every other; this bounds how long an answer lost (on
/// Wi-Fi, or by a node busy starting) keeps two nodes apart: a node that
/// started last and missed some answers to its first query waited for the
/// next one. The cost is a query and one answer per node every 5 s: for
/// a room of 20 laptops, 80 packets of about 200 bytes a second.
pub(super) const MDNS_QUERY_INTERVAL: Duration = Duration::from_secs(5);

/// A connection with no stream open for this long is closed. Gossipsub and
/// the pings keep every useful connection busy, so this only closes
/// connections to peers that speak none of our protocols.
pub(super) const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(300);

/// How often the driver asks `Redial` which peers to dial: the
/// resolution of its back-offs.
pub(super) const REDIAL_TICK: Duration = Duration::from_millis(250);

/// How long the peer with the higher id waits before dialling a peer it
/// discovered, so that the lower one's dial is not crossed.
pub(super) const YIELD_TO_LOWER: Duration = Duration::from_millis(1500);

/// The first retry after a connection closed or a dial failed.
pub(super) const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two dials of a known peer: short enough that
/// a peer whose link came back (a cable, a switch, a firewall rule) is
/// connected again within 10 s without waiting for an mDNS answer; a
/// failed dial on a LAN costs a refused or unanswered SYN.
pub(super) const MAX_RETRY: Duration = Duration::from_secs(7);

/// A dial that reported nothing after this long counts as failed.
pub(super) const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a circuit through this node, when it serves as a relay, may
/// last (libp2p's default is 2 minutes): long enough to catch up and
/// fetch a design through it when hole punching fails.
pub(super) const RELAY_MAX_CIRCUIT_DURATION: Duration = Duration::from_secs(30 * 60);

// Commands of a running node (spec/network.md, "Commands on a running
// node").

/// How long `communs sync` waits for the known peers it dials.
pub const SYNC_DIAL_WAIT: Duration = Duration::from_secs(3);

/// How long `communs dial` waits for the connection: a dial over a LAN or
/// the internet, with its noise and yamux handshakes, takes well under a
/// second; a relayed one a few.
pub(super) const DIAL_WAIT: Duration = Duration::from_secs(10);

/// How often `communs sync` looks whether the peers it dialled are
/// connected, while it waits up to [`SYNC_DIAL_WAIT`]: a fraction of a
/// LAN's connection time, and at most 60 questions to the driver.
pub(super) const DIAL_STATUS_POLL: Duration = Duration::from_millis(50);

/// How long `communs follow` waits for the DHT's providers of a design no
/// connected peer had: a Kademlia lookup on a small network answers in
/// well under a second, and a person is waiting.
pub(super) const FIND_PROVIDERS_WAIT: Duration = Duration::from_secs(10);

// Files (spec/network.md, "Blob transfer").

/// The pause before the second try of a blob from one peer, doubled for
/// each try after (40 ms to 640 ms over `fetch::plan::ATTEMPTS` tries): a peer
/// that is still storing a design's files it just learned has them
/// moments later.
pub(super) const FIRST_FETCH_RETRY_PAUSE: Duration = Duration::from_millis(40);

// DHT (spec/network.md, "Finding peers").

/// How often every kept design is announced again in the DHT. Peers keep
/// a provider record 48 hours (libp2p-kad's default); the node, not
/// libp2p-kad, re-announces, so that it can do so in batches.
pub const PROVIDE_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 3600);

// How these relate: checked when the crate compiles.
const _: () = {
    // A session outlives the wait for any one of its replies.
    assert!(SESSION_TTL.as_millis() >= CATCHUP_REQUEST_TIMEOUT.as_millis());
    // A gap's catch-up ends before gossipsub drops the message waiting
    // for its verdict.
    assert!(GAP_WAIT.as_millis() < 5 * GOSSIP_HEARTBEAT.as_millis());
    // Back-offs are counted in ticks of the redial timer.
    assert!(REDIAL_TICK.as_millis() < FIRST_RETRY.as_millis());
    assert!(FIRST_RETRY.as_millis() <= MAX_RETRY.as_millis());
};

// Bandwidth (spec/network.md, "Bandwidth").

/// How long after its last request (or the end of the wait it was given)
/// a peer keeps its share of a limit. Its unused share already overflows
/// to the others after [`BANDWIDTH_BURST_TIME`], so this only bounds how
/// many peers a scheduler remembers; long enough that a stream between two
/// writes is not forgotten.
pub(crate) const BANDWIDTH_SHARE_IDLE: Duration = Duration::from_millis(500);

/// How much of its rate a limit's bucket holds: a tenth of a second lets a
/// stream send whole chunk groups without a wait each, yet a burst after
/// an idle spell is short next to the rate.
pub(crate) const BANDWIDTH_BURST_TIME: Duration = Duration::from_millis(100);
