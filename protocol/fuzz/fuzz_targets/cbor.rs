//! Any bytes: no panic; whatever the strict decoder accepts is canonical.
#![no_main]
use communs_protocol::cbor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = cbor::decode(data, 1 << 20) {
        assert_eq!(cbor::encode(&value), data);
    }
});
