//! The bundle framing (spec/bundle.md "Layout") against
//! spec/vectors/bundle.json: each accepted bundle reads to its records in
//! chunks of any size, each damaged one fails with its reason.

mod support;

use communs_protocol::bundle::{self, FramingError, HEAD_BYTES, MAGIC, head, kind};
use communs_protocol::hash::BlobHash;
use communs_protocol::limits::{MAX_BLOB_BYTES, MAX_EVENT_BYTES};
use serde_json::{Value, json};
use support::{check_or_bless, key, str_field, unhex};

fn blob(bytes: &[u8]) -> (BlobHash, &[u8]) {
    (BlobHash(communs_protocol::Hash::from_bytes(*blake3::hash(bytes).as_bytes())), bytes)
}

/// Replaces a bundle's end record with the right one for what precedes it.
fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    let digest = blake3::hash(&body);
    body.extend_from_slice(&head(kind::END, 32));
    body.extend_from_slice(digest.as_bytes());
    body
}

fn generate() -> Value {
    let genesis = support::genesis(&key(1), &[key(1).author()], 1);
    let file = b"# Face shield\n".as_slice();
    let accepted = [
        ("empty: the magic and the end record only", bundle::encode(&[], &[])),
        ("one event and two blobs, one of them empty", bundle::encode(&[genesis.bytes()], &[blob(file), blob(b"")])),
        ("a blob before an event (any order)", {
            let mut body = MAGIC.to_vec();
            let (hash, bytes) = blob(file);
            body.extend_from_slice(&head(kind::BLOB, 32 + bytes.len() as u64));
            body.extend_from_slice(hash.as_bytes());
            body.extend_from_slice(bytes);
            body.extend_from_slice(&head(kind::EVENT, genesis.bytes().len() as u64));
            body.extend_from_slice(genesis.bytes());
            reseal(body)
        }),
    ];
    let good = bundle::encode(&[genesis.bytes()], &[blob(file)]);
    let without_end = good[..good.len() - HEAD_BYTES - 32].to_vec();
    let mut wrong_digest = good.clone();
    *wrong_digest.last_mut().expect("bytes") ^= 1;
    let with_record = |kind_byte: u8, len: u64, payload: &[u8]| {
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&head(kind_byte, len));
        body.extend_from_slice(payload);
        reseal(body)
    };
    let rejected: Vec<(&str, Vec<u8>, FramingError)> = vec![
        ("another file's first bytes", b"PK\x03\x04 not a bundle at all".to_vec(), FramingError::NotABundle),
        ("the magic of another version", b"communs-bundle/2\n".to_vec(), FramingError::NotABundle),
        ("the magic cut short", MAGIC[..10].to_vec(), FramingError::NotABundle),
        ("no end record", without_end.clone(), FramingError::Truncated),
        ("a record head cut short", without_end[..without_end.len() - 3].to_vec(), FramingError::Truncated),
        ("an end record whose hash differs", wrong_digest, FramingError::EndMismatch),
        (
            "an end record of another length",
            {
                let mut body = MAGIC.to_vec();
                body.extend_from_slice(&head(kind::END, 31));
                body
            },
            FramingError::EndMismatch,
        ),
        ("a byte after the end record", [good.clone(), vec![0]].concat(), FramingError::TrailingBytes),
        (
            "an event over MAX_EVENT_BYTES",
            with_record(kind::EVENT, MAX_EVENT_BYTES as u64 + 1, b""),
            FramingError::EventTooLarge,
        ),
        ("a blob record shorter than its hash", with_record(kind::BLOB, 31, &[0; 31]), FramingError::BlobLength),
        ("a blob over MAX_BLOB_BYTES", with_record(kind::BLOB, 33 + MAX_BLOB_BYTES, b""), FramingError::BlobLength),
        ("a record of kind 3", with_record(3, 0, b""), FramingError::UnknownKind(3)),
    ];
    json!({
        "accepted": accepted.iter().map(|(what, bytes)| {
            let (events, blobs) = bundle::read_all(bytes, bytes.len()).expect("an accepted vector reads");
            json!({
                "what": what,
                "bundle": hex::encode(bytes),
                "events": events.iter().map(hex::encode).collect::<Vec<_>>(),
                "blobs": blobs.iter().map(|(hash, bytes)| json!({"hash": hex::encode(hash.as_bytes()), "bytes": hex::encode(bytes)})).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
        "rejected": rejected.iter().map(|(what, bytes, error)| json!({
            "what": what,
            "bundle": hex::encode(bytes),
            "reason": error.reason(),
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn spec_vectors_match_the_code() {
    check_or_bless("bundle.json", &generate());
}

#[test]
fn accepted_vectors_read_to_their_records_in_chunks_of_any_size() {
    let vectors = support::load("bundle.json");
    for v in vectors["accepted"].as_array().expect("accepted") {
        let bytes = unhex(str_field(v, "bundle"));
        let events: Vec<Vec<u8>> =
            v["events"].as_array().expect("events").iter().map(|e| unhex(e.as_str().expect("hex"))).collect();
        let blobs: Vec<(BlobHash, Vec<u8>)> = v["blobs"]
            .as_array()
            .expect("blobs")
            .iter()
            .map(|b| {
                let hash: [u8; 32] = unhex(str_field(b, "hash")).try_into().expect("32 bytes");
                (BlobHash(communs_protocol::Hash::from_bytes(hash)), unhex(str_field(b, "bytes")))
            })
            .collect();
        for chunk in [1, 7, 9, 64, bytes.len()] {
            assert_eq!(bundle::read_all(&bytes, chunk), Ok((events.clone(), blobs.clone())), "{}", v["what"]);
        }
    }
}

#[test]
fn rejected_vectors_fail_with_their_reason_in_chunks_of_any_size() {
    let vectors = support::load("bundle.json");
    for v in vectors["rejected"].as_array().expect("rejected") {
        let bytes = unhex(str_field(v, "bundle"));
        for chunk in [1, 7, 9, 64, bytes.len().max(1)] {
            let error = bundle::read_all(&bytes, chunk).expect_err(str_field(v, "what"));
            assert_eq!(error.reason(), str_field(v, "reason"), "{}", v["what"]);
        }
    }
}
