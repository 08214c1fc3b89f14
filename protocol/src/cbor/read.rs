//! Typed access to a decoded [`Value`], with errors that name the field.
//!
//! Every structure of the protocol is decoded by walking its `Value` with
//! these helpers, so that a wrong shape anywhere gets the same kind of
//! message: which field, and what was expected there.

use super::{CborError, Value};

/// Why a well-formed CBOR value is not a valid instance of a structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Cbor(#[from] CborError),
    #[error("{field}: expected {expected}")]
    Shape { field: &'static str, expected: &'static str },
    #[error("{field}: {count} items, over the limit of {max}")]
    TooMany { field: &'static str, count: usize, max: usize },
    #[error("{field}: {len} bytes, over the limit of {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
    #[error("{field}: must not be empty")]
    Empty { field: &'static str },
    #[error("{field}: items must be sorted and unique")]
    NotSortedUnique { field: &'static str },
    #[error("unknown version {found} of {what} (this implementation knows {known})")]
    UnknownVersion { what: &'static str, found: u64, known: u64 },
    #[error("{field}: unknown kind {kind}")]
    UnknownKind { field: &'static str, kind: u64 },
    #[error("{field}: unknown key {key:?}")]
    UnknownKey { field: &'static str, key: String },
}

impl DecodeError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Cbor(e) => e.reason(),
            DecodeError::Shape { .. } => "shape",
            DecodeError::TooMany { .. } => "too-many",
            DecodeError::TooLong { .. } => "too-long",
            DecodeError::Empty { .. } => "empty-field",
            DecodeError::NotSortedUnique { .. } => "not-sorted-unique",
            DecodeError::UnknownVersion { .. } => "unknown-version",
            DecodeError::UnknownKind { .. } => "unknown-kind",
            DecodeError::UnknownKey { .. } => "unknown-key",
        }
    }
}

fn shape(field: &'static str, expected: &'static str) -> DecodeError {
    DecodeError::Shape { field, expected }
}

/// An array of exactly `N` items.
pub(crate) fn array_n<'a, const N: usize>(
    value: &'a Value,
    field: &'static str,
) -> Result<&'a [Value; N], DecodeError> {
    match value {
        Value::Array(items) => items.as_slice().try_into().map_err(|_| shape(field, "an array of the right length")),
        _ => Err(shape(field, "an array")),
    }
}

/// An array of at most `max` items, each decoded by `item`.
pub(crate) fn list<T>(
    value: &Value,
    field: &'static str,
    max: usize,
    item: impl FnMut(&Value) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let Value::Array(items) = value else {
        return Err(shape(field, "an array"));
    };
    if items.len() > max {
        return Err(DecodeError::TooMany { field, count: items.len(), max });
    }
    items.iter().map(item).collect()
}

/// Like [`list`], and the items must be strictly increasing: a set has one
/// encoding only.
pub(crate) fn sorted_set<T: Ord>(
    value: &Value,
    field: &'static str,
    max: usize,
    item: impl FnMut(&Value) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let items = list(value, field, max, item)?;
    if items.windows(2).any(|w| w[0] >= w[1]) {
        return Err(DecodeError::NotSortedUnique { field });
    }
    Ok(items)
}

pub(crate) fn uint(value: &Value, field: &'static str) -> Result<u64, DecodeError> {
    match value {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| shape(field, "an unsigned integer")),
        _ => Err(shape(field, "an unsigned integer")),
    }
}

pub(crate) fn boolean(value: &Value, field: &'static str) -> Result<bool, DecodeError> {
    match value {
        Value::Bool(b) => Ok(*b),
        _ => Err(shape(field, "a boolean")),
    }
}

/// A text string of at most `max` bytes.
pub(crate) fn text<'a>(value: &'a Value, field: &'static str, max: usize) -> Result<&'a str, DecodeError> {
    match value {
        Value::Text(s) if s.len() > max => Err(DecodeError::TooLong { field, len: s.len(), max }),
        Value::Text(s) => Ok(s),
        _ => Err(shape(field, "a text string")),
    }
}

/// A byte string of exactly `N` bytes.
pub(crate) fn bytes_n<const N: usize>(value: &Value, field: &'static str) -> Result<[u8; N], DecodeError> {
    match value {
        Value::Bytes(b) => b.as_slice().try_into().map_err(|_| shape(field, "a byte string of the right length")),
        _ => Err(shape(field, "a byte string")),
    }
}

/// `None` for `null`, else the value.
pub(crate) fn nullable(value: &Value) -> Option<&Value> {
    match value {
        Value::Null => None,
        other => Some(other),
    }
}

pub(crate) fn uint_value(n: u64) -> Value {
    Value::Integer(n.into())
}

pub(crate) fn bytes_value(bytes: &[u8]) -> Value {
    Value::Bytes(bytes.to_vec())
}

pub(crate) fn text_value(s: &str) -> Value {
    Value::Text(s.to_owned())
}
