//! The asking side of one catalog catch-up as a state machine
//! (spec/catalog.md, "Catch-up"): the reconciliation of announcement ids
//! over the `catalog` scope, then the announcements this node lacks,
//! fetched a batch at a time and offered to the catalog. Fed what came
//! back ([`Input`]) and returning what to do ([`Action`]); no clock, no
//! store, no socket.
//!
//! Simpler than an event catch-up: announcements have no parents, so a
//! batch is offered as soon as it arrives, and one batch is asked for at
//! a time.

use std::collections::{BTreeSet, VecDeque};

use communs_protocol::limits::{MAX_CATCHUP_ROUNDS, MAX_FETCH_IDS};
use communs_protocol::sync::Initiator;
use communs_protocol::wire::{CatalogRecord, IdPrefix, Request, Response, Scope};
use communs_protocol::{EventId, Hash};
use libp2p::PeerId;

use super::{CatchupError, CatchupReport};

/// What the caller brings back.
#[derive(Debug)]
pub(in crate::net) enum Input {
    /// This node's catalog items ([`Action::ReadItems`]).
    Items(Vec<(u64, EventId)>),
    /// The peer's response to the last [`Action::Send`].
    Response(Response),
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
    Send(Request),
    /// Verify these records and offer them to the catalog, then
    /// [`Input::Offered`].
    Offer(Vec<CatalogRecord>),
    /// The catalog catch-up is over.
    Finish(CatchupReport),
}

enum Phase {
    ReadingItems,
    Reconciling(Initiator),
    Fetching { wanted: BTreeSet<EventId>, asked: Vec<IdPrefix> },
    Offering,
    Over,
}

/// One catalog catch-up with one peer.
pub(in crate::net) struct CatalogCatchup {
    peer: PeerId,
    session: u64,
    need: Vec<EventId>,
    queued: VecDeque<Vec<EventId>>,
    report: CatchupReport,
    phase: Phase,
}

#[expect(clippy::result_large_err, reason = "an error ends the catch-up, once (as for events)")]
impl CatalogCatchup {
    /// A catalog catch-up with `peer` under session number `session`.
    pub(in crate::net) fn start(peer: PeerId, session: u64) -> (CatalogCatchup, Vec<Action>) {
        let report = CatchupReport { peers: 1, ..Default::default() };
        let machine = CatalogCatchup {
            peer,
            session,
            need: Vec::new(),
            queued: VecDeque::new(),
            report,
            phase: Phase::ReadingItems,
        };
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
                Ok(vec![self.send(Request::Reconcile { session: self.session, scope: Some(Scope::Catalog), message })])
            }
            (Phase::Reconciling(mut initiator), Input::Response(response)) => {
                let Response::Reconcile { message } = self.receive(response)? else {
                    return Err(CatchupError::Protocol { peer });
                };
                let learned = initiator.receive(&message).map_err(|source| CatchupError::Sync { peer, source })?;
                self.need.extend(learned.need);
                match learned.next {
                    Some(_) if self.report.rounds >= MAX_CATCHUP_ROUNDS => Err(CatchupError::TooManyRounds { peer }),
                    Some(next) => {
                        self.phase = Phase::Reconciling(initiator);
                        Ok(vec![self.send(Request::Reconcile { session: self.session, scope: None, message: next })])
                    }
                    None => {
                        self.report.needed = self.need.len();
                        let need = std::mem::take(&mut self.need);
                        self.queued = need.chunks(MAX_FETCH_IDS).map(<[EventId]>::to_vec).collect();
                        Ok(vec![self.next_batch()])
                    }
                }
            }
            (Phase::Fetching { wanted, asked }, Input::Response(response)) => {
                let Response::Announcements { records } = self.receive(response)? else {
                    return Err(CatchupError::Protocol { peer });
                };
                let mut wanted = wanted;
                let mut kept = Vec::new();
                for record in records {
                    let id = EventId::from_hash(Hash::of(&record.announcement));
                    if wanted.remove(&id) {
                        kept.push(record);
                    } else if asked.binary_search(&IdPrefix::of(id.as_bytes())).is_err() {
                        return Err(CatchupError::Unasked { peer, got: id });
                    }
                }
                if kept.is_empty() {
                    return Ok(vec![self.next_batch()]);
                }
                self.phase = Phase::Offering;
                Ok(vec![Action::Offer(kept)])
            }
            (Phase::Offering, Input::Offered { added, refused }) => {
                self.report.added += added;
                if let Some(reason) = refused {
                    return Err(CatchupError::BadAnnouncement { peer, reason });
                }
                Ok(vec![self.next_batch()])
            }
            _ => Err(CatchupError::Bug { peer, what: "input not expected at this step of a catalog catch-up" }),
        }
    }

    /// The next batch's request, or the end.
    fn next_batch(&mut self) -> Action {
        let Some(batch) = self.queued.pop_front() else {
            self.phase = Phase::Over;
            return Action::Finish(std::mem::take(&mut self.report));
        };
        let wanted: BTreeSet<EventId> = batch.into_iter().collect();
        let asked: Vec<IdPrefix> = wanted.iter().map(|id| IdPrefix::of(id.as_bytes())).collect();
        let request = Request::FetchCatalog { ids: asked.clone() };
        self.phase = Phase::Fetching { wanted, asked };
        self.send(request)
    }

    fn send(&mut self, request: Request) -> Action {
        if let Request::Reconcile { .. } = request {
            self.report.rounds += 1;
        }
        self.report.bytes_sent += request.encode().len();
        Action::Send(request)
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

    /// Runs a catalog catch-up of a node holding `mine` against a peer
    /// holding `theirs`, the peer answering with `answer`. Returns the
    /// report and the records offered, or the error.
    #[expect(clippy::result_large_err, reason = "a test's error, once")]
    fn run(
        mine: &[Announcement],
        theirs: &[Announcement],
        answer: impl Fn(&[IdPrefix]) -> Response,
        refuse: bool,
    ) -> Result<(CatchupReport, Vec<CatalogRecord>), CatchupError> {
        let (mut machine, mut actions) = CatalogCatchup::start(PeerId::random(), 1);
        let mut responder = None;
        let mut offered = Vec::new();
        loop {
            let action = actions.pop().expect("an action");
            let input = match action {
                Action::ReadItems => Input::Items(items(mine)),
                Action::Send(Request::Reconcile { scope, message, .. }) => {
                    if scope.is_some() {
                        assert_eq!(scope, Some(Scope::Catalog));
                        responder = Some(Responder::new(items(theirs)).expect("responder"));
                    }
                    let reply = responder.as_mut().expect("session").receive(&message).expect("reply");
                    Input::Response(Response::Reconcile { message: reply })
                }
                Action::Send(Request::FetchCatalog { ids }) => Input::Response(answer(&ids)),
                Action::Send(other) => panic!("unexpected {other:?}"),
                Action::Offer(records) => {
                    let added = records.len();
                    offered.extend(records);
                    Input::Offered { added, refused: refuse.then(|| "bad-signature".to_owned()) }
                }
                Action::Finish(report) => return Ok((report, offered)),
            };
            actions = machine.handle(input)?;
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
        let all: Vec<Announcement> = (0..(MAX_FETCH_IDS as u32 + 300)).map(announcement).collect();
        let mine = &all[..200];
        let (report, offered) = run(mine, &all, serve(&all), false).expect("caught up");
        assert_eq!(report.needed, all.len() - 200);
        assert_eq!(report.added, all.len() - 200);
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
        let (report, offered) = run(&all, &all, |_| panic!("no fetch"), false).expect("caught up");
        assert_eq!((report.rounds, report.needed, offered.len()), (1, 0, 0));
    }
}
