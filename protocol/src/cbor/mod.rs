//! The strict CBOR codec every signed or stored structure goes through.
//!
//! A signed structure must have exactly one valid byte encoding, or two
//! nodes could disagree about ids and signatures of "the same" value. So
//! encoding builds a [`Value`] whose maps are already in canonical order and
//! lets ciborium write it (ciborium always writes minimal heads and definite
//! lengths), and decoding first runs a strict checker over the raw bytes,
//! which rejects every other encoding with a precise reason, and only then
//! hands them to ciborium.
//!
//! The profile is RFC 8949 section 4.2.1 ("core deterministic encoding")
//! restricted to the items communs uses: unsigned and negative integers,
//! byte and text strings, arrays, maps, `false`, `true` and `null`. Tags,
//! floats and other simple values are refused: none of our formats has them,
//! and each is one more way to write the same thing.

mod read;
mod strict;

pub use ciborium::Value;
pub use strict::CborError;

pub use read::DecodeError;
pub(crate) use read::*;

/// Encodes a value. Maps must have been built with [`canonical_map`] (or be
/// already sorted); the result is then the one canonical encoding.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing into a Vec cannot fail, and every Value we build is
    // representable; an error here is a bug in this crate, not bad input.
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into memory cannot fail");
    out
}

/// Decodes one value from `bytes`, refusing anything that is not the single
/// canonical encoding of that value, or that is larger than `max_bytes`.
pub fn decode(bytes: &[u8], max_bytes: usize) -> Result<Value, CborError> {
    strict::check(bytes, max_bytes)?;
    // `check` has already proved the input well formed, so a failure here
    // would be a disagreement between the two decoders; report it rather
    // than trust either.
    ciborium::from_reader(bytes).map_err(|_| CborError::Rejected)
}

/// Builds a map with its entries in canonical order: bytewise lexicographic
/// order of the encoded keys (RFC 8949, 4.2.1).
pub fn canonical_map(mut entries: Vec<(Value, Value)>) -> Value {
    entries.sort_by_cached_key(|(k, _)| encode(k));
    Value::Map(entries)
}
