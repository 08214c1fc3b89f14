//! Asking connected peers what designs they know (spec/search.md): one
//! request-response exchange in strict CBOR, and the per-peer budget that
//! keeps a flooding peer from costing a node more than a few searches a
//! second.
//!
//! A node answers from its own index (the designs it holds and those its
//! catalog knows); the asking side merges the answers with its own, by
//! design id. Nothing here is trusted: a hit is a hint, naming a design
//! id that catch-up then verifies like any other.

use crate::cbor::{self, DecodeError, Value, array_n, bytes_n, list, nullable, text, text_value, uint, uint_value};
use crate::hash::{DesignId, Hash};
use crate::limits::{
    MAX_LICENSE_BYTES, MAX_NAME_BYTES, MAX_SEARCH_FILTER_BYTES, MAX_SEARCH_MESSAGE_BYTES, MAX_SEARCH_RESULTS,
    MAX_SEARCH_TEXT_BYTES, SEARCH_BURST, SEARCH_REFILL_MILLIS,
};

/// The libp2p protocol of network search.
pub const SEARCH_PROTOCOL: &str = "/communs/search/1";

/// What to look for. Empty text with no filter matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub text: String,
    /// An SPDX license id the design's license expression names.
    pub license: Option<String>,
    pub keyword: Option<String>,
    /// An author id (`author1…`) or a name.
    pub author: Option<String>,
    /// Only designs made at least once.
    pub made: bool,
    /// At most this many hits (at most [`MAX_SEARCH_RESULTS`]).
    pub limit: u64,
}

/// One design an answering node knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub design: DesignId,
    pub name: String,
    /// The genesis license expression.
    pub license: String,
    /// The answering node's relevance score, in thousandths (comparable
    /// only between the hits of one answer).
    pub score_milli: u64,
    /// Make reports of the design the answering node holds.
    pub makes: u64,
    /// Whether the answering node holds the design (it can serve its
    /// events and files), or only heard of it (its catalog).
    pub held: bool,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Hits(Vec<Hit>),
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The peer asked more often than its budget allows.
    #[error("too many searches: wait before asking again")]
    Busy,
    /// A query the answering node cannot run (empty, or its index is
    /// being rebuilt).
    #[error("bad search request")]
    BadRequest,
}

impl Query {
    /// `[text, license | null, keyword | null, author | null, made, limit]`.
    pub fn encode(&self) -> Vec<u8> {
        let optional = |s: &Option<String>| s.as_deref().map_or(Value::Null, text_value);
        cbor::encode(&Value::Array(vec![
            text_value(&self.text),
            optional(&self.license),
            optional(&self.keyword),
            optional(&self.author),
            Value::Bool(self.made),
            uint_value(self.limit),
        ]))
    }

    pub fn decode(bytes: &[u8]) -> Result<Query, DecodeError> {
        let value = cbor::decode(bytes, MAX_SEARCH_MESSAGE_BYTES)?;
        let [query, license, keyword, author, made, limit] = array_n(&value, "search")?;
        let filter = |v: &Value, field| {
            nullable(v).map(|v| text(v, field, MAX_SEARCH_FILTER_BYTES).map(str::to_owned)).transpose()
        };
        let limit = uint(limit, "search.limit")?;
        if limit > MAX_SEARCH_RESULTS as u64 {
            return Err(DecodeError::TooMany { field: "search.limit", count: limit as usize, max: MAX_SEARCH_RESULTS });
        }
        Ok(Query {
            text: text(query, "search.text", MAX_SEARCH_TEXT_BYTES)?.to_owned(),
            license: filter(license, "search.license")?,
            keyword: filter(keyword, "search.keyword")?,
            author: filter(author, "search.author")?,
            made: crate::cbor::boolean(made, "search.made")?,
            limit,
        })
    }

    /// Whether the query asks for anything at all.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.license.is_none() && self.keyword.is_none() && self.author.is_none()
    }
}

impl Response {
    /// `[0, [hit, ...]]` or `[1, code]`; a hit is `[design, name, license,
    /// score, makes, held]`.
    pub fn encode(&self) -> Vec<u8> {
        let value = match self {
            Response::Hits(hits) => Value::Array(vec![
                uint_value(0),
                Value::Array(
                    hits.iter()
                        .map(|h| {
                            Value::Array(vec![
                                Value::Bytes(h.design.as_bytes().to_vec()),
                                text_value(&h.name),
                                text_value(&h.license),
                                uint_value(h.score_milli),
                                uint_value(h.makes),
                                Value::Bool(h.held),
                            ])
                        })
                        .collect(),
                ),
            ]),
            Response::Refused(refusal) => Value::Array(vec![uint_value(1), uint_value(refusal.code())]),
        };
        cbor::encode(&value)
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        let value = cbor::decode(bytes, MAX_SEARCH_MESSAGE_BYTES)?;
        let [kind, body] = array_n(&value, "search.response")?;
        match uint(kind, "search.response.kind")? {
            0 => Ok(Response::Hits(list(body, "search.hits", MAX_SEARCH_RESULTS, |hit| {
                let [design, name, license, score, makes, held] = array_n(hit, "search.hit")?;
                Ok(Hit {
                    design: DesignId::from_hash(Hash::from_bytes(bytes_n(design, "search.hit.design")?)),
                    name: text(name, "search.hit.name", MAX_NAME_BYTES)?.to_owned(),
                    license: text(license, "search.hit.license", MAX_LICENSE_BYTES)?.to_owned(),
                    score_milli: uint(score, "search.hit.score")?,
                    makes: uint(makes, "search.hit.makes")?,
                    held: crate::cbor::boolean(held, "search.hit.held")?,
                })
            })?)),
            1 => Ok(Response::Refused(Refusal::from_code(uint(body, "search.refusal")?)?)),
            kind => Err(DecodeError::UnknownKind { field: "search.response", kind }),
        }
    }
}

impl Refusal {
    fn code(self) -> u64 {
        match self {
            Refusal::Busy => 0,
            Refusal::BadRequest => 1,
        }
    }

    fn from_code(code: u64) -> Result<Refusal, DecodeError> {
        match code {
            0 => Ok(Refusal::Busy),
            1 => Ok(Refusal::BadRequest),
            kind => Err(DecodeError::UnknownKind { field: "search.refusal", kind }),
        }
    }
}

/// One peer's search budget: a token bucket of [`SEARCH_BURST`] searches,
/// one more every [`SEARCH_REFILL_MILLIS`]. Fed the time by its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Searches left, in thousandths.
    tokens_milli: u64,
    /// When `tokens_milli` was last brought up to date, in ms.
    at_ms: u64,
}

/// What a peer's budget says of one more search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Answer,
    /// Over budget: refuse with `busy`.
    Refuse,
    /// Over budget by far (a whole burst refused since the bucket was last
    /// full): refuse and penalise the peer.
    Penalise,
}

impl Budget {
    /// A full budget at `now_ms`.
    pub fn new(now_ms: u64) -> Budget {
        Budget { tokens_milli: SEARCH_BURST * 1000, at_ms: now_ms }
    }

    /// Takes one search at `now_ms`, if the budget allows it. `refused`
    /// counts the refusals in a row, for the penalty.
    pub fn take(&mut self, now_ms: u64, refused: &mut u64) -> Verdict {
        let elapsed = now_ms.saturating_sub(self.at_ms);
        let gained = elapsed.saturating_mul(1000) / SEARCH_REFILL_MILLIS;
        self.tokens_milli = self.tokens_milli.saturating_add(gained).min(SEARCH_BURST * 1000);
        self.at_ms = now_ms;
        if self.tokens_milli >= 1000 {
            self.tokens_milli -= 1000;
            *refused = 0;
            return Verdict::Answer;
        }
        *refused += 1;
        if *refused >= SEARCH_BURST { Verdict::Penalise } else { Verdict::Refuse }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(n: u8) -> DesignId {
        DesignId::from_hash(Hash::from_bytes([n; 32]))
    }

    #[test]
    fn queries_and_answers_round_trip_and_refuse_what_is_over_a_limit() {
        let query = Query {
            text: "face shield".into(),
            license: Some("CERN-OHL-S-2.0".into()),
            keyword: None,
            author: Some("Ada".into()),
            made: true,
            limit: 20,
        };
        assert_eq!(Query::decode(&query.encode()), Ok(query.clone()));
        let over = Query { limit: MAX_SEARCH_RESULTS as u64 + 1, ..query.clone() };
        assert_eq!(Query::decode(&over.encode()).map_err(|e| e.reason()), Err("too-many"));
        let long = Query { text: "x".repeat(MAX_SEARCH_TEXT_BYTES + 1), ..query };
        assert_eq!(Query::decode(&long.encode()).map_err(|e| e.reason()), Err("too-long"));

        let hit = |n| Hit {
            design: design(n),
            name: "Face shield".into(),
            license: "MIT".into(),
            score_milli: 1234,
            makes: 3,
            held: n % 2 == 0,
        };
        let answer = Response::Hits(vec![hit(1), hit(2)]);
        assert_eq!(Response::decode(&answer.encode()), Ok(answer));
        let refused = Response::Refused(Refusal::Busy);
        assert_eq!(refused.encode(), [0x82, 0x01, 0x00]);
        assert_eq!(Response::decode(&refused.encode()), Ok(refused));
        let too_many = Response::Hits((0..=MAX_SEARCH_RESULTS as u8).map(hit).collect());
        assert_eq!(Response::decode(&too_many.encode()).map_err(|e| e.reason()), Err("too-many"));
        assert_eq!(Query::decode(b"\x80").map_err(|e| e.reason()), Err("shape"));
    }

    #[test]
    fn a_flooding_peer_is_refused_then_penalised_and_an_honest_one_never() {
        let mut budget = Budget::new(0);
        let mut refused = 0;
        for _ in 0..SEARCH_BURST {
            assert_eq!(budget.take(0, &mut refused), Verdict::Answer);
        }
        assert_eq!(budget.take(0, &mut refused), Verdict::Refuse);
        for _ in 2..SEARCH_BURST {
            assert_eq!(budget.take(1, &mut refused), Verdict::Refuse);
        }
        assert_eq!(budget.take(2, &mut refused), Verdict::Penalise);
        // After a refill period, one more search is answered.
        assert_eq!(budget.take(2 + SEARCH_REFILL_MILLIS, &mut refused), Verdict::Answer);

        // A peer asking once per refill period is always answered.
        let mut honest = Budget::new(0);
        let mut refused = 0;
        for n in 0..1000 {
            assert_eq!(honest.take(n * SEARCH_REFILL_MILLIS, &mut refused), Verdict::Answer);
        }
    }
}
