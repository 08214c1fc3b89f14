//! BLAKE3 hashes and the ids built on them.
//!
//! A design id, an event id and a blob hash are all 32-byte BLAKE3 digests,
//! but mixing them up is always a bug, so each is its own type and only
//! explicit conversions cross between them.

use std::{fmt, str::FromStr};

use crate::text_id::{self, IdError};

/// A BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }

    /// Hashes `data` in one go (for small inputs; files are hashed by the
    /// blob store while streaming).
    pub fn of(data: &[u8]) -> Self {
        Hash(*blake3::hash(data).as_bytes())
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Lowercase hexadecimal, as `b3sum` prints it.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let s = s.trim().as_bytes();
        if s.len() != 64 {
            return Err(IdError::Hex);
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).ok_or(IdError::Hex);
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(Hash(out))
    }
}

/// The hash of a blob's bytes: a file's contents, or an encoded tree.
/// Printed in hexadecimal so that `b3sum FILE` can be compared with it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash(pub Hash);

impl BlobHash {
    pub fn of(data: &[u8]) -> Self {
        BlobHash(Hash::of(data))
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", self.0)
    }
}

impl FromStr for BlobHash {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        s.parse().map(BlobHash)
    }
}

/// Declares a 32-byte id printed as bech32m with the given prefix.
macro_rules! bech32_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Hash);

        impl $name {
            /// The prefix of the printable form, before the `1` separator.
            pub const KIND: &'static str = $kind;

            /// The smallest and largest ids, as bounds of ranges.
            pub const MIN: $name = $name(Hash::from_bytes([0; 32]));
            pub const MAX: $name = $name(Hash::from_bytes([0xff; 32]));

            pub const fn from_hash(hash: Hash) -> Self {
                $name(hash)
            }

            pub const fn hash(&self) -> Hash {
                self.0
            }

            pub const fn as_bytes(&self) -> &[u8; 32] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&text_id::encode($kind, self.0.as_bytes()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                text_id::decode($kind, s).map(|b| $name(Hash::from_bytes(b)))
            }
        }
    };
}

bech32_id!(
    /// The id of a signed event: BLAKE3 of its canonical encoding.
    EventId,
    "event"
);

bech32_id!(
    /// The id of a design: the [`EventId`] of its genesis event.
    DesignId,
    "design"
);

impl DesignId {
    /// A design is named by its genesis event.
    pub const fn from_genesis(genesis: EventId) -> Self {
        DesignId(genesis.hash())
    }

    pub const fn genesis(&self) -> EventId {
        EventId::from_hash(self.0)
    }
}
