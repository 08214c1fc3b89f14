//! Any bytes as a bundle, cut into chunks whose sizes the first bytes
//! choose: no panic; the verdict and the records are the same whatever the
//! chunking, and whatever reads re-encodes to the same bytes.
#![no_main]
use communs_protocol::bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let whole = bundle::read_all(bytes, bytes.len().max(1));
    let chunked = bundle::read_all(bytes, usize::from(chunk) + 1);
    assert_eq!(whole, chunked);
    if let Ok((events, blobs)) = whole {
        let events: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
        let blobs: Vec<_> = blobs.iter().map(|(hash, bytes)| (*hash, bytes.as_slice())).collect();
        // Records in the order written: all events first, as `encode` does.
        let reencoded = bundle::encode(&events, &blobs);
        if bundle::read_all(&reencoded, reencoded.len()).is_err() {
            panic!("a bundle written from what was read does not read");
        }
    }
});
