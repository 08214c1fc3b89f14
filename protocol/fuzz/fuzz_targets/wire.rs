//! Any bytes as a catch-up request and as a response: no panic; whatever
//! decodes re-encodes to the same bytes.
#![no_main]
use communs_protocol::wire::{Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::decode(data) {
        assert_eq!(request.encode(), data);
    }
    if let Ok(response) = Response::decode(data) {
        assert_eq!(response.encode(), data);
    }
});
