//! A gossip message as a node checks it before its store
//! (node/src/net/gossip.rs): decode and verify the event, then refuse it on
//! any topic but its own. No panic; the verified and the unverified decoders
//! agree on everything but the signature and the author's key (which the
//! unverified decoder, for the node's own store, takes as stored); an event
//! goes to exactly one topic, the announce topic for a genesis and its
//! design's shard otherwise; a profile, which belongs to no design, is
//! taken on any shard topic and no other.
//!
//! Input: one byte, the length of the topic, then the topic, then the
//! message. Mutated signatures almost never verify, so the corpus holds
//! the spec's signed events and the decoder's paths past the signature are
//! reached through the unverified decode.
#![no_main]
use communs_protocol::limits::GOSSIP_SHARDS;
use communs_protocol::wire::{self, ANNOUNCE_TOPIC, SHARD_TOPIC_PREFIX};
use communs_protocol::{Body, EventError, SignedEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else { return };
    let (topic, message) = rest.split_at(usize::from(len).min(rest.len()));
    let topic = String::from_utf8_lossy(topic);

    let verified = SignedEvent::decode(message);
    let trusted = SignedEvent::decode_trusted(message);
    let event = match (verified, trusted) {
        (Ok(event), Ok(same)) => {
            assert_eq!(event, same);
            event
        }
        (Err(EventError::BadSignature { author }), Ok(unverified)) => {
            assert_eq!(author, unverified.author());
            unverified
        }
        // The rest of the event may still be wrong in its own way.
        (Err(EventError::Key { field: "event.author", .. }), _) => return,
        (Err(e), Err(same)) => {
            assert_eq!(e, same, "only the signature check differs");
            return;
        }
        (verified, trusted) => panic!("decoders disagree: {verified:?} / {trusted:?}"),
    };
    assert_eq!(event.bytes(), message);

    let own = wire::topic_of(&event);
    assert!(wire::topic_matches(&event, &own));
    if let Body::Profile(_) = event.body() {
        let is_shard = (0..GOSSIP_SHARDS).any(|n| wire::shard_topic(n) == topic);
        assert_eq!(wire::topic_matches(&event, &topic), is_shard);
        return;
    }
    assert_eq!(wire::topic_matches(&event, &topic), topic == own);
    match event.body() {
        Body::Genesis(_) => assert_eq!(own, ANNOUNCE_TOPIC),
        _ => {
            let shard = wire::shard(&event.design());
            assert!(shard < GOSSIP_SHARDS);
            assert_eq!(own, format!("{SHARD_TOPIC_PREFIX}{shard}"));
        }
    }
});
