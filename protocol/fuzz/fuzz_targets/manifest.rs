//! Any bytes as CBOR, okh.toml or okh.yml: no panic; whatever decodes from
//! CBOR re-encodes to the same bytes.
#![no_main]
use communs_protocol::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::decode(data) {
        assert_eq!(manifest.encode(), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::from_okh_toml(text);
        let _ = Manifest::from_okh_v1_yaml(text);
    }
});
