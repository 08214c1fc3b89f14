//! Catch-up: after being apart, two nodes find and exchange the events one
//! lacks (spec/catchup.md).
//!
//! Each side pulls: when a connection opens, both sides start a session
//! as initiator over their own scope, so each ends with what it keeps.
//! The responder is stateless but for a cache of the item set it built for
//! a session, so that later messages of the session need not name the
//! scope again.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use communs_protocol::limits::{MAX_CATCHUP_ROUNDS, MAX_FETCH_IDS, MAX_SESSIONS_PER_PEER};
use communs_protocol::sync::{Initiator, Responder, SyncError};
use communs_protocol::wire::{IdPrefix, Refusal, Request, Response, Scope, events_response};
use communs_protocol::{DesignId, EventError, EventId, Hash, SignedEvent};
use futures::StreamExt;
use libp2p::PeerId;
use serde::Serialize;

use super::{NetError, Network};

/// Fetch batches of one catch-up in flight at once: the next is on the
/// wire (and read from the peer's store) while one is verified.
const FETCHES_IN_FLIGHT: usize = 2;
use crate::ingest::Ingested;
use crate::store::EventStoreError;

/// A session not continued within this time is dropped.
const SESSION_TTL: Duration = Duration::from_secs(60);

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
    BadEvent { peer: PeerId, source: EventError },
    #[error("{peer} sent event {got}, which was not asked for")]
    Unasked { peer: PeerId, got: EventId },
    #[error("reconciliation with {peer} did not converge in {MAX_CATCHUP_ROUNDS} round trips")]
    TooManyRounds { peer: PeerId },
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

/// The responder's open sessions, oldest first per peer.
#[derive(Default)]
pub(super) struct Sessions {
    open: HashMap<PeerId, VecDeque<(u64, Instant, Responder)>>,
}

impl Sessions {
    fn take(&mut self, peer: &PeerId, session: u64) -> Option<Responder> {
        let sessions = self.open.get_mut(peer)?;
        sessions.retain(|(_, at, _)| at.elapsed() < SESSION_TTL);
        let index = sessions.iter().position(|(id, _, _)| *id == session)?;
        sessions.remove(index).map(|(_, _, responder)| responder)
    }

    fn put(&mut self, peer: PeerId, session: u64, responder: Responder) {
        let sessions = self.open.entry(peer).or_default();
        while sessions.len() >= MAX_SESSIONS_PER_PEER {
            sessions.pop_front();
        }
        sessions.push_back((session, Instant::now(), responder));
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
        }
    }

    /// Answers one catch-up request of `peer`.
    pub(super) async fn answer(&self, peer: PeerId, request: Request) -> Response {
        let network = self.clone();
        let answered = tokio::task::spawn_blocking(move || network.answer_blocking(peer, request)).await;
        answered.unwrap_or(Response::Refused(Refusal::Busy))
    }

    fn answer_blocking(&self, peer: PeerId, request: Request) -> Response {
        match request {
            Request::Reconcile { session, scope, message } => {
                let responder = match scope {
                    Some(scope) => match self.items_in(&scope).map(Responder::new) {
                        Ok(Ok(responder)) => Some(responder),
                        _ => return Response::Refused(Refusal::BadRequest),
                    },
                    None => self.shared.sessions.lock().ok().and_then(|mut s| s.take(&peer, session)),
                };
                let Some(mut responder) = responder else {
                    return Response::Refused(Refusal::UnknownSession);
                };
                match responder.receive(&message) {
                    Ok(reply) => {
                        if let Ok(mut sessions) = self.shared.sessions.lock() {
                            sessions.put(peer, session, responder);
                        }
                        Response::Reconcile { message: reply }
                    }
                    Err(_) => Response::Refused(Refusal::BadRequest),
                }
            }
            Request::Fetch { ids } => {
                let prefixes: Vec<[u8; 8]> = ids.iter().map(|p| p.0).collect();
                match self.shared.node.events.raw_by_prefixes(&prefixes, MAX_FETCH_IDS) {
                    Ok(events) => events_response(events.iter().map(Vec::as_slice)),
                    Err(_) => Response::Refused(Refusal::Busy),
                }
            }
        }
    }

    /// Reconciles `scope` with `peer`, fetches what this node lacks and
    /// stores it.
    pub async fn catch_up(&self, peer: PeerId, interest: Interest) -> Result<CatchupReport, CatchupError> {
        match self.catch_up_once(peer, &interest).await {
            // The peer dropped our session for newer ones: start again, once.
            Err(CatchupError::Refused { refusal: Refusal::UnknownSession, .. }) => {
                self.catch_up_once(peer, &interest).await
            }
            other => other,
        }
    }

    async fn catch_up_once(&self, peer: PeerId, interest: &Interest) -> Result<CatchupReport, CatchupError> {
        let mut report = CatchupReport { peers: 1, ..Default::default() };
        let network = self.clone();
        let scope = interest.scope();
        let wire_scope = scope.clone();
        let items = tokio::task::spawn_blocking(move || network.items_in(&wire_scope))
            .await
            .map_err(|_| NetError::Stopped)??;
        let sync = |source| CatchupError::Sync { peer, source };
        let (mut initiator, mut message) = Initiator::start(items).map_err(sync)?;
        let session: u64 = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
        let mut scope = Some(scope);
        let mut need = Vec::new();
        loop {
            if report.rounds == MAX_CATCHUP_ROUNDS {
                return Err(CatchupError::TooManyRounds { peer });
            }
            report.rounds += 1;
            let request = Request::Reconcile { session, scope: scope.take(), message };
            let Response::Reconcile { message: reply } = self.exchange(peer, request, &mut report).await? else {
                return Err(CatchupError::Protocol { peer });
            };
            let learned = initiator.receive(&reply).map_err(sync)?;
            need.extend(learned.need);
            match learned.next {
                Some(next) => message = next,
                None => break,
            }
        }
        report.needed = need.len();
        self.fetch_and_store(peer, interest, need, &mut report).await?;
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        if let Ok(mut synced) = self.shared.synced.lock() {
            synced.insert(peer, super::PeerSync { peer_id: peer.to_string(), at_ms, report: report.clone() });
        }
        // A peer is here and now holds what this node holds of the scope:
        // the files no peer could send before may come from it.
        self.retry_seeds();
        Ok(report)
    }

    /// One request and its response, counted in `report`; a refusal is an
    /// error.
    async fn exchange(
        &self,
        peer: PeerId,
        request: Request,
        report: &mut CatchupReport,
    ) -> Result<Response, CatchupError> {
        report.bytes_sent += request.encode().len();
        let response = self.request(peer, request).await?;
        report.bytes_received += response.encode().len();
        match response {
            Response::Refused(refusal) => Err(CatchupError::Refused { peer, refusal }),
            response => Ok(response),
        }
    }

    /// Fetches events by id, in batches, checking each is one asked for,
    /// verifies them, each batch on every core off the async threads, and
    /// stores them. The three overlap: the next batch is on the wire while
    /// one is verified, and what arrived is stored (in one transaction, by
    /// one blocking task at a time) while more arrives. An event whose
    /// parent has not arrived yet waits for the next store; what still
    /// waits at the end is held for gossip to release.
    async fn fetch_and_store(
        &self,
        peer: PeerId,
        interest: &Interest,
        need: Vec<EventId>,
        report: &mut CatchupReport,
    ) -> Result<(), CatchupError> {
        // Owned batches and a network per future: a stream of futures
        // borrowing `self` and `need` defeats the compiler's proof that
        // the tasks awaiting this are `Send`.
        let batches: Vec<Vec<EventId>> = need.chunks(MAX_FETCH_IDS).map(<[EventId]>::to_vec).collect();
        let mut batches = futures::stream::iter(batches)
            .map(|batch| {
                let network = self.clone();
                async move { network.fetch_batch(peer, batch).await }
            })
            .buffered(FETCHES_IN_FLIGHT);
        let mut arrived: Vec<SignedEvent> = Vec::new();
        let mut storing: Option<tokio::task::JoinHandle<Result<Ingested, EventStoreError>>> = None;
        loop {
            let batch = batches.next().await;
            let done = batch.is_none();
            if let Some(batch) = batch {
                let (mut events, counted) = batch?;
                report.bytes_sent += counted.bytes_sent;
                report.bytes_received += counted.bytes_received;
                // A design that only shares a prefix with one asked for is
                // not wanted (it takes some 2^64 hashes to make one on
                // purpose).
                events.retain(|e| interest.wants(&e.design()));
                arrived.extend(events);
            }
            // Store what arrived once the store before it is done (at the
            // end, wait for it).
            if storing.as_ref().is_some_and(|task| done || task.is_finished()) {
                let task = storing.take().expect("checked above");
                let waiting = self.stored(peer, task, report).await?;
                arrived.splice(0..0, waiting);
            }
            if storing.is_none() && !arrived.is_empty() {
                let node = self.shared.node.clone();
                let events = std::mem::take(&mut arrived);
                storing = Some(tokio::task::spawn_blocking(move || node.ingest(events)));
            }
            if done {
                if let Some(task) = storing.take() {
                    let waiting = self.stored(peer, task, report).await?;
                    self.hold(waiting);
                }
                return Ok(());
            }
        }
    }

    /// The end of one store of [`Network::fetch_and_store`]: counted in
    /// `report`, held events that waited for these released. Returns the
    /// events still waiting for a parent.
    async fn stored(
        &self,
        peer: PeerId,
        task: tokio::task::JoinHandle<Result<Ingested, EventStoreError>>,
        report: &mut CatchupReport,
    ) -> Result<Vec<SignedEvent>, CatchupError> {
        let ingested = task.await.map_err(|_| NetError::Stopped)??;
        report.added += ingested.added.len();
        // The peer holds the designs it sent events of: their files are
        // asked of it first.
        let designs: std::collections::BTreeSet<DesignId> = ingested.added.iter().map(SignedEvent::design).collect();
        if !designs.is_empty() {
            let _ = self.send(super::Command::Holds { peer, designs: designs.into_iter().collect() }).await;
        }
        if let Some((id, e)) = ingested.rejected.into_iter().next() {
            tracing::info!(%peer, "sent event {id}, invalid against its parents: {e}");
        }
        self.release_pending(ingested.added.iter().map(SignedEvent::id).collect()).await;
        Ok(ingested.waiting)
    }

    /// One batch of [`Network::fetch_and_store`], with the bytes it moved.
    async fn fetch_batch(
        &self,
        peer: PeerId,
        batch: Vec<EventId>,
    ) -> Result<(Vec<SignedEvent>, CatchupReport), CatchupError> {
        let mut counted = CatchupReport::default();
        let mut wanted: std::collections::BTreeSet<EventId> = batch.into_iter().collect();
        let mut records = Vec::with_capacity(wanted.len());
        while !wanted.is_empty() {
            let asked: Vec<IdPrefix> = wanted.iter().map(|id| IdPrefix::of(id.as_bytes())).collect();
            let request = Request::Fetch { ids: asked.clone() };
            let Response::Events { events: got } = self.exchange(peer, request, &mut counted).await? else {
                return Err(CatchupError::Protocol { peer });
            };
            let mut progressed = false;
            for bytes in got {
                // An event's id is the hash of its bytes: what was
                // asked for is known before the signature is checked.
                let id = EventId::from_hash(Hash::of(&bytes));
                if wanted.remove(&id) {
                    records.push(bytes);
                    progressed = true;
                } else if asked.binary_search(&IdPrefix::of(id.as_bytes())).is_err() {
                    return Err(CatchupError::Unasked { peer, got: id });
                }
                // Else another event under a prefix asked for: skipped.
            }
            if !progressed {
                // The peer no longer has them (or lied about having them).
                break;
            }
        }
        let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        let decoded = tokio::task::spawn_blocking(move || SignedEvent::decode_many(&records, threads))
            .await
            .map_err(|_| NetError::Stopped)?;
        let mut events = Vec::with_capacity(decoded.len());
        for event in decoded {
            events.push(event.map_err(|source| CatchupError::BadEvent { peer, source })?);
        }
        Ok((events, counted))
    }
}
