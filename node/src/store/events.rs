//! The event log of every design this node holds, in one redb file.
//!
//! Only verified events are inserted ([`SignedEvent`] cannot exist
//! otherwise), each with its parents already present and its clock checked,
//! in one transaction per call that is durable when the call returns.

use std::path::Path;

use communs_protocol::{DesignId, EventError, EventId, SignedEvent};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

/// Event id -> signed encoding.
const EVENTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("events");
/// (design id, event id) -> clock: a design's log, scanned by prefix.
const DESIGN_EVENTS: TableDefinition<(&[u8; 32], &[u8; 32]), u64> = TableDefinition::new("design_events");
/// (design id, event id) -> the event's advisory time: the items of a
/// catch-up reconciliation, read without decoding every event.
const SYNC_ITEMS: TableDefinition<(&[u8; 32], &[u8; 32]), u64> = TableDefinition::new("sync_items");

#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    #[error("event database: {0}")]
    Db(#[from] redb::Error),
    #[error("event {id} is stored but no longer valid ({source}); run `communs fsck`")]
    Corrupt { id: EventId, source: EventError },
    #[error("the event stored as {id} hashes to {actual}; run `communs fsck`")]
    WrongId { id: EventId, actual: EventId },
    #[error("event {event} names parent {parent}, which this node does not have")]
    MissingParent { event: EventId, parent: EventId },
    #[error("event {event} is invalid against its parents: {source}")]
    Invalid { event: EventId, source: EventError },
}

macro_rules! db_error {
    ($($t:ty),*) => {$(
        impl From<$t> for EventStoreError {
            fn from(e: $t) -> Self {
                EventStoreError::Db(e.into())
            }
        }
    )*};
}
db_error!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

pub struct EventStore {
    db: Database,
    /// Every event inserted, as it is committed: the network gossips the
    /// ones this node signs and fetches the files of new revisions.
    inserted: tokio::sync::broadcast::Sender<SignedEvent>,
}

impl EventStore {
    pub fn open(path: &Path) -> Result<Self, EventStoreError> {
        let db = Database::create(path)?;
        // Create the tables so that readers never meet a missing one.
        let tx = db.begin_write()?;
        tx.open_table(EVENTS)?;
        tx.open_table(DESIGN_EVENTS)?;
        tx.open_table(SYNC_ITEMS)?;
        tx.commit()?;
        super::policy::create(&db)?;
        backfill_sync_items(&db)?;
        Ok(EventStore { db, inserted: tokio::sync::broadcast::channel(1024).0 })
    }

    /// Events as they are stored (a receiver that lags misses some and
    /// learns it from the channel; catch-up repairs the rest).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SignedEvent> {
        self.inserted.subscribe()
    }

    /// (time, id) of every event of the designs whose ids start with one
    /// of `prefixes` (all designs for `None`), for reconciliation.
    pub fn sync_items_by_prefix(&self, prefixes: Option<&[[u8; 8]]>) -> Result<Vec<(u64, EventId)>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(SYNC_ITEMS)?;
        let mut items = Vec::new();
        let ranges: Vec<([u8; 32], [u8; 32])> = match prefixes {
            None => vec![([0u8; 32], [0xffu8; 32])],
            Some(prefixes) => prefixes.iter().map(prefix_bounds).collect(),
        };
        for (low, high) in &ranges {
            for row in table.range((low, &[0u8; 32])..=(high, &[0xffu8; 32]))? {
                let (key, time) = row?;
                items.push((time.value(), EventId::from_hash(communs_protocol::Hash::from_bytes(*key.value().1))));
            }
        }
        Ok(items)
    }

    /// (time, id) of every event of these designs, for reconciliation.
    pub fn sync_items(&self, designs: &[DesignId]) -> Result<Vec<(u64, EventId)>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(SYNC_ITEMS)?;
        let mut items = Vec::new();
        for design in designs {
            for row in table.range((design.as_bytes(), &[0u8; 32])..=(design.as_bytes(), &[0xffu8; 32]))? {
                let (key, time) = row?;
                items.push((time.value(), EventId::from_hash(communs_protocol::Hash::from_bytes(*key.value().1))));
            }
        }
        Ok(items)
    }

    /// The stored events whose ids start with one of `prefixes`, as
    /// signed, in the order asked, at most `max` (a peer asks by prefix;
    /// one event per prefix, but for an accidental collision).
    pub fn raw_by_prefixes(&self, prefixes: &[[u8; 8]], max: usize) -> Result<Vec<Vec<u8>>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for prefix in prefixes {
            let (low, high) = prefix_bounds(prefix);
            for row in table.range::<&[u8; 32]>(&low..=&high)? {
                if out.len() == max {
                    return Ok(out);
                }
                out.push(row?.1.value().to_vec());
            }
        }
        Ok(out)
    }

    pub fn get(&self, id: &EventId) -> Result<Option<SignedEvent>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(EVENTS)?;
        let Some(bytes) = table.get(id.as_bytes())? else { return Ok(None) };
        decode(*id, bytes.value()).map(Some)
    }

    pub fn contains(&self, id: &EventId) -> Result<bool, EventStoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(EVENTS)?.get(id.as_bytes())?.is_some())
    }

    /// Inserts events whose parents are either stored already or earlier in
    /// `events` (a batch in clock order, as a bundle or a catch-up brings
    /// them). All or nothing; returns how many were new.
    pub fn insert(&self, events: &[SignedEvent]) -> Result<usize, EventStoreError> {
        let tx = self.db.begin_write()?;
        let mut added = Vec::new();
        {
            let mut table = tx.open_table(EVENTS)?;
            let mut index = tx.open_table(DESIGN_EVENTS)?;
            let mut items = tx.open_table(SYNC_ITEMS)?;
            for event in events {
                let id = event.id();
                if table.get(id.as_bytes())?.is_some() {
                    continue;
                }
                let mut parents = Vec::with_capacity(event.parents().len());
                for parent in event.parents() {
                    let bytes = table
                        .get(parent.as_bytes())?
                        .ok_or(EventStoreError::MissingParent { event: id, parent: *parent })?;
                    parents.push(decode(*parent, bytes.value())?);
                }
                let parent_refs: Vec<&SignedEvent> = parents.iter().collect();
                event.check_parents(&parent_refs).map_err(|source| EventStoreError::Invalid { event: id, source })?;
                table.insert(id.as_bytes(), event.bytes())?;
                index.insert((event.design().as_bytes(), id.as_bytes()), event.clock())?;
                items.insert((event.design().as_bytes(), id.as_bytes()), event.event().time)?;
                added.push(event);
            }
        }
        tx.commit()?;
        for event in &added {
            // No receiver (no network running) is not an error.
            let _ = self.inserted.send((*event).clone());
        }
        Ok(added.len())
    }

    /// Every event of a design, in clock order (ties by id).
    pub fn design_log(&self, design: &DesignId) -> Result<Vec<SignedEvent>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let index = tx.open_table(DESIGN_EVENTS)?;
        let table = tx.open_table(EVENTS)?;
        let mut keyed = Vec::new();
        for row in index.range((design.as_bytes(), &[0u8; 32])..=(design.as_bytes(), &[0xffu8; 32]))? {
            let (key, clock) = row?;
            let id = EventId::from_hash(communs_protocol::Hash::from_bytes(*key.value().1));
            let bytes = table.get(id.as_bytes())?.ok_or(EventStoreError::MissingParent { event: id, parent: id })?;
            keyed.push((clock.value(), decode(id, bytes.value())?));
        }
        keyed.sort_by_key(|(clock, e)| (*clock, e.id()));
        Ok(keyed.into_iter().map(|(_, e)| e).collect())
    }

    /// Ids of every design with at least its genesis stored.
    pub fn designs(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let index = tx.open_table(DESIGN_EVENTS)?;
        let mut designs = Vec::new();
        for row in index.iter()? {
            let (key, _) = row?;
            let (design, event) = key.value();
            if design == event {
                designs.push(DesignId::from_hash(communs_protocol::Hash::from_bytes(*design)));
            }
        }
        Ok(designs)
    }

    pub fn append_policy(
        &self,
        time_ms: u64,
        action: super::policy::PolicyAction,
        reason: &str,
    ) -> Result<super::policy::PolicyEntry, EventStoreError> {
        Ok(super::policy::append(&self.db, time_ms, action, reason)?)
    }

    pub fn policy_entries(&self) -> Result<Vec<super::policy::PolicyEntry>, EventStoreError> {
        Ok(super::policy::entries(&self.db)?)
    }

    /// Every stored event as raw bytes, for `fsck` to re-verify from scratch.
    pub fn raw_events(&self) -> Result<Vec<(EventId, Vec<u8>)>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (id, bytes) = row?;
            out.push((EventId::from_hash(communs_protocol::Hash::from_bytes(*id.value())), bytes.value().to_vec()));
        }
        Ok(out)
    }

    /// Deletes every event of `design` from this store (`communs remove`),
    /// in one transaction; returns how many there were. Its blobs are
    /// freed by the next garbage collection.
    pub fn remove_design(&self, design: &DesignId) -> Result<usize, EventStoreError> {
        let tx = self.db.begin_write()?;
        let removed;
        {
            let mut table = tx.open_table(EVENTS)?;
            let mut index = tx.open_table(DESIGN_EVENTS)?;
            let mut items = tx.open_table(SYNC_ITEMS)?;
            let range = (design.as_bytes(), &[0u8; 32])..=(design.as_bytes(), &[0xffu8; 32]);
            let mut ids = Vec::new();
            for row in index.range(range.clone())? {
                ids.push(*row?.0.value().1);
            }
            for id in &ids {
                table.remove(id)?;
                index.remove((design.as_bytes(), id))?;
                items.remove((design.as_bytes(), id))?;
            }
            removed = ids.len();
        }
        tx.commit()?;
        Ok(removed)
    }
}

/// The smallest and largest 32-byte ids that start with `prefix`.
fn prefix_bounds(prefix: &[u8; 8]) -> ([u8; 32], [u8; 32]) {
    let (mut low, mut high) = ([0u8; 32], [0xffu8; 32]);
    low[..8].copy_from_slice(prefix);
    high[..8].copy_from_slice(prefix);
    (low, high)
}

/// Stores written before the sync-item index existed get it built once,
/// from the events themselves.
fn backfill_sync_items(db: &Database) -> Result<(), EventStoreError> {
    let tx = db.begin_write()?;
    {
        let index = tx.open_table(DESIGN_EVENTS)?;
        let mut items = tx.open_table(SYNC_ITEMS)?;
        if items.len()? == index.len()? {
            return Ok(());
        }
        let events = tx.open_table(EVENTS)?;
        for row in index.iter()? {
            let (key, _) = row?;
            let (design, id) = key.value();
            let id = EventId::from_hash(communs_protocol::Hash::from_bytes(*id));
            let bytes = events.get(id.as_bytes())?.ok_or(EventStoreError::MissingParent { event: id, parent: id })?;
            let event = decode(id, bytes.value())?;
            items.insert((design, id.as_bytes()), event.event().time)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Stored events were verified on insert; decoding re-verifies anyway, so a
/// byte flipped on disk is reported instead of trusted.
fn decode(id: EventId, bytes: &[u8]) -> Result<SignedEvent, EventStoreError> {
    let event = SignedEvent::decode(bytes).map_err(|source| EventStoreError::Corrupt { id, source })?;
    if event.id() != id {
        return Err(EventStoreError::WrongId { id, actual: event.id() });
    }
    Ok(event)
}
