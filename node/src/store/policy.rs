//! The node's local policy log: what this node follows, mutes and pins.
//!
//! It is the node's own governance, not replicated: a maker decides which
//! designs their laptop keeps, whose contributions they do not want to see,
//! and which competing head their checkouts use. Append-only, each entry
//! with its time and reason, so the node can always say why it does what
//! it does. Entries are canonical CBOR (spec/storage.md).

use std::collections::{BTreeMap, BTreeSet};

use communs_protocol::cbor::{self, Value};
use communs_protocol::{AuthorId, DesignId, EventId, Hash};
use redb::{ReadableTable, TableDefinition};

/// Sequence number -> encoded entry.
const POLICY: TableDefinition<u64, &[u8]> = TableDefinition::new("policy");

/// Longest reason kept with an entry.
pub(crate) const MAX_REASON_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyAction {
    Follow(DesignId),
    Unfollow(DesignId),
    Mute(AuthorId),
    Unmute(AuthorId),
    /// Use this revision for this node's checkouts of the design.
    Pin(DesignId, EventId),
    Unpin(DesignId),
    /// Drop the design's events and files from this node, and refuse them
    /// from peers until it is followed again.
    Remove(DesignId),
    /// This node's own name for an author, shown instead of the name
    /// their profile gives; an empty name forgets it.
    Name(AuthorId, String),
    /// Which designs' files this node hosts (replaces `[storage] seed`).
    Seed(SeedPolicy),
}

/// Which designs' files a node hosts (spec/network.md, "Seeding
/// policies"), besides those it follows, pins or wrote to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeedPolicy {
    /// Only those: what it follows and what is in its store.
    #[default]
    Followed,
    /// Every design it hears of (`--seed-all`).
    All,
    /// Every design it hears of whose genesis one of these authors
    /// signed; other designs' events only.
    From(BTreeSet<AuthorId>),
}

impl SeedPolicy {
    /// Whether the node catches up and takes every design's events.
    pub fn hears_everything(&self) -> bool {
        !matches!(self, SeedPolicy::Followed)
    }
}

impl std::fmt::Display for SeedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedPolicy::Followed => f.write_str("followed"),
            SeedPolicy::All => f.write_str("all"),
            SeedPolicy::From(authors) => {
                let authors: Vec<String> = authors.iter().map(ToString::to_string).collect();
                write!(f, "from:{}", authors.join(","))
            }
        }
    }
}

impl std::str::FromStr for SeedPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "followed" => Ok(SeedPolicy::Followed),
            "all" => Ok(SeedPolicy::All),
            other => {
                let Some(list) = other.strip_prefix("from:") else {
                    return Err(format!("{other:?} is not a seeding policy: followed, all, or from:AUTHOR,AUTHOR"));
                };
                let authors = list
                    .split(',')
                    .map(|a| a.trim().parse::<AuthorId>().map_err(|e| format!("{a:?} is not an author id: {e}")))
                    .collect::<Result<BTreeSet<AuthorId>, String>>()?;
                if authors.is_empty() {
                    return Err("from: names no author".into());
                }
                Ok(SeedPolicy::From(authors))
            }
        }
    }
}

impl serde::Serialize for SeedPolicy {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SeedPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = String::deserialize(de)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Longest local name of an author.
pub(crate) const MAX_LOCAL_NAME_BYTES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    pub seq: u64,
    pub time_ms: u64,
    pub action: PolicyAction,
    pub reason: String,
}

/// The policy in force: the log replayed in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub followed: BTreeSet<DesignId>,
    /// Designs whose last follow action was an unfollow: kept in the
    /// store, but no longer caught up, fetched or seeded.
    pub unfollowed: BTreeSet<DesignId>,
    pub muted: BTreeSet<AuthorId>,
    pub pins: BTreeMap<DesignId, EventId>,
    /// Designs whose last follow action was a remove: not stored, and
    /// refused from peers.
    pub removed: BTreeSet<DesignId>,
    /// This node's names for authors.
    pub names: BTreeMap<AuthorId, String>,
    /// The last seeding policy recorded, if any (else the config's).
    pub seed: Option<SeedPolicy>,
}

impl Policy {
    pub fn replay(entries: &[PolicyEntry]) -> Policy {
        let mut policy = Policy::default();
        for entry in entries {
            policy.apply(&entry.action);
        }
        policy
    }

    /// The policy after one more entry.
    pub fn apply(&mut self, action: &PolicyAction) {
        match *action {
            PolicyAction::Follow(d) => {
                self.followed.insert(d);
                self.unfollowed.remove(&d);
                self.removed.remove(&d);
            }
            PolicyAction::Unfollow(d) => {
                self.followed.remove(&d);
                self.unfollowed.insert(d);
            }
            PolicyAction::Mute(a) => {
                self.muted.insert(a);
            }
            PolicyAction::Unmute(a) => {
                self.muted.remove(&a);
            }
            PolicyAction::Pin(d, r) => {
                self.pins.insert(d, r);
            }
            PolicyAction::Unpin(d) => {
                self.pins.remove(&d);
            }
            PolicyAction::Remove(d) => {
                self.followed.remove(&d);
                self.unfollowed.remove(&d);
                self.pins.remove(&d);
                self.removed.insert(d);
            }
            PolicyAction::Name(a, ref name) if name.is_empty() => {
                self.names.remove(&a);
            }
            PolicyAction::Name(a, ref name) => {
                self.names.insert(a, name.clone());
            }
            PolicyAction::Seed(ref seed) => self.seed = Some(seed.clone()),
        }
    }
}

pub(crate) fn create_in(tx: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(POLICY)?;
    Ok(())
}

/// Appends an entry, durably; returns it with its sequence number.
pub(crate) fn append(
    db: &super::db::EventDb,
    time_ms: u64,
    action: PolicyAction,
    reason: &str,
) -> Result<PolicyEntry, redb::Error> {
    let reason: String = reason.chars().filter(|c| !c.is_control()).collect::<String>();
    let reason = truncate(&reason, MAX_REASON_BYTES).to_owned();
    let tx = db.begin_write()?;
    let entry;
    {
        let mut table = tx.open_table(POLICY)?;
        let seq = table.last()?.map_or(0, |(k, _)| k.value() + 1);
        entry = PolicyEntry { seq, time_ms, action, reason };
        table.insert(seq, encode(&entry).as_slice())?;
    }
    tx.commit()?;
    Ok(entry)
}

/// Every entry, oldest first. Entries that do not decode (written by a
/// newer version) are skipped rather than failing the node.
pub(crate) fn entries(db: &super::db::EventDb) -> Result<Vec<PolicyEntry>, redb::Error> {
    let tx = db.begin_read()?;
    let table = tx.open_table(POLICY)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (seq, bytes) = row?;
        if let Some(entry) = decode(seq.value(), bytes.value()) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Every entry as stored, oldest first, those of kinds this version does
/// not know included: what a backup carries.
pub(crate) fn raw_entries(db: &super::db::EventDb) -> Result<Vec<Vec<u8>>, redb::Error> {
    let tx = db.begin_read()?;
    let table = tx.open_table(POLICY)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        out.push(row?.1.value().to_vec());
    }
    Ok(out)
}

/// Writes a backup's entries, as they were stored, into an empty log (a
/// restore), numbered from 0 in their order, in one transaction.
pub(crate) fn restore(db: &super::db::EventDb, entries: &[Vec<u8>]) -> Result<(), redb::Error> {
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table(POLICY)?;
        for (seq, bytes) in (0u64..).zip(entries) {
            table.insert(seq, bytes.as_slice())?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Whether a backup's entry is one this version reads, or at least has
/// an entry's shape (a newer kind, skipped when the log is replayed).
pub(crate) fn is_entry(bytes: &[u8]) -> bool {
    decode(0, bytes).is_some()
        || matches!(cbor::decode(bytes, 4096), Ok(Value::Array(items)) if items.len() >= 4
            && matches!(items[0], Value::Integer(_)) && matches!(items[1], Value::Integer(_)))
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `[time, kind, subject, reason]`, for a pin `[time, 4, design, reason,
/// revision]`, for a name `[time, 7, author, reason, name]`, for a
/// seeding policy `[time, 8, policy, reason]` (the policy as text).
fn encode(entry: &PolicyEntry) -> Vec<u8> {
    let bytes = |b: &[u8; 32]| Value::Bytes(b.to_vec());
    let (kind, subject, extra) = match &entry.action {
        PolicyAction::Seed(seed) => (8, Value::Text(seed.to_string()), None),
        PolicyAction::Follow(d) => (0u64, bytes(d.as_bytes()), None),
        PolicyAction::Unfollow(d) => (1, bytes(d.as_bytes()), None),
        PolicyAction::Mute(a) => (2, bytes(a.as_bytes()), None),
        PolicyAction::Unmute(a) => (3, bytes(a.as_bytes()), None),
        PolicyAction::Pin(d, r) => (4, bytes(d.as_bytes()), Some(bytes(r.as_bytes()))),
        PolicyAction::Unpin(d) => (5, bytes(d.as_bytes()), None),
        PolicyAction::Remove(d) => (6, bytes(d.as_bytes()), None),
        PolicyAction::Name(a, name) => (7, bytes(a.as_bytes()), Some(Value::Text(name.clone()))),
    };
    let mut items = vec![
        Value::Integer(entry.time_ms.into()),
        Value::Integer(kind.into()),
        subject,
        Value::Text(entry.reason.clone()),
    ];
    items.extend(extra);
    cbor::encode(&Value::Array(items))
}

fn decode(seq: u64, bytes: &[u8]) -> Option<PolicyEntry> {
    let Value::Array(items) = cbor::decode(bytes, 4096).ok()? else { return None };
    let uint = |v: &Value| match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    };
    let b32 = |v: &Value| match v {
        Value::Bytes(b) => <[u8; 32]>::try_from(b.as_slice()).ok(),
        _ => None,
    };
    let time_ms = uint(items.first()?)?;
    let reason = match items.get(3)? {
        Value::Text(t) => t.clone(),
        _ => return None,
    };
    if uint(items.get(1)?)? == 8 {
        let Value::Text(seed) = items.get(2)? else { return None };
        return Some(PolicyEntry { seq, time_ms, action: PolicyAction::Seed(seed.parse().ok()?), reason });
    }
    let subject = b32(items.get(2)?)?;
    let design = DesignId::from_hash(Hash::from_bytes(subject));
    let action = match uint(items.get(1)?)? {
        0 => PolicyAction::Follow(design),
        1 => PolicyAction::Unfollow(design),
        2 => PolicyAction::Mute(AuthorId::from_bytes(subject).ok()?),
        3 => PolicyAction::Unmute(AuthorId::from_bytes(subject).ok()?),
        4 => PolicyAction::Pin(design, EventId::from_hash(Hash::from_bytes(b32(items.get(4)?)?))),
        5 => PolicyAction::Unpin(design),
        6 => PolicyAction::Remove(design),
        7 => PolicyAction::Name(
            AuthorId::from_bytes(subject).ok()?,
            match items.get(4)? {
                Value::Text(t) => t.clone(),
                _ => return None,
            },
        ),
        _ => return None,
    };
    Some(PolicyEntry { seq, time_ms, action, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, action: PolicyAction) -> PolicyEntry {
        PolicyEntry { seq, time_ms: 1, action, reason: String::new() }
    }

    /// spec/vectors/config.json: each kind's entry, byte for byte, and
    /// seeding policies read and written as text.
    #[test]
    fn the_spec_vectors_of_policy_entries_and_seeding_policies() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../../spec/vectors/config.json")).expect("valid JSON");
        let b32 = |v: &serde_json::Value| -> [u8; 32] {
            hex::decode(v.as_str().expect("hex")).expect("hex").try_into().expect("32 bytes")
        };
        let author = |v: &serde_json::Value| v.as_str().expect("author").parse::<AuthorId>().expect("author id");
        for v in vectors["policy_entries"].as_array().expect("entries") {
            let design = || DesignId::from_hash(Hash::from_bytes(b32(&v["design"])));
            let action = match v["action"].as_str().expect("action") {
                "follow" => PolicyAction::Follow(design()),
                "unfollow" => PolicyAction::Unfollow(design()),
                "mute" => PolicyAction::Mute(author(&v["author"])),
                "unmute" => PolicyAction::Unmute(author(&v["author"])),
                "pin" => PolicyAction::Pin(design(), EventId::from_hash(Hash::from_bytes(b32(&v["revision"])))),
                "unpin" => PolicyAction::Unpin(design()),
                "remove" => PolicyAction::Remove(design()),
                "name" => PolicyAction::Name(author(&v["author"]), v["name"].as_str().expect("name").to_owned()),
                "seed" => PolicyAction::Seed(v["seed"].as_str().expect("seed").parse().expect("a policy")),
                other => panic!("unknown action {other}"),
            };
            let entry = PolicyEntry {
                seq: 0,
                time_ms: v["time_ms"].as_u64().expect("time"),
                action,
                reason: v["reason"].as_str().expect("reason").to_owned(),
            };
            let bytes = hex::decode(v["cbor"].as_str().expect("cbor")).expect("hex");
            assert_eq!(hex::encode(encode(&entry)), hex::encode(&bytes), "{v}");
            assert_eq!(decode(0, &bytes), Some(entry), "{v}");
        }
        for v in vectors["seed_policies"]["accepted"].as_array().expect("policies") {
            let policy: SeedPolicy = v["input"].as_str().expect("input").parse().expect("accepted");
            assert_eq!(policy.to_string(), v["canonical"].as_str().expect("canonical"), "{v}");
        }
        for v in vectors["seed_policies"]["rejected"].as_array().expect("policies") {
            assert!(v.as_str().expect("input").parse::<SeedPolicy>().is_err(), "{v}");
        }
    }

    #[test]
    fn a_remove_is_kind_6_and_round_trips() {
        let design = DesignId::from_hash(Hash::from_bytes([0x11; 32]));
        let remove = PolicyEntry { reason: "r".into(), ..entry(0, PolicyAction::Remove(design)) };
        let bytes = encode(&remove);
        let mut expected = vec![0x84, 0x01, 0x06, 0x58, 0x20];
        expected.extend([0x11; 32]);
        expected.extend([0x61, b'r']);
        assert_eq!(bytes, expected, "spec/storage.md: [time, 6, design, reason]");
        assert_eq!(decode(0, &bytes), Some(remove));
    }

    #[test]
    fn a_seeding_policy_is_kind_8_with_its_text_and_the_last_one_is_in_force() {
        let author = communs_protocol::SecretKey::from_bytes(&[0x44; 32]).author();
        let from = SeedPolicy::From([author].into());
        let recorded = entry(0, PolicyAction::Seed(from.clone()));
        let bytes = encode(&recorded);
        assert_eq!(&bytes[..3], &[0x84, 0x01, 0x08], "spec/storage.md: [time, 8, policy, reason]");
        assert_eq!(decode(0, &bytes), Some(recorded));
        assert_eq!(from.to_string().parse::<SeedPolicy>(), Ok(from.clone()));
        let log = vec![entry(0, PolicyAction::Seed(SeedPolicy::All)), entry(1, PolicyAction::Seed(from.clone()))];
        assert_eq!(Policy::replay(&log).seed, Some(from));
        assert!("from:".parse::<SeedPolicy>().is_err() && "some".parse::<SeedPolicy>().is_err());
    }

    #[test]
    fn a_remove_holds_until_the_design_is_followed_again() {
        let design = DesignId::from_hash(Hash::from_bytes([0x22; 32]));
        let revision = EventId::from_hash(Hash::from_bytes([0x33; 32]));
        let mut log = vec![
            entry(0, PolicyAction::Follow(design)),
            entry(1, PolicyAction::Pin(design, revision)),
            entry(2, PolicyAction::Remove(design)),
        ];
        let policy = Policy::replay(&log);
        assert!(policy.removed.contains(&design));
        assert!(!policy.followed.contains(&design) && !policy.unfollowed.contains(&design));
        assert!(policy.pins.is_empty(), "a remove drops the pin");
        log.push(entry(3, PolicyAction::Unfollow(design)));
        assert!(Policy::replay(&log).removed.contains(&design), "an unfollow does not end a remove");
        log.push(entry(4, PolicyAction::Follow(design)));
        let policy = Policy::replay(&log);
        assert!(policy.followed.contains(&design) && !policy.removed.contains(&design));
    }
}
