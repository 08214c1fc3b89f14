//! Small designs signed by hand, for the tests and benchmarks of the other
//! crates (feature `fixtures`): stores of thousands of designs are built
//! straight from these, where publishing through the CLI would take too
//! long, and hostile cases start from them.

use crate::event::{Body, Genesis, Revision, SignedEvent, UnsignedEvent};
use crate::hash::BlobHash;
use crate::identity::SecretKey;
use crate::limits::GENESIS_NONCE_BYTES;
use crate::manifest::{License, Manifest};

/// A design's first event, `key` its one maintainer (threshold 1); `nonce`
/// makes designs of the same name and author distinct.
pub fn genesis(key: &SecretKey, name: &str, license: &str, nonce: u64) -> SignedEvent {
    genesis_governed(key, name, license, &[key.author()], 1, nonce)
}

/// A design's first event signed by `key`, with these maintainers and
/// threshold.
pub fn genesis_governed(
    key: &SecretKey,
    name: &str,
    license: &str,
    maintainers: &[crate::identity::AuthorId],
    threshold: u64,
    nonce: u64,
) -> SignedEvent {
    let mut bytes = [0; GENESIS_NONCE_BYTES];
    bytes[..8].copy_from_slice(&nonce.to_le_bytes());
    UnsignedEvent {
        design: None,
        author: key.author(),
        parents: vec![],
        clock: 0,
        time: 0,
        body: Body::Genesis(Genesis {
            name: name.to_owned(),
            maintainers: maintainers.to_vec(),
            threshold,
            license: license.to_owned(),
            fork_of: None,
            nonce: bytes,
        }),
    }
    .sign(key)
    .expect("a fixture genesis is valid")
}

/// A revision of `tree` signed on `parent`, with a minimal manifest.
pub fn revision(key: &SecretKey, parent: &SignedEvent, tree: BlobHash, name: &str, license: &str) -> SignedEvent {
    UnsignedEvent {
        design: Some(parent.design()),
        author: key.author(),
        parents: vec![parent.id()],
        clock: parent.clock() + 1,
        time: 0,
        body: Body::Revision(Revision {
            tree,
            manifest: Manifest::minimal(name, License::all(license)),
            base: vec![],
            message: String::new(),
        }),
    }
    .sign(key)
    .expect("a fixture revision is valid")
}
