//! The strict CBOR profile: every non-canonical encoding is refused with
//! its reason (spec/vectors/cbor.json), and everything the encoder writes
//! is accepted and decodes to the same value.

mod support;

use communs_protocol::cbor::{self, Value, canonical_map};
use proptest::prelude::*;

const LIMIT: usize = 1 << 20;

#[test]
fn spec_vectors_accepted_round_trip() {
    let vectors = support::load("cbor.json");
    for v in vectors["accepted"].as_array().expect("accepted list") {
        let bytes = support::unhex(support::str_field(v, "hex"));
        let value = cbor::decode(&bytes, LIMIT).unwrap_or_else(|e| panic!("{}: {e}", v["name"]));
        assert_eq!(cbor::encode(&value), bytes, "{}", v["name"]);
    }
}

#[test]
fn spec_vectors_rejected_with_reason() {
    let vectors = support::load("cbor.json");
    for v in vectors["rejected"].as_array().expect("rejected list") {
        let bytes = support::unhex(support::str_field(v, "hex"));
        let err = cbor::decode(&bytes, LIMIT).expect_err(support::str_field(v, "name"));
        assert_eq!(err.reason(), support::str_field(v, "reason"), "{}: {err}", v["name"]);
    }
}

#[test]
fn size_limit_is_checked_before_parsing() {
    let bytes = cbor::encode(&Value::Bytes(vec![0; 100]));
    assert_eq!(cbor::decode(&bytes, 50).unwrap_err().reason(), "too-large");
}

#[test]
fn nesting_beyond_the_depth_limit_is_refused() {
    let mut value = Value::Null;
    for _ in 0..=communs_protocol::limits::MAX_CBOR_DEPTH {
        value = Value::Array(vec![value]);
    }
    assert_eq!(cbor::decode(&cbor::encode(&value), LIMIT).unwrap_err().reason(), "too-deep");
}

/// Values of the profile: no floats, no tags, maps in canonical order.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(|n| Value::Integer(n.into())),
        any::<i64>().prop_map(|n| Value::Integer(n.into())),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ".{0,20}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..8)
                .prop_map(|m| { canonical_map(m.into_iter().map(|(k, v)| (Value::Text(k), v)).collect()) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_then_decode_round_trips_and_is_canonical(v in value()) {
        let bytes = cbor::encode(&v);
        let decoded = cbor::decode(&bytes, LIMIT).expect("the encoder writes only canonical CBOR");
        prop_assert_eq!(&decoded, &v);
        prop_assert_eq!(cbor::encode(&decoded), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_ones_are_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = cbor::decode(&bytes, LIMIT) {
            prop_assert_eq!(cbor::encode(&v), bytes);
        }
    }
}
