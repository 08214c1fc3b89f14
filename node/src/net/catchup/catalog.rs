//! The asking side of one catalog catch-up as a state machine
//! (spec/catalog.md, "Catch-up"): the reconciliation of announcement ids
//! over the `catalog` scope, then the announcements this node lacks,
//! fetched in batches and offered to the catalog. Fed what came back
//! ([`Input`]) and returning what to do ([`Action`]); no clock, no store,
//! no socket.
//!
//! Simpler than an event catch-up: announcements have no parents, so a
//! batch is offered as soon as it arrives, in any order. Up to
//! [`MAX_FETCHES_IN_FLIGHT`] batches are asked for or waiting to be
//! offered at once, while one is offered: the peer reads and sends the
//! next while this node verifies and stores the last, and what arrived
//! never piles up faster than it is stored.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use communs_protocol::limits::{MAX_CATCHUP_ROUNDS, MAX_FETCH_IDS, MAX_FETCHES_IN_FLIGHT};
use communs_protocol::sync::Initiator;
use communs_protocol::wire::{CatalogRecord, IdPrefix, Request, Response, Scope};
use communs_protocol::{EventId, Hash};
use libp2p::PeerId;

use super::{CatchupError, CatchupReport};

/// Which request a response answers: the same as for events, a
/// `FetchCatalog` in place of a `Fetch`.
pub(in crate::net) use super::initiator::Exchange;

/// What the caller brings back.
#[derive(Debug)]
pub(in crate::net) enum Input {
    /// This node's catalog items ([`Action::ReadItems`]).
    Items(Vec<(u64, EventId)>),
    /// The peer's response to an [`Action::Send`].
    Response(Exchange, Response),
    /// The end of an [`Action::Offer`]: how many announcements the
    /// catalog took, and the reason the first invalid one was refused.
    Offered { added: usize, refused: Option<String> },
}

/// What the caller does next.
#[derive(Debug)]
pub(in crate::net) enum Action {
    /// Read this node's catalog items, then [`Input::Items`].
    ReadItems,
    /// Send this request to the peer, then [`Input::Response`].
    Send(Exchange, Request),
    /// Verify these records and offer them to the catalog, then
    /// [`Input::Offered`]. Never two at once.
    Offer(Vec<CatalogRecord>),
    /// The catalog catch-up is over.
    Finish(CatchupReport),
}

/// The fetching of the needed ids in batches, and their offering.
#[derive(Default)]
struct Fetching {
    /// Batches not asked for yet, each with its number.
    queued: VecDeque<(usize, Vec<EventId>)>,
    /// Batches asked for: the ids wanted, and the prefixes asked (sorted).
    asked: BTreeMap<usize, (BTreeSet<EventId>, Vec<IdPrefix>)>,
    /// Records arrived and checked, not offered yet, a batch each.
    ready: VecDeque<Vec<CatalogRecord>>,
    /// An offer is running.
    offering: bool,
}

enum Phase {
    ReadingItems,
    Reconciling(Initiator),
    Fetching(Fetching),
    Over,
}

/// One catalog catch-up with one peer.
pub(in crate::net) struct CatalogCatchup {
    peer: PeerId,
    session: u64,
    need: Vec<EventId>,
    report: CatchupReport,
    phase: Phase,
}

impl CatalogCatchup {
    /// A catalog catch-up with `peer` under session number `session`.
    pub(in crate::net) fn start(peer: PeerId, session: u64) -> (CatalogCatchup, Vec<Action>) {
        let report = CatchupReport { peers: 1, ..Default::default() };
        let machine = CatalogCatchup { peer, session, need: Vec::new(), report, phase: Phase::ReadingItems };
        (machine, vec![Action::ReadItems])
    }

    /// Takes one result back. An error ends the catch-up (what was
    /// offered stays).
    pub(in crate::net) fn handle(&mut self, input: Input) -> Result<Vec<Action>, CatchupError> {
        let result = self.step(input);
        if result.is_err() {
            self.phase = Phase::Over;
        }
        result
    }

    fn step(&mut self, input: Input) -> Result<Vec<Action>, CatchupError> {
        let peer = self.peer;
        match (std::mem::replace(&mut self.phase, Phase::Over), input) {
            (Phase::ReadingItems, Input::Items(items)) => {
                let (initiator, message) =
                    Initiator::start(items).map_err(|source| CatchupError::Sync { peer, source })?;
                self.phase = Phase::Reconciling(initiator);
                let request = Request::Reconcile { session: self.session, scope: Some(Scope::Catalog), message };
                Ok(vec![self.send(Exchange::Reconcile, request)])
            }
            (Phase::Reconciling(mut initiator), Input::Response(Exchange::Reconcile, response)) => {
                let Response::Reconcile { message } = self.receive(response)? else {
                    return Err(CatchupError::Protocol { peer });
                };
                let learned = initiator.receive(&message).map_err(|source| CatchupError::Sync { peer, source })?;
                self.need.extend(learned.need);
                match learned.next {
                    Some(_) if self.report.rounds >= MAX_CATCHUP_ROUNDS => Err(CatchupError::TooManyRounds { peer }),
                    Some(next) => {
                        self.phase = Phase::Reconciling(initiator);
                        let request = Request::Reconcile { session: self.session, scope: None, message: next };
                        Ok(vec![self.send(Exchange::Reconcile, request)])
                    }
                    None => {
                        self.report.needed = self.need.len();
                        let need = std::mem::take(&mut self.need);
                        let queued = need.chunks(MAX_FETCH_IDS).map(<[EventId]>::to_vec).enumerate().collect();
                        self.phase = Phase::Fetching(Fetching { queued, ..Fetching::default() });
                        Ok(self.next())
                    }
                }
            }
            (Phase::Fetching(mut fetching), Input::Response(Exchange::Fetch(number), response)) => {
                let Some((mut wanted, asked)) = fetching.asked.remove(&number) else {
                    return Err(CatchupError::Bug { peer, what: "a response to a batch not asked for" });
                };
                let Response::Announcements { records } = self.receive(response)? else {
                    return Err(CatchupError::Protocol { peer });
                };
                let mut kept = Vec::new();
                for record in records {
                    let id = EventId::from_hash(Hash::of(&record.announcement));
                    if wanted.remove(&id) {
                        kept.push(record);
                    } else if asked.binary_search(&IdPrefix::of(id.as_bytes())).is_err() {
                        return Err(CatchupError::Unasked { peer, got: id });
                    }
                }
                // What the response left out is not asked again: the next
                // catalog catch-up brings it.
                if !kept.is_empty() {
                    fetching.ready.push_back(kept);
                }
                self.phase = Phase::Fetching(fetching);
                Ok(self.next())
            }
            (Phase::Fetching(mut fetching), Input::Offered { added, refused }) if fetching.offering => {
                self.report.added += added;
                if let Some(reason) = refused {
                    return Err(CatchupError::BadAnnouncement { peer, reason });
                }
                fetching.offering = false;
                self.phase = Phase::Fetching(fetching);
                Ok(self.next())
            }
            _ => Err(CatchupError::Bug { peer, what: "input not expected at this step of a catalog catch-up" }),
        }
    }

    /// While fetching: the next offer if none runs, the next requests while
    /// fewer than [`MAX_FETCHES_IN_FLIGHT`] batches are asked for or
    /// waiting to be offered, or the end.
    fn next(&mut self) -> Vec<Action> {
        let Phase::Fetching(mut fetching) = std::mem::replace(&mut self.phase, Phase::Over) else { return Vec::new() };
        let mut actions = Vec::new();
        if !fetching.offering
            && let Some(batch) = fetching.ready.pop_front()
        {
            fetching.offering = true;
            actions.push(Action::Offer(batch));
        }
        while fetching.asked.len() + fetching.ready.len() < MAX_FETCHES_IN_FLIGHT
            && let Some((number, batch)) = fetching.queued.pop_front()
        {
            let wanted: BTreeSet<EventId> = batch.into_iter().collect();
            let asked: Vec<IdPrefix> = wanted.iter().map(|id| IdPrefix::of(id.as_bytes())).collect();
            let request = Request::FetchCatalog { ids: asked.clone() };
            fetching.asked.insert(number, (wanted, asked));
            actions.push(self.send(Exchange::Fetch(number), request));
        }
        let done = !fetching.offering && fetching.queued.is_empty() && fetching.asked.is_empty();
        if done && fetching.ready.is_empty() {
            return vec![Action::Finish(std::mem::take(&mut self.report))];
        }
        self.phase = Phase::Fetching(fetching);
        actions
    }

    fn send(&mut self, exchange: Exchange, request: Request) -> Action {
        if let Request::Reconcile { .. } = request {
            self.report.rounds += 1;
        }
        self.report.bytes_sent += request.encode().len();
        Action::Send(exchange, request)
    }

    fn receive(&mut self, response: Response) -> Result<Response, CatchupError> {
        self.report.bytes_received += response.encode().len();
        match response {
            Response::Refused(refusal) => Err(CatchupError::Refused { peer: self.peer, refusal }),
            response => Ok(response),
        }
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::catalog::Announcement;
    use communs_protocol::sync::Responder;
    use communs_protocol::wire::announcements_response;
    use communs_protocol::{Body, Genesis, SecretKey, UnsignedEvent};

    use super::*;

    fn announcement(n: u32) -> Announcement {
        let key = SecretKey::from_bytes(&[7; 32]);
        let mut nonce = [0u8; 16];
        nonce[..4].copy_from_slice(&n.to_le_bytes());
        let genesis = UnsignedEvent {
            design: None,
            author: key.author(),
            parents: vec![],
            clock: 0,
            time: u64::from(n),
            body: Body::Genesis(Genesis {
                name: format!("Design {n}"),
                maintainers: vec![key.author()],
                threshold: 1,
                license: "CERN-OHL-S-2.0".to_owned(),
                fork_of: None,
                nonce,
            }),
        }
        .sign(&key)
        .expect("sign");
        Announcement::new(genesis, None, None).expect("valid")
    }

    fn items(announcements: &[Announcement]) -> Vec<(u64, EventId)> {
        announcements.iter().map(|a| (a.time(), EventId::from_hash(a.id()))).collect()
    }

    /// What a run did: its report, the records offered, the most fetches
    /// asked for at once.
    #[derive(Debug)]
    struct Run {
        report: CatchupReport,
        offered: Vec<CatalogRecord>,
        most_in_flight: usize,
    }

    /// Runs a catalog catch-up of a node holding `mine` against a peer
    /// holding `theirs`, the peer answering with `answer`, carrying out
    /// every action before feeding back the results in order (the store
    /// refusing one record of each offer if `refuse`).
    fn run(
        mine: &[Announcement],
        theirs: &[Announcement],
        answer: impl Fn(&[IdPrefix]) -> Response,
        refuse: bool,
    ) -> Result<Run, CatchupError> {
        let (mut machine, first) = CatalogCatchup::start(PeerId::random(), 1);
        let mut todo: VecDeque<Action> = first.into();
        let mut later: VecDeque<Input> = VecDeque::new();
        let mut responder = None;
        let (mut offered, mut in_flight, mut most_in_flight, mut offering) = (Vec::new(), 0usize, 0, false);
        loop {
            while let Some(action) = todo.pop_front() {
                match action {
                    Action::ReadItems => later.push_back(Input::Items(items(mine))),
                    Action::Send(exchange, Request::Reconcile { scope, message, .. }) => {
                        assert_eq!(exchange, Exchange::Reconcile);
                        if scope.is_some() {
                            assert_eq!(scope, Some(Scope::Catalog));
                            responder = Some(Responder::new(items(theirs)).expect("responder"));
                        }
                        let reply = responder.as_mut().expect("session").receive(&message).expect("reply");
                        later.push_back(Input::Response(exchange, Response::Reconcile { message: reply }));
                    }
                    Action::Send(exchange, Request::FetchCatalog { ids }) => {
                        in_flight += 1;
                        most_in_flight = most_in_flight.max(in_flight);
                        later.push_back(Input::Response(exchange, answer(&ids)));
                    }
                    Action::Send(_, other) => panic!("unexpected {other:?}"),
                    Action::Offer(records) => {
                        assert!(!offering, "two offers at once");
                        offering = true;
                        let added = records.len();
                        offered.extend(records);
                        later.push_back(Input::Offered { added, refused: refuse.then(|| "bad-signature".to_owned()) });
                    }
                    Action::Finish(report) => return Ok(Run { report, offered, most_in_flight }),
                }
            }
            let input = later.pop_front().expect("something in flight");
            match &input {
                Input::Response(Exchange::Fetch(_), _) => in_flight -= 1,
                Input::Offered { .. } => offering = false,
                _ => {}
            }
            todo.extend(machine.handle(input)?);
        }
    }

    fn serve(theirs: &[Announcement]) -> impl Fn(&[IdPrefix]) -> Response + '_ {
        |ids: &[IdPrefix]| {
            announcements_response(
                theirs
                    .iter()
                    .filter(|a| ids.contains(&IdPrefix::of(a.id().as_bytes())))
                    .map(|a| CatalogRecord { announcement: a.bytes().to_vec(), holders: vec![] }),
            )
        }
    }

    #[test]
    fn fetches_the_announcements_this_side_lacks_in_batches() {
        let all: Vec<Announcement> = (0..(3 * MAX_FETCH_IDS as u32 + 300)).map(announcement).collect();
        let mine = &all[..200];
        let Run { report, offered, most_in_flight } = run(mine, &all, serve(&all), false).expect("caught up");
        assert_eq!(report.needed, all.len() - 200);
        assert_eq!(report.added, all.len() - 200);
        assert_eq!(most_in_flight, MAX_FETCHES_IN_FLIGHT);
        let mut got: Vec<Hash> = offered.iter().map(|r| Hash::of(&r.announcement)).collect();
        got.sort();
        let mut want: Vec<Hash> = all[200..].iter().map(Announcement::id).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn an_announcement_not_asked_for_ends_the_catch_up() {
        let all: Vec<Announcement> = (0..5).map(announcement).collect();
        let stranger = announcement(99);
        let answer = |_: &[IdPrefix]| Response::Announcements {
            records: vec![CatalogRecord { announcement: stranger.bytes().to_vec(), holders: vec![] }],
        };
        assert!(matches!(run(&[], &all, answer, false), Err(CatchupError::Unasked { .. })));
    }

    #[test]
    fn an_invalid_announcement_ends_the_catch_up_with_its_reason() {
        let all: Vec<Announcement> = (0..5).map(announcement).collect();
        match run(&[], &all, serve(&all), true) {
            Err(CatchupError::BadAnnouncement { reason, .. }) => assert_eq!(reason, "bad-signature"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nothing_missing_is_one_round_and_no_fetch() {
        let all: Vec<Announcement> = (0..50).map(announcement).collect();
        let Run { report, offered, .. } = run(&all, &all, |_| panic!("no fetch"), false).expect("caught up");
        assert_eq!((report.rounds, report.needed, offered.len()), (1, 0, 0));
    }
}
