//! Catch-up: after being apart, two nodes find and exchange the events one
//! lacks (spec/catchup.md).
//!
//! Each side pulls: when a connection opens, both sides start a session
//! as initiator over their own scope, so each ends with what it keeps.
//! The responder is stateless but for a cache of the item set it built for
//! a session, so that later messages of the session need not name the
//! scope again.
//!
//! The rules live in two state machines without I/O: [`initiator`] (one
//! catch-up: rounds, fetch batches, stores, starting again) and
//! [`responder`] (the sessions and request slots of the answering side,
//! owned by the driver). This module carries out what they ask: requests
//! through the driver, store reads and writes and signature checks on
//! blocking threads.

pub(super) mod catalog;
pub(super) mod initiator;
pub(super) mod responder;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use communs_protocol::limits::{MAX_CATCHUP_ROUNDS, MAX_FORWARDED_PER_CATCHUP};
use communs_protocol::sync::SyncError;
use communs_protocol::wire::{Refusal, Scope};
use communs_protocol::{AuthorId, DesignId, EventError, EventId, SignedEvent};
use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::FuturesUnordered;
use libp2p::PeerId;
use serde::Serialize;

use super::{NetError, Network};
use crate::clock::now_ms;
use crate::progress::Progress;
use crate::store::EventStoreError;
use initiator::{Action, Catchup, Input};
pub(super) use responder::{Admitted, Answer, Responders, Work};

#[derive(Debug, thiserror::Error)]
pub enum CatchupError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Store(#[from] EventStoreError),
    #[error("reconciliation with {peer}: {source}")]
    Sync { peer: PeerId, source: SyncError },
    #[error("{peer} refused: {refusal}")]
    Refused { peer: PeerId, refusal: Refusal },
    #[error("{peer} answered with the wrong kind of message")]
    Protocol { peer: PeerId },
    #[error("{peer} sent an invalid event: {source}")]
    BadEvent { peer: PeerId, source: Box<EventError> },
    #[error("{peer} sent an invalid announcement: {reason}")]
    BadAnnouncement { peer: PeerId, reason: String },
    #[error("{peer} sent event {got}, which was not asked for")]
    Unasked { peer: PeerId, got: EventId },
    #[error("reconciliation with {peer} did not converge in {MAX_CATCHUP_ROUNDS} round trips")]
    TooManyRounds { peer: PeerId },
    /// The catch-up's state machine was fed what it did not ask for, or
    /// waits for nothing and has not finished: a bug of this node, not
    /// the peer's doing.
    #[error("catch-up with {peer} stopped: {what} (a bug of this node)")]
    Bug { peer: PeerId, what: &'static str },
}

/// What catching up brought, for `communs sync`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CatchupReport {
    pub peers: usize,
    pub failed_peers: usize,
    /// Round trips of reconciliation (fetches not counted).
    pub rounds: usize,
    /// Events the peers had and this node lacked.
    pub needed: usize,
    /// Events stored.
    pub added: usize,
    /// Bytes of the reconciliation and fetch messages received.
    pub bytes_received: usize,
    /// Bytes sent.
    pub bytes_sent: usize,
    /// The peers that could not be reached or caught up with, and why.
    pub failures: Vec<PeerFailure>,
}

/// A peer `communs sync` could not dial or catch up with.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PeerFailure {
    pub peer_id: String,
    pub reason: String,
}

impl CatchupReport {
    /// `peer` could not be reached or caught up with, for `reason`.
    pub(crate) fn failed(&mut self, peer: PeerId, reason: String) {
        self.failed_peers += 1;
        self.failures.push(PeerFailure { peer_id: peer.to_string(), reason });
    }

    pub fn merge(&mut self, other: CatchupReport) {
        self.peers += other.peers;
        self.failed_peers += other.failed_peers;
        self.rounds += other.rounds;
        self.needed += other.needed;
        self.added += other.added;
        self.bytes_received += other.bytes_received;
        self.bytes_sent += other.bytes_sent;
        self.failures.extend(other.failures);
    }
}

/// What a node catches up: everything, or some designs. On the wire the
/// designs travel as id prefixes ([`Scope`]); the full ids stay here to
/// keep only the events of designs meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    All,
    Designs(std::collections::BTreeSet<DesignId>),
}

impl Interest {
    pub fn designs(designs: impl IntoIterator<Item = DesignId>) -> Interest {
        Interest::Designs(designs.into_iter().collect())
    }

    pub fn scope(&self) -> Scope {
        match self {
            Interest::All => Scope::All,
            Interest::Designs(designs) => Scope::designs(designs.iter().copied()),
        }
    }

    pub fn wants(&self, design: &DesignId) -> bool {
        match self {
            Interest::All => true,
            Interest::Designs(designs) => designs.contains(design),
        }
    }
}

impl Network {
    /// The reconciliation items of this store a scope covers (the same
    /// rule on both sides of a session, so that both reconcile the same
    /// sets).
    fn items_in(&self, scope: &Scope) -> Result<Vec<(u64, EventId)>, EventStoreError> {
        match scope {
            Scope::All => self.shared.node.events.sync_items_by_prefix(None),
            Scope::Designs(prefixes) => {
                let prefixes: Vec<[u8; 8]> = prefixes.iter().map(|p| p.0).collect();
                self.shared.node.events.sync_items_by_prefix(Some(&prefixes))
            }
            Scope::Catalog => self.shared.node.events.catalog_items(),
        }
    }

    /// Runs the work of a request the driver admitted (see
    /// [`Responders::admit`]) on a blocking thread: store reads and
    /// negentropy are never done by the driver.
    pub(super) async fn answer(&self, work: Work) -> Answer {
        let network = self.clone();
        let answered = tokio::task::spawn_blocking(move || {
            let events = &network.shared.node.events;
            let me = network.shared.node.author();
            work.run(
                |scope| network.items_in(scope),
                |prefixes, max| events.raw_by_prefixes(prefixes, max),
                |prefixes, max| events.catalog_records(prefixes, max, me),
                |known| events.newer_profiles(known),
            )
        })
        .await;
        answered.unwrap_or_else(|_| Answer::failed())
    }

    /// Reconciles `interest` with `peer`, fetches what this node lacks and
    /// stores it. The rules are [`Catchup`]'s; this carries out its
    /// actions, several at once (a request on the wire while a batch is
    /// verified and another stored), and feeds back their results.
    pub async fn catch_up(&self, peer: PeerId, interest: Interest) -> Result<CatchupReport, CatchupError> {
        let metrics = &self.shared.node.metrics;
        metrics.catchup_started.inc();
        let result = self.run_catch_up(peer, interest).await;
        match &result {
            Ok(report) => {
                metrics.catchup_completed.inc();
                metrics.catchup_events.inc_by(report.added as u64);
            }
            Err(e) => {
                metrics.catchup_failed.inc();
                self.peer_failed(peer, format!("catch-up failed: {e}")).await;
            }
        }
        result
    }

    async fn run_catch_up(&self, peer: PeerId, interest: Interest) -> Result<CatchupReport, CatchupError> {
        let random = || rand_core::RngCore::next_u64(&mut rand_core::OsRng);
        let (session, restart) = (random(), random());
        let scoped = match &interest {
            Interest::All => None,
            Interest::Designs(designs) => Some(designs.clone()),
        };
        let (mut catchup, mut actions) = Catchup::start(peer, interest, session, [restart]);
        // Designs that gained events: their authors' profiles are asked for.
        let grown = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        // Owned futures, each with its own network: futures borrowing
        // `self` defeat the compiler's proof that the tasks awaiting this
        // are `Send`.
        let mut running: FuturesUnordered<BoxFuture<'static, Result<Input, CatchupError>>> = FuturesUnordered::new();
        // Events this catch-up gossiped on (at most
        // `MAX_FORWARDED_PER_CATCHUP`); stores run one at a time.
        let forwarded = Arc::new(AtomicUsize::new(0));
        // Listed in `node status` while it runs: the events' bytes as they
        // arrive, the events as they are stored.
        let activity = self.shared.node.activities.begin("catch-up", peer.to_string());
        activity.serving(&peer.to_string());
        loop {
            for action in actions {
                let network = self.clone();
                match action {
                    Action::ReadItems(scope) => running.push(
                        async move {
                            let items = tokio::task::spawn_blocking(move || network.items_in(&scope))
                                .await
                                .map_err(|_| NetError::Stopped)??;
                            Ok(Input::Items(items))
                        }
                        .boxed(),
                    ),
                    Action::Send(exchange, request) => running.push(
                        async move { Ok(Input::Response(exchange, network.request(peer, request).await?)) }.boxed(),
                    ),
                    Action::Verify(number, records) => running.push({
                        activity.advance(records.iter().map(|r| r.len() as u64).sum());
                        async move {
                            let verifier = network.shared.node.verifier.clone();
                            let decoded = tokio::task::spawn_blocking(move || verifier.decode_many(&records))
                                .await
                                .map_err(|_| NetError::Stopped)?;
                            for e in decoded.iter().filter_map(|d| d.as_ref().err()) {
                                network.shared.node.metrics.event_refused(crate::metrics::PathIn::Catchup, e.reason());
                            }
                            Ok(Input::Verified(number, decoded))
                        }
                        .boxed()
                    }),
                    Action::Store(events) => {
                        activity.advance_items(events.len());
                        let forwarded = forwarded.clone();
                        if let Ok(mut grown) = grown.lock() {
                            grown.extend(events.iter().map(SignedEvent::design));
                        }
                        running.push(async move { network.store_caught_up(peer, events, &forwarded).await }.boxed())
                    }
                    Action::Finish { report, hold } => {
                        self.hold(hold).await;
                        let designs =
                            scoped.clone().unwrap_or_else(|| grown.lock().map(|g| g.clone()).unwrap_or_default());
                        if let Err(e) = self.catch_up_profiles(peer, designs).await {
                            tracing::debug!(%peer, "profiles not caught up: {e}");
                        }
                        self.record_sync(peer, &report).await;
                        // A peer is here and now holds what this node holds
                        // of the scope: the files no peer could send before
                        // may come from it.
                        self.retry_seeds();
                        return Ok(report);
                    }
                }
            }
            let Some(input) = running.next().await else {
                return Err(CatchupError::Bug { peer, what: "nothing left to wait for" });
            };
            actions = catchup.handle(input?)?;
        }
    }

    /// Reconciles this node's catalog with `peer`'s and offers what this
    /// node lacks to its catalog (spec/catalog.md, "Catch-up"): the rules
    /// are [`catalog::CatalogCatchup`]'s, carried out here, a request on
    /// the wire while a batch is verified and stored. One at a time with
    /// a peer: while one runs, another (anti-entropy's) returns at once
    /// with an empty report. A peer that sends an invalid announcement is
    /// penalised.
    pub async fn catch_up_catalog(&self, peer: PeerId) -> Result<CatchupReport, CatchupError> {
        let Some(_running) = CatalogRun::start(self, peer) else { return Ok(CatchupReport::default()) };
        let session = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
        let (mut machine, mut actions) = catalog::CatalogCatchup::start(peer, session);
        let mut running: FuturesUnordered<BoxFuture<'static, Result<catalog::Input, CatchupError>>> =
            FuturesUnordered::new();
        loop {
            for action in actions {
                let network = self.clone();
                match action {
                    catalog::Action::ReadItems => running.push(
                        async move {
                            let node = network.shared.node.clone();
                            let items = tokio::task::spawn_blocking(move || node.events.catalog_items())
                                .await
                                .map_err(|_| NetError::Stopped)??;
                            Ok(catalog::Input::Items(items))
                        }
                        .boxed(),
                    ),
                    catalog::Action::Send(exchange, request) => running.push(
                        async move { Ok(catalog::Input::Response(exchange, network.request(peer, request).await?)) }
                            .boxed(),
                    ),
                    catalog::Action::Offer(records) => running.push(
                        async move {
                            let node = network.shared.node.clone();
                            let (added, refused) = tokio::task::spawn_blocking(move || node.offer_catalog(records))
                                .await
                                .map_err(|_| NetError::Stopped)?
                                .map_err(NetError::from)?;
                            Ok(catalog::Input::Offered { added, refused })
                        }
                        .boxed(),
                    ),
                    catalog::Action::Finish(report) => {
                        let sync =
                            super::PeerSync { peer_id: peer.to_string(), at_ms: now_ms(), report: report.clone() };
                        let _ = self.send(super::Command::CatalogSynced(peer, sync)).await;
                        return Ok(report);
                    }
                }
            }
            let Some(input) = running.next().await else {
                return Err(CatchupError::Bug { peer, what: "nothing left to wait for" });
            };
            match machine.handle(input?) {
                Ok(next) => actions = next,
                Err(e) => {
                    if let CatchupError::BadAnnouncement { reason, .. } = &e {
                        self.penalise(peer, format!("invalid announcement in a catalog catch-up: {reason}")).await;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Stores events a catch-up with `peer` brought (in one transaction,
    /// parents first), tells the driver the peer holds their designs,
    /// gossips on the first of them (spec/network.md, "Forwarding what a
    /// catch-up brought"), and releases the held events that waited for
    /// them.
    async fn store_caught_up(
        &self,
        peer: PeerId,
        events: Vec<SignedEvent>,
        forwarded: &AtomicUsize,
    ) -> Result<Input, CatchupError> {
        let node = self.shared.node.clone();
        let ingested =
            tokio::task::spawn_blocking(move || node.ingest(events)).await.map_err(|_| NetError::Stopped)??;
        // The peer holds the designs it sent events of: their files are
        // asked of it first.
        let designs: std::collections::BTreeSet<DesignId> = ingested.added.iter().map(SignedEvent::design).collect();
        if !designs.is_empty() {
            let _ = self.send(super::Command::Holds { peer, designs: designs.into_iter().collect() }).await;
        }
        for (_, e) in &ingested.rejected {
            let reason = crate::metrics::refusal_reason(e);
            self.shared.node.metrics.event_refused(crate::metrics::PathIn::Catchup, reason);
        }
        if let Some((id, e)) = ingested.rejected.into_iter().next() {
            tracing::info!(%peer, "sent event {id}, invalid against its parents: {e}");
        }
        // What this node just learned, its other peers may lack too (after
        // a partition, or while it was away): gossiped on, it reaches them
        // within a round trip instead of one anti-entropy round per hop.
        // A bulk catch-up forwards only its first events.
        let room = MAX_FORWARDED_PER_CATCHUP.saturating_sub(forwarded.load(Ordering::Relaxed));
        let forward: Vec<SignedEvent> = ingested.added.iter().take(room).cloned().collect();
        forwarded.fetch_add(forward.len(), Ordering::Relaxed);
        for event in forward {
            self.publish(event).await;
        }
        self.release_pending(ingested.added.iter().map(SignedEvent::id).collect()).await;
        Ok(Input::Stored { added: ingested.added.len(), waiting: ingested.waiting })
    }

    /// Asks `peer` for the profiles, newer than those held here, of the
    /// authors of `designs` (spec/catchup.md, "Profiles"): they travel
    /// with the designs. Each one is verified, must be a profile of an
    /// author asked for, and is kept only if newer.
    async fn catch_up_profiles(
        &self,
        peer: PeerId,
        designs: std::collections::BTreeSet<DesignId>,
    ) -> Result<usize, CatchupError> {
        if designs.is_empty() {
            return Ok(0);
        }
        let node = self.shared.node.clone();
        let known = tokio::task::spawn_blocking(move || node.profile_clocks(&designs))
            .await
            .map_err(|_| NetError::Stopped)?
            .map_err(NetError::from)?;
        let mut kept = 0;
        for chunk in known.chunks(communs_protocol::limits::MAX_PROFILE_AUTHORS) {
            let request = communs_protocol::wire::Request::Profiles { known: chunk.to_vec() };
            let events = match self.request(peer, request).await? {
                communs_protocol::wire::Response::Events { events } => events,
                communs_protocol::wire::Response::Refused(refusal) => {
                    return Err(CatchupError::Refused { peer, refusal });
                }
                _ => return Err(CatchupError::Protocol { peer }),
            };
            let profiles = asked_profiles(peer, chunk, &events)?;
            let node = self.shared.node.clone();
            kept += tokio::task::spawn_blocking(move || {
                profiles.iter().try_fold(0, |kept, p| node.receive_profile(p).map(|new| kept + usize::from(new)))
            })
            .await
            .map_err(|_| NetError::Stopped)?
            .map_err(NetError::from)?;
        }
        Ok(kept)
    }

    /// Remembers the last catch-up with `peer`, for `node status`.
    async fn record_sync(&self, peer: PeerId, report: &CatchupReport) {
        let sync = super::PeerSync { peer_id: peer.to_string(), at_ms: now_ms(), report: report.clone() };
        let _ = self.send(super::Command::Synced(peer, sync)).await;
    }
}

/// The profiles of a `Profiles` answer, each verified, and each a profile
/// of an author `known` names with a larger clock than given: anything
/// else fails the whole answer, as an unasked event does.
fn asked_profiles(
    peer: PeerId,
    known: &[(AuthorId, u64)],
    events: &[Vec<u8>],
) -> Result<Vec<SignedEvent>, CatchupError> {
    let asked: std::collections::HashMap<AuthorId, u64> = known.iter().copied().collect();
    events
        .iter()
        .map(|bytes| {
            let profile =
                SignedEvent::decode(bytes).map_err(|e| CatchupError::BadEvent { peer, source: Box::new(e) })?;
            let newer = asked.get(&profile.author()).is_some_and(|clock| profile.clock() > *clock);
            if !newer || !matches!(profile.body(), communs_protocol::Body::Profile(_)) {
                return Err(CatchupError::Unasked { peer, got: profile.id() });
            }
            Ok(profile)
        })
        .collect()
}

/// A catalog catch-up with a peer, running: at most one per peer.
struct CatalogRun {
    network: Network,
    peer: PeerId,
}

impl CatalogRun {
    fn start(network: &Network, peer: PeerId) -> Option<CatalogRun> {
        let mut running = network.shared.catalog_runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.insert(peer).then(|| CatalogRun { network: network.clone(), peer })
    }
}

impl Drop for CatalogRun {
    fn drop(&mut self) {
        let mut running = self.network.shared.catalog_runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.remove(&self.peer);
    }
}
