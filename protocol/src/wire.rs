//! What nodes say to each other: where gossip goes, and the catch-up
//! messages.
//!
//! Gossip carries one signed event per message, its bytes exactly as
//! signed, so the message id is the event id and the receiver validates it
//! with [`SignedEvent::decode`] like any other event. A genesis goes to the
//! announce topic (a new design: nodes that seed everything want it); every
//! other event to its design's shard topic.
//!
//! Catch-up is request-response over the project's strict CBOR (spec/catchup.md):
//! a `Reconcile` session of negentropy messages (see [`crate::sync`]) finds
//! the ids this side lacks, then `Fetch` brings those events, in batches.
//! The answering side keeps the session (the item set it built for the
//! scope) so that only the first message names the scope.

use crate::cbor::{self, DecodeError, Value, bytes_n, list, nullable, sorted_set, uint, uint_value};
use crate::hash::DesignId;
use crate::identity::AuthorId;
use crate::limits::{
    GOSSIP_SHARDS, MAX_ANNOUNCEMENT_BYTES, MAX_CATALOG_HOLDERS, MAX_CATCHUP_MESSAGE_BYTES, MAX_EVENT_BYTES,
    MAX_FETCH_IDS, MAX_PROFILE_AUTHORS, MAX_RECONCILE_MESSAGE_BYTES, MAX_SCOPE_DESIGNS,
};
use crate::{Body, SignedEvent};

/// The libp2p protocol of catch-up requests.
pub const CATCHUP_PROTOCOL: &str = "/communs/catchup/1";
/// The libp2p protocol of blob transfer (the iroh-blobs protocol, unchanged,
/// on a libp2p stream).
pub const BLOBS_PROTOCOL: &str = "/communs/blobs/1";
/// The gossip topic of new designs (their genesis events).
pub const ANNOUNCE_TOPIC: &str = "communs/1/announce";
/// The gossip topic of catalog announcements (spec/catalog.md): every
/// node subscribes to it.
pub const CATALOG_TOPIC: &str = "communs/1/catalog";
/// The prefix of the shard topics, followed by the shard number in decimal.
pub const SHARD_TOPIC_PREFIX: &str = "communs/1/shard/";
/// The Kademlia and identify protocol names, so that communs nodes form
/// their own DHT rather than joining IPFS's.
pub const KAD_PROTOCOL: &str = "/communs/kad/1";
pub const IDENTIFY_PROTOCOL: &str = "/communs/id/1";

/// The shard of a design: its id's first two bytes, little-endian, modulo
/// [`GOSSIP_SHARDS`]. Ids are hashes, so designs spread evenly.
pub fn shard(design: &DesignId) -> u16 {
    let bytes = design.as_bytes();
    u16::from_le_bytes([bytes[0], bytes[1]]) % GOSSIP_SHARDS
}

pub fn shard_topic(shard: u16) -> String {
    format!("{SHARD_TOPIC_PREFIX}{shard}")
}

/// The topic an event is gossiped on. A profile, which belongs to no
/// design, goes to the shard topics of the designs its author has events
/// in ([`profile_topics`]); this gives the first shard's, for a caller
/// that knows of none.
pub fn topic_of(event: &SignedEvent) -> String {
    match event.body() {
        Body::Genesis(_) => ANNOUNCE_TOPIC.to_owned(),
        Body::Profile(_) => shard_topic(0),
        _ => shard_topic(shard(&event.design())),
    }
}

/// Whether `topic` is one an event may arrive on: a gossiped event on any
/// other topic is refused, so a peer cannot push events of designs into
/// shards whose subscribers did not ask for them.
pub fn topic_matches(event: &SignedEvent, topic: &str) -> bool {
    match event.body() {
        Body::Profile(_) => is_shard_topic(topic),
        _ => topic_of(event) == topic,
    }
}

/// The topics a profile is gossiped on: the shards of its author's
/// designs, each once.
pub fn profile_topics(designs: impl IntoIterator<Item = DesignId>) -> Vec<String> {
    let shards: std::collections::BTreeSet<u16> = designs.into_iter().map(|d| shard(&d)).collect();
    shards.into_iter().map(shard_topic).collect()
}

fn is_shard_topic(topic: &str) -> bool {
    topic
        .strip_prefix(SHARD_TOPIC_PREFIX)
        .and_then(|n| n.parse::<u16>().ok())
        .is_some_and(|n| n < GOSSIP_SHARDS && shard_topic(n) == topic)
}

/// Bytes of an [`IdPrefix`].
pub const ID_PREFIX_BYTES: usize = 8;

/// The first 8 bytes of an event or design id. Catch-up names what it asks
/// for by prefix: the asking side knows the full ids and checks every event
/// it receives against them, so a prefix that matched two events (about one
/// chance in 2^64 by accident) costs a few extra bytes, never a wrong event,
/// and asking by prefix takes a quarter of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdPrefix(pub [u8; ID_PREFIX_BYTES]);

impl IdPrefix {
    /// The prefix of a full id.
    pub fn of(id: &[u8; 32]) -> IdPrefix {
        let mut prefix = [0u8; ID_PREFIX_BYTES];
        prefix.copy_from_slice(&id[..ID_PREFIX_BYTES]);
        IdPrefix(prefix)
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &[u8; 32]) -> bool {
        id[..ID_PREFIX_BYTES] == self.0
    }
}

/// Which designs a reconciliation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every design the answering side holds (a node that seeds everything).
    All,
    /// The designs whose ids start with these prefixes, sorted and unique.
    Designs(Vec<IdPrefix>),
    /// The answering side's catalog: one item per announcement
    /// (spec/catalog.md), fetched with [`Request::FetchCatalog`].
    Catalog,
}

impl Scope {
    /// The scope of these designs.
    pub fn designs(designs: impl IntoIterator<Item = DesignId>) -> Scope {
        let prefixes: std::collections::BTreeSet<IdPrefix> =
            designs.into_iter().map(|d| IdPrefix::of(d.as_bytes())).collect();
        Scope::Designs(prefixes.into_iter().collect())
    }

    /// Whether the scope covers `design` (the prefixes must be sorted, as
    /// [`Scope::designs`] and decoding make them).
    pub fn covers(&self, design: &DesignId) -> bool {
        match self {
            Scope::All => true,
            Scope::Designs(prefixes) => prefixes.binary_search(&IdPrefix::of(design.as_bytes())).is_ok(),
            Scope::Catalog => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// One step of a reconciliation session. The first message of a session
    /// carries its scope; later ones `None`.
    Reconcile { session: u64, scope: Option<Scope>, message: Vec<u8> },
    /// The events whose ids start with these prefixes (at most
    /// [`MAX_FETCH_IDS`]).
    Fetch { ids: Vec<IdPrefix> },
    /// The catalog announcements whose ids start with these prefixes (at
    /// most [`MAX_FETCH_IDS`]).
    FetchCatalog { ids: Vec<IdPrefix> },
    /// The profiles of these authors (at most [`MAX_PROFILE_AUTHORS`])
    /// newer than the clock given with each (0: any), answered with
    /// `Events` (spec/catchup.md, "Profiles").
    Profiles { known: Vec<(AuthorId, u64)> },
}

/// One announcement in an [`Response::Announcements`], as the answering
/// side holds it: its bytes (spec/catalog.md), and the peers it says keep
/// the design (their 32-byte keys, at most [`MAX_CATALOG_HOLDERS`]; itself
/// first if it keeps it). The holders are hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRecord {
    pub announcement: Vec<u8>,
    pub holders: Vec<AuthorId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The answer to a `Reconcile` step.
    Reconcile { message: Vec<u8> },
    /// Events asked for, each as signed, in the order asked, omitting those
    /// this side lacks (and including every event a prefix matches),
    /// stopping before the message would exceed [`MAX_CATCHUP_MESSAGE_BYTES`]
    /// or [`MAX_FETCH_IDS`] events.
    Events { events: Vec<Vec<u8>> },
    /// Announcements asked for by a [`Request::FetchCatalog`], in the order
    /// asked, like `Events`.
    Announcements { records: Vec<CatalogRecord> },
    /// The request was not served.
    Refused(Refusal),
}

/// Why a request was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A `Reconcile` without a scope for a session this side does not hold
    /// (expired, or dropped for a newer one): start again.
    #[error("unknown reconciliation session")]
    UnknownSession,
    /// A well-formed request this side cannot answer (e.g. a malformed
    /// negentropy message).
    #[error("bad request")]
    BadRequest,
    /// Too many requests from this peer at once.
    #[error("busy")]
    Busy,
}

impl Refusal {
    fn code(self) -> u64 {
        match self {
            Refusal::UnknownSession => 0,
            Refusal::BadRequest => 1,
            Refusal::Busy => 2,
        }
    }

    fn from_code(code: u64) -> Result<Self, DecodeError> {
        Ok(match code {
            0 => Refusal::UnknownSession,
            1 => Refusal::BadRequest,
            2 => Refusal::Busy,
            kind => return Err(DecodeError::UnknownKind { field: "refusal", kind }),
        })
    }
}

fn id_value(hash: &[u8]) -> Value {
    Value::Bytes(hash.to_vec())
}

fn prefix(value: &Value, field: &'static str) -> Result<IdPrefix, DecodeError> {
    Ok(IdPrefix(bytes_n(value, field)?))
}

fn byte_string(value: &Value, field: &'static str, max: usize) -> Result<Vec<u8>, DecodeError> {
    match value {
        Value::Bytes(b) if b.len() > max => Err(DecodeError::TooLong { field, len: b.len(), max }),
        Value::Bytes(b) => Ok(b.clone()),
        _ => Err(DecodeError::Shape { field, expected: "a byte string" }),
    }
}

/// `[kind, ...]`: the first item of every message says which it is.
fn split_kind<'a>(value: &'a Value, field: &'static str) -> Result<(u64, &'a [Value]), DecodeError> {
    match value {
        Value::Array(items) if !items.is_empty() => Ok((uint(&items[0], field)?, &items[1..])),
        _ => Err(DecodeError::Shape { field, expected: "a non-empty array" }),
    }
}

fn rest<'a, const N: usize>(items: &'a [Value], field: &'static str) -> Result<&'a [Value; N], DecodeError> {
    items.try_into().map_err(|_| DecodeError::Shape { field, expected: "an array of the right length" })
}

impl Scope {
    fn to_value(&self) -> Value {
        match self {
            Scope::All => Value::Array(vec![uint_value(0)]),
            Scope::Catalog => Value::Array(vec![uint_value(2)]),
            Scope::Designs(designs) => {
                Value::Array(vec![uint_value(1), Value::Array(designs.iter().map(|d| id_value(&d.0)).collect())])
            }
        }
    }

    fn from_value(value: &Value) -> Result<Self, DecodeError> {
        match split_kind(value, "scope")? {
            (0, []) => Ok(Scope::All),
            (2, []) => Ok(Scope::Catalog),
            (1, [designs]) => Ok(Scope::Designs(sorted_set(designs, "scope.designs", MAX_SCOPE_DESIGNS, |v| {
                prefix(v, "scope.design")
            })?)),
            (0..=2, _) => Err(DecodeError::Shape { field: "scope", expected: "an array of the right length" }),
            (kind, _) => Err(DecodeError::UnknownKind { field: "scope", kind }),
        }
    }
}

impl Request {
    /// `[0, session, scope | null, message]`, `[1, [prefix, ...]]`,
    /// `[2, [prefix, ...]]` (catalog) or `[3, [[author, clock], ...]]`.
    pub fn encode(&self) -> Vec<u8> {
        let value = match self {
            Request::Reconcile { session, scope, message } => Value::Array(vec![
                uint_value(0),
                uint_value(*session),
                scope.as_ref().map_or(Value::Null, Scope::to_value),
                Value::Bytes(message.clone()),
            ]),
            Request::Fetch { ids } => {
                Value::Array(vec![uint_value(1), Value::Array(ids.iter().map(|id| id_value(&id.0)).collect())])
            }
            Request::FetchCatalog { ids } => {
                Value::Array(vec![uint_value(2), Value::Array(ids.iter().map(|id| id_value(&id.0)).collect())])
            }
            Request::Profiles { known } => Value::Array(vec![
                uint_value(3),
                Value::Array(
                    known
                        .iter()
                        .map(|(author, clock)| Value::Array(vec![id_value(author.as_bytes()), uint_value(*clock)]))
                        .collect(),
                ),
            ]),
        };
        cbor::encode(&value)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = cbor::decode(bytes, MAX_CATCHUP_MESSAGE_BYTES)?;
        match split_kind(&value, "request")? {
            (0, items) => {
                let [session, scope, message] = rest(items, "request.reconcile")?;
                Ok(Request::Reconcile {
                    session: uint(session, "request.session")?,
                    scope: nullable(scope).map(Scope::from_value).transpose()?,
                    message: byte_string(message, "request.message", MAX_RECONCILE_MESSAGE_BYTES)?,
                })
            }
            (1, items) => {
                let [ids] = rest(items, "request.fetch")?;
                let ids = list(ids, "request.ids", MAX_FETCH_IDS, |v| prefix(v, "request.id"))?;
                Ok(Request::Fetch { ids })
            }
            (2, items) => {
                let [ids] = rest(items, "request.fetch_catalog")?;
                let ids = list(ids, "request.ids", MAX_FETCH_IDS, |v| prefix(v, "request.id"))?;
                Ok(Request::FetchCatalog { ids })
            }
            (3, items) => {
                let [known] = rest(items, "request.profiles")?;
                let known = list(known, "request.profiles", MAX_PROFILE_AUTHORS, |v| {
                    let [author, clock] = crate::cbor::array_n(v, "request.profile")?;
                    let author = AuthorId::from_bytes(bytes_n(author, "request.profile.author")?).map_err(|_| {
                        DecodeError::Shape { field: "request.profile.author", expected: "an author key" }
                    })?;
                    Ok((author, uint(clock, "request.profile.clock")?))
                })?;
                Ok(Request::Profiles { known })
            }
            (kind, _) => Err(DecodeError::UnknownKind { field: "request", kind }),
        }
    }
}

impl Response {
    /// `[0, message]`, `[1, [event, ...]]`, `[2, refusal]` or
    /// `[3, [[announcement, [holder, ...]], ...]]`.
    pub fn encode(&self) -> Vec<u8> {
        let value = match self {
            Response::Reconcile { message } => Value::Array(vec![uint_value(0), Value::Bytes(message.clone())]),
            Response::Events { events } => Value::Array(vec![
                uint_value(1),
                Value::Array(events.iter().map(|e| Value::Bytes(e.clone())).collect()),
            ]),
            Response::Refused(refusal) => Value::Array(vec![uint_value(2), uint_value(refusal.code())]),
            Response::Announcements { records } => Value::Array(vec![
                uint_value(3),
                Value::Array(
                    records
                        .iter()
                        .map(|r| {
                            Value::Array(vec![
                                Value::Bytes(r.announcement.clone()),
                                Value::Array(r.holders.iter().map(|h| id_value(h.as_bytes())).collect()),
                            ])
                        })
                        .collect(),
                ),
            ]),
        };
        cbor::encode(&value)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = cbor::decode(bytes, MAX_CATCHUP_MESSAGE_BYTES)?;
        match split_kind(&value, "response")? {
            (0, items) => {
                let [message] = rest(items, "response.reconcile")?;
                Ok(Response::Reconcile {
                    message: byte_string(message, "response.message", MAX_RECONCILE_MESSAGE_BYTES)?,
                })
            }
            (1, items) => {
                let [events] = rest(items, "response.events")?;
                let events = list(events, "response.events", MAX_FETCH_IDS, |v| {
                    byte_string(v, "response.event", MAX_EVENT_BYTES)
                })?;
                Ok(Response::Events { events })
            }
            (2, items) => {
                let [code] = rest(items, "response.refused")?;
                Ok(Response::Refused(Refusal::from_code(uint(code, "response.refusal")?)?))
            }
            (3, items) => {
                let [records] = rest(items, "response.announcements")?;
                let records = list(records, "response.announcements", MAX_FETCH_IDS, catalog_record)?;
                Ok(Response::Announcements { records })
            }
            (kind, _) => Err(DecodeError::UnknownKind { field: "response", kind }),
        }
    }
}

/// Fills an `Events` response with the first events of `events` that fit
/// in one message.
pub fn events_response<'a>(events: impl IntoIterator<Item = &'a [u8]>) -> Response {
    // Per event: its bytes plus a byte-string head of at most 5 bytes;
    // the array head and kind take at most 6 more.
    let mut budget = MAX_CATCHUP_MESSAGE_BYTES - 6;
    let mut out = Vec::new();
    for event in events.into_iter().take(MAX_FETCH_IDS) {
        let cost = event.len() + 5;
        if cost > budget {
            break;
        }
        budget -= cost;
        out.push(event.to_vec());
    }
    Response::Events { events: out }
}

fn catalog_record(value: &Value) -> Result<CatalogRecord, DecodeError> {
    let [announcement, holders] = crate::cbor::array_n(value, "response.announcement")?;
    Ok(CatalogRecord {
        announcement: byte_string(announcement, "response.announcement", MAX_ANNOUNCEMENT_BYTES)?,
        holders: list(holders, "response.holders", MAX_CATALOG_HOLDERS, |v| {
            AuthorId::from_bytes(bytes_n(v, "response.holder")?)
                .map_err(|_| DecodeError::Shape { field: "response.holder", expected: "an Ed25519 public key" })
        })?,
    })
}

/// Fills an `Announcements` response with the first records that fit in
/// one message, at most [`MAX_FETCH_IDS`] and [`MAX_CATALOG_HOLDERS`]
/// holders each.
pub fn announcements_response(records: impl IntoIterator<Item = CatalogRecord>) -> Response {
    // Per record: a 1-byte array head, its bytes with a head of at most
    // 5 bytes, a holders array head of 1 byte and 34 bytes per holder; the
    // response's array head and kind take at most 6 more.
    let mut budget = MAX_CATCHUP_MESSAGE_BYTES - 6;
    let mut out = Vec::new();
    for mut record in records.into_iter().take(MAX_FETCH_IDS) {
        record.holders.truncate(MAX_CATALOG_HOLDERS);
        let cost = 1 + record.announcement.len() + 5 + 1 + 34 * record.holders.len();
        if cost > budget {
            break;
        }
        budget -= cost;
        out.push(record);
    }
    Response::Announcements { records: out }
}
