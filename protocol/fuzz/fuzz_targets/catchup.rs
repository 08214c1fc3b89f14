//! A catch-up exchange (spec/catchup.md) with a hostile or broken peer:
//! every message the peer sends is decoded from the wire and fed to a real
//! reconciliation session, on either side. No panic, no message over its
//! limit, no session past the round-trip cap, and nothing learned that
//! contradicts this side's own set.
//!
//! Input: `[mode, n_lo, n_hi, ...]`; this side holds `n` items (`n` up to
//! 2,047, to keep runs fast). Mode 0: this side initiates; the rest is the peer's responses,
//! each as a 2-byte big-endian length and the bytes. Mode 1: this side
//! answers; the rest is the peer's requests, framed the same way. Mode 2:
//! two honest sides, the peer holding `m` items from an offset (`[m_lo,
//! m_hi, offset_lo, offset_hi]`), and the rest as tamperings of the peer's
//! messages (`[round, at_hi, at_lo, xor]` each); untampered, the session
//! must end with each side knowing exactly what the other lacks.
#![no_main]
use std::collections::BTreeSet;

use communs_protocol::limits::{
    MAX_CATCHUP_MESSAGE_BYTES, MAX_EVENT_BYTES, MAX_FETCH_IDS, MAX_RECONCILE_MESSAGE_BYTES,
};
use communs_protocol::sync::{Initiator, Responder};
use communs_protocol::wire::{IdPrefix, Refusal, Request, Response, Scope, events_response};
use communs_protocol::{DesignId, EventId, Hash, SignedEvent};
// The round-trip cap of a session, as the node applies it.
use communs_protocol::limits::MAX_CATCHUP_ROUNDS as MAX_ROUNDS;
use libfuzzer_sys::fuzz_target;

/// Items fall in this many designs, so that scopes select some of them.
const DESIGNS: u32 = 4;

/// Item numbers stay below this (`count` is 11 bits; an offset plus a count).
const MAX_ITEM: u32 = 2 * 2048;

/// Item `n`'s id, hashed once per process: hashing was a tenth of a run.
fn id(n: u32) -> EventId {
    static IDS: std::sync::OnceLock<Vec<EventId>> = std::sync::OnceLock::new();
    let ids = IDS.get_or_init(|| (0..MAX_ITEM).map(|n| EventId::from_hash(Hash::of(&n.to_le_bytes()))).collect());
    ids[n as usize]
}

fn design(n: u32) -> DesignId {
    DesignId::from_hash(Hash::of(&(n % DESIGNS).to_be_bytes()))
}

/// Item `n`: its time (a few items share each) and id.
fn item(n: u32) -> (u64, EventId) {
    (u64::from(n / 4), id(n))
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }

    fn count(&mut self) -> u32 {
        u32::from(self.byte()) | (u32::from(self.byte() & 0x07) << 8)
    }

    /// The next length-prefixed message.
    fn frame(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let len = (usize::from(self.byte()) << 8) | usize::from(self.byte());
        let (frame, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        Some(frame)
    }
}

fn sent(request: &Request) {
    let bytes = request.encode();
    assert!(bytes.len() <= MAX_CATCHUP_MESSAGE_BYTES);
    assert_eq!(Request::decode(&bytes).as_ref(), Ok(request));
}

fn answered(response: &Response) {
    let bytes = response.encode();
    assert!(bytes.len() <= MAX_CATCHUP_MESSAGE_BYTES);
    assert_eq!(Response::decode(&bytes).as_ref(), Ok(response));
    match response {
        Response::Reconcile { message } => assert!(message.len() <= MAX_RECONCILE_MESSAGE_BYTES),
        Response::Events { events } => assert!(events.len() <= MAX_FETCH_IDS),
        Response::Announcements { records } => assert!(records.len() <= MAX_FETCH_IDS),
        Response::Refused(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mode = input.byte() % 3;
    let n = input.count();
    let mine: Vec<(u64, EventId)> = (0..n).map(item).collect();
    match mode {
        0 => initiate(&mine, input),
        1 => answer(n, input),
        _ => honest(&mine, input),
    }
});

/// This side reconnects; the peer answers with anything.
fn initiate(mine: &[(u64, EventId)], mut input: Input) {
    let ours: BTreeSet<EventId> = mine.iter().map(|(_, id)| *id).collect();
    let (mut initiator, first) = Initiator::start(mine.iter().copied()).expect("a valid set starts a session");
    let mut next = Some(first);
    let mut rounds = 0;
    while let Some(frame) = input.frame() {
        if let Some(message) = next.take() {
            rounds += 1;
            assert!(rounds <= MAX_ROUNDS);
            assert!(message.len() <= MAX_RECONCILE_MESSAGE_BYTES);
            sent(&Request::Reconcile { session: 1, scope: (rounds == 1).then_some(Scope::All), message });
        }
        let Ok(response) = Response::decode(frame) else { return };
        assert_eq!(response.encode(), frame);
        match response {
            Response::Reconcile { message } => {
                let Ok(learned) = initiator.receive(&message) else { return };
                assert!(learned.have.iter().all(|id| ours.contains(id)), "offers only what it has");
                assert!(learned.need.iter().all(|id| !ours.contains(id)), "asks only for what it lacks");
                next = learned.next;
                if next.is_some() && rounds == MAX_ROUNDS {
                    return; // The node gives up here.
                }
            }
            Response::Events { events } => {
                assert!(events.len() <= MAX_FETCH_IDS);
                for bytes in events {
                    assert!(bytes.len() <= MAX_EVENT_BYTES);
                    if let Ok(event) = SignedEvent::decode(&bytes) {
                        assert_eq!(event.bytes(), bytes);
                    }
                }
            }
            Response::Announcements { records } => {
                // A catalog answer to an event session: the node refuses
                // the exchange (it asked for events).
                assert!(records.len() <= MAX_FETCH_IDS);
                return;
            }
            Response::Refused(_) => return,
        }
    }
}

/// This side answers a peer that asks anything, keeping one session as the
/// node does per session id.
fn answer(n: u32, mut input: Input) {
    let mut session: Option<(u64, Responder)> = None;
    while let Some(frame) = input.frame() {
        let Ok(request) = Request::decode(frame) else { continue };
        assert_eq!(request.encode(), frame);
        let response = match request {
            Request::Reconcile { session: number, scope, message } => {
                let responder = match scope {
                    Some(scope) => {
                        let items = (0..n).filter(|i| scope.covers(&design(*i))).map(item);
                        Some(Responder::new(items).expect("a valid set starts a session"))
                    }
                    None => session.take().filter(|(s, _)| *s == number).map(|(_, r)| r),
                };
                match responder {
                    None => Response::Refused(Refusal::UnknownSession),
                    Some(mut responder) => match responder.receive(&message) {
                        Ok(reply) => {
                            session = Some((number, responder));
                            Response::Reconcile { message: reply }
                        }
                        Err(_) => Response::Refused(Refusal::BadRequest),
                    },
                }
            }
            Request::Fetch { ids } => {
                assert!(ids.len() <= MAX_FETCH_IDS);
                // Stand-in event bytes of many sizes, some near the limit.
                let held: Vec<Vec<u8>> = (0..n)
                    .filter(|i| ids.binary_search(&IdPrefix::of(id(*i).as_bytes())).is_ok())
                    .map(|i| vec![0x5a; (i as usize * 7919) % MAX_EVENT_BYTES])
                    .collect();
                events_response(held.iter().map(Vec::as_slice))
            }
            Request::Profiles { known } => {
                assert!(known.len() <= communs_protocol::limits::MAX_PROFILE_AUTHORS);
                Response::Events { events: vec![] }
            }
            Request::FetchCatalog { ids } => {
                assert!(ids.len() <= MAX_FETCH_IDS);
                Response::Announcements { records: vec![] }
            }
        };
        answered(&response);
    }
}

/// Two honest sides; the peer's messages may be tampered with on the way.
fn honest(mine: &[(u64, EventId)], mut input: Input) {
    let m = input.count();
    let offset = input.count();
    let theirs: Vec<(u64, EventId)> = (offset..offset + m).map(item).collect();
    let mut tamper = Vec::new();
    while !input.0.is_empty() {
        let round = usize::from(input.byte());
        let at = (usize::from(input.byte()) << 8) | usize::from(input.byte());
        tamper.push((round, at, input.byte()));
    }
    let (mut initiator, mut message) = Initiator::start(mine.iter().copied()).expect("start");
    let mut responder = Responder::new(theirs.iter().copied()).expect("responder");
    let (mut have, mut need) = (BTreeSet::new(), BTreeSet::new());
    let mut tampered = false;
    for round in 0..MAX_ROUNDS {
        assert!(message.len() <= MAX_RECONCILE_MESSAGE_BYTES);
        let Ok(mut reply) = responder.receive(&message) else {
            assert!(tampered, "an honest initiator's message is answered");
            return;
        };
        assert!(reply.len() <= MAX_RECONCILE_MESSAGE_BYTES);
        for (_, at, xor) in tamper.iter().filter(|(r, _, x)| *r == round && *x != 0) {
            if let Some(byte) = reply.get_mut(*at) {
                *byte ^= xor;
                tampered = true;
            }
        }
        let Ok(learned) = initiator.receive(&reply) else {
            assert!(tampered, "an honest reply is understood");
            return;
        };
        have.extend(learned.have);
        need.extend(learned.need);
        match learned.next {
            Some(next) => message = next,
            None => {
                if !tampered {
                    let ours: BTreeSet<EventId> = mine.iter().map(|(_, id)| *id).collect();
                    let peer: BTreeSet<EventId> = theirs.iter().map(|(_, id)| *id).collect();
                    assert_eq!(have, ours.difference(&peer).copied().collect());
                    assert_eq!(need, peer.difference(&ours).copied().collect());
                }
                return;
            }
        }
    }
    assert!(tampered, "an honest session ends within {MAX_ROUNDS} round trips");
}
