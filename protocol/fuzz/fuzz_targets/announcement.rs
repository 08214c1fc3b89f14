//! An announcement as a node checks it (spec/catalog.md), gossiped or in a
//! catalog catch-up: no panic; the verified and the store's decoders agree
//! on everything but signatures; an accepted announcement is its one
//! canonical encoding, within its limit, of one design, and the rules
//! binding its events hold; of two announcements, `supersedes` is a strict
//! order.
//!
//! Input: the announcement's bytes. Mutated signatures almost never
//! verify, so the corpus holds the spec's announcements and the paths
//! past the signatures are reached through the store's decoder.
#![no_main]
use communs_protocol::catalog::{Announcement, AnnouncementError};
use communs_protocol::limits::MAX_ANNOUNCEMENT_BYTES;
use communs_protocol::{Body, EventError, Genesis};
use libfuzzer_sys::fuzz_target;

fn check(a: &Announcement, data: &[u8]) {
    assert_eq!(a.bytes(), data);
    assert!(data.len() <= MAX_ANNOUNCEMENT_BYTES);
    assert_eq!(a.id(), communs_protocol::Hash::of(data));
    let Body::Genesis(Genesis { maintainers, .. }) = a.genesis().body() else { panic!("not a genesis") };
    match (a.revision(), a.approval()) {
        (None, None) => {}
        (Some(r), approval) => {
            assert!(matches!(r.body(), Body::Revision(_)));
            assert_eq!(r.design(), a.design());
            match approval {
                None => assert!(maintainers.contains(&r.author())),
                Some(ap) => {
                    assert!(!maintainers.contains(&r.author()));
                    assert!(maintainers.contains(&ap.author()));
                    assert!(matches!(ap.body(), Body::Approve { target } if *target == r.id()));
                }
            }
        }
        (None, Some(_)) => panic!("an approval without a revision"),
    }
    assert!(!a.supersedes(a), "no announcement supersedes itself");
    // Rebuilt from its events, the same bytes.
    let again = Announcement::new(a.genesis().clone(), a.revision().cloned(), a.approval().cloned()).expect("valid");
    assert_eq!(again.bytes(), data);
}

fuzz_target!(|data: &[u8]| {
    let verified = Announcement::decode(data);
    let trusted = Announcement::decode_trusted(data);
    match (&verified, &trusted) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            check(a, data);
        }
        (Err(AnnouncementError::Event { source: EventError::BadSignature { .. }, .. }), Ok(b)) => check(b, data),
        (Err(AnnouncementError::Event { source: EventError::Key { .. }, .. }), _) => {}
        (Err(_), Err(_)) => {}
        (verified, trusted) => panic!("decoders disagree: {verified:?} / {trusted:?}"),
    }
    if let Ok(b) = &trusted {
        // The order of two announcements: never both ways.
        if let Ok(first) = Announcement::decode_trusted(&data[..data.len() / 2]) {
            assert!(!(first.supersedes(b) && b.supersedes(&first)));
        }
    }
});
