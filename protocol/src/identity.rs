//! Ed25519 identities: who signs, and checking what they signed.
//!
//! The same key pair is a maker's author id and their node's libp2p
//! `PeerId`. This module never touches the disk or a random source of its
//! own: key generation takes the RNG as an argument, and the node decides
//! where the secret lives.

use std::collections::HashMap;
use std::{fmt, str::FromStr};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;

use crate::strict_verify::PrecomputedKey;
use crate::text_id::{self, IdError};

/// A secret signing key. Never printed, never serialised by this crate
/// except through [`SecretKey::to_bytes`], for the node's key file.
pub struct SecretKey(SigningKey);

impl SecretKey {
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        SecretKey(SigningKey::generate(rng))
    }

    /// The key from its 32-byte seed (RFC 8032 private key).
    pub fn from_bytes(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn author(&self) -> AuthorId {
        AuthorId(self.0.verifying_key().to_bytes())
    }

    /// Signs `domain || message`. The domain keeps a signature made for one
    /// purpose from being replayed as another.
    pub(crate) fn sign(&self, domain: &[u8], message: &[u8]) -> Signature {
        let mut signed = Vec::with_capacity(domain.len() + message.len());
        signed.extend_from_slice(domain);
        signed.extend_from_slice(message);
        Signature(self.0.sign(&signed).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, secret redacted)", self.author())
    }
}

/// A public key that identifies an author, printed as `author1…`.
///
/// Only keys that are valid curve points and not of small order can be
/// constructed, so every `AuthorId` can verify signatures.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorId([u8; 32]);

/// Why bytes are not a usable public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a valid Ed25519 public key")]
    NotOnCurve,
    #[error("weak Ed25519 public key (small order), refused")]
    Weak,
}

impl AuthorId {
    pub const KIND: &'static str = "author";

    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        checked_key(&bytes)?;
        Ok(AuthorId(bytes))
    }

    /// An author read back from this node's own store, where only keys
    /// that [`AuthorId::from_bytes`] accepted are ever written: checking
    /// again is a point decompression per read (about a tenth of a
    /// signature check), paid by every event and state a read decodes.
    /// `fsck` checks every key from scratch.
    pub fn from_stored_bytes(bytes: [u8; 32]) -> Self {
        AuthorId(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A public key that is a point of the curve and not of small order.
fn checked_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
    if key.is_weak() {
        return Err(KeyError::Weak);
    }
    Ok(key)
}

/// Authors' keys, decoded once for many signatures: decoding a public key
/// (a point decompression, and its small-order check) costs about a tenth
/// of a verification, and a bulk of events (a bundle, a catch-up) has few
/// authors. An author seen often gets a table of its key's multiples
/// ([`PrecomputedKey`]), which makes each further check about a third
/// cheaper with the same answer.
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: HashMap<[u8; 32], CachedKey>,
    tables: usize,
}

struct CachedKey {
    key: VerifyingKey,
    /// Signatures checked with this key so far.
    uses: u32,
    table: Option<Box<PrecomputedKey>>,
}

impl KeyCache {
    /// Keys kept at most: a stranger's bulk of a million authors costs a
    /// bounded amount of memory (and each key its full price).
    const MAX_KEYS: usize = 4096;
    /// Tables kept at most (30 KiB each).
    const MAX_TABLES: usize = 64;
    /// Signatures by one author after which its table is built: a table
    /// costs about thirty checks and saves a third of each after it.
    const TABLE_AFTER: u32 = 64;

    /// Whether it keeps as many keys as it may (a new author's key is
    /// then decoded again for each of its signatures).
    pub(crate) fn is_full(&self) -> bool {
        self.keys.len() >= Self::MAX_KEYS
    }

    /// The author of these bytes, checked as [`AuthorId::from_bytes`]
    /// does, and kept for [`KeyCache::verify`].
    pub(crate) fn author(&mut self, bytes: [u8; 32]) -> Result<AuthorId, KeyError> {
        if !self.keys.contains_key(&bytes) {
            let key = checked_key(&bytes)?;
            if self.keys.len() < Self::MAX_KEYS {
                self.keys.insert(bytes, CachedKey { key, uses: 0, table: None });
            }
        }
        Ok(AuthorId(bytes))
    }

    /// Checks a signature over `domain || message` (the message given in
    /// parts, concatenated) by `author` with strict RFC 8032 rules
    /// (canonical `S`, no small-order `R`), so that no third party can
    /// turn one valid signature into another.
    pub(crate) fn verify(
        &mut self,
        author: AuthorId,
        domain: &[u8],
        message: &[&[u8]],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        let Some(cached) = self.keys.get_mut(author.as_bytes()) else {
            // Not kept (the cache is full): checked on its own.
            let key = checked_key(author.as_bytes()).map_err(|_| SignatureError)?;
            return verify_with_key(&key, domain, message, signature);
        };
        cached.uses = cached.uses.saturating_add(1);
        if cached.table.is_none() && cached.uses >= Self::TABLE_AFTER && self.tables < Self::MAX_TABLES {
            cached.table = Some(Box::new(PrecomputedKey::new(&cached.key)));
            self.tables += 1;
        }
        match &cached.table {
            Some(table) => table.verify_strict(domain, message, &signature.0).then_some(()).ok_or(SignatureError),
            None => verify_with_key(&cached.key, domain, message, signature),
        }
    }
}

fn verify_with_key(
    key: &VerifyingKey,
    domain: &[u8],
    message: &[&[u8]],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let mut signed = Vec::with_capacity(domain.len() + message.iter().map(|p| p.len()).sum::<usize>());
    signed.extend_from_slice(domain);
    for part in message {
        signed.extend_from_slice(part);
    }
    key.verify_strict(&signed, &ed25519_dalek::Signature::from_bytes(&signature.0)).map_err(|_| SignatureError)
}

impl fmt::Display for AuthorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text_id::encode(Self::KIND, &self.0))
    }
}

impl fmt::Debug for AuthorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorId({self})")
    }
}

/// Why a string is not an author id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorIdError {
    #[error(transparent)]
    Text(#[from] IdError),
    #[error("not a valid author id: {0}")]
    Key(#[from] KeyError),
}

impl AuthorIdError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthorIdError::Text(e) => e.reason(),
            AuthorIdError::Key(_) => "bad-key",
        }
    }
}

impl FromStr for AuthorId {
    type Err = AuthorIdError;

    fn from_str(s: &str) -> Result<Self, AuthorIdError> {
        Ok(AuthorId::from_bytes(text_id::decode(Self::KIND, s)?)?)
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// The signature does not verify for this author and content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify")]
pub struct SignatureError;
