//! Author ids and the printable ids: vectors, and typos caught.

mod support;

use bech32::{Bech32, Bech32m, Fe32, Hrp};
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
    let id = key(1).author().to_string();
    let author = *key(1).author().as_bytes();
    let author_hrp = Hrp::parse("author").expect("a valid prefix");
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
        "accepted_author_ids": [
            { "input": id.to_uppercase(), "author_id": id },
            { "input": format!(" {id}\n"), "author_id": id },
        ],
        "rejected_author_ids": [
            { "input": flip_char(&id, 20), "reason": "checksum" },
            { "input": bech32::encode::<Bech32>(author_hrp, &author).expect("encodes"), "reason": "checksum" },
            { "input": DesignId::from_hash(digest).to_string(), "reason": "wrong-kind" },
            { "input": "author1-not-an-id", "reason": "malformed" },
            { "input": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "reason": "malformed" },
            { "input": "", "reason": "malformed" },
            { "input": format!("{}{}", &id[..10], id[10..].to_uppercase()), "reason": "malformed" },
            { "input": with_padding_bits(&id), "reason": "malformed" },
            { "input": bech32::encode::<Bech32m>(author_hrp, &author[..31]).expect("encodes"), "reason": "length" },
            { "input": bech32::encode::<Bech32m>(author_hrp, &[author.as_slice(), &[0]].concat()).expect("encodes"), "reason": "length" },
            { "input": bech32::encode::<Bech32m>(author_hrp, &[0; 32]).expect("encodes"), "reason": "bad-key" },
        ],
    })
}

/// `id` with the 4 padding bits of its last data character set, and the
/// checksum recomputed: the same 32 bytes, spelled a second way.
fn with_padding_bits(id: &str) -> String {
    use bech32::primitives::decode::CheckedHrpstring;
    use bech32::primitives::iter::Fe32IterExt;
    let checked = CheckedHrpstring::new::<Bech32m>(id).expect("a valid id");
    let mut fes: Vec<Fe32> = checked.fe32_iter::<std::iter::Empty<u8>>().collect();
    let last = fes.pop().expect("a data part");
    fes.push(Fe32::try_from(last.to_u8() | 1).expect("5 bits"));
    fes.into_iter().with_checksum::<Bech32m>(&checked.hrp()).chars().collect()
}

/// Replaces the character at `at` by the next one of the bech32 alphabet.
fn flip_char(s: &str, at: usize) -> String {
    const ALPHABET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut chars: Vec<char> = s.chars().collect();
    let i = ALPHABET.find(chars[at]).expect("bech32 character");
    chars[at] = ALPHABET.chars().nth((i + 1) % 32).expect("in range");
    chars.into_iter().collect()
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
        assert_eq!(err.reason(), support::str_field(r, "reason"), "{r}: {err}");
    }
    for a in v["accepted_author_ids"].as_array().expect("accepted") {
        let author: AuthorId = support::str_field(a, "input").parse().unwrap_or_else(|e| panic!("{a}: {e}"));
        assert_eq!(author.to_string(), support::str_field(a, "author_id"));
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
