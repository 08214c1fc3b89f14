//! The asking side of one catch-up as a state machine: the reconciliation
//! rounds and their cap, the ids still needed, their fetch in batches and
//! the retries of each batch, the order in which what arrived is stored,
//! and the start again after `unknown session`. Fed what came back
//! ([`Input`]) and returning what to do ([`Action`]); no clock, no
//! randomness (session numbers are given), no store, no socket.
//!
//! The caller carries out the actions in any order and feeds back their
//! results as they come: requests to the peer, the verification of a
//! batch's signatures (CPU work, off the async threads), and the stores of
//! what arrived (one at a time, which this machine ensures). A simulator
//! can drive it as well as `Network::catch_up` does.
//!
//! The rules are those of spec/catchup.md ("Sessions", "Fetching").

use std::collections::{BTreeSet, VecDeque};

use communs_protocol::limits::{MAX_CATCHUP_RESTARTS, MAX_CATCHUP_ROUNDS, MAX_FETCH_IDS, MAX_FETCHES_IN_FLIGHT};
use communs_protocol::sync::Initiator;
use communs_protocol::wire::{IdPrefix, Refusal, Request, Response, Scope};
use communs_protocol::{EventError, EventId, Hash, SignedEvent};
use libp2p::PeerId;

use super::{CatchupError, CatchupReport, Interest};

/// Which request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::net) enum Exchange {
    /// The session's current reconciliation step (one at a time).
    Reconcile,
    /// A `Fetch` of the batch with this number.
    Fetch(usize),
}

/// What the caller brings back.
#[derive(Debug)]
pub(in crate::net) enum Input {
    /// This node's reconciliation items of the scope ([`Action::ReadItems`]).
    Items(Vec<(u64, EventId)>),
    /// The peer's response to a request of [`Action::Send`].
    Response(Exchange, Response),
    /// The decoding of a batch's records ([`Action::Verify`]), in order.
    Verified(usize, Vec<Result<SignedEvent, EventError>>),
    /// The end of an [`Action::Store`]: how many events were added, and
    /// those still waiting for a parent.
    Stored { added: usize, waiting: Vec<SignedEvent> },
}

/// What the caller does next.
#[derive(Debug)]
pub(in crate::net) enum Action {
    /// Read this node's reconciliation items of the scope, then
    /// [`Input::Items`].
    ReadItems(Scope),
    /// Send this request to the peer, then [`Input::Response`].
    Send(Exchange, Request),
    /// Decode and verify these events, then [`Input::Verified`].
    Verify(usize, Vec<Vec<u8>>),
    /// Store these events, then [`Input::Stored`]. Never two at once.
    Store(Vec<SignedEvent>),
    /// The catch-up is over: what it did, and the events whose parents
    /// never came (for the pending set).
    Finish { report: CatchupReport, hold: Vec<SignedEvent> },
}

/// One catch-up with one peer.
pub(in crate::net) struct Catchup {
    peer: PeerId,
    interest: Interest,
    /// The session number of this attempt.
    session: u64,
    /// Session numbers for the starts again still allowed.
    restarts: Vec<u64>,
    report: CatchupReport,
    phase: Phase,
}

enum Phase {
    ReadingItems,
    Reconciling { initiator: Initiator, need: Vec<EventId> },
    Fetching(Fetching),
    Over,
}

/// The fetching of the needed ids in batches, and the storing of what
/// arrived.
struct Fetching {
    /// Batches not asked for yet, each with its number.
    queued: VecDeque<(usize, Vec<EventId>)>,
    /// Batches asked for, in order: delivered to the store in this order,
    /// a later one waiting for an earlier one (parents mostly come first).
    active: VecDeque<Batch>,
    /// Verified events not stored yet.
    arrived: Vec<SignedEvent>,
    /// A store is running; `true` if it is the last one (every batch was
    /// delivered before it and a store before it retried what waited).
    storing: Option<bool>,
}

struct Batch {
    number: usize,
    state: BatchState,
}

enum BatchState {
    /// Asking for the ids still wanted; `asked` are the prefixes of the
    /// request on the wire.
    Asking {
        wanted: BTreeSet<EventId>,
        asked: Vec<IdPrefix>,
        records: Vec<Vec<u8>>,
    },
    Verifying,
    Verified(Vec<SignedEvent>),
}

impl Catchup {
    /// A catch-up with `peer` over `interest`, under session number
    /// `session`; `restarts` are the numbers of the sessions it may start
    /// again with (at most [`MAX_CATCHUP_RESTARTS`] are used). Returns the
    /// first actions.
    pub(in crate::net) fn start(
        peer: PeerId,
        interest: Interest,
        session: u64,
        restarts: impl IntoIterator<Item = u64>,
    ) -> (Catchup, Vec<Action>) {
        let mut restarts: Vec<u64> = restarts.into_iter().take(MAX_CATCHUP_RESTARTS).collect();
        restarts.reverse();
        let scope = interest.scope();
        let catchup = Catchup {
            peer,
            interest,
            session,
            restarts,
            report: CatchupReport { peers: 1, ..Default::default() },
            phase: Phase::ReadingItems,
        };
        (catchup, vec![Action::ReadItems(scope)])
    }

    /// Takes one result back. An error ends the catch-up: nothing more is
    /// to be done (what was stored stays).
    pub(in crate::net) fn handle(&mut self, input: Input) -> Result<Vec<Action>, CatchupError> {
        let result = self.step(input);
        if result.is_err() {
            self.phase = Phase::Over;
        }
        result
    }

    fn step(&mut self, input: Input) -> Result<Vec<Action>, CatchupError> {
        let peer = self.peer;
        match (&mut self.phase, input) {
            (Phase::ReadingItems, Input::Items(items)) => {
                let (initiator, message) =
                    Initiator::start(items).map_err(|source| CatchupError::Sync { peer, source })?;
                self.phase = Phase::Reconciling { initiator, need: Vec::new() };
                let scope = Some(self.interest.scope());
                Ok(vec![self.reconcile(scope, message)])
            }
            (Phase::Reconciling { .. }, Input::Response(Exchange::Reconcile, response)) => self.reconciled(response),
            (Phase::Fetching(_), Input::Response(Exchange::Fetch(number), response)) => self.fetched(number, response),
            (Phase::Fetching(_), Input::Verified(number, decoded)) => self.verified(number, decoded),
            (Phase::Fetching(_), Input::Stored { added, waiting }) => self.stored(added, waiting),
            // Results of nothing asked for in this phase (a caller's bug):
            // the session cannot go on sensibly.
            _ => Err(CatchupError::Bug { peer, what: "input not expected at this step" }),
        }
    }

    /// The request of one reconciliation step, counted.
    fn reconcile(&mut self, scope: Option<Scope>, message: Vec<u8>) -> Action {
        self.report.rounds += 1;
        self.send(Exchange::Reconcile, Request::Reconcile { session: self.session, scope, message })
    }

    fn send(&mut self, exchange: Exchange, request: Request) -> Action {
        self.report.bytes_sent += request.encode().len();
        Action::Send(exchange, request)
    }

    /// Counts a response; a refusal is an error.
    fn receive(&mut self, response: Response) -> Result<Response, CatchupError> {
        self.report.bytes_received += response.encode().len();
        match response {
            Response::Refused(refusal) => Err(CatchupError::Refused { peer: self.peer, refusal }),
            response => Ok(response),
        }
    }

    fn reconciled(&mut self, response: Response) -> Result<Vec<Action>, CatchupError> {
        let peer = self.peer;
        let reply = match self.receive(response) {
            Ok(Response::Reconcile { message }) => message,
            Ok(_) => return Err(CatchupError::Protocol { peer }),
            // The peer dropped the session (for newer ones, or it expired):
            // start the whole catch-up again with a new one.
            Err(CatchupError::Refused { refusal: Refusal::UnknownSession, .. }) if !self.restarts.is_empty() => {
                self.session = self.restarts.pop().unwrap_or(self.session);
                self.report = CatchupReport { peers: 1, ..Default::default() };
                self.phase = Phase::ReadingItems;
                return Ok(vec![Action::ReadItems(self.interest.scope())]);
            }
            Err(e) => return Err(e),
        };
        let Phase::Reconciling { initiator, need } = &mut self.phase else {
            return Err(CatchupError::Bug { peer, what: "a reconciliation reply outside reconciliation" });
        };
        let learned = initiator.receive(&reply).map_err(|source| CatchupError::Sync { peer, source })?;
        need.extend(learned.need);
        match learned.next {
            Some(_) if self.report.rounds == MAX_CATCHUP_ROUNDS => Err(CatchupError::TooManyRounds { peer }),
            Some(next) => Ok(vec![self.reconcile(None, next)]),
            None => {
                let need = std::mem::take(need);
                Ok(self.fetch(need))
            }
        }
    }

    /// Reconciliation is over: fetch `need`, [`MAX_FETCHES_IN_FLIGHT`]
    /// batches of at most [`MAX_FETCH_IDS`] at a time, in the order
    /// reconciliation listed them.
    fn fetch(&mut self, need: Vec<EventId>) -> Vec<Action> {
        self.report.needed = need.len();
        let queued = need.chunks(MAX_FETCH_IDS).map(<[EventId]>::to_vec).enumerate().collect();
        self.phase = Phase::Fetching(Fetching { queued, active: VecDeque::new(), arrived: Vec::new(), storing: None });
        let mut actions = self.ask_next();
        actions.extend(self.finish_if_done());
        actions
    }

    /// Asks for queued batches while fewer than [`MAX_FETCHES_IN_FLIGHT`]
    /// are active.
    fn ask_next(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Phase::Fetching(fetching) = &mut self.phase
            && fetching.active.len() < MAX_FETCHES_IN_FLIGHT
            && let Some((number, ids)) = fetching.queued.pop_front()
        {
            let wanted: BTreeSet<EventId> = ids.into_iter().collect();
            let asked = prefixes(&wanted);
            let request = Request::Fetch { ids: asked.clone() };
            fetching
                .active
                .push_back(Batch { number, state: BatchState::Asking { wanted, asked, records: Vec::new() } });
            actions.push(self.send(Exchange::Fetch(number), request));
        }
        actions
    }

    /// A response to a batch's `Fetch`: keeps the events wanted, skips
    /// others under a prefix asked for, fails on any other; asks again for
    /// what is still wanted while responses bring some of it.
    fn fetched(&mut self, number: usize, response: Response) -> Result<Vec<Action>, CatchupError> {
        let peer = self.peer;
        let Response::Events { events: got } = self.receive(response)? else {
            return Err(CatchupError::Protocol { peer });
        };
        let batch = self.batch(number)?;
        let BatchState::Asking { wanted, asked, records } = &mut batch.state else {
            return Err(CatchupError::Bug { peer, what: "a fetch response for a batch not fetching" });
        };
        let mut progressed = false;
        for bytes in got {
            // An event's id is the hash of its bytes: what was asked for
            // is known before the signature is checked.
            let id = EventId::from_hash(Hash::of(&bytes));
            if wanted.remove(&id) {
                records.push(bytes);
                progressed = true;
            } else if asked.binary_search(&IdPrefix::of(id.as_bytes())).is_err() {
                return Err(CatchupError::Unasked { peer, got: id });
            }
            // Else another event under a prefix asked for: skipped.
        }
        // Done when nothing is wanted any more, or when the peer no longer
        // has the rest (or lied about having it).
        if wanted.is_empty() || !progressed {
            let records = std::mem::take(records);
            batch.state = BatchState::Verifying;
            return Ok(vec![Action::Verify(number, records)]);
        }
        *asked = prefixes(wanted);
        let request = Request::Fetch { ids: asked.clone() };
        Ok(vec![self.send(Exchange::Fetch(number), request)])
    }

    /// A batch was decoded: one invalid event fails the catch-up. Batches
    /// verified are delivered in order, the next ones asked for, and what
    /// arrived stored unless a store is running.
    fn verified(
        &mut self,
        number: usize,
        decoded: Vec<Result<SignedEvent, EventError>>,
    ) -> Result<Vec<Action>, CatchupError> {
        let peer = self.peer;
        let mut events = Vec::with_capacity(decoded.len());
        for event in decoded {
            events.push(event.map_err(|e| CatchupError::BadEvent { peer, source: Box::new(e) })?);
        }
        let batch = self.batch(number)?;
        if !matches!(batch.state, BatchState::Verifying) {
            return Err(CatchupError::Bug { peer, what: "a verification of a batch not verifying" });
        }
        batch.state = BatchState::Verified(events);
        let mut actions = Vec::new();
        while let Phase::Fetching(fetching) = &mut self.phase
            && let Some(Batch { state: BatchState::Verified(_), .. }) = fetching.active.front()
        {
            let Some(Batch { state: BatchState::Verified(mut events), .. }) = fetching.active.pop_front() else {
                break;
            };
            // A design that only shares a prefix with one asked for is not
            // wanted (it takes some 2^64 hashes to make one on purpose).
            events.retain(|e| self.interest.wants(&e.design()));
            fetching.arrived.extend(events);
            actions.extend(self.ask_next());
        }
        if let Phase::Fetching(fetching) = &mut self.phase
            && fetching.storing.is_none()
            && !fetching.arrived.is_empty()
        {
            fetching.storing = Some(false);
            actions.push(Action::Store(std::mem::take(&mut fetching.arrived)));
        }
        actions.extend(self.finish_if_done());
        Ok(actions)
    }

    /// A store ended. Before the last batch is delivered, what still waits
    /// for a parent goes back before what arrived meanwhile, for the next
    /// store (started when a batch arrives). After, what waited is stored
    /// once more with the rest, and what still waits then is held.
    fn stored(&mut self, added: usize, waiting: Vec<SignedEvent>) -> Result<Vec<Action>, CatchupError> {
        let peer = self.peer;
        self.report.added += added;
        let Phase::Fetching(fetching) = &mut self.phase else {
            return Err(CatchupError::Bug { peer, what: "a store outside fetching" });
        };
        let Some(last) = fetching.storing.take() else {
            return Err(CatchupError::Bug { peer, what: "a store ended that was not running" });
        };
        if last {
            return Ok(vec![self.finish(waiting)]);
        }
        fetching.arrived.splice(0..0, waiting);
        Ok(self.finish_if_done().into_iter().collect())
    }

    /// Once every batch is delivered and no store runs: the last store, or
    /// the end.
    fn finish_if_done(&mut self) -> Option<Action> {
        let Phase::Fetching(fetching) = &mut self.phase else { return None };
        if !fetching.queued.is_empty() || !fetching.active.is_empty() || fetching.storing.is_some() {
            return None;
        }
        if fetching.arrived.is_empty() {
            return Some(self.finish(Vec::new()));
        }
        fetching.storing = Some(true);
        Some(Action::Store(std::mem::take(&mut fetching.arrived)))
    }

    fn finish(&mut self, hold: Vec<SignedEvent>) -> Action {
        self.phase = Phase::Over;
        Action::Finish { report: std::mem::take(&mut self.report), hold }
    }

    fn batch(&mut self, number: usize) -> Result<&mut Batch, CatchupError> {
        let peer = self.peer;
        let Phase::Fetching(fetching) = &mut self.phase else { return Err(CatchupError::Protocol { peer }) };
        fetching
            .active
            .iter_mut()
            .find(|b| b.number == number)
            .ok_or(CatchupError::Bug { peer, what: "a batch that is not active" })
    }
}

/// The prefixes of `ids`, sorted (as the ids are), so that a response's
/// events can be checked against them by binary search.
fn prefixes(ids: &BTreeSet<EventId>) -> Vec<IdPrefix> {
    ids.iter().map(|id| IdPrefix::of(id.as_bytes())).collect()
}

#[cfg(test)]
mod tests {
    use communs_protocol::sync::Responder;
    use communs_protocol::{Body, DesignId, SecretKey, UnsignedEvent};

    use super::*;

    fn design() -> DesignId {
        DesignId::from_hash(Hash::from_bytes([1; 32]))
    }

    /// A chain of `n` signed events of one design, each the parent of the
    /// next.
    fn chain(n: usize) -> Vec<SignedEvent> {
        let key = SecretKey::from_bytes(&[9; 32]);
        let mut parent = EventId::from_hash(Hash::from_bytes([2; 32]));
        (0..n)
            .map(|i| {
                let event = UnsignedEvent {
                    design: Some(design()),
                    author: key.author(),
                    parents: vec![parent],
                    clock: i as u64 + 1,
                    time: i as u64 + 1,
                    body: Body::Approve { target: parent },
                }
                .sign(&key)
                .expect("sign");
                parent = event.id();
                event
            })
            .collect()
    }

    fn items(events: &[SignedEvent]) -> Vec<(u64, EventId)> {
        events.iter().map(|e| (e.event().time, e.id())).collect()
    }

    /// A peer holding `events`, answering as a node does.
    struct Peer {
        events: Vec<SignedEvent>,
        responder: Option<Responder>,
    }

    impl Peer {
        fn answer(&mut self, request: &Request) -> Response {
            match request {
                Request::Reconcile { scope, message, .. } => {
                    if scope.is_some() {
                        self.responder = Some(Responder::new(items(&self.events)).expect("responder"));
                    }
                    let reply = self.responder.as_mut().expect("session").receive(message).expect("reply");
                    Response::Reconcile { message: reply }
                }
                Request::FetchCatalog { .. } => Response::Announcements { records: Vec::new() },
                Request::Fetch { ids } => communs_protocol::wire::events_response(
                    self.events
                        .iter()
                        .filter(|e| ids.contains(&IdPrefix::of(e.id().as_bytes())))
                        .map(SignedEvent::bytes),
                ),
                Request::Profiles { .. } => Response::Events { events: vec![] },
            }
        }
    }

    /// Runs a catch-up of a node holding `mine` against `peer`, carrying
    /// out actions in order (a store adds what it is given; an event whose
    /// parent is neither stored nor in the same store waits). Returns the
    /// report, the events held, the stores made and the largest number of
    /// fetches in flight at once.
    struct Run {
        report: CatchupReport,
        hold: Vec<SignedEvent>,
        stores: Vec<usize>,
        most_in_flight: usize,
    }

    fn run(mine: Vec<SignedEvent>, peer: &mut Peer) -> Result<Run, String> {
        let (mut catchup, first) = Catchup::start(PeerId::random(), Interest::designs([design()]), 1, [2]);
        let mut stored: BTreeSet<EventId> = mine.iter().map(SignedEvent::id).collect();
        let root = EventId::from_hash(Hash::from_bytes([2; 32]));
        stored.insert(root);
        let mut todo: VecDeque<Action> = first.into();
        let mut later: VecDeque<Input> = VecDeque::new();
        let (mut stores, mut in_flight, mut most_in_flight) = (Vec::new(), 0usize, 0);
        loop {
            while let Some(action) = todo.pop_front() {
                match action {
                    Action::ReadItems(_) => later.push_back(Input::Items(items(&mine))),
                    Action::Send(exchange, request) => {
                        if let Exchange::Fetch(_) = exchange {
                            in_flight += 1;
                            most_in_flight = most_in_flight.max(in_flight);
                        }
                        later.push_back(Input::Response(exchange, peer.answer(&request)));
                    }
                    Action::Verify(number, records) => {
                        let decoded = records.iter().map(|r| SignedEvent::decode(r)).collect();
                        later.push_back(Input::Verified(number, decoded));
                    }
                    Action::Store(mut events) => {
                        stores.push(events.len());
                        let mut added = 0;
                        events.sort_by_key(SignedEvent::clock);
                        let mut waiting = Vec::new();
                        for event in events {
                            assert!(!stored.contains(&event.id()), "an event given to the store twice");
                            if event.parents().iter().all(|p| stored.contains(p)) {
                                stored.insert(event.id());
                                added += 1;
                            } else {
                                waiting.push(event);
                            }
                        }
                        later.push_back(Input::Stored { added, waiting });
                    }
                    Action::Finish { report, hold } => return Ok(Run { report, hold, stores, most_in_flight }),
                }
            }
            let input = later.pop_front().expect("something in flight");
            if let Input::Response(Exchange::Fetch(_), _) = input {
                in_flight -= 1;
            }
            todo.extend(catchup.handle(input).map_err(|e| e.to_string())?);
        }
    }

    #[test]
    fn fetches_what_is_missing_in_batches_two_at_a_time_and_stores_it() {
        let events = chain(MAX_FETCH_IDS * 2 + 10);
        let mine = events[..5].to_vec();
        let mut peer = Peer { events: events.clone(), responder: None };
        let run = run(mine, &mut peer).expect("caught up");
        assert_eq!(run.report.needed, events.len() - 5);
        assert_eq!(run.report.added, events.len() - 5);
        assert!(run.hold.is_empty());
        assert_eq!(run.most_in_flight, MAX_FETCHES_IN_FLIGHT);
        assert!(run.report.rounds >= 1 && run.report.bytes_received > run.report.bytes_sent);
        assert!(run.stores.len() >= 2, "stored while more arrived: {:?}", run.stores);
    }

    #[test]
    fn nothing_missing_is_one_round_and_no_fetch() {
        let events = chain(20);
        let mut peer = Peer { events: events.clone(), responder: None };
        let run = run(events, &mut peer).expect("caught up");
        assert_eq!((run.report.needed, run.report.added, run.report.rounds), (0, 0, 1));
        assert!(run.stores.is_empty());
    }

    #[test]
    fn events_whose_parents_never_come_are_held() {
        let events = chain(10);
        // The peer lacks the fourth event: the ones after it cannot connect.
        let mut theirs = events.clone();
        theirs.remove(3);
        let mut peer = Peer { events: theirs, responder: None };
        let run = run(events[..2].to_vec(), &mut peer).expect("caught up");
        assert_eq!(run.report.added, 1);
        let held: BTreeSet<EventId> = run.hold.iter().map(SignedEvent::id).collect();
        assert_eq!(held, events[4..].iter().map(SignedEvent::id).collect());
    }

    #[test]
    fn unknown_session_starts_again_once_with_the_next_number() {
        let peer = PeerId::random();
        let (mut catchup, _) = Catchup::start(peer, Interest::All, 1, [2, 3]);
        let refused = || Input::Response(Exchange::Reconcile, Response::Refused(Refusal::UnknownSession));
        let first = catchup.handle(Input::Items(Vec::new())).expect("first message");
        assert!(matches!(&first[..], [Action::Send(_, Request::Reconcile { session: 1, scope: Some(_), .. })]));
        let again = catchup.handle(refused()).expect("starts again");
        assert!(matches!(&again[..], [Action::ReadItems(Scope::All)]));
        let second = catchup.handle(Input::Items(Vec::new())).expect("first message again");
        assert!(matches!(&second[..], [Action::Send(_, Request::Reconcile { session: 2, scope: Some(_), .. })]));
        assert!(matches!(
            catchup.handle(refused()),
            Err(CatchupError::Refused { refusal: Refusal::UnknownSession, .. })
        ));
    }

    #[test]
    fn a_peer_that_never_converges_is_given_up_after_the_round_cap() {
        let set = |salt: u8| -> Vec<(u64, EventId)> {
            (0..5000u32)
                .map(|i| (u64::from(i), EventId::from_hash(Hash::of(&[&i.to_be_bytes()[..], &[salt]].concat()))))
                .collect()
        };
        let (mut catchup, _) = Catchup::start(PeerId::random(), Interest::All, 1, []);
        let mut actions = catchup.handle(Input::Items(set(0))).expect("first");
        // A peer that answers every step as if it were the first: its
        // reply always shows ranges that differ, so there is always a
        // next step.
        let Some(Action::Send(_, Request::Reconcile { message: first, .. })) = actions.pop() else {
            panic!("a first step")
        };
        let mut sent = 1;
        loop {
            let reply = Responder::new(set(1)).expect("responder").receive(&first).expect("reply");
            match catchup.handle(Input::Response(Exchange::Reconcile, Response::Reconcile { message: reply })) {
                Ok(next) => {
                    assert!(matches!(&next[..], [Action::Send(Exchange::Reconcile, _)]), "{next:?}");
                    actions = next;
                    sent += 1;
                }
                Err(CatchupError::TooManyRounds { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(sent, MAX_CATCHUP_ROUNDS, "{actions:?}");
    }

    #[test]
    fn an_event_not_asked_for_ends_the_catch_up() {
        let events = chain(3);
        let stranger = chain(4).pop().expect("one");
        let (mut catchup, _) = Catchup::start(PeerId::random(), Interest::All, 1, []);
        let mut responder = Responder::new(items(&events)).expect("responder");
        let mut actions = catchup.handle(Input::Items(Vec::new())).expect("first");
        let mut fetch = None;
        while let Some(action) = actions.pop() {
            match action {
                Action::Send(exchange @ Exchange::Reconcile, Request::Reconcile { message, .. }) => {
                    let reply = responder.receive(&message).expect("reply");
                    actions = catchup
                        .handle(Input::Response(exchange, Response::Reconcile { message: reply }))
                        .expect("step");
                }
                Action::Send(exchange @ Exchange::Fetch(_), _) => fetch = Some(exchange),
                other => panic!("unexpected {other:?}"),
            }
        }
        let exchange = fetch.expect("a fetch");
        let response = Response::Events { events: vec![stranger.bytes().to_vec()] };
        assert!(matches!(catchup.handle(Input::Response(exchange, response)), Err(CatchupError::Unasked { .. })));
        // Over: anything more is refused.
        assert!(matches!(
            catchup.handle(Input::Stored { added: 0, waiting: Vec::new() }),
            Err(CatchupError::Bug { .. })
        ));
    }

    #[test]
    fn a_batch_is_asked_again_for_what_a_response_left_out_and_given_up_when_none_comes() {
        let events = chain(6);
        let (mut catchup, _) = Catchup::start(PeerId::random(), Interest::All, 1, []);
        let mut actions = catchup.handle(Input::Items(Vec::new())).expect("first");
        let mut responder = Responder::new(items(&events)).expect("responder");
        let Some(Action::Send(exchange, Request::Reconcile { message, .. })) = actions.pop() else { panic!() };
        let reply = responder.receive(&message).expect("reply");
        actions = catchup.handle(Input::Response(exchange, Response::Reconcile { message: reply })).expect("need");
        let Some(Action::Send(fetch, Request::Fetch { ids })) = actions.pop() else { panic!("a fetch: {actions:?}") };
        assert_eq!(ids.len(), 6);
        // The first response brings two of the six.
        let some = Response::Events { events: events[..2].iter().map(|e| e.bytes().to_vec()).collect() };
        let again = catchup.handle(Input::Response(fetch, some)).expect("asks again");
        let [Action::Send(fetch, Request::Fetch { ids })] = &again[..] else { panic!("asked again: {again:?}") };
        assert_eq!(ids.len(), 4, "only what is still wanted");
        // The next brings none: the batch is given up and verified as is.
        let none = catchup.handle(Input::Response(*fetch, Response::Events { events: Vec::new() })).expect("gives up");
        let [Action::Verify(_, records)] = &none[..] else { panic!("verify: {none:?}") };
        assert_eq!(records.len(), 2);
    }
}
