//! Checking a gossiped event before it is accepted or forwarded, and the
//! pending set of events whose parents are missing.
//!
//! Both are without I/O. A message's verdict is decided step by step by
//! [`received`], [`stored`] and [`gap_filled`] from what the signature
//! check and the store said; the task validating the message carries out
//! each [`Step`] (a store, a catch-up) and brings its result back. The
//! [`Pending`] set is owned by the driver, which alone changes it, at the
//! commands of the tasks that store events: no lock guards it.

use std::collections::{BTreeMap, HashMap};

use communs_protocol::catalog::{Announcement, AnnouncementError};
use communs_protocol::limits::MAX_PENDING_EVENTS;
use communs_protocol::{AuthorId, DesignId, EventError, EventId, SignedEvent, wire};
use libp2p::PeerId;
use libp2p::gossipsub::{Message, MessageAcceptance};

use super::timing::GAP_WAIT;
use super::{Command, Interest, Network};
use crate::ingest::Ingested;
use crate::store::EventStoreError;
use crate::store::catalog::Offered;

/// The next step of a gossiped message's verdict.
#[derive(Debug)]
pub(super) enum Step {
    /// Give gossipsub this verdict; nothing more to do.
    Verdict(MessageAcceptance),
    /// This node keeps the event's design: store it, then [`stored`].
    Store(Box<SignedEvent>),
    /// The event's parents are missing: hold `hold` in the pending set,
    /// catch `design` up with the sender for at most [`GAP_WAIT`], then
    /// give [`gap_filled`] whether `event` is stored.
    FillGap { hold: Vec<SignedEvent>, design: DesignId, event: EventId },
    /// Accept, and release the held events that waited for `event`.
    AcceptAndRelease(EventId),
    /// A profile: keep it if its author is known here and it is newer,
    /// then [`profile_kept`].
    Profile(Box<SignedEvent>),
}

/// The first step for a message from `source` on `topic`, whose bytes
/// decoded (signature checked) to `decoded`; `keeps` says whether this
/// node keeps a design.
///
/// The verdicts, in the end:
/// - `Reject` (the sender is penalised) for bytes that are not a valid
///   signed event, an event on the wrong topic, or one that contradicts
///   its parents;
/// - for an event whose parents this node lacks, a catch-up with the
///   sender first (up to [`GAP_WAIT`]): `Accept` if the event then
///   connects, else `Ignore` (dropped, not forwarded, no penalty; it is
///   held until its parents come);
/// - `Ignore` for an event of a design this node removed, or that it
///   could not store;
/// - `Accept` otherwise: stored if this node keeps the design, and
///   forwarded.
pub(super) fn received(
    source: PeerId,
    topic: &str,
    decoded: Result<SignedEvent, EventError>,
    keeps: impl FnOnce(&DesignId) -> bool,
) -> Step {
    let event = match decoded {
        Ok(event) => event,
        Err(e) => {
            tracing::info!(%source, "rejected a gossiped message: {e}");
            return Step::Verdict(MessageAcceptance::Reject);
        }
    };
    if !wire::topic_matches(&event, topic) {
        tracing::info!(%source, "rejected event {} gossiped on the wrong topic", event.id());
        return Step::Verdict(MessageAcceptance::Reject);
    }
    if let communs_protocol::Body::Profile(_) = event.body() {
        return Step::Profile(Box::new(event));
    }
    if !keeps(&event.design()) {
        // Valid as far as this node can tell without the design's log;
        // forwarded for the peers that keep it.
        return Step::Verdict(MessageAcceptance::Accept);
    }
    Step::Store(Box::new(event))
}

/// The step after storing `event` (as [`Step::Store`] asked): `result` is
/// what the store did with it.
pub(super) fn stored(source: PeerId, event: EventId, result: Result<Ingested, EventStoreError>) -> Step {
    let ingested = match result {
        Ok(ingested) => ingested,
        Err(e) => {
            tracing::warn!("cannot store a gossiped event: {e}");
            return Step::Verdict(MessageAcceptance::Ignore);
        }
    };
    if !ingested.ignored.is_empty() {
        // A design this node removed: not stored, not forwarded, and the
        // sender did nothing wrong.
        return Step::Verdict(MessageAcceptance::Ignore);
    }
    if let Some((id, e)) = ingested.rejected.first() {
        tracing::info!(%source, "rejected event {id}: {e}");
        return Step::Verdict(MessageAcceptance::Reject);
    }
    if let Some(waiting) = ingested.waiting.first() {
        // The sender accepted this event, so it holds its parents: the
        // verdict waits while a catch-up with it brings them, and the
        // event is forwarded if it then connects. Past the wait, gossip
        // would have dropped the message anyway.
        let design = waiting.design();
        return Step::FillGap { hold: ingested.waiting, design, event };
    }
    Step::AcceptAndRelease(event)
}

/// The verdict on a profile: forwarded if this node took it (newer, of
/// an author of its designs); else dropped without penalty, since an
/// honest peer forwards the profiles of authors this node does not hold
/// and older profiles still travel.
pub(super) fn profile_kept(kept: bool) -> MessageAcceptance {
    if kept { MessageAcceptance::Accept } else { MessageAcceptance::Ignore }
}

/// The verdict after the catch-up of a gap: whether the event is stored
/// now.
pub(super) fn gap_filled(stored: bool) -> MessageAcceptance {
    if stored { MessageAcceptance::Accept } else { MessageAcceptance::Ignore }
}

impl Network {
    /// The verdict on one gossiped message (see [`received`]), each step
    /// carried out here, in the message's own task: the stores on
    /// blocking threads, never on the driver.
    pub(super) async fn validate_gossip(&self, source: PeerId, message: &Message) -> MessageAcceptance {
        let metrics = &self.shared.node.metrics;
        metrics.gossip_received.inc();
        let (verdict, reason) = if message.topic.as_str() == wire::CATALOG_TOPIC {
            self.validate_announcement(source, message).await
        } else {
            self.validate_event(source, message).await
        };
        match verdict {
            MessageAcceptance::Accept => {
                metrics.gossip_accepted.inc();
            }
            MessageAcceptance::Ignore => {
                metrics.gossip_ignored.inc();
            }
            MessageAcceptance::Reject => metrics.gossip_refused(reason),
        }
        verdict
    }

    /// The verdict on a gossiped event, and the reason of a `Reject` (a
    /// stable `reason()`, for the metrics).
    async fn validate_event(&self, source: PeerId, message: &Message) -> (MessageAcceptance, &'static str) {
        let decoded = SignedEvent::decode(&message.data);
        // What `received` rejects: bytes that are no event, or an event
        // on another topic.
        let mut reason = decoded.as_ref().err().map_or("wrong-topic", EventError::reason);
        let mut step = received(source, message.topic.as_str(), decoded, |design| self.keeps(design));
        loop {
            step = match step {
                Step::Verdict(verdict) => return (verdict, reason),
                Step::Store(event) => {
                    let id = event.id();
                    let node = self.shared.node.clone();
                    match tokio::task::spawn_blocking(move || node.ingest(vec![*event])).await {
                        Ok(result) => {
                            if let Ok(ingested) = &result {
                                for (_, e) in &ingested.rejected {
                                    reason = crate::metrics::refusal_reason(e);
                                    self.shared.node.metrics.event_refused(crate::metrics::PathIn::Gossip, reason);
                                }
                            }
                            stored(source, id, result)
                        }
                        Err(_) => Step::Verdict(MessageAcceptance::Ignore),
                    }
                }
                Step::FillGap { hold, design, event } => {
                    self.hold(hold).await;
                    let catch_up = self.catch_up(source, Interest::designs([design]));
                    if let Ok(Err(e)) = tokio::time::timeout(GAP_WAIT, catch_up).await {
                        tracing::debug!(%source, "catch-up after a gap failed: {e}");
                    }
                    let node = self.shared.node.clone();
                    let stored = tokio::task::spawn_blocking(move || node.events.contains(&event)).await;
                    Step::Verdict(gap_filled(matches!(stored, Ok(Ok(true)))))
                }
                Step::AcceptAndRelease(event) => {
                    self.release_pending(vec![event]).await;
                    Step::Verdict(MessageAcceptance::Accept)
                }
                Step::Profile(profile) => {
                    let node = self.shared.node.clone();
                    let kept = tokio::task::spawn_blocking(move || node.receive_profile(&profile)).await;
                    Step::Verdict(profile_kept(matches!(kept, Ok(Ok(true)))))
                }
            };
        }
    }

    /// The verdict on one gossiped announcement (see [`announcement_received`]),
    /// and the reason of a `Reject`.
    async fn validate_announcement(&self, source: PeerId, message: &Message) -> (MessageAcceptance, &'static str) {
        let decoded = Announcement::decode(&message.data);
        let reason = decoded.as_ref().err().map_or("no-publisher", AnnouncementError::reason);
        let publisher = message.source.as_ref().and_then(author_of);
        let (announcement, publisher) = match announcement_received(source, publisher, decoded) {
            Ok(offer) => offer,
            Err(verdict) => return (verdict, reason),
        };
        let node = self.shared.node.clone();
        let offered = tokio::task::spawn_blocking(move || node.offer_announcement(announcement, publisher)).await;
        let verdict = match offered {
            Ok(result) => announcement_offered(result),
            Err(_) => MessageAcceptance::Ignore,
        };
        (verdict, "announcement")
    }

    /// Gives events whose parents are missing to the pending set.
    pub(super) async fn hold(&self, events: Vec<SignedEvent>) {
        if !events.is_empty() {
            let _ = self.send(Command::Hold(events)).await;
        }
    }

    /// Stores the held events that wait for one of `arrived` (and, through
    /// them, those that wait for them in turn). Only those are looked at:
    /// a peer that filled the pending set with events that never connect
    /// costs nothing to the events that do.
    pub(super) async fn release_pending(&self, arrived: Vec<EventId>) {
        let mut arrived = arrived;
        let mut waiting = Vec::new();
        while !arrived.is_empty() {
            let hold = std::mem::take(&mut waiting);
            let Ok(released) = self.ask(|reply| Command::Release { hold, arrived, reply }).await else { return };
            if released.is_empty() {
                return;
            }
            let node = self.shared.node.clone();
            let Ok(Ok(ingested)) = tokio::task::spawn_blocking(move || node.ingest(released)).await else { return };
            arrived = ingested.added.iter().map(SignedEvent::id).collect();
            waiting = ingested.waiting;
        }
        self.hold(waiting).await;
    }
}

/// The key of a peer id: a communs node's peer id and author id name the
/// same Ed25519 key (spec/network.md). `None` for any other kind of key.
pub(super) fn author_of(peer: &PeerId) -> Option<AuthorId> {
    let multihash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if multihash.code() != 0 {
        return None;
    }
    let key = libp2p::identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let bytes = key.try_into_ed25519().ok()?.to_bytes();
    AuthorId::from_bytes(bytes).ok()
}

/// The peer id of an author's key.
pub(crate) fn peer_of(author: &AuthorId) -> Option<PeerId> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(author.as_bytes()).ok()?;
    Some(libp2p::identity::PublicKey::from(key).to_peer_id())
}

/// The first step for an announcement gossiped by `publisher` (the peer
/// that signed the gossipsub envelope), forwarded by `source`: `Reject`
/// (the forwarding peer is penalised) for bytes that are not a valid
/// announcement (spec/catalog.md: strict CBOR, size, signatures, the
/// revision of that design by or approved by a genesis maintainer) or a
/// message without a publisher; else offer it to the catalog, the
/// publisher as a holder.
pub(super) fn announcement_received(
    source: PeerId,
    publisher: Option<AuthorId>,
    decoded: Result<Announcement, AnnouncementError>,
) -> Result<(Announcement, AuthorId), MessageAcceptance> {
    let announcement = match decoded {
        Ok(announcement) => announcement,
        Err(e) => {
            tracing::info!(%source, "rejected a gossiped announcement ({}): {e}", e.reason());
            return Err(MessageAcceptance::Reject);
        }
    };
    let Some(publisher) = publisher else {
        tracing::info!(%source, "rejected a gossiped announcement without a publisher");
        return Err(MessageAcceptance::Reject);
    };
    Ok((announcement, publisher))
}

/// The verdict once the catalog was offered an announcement: `Accept`
/// (forwarded) if it is now the catalog's entry of its design (new,
/// replacing one, the same as held) or, for a design this node keeps, its
/// own or newer; `Ignore` (not forwarded, no penalty) if the catalog
/// holds a better one, is full of better-held entries, or could not store
/// it.
pub(super) fn announcement_offered(result: Result<Offered, crate::NodeError>) -> MessageAcceptance {
    match result {
        Ok(Offered::New | Offered::Replaced | Offered::Same | Offered::Kept { current: true }) => {
            MessageAcceptance::Accept
        }
        Ok(Offered::Older | Offered::Kept { current: false } | Offered::Full) => MessageAcceptance::Ignore,
        Err(e) => {
            tracing::warn!("cannot store a gossiped announcement: {e}");
            MessageAcceptance::Ignore
        }
    }
}

/// Events held until their parents arrive, indexed by parent, at most
/// [`MAX_PENDING_EVENTS`]. Owned by the driver.
#[derive(Default)]
pub(super) struct Pending {
    events: BTreeMap<EventId, SignedEvent>,
    by_parent: HashMap<EventId, Vec<EventId>>,
}

impl Pending {
    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    /// Keeps events whose parents are missing, up to the limit; beyond it
    /// the newest arrivals are dropped (catch-up brings them back).
    /// Returns how many were dropped.
    pub(super) fn hold(&mut self, events: Vec<SignedEvent>) -> usize {
        let mut dropped = 0;
        for event in events {
            if self.len() >= MAX_PENDING_EVENTS {
                dropped += 1;
                continue;
            }
            self.insert(event);
        }
        dropped
    }

    fn insert(&mut self, event: SignedEvent) {
        let id = event.id();
        if self.events.contains_key(&id) {
            return;
        }
        for parent in event.parents() {
            self.by_parent.entry(*parent).or_default().push(id);
        }
        self.events.insert(id, event);
    }

    /// Removes and returns the events that name one of `parents`: those to
    /// store now that `parents` are stored.
    pub(super) fn take_children(&mut self, parents: &[EventId]) -> Vec<SignedEvent> {
        let mut out = Vec::new();
        for parent in parents {
            for child in self.by_parent.remove(parent).unwrap_or_default() {
                if let Some(event) = self.events.remove(&child) {
                    for other in event.parents() {
                        if let Some(siblings) = self.by_parent.get_mut(other) {
                            siblings.retain(|c| *c != child);
                            if siblings.is_empty() {
                                self.by_parent.remove(other);
                            }
                        }
                    }
                    out.push(event);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::{Body, DesignId, EventError, EventId, Hash, SecretKey, SignedEvent, UnsignedEvent, wire};
    use libp2p::PeerId;
    use libp2p::gossipsub::MessageAcceptance;

    use super::{Pending, Step, gap_filled, received, stored};
    use crate::ingest::Ingested;
    use crate::store::EventStoreError;

    fn approval(key: &SecretKey, parent: EventId, clock: u64) -> SignedEvent {
        UnsignedEvent {
            design: Some(DesignId::from_hash(Hash::from_bytes([1; 32]))),
            author: key.author(),
            parents: vec![parent],
            clock,
            time: clock,
            body: Body::Approve { target: parent },
        }
        .sign(key)
        .expect("sign")
    }

    #[test]
    fn held_events_come_back_only_when_their_parent_arrives() {
        let key = SecretKey::from_bytes(&[9; 32]);
        let root = EventId::from_hash(Hash::from_bytes([2; 32]));
        let first = approval(&key, root, 1);
        let second = approval(&key, first.id(), 2);
        let stranger = approval(&key, EventId::from_hash(Hash::from_bytes([3; 32])), 1);
        let mut pending = Pending::default();
        assert_eq!(pending.hold(vec![second.clone(), first.clone(), stranger.clone(), first.clone()]), 0);
        assert_eq!(pending.len(), 3);
        assert!(pending.take_children(&[second.id()]).is_empty());
        assert_eq!(pending.take_children(&[root]).iter().map(SignedEvent::id).collect::<Vec<_>>(), vec![first.id()]);
        assert_eq!(
            pending.take_children(&[first.id()]).iter().map(SignedEvent::id).collect::<Vec<_>>(),
            vec![second.id()]
        );
        assert_eq!(pending.len(), 1, "the event whose parent never came stays");
    }

    #[test]
    fn the_pending_set_drops_arrivals_beyond_its_bound() {
        let key = SecretKey::from_bytes(&[9; 32]);
        let root = EventId::from_hash(Hash::from_bytes([2; 32]));
        let events: Vec<SignedEvent> = (1..=3).map(|clock| approval(&key, root, clock)).collect();
        let mut pending = Pending::default();
        for n in 0..communs_protocol::limits::MAX_PENDING_EVENTS - 2 {
            let filler = EventId::from_hash(Hash::of(&n.to_be_bytes()));
            pending.events.insert(filler, events[0].clone());
        }
        assert_eq!(pending.hold(events.clone()), 1, "the newest arrival is dropped");
        let released: Vec<EventId> = pending.take_children(&[root]).iter().map(SignedEvent::id).collect();
        assert_eq!(released, vec![events[0].id(), events[1].id()]);
        assert!(pending.by_parent.is_empty(), "no empty index entry left behind");
    }

    fn verdict(step: Step) -> MessageAcceptance {
        match step {
            Step::Verdict(verdict) => verdict,
            other => panic!("not a verdict: {other:?}"),
        }
    }

    #[test]
    fn invalid_announcements_and_anonymous_ones_are_rejected_and_new_ones_forwarded() {
        use communs_protocol::catalog::{Announcement, AnnouncementError};

        use super::{announcement_offered, announcement_received, author_of, peer_of};
        use crate::store::catalog::Offered;

        let key = SecretKey::from_bytes(&[9; 32]);
        let genesis = communs_protocol::fixtures::genesis(&key, "Lamp", "MIT", 1);
        let valid = Announcement::new(genesis, None, None).expect("valid");
        let peer = PeerId::random();
        let reject = |r: Result<(Announcement, _), MessageAcceptance>| matches!(r, Err(MessageAcceptance::Reject));
        assert!(reject(announcement_received(peer, Some(key.author()), Err(AnnouncementError::NotGenesis))));
        assert!(reject(announcement_received(peer, None, Ok(valid.clone()))));
        let offer = announcement_received(peer, Some(key.author()), Ok(valid.clone())).expect("offered");
        assert_eq!(offer, (valid, key.author()));
        for forwarded in [Offered::New, Offered::Replaced, Offered::Same, Offered::Kept { current: true }] {
            assert_eq!(announcement_offered(Ok(forwarded)), MessageAcceptance::Accept, "{forwarded:?}");
        }
        for known in [Offered::Older, Offered::Kept { current: false }, Offered::Full] {
            assert_eq!(announcement_offered(Ok(known)), MessageAcceptance::Ignore, "{known:?}");
        }
        // A peer id and its author id name the same key.
        let peer = peer_of(&key.author()).expect("an ed25519 key");
        assert_eq!(author_of(&peer), Some(key.author()));
    }

    #[test]
    fn bad_bytes_and_wrong_topics_are_rejected_and_designs_not_kept_accepted_unstored() {
        let key = SecretKey::from_bytes(&[9; 32]);
        let event = approval(&key, EventId::from_hash(Hash::from_bytes([2; 32])), 1);
        let topic = wire::topic_of(&event);
        let peer = PeerId::random();
        assert_eq!(
            verdict(received(peer, &topic, Err(EventError::BadSignature { author: key.author() }), |_| true)),
            MessageAcceptance::Reject
        );
        let elsewhere = wire::shard_topic((wire::shard(&event.design()) + 1) % communs_protocol::limits::GOSSIP_SHARDS);
        assert_eq!(verdict(received(peer, &elsewhere, Ok(event.clone()), |_| true)), MessageAcceptance::Reject);
        assert_eq!(verdict(received(peer, &topic, Ok(event.clone()), |_| false)), MessageAcceptance::Accept);
        assert!(matches!(received(peer, &topic, Ok(event.clone()), |_| true), Step::Store(e) if e.id() == event.id()));
    }

    #[test]
    fn the_store_decides_the_rest() {
        let key = SecretKey::from_bytes(&[9; 32]);
        let event = approval(&key, EventId::from_hash(Hash::from_bytes([2; 32])), 1);
        let (peer, id) = (PeerId::random(), event.id());
        let added = Ingested { added: vec![event.clone()], ..Default::default() };
        assert!(matches!(stored(peer, id, Ok(added)), Step::AcceptAndRelease(e) if e == id));
        let removed = Ingested { ignored: vec![id], ..Default::default() };
        assert_eq!(verdict(stored(peer, id, Ok(removed))), MessageAcceptance::Ignore);
        let invalid = EventStoreError::Invalid { event: id, source: EventError::BadSignature { author: key.author() } };
        let rejected = Ingested { rejected: vec![(id, invalid)], ..Default::default() };
        assert_eq!(verdict(stored(peer, id, Ok(rejected))), MessageAcceptance::Reject);
        let failed = EventStoreError::NameWithoutRow(event.design());
        assert_eq!(verdict(stored(peer, id, Err(failed))), MessageAcceptance::Ignore);
        let waiting = Ingested { waiting: vec![event.clone()], ..Default::default() };
        match stored(peer, id, Ok(waiting)) {
            Step::FillGap { hold, design, event: e } => {
                assert_eq!((hold.len(), design, e), (1, event.design(), id));
            }
            other => panic!("not a gap: {other:?}"),
        }
        assert_eq!(gap_filled(true), MessageAcceptance::Accept);
        assert_eq!(gap_filled(false), MessageAcceptance::Ignore);
    }
}
