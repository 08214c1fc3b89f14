//! Any bytes as a network search query and as an answer (spec/search.md):
//! no panic; whatever decodes is within its limits and re-encodes to the
//! same bytes.
#![no_main]
use communs_protocol::limits::MAX_SEARCH_RESULTS;
use communs_protocol::search::{Query, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = Query::decode(data) {
        assert!(query.limit <= MAX_SEARCH_RESULTS as u64);
        assert_eq!(query.encode(), data);
    }
    if let Ok(response) = Response::decode(data) {
        if let Response::Hits(hits) = &response {
            assert!(hits.len() <= MAX_SEARCH_RESULTS);
        }
        assert_eq!(response.encode(), data);
    }
});
