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

use super::db::EventDb;
use super::policy::{Policy, PolicyAction, PolicyEntry};
use communs_protocol::governance::{Applied, GovernanceState, Refusal, Resolver};
use communs_protocol::{Body, DesignId, EventError, EventId, SignedEvent};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::social::{self, MakeCounts, SocialTables};
use super::views::{
    self, DESIGNS, DesignRow, GOVERNANCE, HEADS, LOG, META, NAMES, ResolverCache, StateDecodeError, VIEWS_VERSION,
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
    #[error("the name index lists design {0}, which has no row; run `communs fsck`")]
    NameWithoutRow(DesignId),
    #[error(transparent)]
    State(#[from] StateDecodeError),
    #[error("a catalog entry is no longer a valid announcement; run `communs fsck`")]
    CorruptCatalog,
    #[error(transparent)]
    Format(#[from] super::format::FormatError),
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

pub(crate) struct EventStore {
    db: EventDb,
    /// Every event inserted, as it is committed: the network gossips the
    /// ones this node signs and fetches the files of new revisions.
    inserted: tokio::sync::broadcast::Sender<SignedEvent>,
    /// Held for the whole of an insert: the cache must move in step with
    /// the committed rows.
    resolvers: Mutex<ResolverCache>,
    /// The policy in force, replayed from its log once per process and
    /// brought up to date by each append: checked by every batch of
    /// events from peers, it must not cost a read of the whole log.
    policy: Mutex<Option<std::sync::Arc<Policy>>>,
}

impl EventStore {
    /// Opens the store for writing, as a running node does.
    pub(crate) fn open(path: &Path) -> Result<Self, EventStoreError> {
        super::format::check_before_writing(path)?;
        Self::with_db(EventDb::writable(path)?, path)
    }

    /// Opens the store read-only until its first write, for one command
    /// at a time (see [`EventDb::read_only_until_written`]).
    pub(crate) fn open_for_one_command(path: &Path) -> Result<Self, EventStoreError> {
        Self::with_db(EventDb::read_only_until_written(path)?, path)
    }

    fn with_db(db: EventDb, path: &Path) -> Result<Self, EventStoreError> {
        let (format, views_version) = versions(&db)?;
        super::format::refuse_newer(path, format)?;
        if format != Some(super::format::FORMAT_VERSION) || views_version != Some(VIEWS_VERSION) {
            // Create the tables so that readers never meet a missing one,
            // migrate an older format and derive what older stores lack,
            // all in one transaction: a crash leaves the store as it was.
            // A store already up to date is opened without a write:
            // read-only commands do not sync.
            let tx = db.begin_write()?;
            tx.open_table(EVENTS)?;
            tx.open_table(DESIGN_EVENTS)?;
            tx.open_table(SYNC_ITEMS)?;
            super::policy::create_in(&tx)?;
            super::social::create_in(&tx)?;
            backfill_sync_items(&tx)?;
            if views_version != Some(VIEWS_VERSION) {
                rebuild_views(&tx)?;
            }
            tx.open_table(META)?.insert(VIEWS_VERSION_KEY, VIEWS_VERSION)?;
            super::format::migrate(&tx, path, format)?;
            tx.commit()?;
        }
        Ok(EventStore {
            db,
            inserted: tokio::sync::broadcast::channel(1024).0,
            resolvers: Mutex::new(ResolverCache::default()),
            policy: Mutex::new(None),
        })
    }

    /// The database, which the catalog's tables share (`catalog.rs`).
    pub(super) fn db(&self) -> &EventDb {
        &self.db
    }

    /// Events as they are stored (a receiver that lags misses some and
    /// learns it from the channel; catch-up repairs the rest).
    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SignedEvent> {
        self.inserted.subscribe()
    }

    /// (time, id) of every event of the designs whose ids start with one
    /// of `prefixes` (all designs for `None`), for reconciliation.
    pub(crate) fn sync_items_by_prefix(
        &self,
        prefixes: Option<&[[u8; 8]]>,
    ) -> Result<Vec<(u64, EventId)>, EventStoreError> {
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

    /// The stored events whose ids start with one of `prefixes`, as
    /// signed, in the order asked, at most `max` (a peer asks by prefix;
    /// one event per prefix, but for an accidental collision).
    pub(crate) fn raw_by_prefixes(&self, prefixes: &[[u8; 8]], max: usize) -> Result<Vec<Vec<u8>>, EventStoreError> {
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

    pub(crate) fn get(&self, id: &EventId) -> Result<Option<SignedEvent>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(EVENTS)?;
        let Some(bytes) = table.get(id.as_bytes())? else { return Ok(None) };
        decode(*id, bytes.value()).map(Some)
    }

    pub(crate) fn contains(&self, id: &EventId) -> Result<bool, EventStoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(EVENTS)?.get(id.as_bytes())?.is_some())
    }

    /// Inserts events whose parents are either stored already or earlier in
    /// `events` (a batch in clock order, as a bundle or a catch-up brings
    /// them). All or nothing; returns how many were new. Each event must
    /// also be admitted by its design's rules (the protocol's
    /// [`Resolver`]), which every node applies alike.
    pub(crate) fn insert(&self, events: &[SignedEvent]) -> Result<usize, EventStoreError> {
        Ok(self.insert_in(events, Mode::AllOrNothing, None)?.added.len())
    }

    /// [`EventStore::insert`] of the very events a [`EventStore::check_insert`]
    /// ran on: if nothing was written to the event log since, the dry
    /// run's resolvers (which took these events, from the same stored
    /// state) take the place of the design's rules applied again; else
    /// this is `insert`.
    pub(crate) fn insert_checked(&self, events: &[SignedEvent], checked: Checked) -> Result<usize, EventStoreError> {
        Ok(self.insert_in(events, Mode::AllOrNothing, Some(checked))?.added.len())
    }

    /// Inserts every event of `events` (in clock order) that can be
    /// stored, in one durable transaction, and says what became of the
    /// others: waiting for a parent this node lacks, or refused (invalid
    /// against its parents, or by its design's rules). For events from
    /// peers, where one bad event must not cost the good ones of the batch
    /// a transaction each.
    pub(crate) fn insert_each(&self, events: &[SignedEvent]) -> Result<Inserted, EventStoreError> {
        self.insert_in(events, Mode::EachAlone, None)
    }

    fn insert_in(
        &self,
        events: &[SignedEvent],
        mode: Mode,
        checked: Option<Checked>,
    ) -> Result<Inserted, EventStoreError> {
        let mut cache = self.resolvers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut touched: BTreeMap<DesignId, Delta> = BTreeMap::new();
        let mut admitted = match checked {
            Some(checked) if checked.writes == cache.writes() => checked.resolvers,
            _ => BTreeMap::new(),
        };
        cache.wrote();
        let result = self.write(&mut cache, events, &mut touched, mode, Run::Commit(&mut admitted));
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
    /// only if its events will go in too. Returns the ids it would store
    /// (not those stored already, nor those the bound on unclaimed
    /// contributions would drop: their files need not be stored), and
    /// what [`EventStore::insert_checked`] needs to store them without
    /// applying the design's rules a second time. Costs a copy of the
    /// touched designs' cached resolvers.
    pub(crate) fn check_insert(&self, events: &[SignedEvent]) -> Result<Checked, EventStoreError> {
        let mut scratch = ResolverCache::default();
        let writes = {
            let cache = self.resolvers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for design in events.iter().map(SignedEvent::design).collect::<std::collections::BTreeSet<_>>() {
                if let Some((resolver, count)) = cache.peek(&design) {
                    scratch.insert(design, resolver.clone(), count);
                }
            }
            cache.writes()
        };
        let mut resolvers = BTreeMap::new();
        let inserted =
            self.write(&mut scratch, events, &mut BTreeMap::new(), Mode::AllOrNothing, Run::Dry(&mut resolvers))?;
        let new = inserted.added.iter().map(SignedEvent::id).collect();
        Ok(Checked { new, resolvers, writes })
    }

    /// The insert itself, committed (if something was added) unless it
    /// is a dry run. A dry run writes no rows at all: every check reads
    /// only what was stored before the batch and the batch's own events
    /// (kept in memory as they pass), never a row the batch itself wrote,
    /// so the answer is the same and the rows (seven tables per event, the
    /// views per design) would only be thrown away. It hands back each
    /// touched design's resolver, for a commit of the same events to use
    /// instead of applying the design's rules again.
    fn write(
        &self,
        cache: &mut ResolverCache,
        events: &[SignedEvent],
        touched: &mut BTreeMap<DesignId, Delta>,
        mode: Mode,
        mut run: Run<'_>,
    ) -> Result<Inserted, EventStoreError> {
        let commit = matches!(run, Run::Commit(_));
        let admitted = match &run {
            Run::Commit(admitted) => admitted.keys().copied().collect(),
            Run::Dry(_) => std::collections::BTreeSet::new(),
        };
        let tx = self.db.begin_write()?;
        let mut out = Inserted::default();
        // Something was deleted (the bound evicted stored events).
        let mut changed = false;
        {
            let mut tables = Tables::open(&tx)?;
            // This batch's events stored so far: their children find them
            // here, without reading and decoding them back.
            let mut stored: HashMap<EventId, &SignedEvent> = HashMap::new();
            for event in events {
                match write_one(&mut tables, cache, touched, &stored, event, commit, &admitted) {
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
            tables.write_heads()?;
            for (design, delta) in touched.iter_mut() {
                let ready = match &mut run {
                    Run::Commit(ready) => ready.remove(design),
                    Run::Dry(_) => None,
                };
                let evicted = match ready {
                    // The dry run's resolver took this batch already, and
                    // ended it: it replaces the cached one, as taking the
                    // batch again would have changed that.
                    Some(Admitted { resolver, events, evicted }) => {
                        cache.insert(*design, resolver, events);
                        evicted
                    }
                    // The bound on unclaimed contributions is applied once
                    // the whole batch is in, so that a maintainer's event
                    // claims what came with it.
                    None => cache.get_mut(design).expect("loaded while inserting").end_batch(),
                };
                let resolver = cache.get_mut(design).expect("loaded while inserting");
                if delta.events == 0 && evicted.is_empty() {
                    // Only refusals: no row changes (a refused flood must
                    // not cost a rewrite of the design's rows per batch).
                    continue;
                }
                if let Run::Dry(resolvers) = &mut run {
                    let gone: std::collections::HashSet<EventId> = evicted.iter().copied().collect();
                    out.added.retain(|e| !gone.contains(&e.id()));
                    let (resolver, events) = cache.take(design).expect("loaded while inserting");
                    resolvers.insert(*design, Admitted { resolver, events, evicted });
                    continue;
                }
                if !evicted.is_empty() {
                    // Over the bound: deleted with everything derived from
                    // them, whether they came now or before.
                    changed = true;
                    let gone: std::collections::HashSet<EventId> = evicted.iter().copied().collect();
                    out.added.retain(|e| !gone.contains(&e.id()));
                    for id in &evicted {
                        let event = tables.get(id)?;
                        tables.delete(&event, resolver)?;
                        delta.removed_events += 1;
                        delta.removed_revisions += u64::from(matches!(event.body(), Body::Revision(_)));
                    }
                }
                tables.write_views(design, resolver.state(), *delta)?;
                cache.added(design, delta.events);
                cache.removed(design, delta.removed_events);
            }
        }
        if commit && (changed || !out.added.is_empty()) {
            tx.commit()?;
        } else {
            tx.abort()?;
        }
        Ok(out)
    }

    /// Every event of a design, in clock order (ties by id).
    pub(crate) fn design_log(&self, design: &DesignId) -> Result<Vec<SignedEvent>, EventStoreError> {
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
    pub(crate) fn log_page(
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

    /// How many events and designs the store holds (redb keeps each
    /// table's length: nothing is scanned).
    pub(crate) fn counts(&self) -> Result<(u64, u64), EventStoreError> {
        let tx = self.db.begin_read()?;
        Ok((tx.open_table(EVENTS)?.len()?, tx.open_table(DESIGNS)?.len()?))
    }

    /// Ids of every design with at least its genesis stored.
    pub(crate) fn designs(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DESIGNS)?;
        let mut designs = Vec::new();
        for row in table.iter()? {
            designs.push(DesignId::from_hash(communs_protocol::Hash::from_bytes(*row?.0.value())));
        }
        Ok(designs)
    }

    /// At most `limit` designs' rows in `list` order (name, case aside,
    /// then id), starting after `after` when given: the cost is the page,
    /// whatever the store holds. `None` if `after` is not a design here.
    pub(crate) fn design_page(
        &self,
        after: Option<&DesignId>,
        limit: usize,
    ) -> Result<Option<Vec<DesignRow>>, EventStoreError> {
        use std::ops::Bound;
        let tx = self.db.begin_read()?;
        let designs = tx.open_table(DESIGNS)?;
        let names = tx.open_table(NAMES)?;
        let start = match after {
            Some(design) => match designs.get(design.as_bytes())? {
                Some(row) => Some((views::sort_key(row.value().0), *design.as_bytes())),
                None => return Ok(None),
            },
            None => None,
        };
        let range = match &start {
            Some((key, design)) => {
                names.range::<(&str, &[u8; 32])>((Bound::Excluded((key.as_str(), design)), Bound::Unbounded))?
            }
            None => names.range::<(&str, &[u8; 32])>(..)?,
        };
        let mut page = Vec::with_capacity(limit.min(1024));
        for row in range.take(limit) {
            let design = *row?.0.value().1;
            let value = designs.get(&design)?.ok_or_else(|| {
                EventStoreError::NameWithoutRow(DesignId::from_hash(communs_protocol::Hash::from_bytes(design)))
            })?;
            page.push(DesignRow::from_value(&design, owned_row(value.value())));
        }
        Ok(Some(page))
    }

    pub(crate) fn design_row(&self, design: &DesignId) -> Result<Option<DesignRow>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DESIGNS)?;
        Ok(table.get(design.as_bytes())?.map(|v| DesignRow::from_value(design.as_bytes(), owned_row(v.value()))))
    }

    /// The design's governance state as of its last insert (approvals kept
    /// for its heads and open contributions only); `None` for a design the
    /// store does not hold.
    pub(crate) fn governance(&self, design: &DesignId) -> Result<Option<GovernanceState>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(GOVERNANCE)?;
        match table.get(design.as_bytes())? {
            Some(bytes) => Ok(Some(views::decode_state(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// What an event by `author` signed now should name as parents, with
    /// their clocks (the protocol's [`Resolver::parents_for`]):
    /// maintainers' latest events, the author's own unreviewed heads, and
    /// `named` (a base, a target) when not below those.
    pub(crate) fn parents_for(
        &self,
        design: &DesignId,
        author: communs_protocol::AuthorId,
        named: &[EventId],
    ) -> Result<Vec<(EventId, u64)>, EventStoreError> {
        let mut cache = self.resolvers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.peek(design).is_none() {
            // Loading reads the log only; the transaction is dropped.
            let tx = self.db.begin_write()?;
            let loaded = Tables::open(&tx)?.load_resolver(design)?;
            tx.abort()?;
            cache.insert(*design, loaded.0, loaded.1);
        }
        let resolver = cache.get_mut(design).expect("loaded above");
        let parents =
            resolver.parents_for(author, named).into_iter().filter_map(|id| Some((id, resolver.clock(&id)?))).collect();
        cache.trim();
        Ok(parents)
    }

    /// The design's events that no other event names as a parent, with
    /// their clocks.
    pub(crate) fn heads(&self, design: &DesignId) -> Result<Vec<(EventId, u64)>, EventStoreError> {
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
    pub(crate) fn stale_views(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let mut stale = Vec::new();
        for design in self.designs_in_log()? {
            let log = self.design_log(&design)?;
            // One batch, as the store applies the bound: one event at a
            // time would drop a contribution before the approval that
            // claims it (it has a higher clock).
            let mut resolver = Resolver::new();
            for event in &log {
                resolver.apply_in_batch(event.clone());
            }
            resolver.end_batch();
            let expected = views::trimmed(resolver.state());
            let revisions = log.iter().filter(|e| matches!(e.body(), Body::Revision(_))).count() as u64;
            let row = self.design_row(&design)?;
            let row_matches = match row {
                Some(r) => {
                    r.events == log.len() as u64
                        && r.revisions == revisions
                        && r.canonical == expected.canonical
                        && self.name_indexed(&design, &r.name)?
                }
                None => false,
            };
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
        // Entries of the name index that no row has (a design removed or
        // renamed without its entry): `list` would show them wrongly.
        let tx = self.db.begin_read()?;
        let (designs, names) = (tx.open_table(DESIGNS)?, tx.open_table(NAMES)?);
        for entry in names.iter()? {
            let (key, _) = entry?;
            let (sort_key, design) = key.value();
            let listed = designs.get(design)?.is_some_and(|row| views::sort_key(row.value().0) == sort_key);
            let design = DesignId::from_hash(communs_protocol::Hash::from_bytes(*design));
            if !listed && !stale.contains(&design) {
                stale.push(design);
            }
        }
        Ok(stale)
    }

    /// Whether `list`'s name index has `design` under `name`.
    fn name_indexed(&self, design: &DesignId, name: &str) -> Result<bool, EventStoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(NAMES)?.get((views::sort_key(name).as_str(), design.as_bytes()))?.is_some())
    }

    /// Designs as the log index knows them (one row per event: `fsck`
    /// only; everything else reads [`EventStore::designs`]).
    fn designs_in_log(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let tx = self.db.begin_read()?;
        designs_in(&tx.open_table(DESIGN_EVENTS)?)
    }

    pub(crate) fn append_policy(
        &self,
        time_ms: u64,
        action: PolicyAction,
        reason: &str,
    ) -> Result<PolicyEntry, EventStoreError> {
        // Held across the append, so that the kept policy moves in step
        // with the log.
        let mut kept = self.policy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = super::policy::append(&self.db, time_ms, action, reason)?;
        if let Some(policy) = kept.as_mut() {
            std::sync::Arc::make_mut(policy).apply(&entry.action);
        }
        Ok(entry)
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> Result<std::sync::Arc<Policy>, EventStoreError> {
        let mut kept = self.policy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(policy) = kept.as_ref() {
            return Ok(policy.clone());
        }
        let policy = std::sync::Arc::new(Policy::replay(&super::policy::entries(&self.db)?));
        *kept = Some(policy.clone());
        Ok(policy)
    }

    /// The policy log as stored, for a backup.
    pub(crate) fn raw_policy_log(&self) -> Result<Vec<Vec<u8>>, EventStoreError> {
        Ok(super::policy::raw_entries(&self.db)?)
    }

    /// Fills an empty policy log from a backup.
    pub(crate) fn restore_policy_log(&self, entries: &[Vec<u8>]) -> Result<(), EventStoreError> {
        super::policy::restore(&self.db, entries)?;
        *self.policy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Ok(())
    }

    /// The format version of the store (`format.rs`), up to date once open.
    pub(crate) fn format_version(&self) -> Result<u64, EventStoreError> {
        let tx = self.db.begin_read()?;
        Ok(super::format::version_of(&tx)?.unwrap_or(super::format::FORMAT_VERSION))
    }

    pub(crate) fn policy_entries(&self) -> Result<Vec<PolicyEntry>, EventStoreError> {
        Ok(super::policy::entries(&self.db)?)
    }

    /// Every stored event as raw bytes, for `fsck` to re-verify from scratch.
    pub(crate) fn raw_events(&self) -> Result<Vec<(EventId, Vec<u8>)>, EventStoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (id, bytes) = row?;
            out.push((EventId::from_hash(communs_protocol::Hash::from_bytes(*id.value())), bytes.value().to_vec()));
        }
        Ok(out)
    }

    /// A design's comments, oldest first.
    pub(crate) fn comments(&self, design: &DesignId) -> Result<Vec<SignedEvent>, EventStoreError> {
        social::comment_ids(&self.db, design)?.iter().filter_map(|id| self.get(id).transpose()).collect()
    }

    /// A design's make reports, oldest first.
    pub(crate) fn make_reports(&self, design: &DesignId) -> Result<Vec<SignedEvent>, EventStoreError> {
        social::make_report_ids(&self.db, design)?.iter().filter_map(|id| self.get(id).transpose()).collect()
    }

    /// How many times each revision of `design` was made, by outcome.
    pub(crate) fn makes(&self, design: &DesignId) -> Result<Vec<(EventId, MakeCounts)>, EventStoreError> {
        social::makes(&self.db, design)
    }

    pub(crate) fn authors_of(&self, design: &DesignId) -> Result<Vec<communs_protocol::AuthorId>, EventStoreError> {
        social::authors_of(&self.db, design)
    }

    pub(crate) fn remixes_of(&self, design: &DesignId) -> Result<Vec<DesignId>, EventStoreError> {
        social::remixes_of(&self.db, design)
    }

    pub(crate) fn designs_of_author(
        &self,
        author: &communs_protocol::AuthorId,
    ) -> Result<Vec<DesignId>, EventStoreError> {
        social::designs_of_author(&self.db, author)
    }

    /// Whether `author` has (or had: an event the bound took out leaves
    /// its author listed) an event in `design`: one row read.
    pub(crate) fn has_written(
        &self,
        author: &communs_protocol::AuthorId,
        design: &DesignId,
    ) -> Result<bool, EventStoreError> {
        social::has_written(&self.db, author, design)
    }

    pub(crate) fn is_known_author(&self, author: &communs_protocol::AuthorId) -> Result<bool, EventStoreError> {
        social::is_known_author(&self.db, author)
    }

    pub(crate) fn profile(&self, author: &communs_protocol::AuthorId) -> Result<Option<SignedEvent>, EventStoreError> {
        social::profile(&self.db, author)
    }

    pub(crate) fn profiles(&self) -> Result<Vec<SignedEvent>, EventStoreError> {
        social::profiles(&self.db)
    }

    /// The encodings of the held profiles of these authors newer than the
    /// clock given with each, for a peer's catch-up.
    pub(crate) fn newer_profiles(
        &self,
        known: &[(communs_protocol::AuthorId, u64)],
    ) -> Result<Vec<Vec<u8>>, EventStoreError> {
        let mut out = Vec::new();
        for (author, clock) in known {
            if let Some(profile) = self.profile(author)?
                && profile.clock() > *clock
            {
                out.push(profile.bytes().to_vec());
            }
        }
        Ok(out)
    }

    /// Keeps a verified profile if it is newer than the stored one.
    pub(crate) fn put_profile(&self, profile: &SignedEvent) -> Result<bool, EventStoreError> {
        social::put_profile(&self.db, profile)
    }

    /// Deletes every event of `design` from this store (`communs remove`),
    /// in one transaction; returns how many there were. Its blobs are
    /// freed by the next garbage collection.
    pub(crate) fn remove_design(&self, design: &DesignId) -> Result<usize, EventStoreError> {
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
            if let Some(row) = tx.open_table(DESIGNS)?.remove(design.as_bytes())? {
                tx.open_table(NAMES)?.remove((views::sort_key(row.value().0).as_str(), design.as_bytes()))?;
            }
            tx.open_table(GOVERNANCE)?.remove(design.as_bytes())?;
            SocialTables::open(&tx)?.remove_design(design)?;
            removed = ids.len();
        }
        cache.forget(design);
        cache.wrote();
        tx.commit()?;
        Ok(removed)
    }
}

/// Checks one event against its parents and its design's rules and
/// writes its rows (unless `!put`: a dry run); `Ok(false)` if it was
/// stored already. The rules are not applied again to the designs in
/// `admitted`: a dry run of this batch admitted its events, from the
/// same stored state.
fn write_one(
    tables: &mut Tables<'_>,
    cache: &mut ResolverCache,
    touched: &mut BTreeMap<DesignId, Delta>,
    batch: &HashMap<EventId, &SignedEvent>,
    event: &SignedEvent,
    put: bool,
    admitted: &std::collections::BTreeSet<DesignId>,
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
    if admitted.contains(&design) {
        delta.applied = true;
        if put {
            tables.put(event)?;
        }
        delta.events += 1;
        delta.revisions += u64::from(matches!(event.body(), Body::Revision(_)));
        return Ok(true);
    }
    let resolver = match cache.get_mut(&design) {
        Some(resolver) => resolver,
        None => {
            let (resolver, count) = tables.load_resolver(&design)?;
            cache.insert(design, resolver, count);
            cache.get_mut(&design).expect("just inserted")
        }
    };
    // Parents and clock were checked above: a refusal is the design's
    // rules (governance.md, "Admission"). The bound on unclaimed
    // contributions waits for the end of the batch (`write`).
    match resolver.apply_in_batch(event.clone()) {
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
    if put {
        tables.put(event)?;
    }
    delta.events += 1;
    delta.revisions += u64::from(matches!(event.body(), Body::Revision(_)));
    Ok(true)
}

/// What a dry run found, for the insert of the same events that follows
/// it ([`EventStore::insert_checked`]).
pub(crate) struct Checked {
    /// The ids the insert would store.
    pub(crate) new: std::collections::HashSet<EventId>,
    /// Each touched design's resolver once it took the batch.
    resolvers: BTreeMap<DesignId, Admitted>,
    /// The store's count of writes to the event log when the dry run
    /// began: its resolvers are good only while that has not moved.
    writes: u64,
}

/// A design's resolver after a dry run took a batch and ended it.
struct Admitted {
    resolver: Resolver,
    /// Events it held before the batch (the cache's count).
    events: u64,
    /// What ending the batch took out (the bound on unclaimed
    /// contributions).
    evicted: Vec<EventId>,
}

/// Whether [`EventStore::write`] commits, with the dry run's resolvers to
/// use instead of the rules; or is a dry run, filling them in.
enum Run<'a> {
    Commit(&'a mut BTreeMap<DesignId, Admitted>),
    Dry(&'a mut BTreeMap<DesignId, Admitted>),
}

/// Whether one event that cannot be stored spoils its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    AllOrNothing,
    EachAlone,
}

/// What [`EventStore::insert_each`] did with a batch.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
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
    names: redb::Table<'tx, (&'static str, &'static [u8; 32]), ()>,
    governance: redb::Table<'tx, &'static [u8; 32], &'static [u8]>,
    social: SocialTables<'tx>,
    /// Heads this transaction's events made, not yet written: in a batch
    /// most are a parent of the next event, so writing each and removing
    /// it again would cost two B-tree writes for nothing. Written by
    /// [`Tables::write_heads`] before anything else reads or deletes heads.
    new_heads: HashMap<(DesignId, EventId), u64>,
}

/// What one insert added to a design.
#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    events: u64,
    revisions: u64,
    /// Taken out by the bound on unclaimed contributions (some may be
    /// among `events`).
    removed_events: u64,
    removed_revisions: u64,
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
            names: tx.open_table(NAMES)?,
            governance: tx.open_table(GOVERNANCE)?,
            social: SocialTables::open(tx)?,
            new_heads: HashMap::new(),
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
            if self.new_heads.remove(&(design, *parent)).is_none() {
                self.heads.remove((design.as_bytes(), parent.as_bytes()))?;
            }
        }
        self.new_heads.insert((design, id), event.clock());
        self.social.put(event)?;
        Ok(())
    }

    /// Writes the heads [`Tables::put`] kept in memory.
    fn write_heads(&mut self) -> Result<(), EventStoreError> {
        for ((design, id), clock) in self.new_heads.drain() {
            self.heads.insert((design.as_bytes(), id.as_bytes()), clock)?;
        }
        Ok(())
    }

    /// Deletes the rows of an event the bound took out of its design's
    /// log. Its parents that `resolver` (which no longer holds it) shows
    /// with no other child become heads again.
    fn delete(&mut self, event: &SignedEvent, resolver: &Resolver) -> Result<(), EventStoreError> {
        let (id, design) = (event.id(), event.design());
        self.events.remove(id.as_bytes())?;
        self.design_events.remove((design.as_bytes(), id.as_bytes()))?;
        self.sync_items.remove((design.as_bytes(), id.as_bytes()))?;
        self.log.remove((design.as_bytes(), u64::MAX - event.clock(), id.as_bytes()))?;
        self.heads.remove((design.as_bytes(), id.as_bytes()))?;
        self.social.delete(event)?;
        for parent in event.parents() {
            if resolver.is_head(parent)
                && let Some(clock) = resolver.clock(parent)
            {
                self.heads.insert((design.as_bytes(), parent.as_bytes()), clock)?;
            }
        }
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
            resolver.apply_in_batch(self.get(&id)?);
            count += 1;
        }
        // What the store holds is within the bound (an insert deletes the
        // excess), so this takes nothing out.
        resolver.end_batch();
        Ok((resolver, count))
    }

    /// Brings a design's row and stored state up to date.
    fn write_views(&mut self, design: &DesignId, state: &GovernanceState, delta: Delta) -> Result<(), EventStoreError> {
        let (old_name, revisions, events) = match self.designs.get(design.as_bytes())? {
            Some(row) => {
                let (name, _, revisions, events, _) = row.value();
                (Some(name.to_owned()), revisions, events)
            }
            None => (None, 0, 0),
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
        let revisions = revisions + delta.revisions - delta.removed_revisions;
        let events = events + delta.events - delta.removed_events;
        self.designs.insert(design.as_bytes(), (name.as_str(), canonical, revisions, events, fork_of))?;
        if old_name.as_deref() != Some(name.as_str()) {
            if let Some(old) = &old_name {
                self.names.remove((views::sort_key(old).as_str(), design.as_bytes()))?;
            }
            self.names.insert((views::sort_key(&name).as_str(), design.as_bytes()), ())?;
        }
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

/// The store's format version (`None` for a database being created) and
/// its derived tables' version (`None` if never derived).
fn versions(db: &EventDb) -> Result<(Option<u64>, Option<u64>), EventStoreError> {
    let tx = db.begin_read()?;
    let format = super::format::version_of(&tx)?;
    let views = match tx.open_table(META) {
        Ok(meta) => meta.get(VIEWS_VERSION_KEY)?.map(|v| v.value()),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok((format, views))
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
    tx.delete_table(NAMES)?;
    tx.delete_table(GOVERNANCE)?;
    let designs = designs_in(&tx.open_table(DESIGN_EVENTS)?)?;
    let mut tables = Tables::open(tx)?;
    tables.social.clear()?;
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
            resolver.apply_in_batch(event.clone());
            tables.log.insert((design.as_bytes(), u64::MAX - event.clock(), event.id().as_bytes()), ())?;
            for parent in event.parents() {
                tables.heads.remove((design.as_bytes(), parent.as_bytes()))?;
            }
            tables.heads.insert((design.as_bytes(), event.id().as_bytes()), event.clock())?;
            tables.social.put(event)?;
            delta.events += 1;
            delta.revisions += u64::from(matches!(event.body(), Body::Revision(_)));
        }
        // A store written before the bound on unclaimed contributions may
        // hold more than it keeps: the excess goes.
        for id in resolver.end_batch() {
            let event = tables.get(&id)?;
            tables.delete(&event, &resolver)?;
            delta.removed_events += 1;
            delta.removed_revisions += u64::from(matches!(event.body(), Body::Revision(_)));
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

#[cfg(test)]
mod tests {
    use communs_protocol::limits::MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR as BOUND;
    use communs_protocol::manifest::License;
    use communs_protocol::{BlobHash, Body, Genesis, Manifest, Revision, SecretKey, UnsignedEvent};

    use super::*;

    fn genesis(key: &SecretKey, name: &str) -> SignedEvent {
        communs_protocol::fixtures::genesis(key, name, "CERN-OHL-S-2.0", 0)
    }

    #[test]
    fn fsck_sees_a_name_index_out_of_step_with_the_rows() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = EventStore::open(&dir.path().join("events.redb")).expect("store");
        let key = SecretKey::from_bytes(&[3; 32]);
        let (a, b) = (genesis(&key, "Anchor"), genesis(&key, "Bracket"));
        store.insert(&[a.clone(), b.clone()]).expect("stored");
        assert_eq!(store.stale_views().expect("checked"), Vec::<DesignId>::new());
        let page = store.design_page(None, 10).expect("read").expect("a page");
        assert_eq!(page.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Anchor", "Bracket"]);

        // A's entry under a name it no longer has; B's entry gone.
        let tx = store.db.begin_write().expect("tx");
        {
            let mut names = tx.open_table(NAMES).expect("names");
            names.remove(("anchor", a.design().as_bytes())).expect("removed");
            names.insert(("a new name", a.design().as_bytes()), ()).expect("inserted");
            names.remove(("bracket", b.design().as_bytes())).expect("removed");
        }
        tx.commit().expect("committed");
        let mut stale = store.stale_views().expect("checked");
        stale.sort();
        let mut expected = vec![a.design(), b.design()];
        expected.sort();
        assert_eq!(stale, expected);
    }

    #[test]
    fn the_kept_policy_moves_in_step_with_its_log() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("events.redb");
        let store = EventStore::open(&path).expect("store");
        let key = SecretKey::from_bytes(&[4; 32]);
        let (a, b) = (genesis(&key, "Anchor").design(), genesis(&key, "Bracket").design());
        assert_eq!(*store.policy().expect("policy"), Policy::default());
        for action in [
            PolicyAction::Follow(a),
            PolicyAction::Follow(b),
            PolicyAction::Remove(a),
            PolicyAction::Mute(key.author()),
        ] {
            store.append_policy(1, action, "test").expect("appended");
            let replayed = Policy::replay(&store.policy_entries().expect("entries"));
            assert_eq!(*store.policy().expect("policy"), replayed);
        }
        drop(store);
        let reopened = EventStore::open(&path).expect("store");
        assert!(reopened.policy().expect("policy").removed.contains(&a));
        assert!(reopened.policy().expect("policy").followed.contains(&b));
    }

    fn signed(key: &SecretKey, parents: &[&SignedEvent], body: Body) -> SignedEvent {
        UnsignedEvent {
            design: parents.first().map(|p| p.design()),
            author: key.author(),
            parents: parents.iter().map(|p| p.id()).collect(),
            clock: parents.iter().map(|p| p.clock() + 1).max().unwrap_or(0),
            time: 1,
            body,
        }
        .sign(key)
        .expect("a valid event")
    }

    /// A contribution over the bound, stored alone, is dropped; stored in
    /// one batch with the maintainer's approval that claims it, it is kept,
    /// and the rows derived from the log match a replay.
    #[test]
    fn a_batch_lets_an_approval_claim_what_the_bound_would_drop() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = EventStore::open(&dir.path().join("events.redb")).expect("store");
        let (maintainer, stranger) = (SecretKey::from_bytes(&[1; 32]), SecretKey::from_bytes(&[2; 32]));
        let genesis = signed(
            &maintainer,
            &[],
            Body::Genesis(Genesis {
                name: "Bounded".into(),
                maintainers: vec![maintainer.author()],
                threshold: 1,
                license: "CERN-OHL-S-2.0".into(),
                nonce: [3; 16],
                fork_of: None,
            }),
        );
        let manifest = Manifest::minimal("Bounded", License::all("CERN-OHL-S-2.0"));
        let mut flood: Vec<SignedEvent> = (0..=BOUND as u64)
            .map(|i| {
                let body = Body::Revision(Revision {
                    tree: BlobHash::of(&i.to_le_bytes()),
                    manifest: manifest.clone(),
                    base: vec![],
                    message: String::new(),
                });
                signed(&stranger, &[&genesis], body)
            })
            .collect();
        flood.sort_by_key(SignedEvent::id);
        let last = flood.pop().expect("one over the bound");
        store.insert(std::slice::from_ref(&genesis)).expect("genesis");
        assert_eq!(store.insert(&flood).expect("the bound's worth"), BOUND);
        let approval = signed(&maintainer, &[&last], Body::Approve { target: last.id() });

        assert_eq!(store.insert(std::slice::from_ref(&last)).expect("taken, then dropped"), 0);
        assert!(!store.contains(&last.id()).expect("read"));
        assert!(matches!(
            store.insert(std::slice::from_ref(&approval)),
            Err(EventStoreError::MissingParent { parent, .. }) if parent == last.id()
        ));

        let inserted = store.insert_each(&[last.clone(), approval.clone()]).expect("one batch");
        assert_eq!(inserted.added.len(), 2, "{:?} {:?}", inserted.refused, inserted.waiting);
        let design = genesis.design();
        assert_eq!(store.design_row(&design).expect("read").expect("a row").events, 2 + BOUND as u64 + 1);
        assert_eq!(store.governance(&design).expect("read").expect("a state").canonical, Some(last.id()));
        assert_eq!(store.stale_views().expect("replay"), Vec::<DesignId>::new());
    }
}
