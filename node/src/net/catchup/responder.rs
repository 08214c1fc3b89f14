//! The answering side of catch-up as a state machine: which sessions are
//! open with each peer, and how many of each peer's requests are being
//! answered. Fed requests and the current time; no lock, no clock, no
//! store of its own.
//!
//! Why it is split this way: deciding whether a request is served (a slot
//! free, a session held) is instant and belongs to the one task that owns
//! the swarm, which must never wait for the store; building a session's
//! item set and running negentropy over it is store and CPU work, done by
//! [`Work::run`] off that task. The session's negentropy state travels
//! with the work and comes back with the [`Answer`], so no lock guards it.
//!
//! The rules (spec/catchup.md, "Sessions"):
//! - a peer with [`MAX_REQUESTS_PER_PEER`] requests being answered gets
//!   `busy` at once;
//! - a `Reconcile` without a scope continues a session this side holds for
//!   that peer, else it is refused `unknown session`;
//! - a session not continued within [`SESSION_TTL`] of its last step is
//!   dropped, and a peer has at most [`MAX_SESSIONS_PER_PEER`] (a new one
//!   drops the oldest);
//! - a malformed message, or a scope whose items cannot be read, is
//!   answered `bad request` and its session dropped.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use communs_protocol::limits::{MAX_FETCH_IDS, MAX_REQUESTS_PER_PEER, MAX_SESSIONS_PER_PEER};
use communs_protocol::sync::Responder;
use communs_protocol::wire::{
    CatalogRecord, IdPrefix, Refusal, Request, Response, Scope, announcements_response, events_response,
};
use communs_protocol::{AuthorId, EventId};
use libp2p::PeerId;

use crate::net::timing::SESSION_TTL;

/// One open session with a peer.
struct Open {
    session: u64,
    /// When its last step was answered: the TTL counts from there.
    last_step: Instant,
    responder: Responder,
}

/// The answering side's sessions and request slots, per peer.
#[derive(Default)]
pub(in crate::net) struct Responders {
    /// Open sessions, oldest first per peer.
    open: HashMap<PeerId, VecDeque<Open>>,
    /// Requests being answered, per peer (absent: none).
    answering: HashMap<PeerId, usize>,
}

/// What to do with a request.
pub(in crate::net) enum Admitted {
    /// Answer this at once: nothing to read.
    Now(Response),
    /// Run this off the swarm's task, then give its [`Answer`] to
    /// [`Responders::answered`]. It holds one of the peer's request slots
    /// until then.
    Work(Work),
}

/// A request to answer with the store's help.
pub(in crate::net) struct Work {
    kind: WorkKind,
}

enum WorkKind {
    /// A session's first message: build the item set of `scope`.
    Start {
        session: u64,
        scope: Scope,
        message: Vec<u8>,
    },
    /// A later message of a session held.
    Continue {
        session: u64,
        responder: Responder,
        message: Vec<u8>,
    },
    Fetch {
        ids: Vec<IdPrefix>,
    },
    FetchCatalog {
        ids: Vec<IdPrefix>,
    },
    Profiles {
        known: Vec<(AuthorId, u64)>,
    },
}

/// The answer to a [`Work`], with the session to keep open, if any.
pub(in crate::net) struct Answer {
    response: Response,
    keep: Option<(u64, Responder)>,
}

impl Answer {
    /// The answer of a work that could not run (its task panicked, or the
    /// runtime is stopping): `busy`, the session dropped.
    pub(in crate::net) fn failed() -> Answer {
        Answer { response: Response::Refused(Refusal::Busy), keep: None }
    }
}

impl Responders {
    /// Decides what becomes of `peer`'s `request`, received at `now`.
    pub(in crate::net) fn admit(&mut self, now: Instant, peer: PeerId, request: Request) -> Admitted {
        let answering = self.answering.get(&peer).copied().unwrap_or(0);
        if answering >= MAX_REQUESTS_PER_PEER {
            return Admitted::Now(Response::Refused(Refusal::Busy));
        }
        let kind = match request {
            Request::Reconcile { session, scope: Some(scope), message } => WorkKind::Start { session, scope, message },
            Request::Reconcile { session, scope: None, message } => match self.take(now, &peer, session) {
                Some(responder) => WorkKind::Continue { session, responder, message },
                None => return Admitted::Now(Response::Refused(Refusal::UnknownSession)),
            },
            Request::Fetch { ids } => WorkKind::Fetch { ids },
            Request::FetchCatalog { ids } => WorkKind::FetchCatalog { ids },
            Request::Profiles { known } => WorkKind::Profiles { known },
        };
        self.answering.insert(peer, answering + 1);
        Admitted::Work(Work { kind })
    }

    /// The work of one of `peer`'s requests ended at `now`: its slot is
    /// given back, its session kept open. Returns the response to send.
    pub(in crate::net) fn answered(&mut self, now: Instant, peer: PeerId, answer: Answer) -> Response {
        if let Some(count) = self.answering.get_mut(&peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.answering.remove(&peer);
            }
        }
        if let Some((session, responder)) = answer.keep {
            self.put(now, peer, session, responder);
        }
        answer.response
    }

    /// Drops every session past its TTL at `now`, so that the item sets of
    /// peers that went away do not stay in memory until they come back.
    pub(in crate::net) fn expire(&mut self, now: Instant) {
        self.open.retain(|_, sessions| {
            sessions.retain(|open| alive(open, now));
            !sessions.is_empty()
        });
    }

    /// Sessions open with every peer.
    #[cfg(test)]
    fn open_sessions(&self) -> usize {
        self.open.values().map(VecDeque::len).sum()
    }

    fn take(&mut self, now: Instant, peer: &PeerId, session: u64) -> Option<Responder> {
        let sessions = self.open.get_mut(peer)?;
        sessions.retain(|open| alive(open, now));
        let found = sessions.iter().position(|open| open.session == session).and_then(|i| sessions.remove(i));
        if sessions.is_empty() {
            self.open.remove(peer);
        }
        found.map(|open| open.responder)
    }

    fn put(&mut self, now: Instant, peer: PeerId, session: u64, responder: Responder) {
        let sessions = self.open.entry(peer).or_default();
        // A scope sent again under a session number already open starts
        // that session over.
        sessions.retain(|open| open.session != session);
        while sessions.len() >= MAX_SESSIONS_PER_PEER {
            sessions.pop_front();
        }
        sessions.push_back(Open { session, last_step: now, responder });
    }
}

fn alive(open: &Open, now: Instant) -> bool {
    now.saturating_duration_since(open.last_step) < SESSION_TTL
}

impl Work {
    /// Answers the request with the store's reads: `items` gives the
    /// reconciliation items of a scope (the same rule on both sides of a
    /// session), `events` the stored events under id prefixes, at most
    /// `limit`, `catalog` the catalog's records likewise, `profiles` the
    /// stored profiles of authors newer than the clocks given. Any failing
    /// is a refusal, not an error of this node.
    pub(in crate::net) fn run<E>(
        self,
        items: impl FnOnce(&Scope) -> Result<Vec<(u64, EventId)>, E>,
        events: impl FnOnce(&[[u8; 8]], usize) -> Result<Vec<Vec<u8>>, E>,
        catalog: impl FnOnce(&[[u8; 8]], usize) -> Result<Vec<CatalogRecord>, E>,
        profiles: impl FnOnce(&[(AuthorId, u64)]) -> Result<Vec<Vec<u8>>, E>,
    ) -> Answer {
        let refused = |refusal| Answer { response: Response::Refused(refusal), keep: None };
        let (session, mut responder, message) = match self.kind {
            WorkKind::Start { session, scope, message } => match items(&scope).map(Responder::new) {
                Ok(Ok(responder)) => (session, responder, message),
                _ => return refused(Refusal::BadRequest),
            },
            WorkKind::Continue { session, responder, message } => (session, responder, message),
            WorkKind::Fetch { ids } => {
                let prefixes: Vec<[u8; 8]> = ids.iter().map(|p| p.0).collect();
                return match events(&prefixes, MAX_FETCH_IDS) {
                    Ok(events) => Answer { response: events_response(events.iter().map(Vec::as_slice)), keep: None },
                    Err(_) => refused(Refusal::Busy),
                };
            }
            WorkKind::FetchCatalog { ids } => {
                let prefixes: Vec<[u8; 8]> = ids.iter().map(|p| p.0).collect();
                return match catalog(&prefixes, MAX_FETCH_IDS) {
                    Ok(records) => Answer { response: announcements_response(records), keep: None },
                    Err(_) => refused(Refusal::Busy),
                };
            }
            WorkKind::Profiles { known } => {
                return match profiles(&known) {
                    Ok(found) => Answer { response: events_response(found.iter().map(Vec::as_slice)), keep: None },
                    Err(_) => refused(Refusal::Busy),
                };
            }
        };
        match responder.receive(&message) {
            Ok(reply) => Answer { response: Response::Reconcile { message: reply }, keep: Some((session, responder)) },
            Err(_) => refused(Refusal::BadRequest),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use communs_protocol::sync::Initiator;
    use communs_protocol::{EventId, Hash};

    use super::*;

    fn id(n: u8) -> EventId {
        EventId::from_hash(Hash::from_bytes([n; 32]))
    }

    fn items(ids: &[u8]) -> Vec<(u64, EventId)> {
        ids.iter().map(|n| (u64::from(*n), id(*n))).collect()
    }

    /// The store of the answering side: events 1 to 5.
    fn run(work: Work) -> Answer {
        work.run(
            |_scope: &Scope| Ok::<_, Infallible>(items(&[1, 2, 3, 4, 5])),
            |prefixes: &[[u8; 8]], _| Ok(prefixes.iter().map(|p| p.to_vec()).collect()),
            |_: &[[u8; 8]], _| Ok(Vec::new()),
            |_known: &[(AuthorId, u64)]| Ok(Vec::new()),
        )
    }

    fn work(admitted: Admitted) -> Work {
        match admitted {
            Admitted::Work(work) => work,
            Admitted::Now(response) => panic!("answered at once: {response:?}"),
        }
    }

    fn first(session: u64) -> Request {
        let (_, message) = Initiator::start(items(&[1, 2])).expect("start");
        Request::Reconcile { session, scope: Some(Scope::All), message }
    }

    fn next(session: u64) -> Request {
        let (_, message) = Initiator::start(items(&[1, 2])).expect("start");
        Request::Reconcile { session, scope: None, message }
    }

    /// Admits and answers one request at once.
    fn step(table: &mut Responders, now: Instant, peer: PeerId, request: Request) -> Response {
        match table.admit(now, peer, request) {
            Admitted::Now(response) => response,
            Admitted::Work(w) => table.answered(now, peer, run(w)),
        }
    }

    #[test]
    fn a_session_is_continued_within_its_ttl_and_unknown_after() {
        let peer = PeerId::random();
        let start = Instant::now();
        let mut table = Responders::default();
        assert!(matches!(step(&mut table, start, peer, first(7)), Response::Reconcile { .. }));
        let later = start + SESSION_TTL - Duration::from_millis(1);
        assert!(matches!(step(&mut table, later, peer, next(7)), Response::Reconcile { .. }));
        // The TTL counts from the last step, not the first.
        let again = later + SESSION_TTL - Duration::from_millis(1);
        assert!(matches!(step(&mut table, again, peer, next(7)), Response::Reconcile { .. }));
        assert_eq!(step(&mut table, again + SESSION_TTL, peer, next(7)), Response::Refused(Refusal::UnknownSession));
        assert_eq!(table.open_sessions(), 0);
    }

    #[test]
    fn sessions_belong_to_their_peer() {
        let (alice, mallory) = (PeerId::random(), PeerId::random());
        let now = Instant::now();
        let mut table = Responders::default();
        step(&mut table, now, alice, first(7));
        assert_eq!(step(&mut table, now, mallory, next(7)), Response::Refused(Refusal::UnknownSession));
        assert!(matches!(step(&mut table, now, alice, next(7)), Response::Reconcile { .. }));
    }

    #[test]
    fn a_new_session_beyond_the_cap_drops_the_oldest() {
        let peer = PeerId::random();
        let now = Instant::now();
        let mut table = Responders::default();
        for session in 0..=MAX_SESSIONS_PER_PEER as u64 {
            step(&mut table, now, peer, first(session));
        }
        assert_eq!(table.open_sessions(), MAX_SESSIONS_PER_PEER);
        assert_eq!(step(&mut table, now, peer, next(0)), Response::Refused(Refusal::UnknownSession));
        for session in 1..=MAX_SESSIONS_PER_PEER as u64 {
            assert!(matches!(step(&mut table, now, peer, next(session)), Response::Reconcile { .. }));
        }
    }

    #[test]
    fn a_peer_with_every_slot_taken_is_busy_until_one_is_answered() {
        let (peer, other) = (PeerId::random(), PeerId::random());
        let now = Instant::now();
        let mut table = Responders::default();
        let fetch = || Request::Fetch { ids: vec![IdPrefix([1; 8])] };
        let mut running: Vec<Work> =
            (0..MAX_REQUESTS_PER_PEER).map(|_| work(table.admit(now, peer, fetch()))).collect();
        assert!(matches!(table.admit(now, peer, fetch()), Admitted::Now(Response::Refused(Refusal::Busy))));
        assert!(matches!(table.admit(now, other, fetch()), Admitted::Work(_)), "slots are per peer");
        let done = running.pop().expect("one running");
        assert!(matches!(table.answered(now, peer, run(done)), Response::Events { .. }));
        assert!(matches!(table.admit(now, peer, fetch()), Admitted::Work(_)));
    }

    #[test]
    fn an_unknown_session_takes_no_slot() {
        let peer = PeerId::random();
        let now = Instant::now();
        let mut table = Responders::default();
        for _ in 0..MAX_REQUESTS_PER_PEER + 1 {
            assert_eq!(step(&mut table, now, peer, next(3)), Response::Refused(Refusal::UnknownSession));
        }
        assert!(table.answering.is_empty());
    }

    #[test]
    fn a_malformed_message_is_a_bad_request_and_ends_its_session() {
        let peer = PeerId::random();
        let now = Instant::now();
        let mut table = Responders::default();
        step(&mut table, now, peer, first(7));
        let garbage = Request::Reconcile { session: 7, scope: None, message: vec![0xff, 0, 1] };
        assert_eq!(step(&mut table, now, peer, garbage), Response::Refused(Refusal::BadRequest));
        assert_eq!(step(&mut table, now, peer, next(7)), Response::Refused(Refusal::UnknownSession));
    }

    #[test]
    fn a_store_that_cannot_answer_refuses() {
        let peer = PeerId::random();
        let now = Instant::now();
        let mut table = Responders::default();
        let broken = |w: Work| {
            w.run(
                |_: &Scope| Err(()),
                |_: &[[u8; 8]], _| Err(()),
                |_: &[[u8; 8]], _| Err(()),
                |_: &[(AuthorId, u64)]| Err(()),
            )
        };
        let start = work(table.admit(now, peer, first(1)));
        assert_eq!(table.answered(now, peer, broken(start)), Response::Refused(Refusal::BadRequest));
        let fetch = work(table.admit(now, peer, Request::Fetch { ids: vec![IdPrefix([1; 8])] }));
        assert_eq!(table.answered(now, peer, broken(fetch)), Response::Refused(Refusal::Busy));
        assert_eq!(table.open_sessions(), 0);
        assert!(table.answering.is_empty(), "every slot given back");
    }

    #[test]
    fn expiry_forgets_peers_that_went_away() {
        let (gone, here) = (PeerId::random(), PeerId::random());
        let start = Instant::now();
        let mut table = Responders::default();
        step(&mut table, start, gone, first(1));
        let later = start + SESSION_TTL / 2;
        step(&mut table, later, here, first(2));
        table.expire(start + SESSION_TTL);
        assert_eq!(table.open_sessions(), 1);
        assert!(!table.open.contains_key(&gone));
        assert!(matches!(step(&mut table, start + SESSION_TTL, here, next(2)), Response::Reconcile { .. }));
    }

    #[test]
    fn the_answers_reconcile_with_a_real_initiator() {
        let peer = PeerId::random();
        let now = Instant::now();
        let mut table = Responders::default();
        let (mut initiator, mut message) = Initiator::start(items(&[1, 2, 6])).expect("start");
        let mut scope = Some(Scope::All);
        let mut need = Vec::new();
        for _ in 0..8 {
            let request = Request::Reconcile { session: 9, scope: scope.take(), message };
            let Response::Reconcile { message: reply } = step(&mut table, now, peer, request) else {
                panic!("refused")
            };
            let learned = initiator.receive(&reply).expect("reply");
            need.extend(learned.need);
            match learned.next {
                Some(next) => message = next,
                None => break,
            }
        }
        need.sort();
        assert_eq!(need, vec![id(3), id(4), id(5)]);
    }
}
