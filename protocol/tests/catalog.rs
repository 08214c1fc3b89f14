//! Announcements (`catalog.rs`, spec/catalog.md): the vectors of
//! spec/vectors/catalog.json, read back independently; every rejection
//! with its reason; which of two announcements a catalog keeps.

mod support;

use communs_protocol::catalog::Announcement;
use communs_protocol::cbor::{self, Value};
use communs_protocol::limits::{MAX_ANNOUNCEMENT_BYTES, MAX_EVENT_BYTES};
use communs_protocol::{Body, Hash, SignedEvent};
use proptest::prelude::*;
use serde_json::json;
use support::{child, genesis, key, revision};

/// A design of Alice's (Bob a stranger to it), another of Bob's, and
/// their events.
struct Sample {
    g1: SignedEvent,
    g2: SignedEvent,
    /// Alice's first revision of g1, and her second on it.
    r1: SignedEvent,
    r2: SignedEvent,
    /// Bob's contribution to g1, and Alice's approval of it.
    contribution: SignedEvent,
    approval: SignedEvent,
    /// Bob's revision of g2.
    other: SignedEvent,
    /// Alice's approval of her own r1.
    approve_r1: SignedEvent,
}

fn sample() -> Sample {
    let (alice, bob) = (key(1), key(2));
    let g1 = genesis(&alice, &[alice.author()], 1);
    let g2 = genesis(&bob, &[bob.author()], 1);
    let r1 = child(&alice, &[&g1], revision(1, &[], "First version"));
    let r2 = child(&alice, &[&r1], revision(2, &[r1.id()], "Thicker band"));
    let contribution = child(&bob, &[&r1], revision(3, &[r1.id()], "Wider visor"));
    let approval = child(&alice, &[&contribution], Body::Approve { target: contribution.id() });
    let other = child(&bob, &[&g2], revision(4, &[], "Bob's"));
    let approve_r1 = child(&alice, &[&r1], Body::Approve { target: r1.id() });
    Sample { g1, g2, r1, r2, contribution, approval, other, approve_r1 }
}

fn bytes(e: &SignedEvent) -> Value {
    Value::Bytes(e.bytes().to_vec())
}

fn encode(items: Vec<Value>) -> Vec<u8> {
    cbor::encode(&Value::Array(items))
}

fn accepted(s: &Sample) -> Vec<(&'static str, Announcement)> {
    vec![
        ("a genesis alone", Announcement::new(s.g1.clone(), None, None).expect("valid")),
        (
            "a genesis and a maintainer's revision",
            Announcement::new(s.g1.clone(), Some(s.r1.clone()), None).expect("valid"),
        ),
        (
            "a stranger's revision with a maintainer's approval",
            Announcement::new(s.g1.clone(), Some(s.contribution.clone()), Some(s.approval.clone())).expect("valid"),
        ),
    ]
}

fn forged(event: &SignedEvent) -> Vec<u8> {
    let mut b = event.bytes().to_vec();
    let last = b.len() - 1;
    b[last] ^= 0x01;
    b
}

/// (name, bytes, reason).
fn rejected(s: &Sample) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let valid = encode(vec![bytes(&s.g1), bytes(&s.r1), Value::Null]);
    let mut trailing = valid.clone();
    trailing.push(0);
    vec![
        ("a revision of another design", encode(vec![bytes(&s.g1), bytes(&s.other), Value::Null]), "other-design"),
        (
            "a genesis whose signature was forged",
            encode(vec![Value::Bytes(forged(&s.g1)), bytes(&s.r1), Value::Null]),
            "bad-signature",
        ),
        (
            "a revision whose signature was forged",
            encode(vec![bytes(&s.g1), Value::Bytes(forged(&s.r1)), Value::Null]),
            "bad-signature",
        ),
        ("a first event that is not a genesis", encode(vec![bytes(&s.r1), Value::Null, Value::Null]), "not-genesis"),
        (
            "a second event that is not a revision",
            encode(vec![bytes(&s.g1), bytes(&s.approve_r1), Value::Null]),
            "not-revision",
        ),
        (
            "a stranger's revision without approval",
            encode(vec![bytes(&s.g1), bytes(&s.contribution), Value::Null]),
            "not-maintainer",
        ),
        (
            "an approval of another revision",
            encode(vec![bytes(&s.g1), bytes(&s.contribution), bytes(&s.approve_r1)]),
            "not-approval",
        ),
        (
            "a maintainer's revision with an approval it does not need",
            encode(vec![bytes(&s.g1), bytes(&s.r1), bytes(&s.approve_r1)]),
            "needless-approval",
        ),
        (
            "an approval without a revision",
            encode(vec![bytes(&s.g1), Value::Null, bytes(&s.approve_r1)]),
            "needless-approval",
        ),
        ("two items", encode(vec![bytes(&s.g1), Value::Null]), "shape"),
        ("an event as text", encode(vec![Value::Text("g".into()), Value::Null, Value::Null]), "shape"),
        ("a trailing byte", trailing, "trailing-bytes"),
    ]
}

/// (name, winner, loser).
fn supersede(s: &Sample) -> Vec<(&'static str, Announcement, Announcement)> {
    let a = |r: Option<&SignedEvent>, approval: Option<&SignedEvent>| {
        Announcement::new(s.g1.clone(), r.cloned(), approval.cloned()).expect("valid")
    };
    vec![
        ("a revision over none", a(Some(&s.r1), None), a(None, None)),
        ("the larger clock", a(Some(&s.r2), None), a(Some(&s.r1), None)),
        (
            "same clock: the larger revision id",
            {
                let (hi, lo) =
                    if s.r2.id() > s.contribution.id() { (&s.r2, None) } else { (&s.contribution, Some(&s.approval)) };
                a(Some(hi), lo)
            },
            {
                let (lo, approval) =
                    if s.r2.id() > s.contribution.id() { (&s.contribution, Some(&s.approval)) } else { (&s.r2, None) };
                a(Some(lo), approval)
            },
        ),
    ]
}

fn describe(a: &Announcement) -> serde_json::Value {
    json!({
        "design": a.design().to_string(),
        "revision": a.revision().map(|r| r.id().to_string()),
        "approval": a.approval().map(|r| r.id().to_string()),
        "time": a.time(),
        "id": a.id().to_string(),
    })
}

#[test]
fn spec_vectors_match_the_code() {
    let s = sample();
    let accepted: Vec<_> = accepted(&s)
        .into_iter()
        .map(|(name, a)| json!({ "name": name, "hex": hex::encode(a.bytes()), "fields": describe(&a) }))
        .collect();
    let rejected: Vec<_> = rejected(&s)
        .into_iter()
        .map(|(name, b, reason)| json!({ "name": name, "hex": hex::encode(b), "reason": reason }))
        .collect();
    let supersede: Vec<_> = supersede(&s)
        .into_iter()
        .map(|(name, w, l)| json!({ "name": name, "winner": hex::encode(w.bytes()), "loser": hex::encode(l.bytes()) }))
        .collect();
    support::check_or_bless(
        "catalog.json",
        &json!({
            "description": "Announcements (spec/catalog.md). Each 'accepted' 'hex' is an announcement that decodes to 'fields' (the design is the genesis id; 'time' the revision's time, else the genesis'; 'id' the BLAKE3 of the bytes) and re-encodes to the same bytes; the events inside are signed events as in event.json. Each 'rejected' 'hex' is refused with 'reason'. In each 'supersede' pair, a catalog holding either keeps 'winner'.",
            "max_bytes": MAX_ANNOUNCEMENT_BYTES,
            "accepted": accepted,
            "rejected": rejected,
            "supersede": supersede,
        }),
    );
}

// An independent reading of the stored vectors: the generic strict CBOR
// decoder, the event decoder and the rules of spec/catalog.md, nothing of
// `catalog.rs`.

fn independent(bytes: &[u8]) -> serde_json::Value {
    let value = cbor::decode(bytes, MAX_ANNOUNCEMENT_BYTES).expect("strict CBOR");
    let items = value.as_array().expect("an array");
    assert_eq!(items.len(), 3, "genesis, revision, approval");
    let event = |v: &Value| SignedEvent::decode(v.as_bytes().expect("bytes")).expect("a valid event");
    let genesis = event(&items[0]);
    let Body::Genesis(g) = genesis.body() else { panic!("a genesis") };
    let revision = (!items[1].is_null()).then(|| event(&items[1]));
    let approval = (!items[2].is_null()).then(|| event(&items[2]));
    if let Some(r) = &revision {
        assert!(matches!(r.body(), Body::Revision(_)));
        assert_eq!(r.design(), genesis.design());
        match &approval {
            None => assert!(g.maintainers.contains(&r.author())),
            Some(a) => {
                assert!(!g.maintainers.contains(&r.author()));
                assert!(matches!(a.body(), Body::Approve { target } if *target == r.id()));
                assert!(g.maintainers.contains(&a.author()));
            }
        }
    } else {
        assert!(approval.is_none());
    }
    json!({
        "design": genesis.design().to_string(),
        "revision": revision.as_ref().map(|r| r.id().to_string()),
        "approval": approval.as_ref().map(|r| r.id().to_string()),
        "time": revision.as_ref().unwrap_or(&genesis).event().time,
        "id": Hash::of(bytes).to_string(),
    })
}

#[test]
fn stored_vectors_decode_to_their_fields_and_rejects_fail_for_their_reason() {
    let v = support::load("catalog.json");
    for case in v["accepted"].as_array().expect("accepted") {
        let b = support::unhex(support::str_field(case, "hex"));
        assert_eq!(independent(&b), case["fields"], "{} (independent reading)", case["name"]);
        let a = Announcement::decode(&b).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(describe(&a), case["fields"]);
        assert_eq!(a.bytes(), b);
    }
    for case in v["rejected"].as_array().expect("rejected") {
        let b = support::unhex(support::str_field(case, "hex"));
        let name = support::str_field(case, "name");
        let err = Announcement::decode(&b).expect_err(name);
        assert_eq!(err.reason(), support::str_field(case, "reason"), "{name}: {err}");
    }
    for case in v["supersede"].as_array().expect("supersede") {
        let w = Announcement::decode(&support::unhex(support::str_field(case, "winner"))).expect("winner");
        let l = Announcement::decode(&support::unhex(support::str_field(case, "loser"))).expect("loser");
        assert!(w.supersedes(&l) && !l.supersedes(&w), "{}", case["name"]);
    }
}

#[test]
fn an_announcement_over_its_limit_is_refused_before_it_is_parsed() {
    let over = encode(vec![Value::Bytes(vec![0; MAX_EVENT_BYTES]), Value::Null, Value::Null]);
    assert!(over.len() > MAX_ANNOUNCEMENT_BYTES);
    assert_eq!(Announcement::decode(&over).expect_err("too large").reason(), "too-large");
}

#[test]
fn a_revision_too_large_to_announce_leaves_the_genesis_alone() {
    let s = sample();
    // Within the limit, the revision travels.
    let a = Announcement::best_effort(s.g1.clone(), Some(s.r1.clone()), None).expect("valid");
    assert_eq!(a.revision().map(SignedEvent::id), Some(s.r1.id()));
    // A stranger's revision without approval cannot be announced: the
    // genesis alone is.
    let a = Announcement::best_effort(s.g1.clone(), Some(s.contribution.clone()), None).expect("valid");
    assert!(a.revision().is_none());
}

#[test]
fn announcements_of_two_designs_supersede_neither() {
    let s = sample();
    let a = Announcement::new(s.g1.clone(), Some(s.r1.clone()), None).expect("valid");
    let b = Announcement::new(s.g2.clone(), Some(s.other.clone()), None).expect("valid");
    assert!(!a.supersedes(&b) && !b.supersedes(&a));
    assert!(!a.supersedes(&a));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Altered valid announcements never panic, and an accepted one is
    /// canonical.
    #[test]
    fn altered_announcements_never_panic(at in any::<proptest::sample::Index>(), byte in any::<u8>()) {
        let s = sample();
        let a = Announcement::new(s.g1.clone(), Some(s.contribution.clone()), Some(s.approval.clone())).expect("valid");
        let mut b = a.bytes().to_vec();
        let i = at.index(b.len());
        b[i] = byte;
        if let Ok(decoded) = Announcement::decode(&b) {
            prop_assert_eq!(decoded.bytes(), &b[..]);
        }
    }
}
