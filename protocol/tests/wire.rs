//! The catch-up wire format and gossip topics (`wire.rs`, spec/catchup.md):
//! the vectors of spec/vectors/catchup-wire.json, round trips of random
//! messages, every rejection with its reason, id prefixes (`IdPrefix`,
//! `Scope::designs`, `Scope::covers`), the size rules of an `Events`
//! response, and the shard of a design.

mod support;

use communs_protocol::catalog::Announcement;
use communs_protocol::cbor::{self, Value};
use communs_protocol::limits::{
    GOSSIP_SHARDS, MAX_CATCHUP_MESSAGE_BYTES, MAX_EVENT_BYTES, MAX_FETCH_IDS, MAX_RECONCILE_MESSAGE_BYTES,
    MAX_SCOPE_DESIGNS,
};
use communs_protocol::sync::{Initiator, Responder};
use communs_protocol::wire::{
    ANNOUNCE_TOPIC, CatalogRecord, ID_PREFIX_BYTES, IdPrefix, Refusal, Request, Response, SHARD_TOPIC_PREFIX, Scope,
    announcements_response, events_response, shard, shard_topic, topic_matches, topic_of,
};
use communs_protocol::{Body, DesignId, EventId, Hash, SignedEvent};
use proptest::prelude::*;
use serde_json::json;
use support::{child, genesis, key, revision};

fn design(bytes: [u8; 32]) -> DesignId {
    DesignId::from_hash(Hash::from_bytes(bytes))
}

fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn array(items: Vec<Value>) -> Value {
    Value::Array(items)
}

const REFUSALS: [Refusal; 3] = [Refusal::UnknownSession, Refusal::BadRequest, Refusal::Busy];

fn refusal_name(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::UnknownSession => "unknown-session",
        Refusal::BadRequest => "bad-request",
        Refusal::Busy => "busy",
    }
}

// ---------------------------------------------------------------------------
// Spec vectors

/// A small design log: two designs, a revision and an approval.
struct Sample {
    events: Vec<SignedEvent>,
    /// The two designs, sorted.
    designs: [DesignId; 2],
}

fn sample() -> Sample {
    let (alice, bob) = (key(1), key(2));
    let g1 = genesis(&alice, &[alice.author()], 1);
    let g2 = genesis(&bob, &[bob.author()], 1);
    let r1 = child(&alice, &[&g1], revision(1, &[], "First version"));
    let approve = child(&alice, &[&r1], Body::Approve { target: r1.id() });
    let mut designs = [g1.design(), g2.design()];
    designs.sort();
    assert!(
        IdPrefix::of(designs[0].as_bytes()) < IdPrefix::of(designs[1].as_bytes()),
        "the sample designs differ in their first {ID_PREFIX_BYTES} bytes"
    );
    Sample { events: vec![g1, g2, r1, approve], designs }
}

/// Real negentropy messages of one session: the first message, the
/// peer's reply and the next message. This side holds 600 events, the peer
/// all but one: enough for the session to take two rounds.
fn session() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mine: Vec<(u64, EventId)> =
        (0..600u64).map(|i| (support::TIME + i * 1000, EventId::from_hash(Hash::of(&i.to_le_bytes())))).collect();
    let theirs = mine.iter().copied().filter(|&(_, id)| id != mine[300].1);
    let (mut initiator, first) = Initiator::start(mine.iter().copied()).expect("initiator starts");
    let reply = Responder::new(theirs).expect("responder").receive(&first).expect("responder answers");
    let later = initiator.receive(&reply).expect("initiator reads the reply").next.expect("a second round");
    (first, reply, later)
}

/// Each request with the full ids its prefixes were taken from, in order
/// (printed as ids: `design1…`, `event1…`), if it names any.
fn accepted_requests(s: &Sample) -> Vec<(&'static str, Request, Vec<String>)> {
    let (first, _, later) = session();
    let [r1, approve] = [&s.events[2], &s.events[3]];
    vec![
        (
            "reconcile, first message, scope all",
            Request::Reconcile { session: 1, scope: Some(Scope::All), message: first.clone() },
            vec![],
        ),
        (
            "reconcile, first message, scope of two designs",
            Request::Reconcile { session: 0x1234_5678_9abc, scope: Some(Scope::designs(s.designs)), message: first },
            s.designs.iter().map(ToString::to_string).collect(),
        ),
        (
            "reconcile, a later message (no scope)",
            Request::Reconcile { session: 1, scope: None, message: later },
            vec![],
        ),
        (
            "fetch two events",
            Request::Fetch { ids: vec![IdPrefix::of(r1.id().as_bytes()), IdPrefix::of(approve.id().as_bytes())] },
            vec![r1.id().to_string(), approve.id().to_string()],
        ),
        ("fetch nothing", Request::Fetch { ids: vec![] }, vec![]),
        (
            "reconcile, first message, scope catalog",
            Request::Reconcile { session: 2, scope: Some(Scope::Catalog), message: session().0 },
            vec![],
        ),
        (
            "fetch one catalog announcement",
            Request::FetchCatalog { ids: vec![IdPrefix::of(sample_announcement(s).id().as_bytes())] },
            vec![sample_announcement(s).id().to_string()],
        ),
        (
            "profiles of two authors, one never seen (clock 0)",
            Request::Profiles { known: vec![(key(1).author(), 3), (key(2).author(), 0)] },
            vec![],
        ),
    ]
}

/// The announcement of the sample's first design with its revision.
fn sample_announcement(s: &Sample) -> Announcement {
    Announcement::new(s.events[0].clone(), Some(s.events[2].clone()), None).expect("a valid announcement")
}

fn accepted_responses(s: &Sample) -> Vec<(&'static str, Response)> {
    let (_, reply, _) = session();
    let record =
        CatalogRecord { announcement: sample_announcement(s).bytes().to_vec(), holders: vec![key(1).author()] };
    vec![
        ("announcements, one with its holder", announcements_response([record])),
        ("announcements, none", Response::Announcements { records: vec![] }),
        ("reconcile", Response::Reconcile { message: reply }),
        ("events, two signed events", events_response([s.events[2].bytes(), s.events[3].bytes()])),
        ("events, none (the peer lacks them all)", Response::Events { events: vec![] }),
        ("refused, unknown session", Response::Refused(Refusal::UnknownSession)),
        ("refused, bad request", Response::Refused(Refusal::BadRequest)),
        ("refused, busy", Response::Refused(Refusal::Busy)),
    ]
}

/// Canonical CBOR that breaks one rule of the wire format, or bytes that
/// are not canonical CBOR: (name, decoded as, bytes, reason).
fn rejected(s: &Sample) -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    let [d1, d2] = s.designs.map(|d| IdPrefix::of(d.as_bytes()).0);
    let reconcile = |scope: Value| cbor::encode(&array(vec![uint(0), uint(1), scope, bytes(&[0x61])]));
    let valid_request = Request::Reconcile { session: 1, scope: Some(Scope::All), message: vec![0x61] }.encode();
    let mut trailing = valid_request.clone();
    trailing.push(0x00);
    let mut indefinite = valid_request;
    assert_eq!(indefinite[0], 0x84, "a reconcile request is an array of four");
    indefinite[0] = 0x9f;
    indefinite.push(0xff);
    vec![
        ("request of unknown kind 9", "request", cbor::encode(&array(vec![uint(9), array(vec![])])), "unknown-kind"),
        ("request that is not an array", "request", cbor::encode(&uint(0)), "shape"),
        ("request that is an empty array", "request", cbor::encode(&array(vec![])), "shape"),
        (
            "reconcile without its message",
            "request",
            cbor::encode(&array(vec![uint(0), uint(1), Value::Null])),
            "shape",
        ),
        ("fetch with two lists", "request", cbor::encode(&array(vec![uint(1), array(vec![]), array(vec![])])), "shape"),
        (
            "fetch of a prefix of 7 bytes",
            "request",
            cbor::encode(&array(vec![uint(1), array(vec![bytes(&[0x5a; 7])])])),
            "shape",
        ),
        (
            "fetch of a prefix of 9 bytes",
            "request",
            cbor::encode(&array(vec![uint(1), array(vec![bytes(&[0x5a; 9])])])),
            "shape",
        ),
        (
            "fetch of a full 32-byte event id",
            "request",
            cbor::encode(&array(vec![uint(1), array(vec![bytes(s.events[2].id().as_bytes())])])),
            "shape",
        ),
        (
            "fetch of a prefix written as text",
            "request",
            cbor::encode(&array(vec![uint(1), array(vec![Value::Text("5a5a5a5a5a5a5a5a".into())])])),
            "shape",
        ),
        (
            "fetch whose ids are a byte string, not an array",
            "request",
            cbor::encode(&array(vec![uint(1), bytes(&[0x5a; 8])])),
            "shape",
        ),
        (
            "session that is negative",
            "request",
            cbor::encode(&array(vec![uint(0), Value::Integer((-1).into()), Value::Null, bytes(&[])])),
            "shape",
        ),
        ("scope of unknown kind 3", "request", reconcile(array(vec![uint(3)])), "unknown-kind"),
        ("scope catalog with an extra item", "request", reconcile(array(vec![uint(2), array(vec![])])), "shape"),
        ("scope all with an extra item", "request", reconcile(array(vec![uint(0), array(vec![])])), "shape"),
        ("scope designs without the list", "request", reconcile(array(vec![uint(1)])), "shape"),
        (
            "scope design prefix of 7 bytes",
            "request",
            reconcile(array(vec![uint(1), array(vec![bytes(&d1[..7])])])),
            "shape",
        ),
        (
            "scope with a full 32-byte design id",
            "request",
            reconcile(array(vec![uint(1), array(vec![bytes(s.designs[0].as_bytes())])])),
            "shape",
        ),
        (
            "scope design prefixes out of order",
            "request",
            reconcile(array(vec![uint(1), array(vec![bytes(&d2), bytes(&d1)])])),
            "not-sorted-unique",
        ),
        (
            "scope design prefixes with a duplicate",
            "request",
            reconcile(array(vec![uint(1), array(vec![bytes(&d1), bytes(&d1)])])),
            "not-sorted-unique",
        ),
        // [0, 5 written as 0x18 0x05, null, h'']
        (
            "session written with a non-minimal integer",
            "request",
            vec![0x84, 0x00, 0x18, 0x05, 0xf6, 0x40],
            "non-minimal",
        ),
        ("trailing byte after a request", "request", trailing, "trailing-bytes"),
        ("request as an indefinite-length array", "request", indefinite, "indefinite-length"),
        ("response of unknown kind 4", "response", cbor::encode(&array(vec![uint(4)])), "unknown-kind"),
        (
            "announcements with a record that is not a pair",
            "response",
            cbor::encode(&array(vec![uint(3), array(vec![array(vec![bytes(&[0x82])])])])),
            "shape",
        ),
        (
            "announcements with a holder that is not a 32-byte key",
            "response",
            cbor::encode(&array(vec![uint(3), array(vec![array(vec![bytes(&[0x82]), array(vec![bytes(&[1; 31])])])])])),
            "shape",
        ),
        ("refusal of unknown code 3", "response", cbor::encode(&array(vec![uint(2), uint(3)])), "unknown-kind"),
        ("refusal without its code", "response", cbor::encode(&array(vec![uint(2)])), "shape"),
        (
            "reconcile response whose message is text",
            "response",
            cbor::encode(&array(vec![uint(0), Value::Text("a".into())])),
            "shape",
        ),
        (
            "events response with an event that is not bytes",
            "response",
            cbor::encode(&array(vec![uint(1), array(vec![uint(0)])])),
            "shape",
        ),
        (
            "trailing byte after a response",
            "response",
            {
                let mut b = Response::Refused(Refusal::Busy).encode();
                b.push(0x00);
                b
            },
            "trailing-bytes",
        ),
    ]
}

fn describe_scope(scope: &Option<Scope>) -> serde_json::Value {
    match scope {
        None => serde_json::Value::Null,
        Some(Scope::All) => json!("all"),
        Some(Scope::Catalog) => json!("catalog"),
        Some(Scope::Designs(prefixes)) => {
            json!({ "designs": prefixes.iter().map(|p| hex::encode(p.0)).collect::<Vec<_>>() })
        }
    }
}

fn describe_request(request: &Request) -> serde_json::Value {
    match request {
        Request::Reconcile { session, scope, message } => json!({
            "kind": "reconcile", "session": session, "scope": describe_scope(scope), "message": hex::encode(message),
        }),
        Request::Fetch { ids } => json!({
            "kind": "fetch", "ids": ids.iter().map(|p| hex::encode(p.0)).collect::<Vec<_>>(),
        }),
        Request::FetchCatalog { ids } => json!({
            "kind": "fetch-catalog", "ids": ids.iter().map(|p| hex::encode(p.0)).collect::<Vec<_>>(),
        }),
        Request::Profiles { known } => json!({
            "kind": "profiles",
            "known": known.iter().map(|(a, clock)| json!([a.to_string(), clock])).collect::<Vec<_>>(),
        }),
    }
}

fn describe_response(response: &Response) -> serde_json::Value {
    match response {
        Response::Reconcile { message } => json!({ "kind": "reconcile", "message": hex::encode(message) }),
        Response::Events { events } => json!({
            "kind": "events",
            "events": events.iter().map(|e| json!({
                "hex": hex::encode(e),
                "id": SignedEvent::decode(e).map(|e| e.id().to_string()).unwrap_or_default(),
            })).collect::<Vec<_>>(),
        }),
        Response::Refused(refusal) => json!({ "kind": "refused", "refusal": refusal_name(*refusal) }),
        Response::Announcements { records } => json!({
            "kind": "announcements",
            "records": records.iter().map(|r| json!({
                "hex": hex::encode(&r.announcement),
                "id": Announcement::decode(&r.announcement).map(|a| a.id().to_string()).unwrap_or_default(),
                "holders": r.holders.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    }
}

#[test]
fn spec_vectors_match_the_code() {
    let s = sample();
    let requests: Vec<_> = accepted_requests(&s)
        .into_iter()
        .map(|(name, r, of)| {
            let mut case = json!({ "name": name, "fields": describe_request(&r), "hex": hex::encode(r.encode()) });
            if !of.is_empty() {
                case["prefixes_of"] = json!(of);
            }
            case
        })
        .collect();
    let responses: Vec<_> = accepted_responses(&s)
        .into_iter()
        .map(|(name, r)| json!({ "name": name, "fields": describe_response(&r), "hex": hex::encode(r.encode()) }))
        .collect();
    let rejected: Vec<_> = rejected(&s)
        .into_iter()
        .map(|(name, decoded_as, bytes, reason)| {
            json!({ "name": name, "decoded_as": decoded_as, "hex": hex::encode(bytes), "reason": reason })
        })
        .collect();
    support::check_or_bless(
        "catchup-wire.json",
        &json!({
            "description": "Catch-up messages (spec/catchup.md, protocol /communs/catchup/1). Each 'requests' and 'responses' 'hex' decodes to 'fields' and re-encodes to the same bytes ('message' bytes are negentropy's, opaque to this layer; each event is a signed event as in event.json). Scope designs and fetch ids are 8-byte id prefixes, in hex; 'prefixes_of' lists, in the same order, the full design or event ids they are the first 8 bytes of. Each 'rejected' 'hex', decoded as a request or a response ('decoded_as'), is refused with 'reason'.",
            "refusal_codes": { "unknown-session": 0, "bad-request": 1, "busy": 2 },
            "requests": requests,
            "responses": responses,
            "rejected": rejected,
        }),
    );
}

// An independent reading of the stored vectors: the generic strict CBOR
// decoder and the rules of spec/catchup.md, nothing of `wire.rs`, as an
// implementation in another language would read them.

fn independent_uint(value: &Value) -> u64 {
    u64::try_from(value.as_integer().expect("an integer")).expect("an unsigned integer")
}

/// A list of 8-byte id prefixes, in hex; strictly increasing if `sorted`.
fn independent_prefixes(value: &Value, sorted: bool) -> Vec<String> {
    let prefixes: Vec<&[u8]> = value
        .as_array()
        .expect("an array of prefixes")
        .iter()
        .map(|p| p.as_bytes().expect("a prefix is a byte string").as_slice())
        .collect();
    assert!(prefixes.iter().all(|p| p.len() == 8), "every prefix is 8 bytes: {prefixes:02x?}");
    if sorted {
        assert!(prefixes.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {prefixes:02x?}");
    }
    prefixes.iter().map(hex::encode).collect()
}

fn independent_request_fields(bytes: &[u8]) -> serde_json::Value {
    let value = cbor::decode(bytes, MAX_CATCHUP_MESSAGE_BYTES).expect("strict CBOR");
    match value.as_array().expect("a request is an array").as_slice() {
        [kind, session, scope, message] if independent_uint(kind) == 0 => {
            let scope = if scope.is_null() {
                serde_json::Value::Null
            } else {
                match scope.as_array().expect("a scope is an array").as_slice() {
                    [kind] if independent_uint(kind) == 0 => json!("all"),
                    [kind] if independent_uint(kind) == 2 => json!("catalog"),
                    [kind, designs] if independent_uint(kind) == 1 => {
                        json!({ "designs": independent_prefixes(designs, true) })
                    }
                    other => panic!("not a scope: {other:?}"),
                }
            };
            let message = message.as_bytes().expect("a message is a byte string");
            json!({
                "kind": "reconcile", "session": independent_uint(session), "scope": scope,
                "message": hex::encode(message),
            })
        }
        [kind, ids] if independent_uint(kind) == 1 => {
            json!({ "kind": "fetch", "ids": independent_prefixes(ids, false) })
        }
        [kind, ids] if independent_uint(kind) == 2 => {
            json!({ "kind": "fetch-catalog", "ids": independent_prefixes(ids, false) })
        }
        [kind, known] if independent_uint(kind) == 3 => {
            let known: Vec<serde_json::Value> = known
                .as_array()
                .expect("profiles: an array")
                .iter()
                .map(|pair| {
                    let pair = pair.as_array().expect("[author, clock]");
                    let key: [u8; 32] = pair[0].as_bytes().expect("a key").as_slice().try_into().expect("32 bytes");
                    let author = communs_protocol::AuthorId::from_bytes(key).expect("a valid key");
                    json!([author.to_string(), independent_uint(&pair[1])])
                })
                .collect();
            json!({ "kind": "profiles", "known": known })
        }
        other => panic!("not a request: {other:?}"),
    }
}

fn independent_response_fields(bytes: &[u8], refusal_codes: &serde_json::Value) -> serde_json::Value {
    let value = cbor::decode(bytes, MAX_CATCHUP_MESSAGE_BYTES).expect("strict CBOR");
    match value.as_array().expect("a response is an array").as_slice() {
        [kind, message] if independent_uint(kind) == 0 => {
            json!({ "kind": "reconcile", "message": hex::encode(message.as_bytes().expect("a byte string")) })
        }
        [kind, events] if independent_uint(kind) == 1 => {
            let events: Vec<_> = events
                .as_array()
                .expect("an array of events")
                .iter()
                .map(|e| {
                    let e = e.as_bytes().expect("an event is a byte string");
                    // event id = BLAKE3(signed encoding) (events.md)
                    json!({ "hex": hex::encode(e), "id": EventId::from_hash(Hash::of(e)).to_string() })
                })
                .collect();
            json!({ "kind": "events", "events": events })
        }
        [kind, code] if independent_uint(kind) == 2 => {
            let code = independent_uint(code);
            let (name, _) = refusal_codes
                .as_object()
                .expect("refusal codes")
                .iter()
                .find(|(_, c)| c.as_u64() == Some(code))
                .unwrap_or_else(|| panic!("refusal code {code} is not listed"));
            json!({ "kind": "refused", "refusal": name })
        }
        [kind, records] if independent_uint(kind) == 3 => {
            let records: Vec<_> = records
                .as_array()
                .expect("an array of records")
                .iter()
                .map(|r| match r.as_array().expect("a record is an array").as_slice() {
                    [announcement, holders] => {
                        let a = announcement.as_bytes().expect("an announcement is a byte string");
                        let holders: Vec<String> = holders
                            .as_array()
                            .expect("an array of holders")
                            .iter()
                            .map(|h| {
                                let key: [u8; 32] = h.as_bytes().expect("bytes").as_slice().try_into().expect("32");
                                communs_protocol::AuthorId::from_bytes(key).expect("a key").to_string()
                            })
                            .collect();
                        // announcement id = BLAKE3(its encoding) (catalog.md)
                        json!({ "hex": hex::encode(a), "id": Hash::of(a).to_string(), "holders": holders })
                    }
                    other => panic!("not a record: {other:?}"),
                })
                .collect();
            json!({ "kind": "announcements", "records": records })
        }
        other => panic!("not a response: {other:?}"),
    }
}

/// Each prefix of a stored request is the first 8 bytes of the id
/// `prefixes_of` gives for it.
fn check_prefixes_of(case: &serde_json::Value) {
    let name = support::str_field(case, "name");
    let fields = &case["fields"];
    let prefixes = match support::str_field(fields, "kind") {
        "fetch" | "fetch-catalog" => &fields["ids"],
        _ => &fields["scope"]["designs"],
    };
    let prefixes: Vec<&str> =
        prefixes.as_array().map(|p| p.iter().map(|p| p.as_str().expect("hex")).collect()).unwrap_or_default();
    let of: Vec<&str> = case
        .get("prefixes_of")
        .map(|of| of.as_array().expect("prefixes_of").iter().map(|id| id.as_str().expect("an id")).collect())
        .unwrap_or_default();
    assert_eq!(prefixes.len(), of.len(), "{name}: one full id per prefix");
    for (prefix, id) in prefixes.iter().zip(&of) {
        let id: [u8; 32] = match (id.parse::<DesignId>(), id.parse::<EventId>(), id.parse::<Hash>()) {
            (Ok(design), _, _) => *design.as_bytes(),
            (_, Ok(event), _) => *event.as_bytes(),
            (_, _, Ok(hash)) => *hash.as_bytes(),
            _ => panic!("{name}: {id} is neither a design id nor an event id"),
        };
        assert_eq!(*prefix, hex::encode(&id[..8]), "{name}: the prefix of {}", hex::encode(id));
    }
}

#[test]
fn stored_vectors_decode_to_their_fields_and_rejects_fail_for_their_reason() {
    let v = support::load("catchup-wire.json");
    for case in v["requests"].as_array().expect("requests") {
        let bytes = support::unhex(support::str_field(case, "hex"));
        assert_eq!(independent_request_fields(&bytes), case["fields"], "{} (independent reading)", case["name"]);
        check_prefixes_of(case);
        let request = Request::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(describe_request(&request), case["fields"], "{}", case["name"]);
        assert_eq!(request.encode(), bytes, "{}", case["name"]);
    }
    for case in v["responses"].as_array().expect("responses") {
        let bytes = support::unhex(support::str_field(case, "hex"));
        assert_eq!(
            independent_response_fields(&bytes, &v["refusal_codes"]),
            case["fields"],
            "{} (independent reading)",
            case["name"]
        );
        let response = Response::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(describe_response(&response), case["fields"], "{}", case["name"]);
        assert_eq!(response.encode(), bytes, "{}", case["name"]);
        if let Response::Events { events } = &response {
            for event in events {
                SignedEvent::decode(event).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
            }
        }
    }
    for (name, code) in v["refusal_codes"].as_object().expect("refusal codes") {
        let code = code.as_u64().expect("a code");
        let response = Response::decode(&cbor::encode(&array(vec![uint(2), uint(code)]))).expect(name);
        assert_eq!(describe_response(&response)["refusal"], json!(name));
    }
    for case in v["rejected"].as_array().expect("rejected") {
        let bytes = support::unhex(support::str_field(case, "hex"));
        let name = support::str_field(case, "name");
        let err = match support::str_field(case, "decoded_as") {
            "request" => Request::decode(&bytes).expect_err(name),
            "response" => Response::decode(&bytes).expect_err(name),
            other => panic!("{name}: decoded as {other}?"),
        };
        assert_eq!(err.reason(), support::str_field(case, "reason"), "{name}: {err}");
    }
}

// ---------------------------------------------------------------------------
// Round trips

fn arbitrary_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::All),
        Just(Scope::Catalog),
        proptest::collection::btree_set(any::<[u8; ID_PREFIX_BYTES]>(), 0..20)
            .prop_map(|set| Scope::Designs(set.into_iter().map(IdPrefix).collect())),
    ]
}

fn arbitrary_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u64>(), proptest::option::of(arbitrary_scope()), proptest::collection::vec(any::<u8>(), 0..4096))
            .prop_map(|(session, scope, message)| Request::Reconcile { session, scope, message }),
        // Any prefixes, in any order, repeated or not: a fetch is a list.
        proptest::collection::vec(any::<[u8; ID_PREFIX_BYTES]>(), 0..=MAX_FETCH_IDS)
            .prop_map(|ids| Request::Fetch { ids: ids.into_iter().map(IdPrefix).collect() }),
        proptest::collection::vec(any::<[u8; ID_PREFIX_BYTES]>(), 0..=64)
            .prop_map(|ids| Request::FetchCatalog { ids: ids.into_iter().map(IdPrefix).collect() }),
        proptest::collection::vec((1u8..5, any::<u64>()), 0..8).prop_map(|known| Request::Profiles {
            known: known.into_iter().map(|(k, clock)| (key(k).author(), clock)).collect()
        }),
    ]
}

fn arbitrary_response() -> impl Strategy<Value = Response> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096).prop_map(|message| Response::Reconcile { message }),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..20)
            .prop_map(|events| Response::Events { events }),
        proptest::sample::select(REFUSALS.to_vec()).prop_map(Response::Refused),
        (proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..20), 0..=8usize).prop_map(
            |(announcements, holders)| Response::Announcements {
                records: announcements
                    .into_iter()
                    .map(|announcement| CatalogRecord {
                        announcement,
                        holders: (0..holders).map(|n| key(n as u8 + 1).author()).collect(),
                    })
                    .collect(),
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn requests_round_trip_byte_for_byte(request in arbitrary_request()) {
        let bytes = request.encode();
        let decoded = Request::decode(&bytes).expect("an encoded request decodes");
        prop_assert_eq!(&decoded, &request);
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn responses_round_trip_byte_for_byte(response in arbitrary_response()) {
        let bytes = response.encode();
        let decoded = Response::decode(&bytes).expect("an encoded response decodes");
        prop_assert_eq!(&decoded, &response);
        prop_assert_eq!(decoded.encode(), bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_ones_are_canonical(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(request) = Request::decode(&bytes) {
            prop_assert_eq!(request.encode(), bytes.clone());
        }
        if let Ok(response) = Response::decode(&bytes) {
            prop_assert_eq!(response.encode(), bytes);
        }
    }

    /// Random bytes rarely get past the first byte; altered valid messages
    /// reach every field.
    #[test]
    fn altered_messages_never_panic_and_accepted_ones_are_canonical(
        request in arbitrary_request(),
        response in arbitrary_response(),
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        for mut bytes in [request.encode(), response.encode()] {
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(request) = Request::decode(&bytes) {
                prop_assert_eq!(request.encode(), bytes.clone());
            }
            if let Ok(response) = Response::decode(&bytes) {
                prop_assert_eq!(response.encode(), bytes);
            }
        }
    }
}

#[test]
fn refusals_round_trip_with_their_codes() {
    for (code, refusal) in REFUSALS.into_iter().enumerate() {
        let bytes = Response::Refused(refusal).encode();
        assert_eq!(bytes, [0x82, 0x02, code as u8], "{refusal:?}");
        assert_eq!(Response::decode(&bytes), Ok(Response::Refused(refusal)));
    }
}

// ---------------------------------------------------------------------------
// Rejections beyond the vectors (too large to store as hex)

fn request_reason(bytes: &[u8]) -> &'static str {
    Request::decode(bytes).expect_err("must be refused").reason()
}

fn response_reason(bytes: &[u8]) -> &'static str {
    Response::decode(bytes).expect_err("must be refused").reason()
}

#[test]
fn the_vectors_rejections_are_refused_for_their_reason() {
    for (name, decoded_as, bytes, reason) in rejected(&sample()) {
        let found = if decoded_as == "request" { request_reason(&bytes) } else { response_reason(&bytes) };
        assert_eq!(found, reason, "{name}");
    }
}

#[test]
fn too_many_fetch_ids_are_refused() {
    let at_limit = Request::Fetch { ids: vec![IdPrefix([0; ID_PREFIX_BYTES]); MAX_FETCH_IDS] };
    assert!(Request::decode(&at_limit.encode()).is_ok());
    let over = Request::Fetch { ids: vec![IdPrefix([0; ID_PREFIX_BYTES]); MAX_FETCH_IDS + 1] };
    assert_eq!(request_reason(&over.encode()), "too-many");
}

#[test]
fn too_many_events_in_a_response_are_refused() {
    let at_limit = Response::Events { events: vec![vec![]; MAX_FETCH_IDS] };
    assert!(Response::decode(&at_limit.encode()).is_ok());
    let over = Response::Events { events: vec![vec![]; MAX_FETCH_IDS + 1] };
    assert_eq!(response_reason(&over.encode()), "too-many");
}

#[test]
fn an_event_over_the_event_limit_is_refused_in_a_response() {
    let at_limit = Response::Events { events: vec![vec![0; MAX_EVENT_BYTES]] };
    assert!(Response::decode(&at_limit.encode()).is_ok());
    let over = Response::Events { events: vec![vec![0; MAX_EVENT_BYTES + 1]] };
    assert_eq!(response_reason(&over.encode()), "too-long");
}

#[test]
fn too_many_scope_designs_are_refused() {
    let scope = |n: usize| {
        let scope = Scope::designs((0..n as u32).map(|i| design(*Hash::of(&i.to_le_bytes()).as_bytes())));
        let Scope::Designs(prefixes) = &scope else { panic!("a scope of designs") };
        assert_eq!(prefixes.len(), n, "no two of these designs share a prefix");
        Request::Reconcile { session: 0, scope: Some(scope), message: vec![] }.encode()
    };
    assert!(Request::decode(&scope(MAX_SCOPE_DESIGNS)).is_ok());
    assert_eq!(request_reason(&scope(MAX_SCOPE_DESIGNS + 1)), "too-many");
}

#[test]
fn a_reconcile_message_over_its_limit_is_refused() {
    let request = |len: usize| Request::Reconcile { session: 7, scope: None, message: vec![0x61; len] }.encode();
    assert!(Request::decode(&request(MAX_RECONCILE_MESSAGE_BYTES)).is_ok());
    assert_eq!(request_reason(&request(MAX_RECONCILE_MESSAGE_BYTES + 1)), "too-long");
    let response = |len: usize| Response::Reconcile { message: vec![0x61; len] }.encode();
    assert!(Response::decode(&response(MAX_RECONCILE_MESSAGE_BYTES)).is_ok());
    assert_eq!(response_reason(&response(MAX_RECONCILE_MESSAGE_BYTES + 1)), "too-long");
}

#[test]
fn a_message_over_the_catchup_limit_is_refused_before_it_is_parsed() {
    // Otherwise valid events, too many bytes in all.
    let over = Response::Events { events: vec![vec![0; MAX_EVENT_BYTES]; 64] }.encode();
    assert!(over.len() > MAX_CATCHUP_MESSAGE_BYTES);
    assert_eq!(response_reason(&over), "too-large");
    let over = Request::Reconcile { session: 0, scope: None, message: vec![0; MAX_CATCHUP_MESSAGE_BYTES] }.encode();
    assert_eq!(request_reason(&over), "too-large");
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(request_reason(&[]), "empty");
    assert_eq!(response_reason(&[]), "empty");
}

// ---------------------------------------------------------------------------
// Id prefixes

/// An id that starts with `prefix` and goes on with `rest`.
fn id_with_prefix(prefix: [u8; ID_PREFIX_BYTES], rest: u8) -> [u8; 32] {
    let mut id = [rest; 32];
    id[..ID_PREFIX_BYTES].copy_from_slice(&prefix);
    id
}

#[test]
fn a_prefix_is_the_first_eight_bytes_of_an_id() {
    assert_eq!(ID_PREFIX_BYTES, 8);
    let id: [u8; 32] = std::array::from_fn(|i| i as u8);
    assert_eq!(IdPrefix::of(&id), IdPrefix([0, 1, 2, 3, 4, 5, 6, 7]));
    let s = sample();
    for e in &s.events {
        assert_eq!(IdPrefix::of(e.id().as_bytes()).0[..], e.id().as_bytes()[..8], "{}", e.id());
    }
}

#[test]
fn a_prefix_matches_exactly_the_ids_that_start_with_it() {
    let p = [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe];
    let prefix = IdPrefix(p);
    // Whatever follows the eighth byte.
    for rest in [0x00, 0x5a, 0xff] {
        assert!(prefix.matches(&id_with_prefix(p, rest)), "rest {rest:#04x}");
    }
    let mut id = id_with_prefix(p, 0x00);
    id[8..].copy_from_slice(&[0xee; 24]);
    assert!(prefix.matches(&id));
    // A change in any of the first eight bytes: no match.
    for i in 0..ID_PREFIX_BYTES {
        let mut other = id_with_prefix(p, 0x00);
        other[i] ^= 0x01;
        assert!(!prefix.matches(&other), "byte {i} differs");
    }
    assert!(IdPrefix::of(&id).matches(&id));
}

proptest! {
    #[test]
    fn a_prefix_matches_an_id_iff_their_first_eight_bytes_are_equal(
        prefix in any::<[u8; ID_PREFIX_BYTES]>(),
        id in any::<[u8; 32]>(),
    ) {
        prop_assert!(IdPrefix::of(&id).matches(&id));
        prop_assert_eq!(IdPrefix(prefix).matches(&id), id[..ID_PREFIX_BYTES] == prefix);
        prop_assert!(IdPrefix(prefix).matches(&id_with_prefix(prefix, id[31])));
    }
}

#[test]
fn prefixes_sort_bytewise_as_the_wire_requires() {
    // Bytewise, not as a number of either endianness.
    let low = IdPrefix([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let high = IdPrefix([0x01, 0, 0, 0, 0, 0, 0, 0x00]);
    assert!(low < high);
    let scope = Scope::designs([design(id_with_prefix(high.0, 0)), design(id_with_prefix(low.0, 0))]);
    assert_eq!(scope, Scope::Designs(vec![low, high]));
    let request = Request::Reconcile { session: 0, scope: Some(scope), message: vec![] };
    assert_eq!(Request::decode(&request.encode()), Ok(request));
}

#[test]
fn scope_designs_sorts_and_dedups_the_prefixes() {
    let s = sample();
    let [d1, d2] = s.designs;
    let (p1, p2) = (IdPrefix::of(d1.as_bytes()), IdPrefix::of(d2.as_bytes()));
    assert_eq!(Scope::designs([d2, d1]), Scope::Designs(vec![p1, p2]));
    assert_eq!(Scope::designs([d1, d2, d1, d2]), Scope::Designs(vec![p1, p2]));
    assert_eq!(Scope::designs([d1]), Scope::Designs(vec![p1]));
    assert_eq!(Scope::designs([]), Scope::Designs(vec![]));
    // Two designs that share a prefix are named once.
    let p = [9; ID_PREFIX_BYTES];
    assert_eq!(
        Scope::designs([design(id_with_prefix(p, 1)), design(id_with_prefix(p, 2))]),
        Scope::Designs(vec![IdPrefix(p)])
    );
}

#[test]
fn scope_covers_the_designs_it_names_and_any_sharing_their_prefix() {
    let s = sample();
    let [d1, d2] = s.designs;
    let other = design([0x77; 32]);
    assert!(Scope::All.covers(&d1) && Scope::All.covers(&other));
    let scope = Scope::designs([d1]);
    assert!(scope.covers(&d1));
    assert!(!scope.covers(&d2));
    assert!(!scope.covers(&other));
    let both = Scope::designs([d2, d1]);
    assert!(both.covers(&d1) && both.covers(&d2) && !both.covers(&other));
    assert!(!Scope::designs([]).covers(&d1));
    // A design whose id starts like d1's is covered too: catch-up then
    // reconciles its events as well (only an accident of 2^-64, or a
    // design made to collide).
    let mut twin = *d1.as_bytes();
    twin[31] ^= 0xff;
    assert!(scope.covers(&design(twin)));
    // A decoded scope covers what the sent one covers.
    let Request::Reconcile { scope: Some(decoded), .. } =
        Request::decode(&Request::Reconcile { session: 3, scope: Some(both), message: vec![] }.encode())
            .expect("decodes")
    else {
        panic!("a reconcile with a scope")
    };
    assert!(decoded.covers(&d1) && decoded.covers(&d2) && !decoded.covers(&other));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn scope_designs_covers_exactly_the_prefixes_of_its_designs(
        ids in proptest::collection::vec(any::<[u8; 32]>(), 0..50),
        probe in any::<[u8; 32]>(),
    ) {
        let scope = Scope::designs(ids.iter().copied().map(design));
        let Scope::Designs(prefixes) = &scope else { panic!("a scope of designs") };
        prop_assert!(prefixes.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        for id in &ids {
            prop_assert!(scope.covers(&design(*id)));
            prop_assert!(prefixes.contains(&IdPrefix::of(id)));
        }
        prop_assert_eq!(scope.covers(&design(probe)), ids.iter().any(|id| id[..8] == probe[..8]));
        let request = Request::Reconcile { session: 0, scope: Some(scope), message: vec![] };
        prop_assert_eq!(Request::decode(&request.encode()), Ok(request));
    }
}

#[test]
fn a_prefix_is_nine_bytes_on_the_wire() {
    let p = IdPrefix([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    // [1, [h'0011223344556677']]
    let fetch = Request::Fetch { ids: vec![p] }.encode();
    assert_eq!(fetch, [0x82, 0x01, 0x81, 0x48, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    // [0, 5, [1, [h'0011223344556677']], h'61']
    let reconcile =
        Request::Reconcile { session: 5, scope: Some(Scope::Designs(vec![p])), message: vec![0x61] }.encode();
    assert_eq!(
        reconcile,
        [0x84, 0x00, 0x05, 0x82, 0x01, 0x81, 0x48, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x41, 0x61]
    );
    // A full batch: 9 bytes a prefix (34 for a full id), plus the kind and
    // heads.
    let full = Request::Fetch { ids: vec![p; MAX_FETCH_IDS] }.encode();
    assert_eq!(full.len(), 1 + 1 + 3 + 9 * MAX_FETCH_IDS);
}

// ---------------------------------------------------------------------------
// events_response

#[test]
fn events_response_stops_before_the_message_limit() {
    let events: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; MAX_EVENT_BYTES]).collect();
    let Response::Events { events: sent } = events_response(events.iter().map(Vec::as_slice)) else {
        panic!("an events response");
    };
    let n = sent.len();
    assert_eq!(sent[..], events[..n], "the first events, in order");
    let bytes = Response::Events { events: sent }.encode();
    assert!(bytes.len() <= MAX_CATCHUP_MESSAGE_BYTES, "{} bytes", bytes.len());
    assert!(Response::decode(&bytes).is_ok());
    // As many as fit: one more would go over.
    let one_more = Response::Events { events: events[..=n].to_vec() }.encode();
    assert!(one_more.len() > MAX_CATCHUP_MESSAGE_BYTES, "{n} events sent, {} would fit", n + 1);
    assert_eq!(n, 63);
}

#[test]
fn events_response_never_holds_more_than_the_fetch_limit() {
    let events = vec![vec![0xa0u8; 10]; 3 * MAX_FETCH_IDS];
    let response = events_response(events.iter().map(Vec::as_slice));
    let Response::Events { events: sent } = &response else { panic!("an events response") };
    assert_eq!(sent.len(), MAX_FETCH_IDS);
    assert_eq!(Response::decode(&response.encode()).as_ref(), Ok(&response));
}

#[test]
fn events_response_of_nothing_is_empty() {
    assert_eq!(events_response(std::iter::empty()), Response::Events { events: vec![] });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sizes up to the event limit: a prefix of the input, within both
    /// limits, decodable, and stopping only when the next event would not
    /// fit (give or take the few bytes of heads the budget assumes).
    #[test]
    fn events_response_sends_a_prefix_that_fits(sizes in proptest::collection::vec(0..=MAX_EVENT_BYTES, 0..150)) {
        let events: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0x5a; n]).collect();
        let response = events_response(events.iter().map(Vec::as_slice));
        let Response::Events { events: sent } = &response else { panic!("an events response") };
        let n = sent.len();
        prop_assert!(n <= MAX_FETCH_IDS);
        prop_assert_eq!(&sent[..], &events[..n]);
        let bytes = response.encode();
        prop_assert!(bytes.len() <= MAX_CATCHUP_MESSAGE_BYTES);
        prop_assert_eq!(Response::decode(&bytes), Ok(response.clone()));
        if n < events.len().min(MAX_FETCH_IDS) {
            let one_more = Response::Events { events: events[..=n].to_vec() }.encode();
            // The budget counts 5 bytes of head per event and 6 for the
            // message's own heads; the real heads are at least 1 and 3.
            let slack = 4 * (n + 1) + 3;
            prop_assert!(one_more.len() + slack > MAX_CATCHUP_MESSAGE_BYTES);
        }
    }
}

// ---------------------------------------------------------------------------
// Shards and topics

#[test]
fn shard_is_the_first_two_bytes_little_endian_modulo_the_shard_count() {
    assert_eq!(GOSSIP_SHARDS, 64);
    // 0x2a, 0x01 little-endian is 0x012a = 298, and 298 = 4 * 64 + 42.
    let mut id = [0xee; 32];
    id[0] = 0x2a;
    id[1] = 0x01;
    assert_eq!(shard(&design(id)), 42);
    // 0xffff = 65535 = 1023 * 64 + 63.
    assert_eq!(shard(&design([0xff; 32])), 63);
    // 0x0040 = 64: shard 0. Only the first two bytes count.
    let mut id = [0x11; 32];
    id[0] = 0x40;
    id[1] = 0x00;
    assert_eq!(shard(&design(id)), 0);
    assert_eq!(shard(&design([0; 32])), 0);
    assert_eq!(shard_topic(42), "communs/1/shard/42");
    assert_eq!(shard_topic(0), format!("{SHARD_TOPIC_PREFIX}0"));
}

proptest! {
    #[test]
    fn shard_is_deterministic_and_in_range(id in any::<[u8; 32]>()) {
        let s = shard(&design(id));
        prop_assert!(s < GOSSIP_SHARDS);
        prop_assert_eq!(s, shard(&design(id)));
        prop_assert_eq!(u32::from(s), u32::from(u16::from_le_bytes([id[0], id[1]])) % u32::from(GOSSIP_SHARDS));
    }
}

#[test]
fn a_genesis_goes_to_the_announce_topic_and_other_events_to_their_shard() {
    let s = sample();
    let [g1, g2, r1, approve] = &s.events[..] else { panic!("four sample events") };
    for g in [g1, g2] {
        assert_eq!(topic_of(g), ANNOUNCE_TOPIC);
        assert!(topic_matches(g, ANNOUNCE_TOPIC));
        assert!(!topic_matches(g, &shard_topic(shard(&g.design()))));
    }
    for e in [r1, approve] {
        let topic = shard_topic(shard(&g1.design()));
        assert_eq!(topic_of(e), topic);
        assert!(topic_matches(e, &topic));
        assert!(!topic_matches(e, ANNOUNCE_TOPIC));
        assert!(!topic_matches(e, &shard_topic((shard(&g1.design()) + 1) % GOSSIP_SHARDS)));
    }
}
