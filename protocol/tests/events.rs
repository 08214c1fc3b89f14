//! Signed events: the spec vectors, canonical round trips, and the
//! guarantee that no altered event is ever accepted.

mod support;

use communs_protocol::bulk::BulkVerifier;
use communs_protocol::cbor::{self, Value};
use communs_protocol::event::{EVENT_SIGNING_DOMAIN, EventError};
use communs_protocol::limits::{MAX_AVATAR_BYTES, MAX_COMMENT_BYTES};
use communs_protocol::limits::{MAX_EVENT_BYTES, MAX_NAME_BYTES};
use communs_protocol::{
    Attachment, Body, Change, Comment, DesignId, EventId, Genesis, Hash, MakeReport, Outcome, Profile, SecretKey,
    SignedEvent, UnsignedEvent, hash::BlobHash,
};
use proptest::prelude::*;
use serde_json::json;
use support::{TIME, child, genesis, key, revision};

/// A small log touching every body kind: the events of spec/vectors/event.json.
fn sample_log() -> Vec<(&'static str, SignedEvent)> {
    let (alice, bob) = (key(1), key(2));
    let g = genesis(&alice, &[alice.author(), bob.author()], 1);
    let r1 = child(&alice, &[&g], revision(1, &[], "First version"));
    let r2 = child(&bob, &[&r1], revision(2, &[r1.id()], "Thicker band for PETG"));
    let approve = child(&alice, &[&r2], Body::Approve { target: r2.id() });
    let retract = child(&alice, &[&approve], Body::Retract { target: r2.id() });
    let propose = child(&bob, &[&retract], Body::Propose { prev: g.id(), change: Change::SetThreshold(2) });
    let add =
        child(&alice, &[&propose], Body::Propose { prev: g.id(), change: Change::AddMaintainer(key(3).author()) });
    let remove =
        child(&alice, &[&propose], Body::Propose { prev: g.id(), change: Change::RemoveMaintainer(bob.author()) });
    let merge = child(&bob, &[&add, &remove], Body::Approve { target: add.id() });
    let fork = UnsignedEvent {
        design: None,
        author: key(3).author(),
        parents: vec![],
        clock: 0,
        time: TIME + 5000,
        body: Body::Genesis(Genesis {
            name: "Face shield headband, long visor".to_owned(),
            maintainers: vec![key(3).author()],
            threshold: 1,
            license: "CERN-OHL-S-2.0".to_owned(),
            fork_of: Some((g.design(), r1.id())),
            nonce: [9; 16],
        }),
    }
    .sign(&key(3))
    .expect("fork genesis signs");
    let photo = |name: &str, n: u8, size: u64| Attachment {
        name: name.to_owned(),
        blob: BlobHash(Hash::from_bytes([n; 32])),
        size,
    };
    let comment = child(
        &bob,
        &[&merge],
        Body::Comment(Comment {
            on: Some(r2.id()),
            text: "Printed at 0.3 mm layers:\n\n- the band holds\n- the visor clips are tight".to_owned(),
            attachments: vec![photo("band.jpg", 7, 48_213)],
        }),
    );
    let stranger = key(4);
    let reply = child(
        &stranger,
        &[&merge],
        Body::Comment(Comment { on: Some(comment.id()), text: "Same here in PLA.".to_owned(), attachments: vec![] }),
    );
    let made = child(
        &stranger,
        &[&merge],
        Body::MakeReport(MakeReport {
            revision: r2.id(),
            outcome: Outcome::WorkedWithChanges,
            process: "FDM printing".to_owned(),
            machine: "Prusa MK4".to_owned(),
            material: "PETG".to_owned(),
            settings: vec![("infill".to_owned(), "20 %".to_owned()), ("layer height".to_owned(), "0.3 mm".to_owned())],
            notes: "Widened the clip by 0.2 mm.".to_owned(),
            photos: vec![photo("front.jpg", 8, 1_048_576), photo("side.jpg", 9, 912_004)],
        }),
    );
    let profile = UnsignedEvent {
        design: None,
        author: alice.author(),
        parents: vec![],
        clock: 1,
        time: TIME + 9000,
        body: Body::Profile(Profile {
            name: "Ada Lovelace".to_owned(),
            bio: "Prints face shields at the fablab.".to_owned(),
            place: "La Fabrique, Lyon".to_owned(),
            links: vec!["https://ada.example.org".to_owned()],
            avatar: Some(photo("avatar.png", 10, 20_480)),
        }),
    }
    .sign(&alice)
    .expect("profile signs");
    vec![
        ("genesis, two maintainers, threshold 1", g),
        ("first revision", r1),
        ("revision by another maintainer", r2),
        ("approve", approve),
        ("retract", retract),
        ("propose set-threshold 2", propose),
        ("propose add-maintainer", add),
        ("propose remove-maintainer", remove),
        ("approve with two parents", merge),
        ("genesis of a remix (fork_of)", fork),
        ("comment on a revision, with a photo", comment),
        ("reply to a comment, by a non-maintainer", reply),
        ("make report with settings and photos", made),
        ("profile with an avatar", profile),
    ]
}

/// Re-encodes a valid event after `edit` changes its CBOR value: canonical
/// bytes whose content breaks one rule.
fn mutate(event: &SignedEvent, edit: impl FnOnce(&mut Vec<Value>)) -> Vec<u8> {
    let Ok(Value::Array(mut items)) = cbor::decode(event.bytes(), MAX_EVENT_BYTES) else {
        panic!("a signed event decodes to an array");
    };
    edit(&mut items);
    cbor::encode(&Value::Array(items))
}

fn body_items(items: &mut [Value]) -> &mut Vec<Value> {
    match &mut items[6] {
        Value::Array(body) => body,
        _ => panic!("body is an array"),
    }
}

fn rejected_vectors() -> Vec<(&'static str, Vec<u8>)> {
    let log = sample_log();
    let g = &log[0].1;
    let approve = &log[3].1;
    let propose = &log[5].1;
    let merge = &log[8].1;
    let comment = &log[10].1;
    let made = &log[12].1;
    let profile = &log[13].1;
    let comment_text = |text: &str| mutate(comment, |i| body_items(i)[2] = Value::Text(text.to_owned()));
    let attachment = |name: &str, size: u64| {
        Value::Array(vec![Value::Text(name.to_owned()), Value::Bytes(vec![7; 32]), Value::Integer(size.into())])
    };
    let name = |text: &str| mutate(g, |i| body_items(i)[1] = Value::Text(text.to_owned()));
    let mut flipped_signature = g.bytes().to_vec();
    *flipped_signature.last_mut().expect("non-empty") ^= 1;
    let mut trailing = g.bytes().to_vec();
    trailing.push(0);
    let mut non_minimal_clock = approve.bytes().to_vec();
    // The clock item of `approve` (3) sits after the head, version, design
    // and author (1 + 1 + 34 + 34), then the parents array (1 + 34).
    let at = 1 + 1 + 34 + 34 + 35;
    assert_eq!(non_minimal_clock[at], 0x03, "clock position in the vector");
    non_minimal_clock.splice(at..=at, [0x18, 0x03]);
    vec![
        ("signature altered", flipped_signature),
        ("trailing byte after the event", trailing),
        ("clock written with a non-minimal integer", non_minimal_clock),
        ("unknown version 2", mutate(g, |i| i[0] = Value::Integer(2.into()))),
        ("unknown body kind 9", mutate(approve, |i| body_items(i)[0] = Value::Integer(9.into()))),
        (
            "author replaced by another key",
            mutate(approve, |i| i[2] = Value::Bytes(key(2).author().as_bytes().to_vec())),
        ),
        ("author is a weak (small-order) key", mutate(approve, |i| i[2] = Value::Bytes(vec![0; 32]))),
        (
            "parents out of order",
            mutate(merge, |i| {
                if let Value::Array(p) = &mut i[3] {
                    p.reverse();
                }
            }),
        ),
        ("genesis with a parent", mutate(g, |i| i[3] = Value::Array(vec![Value::Bytes(vec![1; 32])]))),
        ("event other than genesis without a design", mutate(approve, |i| i[1] = Value::Null)),
        ("genesis threshold 0", mutate(g, |i| body_items(i)[3] = Value::Integer(0.into()))),
        (
            "genesis threshold above the number of maintainers",
            mutate(g, |i| body_items(i)[3] = Value::Integer(3.into())),
        ),
        (
            "genesis author not a maintainer",
            mutate(g, |i| {
                body_items(i)[2] = Value::Array(vec![Value::Bytes(key(2).author().as_bytes().to_vec())]);
            }),
        ),
        ("genesis license not SPDX", mutate(g, |i| body_items(i)[4] = Value::Text("CERN OHL".into()))),
        ("genesis name empty", name("")),
        ("genesis name of spaces only", name("   ")),
        ("genesis name ending with a space", name("Face shield ")),
        ("genesis name with a line feed", name("Face\nshield")),
        ("genesis name with a terminal escape", name("Face \u{1b}[2Jshield")),
        ("genesis name with a C1 control (U+0085)", name("Face\u{85}shield")),
        ("genesis name one byte over MAX_NAME_BYTES", name(&"x".repeat(MAX_NAME_BYTES + 1))),
        (
            "propose with unknown change kind 3",
            mutate(propose, |i| {
                body_items(i)[2] = Value::Array(vec![Value::Integer(3.into()), Value::Bytes(vec![1; 32])]);
            }),
        ),
        (
            "propose set-threshold 0",
            mutate(propose, |i| {
                body_items(i)[2] = Value::Array(vec![Value::Integer(2.into()), Value::Integer(0.into())]);
            }),
        ),
        ("comment text empty", comment_text("")),
        ("comment text with a terminal escape", comment_text("ok \u{1b}[2J")),
        ("comment text one byte over MAX_COMMENT_BYTES", comment_text(&"x".repeat(MAX_COMMENT_BYTES + 1))),
        (
            "comment attachment name with a folder",
            mutate(comment, |i| body_items(i)[3] = Value::Array(vec![attachment("photos/band.jpg", 10)])),
        ),
        (
            "comment attachment name ..",
            mutate(comment, |i| body_items(i)[3] = Value::Array(vec![attachment("..", 10)])),
        ),
        (
            "comment attachments out of order",
            mutate(comment, |i| body_items(i)[3] = Value::Array(vec![attachment("b.jpg", 1), attachment("a.jpg", 1)])),
        ),
        (
            "comment attachment over MAX_ATTACHMENT_BYTES",
            mutate(comment, |i| body_items(i)[3] = Value::Array(vec![attachment("a.jpg", 16 * 1024 * 1024 + 1)])),
        ),
        ("make report outcome 3", mutate(made, |i| body_items(i)[2] = Value::Integer(3.into()))),
        (
            "make report settings out of order",
            mutate(made, |i| {
                if let Value::Array(settings) = &mut body_items(i)[6] {
                    settings.reverse();
                }
            }),
        ),
        ("make report material with a line feed", mutate(made, |i| body_items(i)[5] = Value::Text("PE\nTG".into()))),
        ("profile avatar of 50 MB", mutate(profile, |i| body_items(i)[5] = attachment("avatar.png", 50 * 1000 * 1000))),
        (
            "profile avatar one byte over MAX_AVATAR_BYTES",
            mutate(profile, |i| body_items(i)[5] = attachment("avatar.png", MAX_AVATAR_BYTES + 1)),
        ),
        ("profile with a design", mutate(profile, |i| i[1] = Value::Bytes(vec![1; 32]))),
        ("profile with clock 0", mutate(profile, |i| i[4] = Value::Integer(0.into()))),
        ("profile name empty", mutate(profile, |i| body_items(i)[1] = Value::Text(String::new()))),
        (
            "profile link not a web address",
            mutate(profile, |i| body_items(i)[4] = Value::Array(vec![Value::Text("javascript:alert(1)".into())])),
        ),
        ("signature of 63 bytes", mutate(g, |i| i[7] = Value::Bytes(vec![0; 63]))),
        ("event over the size limit", {
            let mut huge = g.bytes().to_vec();
            huge.resize(MAX_EVENT_BYTES + 1, 0);
            huge
        }),
    ]
}

fn expected_reason(name: &str) -> &'static str {
    match name {
        "signature altered" | "author replaced by another key" => "bad-signature",
        "trailing byte after the event" => "trailing-bytes",
        "clock written with a non-minimal integer" => "non-minimal",
        "unknown version 2" => "unknown-version",
        "unknown body kind 9" => "unknown-kind",
        "author is a weak (small-order) key" => "bad-key",
        "parents out of order" => "not-sorted-unique",
        "genesis with a parent" | "event other than genesis without a design" => "lineage",
        "genesis threshold 0" | "genesis threshold above the number of maintainers" => "threshold",
        "genesis author not a maintainer" => "author-not-maintainer",
        "genesis license not SPDX" => "license",
        "genesis name empty" => "empty-field",
        "genesis name of spaces only" | "genesis name ending with a space" => "surrounding-whitespace",
        "genesis name with a line feed"
        | "genesis name with a terminal escape"
        | "genesis name with a C1 control (U+0085)" => "control-character",
        "genesis name one byte over MAX_NAME_BYTES" => "too-long",
        "propose with unknown change kind 3" => "unknown-kind",
        "propose set-threshold 0" => "threshold",
        "comment text empty" | "profile name empty" => "empty-field",
        "comment text with a terminal escape" | "make report material with a line feed" => "control-character",
        "comment text one byte over MAX_COMMENT_BYTES" => "too-long",
        "comment attachment name with a folder" | "comment attachment name .." => "attachment-name",
        "comment attachments out of order" | "make report settings out of order" => "not-sorted-unique",
        "comment attachment over MAX_ATTACHMENT_BYTES"
        | "profile avatar of 50 MB"
        | "profile avatar one byte over MAX_AVATAR_BYTES" => "attachment-too-large",
        "make report outcome 3" => "unknown-kind",
        "profile with a design" | "profile with clock 0" => "lineage",
        "profile link not a web address" => "bad-url",
        "signature of 63 bytes" => "shape",
        "event over the size limit" => "too-large",
        other => panic!("no expected reason for {other}"),
    }
}

fn describe(event: &SignedEvent) -> serde_json::Value {
    let e = event.event();
    let body = match e.body.clone() {
        Body::Genesis(g) => json!({
            "kind": "genesis", "name": g.name, "threshold": g.threshold, "license": g.license,
            "maintainers": g.maintainers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "fork_of": g.fork_of.map(|(d, r)| json!([d.to_string(), r.to_string()])),
            "nonce": hex::encode(g.nonce),
        }),
        Body::Revision(r) => json!({
            "kind": "revision", "tree": r.tree.to_string(), "manifest_hex": hex::encode(cbor::encode(&r.manifest.to_value())),
            "base": r.base.iter().map(ToString::to_string).collect::<Vec<_>>(), "message": r.message,
        }),
        Body::Approve { target } => json!({ "kind": "approve", "target": target.to_string() }),
        Body::Retract { target } => json!({ "kind": "retract", "target": target.to_string() }),
        Body::Propose { prev, change } => json!({ "kind": "propose", "prev": prev.to_string(), "change": match change {
            Change::AddMaintainer(a) => json!({ "add-maintainer": a.to_string() }),
            Change::RemoveMaintainer(a) => json!({ "remove-maintainer": a.to_string() }),
            Change::SetThreshold(n) => json!({ "set-threshold": n }),
        }}),
        Body::Comment(c) => json!({
            "kind": "comment", "on": c.on.map(|on| on.to_string()), "text": c.text,
            "attachments": c.attachments.iter().map(describe_attachment).collect::<Vec<_>>(),
        }),
        Body::MakeReport(m) => json!({
            "kind": "make-report", "revision": m.revision.to_string(), "outcome": m.outcome.as_str(),
            "process": m.process, "machine": m.machine, "material": m.material,
            "settings": m.settings.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(), "notes": m.notes,
            "photos": m.photos.iter().map(describe_attachment).collect::<Vec<_>>(),
        }),
        Body::Profile(p) => json!({
            "kind": "profile", "name": p.name, "bio": p.bio, "place": p.place, "links": p.links,
            "avatar": p.avatar.as_ref().map(describe_attachment),
        }),
    };
    let design = match e.body {
        Body::Profile(_) => None,
        _ => Some(event.design().to_string()),
    };
    json!({
        "design": design,
        "author": e.author.to_string(),
        "parents": e.parents.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "clock": e.clock,
        "time": e.time,
        "body": body,
    })
}

fn describe_attachment(a: &Attachment) -> serde_json::Value {
    json!({ "name": a.name, "blob": a.blob.to_string(), "size": a.size })
}

#[test]
fn spec_vectors_match_the_code() {
    let accepted: Vec<_> = sample_log()
        .into_iter()
        .map(|(name, e)| {
            json!({
                "name": name,
                "signer_seed": hex::encode([(1..=4u8).find(|&n| key(n).author() == e.author()).expect("a test key"); 32]),
                "fields": describe(&e),
                "hex": hex::encode(e.bytes()),
                "id": e.id().to_string(),
                "signature": hex::encode(e.signature().0),
            })
        })
        .collect();
    let rejected: Vec<_> = rejected_vectors()
        .into_iter()
        .map(|(name, bytes)| json!({ "name": name, "hex": hex::encode(bytes), "reason": expected_reason(name) }))
        .collect();
    support::check_or_bless(
        "event.json",
        &json!({
            "description": "Signed events (spec/events.md). Each accepted 'hex' decodes, verifies, and hashes to 'id'; each rejected 'hex' is refused with 'reason'.",
            "signing_domain": String::from_utf8_lossy(EVENT_SIGNING_DOMAIN),
            "accepted": accepted,
            "rejected": rejected,
        }),
    );
}

#[test]
fn stored_vectors_decode_to_their_ids_and_rejects_fail_for_their_reason() {
    let vectors = support::load("event.json");
    for v in vectors["accepted"].as_array().expect("accepted") {
        let bytes = support::unhex(support::str_field(v, "hex"));
        let event = SignedEvent::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", v["name"]));
        assert_eq!(event.id().to_string(), support::str_field(v, "id"));
        assert_eq!(hex::encode(event.signature().0), support::str_field(v, "signature"));
        assert_eq!(describe(&event), v["fields"]);
    }
    for v in vectors["rejected"].as_array().expect("rejected") {
        let bytes = support::unhex(support::str_field(v, "hex"));
        let err = SignedEvent::decode(&bytes).expect_err(support::str_field(v, "name"));
        assert_eq!(err.reason(), support::str_field(v, "reason"), "{}: {err}", v["name"]);
    }
}

#[test]
fn every_single_bit_flip_of_every_sample_event_is_rejected() {
    for (name, event) in sample_log() {
        let bytes = event.bytes();
        for bit in 0..bytes.len() * 8 {
            let mut altered = bytes.to_vec();
            altered[bit / 8] ^= 1 << (bit % 8);
            assert!(SignedEvent::decode(&altered).is_err(), "{name}: flipping bit {bit} was accepted");
        }
    }
}

#[test]
fn signing_with_another_key_than_the_author_is_refused() {
    let g = genesis(&key(1), &[key(1).author()], 1);
    let unsigned = UnsignedEvent { author: key(1).author(), ..g.event().clone() };
    assert!(matches!(unsigned.sign(&key(2)), Err(EventError::WrongKey { .. })));
}

#[test]
fn sets_are_sorted_and_deduplicated_when_signing() {
    let (a, b) = (key(1), key(2));
    let g = genesis(&a, &[b.author(), a.author(), b.author()], 1);
    let Body::Genesis(body) = g.body() else { panic!("genesis") };
    let mut expected = vec![a.author(), b.author()];
    expected.sort();
    assert_eq!(body.maintainers, expected);
}

#[test]
fn parent_rules_check_design_and_clock() {
    let a = key(1);
    let g = genesis(&a, &[a.author()], 1);
    let r = child(&a, &[&g], revision(1, &[], "v1"));
    r.check_parents(&[&g]).expect("right parents");
    assert!(matches!(r.check_parents(&[]), Err(EventError::ParentsMismatch)));

    let wrong_clock = UnsignedEvent { clock: 5, ..r.event().clone() }.sign(&a).expect("signs");
    assert!(matches!(wrong_clock.check_parents(&[&g]), Err(EventError::Clock { found: 5, expected: 1 })));

    let other = genesis(&key(2), &[key(2).author()], 1);
    let foreign = UnsignedEvent { parents: vec![other.id()], ..r.event().clone() }.sign(&a).expect("signs");
    assert!(matches!(foreign.check_parents(&[&other]), Err(EventError::ParentOfOtherDesign { .. })));
}

#[test]
fn a_genesis_names_its_own_design() {
    let g = genesis(&key(1), &[key(1).author()], 1);
    assert_eq!(g.design(), DesignId::from_genesis(g.id()));
    assert_eq!(g.design().to_string().parse::<DesignId>(), Ok(g.design()));
}

fn arbitrary_body() -> impl Strategy<Value = Body> {
    let id = any::<[u8; 32]>().prop_map(|b| EventId::from_hash(communs_protocol::Hash::from_bytes(b)));
    let ids = proptest::collection::vec(id.clone(), 0..5);
    prop_oneof![
        (any::<u8>(), ids, ".{0,40}").prop_map(|(seed, base, msg)| revision(seed, &base, &msg)),
        id.clone().prop_map(|target| Body::Approve { target }),
        id.clone().prop_map(|target| Body::Retract { target }),
        (id.clone(), 1u8..4)
            .prop_map(|(prev, k)| Body::Propose { prev, change: Change::AddMaintainer(key(k).author()) }),
        (id.clone(), 1u8..4)
            .prop_map(|(prev, k)| Body::Propose { prev, change: Change::RemoveMaintainer(key(k).author()) }),
        (id, 1u64..100).prop_map(|(prev, n)| Body::Propose { prev, change: Change::SetThreshold(n) }),
    ]
}

fn arbitrary_event() -> impl Strategy<Value = SignedEvent> {
    let id = any::<[u8; 32]>().prop_map(|b| EventId::from_hash(communs_protocol::Hash::from_bytes(b)));
    (1u8..4, proptest::collection::vec(id, 1..6), 1u64..u64::MAX, any::<u64>(), arbitrary_body(), any::<[u8; 32]>())
        .prop_map(|(k, parents, clock, time, body, design)| {
            UnsignedEvent {
                design: Some(DesignId::from_hash(communs_protocol::Hash::from_bytes(design))),
                author: key(k).author(),
                parents,
                clock,
                time,
                body,
            }
            .sign(&key(k))
            .expect("generated events are valid")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn signed_events_round_trip_byte_for_byte(event in arbitrary_event()) {
        let decoded = SignedEvent::decode(event.bytes()).expect("a signed event decodes");
        prop_assert_eq!(decoded.bytes(), event.bytes());
        prop_assert_eq!(decoded.id(), event.id());
        prop_assert_eq!(&decoded, &event);
        // The encoding is the canonical CBOR of the decoded value.
        let value = cbor::decode(event.bytes(), MAX_EVENT_BYTES).expect("canonical");
        prop_assert_eq!(cbor::encode(&value), event.bytes().to_vec());
    }

    #[test]
    fn flipping_any_bit_of_a_signed_event_makes_it_rejected(event in arbitrary_event(), bit in any::<proptest::sample::Index>()) {
        let mut altered = event.bytes().to_vec();
        let bit = bit.index(altered.len() * 8);
        altered[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(SignedEvent::decode(&altered).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_event_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = SignedEvent::decode(&bytes);
    }
}

#[test]
fn decoding_many_on_several_threads_gives_what_decoding_one_by_one_gives_in_order() {
    let mut records: Vec<Vec<u8>> = Vec::new();
    // Enough records for every thread to get some, valid and not mixed.
    for round in 0..40 {
        records.extend(sample_log().into_iter().map(|(_, e)| e.bytes().to_vec()));
        records.extend(rejected_vectors().into_iter().skip(round % 3).map(|(_, bytes)| bytes));
    }
    let one_by_one: Vec<_> = records.iter().map(|bytes| SignedEvent::decode(bytes)).collect();
    for threads in [1, 2, 3, 8] {
        let verifier = BulkVerifier::new(std::num::NonZeroUsize::new(threads).expect("non-zero"));
        let many = verifier.decode_many(&records);
        assert_eq!(many, one_by_one, "{threads} threads");
    }
    assert!(BulkVerifier::new(std::num::NonZeroUsize::MIN).decode_many(&[]).is_empty());
}

/// `count` events signed by one author (geneses, each valid alone).
fn one_authors_events(key: &SecretKey, count: u64) -> Vec<SignedEvent> {
    (0..count)
        .map(|n| {
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&n.to_le_bytes());
            UnsignedEvent {
                design: None,
                author: key.author(),
                parents: vec![],
                clock: 0,
                time: 1_767_225_600_000,
                body: Body::Genesis(Genesis {
                    name: format!("Design {n}"),
                    maintainers: vec![key.author()],
                    threshold: 1,
                    license: "CERN-OHL-S-2.0".into(),
                    fork_of: None,
                    nonce,
                }),
            }
            .sign(key)
            .expect("a valid genesis signs")
        })
        .collect()
}

#[test]
fn a_verifier_kept_between_bulks_gives_the_answers_of_a_fresh_decode() {
    // Enough events by one author for each thread to build its table of
    // the author's key in the first bulk and use it in the next ones.
    let key = SecretKey::from_bytes(&[9; 32]);
    let events = one_authors_events(&key, 300);
    let valid: Vec<Vec<u8>> = events.iter().map(|e| e.bytes().to_vec()).collect();
    // The same events with a bit of the signature or of the body flipped.
    let tampered: Vec<Vec<u8>> = valid
        .iter()
        .enumerate()
        .map(|(n, bytes)| {
            let mut bytes = bytes.clone();
            let at = if n % 2 == 0 { bytes.len() - 1 - n % 64 } else { bytes.len() / 2 };
            bytes[at] ^= 1 << (n % 8);
            bytes
        })
        .collect();
    let verifier = BulkVerifier::new(std::num::NonZeroUsize::new(2).expect("non-zero"));
    for bulk in [&valid, &tampered, &valid, &tampered] {
        let expected: Vec<_> = bulk.iter().map(|bytes| SignedEvent::decode(bytes)).collect();
        assert_eq!(verifier.decode_many(bulk), expected);
        let trusted: Vec<SignedEvent> = bulk.iter().filter_map(|b| SignedEvent::decode_trusted(b).ok()).collect();
        let never = std::sync::atomic::AtomicBool::new(false);
        assert_eq!(verifier.verify_all(&trusted, &never), expected.iter().all(Result::is_ok));
    }
    assert!(verifier.decode_many(&valid).iter().all(Result::is_ok));
}

#[test]
fn verifying_events_decoded_trusted_gives_what_decoding_them_gives() {
    let mut records: Vec<Vec<u8>> = Vec::new();
    for round in 0..40 {
        records.extend(sample_log().into_iter().map(|(_, e)| e.bytes().to_vec()));
        records.extend(rejected_vectors().into_iter().skip(round % 3).map(|(_, bytes)| bytes));
    }
    // Every byte of some valid events altered in turn: a signature, a key,
    // or any other field that still decodes without verification.
    for (_, event) in sample_log().into_iter().take(3) {
        for at in 0..event.bytes().len() {
            let mut altered = event.bytes().to_vec();
            altered[at] ^= 0x01;
            records.push(altered);
        }
    }
    let (trusted, expected): (Vec<SignedEvent>, Vec<Result<(), EventError>>) = records
        .iter()
        .filter_map(|bytes| {
            let trusted = SignedEvent::decode_trusted(bytes).ok()?;
            Some((trusted, SignedEvent::decode(bytes).map(|_| ())))
        })
        .unzip();
    assert!(expected.iter().any(Result::is_ok) && expected.iter().any(Result::is_err));
    let never = std::sync::atomic::AtomicBool::new(false);
    for (event, expected) in trusted.iter().zip(&expected) {
        let alone = BulkVerifier::new(std::num::NonZeroUsize::MIN).verify_all(std::slice::from_ref(event), &never);
        assert_eq!(alone, expected.is_ok(), "{:?}", expected);
    }
    let valid: Vec<SignedEvent> =
        trusted.iter().zip(&expected).filter(|(_, e)| e.is_ok()).map(|(t, _)| t.clone()).collect();
    for threads in [1, 2, 3, 8] {
        let verifier = BulkVerifier::new(std::num::NonZeroUsize::new(threads).expect("non-zero"));
        assert!(verifier.verify_all(&valid, &never), "{threads} threads");
        assert!(!verifier.verify_all(&trusted, &never), "{threads} threads");
        // Told to stop: not all verified.
        let stop = std::sync::atomic::AtomicBool::new(true);
        assert!(!verifier.verify_all(&valid, &stop));
    }
    assert!(BulkVerifier::new(std::num::NonZeroUsize::MIN).verify_all(&[], &never));
}
