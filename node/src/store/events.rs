//! The event log of every design this node holds, in one redb file.
//!
//! Only verified events are inserted ([`SignedEvent`] cannot exist
//! otherwise), each with its parents already present and its clock checked,
//! in one transaction per call that is durable when the call returns. The
//! same transaction brings each touched design's derived rows up to date
//! (`views.rs`): reads never replay a log.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use communs_protocol::governance::{Applied, GovernanceState, Refusal, Resolver};
use communs_protocol::{Body, DesignId, EventError, EventId, SignedEvent};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::views::{
    self, DESIGNS, DesignRow, GOVERNANCE, HEADS, LOG, META, ResolverCache, StateDecodeError, VIEWS_VERSION,
    VIEWS_VERSION_KEY,
};

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
    #[error("event {event} is refused by the rules of its design: {refusal}")]
    Refused { event: EventId, refusal: Refusal },
    #[error(transparent)]
    State(#[from] StateDecodeError),
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
    /// Held for the whole of an insert: the cache must move in step with
    /// the committed rows.
    resolvers: Mutex<ResolverCache>,
}

impl EventStore {
    pub fn open(path: &Path) -> Result<Self, EventStoreError> {
        let db = Database::create(path)?;
        if !up_to_date(&db)? {
            // Create the tables so that readers never meet a missing one,
            // and derive what older stores lack. A store already up to date
            // is opened without a write: read-only commands do not sync.
            let tx = db.begin_write()?;
            tx.open_table(EVENTS)?;
            tx.open_table(DESIGN_EVENTS)?;
            tx.open_table(SYNC_ITEMS)?;
            super::policy::create_in(&tx)?;
            backfill_sync_items(&tx)?;
            rebuild_views(&tx)?;
            tx.open_table(META)?.insert(VIEWS_VERSION_KEY, VIEWS_VERSION)?;
            tx.commit()?;
        }
        Ok(EventStore {
            db,
            inserted: tokio::sync::broadcast::channel(1024).0,
            resolvers: Mutex::new(ResolverCache::default()),
        })
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
    /// them). All or nothing; returns how many were new. Each event must
    /// also be admitted by its design's rules (the protocol's
    /// [`Resolver`]), which every node applies alike.
    pub fn insert(&self, events: &[SignedEvent]) -> Result<usize, EventStoreError> {
        Ok(self.insert_in(events, Mode::AllOrNothing)?.added.len())
    }

    /// Inserts every event of `events` (in clock order) that can be
    /// stored, in one durable transaction, and says what became of the
    /// others: waiting for a parent this node lacks, or refused (invalid
    /// against its parents, or by its design's rules). For events from
    /// peers, where one bad event must not cost the good ones of the batch
    /// a transaction each.
    pub fn insert_each(&self, events: &[SignedEvent]) -> Result<Inserted, EventStoreError> {
        self.insert_in(events, Mode::EachAlone)
    }

    fn insert_in(&self, events: &[SignedEvent], mode: Mode) -> Result<Inserted, EventStoreError> {
        let mut cache = self.resolvers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut touched: BTreeMap<DesignId, Delta> = BTreeMap::new();
        let result = self.write(&mut cache, events, &mut touched, mode, true);
        for (design, delta) in &touched {
            // The transaction is gone; resolvers it changed are not. One
            // that only refused events is unchanged and stays (a refused
            // flood must not cost a replay per event). One that holds an
            // event as pending no longer matches the store either way.
            if delta.pending || (result.is_err() && delta.applied) {
                cache.forget(design);
            }
        }
        cache.trim();
        let inserted = result?;
        for event in &inserted.added {
            // No receiver (no network running) is not an error.
            let _ = self.inserted.send(event.clone());
        }
        Ok(inserted)
    }

    /// Whether [`EventStore::insert`] would take every one of `events`,
    /// without storing anything: for an import that must store its blobs
    /// only if its events will go in too. Costs a copy of the touched
    /// designs' cached resolvers.
    pub fn check_insert(&self, events: &[SignedEvent]) -> Result<(), EventStoreError> {
        let mut scratch = ResolverCache::default();
        {
            let cache = self.resolvers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for design in events.iter().map(SignedEvent::design).collect::<std::collections::BTreeSet<_>>() {
                if let Some((resolver, count)) = cache.peek(&design) {
                    scratch.insert(design, resolver.clone(), count);
                }
            }
        }
        self.write(&mut scratch, events, &mut BTreeMap::new(), Mode::AllOrNothing, false).map(|_| ())
    }

    /// The insert itself, committed only if `commit` (and something was
    /// added).
    fn write(
        &self,
        cache: &mut ResolverCache,
        events: &[SignedEvent],
        touched: &mut BTreeMap<DesignId, Delta>,
        mode: Mode,
        commit: bool,
    ) -> Result<Inserted, EventStoreError> {
        let tx = self.db.begin_write()?;
        let mut out = Inserted::default();
        {
            let mut tables = Tables::open(&tx)?;
            // This batch's events stored so far: their children find them
            // here, without reading and decoding them back.
            let mut stored: HashMap<EventId, &SignedEvent> = HashMap::new();
            for event in events {
                match write_one(&mut tables, cache, touched, &stored, event) {
                    Ok(true) => {
                        stored.insert(event.id(), event);
                        out.added.push(event.clone());
                    }
                    Ok(false) => {}
                    Err(e) if mode == Mode::AllOrNothing => return Err(e),
                    Err(EventStoreError::MissingParent { .. }) => out.waiting.push(event.clone()),
                    Err(e @ (EventStoreError::Invalid { .. } | EventStoreError::Refused { .. })) => {
                        out.refused.push((event.id(), e));
                    }
                    Err(e) => return Err(e),
                }
            }
            for (design, delta) in touched.iter() {
                if delta.events == 0 {
                    continue;
                }
                let resolver = cache.get_mut(design).expect("loaded while inserting");
                tables.write_views(design, resolver.state(), *delta)?;
                cache.added(design, delta.events);
            }
        }
        if commit && !out.added.is_empty() {
            tx.commit()?;
        } else {
            tx.abort()?;
        }
        Ok(out)
    }

    /// Every event of a design, in clock order (ties by id).
    pub fn design_log(&self, design: &DesignId) -> Result<Vec<SignedEvent>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let log = tx.open_table(LOG)?;
        let table = tx.open_table(EVENTS)?;
        let mut events = Vec::new();
        for row in log.range(log_range(design))?.rev() {
            let id = views::event_id(*row?.0.value().2);
            let bytes = table.get(id.as_bytes())?.ok_or(EventStoreError::MissingParent { event: id, parent: id })?;
            events.push(decode(id, bytes.value())?);
        }
        // Newest-first rows reversed are oldest first, ties by id reversed.
        events.sort_by_key(|e| (e.clock(), e.id()));
        Ok(events)
    }

    /// A page of a design's log, newest first (ties by id), starting after
    /// `before` when given: the cost of a page does not grow with the log.
    pub fn log_page(
        &self,
        design: &DesignId,
        before: Option<&SignedEvent>,
        limit: usize,
    ) -> Result<Vec<SignedEvent>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let log = tx.open_table(LOG)?;
        let table = tx.open_table(EVENTS)?;
        let (low, high) = log_range(design).into_inner();
        let rows = match before {
            Some(b) => log.range((design.as_bytes(), u64::MAX - b.clock(), b.id().as_bytes())..=high)?,
            None => log.range(low..=high)?,
        };
        let mut events = Vec::new();
        for row in rows {
            let id = views::event_id(*row?.0.value().2);
            if before.is_some_and(|b| b.id() == id) {
                continue;
            }
            if events.len() == limit {
                break;
            }
            let bytes = table.get(id.as_bytes())?.ok_or(EventStoreError::MissingParent { event: id, parent: id })?;
            events.push(decode(id, bytes.value())?);
        }
        Ok(events)
    }

    /// Ids of every design with at least its genesis stored.
    pub fn designs(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DESIGNS)?;
        let mut designs = Vec::new();
        for row in table.iter()? {
            designs.push(DesignId::from_hash(communs_protocol::Hash::from_bytes(*row?.0.value())));
        }
        Ok(designs)
    }

    /// One row per design, as `list` shows them.
    pub fn design_rows(&self) -> Result<Vec<DesignRow>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DESIGNS)?;
        let mut rows = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            rows.push(DesignRow::from_value(key.value(), owned_row(value.value())));
        }
        Ok(rows)
    }

    pub fn design_row(&self, design: &DesignId) -> Result<Option<DesignRow>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DESIGNS)?;
        Ok(table.get(design.as_bytes())?.map(|v| DesignRow::from_value(design.as_bytes(), owned_row(v.value()))))
    }

    /// The design's governance state as of its last insert (approvals kept
    /// for its heads and open contributions only); `None` for a design the
    /// store does not hold.
    pub fn governance(&self, design: &DesignId) -> Result<Option<GovernanceState>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(GOVERNANCE)?;
        match table.get(design.as_bytes())? {
            Some(bytes) => Ok(Some(views::decode_state(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// The design's events that no other event names as a parent, with
    /// their clocks: what a new event is signed on top of.
    pub fn heads(&self, design: &DesignId) -> Result<Vec<(EventId, u64)>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(HEADS)?;
        let mut heads = Vec::new();
        for row in table.range((design.as_bytes(), &[0u8; 32])..=(design.as_bytes(), &[0xffu8; 32]))? {
            let (key, clock) = row?;
            heads.push((views::event_id(*key.value().1), clock.value()));
        }
        Ok(heads)
    }

    /// Rebuilds every design's rows from its events in memory and returns
    /// the designs whose stored rows differ, for `fsck`.
    pub fn stale_views(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let mut stale = Vec::new();
        for design in self.designs_in_log()? {
            let log = self.design_log(&design)?;
            let mut resolver = Resolver::new();
            for event in &log {
                resolver.apply(event.clone());
            }
            let expected = views::trimmed(resolver.state());
            let revisions = log.iter().filter(|e| matches!(e.body(), Body::Revision(_))).count() as u64;
            let row = self.design_row(&design)?;
            let row_matches = row.is_some_and(|r| {
                r.events == log.len() as u64 && r.revisions == revisions && r.canonical == expected.canonical
            });
            let heads_match = {
                let mut stored: Vec<EventId> = self.heads(&design)?.into_iter().map(|(id, _)| id).collect();
                stored.sort();
                let named: std::collections::HashSet<EventId> = log.iter().flat_map(|e| e.parents().to_vec()).collect();
                let mut heads: Vec<EventId> =
                    log.iter().map(SignedEvent::id).filter(|id| !named.contains(id)).collect();
                heads.sort();
                stored == heads
            };
            if self.governance(&design)?.as_ref() != Some(&expected) || !row_matches || !heads_match {
                stale.push(design);
            }
        }
        Ok(stale)
    }

    /// Designs as the log index knows them (one row per event: `fsck`
    /// only; everything else reads [`EventStore::designs`]).
    fn designs_in_log(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let tx = self.db.begin_read()?;
        designs_in(&tx.open_table(DESIGN_EVENTS)?)
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
        // Taken before the write transaction, as an insert does (the other
        // order could deadlock with one), and held across the commit: an
        // insert must not use the resolver of the events removed.
        let mut cache = self.resolvers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
            let mut log = tx.open_table(LOG)?;
            let mut heads = tx.open_table(HEADS)?;
            for id in &ids {
                if let Some(bytes) = table.remove(id)? {
                    let clock = decode(views::event_id(*id), bytes.value())?.clock();
                    log.remove((design.as_bytes(), u64::MAX - clock, id))?;
                }
                index.remove((design.as_bytes(), id))?;
                items.remove((design.as_bytes(), id))?;
                heads.remove((design.as_bytes(), id))?;
            }
            tx.open_table(DESIGNS)?.remove(design.as_bytes())?;
            tx.open_table(GOVERNANCE)?.remove(design.as_bytes())?;
            removed = ids.len();
        }
        cache.forget(design);
        tx.commit()?;
        Ok(removed)
    }
}

/// Checks one event against its parents and its design's rules and
/// writes its rows; `Ok(false)` if it was stored already.
fn write_one(
    tables: &mut Tables<'_>,
    cache: &mut ResolverCache,
    touched: &mut BTreeMap<DesignId, Delta>,
    batch: &HashMap<EventId, &SignedEvent>,
    event: &SignedEvent,
) -> Result<bool, EventStoreError> {
    let id = event.id();
    if batch.contains_key(&id) || tables.events.get(id.as_bytes())?.is_some() {
        return Ok(false);
    }
    let mut read_back = Vec::new();
    for parent in event.parents() {
        if !batch.contains_key(parent) {
            let bytes = tables
                .events
                .get(parent.as_bytes())?
                .ok_or(EventStoreError::MissingParent { event: id, parent: *parent })?;
            read_back.push(decode(*parent, bytes.value())?);
        }
    }
    let parents: Vec<&SignedEvent> =
        event.parents().iter().filter_map(|p| batch.get(p).copied()).chain(read_back.iter()).collect();
    event.check_parents(&parents).map_err(|source| EventStoreError::Invalid { event: id, source })?;
    let design = event.design();
    let delta = touched.entry(design).or_default();
    let resolver = match cache.get_mut(&design) {
        Some(resolver) => resolver,
        None => {
            let (resolver, count) = tables.load_resolver(&design)?;
            cache.insert(design, resolver, count);
            cache.get_mut(&design).expect("just inserted")
        }
    };
    // Parents and clock were checked above: a refusal is the design's
    // rules (governance.md, "Admission").
    match resolver.apply(event.clone()) {
        Applied::Accepted { .. } => delta.applied = true,
        Applied::Refused(refusal) => return Err(EventStoreError::Refused { event: id, refusal }),
        Applied::Known => return Err(EventStoreError::Refused { event: id, refusal: Refusal::Duplicate }),
        Applied::Pending | Applied::PendingFull => {
            // It now waits in the resolver, which no longer matches the
            // store: the cache forgets it.
            delta.applied = true;
            delta.pending = true;
            let parent = event.parents().first().copied().unwrap_or(id);
            return Err(EventStoreError::MissingParent { event: id, parent });
        }
    }
    tables.put(event)?;
    delta.events += 1;
    delta.revisions += u64::from(matches!(event.body(), Body::Revision(_)));
    Ok(true)
}

/// Whether one event that cannot be stored spoils its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    AllOrNothing,
    EachAlone,
}

/// What [`EventStore::insert_each`] did with a batch.
#[derive(Debug, Default)]
pub struct Inserted {
    /// Stored now, in the order given.
    pub added: Vec<SignedEvent>,
    /// Not stored: a parent is neither in the store nor stored before it.
    pub waiting: Vec<SignedEvent>,
    /// Not stored: invalid against its parents or refused by its design's
    /// rules.
    pub refused: Vec<(EventId, EventStoreError)>,
}

/// The smallest and largest 32-byte ids that start with `prefix`.
fn prefix_bounds(prefix: &[u8; 8]) -> ([u8; 32], [u8; 32]) {
    let (mut low, mut high) = ([0u8; 32], [0xffu8; 32]);
    low[..8].copy_from_slice(prefix);
    high[..8].copy_from_slice(prefix);
    (low, high)
}

/// The tables an insert writes, opened once per transaction.
struct Tables<'tx> {
    events: redb::Table<'tx, &'static [u8; 32], &'static [u8]>,
    design_events: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), u64>,
    sync_items: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), u64>,
    log: redb::Table<'tx, (&'static [u8; 32], u64, &'static [u8; 32]), ()>,
    heads: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), u64>,
    designs: redb::Table<'tx, &'static [u8; 32], views::DesignRowValue<'static>>,
    governance: redb::Table<'tx, &'static [u8; 32], &'static [u8]>,
}

/// What one insert added to a design.
#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    events: u64,
    revisions: u64,
    /// Its resolver took an event (so it must be forgotten if the
    /// transaction fails).
    applied: bool,
    /// Its resolver holds an event as pending, which the store does not
    /// (so it must be forgotten whatever happens).
    pending: bool,
}

impl<'tx> Tables<'tx> {
    fn open(tx: &'tx WriteTransaction) -> Result<Self, EventStoreError> {
        Ok(Tables {
            events: tx.open_table(EVENTS)?,
            design_events: tx.open_table(DESIGN_EVENTS)?,
            sync_items: tx.open_table(SYNC_ITEMS)?,
            log: tx.open_table(LOG)?,
            heads: tx.open_table(HEADS)?,
            designs: tx.open_table(DESIGNS)?,
            governance: tx.open_table(GOVERNANCE)?,
        })
    }

    /// Writes one event's rows; its parents stop being heads.
    fn put(&mut self, event: &SignedEvent) -> Result<(), EventStoreError> {
        let (id, design) = (event.id(), event.design());
        self.events.insert(id.as_bytes(), event.bytes())?;
        self.design_events.insert((design.as_bytes(), id.as_bytes()), event.clock())?;
        self.sync_items.insert((design.as_bytes(), id.as_bytes()), event.event().time)?;
        self.log.insert((design.as_bytes(), u64::MAX - event.clock(), id.as_bytes()), ())?;
        for parent in event.parents() {
            self.heads.remove((design.as_bytes(), parent.as_bytes()))?;
        }
        self.heads.insert((design.as_bytes(), id.as_bytes()), event.clock())?;
        Ok(())
    }

    fn get(&self, id: &EventId) -> Result<SignedEvent, EventStoreError> {
        let bytes =
            self.events.get(id.as_bytes())?.ok_or(EventStoreError::MissingParent { event: *id, parent: *id })?;
        decode(*id, bytes.value())
    }

    /// A design's resolver, from its stored log, and how many events it took.
    fn load_resolver(&self, design: &DesignId) -> Result<(Resolver, u64), EventStoreError> {
        let mut resolver = Resolver::new();
        let mut count = 0;
        // Oldest first: parents always come before their children.
        for row in self.log.range(log_range(design))?.rev() {
            let id = views::event_id(*row?.0.value().2);
            resolver.apply(self.get(&id)?);
            count += 1;
        }
        Ok((resolver, count))
    }

    /// Brings a design's row and stored state up to date.
    fn write_views(&mut self, design: &DesignId, state: &GovernanceState, delta: Delta) -> Result<(), EventStoreError> {
        let (revisions, events) = match self.designs.get(design.as_bytes())? {
            Some(row) => {
                let (_, _, revisions, events, _) = row.value();
                (revisions, events)
            }
            None => (0, 0),
        };
        let genesis = self.get(&design.genesis())?;
        let Body::Genesis(g) = genesis.body() else {
            return Err(EventStoreError::WrongId { id: design.genesis(), actual: genesis.id() });
        };
        let name = match state.canonical {
            Some(c) => match self.get(&c)?.body() {
                Body::Revision(r) => r.manifest.name.clone(),
                _ => g.name.clone(),
            },
            None => g.name.clone(),
        };
        let fork_of = g.fork_of.map(|(d, r)| (*d.as_bytes(), *r.as_bytes()));
        let canonical = state.canonical.map(|c| *c.as_bytes());
        self.designs.insert(
            design.as_bytes(),
            (name.as_str(), canonical, revisions + delta.revisions, events + delta.events, fork_of),
        )?;
        self.governance.insert(design.as_bytes(), views::encode_state(&views::trimmed(state)).as_slice())?;
        Ok(())
    }
}

fn owned_row(value: views::DesignRowValue<'_>) -> views::DesignRowValueOwned {
    let (name, canonical, revisions, events, fork_of) = value;
    (name.to_owned(), canonical, revisions, events, fork_of)
}

/// Every row of a design in the `log` table.
fn log_range(design: &DesignId) -> std::ops::RangeInclusive<(&[u8; 32], u64, &'static [u8; 32])> {
    (design.as_bytes(), 0, &[0u8; 32])..=(design.as_bytes(), u64::MAX, &[0xffu8; 32])
}

fn designs_in(
    index: &impl ReadableTable<(&'static [u8; 32], &'static [u8; 32]), u64>,
) -> Result<Vec<DesignId>, EventStoreError> {
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

/// Whether the store's tables and derived rows are those of this version.
fn up_to_date(db: &Database) -> Result<bool, EventStoreError> {
    let tx = db.begin_read()?;
    let meta = match tx.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    Ok(meta.get(VIEWS_VERSION_KEY)?.map(|v| v.value()) == Some(VIEWS_VERSION))
}

/// Stores written before the sync-item index existed get it built once,
/// from the events themselves.
fn backfill_sync_items(tx: &WriteTransaction) -> Result<(), EventStoreError> {
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
    Ok(())
}

/// Derives every design's rows (log order, heads, row, state) from its
/// events: for stores written before they existed, or by another layout.
fn rebuild_views(tx: &WriteTransaction) -> Result<(), EventStoreError> {
    tx.delete_table(HEADS)?;
    tx.delete_table(LOG)?;
    tx.delete_table(DESIGNS)?;
    tx.delete_table(GOVERNANCE)?;
    let designs = designs_in(&tx.open_table(DESIGN_EVENTS)?)?;
    let mut tables = Tables::open(tx)?;
    for design in designs {
        let mut events = Vec::new();
        for row in tables.design_events.range((design.as_bytes(), &[0u8; 32])..=(design.as_bytes(), &[0xffu8; 32]))? {
            let id = views::event_id(*row?.0.value().1);
            events.push(tables.get(&id)?);
        }
        events.sort_by_key(|e| (e.clock(), e.id()));
        let mut resolver = Resolver::new();
        let mut delta = Delta::default();
        for event in &events {
            resolver.apply(event.clone());
            tables.log.insert((design.as_bytes(), u64::MAX - event.clock(), event.id().as_bytes()), ())?;
            for parent in event.parents() {
                tables.heads.remove((design.as_bytes(), parent.as_bytes()))?;
            }
            tables.heads.insert((design.as_bytes(), event.id().as_bytes()), event.clock())?;
            delta.events += 1;
            delta.revisions += u64::from(matches!(event.body(), Body::Revision(_)));
        }
        tables.write_views(&design, resolver.state(), delta)?;
    }
    Ok(())
}

/// Stored events were verified when they were inserted, and only this
/// node writes its store: they are decoded without verifying their
/// signatures again (`fsck` does). Their id is still checked, so a record
/// that changed on disk is reported instead of trusted.
fn decode(id: EventId, bytes: &[u8]) -> Result<SignedEvent, EventStoreError> {
    let event = SignedEvent::decode_trusted(bytes).map_err(|source| EventStoreError::Corrupt { id, source })?;
    if event.id() != id {
        return Err(EventStoreError::WrongId { id, actual: event.id() });
    }
    Ok(event)
}
