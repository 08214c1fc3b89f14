//! Network search messages (spec/search.md): the vectors, checked both ways.

mod support;

use communs_protocol::search::{Hit, Query, Refusal, Response};
use communs_protocol::{DesignId, Hash};
use serde_json::json;

fn queries() -> Vec<(&'static str, Query)> {
    vec![
        ("text only", Query { text: "face shield".into(), limit: 20, ..Query::default() }),
        (
            "text and every filter",
            Query {
                text: "spool holder".into(),
                license: Some("CERN-OHL-S-2.0".into()),
                keyword: Some("3d-printing".into()),
                author: Some("Ada Lovelace".into()),
                made: true,
                limit: 50,
            },
        ),
    ]
}

fn responses() -> Vec<(&'static str, Response)> {
    let hit = |n: u8, held| Hit {
        design: DesignId::from_hash(Hash::from_bytes([n; 32])),
        name: format!("Design {n}"),
        license: "CERN-OHL-S-2.0".into(),
        score_milli: 1000 * u64::from(n),
        makes: u64::from(n) * 2,
        held,
    };
    vec![
        ("two hits, one held", Response::Hits(vec![hit(2, true), hit(1, false)])),
        ("no hit", Response::Hits(vec![])),
        ("refused: busy", Response::Refused(Refusal::Busy)),
        ("refused: bad request", Response::Refused(Refusal::BadRequest)),
    ]
}

fn rejected() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    let over = Query { text: "x".into(), limit: 51, ..Query::default() };
    let long = Query { text: "x".repeat(257), limit: 1, ..Query::default() };
    vec![
        ("limit over MAX_SEARCH_RESULTS", "query", over.encode(), "too-many"),
        ("text over MAX_SEARCH_TEXT_BYTES", "query", long.encode(), "too-long"),
        ("a query of five items", "query", hex::decode("85606060f4f5").expect("hex"), "shape"),
        ("an answer of unknown kind 2", "response", hex::decode("820280").expect("hex"), "unknown-kind"),
        ("a refusal of unknown code 2", "response", hex::decode("820102").expect("hex"), "unknown-kind"),
    ]
}

fn describe_query(q: &Query) -> serde_json::Value {
    json!({ "text": q.text, "license": q.license, "keyword": q.keyword, "author": q.author, "made": q.made, "limit": q.limit })
}

fn describe_response(r: &Response) -> serde_json::Value {
    match r {
        Response::Hits(hits) => json!({ "hits": hits.iter().map(|h| json!({
            "design": h.design.to_string(), "name": h.name, "license": h.license,
            "score_milli": h.score_milli, "makes": h.makes, "held": h.held,
        })).collect::<Vec<_>>() }),
        Response::Refused(r) => {
            json!({ "refused": match r { Refusal::Busy => "busy", Refusal::BadRequest => "bad-request" } })
        }
    }
}

#[test]
fn spec_vectors_match_the_code_and_decode_back() {
    let generated = json!({
        "description": "Network search messages (spec/search.md). Each query and response 'hex' decodes to 'fields'; each rejected 'hex' is refused with 'reason'.",
        "queries": queries().iter().map(|(name, q)| json!({ "name": name, "hex": hex::encode(q.encode()), "fields": describe_query(q) })).collect::<Vec<_>>(),
        "responses": responses().iter().map(|(name, r)| json!({ "name": name, "hex": hex::encode(r.encode()), "fields": describe_response(r) })).collect::<Vec<_>>(),
        "rejected": rejected().iter().map(|(name, what, bytes, reason)| json!({ "name": name, "message": what, "hex": hex::encode(bytes), "reason": reason })).collect::<Vec<_>>(),
    });
    support::check_or_bless("search.json", &generated);
    let stored = support::load("search.json");
    for v in stored["queries"].as_array().expect("queries") {
        let q = Query::decode(&support::unhex(support::str_field(v, "hex"))).expect("a query");
        assert_eq!(describe_query(&q), v["fields"]);
    }
    for v in stored["responses"].as_array().expect("responses") {
        let r = Response::decode(&support::unhex(support::str_field(v, "hex"))).expect("a response");
        assert_eq!(describe_response(&r), v["fields"]);
    }
    for v in stored["rejected"].as_array().expect("rejected") {
        let bytes = support::unhex(support::str_field(v, "hex"));
        let reason = match support::str_field(v, "message") {
            "query" => Query::decode(&bytes).expect_err("refused").reason(),
            _ => Response::decode(&bytes).expect_err("refused").reason(),
        };
        assert_eq!(reason, support::str_field(v, "reason"), "{}", v["name"]);
    }
}
