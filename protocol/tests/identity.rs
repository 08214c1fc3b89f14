//! Author ids and the printable ids: vectors, and typos caught.

mod support;

use communs_protocol::text_id::IdError;
use communs_protocol::{AuthorId, DesignId, EventId, Hash, hash::BlobHash};
use serde_json::json;
use support::key;

fn generated() -> serde_json::Value {
    let keys: Vec<_> = [1u8, 2, 3]
        .iter()
        .map(|&n| {
            let k = key(n);
            json!({
                "seed": hex::encode([n; 32]),
                "public_key": hex::encode(k.author().as_bytes()),
                "author_id": k.author().to_string(),
            })
        })
        .collect();
    let digest = Hash::of(b"communs");
    json!({
        "description": "Identities and printable ids (spec/identity.md). Author, design and event ids are bech32m (BIP-350) of the 32 bytes with the kind as human-readable part; blob hashes are lowercase hex, as b3sum prints them.",
        "keys": keys,
        "ids": {
            "blake3_input_utf8": "communs",
            "hash_hex": digest.to_string(),
            "blob": BlobHash(digest).to_string(),
            "design": DesignId::from_hash(digest).to_string(),
            "event": EventId::from_hash(digest).to_string(),
        },
        "rejected_author_ids": [
            { "input": flip_char(&key(1).author().to_string(), 20), "reason": "checksum" },
            { "input": DesignId::from_hash(digest).to_string(), "reason": "wrong-kind" },
            { "input": "author1-not-an-id", "reason": "malformed" },
            { "input": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "reason": "malformed" },
        ],
    })
}

/// Replaces the character at `at` by the next one of the bech32 alphabet.
fn flip_char(s: &str, at: usize) -> String {
    const ALPHABET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut chars: Vec<char> = s.chars().collect();
    let i = ALPHABET.find(chars[at]).expect("bech32 character");
    chars[at] = ALPHABET.chars().nth((i + 1) % 32).expect("in range");
    chars.into_iter().collect()
}

fn reason(e: &communs_protocol::identity::AuthorIdError) -> &'static str {
    match e {
        communs_protocol::identity::AuthorIdError::Text(IdError::Checksum { .. }) => "checksum",
        communs_protocol::identity::AuthorIdError::Text(IdError::WrongKind { .. }) => "wrong-kind",
        communs_protocol::identity::AuthorIdError::Text(_) => "malformed",
        communs_protocol::identity::AuthorIdError::Key(_) => "bad-key",
    }
}

#[test]
fn spec_vectors_match_the_code() {
    support::check_or_bless("identity.json", &generated());
}

#[test]
fn stored_vectors_parse() {
    let v = support::load("identity.json");
    for k in v["keys"].as_array().expect("keys") {
        let author: AuthorId = support::str_field(k, "author_id").parse().expect("valid author id");
        assert_eq!(hex::encode(author.as_bytes()), support::str_field(k, "public_key"));
    }
    for r in v["rejected_author_ids"].as_array().expect("rejected") {
        let err = support::str_field(r, "input").parse::<AuthorId>().expect_err("must be rejected");
        assert_eq!(reason(&err), support::str_field(r, "reason"), "{r}: {err}");
    }
}

#[test]
fn every_single_character_typo_in_an_author_id_is_caught() {
    let id = key(1).author().to_string();
    let start = "author1".len();
    for at in start..id.len() {
        for shift in 1..32 {
            let mut typo = id.clone();
            for _ in 0..shift {
                typo = flip_char(&typo, at);
            }
            assert!(typo.parse::<AuthorId>().is_err(), "typo at {at} accepted: {typo}");
        }
    }
}

#[test]
fn two_swapped_neighbours_are_caught() {
    let id = key(2).author().to_string();
    let chars: Vec<char> = id.chars().collect();
    for at in "author1".len()..chars.len() - 1 {
        if chars[at] == chars[at + 1] {
            continue;
        }
        let mut swapped = chars.clone();
        swapped.swap(at, at + 1);
        let swapped: String = swapped.into_iter().collect();
        assert!(swapped.parse::<AuthorId>().is_err(), "swap at {at} accepted");
    }
}

#[test]
fn ids_accept_surrounding_whitespace_and_uppercase() {
    let id = key(3).author();
    assert_eq!(format!("  {id}\n").parse::<AuthorId>(), Ok(id));
    assert_eq!(id.to_string().to_uppercase().parse::<AuthorId>(), Ok(id));
}

#[test]
fn an_event_id_is_not_a_design_id() {
    let event = EventId::from_hash(Hash::of(b"x"));
    let err = event.to_string().parse::<DesignId>().expect_err("kinds differ");
    assert!(matches!(err, IdError::WrongKind { expected: "design", .. }), "{err}");
    assert!(err.to_string().contains("event"), "the message names what was found: {err}");
}

#[test]
fn weak_keys_cannot_be_author_ids() {
    // The identity point and the all-zero encoding are small-order points.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(AuthorId::from_bytes(identity).is_err());
    assert!(AuthorId::from_bytes([0; 32]).is_err());
}

#[test]
fn blob_hashes_print_like_b3sum() {
    // b3sum of the empty input.
    assert_eq!(BlobHash::of(b"").to_string(), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    let parsed: BlobHash = "AF1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262".parse().expect("hex");
    assert_eq!(parsed, BlobHash::of(b""));
    assert!("af13".parse::<BlobHash>().is_err());
}
