//! Any bytes: no panic; whatever decodes re-encodes to the same bytes.
#![no_main]
use communs_protocol::Tree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = Tree::decode(data) {
        assert_eq!(tree.encode(), data);
    }
});
