//! Strict Ed25519 verification for an author who signed many events.
//!
//! A bulk of events (a bundle, a catch-up) has few authors and many
//! signatures each. `ed25519-dalek`'s `verify_strict` computes
//! `[s]B - [k]A` with a variable-base double multiplication; with a table
//! of `-A`'s multiples, built once for the author, the same point is two
//! fixed-base multiplications, about a third cheaper. Building the table
//! costs about as much as thirty verifications, so [`crate::identity`]
//! builds one only for an author seen often in the same bulk.
//!
//! Two nodes must never disagree on whether an event is valid, so
//! [`PrecomputedKey::verify_strict`] gives exactly the answer of
//! `VerifyingKey::verify_strict` (ed25519-dalek 2) for every input; the
//! tests compare them on valid, tampered and crafted signatures (small-order
//! `R`, non-canonical `S`, keys with a torsion component).

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsBasepointTable, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::BasepointTable;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};

/// The canonical encodings of the eight points of small order (the
/// identity, the point of order 2, two of order 4, four of order 8).
/// `verify_strict` refuses a signature whose `R` is one of them; a
/// signature it accepts has a canonical `R` (see below), so comparing bytes
/// is the same check without decompressing `R`.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 8] = [
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
];

/// An author's key with the table of its negation's multiples.
pub(crate) struct PrecomputedKey {
    compressed: [u8; 32],
    minus_a: EdwardsBasepointTable,
}

impl PrecomputedKey {
    /// The table for `key`, which must not be weak (small order): keys
    /// reach here through `identity::checked_key`, which refuses those,
    /// as `verify_strict` would refuse every signature by them.
    pub(crate) fn new(key: &VerifyingKey) -> Self {
        debug_assert!(!key.is_weak());
        let minus_a = -key.to_edwards();
        PrecomputedKey { compressed: key.to_bytes(), minus_a: EdwardsBasepointTable::create(&minus_a) }
    }

    /// Whether `signature` is valid over `domain` followed by `message`'s
    /// parts, with `verify_strict`'s answer. That function accepts exactly
    /// when `S` is canonical, `R` decompresses to a point not of small
    /// order, `A` is not of small order, and the encoding of
    /// `[S]B - [k]A` (with `k = SHA-512(R ‖ A ‖ M)`) equals `R`'s bytes.
    /// An encoding that a point compresses to is canonical and decompresses
    /// to that point, so when the last condition holds `R` decompresses,
    /// and is of small order exactly when its bytes are one of
    /// [`SMALL_ORDER_ENCODINGS`]; `A` was checked when the key was.
    pub(crate) fn verify_strict(&self, domain: &[u8], message: &[&[u8]], signature: &[u8; 64]) -> bool {
        let (r, s) = signature.split_at(32);
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s.try_into().expect("32 bytes"))) else {
            return false;
        };
        if SMALL_ORDER_ENCODINGS.iter().any(|small| small == r) {
            return false;
        }
        let mut hash = Sha512::new();
        hash.update(r);
        hash.update(self.compressed);
        hash.update(domain);
        for part in message {
            hash.update(part);
        }
        let k = Scalar::from_hash(hash);
        let expected: CompressedEdwardsY = (EdwardsPoint::mul_base(&s) + self.minus_a.mul_base(&k)).compress();
        expected.as_bytes() == r
    }
}

const fn hex32(text: &str) -> [u8; 32] {
    let text = text.as_bytes();
    assert!(text.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(text[2 * i]) << 4) | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::traits::IsIdentity;
    use ed25519_dalek::{Signature, Signer, SigningKey};
    use proptest::prelude::*;

    use super::*;

    fn strict(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }

    fn fast(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        // Split the message, as events are verified in parts.
        let (a, b) = message.split_at(message.len() / 2);
        PrecomputedKey::new(key).verify_strict(a, &[b], signature)
    }

    /// A signature over `message` by the secret scalar `a` of the point
    /// `public` (which may carry a torsion component), with nonce `r` and
    /// `R = [r]B + torsion`: what an author can craft, not what signing
    /// gives.
    fn crafted(a: Scalar, public: &EdwardsPoint, r: Scalar, torsion: &EdwardsPoint, message: &[u8]) -> [u8; 64] {
        let big_r = (EdwardsPoint::mul_base(&r) + torsion).compress();
        let mut hash = Sha512::new();
        hash.update(big_r.as_bytes());
        hash.update(public.compress().as_bytes());
        hash.update(message);
        let k = Scalar::from_hash(hash);
        let s = r + k * a;
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(big_r.as_bytes());
        signature[32..].copy_from_slice(s.as_bytes());
        signature
    }

    fn small_order_points() -> Vec<EdwardsPoint> {
        SMALL_ORDER_ENCODINGS.iter().map(|e| CompressedEdwardsY(*e).decompress().expect("a point")).collect()
    }

    #[test]
    fn the_small_order_encodings_are_the_eight_canonical_ones() {
        let points = small_order_points();
        for (point, encoding) in points.iter().zip(&SMALL_ORDER_ENCODINGS) {
            assert!(point.is_small_order());
            assert!(point.mul_by_cofactor().is_identity());
            assert_eq!(point.compress().as_bytes(), encoding, "canonical");
        }
        for (i, p) in points.iter().enumerate() {
            for q in &points[i + 1..] {
                assert_ne!(p, q);
            }
        }
    }

    #[test]
    fn crafted_signatures_get_the_same_answer() {
        let message = b"an event's unsigned bytes";
        let a = Scalar::from(0x1234_5678_9abc_def0u64);
        let r = Scalar::from(0x0fed_cba9_8765_4321u64);
        let clean = EdwardsPoint::mul_base(&a);
        let mut cases = 0;
        for key_torsion in small_order_points() {
            let public = clean + key_torsion;
            let Ok(key) = VerifyingKey::from_bytes(public.compress().as_bytes()) else { continue };
            if key.is_weak() {
                continue;
            }
            for r_torsion in small_order_points() {
                let signature = crafted(a, &public, r, &r_torsion, message);
                assert_eq!(fast(&key, message, &signature), strict(&key, message, &signature));
                // R itself of small order, with S fitted to it.
                let mut small_r = signature;
                small_r[..32].copy_from_slice(r_torsion.compress().as_bytes());
                assert_eq!(fast(&key, message, &small_r), strict(&key, message, &small_r));
                // S not reduced: S + l.
                let mut unreduced = signature;
                let s = Scalar::from_canonical_bytes(signature[32..].try_into().unwrap()).unwrap();
                let mut wide = [0u8; 33];
                // l, the order of the base point, little-endian.
                let (mut carry, l) = (0u16, hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"));
                for i in 0..32 {
                    let sum = u16::from(s.as_bytes()[i]) + u16::from(l[i]) + carry;
                    wide[i] = sum as u8;
                    carry = sum >> 8;
                }
                if carry == 0 {
                    unreduced[32..].copy_from_slice(&wide[..32]);
                    assert!(!strict(&key, message, &unreduced));
                    assert!(!fast(&key, message, &unreduced));
                }
                cases += 1;
            }
        }
        // The key without torsion, and the keys whose torsion part does not
        // make them weak: at least the eight R torsions of the clean key.
        assert!(cases >= 8, "{cases}");
        // Some of them verify (no torsion anywhere), some do not.
        let key = VerifyingKey::from_bytes(clean.compress().as_bytes()).unwrap();
        let good = crafted(a, &clean, r, &EdwardsPoint::default(), message);
        assert!(strict(&key, message, &good) && fast(&key, message, &good));
    }

    #[test]
    fn a_non_canonical_r_gets_the_same_answer() {
        let message = b"m";
        let key = SigningKey::from_bytes(&[7; 32]);
        let signature = key.sign(message).to_bytes();
        // y + p for y below 19 (p = 2^255 - 19): the only non-canonical
        // encodings of y, with either sign bit.
        for y in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut r = hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
                r[0] += y;
                r[31] = (r[31] & 0x7f) | sign;
                let mut bad = signature;
                bad[..32].copy_from_slice(&r);
                let public = key.verifying_key();
                assert_eq!(fast(&public, message, &bad), strict(&public, message, &bad));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Valid signatures verify, and any change to the signature or the
        /// message gets the same answer from both.
        #[test]
        fn same_answer_as_verify_strict(
            seed in any::<[u8; 32]>(),
            message in proptest::collection::vec(any::<u8>(), 0..300),
            flip in 0usize..(64 * 8),
            flip_message in any::<bool>(),
        ) {
            let key = SigningKey::from_bytes(&seed);
            let public = key.verifying_key();
            let signature = key.sign(&message).to_bytes();
            prop_assert!(strict(&public, &message, &signature));
            prop_assert!(fast(&public, &message, &signature));
            let mut signature2 = signature;
            let mut message2 = message.clone();
            if flip_message && !message2.is_empty() {
                let i = flip % message2.len();
                message2[i] ^= 1;
            } else {
                signature2[flip / 8] ^= 1 << (flip % 8);
            }
            prop_assert_eq!(fast(&public, &message2, &signature2), strict(&public, &message2, &signature2));
        }
    }
}
