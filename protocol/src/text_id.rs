//! The printable form of ids that people copy, paste and type.
//!
//! Ids are bech32m strings (BIP-350): lowercase, no look-alike characters,
//! selectable with a double click, and a BCH checksum that detects any
//! error in up to four characters, so a typo is refused instead of naming
//! some other design. The human-readable part says what kind of id it is
//! (`author1…`, `design1…`, `event1…`), so an event id pasted where a design
//! id is expected gets a precise error.

use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected {expected} id (starting with `{expected}1`), found {found} id")]
    WrongKind { expected: &'static str, found: String },
    #[error("not a valid {expected} id: the checksum does not match (a typo?)")]
    Checksum { expected: &'static str },
    #[error("not a valid {expected} id: {detail}")]
    Malformed { expected: &'static str, detail: String },
    #[error("not a valid {expected} id: it holds {len} bytes, expected 32")]
    Length { expected: &'static str, len: usize },
    #[error("not a valid hash: expected 64 hexadecimal digits")]
    Hex,
}

impl IdError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            IdError::WrongKind { .. } => "wrong-kind",
            IdError::Checksum { .. } => "checksum",
            IdError::Malformed { .. } => "malformed",
            IdError::Length { .. } => "length",
            IdError::Hex => "hex",
        }
    }
}

pub(crate) fn encode(kind: &'static str, bytes: &[u8; 32]) -> String {
    let hrp = Hrp::parse_unchecked(kind);
    // Only fails on strings over 1023 characters; ours are 60-65.
    bech32::encode::<Bech32m>(hrp, bytes).expect("a 32-byte id always fits bech32m")
}

pub(crate) fn decode(kind: &'static str, s: &str) -> Result<[u8; 32], IdError> {
    let checked = CheckedHrpstring::new::<Bech32m>(s.trim()).map_err(|e| {
        use bech32::primitives::decode::CheckedHrpstringError as E;
        match e {
            E::Checksum(_) => IdError::Checksum { expected: kind },
            other => IdError::Malformed { expected: kind, detail: other.to_string() },
        }
    })?;
    let hrp = checked.hrp();
    if hrp.to_lowercase() != kind {
        return Err(IdError::WrongKind { expected: kind, found: hrp.to_lowercase() });
    }
    let bytes: Vec<u8> = checked.byte_iter().collect();
    let len = bytes.len();
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| IdError::Length { expected: kind, len })?;
    // 32 bytes take 52 characters of 5 bits: the last 4 bits are padding,
    // which BIP-173 requires to be zero. Decoding drops them, so without
    // this check 16 strings would name the same id.
    let last = checked.fe32_iter::<std::iter::Empty<u8>>().last().map_or(0, |fe| fe.to_u8());
    if last & 0b1111 != 0 {
        return Err(IdError::Malformed { expected: kind, detail: "non-zero padding bits".to_owned() });
    }
    Ok(bytes)
}

/// Serializes a type as its printable form and deserializes it with its
/// `FromStr` (for JSON: the API speaks ids the way people type them).
macro_rules! serde_as_text {
    ($($name:ty),*) => {$(
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(crate::EventId, crate::DesignId, crate::AuthorId, crate::BlobHash);
