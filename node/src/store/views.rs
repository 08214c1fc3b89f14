//! What each design's log resolves to, kept beside the log.
//!
//! Reading a design must not cost a replay of its log: a design may hold a
//! million events, a store a hundred thousand designs. So every insert
//! brings these rows up to date in the transaction that stores the events,
//! and reads (`list`, `show`, `status`, `log`, `get`) read rows, never the
//! whole log. The rows are derived data: `fsck` rebuilds them from the
//! events and compares, and a store whose rows are missing or of an older
//! layout has them rebuilt when it opens (spec/storage.md).
//!
//! The governance state is computed by the protocol's incremental
//! [`Resolver`]; a node keeps the resolvers of the designs it touched
//! lately in memory ([`ResolverCache`]), so that an event added to a large
//! design costs its own work, not a replay. A resolver not in the cache is
//! rebuilt from the log once.

use std::collections::{BTreeMap, HashMap};

use communs_protocol::cbor::{self, Value};
use communs_protocol::governance::{
    CompetingHead, GovernanceState, Inapplicable, LossReason, OpenContribution, Proposal, ProposalOutcome, Resolver,
    VoidReason,
};
use communs_protocol::{AuthorId, Change, DesignId, EventId, Hash};
use redb::TableDefinition;

/// Design id -> (name, canonical head, revisions, events, fork of).
pub(super) const DESIGNS: TableDefinition<&[u8; 32], DesignRowValue<'static>> = TableDefinition::new("designs");
pub(super) type DesignRowValue<'a> = (&'a str, Option<[u8; 32]>, u64, u64, Option<([u8; 32], [u8; 32])>);
/// Design id -> its governance state (CBOR, below).
pub(super) const GOVERNANCE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("governance");
/// (design id, event id) -> clock, for each event of the design that no
/// other names as a parent: where a new event is signed on top.
pub(super) const HEADS: TableDefinition<(&[u8; 32], &[u8; 32]), u64> = TableDefinition::new("heads");
/// (design id, u64::MAX - clock, event id): a design's log newest first,
/// read a page at a time.
pub(super) const LOG: TableDefinition<(&[u8; 32], u64, &[u8; 32]), ()> = TableDefinition::new("log");
/// (sort key of its name, design id): every design in the order `list`
/// shows them, read a page at a time.
pub(super) const NAMES: TableDefinition<(&str, &[u8; 32]), ()> = TableDefinition::new("names");
/// Name -> value: the layout version of the rows above.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Bumped whenever the rows above change meaning or layout: a store with
/// another version has them rebuilt from its events when it opens. 2: the
/// bound on unclaimed contributions (a rebuild deletes what is over it).
/// 3: the `names` index of `list`. 4: comments, make counts, authors
/// (`social.rs`). 5: remixes (`social.rs`).
pub(super) const VIEWS_VERSION: u64 = 5;
pub(super) const VIEWS_VERSION_KEY: &str = "views_version";

/// Events held by the cached resolvers together, beyond which the least
/// recently used ones are dropped (the most recent is always kept, however
/// large). About 300 bytes of memory each.
pub(crate) const MAX_CACHED_RESOLVER_EVENTS: u64 = 1_000_000;

/// One design as `list` shows it, read from one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DesignRow {
    pub design: DesignId,
    /// The canonical revision's manifest name, else the genesis name.
    pub name: String,
    pub canonical: Option<EventId>,
    pub revisions: u64,
    pub events: u64,
    pub fork_of: Option<(DesignId, EventId)>,
}

impl DesignRow {
    pub(super) fn from_value(design: &[u8; 32], value: DesignRowValueOwned) -> DesignRow {
        let (name, canonical, revisions, events, fork_of) = value;
        DesignRow {
            design: DesignId::from_hash(Hash::from_bytes(*design)),
            name,
            canonical: canonical.map(event_id),
            revisions,
            events,
            fork_of: fork_of.map(|(d, r)| (DesignId::from_hash(Hash::from_bytes(d)), event_id(r))),
        }
    }
}

/// Where a design's name sorts in `list`: case aside, so that "bracket"
/// and "Bracket" sit together.
pub(super) fn sort_key(name: &str) -> String {
    name.to_lowercase()
}

pub(super) type DesignRowValueOwned = (String, Option<[u8; 32]>, u64, u64, Option<([u8; 32], [u8; 32])>);

pub(super) fn event_id(bytes: [u8; 32]) -> EventId {
    EventId::from_hash(Hash::from_bytes(bytes))
}

/// The resolvers of recently touched designs, each with its event count.
#[derive(Default)]
pub(super) struct ResolverCache {
    entries: HashMap<DesignId, (Resolver, u64, u64)>,
    /// Use counter, for least-recently-used eviction.
    tick: u64,
    /// Writes to the event log so far (inserts and removals, each made
    /// while this cache is held): a dry run's resolvers are good for the
    /// insert that follows it only if none came in between.
    writes: u64,
}

impl ResolverCache {
    pub(super) fn get_mut(&mut self, design: &DesignId) -> Option<&mut Resolver> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(design).map(|(resolver, _, used)| {
            *used = tick;
            resolver
        })
    }

    pub(super) fn writes(&self) -> u64 {
        self.writes
    }

    /// Counts a write to the event log (see `writes`).
    pub(super) fn wrote(&mut self) {
        self.writes += 1;
    }

    /// A cached resolver and its event count, without marking it used.
    pub(super) fn peek(&self, design: &DesignId) -> Option<(&Resolver, u64)> {
        self.entries.get(design).map(|(resolver, events, _)| (resolver, *events))
    }

    pub(super) fn insert(&mut self, design: DesignId, resolver: Resolver, events: u64) {
        self.tick += 1;
        self.entries.insert(design, (resolver, events, self.tick));
    }

    /// Takes a design's resolver out, with its event count.
    pub(super) fn take(&mut self, design: &DesignId) -> Option<(Resolver, u64)> {
        self.entries.remove(design).map(|(resolver, events, _)| (resolver, events))
    }

    pub(super) fn added(&mut self, design: &DesignId, events: u64) {
        if let Some((_, count, _)) = self.entries.get_mut(design) {
            *count += events;
        }
    }

    pub(super) fn removed(&mut self, design: &DesignId, events: u64) {
        if let Some((_, count, _)) = self.entries.get_mut(design) {
            *count = count.saturating_sub(events);
        }
    }

    /// Forgets a design whose resolver may no longer match the store (a
    /// transaction that changed it failed).
    pub(super) fn forget(&mut self, design: &DesignId) {
        self.entries.remove(design);
    }

    /// Drops the least recently used resolvers until the rest hold at most
    /// [`MAX_CACHED_RESOLVER_EVENTS`], keeping the most recent.
    pub(super) fn trim(&mut self) {
        let mut total: u64 = self.entries.values().map(|(_, n, _)| n).sum();
        while total > MAX_CACHED_RESOLVER_EVENTS && self.entries.len() > 1 {
            let oldest = *self.entries.iter().min_by_key(|(_, (_, _, used))| *used).map(|(d, _)| d).expect("not empty");
            total -= self.entries.remove(&oldest).map(|(_, n, _)| n).unwrap_or_default();
        }
    }
}

/// Why a stored governance state could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("the stored governance state of a design is damaged ({0}); run `communs fsck`")]
pub struct StateDecodeError(&'static str);

/// The part of a governance state that readers need, trimmed of what only
/// grows with the log: approvals are kept for the heads and the open
/// contributions, not for every accepted revision.
pub(super) fn trimmed(state: &GovernanceState) -> GovernanceState {
    let mut out = state.clone();
    let keep: std::collections::BTreeSet<EventId> = state
        .canonical
        .iter()
        .copied()
        .chain(state.competing.iter().map(|c| c.revision))
        .chain(state.open.iter().map(|o| o.revision))
        .collect();
    out.approvals.retain(|r, _| keep.contains(r));
    out
}

fn id_value(id: &EventId) -> Value {
    Value::Bytes(id.as_bytes().to_vec())
}

fn author_value(a: &AuthorId) -> Value {
    Value::Bytes(a.as_bytes().to_vec())
}

fn option(v: Option<Value>) -> Value {
    v.unwrap_or(Value::Null)
}

fn authors(v: &[AuthorId]) -> Value {
    Value::Array(v.iter().map(author_value).collect())
}

fn change_value(change: &Change) -> Value {
    match change {
        Change::AddMaintainer(a) => Value::Array(vec![0.into(), author_value(a)]),
        Change::RemoveMaintainer(a) => Value::Array(vec![1.into(), author_value(a)]),
        Change::SetThreshold(n) => Value::Array(vec![2.into(), (*n).into()]),
    }
}

fn outcome_value(outcome: &ProposalOutcome) -> Value {
    let (kind, detail) = match outcome {
        ProposalOutcome::Accepted => (0u64, Value::Null),
        ProposalOutcome::Pending => (1, Value::Null),
        ProposalOutcome::Void(VoidReason::LostTo(w)) => (2, id_value(w)),
        ProposalOutcome::Void(VoidReason::Superseded { by }) => (3, id_value(by)),
        ProposalOutcome::Void(VoidReason::NotOnChain) => (4, Value::Null),
        ProposalOutcome::Void(VoidReason::NotApplicable(why)) => (
            5,
            Value::from(match why {
                Inapplicable::AlreadyMaintainer => 0u64,
                Inapplicable::NotMaintainer => 1,
                Inapplicable::LastMaintainer => 2,
                Inapplicable::TooManyMaintainers => 3,
                Inapplicable::ThresholdOutOfRange => 4,
            }),
        ),
    };
    Value::Array(vec![kind.into(), detail])
}

/// Encodes a (trimmed) state as the CBOR array of spec/storage.md.
pub(super) fn encode_state(state: &GovernanceState) -> Vec<u8> {
    let value = Value::Array(vec![
        option(state.design.map(|d| Value::Bytes(d.as_bytes().to_vec()))),
        authors(&state.maintainers),
        state.threshold.into(),
        option(state.state.as_ref().map(id_value)),
        Value::Array(state.chain.iter().map(id_value).collect()),
        Value::Array(
            state
                .proposals
                .iter()
                .map(|p| {
                    Value::Array(vec![
                        id_value(&p.id),
                        author_value(&p.author),
                        id_value(&p.prev),
                        change_value(&p.change),
                        authors(&p.approvals),
                        outcome_value(&p.outcome),
                    ])
                })
                .collect(),
        ),
        Value::Array(state.approvals.iter().map(|(r, who)| Value::Array(vec![id_value(r), authors(who)])).collect()),
        option(state.canonical.as_ref().map(id_value)),
        Value::Array(
            state
                .competing
                .iter()
                .map(|c| {
                    Value::Array(vec![
                        id_value(&c.revision),
                        (c.approvals as u64).into(),
                        c.clock.into(),
                        Value::from(match c.lost {
                            LossReason::FewerApprovals => 0u64,
                            LossReason::LowerClock => 1,
                            LossReason::HigherId => 2,
                        }),
                    ])
                })
                .collect(),
        ),
        Value::Array(
            state.open.iter().map(|o| Value::Array(vec![id_value(&o.revision), authors(&o.approvals)])).collect(),
        ),
    ]);
    cbor::encode(&value)
}

type Decoded<T> = Result<T, StateDecodeError>;

fn array<'v>(v: &'v Value, what: &'static str) -> Decoded<&'v [Value]> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(StateDecodeError(what)),
    }
}

fn bytes32(v: &Value, what: &'static str) -> Decoded<[u8; 32]> {
    match v {
        Value::Bytes(b) => b.as_slice().try_into().map_err(|_| StateDecodeError(what)),
        _ => Err(StateDecodeError(what)),
    }
}

fn uint(v: &Value, what: &'static str) -> Decoded<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| StateDecodeError(what)),
        _ => Err(StateDecodeError(what)),
    }
}

fn id(v: &Value) -> Decoded<EventId> {
    bytes32(v, "event id").map(event_id)
}

fn opt_id(v: &Value) -> Decoded<Option<EventId>> {
    match v {
        Value::Null => Ok(None),
        v => id(v).map(Some),
    }
}

/// Keys in a stored state came from stored events, checked on the way in.
fn author(v: &Value) -> Decoded<AuthorId> {
    Ok(AuthorId::from_stored_bytes(bytes32(v, "author")?))
}

fn author_list(v: &Value) -> Decoded<Vec<AuthorId>> {
    array(v, "authors")?.iter().map(author).collect()
}

fn fields<'v, const N: usize>(v: &'v Value, what: &'static str) -> Decoded<&'v [Value; N]> {
    array(v, what)?.try_into().map_err(|_| StateDecodeError(what))
}

pub(super) fn decode_state(bytes: &[u8]) -> Decoded<GovernanceState> {
    let value = cbor::decode(bytes, usize::MAX).map_err(|_| StateDecodeError("not CBOR"))?;
    let [design, maintainers, threshold, state, chain, proposals, approvals, canonical, competing, open] =
        fields::<10>(&value, "state")?;
    let proposals = array(proposals, "proposals")?
        .iter()
        .map(|p| {
            let [pid, pauthor, prev, change, papprovals, outcome] = fields::<6>(p, "proposal")?;
            let [kind, subject] = fields::<2>(change, "change")?;
            let change = match uint(kind, "change")? {
                0 => Change::AddMaintainer(author(subject)?),
                1 => Change::RemoveMaintainer(author(subject)?),
                2 => Change::SetThreshold(uint(subject, "threshold")?),
                _ => return Err(StateDecodeError("change")),
            };
            let [kind, detail] = fields::<2>(outcome, "outcome")?;
            let outcome = match uint(kind, "outcome")? {
                0 => ProposalOutcome::Accepted,
                1 => ProposalOutcome::Pending,
                2 => ProposalOutcome::Void(VoidReason::LostTo(id(detail)?)),
                3 => ProposalOutcome::Void(VoidReason::Superseded { by: id(detail)? }),
                4 => ProposalOutcome::Void(VoidReason::NotOnChain),
                5 => ProposalOutcome::Void(VoidReason::NotApplicable(match uint(detail, "inapplicable")? {
                    0 => Inapplicable::AlreadyMaintainer,
                    1 => Inapplicable::NotMaintainer,
                    2 => Inapplicable::LastMaintainer,
                    3 => Inapplicable::TooManyMaintainers,
                    4 => Inapplicable::ThresholdOutOfRange,
                    _ => return Err(StateDecodeError("inapplicable")),
                })),
                _ => return Err(StateDecodeError("outcome")),
            };
            Ok(Proposal {
                id: id(pid)?,
                author: author(pauthor)?,
                prev: id(prev)?,
                change,
                approvals: author_list(papprovals)?,
                outcome,
            })
        })
        .collect::<Decoded<Vec<_>>>()?;
    let approvals = array(approvals, "approvals")?
        .iter()
        .map(|a| {
            let [r, who] = fields::<2>(a, "approval")?;
            Ok((id(r)?, author_list(who)?))
        })
        .collect::<Decoded<BTreeMap<_, _>>>()?;
    let competing = array(competing, "competing")?
        .iter()
        .map(|c| {
            let [revision, count, clock, lost] = fields::<4>(c, "competing head")?;
            Ok(CompetingHead {
                revision: id(revision)?,
                approvals: uint(count, "approvals")? as usize,
                clock: uint(clock, "clock")?,
                lost: match uint(lost, "loss")? {
                    0 => LossReason::FewerApprovals,
                    1 => LossReason::LowerClock,
                    2 => LossReason::HigherId,
                    _ => return Err(StateDecodeError("loss")),
                },
            })
        })
        .collect::<Decoded<Vec<_>>>()?;
    let open = array(open, "open")?
        .iter()
        .map(|o| {
            let [r, who] = fields::<2>(o, "open contribution")?;
            Ok(OpenContribution { revision: id(r)?, approvals: author_list(who)? })
        })
        .collect::<Decoded<Vec<_>>>()?;
    Ok(GovernanceState {
        design: match design {
            Value::Null => None,
            v => Some(DesignId::from_hash(Hash::from_bytes(bytes32(v, "design")?))),
        },
        maintainers: author_list(maintainers)?,
        threshold: uint(threshold, "threshold")?,
        state: opt_id(state)?,
        chain: array(chain, "chain")?.iter().map(id).collect::<Decoded<_>>()?,
        proposals,
        approvals,
        canonical: opt_id(canonical)?,
        competing,
        open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use communs_protocol::{Body, Genesis, SecretKey, UnsignedEvent};

    #[test]
    fn a_trimmed_state_survives_its_encoding() {
        let key = SecretKey::from_bytes(&[7; 32]);
        let genesis = UnsignedEvent {
            design: None,
            author: key.author(),
            parents: vec![],
            clock: 0,
            time: 1,
            body: Body::Genesis(Genesis {
                name: "x".into(),
                maintainers: vec![key.author()],
                threshold: 1,
                license: "CERN-OHL-S-2.0".into(),
                nonce: [1; 16],
                fork_of: None,
            }),
        }
        .sign(&key)
        .unwrap();
        let mut resolver = Resolver::new();
        resolver.apply(genesis);
        let state = trimmed(resolver.state());
        assert_eq!(decode_state(&encode_state(&state)).unwrap(), state);
    }
}
