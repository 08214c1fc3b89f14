//! The catalog: the designs this node has heard of, whether or not it
//! keeps them, each with its announcement and the peers said to hold it
//! (spec/catalog.md, spec/storage.md).
//!
//! Three tables of the event database:
//! - `catalog`: design id -> (announcement bytes, whether this node keeps
//!   the design, holders, last heard);
//! - `catalog_items`: announcement id -> (time, design id): the items of a
//!   catalog reconciliation and the index a `FetchCatalog` reads by prefix;
//! - `catalog_evict`: (holders, last heard, design id) of every entry of a
//!   design this node does not keep, in eviction order: fewest holders
//!   first, then heard of longest ago.
//!
//! Designs this node keeps have their own announcement here (made from its
//! verified log), are never evicted and not counted against
//! [`MAX_CATALOG_ENTRIES`].

use communs_protocol::catalog::Announcement;
use communs_protocol::limits::{MAX_CATALOG_ENTRIES, MAX_CATALOG_HOLDERS};
use communs_protocol::wire::CatalogRecord;
use communs_protocol::{AuthorId, Body, DesignId, EventId, Hash, SignedEvent};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};

use super::events::{EventStore, EventStoreError};

/// Design id -> (announcement, kept, holders, last heard in ms). Holders
/// are 40 bytes each: the peer's 32-byte key and when it was last heard
/// (ms, big-endian).
const CATALOG: TableDefinition<&[u8; 32], CatalogValue<'static>> = TableDefinition::new("catalog");
type CatalogValue<'a> = (&'a [u8], bool, &'a [u8], u64);
/// Announcement id -> (time, design id).
const CATALOG_ITEMS: TableDefinition<&[u8; 32], (u64, [u8; 32])> = TableDefinition::new("catalog_items");
/// (holders, last heard, design id) of the entries not kept.
const CATALOG_EVICT: TableDefinition<(u64, u64, &[u8; 32]), ()> = TableDefinition::new("catalog_evict");

/// One catalog entry, decoded.
#[derive(Debug, Clone)]
pub(crate) struct CatalogEntry {
    pub announcement: Announcement,
    /// Whether this node keeps the design.
    pub kept: bool,
    /// Peers said to hold it, with when each was last heard (ms).
    pub holders: Vec<(AuthorId, u64)>,
    pub heard_ms: u64,
}

/// What became of an announcement offered to the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// A design the catalog did not hold.
    New,
    /// It superseded the entry held.
    Replaced,
    /// The entry held is this very announcement: only holders recorded.
    Same,
    /// The entry held supersedes it: only holders recorded.
    Older,
    /// This node keeps the design: its own announcement stays; only
    /// holders recorded. `current`: the offered one is its own, or
    /// supersedes it (the node has not stored the newer events yet).
    Kept { current: bool },
    /// The catalog is full and the entry would be the first evicted: not
    /// stored.
    Full,
}

fn holders_decode(bytes: &[u8]) -> Vec<(AuthorId, u64)> {
    bytes
        .chunks_exact(40)
        .map(|c| {
            let mut key = [0u8; 32];
            key.copy_from_slice(&c[..32]);
            let mut at = [0u8; 8];
            at.copy_from_slice(&c[32..]);
            (AuthorId::from_stored_bytes(key), u64::from_be_bytes(at))
        })
        .collect()
}

fn holders_encode(holders: &[(AuthorId, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(holders.len() * 40);
    for (key, at) in holders {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&at.to_be_bytes());
    }
    out
}

/// `holders` with `new` heard at `now`: a holder known is refreshed, a new
/// one added; beyond [`MAX_CATALOG_HOLDERS`] the one heard longest ago goes.
fn merge_holders(holders: &mut Vec<(AuthorId, u64)>, new: &[AuthorId], now: u64) {
    for key in new {
        match holders.iter_mut().find(|(k, _)| k == key) {
            Some(held) => held.1 = held.1.max(now),
            None => holders.push((*key, now)),
        }
    }
    holders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    holders.truncate(MAX_CATALOG_HOLDERS);
}

/// A catalog table, or `None` in a store that never held a catalog (the
/// tables are made by the first write).
fn open_if_any<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &redb::ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, EventStoreError> {
    match tx.open_table(table) {
        Ok(table) => Ok(Some(table)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn decode(bytes: &[u8]) -> Result<Announcement, EventStoreError> {
    Announcement::decode_trusted(bytes).map_err(|_| EventStoreError::CorruptCatalog)
}

type Row = (Vec<u8>, bool, Vec<(AuthorId, u64)>, u64);

fn read_row(
    table: &impl ReadableTable<&'static [u8; 32], CatalogValue<'static>>,
    design: &[u8; 32],
) -> Result<Option<Row>, EventStoreError> {
    Ok(table.get(design)?.map(|v| {
        let (bytes, kept, holders, heard) = v.value();
        (bytes.to_vec(), kept, holders_decode(holders), heard)
    }))
}

impl EventStore {
    /// (time, id) of every announcement of the catalog, for a catalog
    /// reconciliation (the ids are announcement ids, not event ids).
    pub(crate) fn catalog_items(&self) -> Result<Vec<(u64, EventId)>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = open_if_any(&tx, CATALOG_ITEMS)? else { return Ok(Vec::new()) };
        let mut items = Vec::with_capacity(table.len()? as usize);
        for row in table.iter()? {
            let (id, value) = row?;
            items.push((value.value().0, EventId::from_hash(Hash::from_bytes(*id.value()))));
        }
        Ok(items)
    }

    /// The catalog records whose announcement ids start with one of
    /// `prefixes`, in the order asked, at most `max`; `me` is listed first
    /// among the holders of a design this node keeps.
    pub(crate) fn catalog_records(
        &self,
        prefixes: &[[u8; 8]],
        max: usize,
        me: AuthorId,
    ) -> Result<Vec<CatalogRecord>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let (items, catalog) = match (tx.open_table(CATALOG_ITEMS), tx.open_table(CATALOG)) {
            (Ok(items), Ok(catalog)) => (items, catalog),
            (Err(redb::TableError::TableDoesNotExist(_)), _) | (_, Err(redb::TableError::TableDoesNotExist(_))) => {
                return Ok(Vec::new());
            }
            (Err(e), _) | (_, Err(e)) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for prefix in prefixes {
            let (mut low, mut high) = ([0u8; 32], [0xffu8; 32]);
            low[..8].copy_from_slice(prefix);
            high[..8].copy_from_slice(prefix);
            for row in items.range::<&[u8; 32]>(&low..=&high)? {
                if out.len() == max {
                    return Ok(out);
                }
                let design = row?.1.value().1;
                let Some((announcement, kept, holders, _)) = read_row(&catalog, &design)? else { continue };
                let mut keys: Vec<AuthorId> = Vec::new();
                if kept {
                    keys.push(me);
                }
                keys.extend(holders.iter().map(|(k, _)| *k).filter(|k| *k != me));
                keys.truncate(MAX_CATALOG_HOLDERS);
                out.push(CatalogRecord { announcement, holders: keys });
            }
        }
        Ok(out)
    }

    /// Offers verified announcements heard from peers, each with the
    /// peers said to hold its design, at `now_ms`, in one transaction
    /// (spec/catalog.md, "Keeping a catalog"). Returns what became of each.
    pub(crate) fn catalog_offer(
        &self,
        offers: &[(Announcement, Vec<AuthorId>)],
        now_ms: u64,
    ) -> Result<Vec<Offered>, EventStoreError> {
        self.catalog_offer_bounded(offers, now_ms, MAX_CATALOG_ENTRIES)
    }

    /// [`EventStore::catalog_offer`] with at most `max` entries not kept.
    fn catalog_offer_bounded(
        &self,
        offers: &[(Announcement, Vec<AuthorId>)],
        now_ms: u64,
        max: usize,
    ) -> Result<Vec<Offered>, EventStoreError> {
        let tx = self.db().begin_write()?;
        let mut outcomes = Vec::with_capacity(offers.len());
        {
            let mut catalog = tx.open_table(CATALOG)?;
            let mut items = tx.open_table(CATALOG_ITEMS)?;
            let mut evict = tx.open_table(CATALOG_EVICT)?;
            for (announcement, holders) in offers {
                let design = *announcement.design().as_bytes();
                let outcome = match read_row(&catalog, &design)? {
                    Some((bytes, kept, mut held, heard)) => {
                        let old = decode(&bytes)?;
                        let replace = !kept && announcement.supersedes(&old);
                        if !kept {
                            evict.remove((held.len() as u64, heard, &design))?;
                        }
                        merge_holders(&mut held, holders, now_ms);
                        let heard = heard.max(now_ms);
                        let bytes = if replace {
                            items.remove(old.id().as_bytes())?;
                            items.insert(announcement.id().as_bytes(), (announcement.time(), design))?;
                            announcement.bytes().to_vec()
                        } else {
                            bytes
                        };
                        catalog.insert(&design, (bytes.as_slice(), kept, holders_encode(&held).as_slice(), heard))?;
                        if !kept {
                            evict.insert((held.len() as u64, heard, &design), ())?;
                        }
                        let same = old.id() == announcement.id();
                        match (kept, replace, same) {
                            (true, _, _) => Offered::Kept { current: same || announcement.supersedes(&old) },
                            (false, true, _) => Offered::Replaced,
                            (false, false, true) => Offered::Same,
                            (false, false, false) => Offered::Older,
                        }
                    }
                    None => {
                        let mut held = Vec::new();
                        merge_holders(&mut held, holders, now_ms);
                        let rank = (held.len() as u64, now_ms);
                        let mut full = false;
                        if evict.len()? >= max as u64 {
                            let first = evict.first()?.map(|(k, _)| {
                                let (n, at, d) = k.value();
                                (n, at, *d)
                            });
                            match first {
                                Some((n, at, victim)) if (n, at) < rank => {
                                    evict.remove((n, at, &victim))?;
                                    if let Some((bytes, _, _, _)) = read_row(&catalog, &victim)? {
                                        items.remove(decode(&bytes)?.id().as_bytes())?;
                                    }
                                    catalog.remove(&victim)?;
                                }
                                _ => full = true,
                            }
                        }
                        if full {
                            Offered::Full
                        } else {
                            catalog.insert(
                                &design,
                                (announcement.bytes(), false, holders_encode(&held).as_slice(), now_ms),
                            )?;
                            items.insert(announcement.id().as_bytes(), (announcement.time(), design))?;
                            evict.insert((held.len() as u64, now_ms, &design), ())?;
                            Offered::New
                        }
                    }
                };
                outcomes.push(outcome);
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Sets the announcement of designs this node keeps (made from its own
    /// log), and marks as no longer kept the entries of `unkept`. Returns
    /// the announcements that changed.
    pub(crate) fn catalog_set_own(
        &self,
        own: &[Announcement],
        unkept: &[DesignId],
        now_ms: u64,
    ) -> Result<Vec<Announcement>, EventStoreError> {
        let tx = self.db().begin_write()?;
        let mut changed = Vec::new();
        {
            let mut catalog = tx.open_table(CATALOG)?;
            let mut items = tx.open_table(CATALOG_ITEMS)?;
            let mut evict = tx.open_table(CATALOG_EVICT)?;
            for announcement in own {
                let design = *announcement.design().as_bytes();
                let (held, heard) = match read_row(&catalog, &design)? {
                    Some((bytes, kept, held, heard)) => {
                        if !kept {
                            evict.remove((held.len() as u64, heard, &design))?;
                        }
                        if bytes == announcement.bytes() {
                            if !kept {
                                catalog.insert(
                                    &design,
                                    (bytes.as_slice(), true, holders_encode(&held).as_slice(), heard),
                                )?;
                            }
                            continue;
                        }
                        items.remove(decode(&bytes)?.id().as_bytes())?;
                        (held, heard)
                    }
                    None => (Vec::new(), now_ms),
                };
                catalog.insert(&design, (announcement.bytes(), true, holders_encode(&held).as_slice(), heard))?;
                items.insert(announcement.id().as_bytes(), (announcement.time(), design))?;
                changed.push(announcement.clone());
            }
            for design in unkept {
                let design = *design.as_bytes();
                if let Some((bytes, true, held, heard)) = read_row(&catalog, &design)? {
                    catalog.insert(&design, (bytes.as_slice(), false, holders_encode(&held).as_slice(), heard))?;
                    evict.insert((held.len() as u64, heard, &design), ())?;
                }
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// The designs whose entries say this node keeps them.
    pub(crate) fn catalog_kept(&self) -> Result<Vec<DesignId>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = open_if_any(&tx, CATALOG)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (design, value) = row?;
            if value.value().1 {
                out.push(DesignId::from_hash(Hash::from_bytes(*design.value())));
            }
        }
        Ok(out)
    }

    /// What is wrong with the catalog's tables, checked from the bytes up
    /// (`fsck`): each entry's announcement decoded with every signature
    /// verified and of the design it is stored under, and its rows in
    /// `catalog_items` and `catalog_evict`, which hold nothing else. Each
    /// problem with the design (or announcement id) it concerns.
    pub(crate) fn catalog_problems(&self) -> Result<Vec<(String, String)>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let (catalog, items, evict) =
            match (tx.open_table(CATALOG), tx.open_table(CATALOG_ITEMS), tx.open_table(CATALOG_EVICT)) {
                (Ok(c), Ok(i), Ok(e)) => (c, i, e),
                _ => return Ok(Vec::new()),
            };
        let mut problems = Vec::new();
        let (mut ids, mut not_kept) = (0u64, 0u64);
        for row in catalog.iter()? {
            let (key, value) = row?;
            let design = DesignId::from_hash(Hash::from_bytes(*key.value()));
            let (bytes, kept, holders, heard) = value.value();
            // Every entry has one row of items, and one of eviction if not
            // kept, whatever its bytes.
            ids += 1;
            not_kept += u64::from(!kept);
            let announcement = match Announcement::decode(bytes) {
                Ok(a) if a.design() == design => a,
                Ok(a) => {
                    problems.push((design.to_string(), format!("stored under it, an announcement of {}", a.design())));
                    continue;
                }
                Err(e) => {
                    problems.push((design.to_string(), format!("not a valid announcement: {e}")));
                    continue;
                }
            };
            let item = items.get(announcement.id().as_bytes())?.map(|v| v.value());
            if item != Some((announcement.time(), *key.value())) {
                problems
                    .push((design.to_string(), "its announcement's row of catalog_items is missing or wrong".into()));
            }
            if !kept {
                let count = holders_decode(holders).len() as u64;
                if evict.get((count, heard, key.value()))?.is_none() {
                    problems.push((design.to_string(), "its row of catalog_evict is missing".into()));
                }
            }
        }
        if items.len()? != ids || evict.len()? != not_kept {
            problems.push((
                "catalog".into(),
                format!(
                    "{} rows in catalog_items and {} in catalog_evict for {ids} entries, {not_kept} of them not kept",
                    items.len()?,
                    evict.len()?
                ),
            ));
        }
        Ok(problems)
    }

    /// The catalog entry of `design`, if any.
    pub(crate) fn catalog_entry(&self, design: &DesignId) -> Result<Option<CatalogEntry>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = open_if_any(&tx, CATALOG)? else { return Ok(None) };
        let Some((bytes, kept, holders, heard_ms)) = read_row(&table, design.as_bytes())? else { return Ok(None) };
        Ok(Some(CatalogEntry { announcement: decode(&bytes)?, kept, holders, heard_ms }))
    }

    /// (announcement id, design) of every catalog entry, read without
    /// decoding any announcement: what the search index compares its
    /// documents of designs heard of with.
    pub(crate) fn catalog_designs(&self) -> Result<Vec<(EventId, DesignId)>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = open_if_any(&tx, CATALOG_ITEMS)? else { return Ok(Vec::new()) };
        let mut out = Vec::with_capacity(table.len()? as usize);
        for row in table.iter()? {
            let (id, value) = row?;
            out.push((
                EventId::from_hash(Hash::from_bytes(*id.value())),
                DesignId::from_hash(Hash::from_bytes(value.value().1)),
            ));
        }
        Ok(out)
    }

    /// Every catalog entry.
    pub(crate) fn catalog_entries(&self) -> Result<Vec<CatalogEntry>, EventStoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = open_if_any(&tx, CATALOG)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, value) = row?;
            let (bytes, kept, holders, heard_ms) = value.value();
            out.push(CatalogEntry { announcement: decode(bytes)?, kept, holders: holders_decode(holders), heard_ms });
        }
        Ok(out)
    }

    /// The announcement of a design this node keeps, from its log: its
    /// genesis and canonical revision, with a genesis maintainer's
    /// approval of it when its author is not one (spec/catalog.md, "What a
    /// node announces"). `None` if the genesis is not here.
    pub(crate) fn own_announcement(&self, design: &DesignId) -> Result<Option<Announcement>, EventStoreError> {
        let Some(genesis) = self.get(&design.genesis())? else { return Ok(None) };
        let Body::Genesis(g) = genesis.body() else { return Ok(None) };
        let canonical = self.design_row(design)?.and_then(|row| row.canonical);
        let revision = match canonical {
            Some(id) => self.get(&id)?,
            None => None,
        };
        let approval = match &revision {
            Some(r) if g.maintainers.binary_search(&r.author()).is_err() => {
                let target = r.id();
                self.design_log(design)?.into_iter().find(|e: &SignedEvent| {
                    matches!(e.body(), Body::Approve { target: t } if *t == target)
                        && g.maintainers.binary_search(&e.author()).is_ok()
                })
            }
            _ => None,
        };
        let approval_missing = revision.is_some() && approval.is_none() && {
            let r = revision.as_ref().map(SignedEvent::author);
            r.is_some_and(|a| g.maintainers.binary_search(&a).is_err())
        };
        let revision = if approval_missing { None } else { revision };
        Ok(Announcement::best_effort(genesis, revision, approval).ok())
    }
}

#[cfg(test)]
mod tests {
    use communs_protocol::fixtures;

    use super::*;

    fn store() -> (tempfile::TempDir, EventStore) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = EventStore::open(&dir.path().join("events.redb")).expect("open");
        (dir, store)
    }

    fn key(n: u8) -> communs_protocol::SecretKey {
        communs_protocol::SecretKey::from_bytes(&[n; 32])
    }

    /// A design of its own (by `n`), announced with its genesis alone.
    fn design(n: u64) -> Announcement {
        Announcement::new(fixtures::genesis(&key(1), "Lamp", "CERN-OHL-S-2.0", n), None, None).expect("valid")
    }

    fn holders(n: u8) -> Vec<AuthorId> {
        (0..n).map(|i| key(10 + i).author()).collect()
    }

    fn designs_in(store: &EventStore) -> Vec<DesignId> {
        let mut designs: Vec<DesignId> =
            store.catalog_entries().expect("entries").iter().map(|e| e.announcement.design()).collect();
        designs.sort();
        designs
    }

    #[test]
    fn a_full_catalog_evicts_the_entry_with_fewest_holders_then_heard_of_longest_ago() {
        let (_dir, store) = store();
        let [a, b, c, d, e] = [1, 2, 3, 4, 5].map(design);
        let offer = |x: &Announcement, n: u8, at: u64| {
            store.catalog_offer_bounded(&[(x.clone(), holders(n))], at, 3).expect("offer")[0]
        };
        assert_eq!(offer(&a, 1, 10), Offered::New);
        assert_eq!(offer(&b, 2, 5), Offered::New);
        assert_eq!(offer(&c, 1, 20), Offered::New);
        // Full: `a` has as few holders as `c` and was heard of earlier.
        assert_eq!(offer(&d, 1, 30), Offered::New);
        let mut want = vec![b.design(), c.design(), d.design()];
        want.sort();
        assert_eq!(designs_in(&store), want);
        // An entry that would itself be the first evicted is not added.
        assert_eq!(offer(&e, 0, 40), Offered::Full);
        assert_eq!(designs_in(&store), want);
        assert!(store.catalog_problems().expect("check").is_empty(), "the tables agree after evictions");
        // Its items follow: one per entry, the evicted one's gone.
        let mut items: Vec<Hash> = store.catalog_items().expect("items").iter().map(|(_, id)| id.hash()).collect();
        items.sort();
        let mut ids = vec![b.id(), c.id(), d.id()];
        ids.sort();
        assert_eq!(items, ids);
    }

    #[test]
    fn a_better_announcement_replaces_the_entry_and_a_worse_one_only_adds_its_holders() {
        let (_dir, store) = store();
        let genesis = fixtures::genesis(&key(1), "Lamp", "CERN-OHL-S-2.0", 1);
        let revision = fixtures::revision(&key(1), &genesis, communs_protocol::BlobHash::of(b"t"), "Lamp", "MIT");
        let old = Announcement::new(genesis.clone(), None, None).expect("valid");
        let new = Announcement::new(genesis, Some(revision), None).expect("valid");
        assert_eq!(store.catalog_offer(&[(old.clone(), holders(1))], 1).expect("offer"), [Offered::New]);
        assert_eq!(store.catalog_offer(&[(new.clone(), holders(2))], 2).expect("offer"), [Offered::Replaced]);
        assert_eq!(store.catalog_offer(&[(old.clone(), vec![key(30).author()])], 3).expect("offer"), [Offered::Older]);
        assert_eq!(store.catalog_offer(&[(new.clone(), vec![])], 3).expect("offer"), [Offered::Same]);
        let entries = store.catalog_entries().expect("entries");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].announcement, new);
        assert_eq!(entries[0].holders.len(), 3, "every holder heard of: {:?}", entries[0].holders);
        assert_eq!(entries[0].holders[0], (key(30).author(), 3), "the most recent first");
        let items = store.catalog_items().expect("items");
        assert_eq!(items, vec![(new.time(), EventId::from_hash(new.id()))]);
    }

    #[test]
    fn a_damaged_entry_is_a_problem_for_fsck() {
        let (_dir, store) = store();
        let a = design(1);
        store.catalog_offer(&[(a.clone(), holders(1))], 1).expect("offer");
        let tx = store.db().begin_write().expect("write");
        {
            let mut catalog = tx.open_table(CATALOG).expect("table");
            let mut bytes = a.bytes().to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            catalog.insert(a.design().as_bytes(), (bytes.as_slice(), false, &[][..], 1)).expect("insert");
        }
        tx.commit().expect("commit");
        let problems = store.catalog_problems().expect("check");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].1.contains("not a valid announcement"), "{problems:?}");
    }

    #[test]
    fn holders_are_bounded_the_least_recently_heard_going_first() {
        let (_dir, store) = store();
        let a = design(1);
        for (at, n) in (0..MAX_CATALOG_HOLDERS as u8 + 3).enumerate() {
            store.catalog_offer(&[(a.clone(), vec![key(40 + n).author()])], at as u64).expect("offer");
        }
        let entry = store.catalog_entries().expect("entries").remove(0);
        assert_eq!(entry.holders.len(), MAX_CATALOG_HOLDERS);
        assert!(!entry.holders.iter().any(|(k, _)| *k == key(40).author()), "the oldest went");
    }

    #[test]
    fn kept_designs_keep_their_own_announcement_and_are_never_evicted() {
        let (_dir, store) = store();
        let me = key(1).author();
        let [own, a, b] = [1, 2, 3].map(design);
        assert_eq!(store.catalog_set_own(std::slice::from_ref(&own), &[], 1).expect("own").len(), 1);
        assert!(store.catalog_set_own(std::slice::from_ref(&own), &[], 2).expect("own").is_empty(), "unchanged");
        // Someone else's announcement of it only adds a holder.
        let other = Announcement::new(
            own.genesis().clone(),
            Some(fixtures::revision(&key(1), own.genesis(), communs_protocol::BlobHash::of(b"x"), "Lamp", "MIT")),
            None,
        )
        .expect("valid");
        let kept = |x: &Announcement| store.catalog_offer_bounded(&[(x.clone(), holders(1))], 3, 1).expect("offer");
        assert_eq!(kept(&other), [Offered::Kept { current: true }], "newer than this node's own");
        assert_eq!(kept(&own), [Offered::Kept { current: true }], "this node's own");
        store.catalog_set_own(std::slice::from_ref(&other), &[], 3).expect("own");
        assert_eq!(kept(&own), [Offered::Kept { current: false }], "older than this node's own");
        store.catalog_set_own(std::slice::from_ref(&own), &[], 3).expect("own");
        // Not counted: a catalog of one entry not kept still takes one.
        assert_eq!(store.catalog_offer_bounded(&[(a.clone(), holders(1))], 4, 1).expect("offer"), [Offered::New]);
        assert_eq!(store.catalog_offer_bounded(&[(b.clone(), holders(2))], 5, 1).expect("offer"), [Offered::New]);
        let mut want = vec![own.design(), b.design()];
        want.sort();
        assert_eq!(designs_in(&store), want, "a evicted, the kept design stays");
        assert_eq!(store.catalog_kept().expect("kept"), vec![own.design()]);
        // Served with this node first among its holders.
        let records = store.catalog_records(&[own.id().as_bytes()[..8].try_into().expect("8")], 10, me).expect("r");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].announcement, own.bytes());
        assert_eq!(records[0].holders[0], me);
        // No longer kept: an ordinary entry, evictable.
        assert!(store.catalog_problems().expect("check").is_empty());
        store.catalog_set_own(&[], &[own.design()], 6).expect("unkeep");
        assert!(store.catalog_problems().expect("check").is_empty());
        assert!(store.catalog_kept().expect("kept").is_empty());
        assert_eq!(store.catalog_offer_bounded(&[(a, holders(3))], 7, 2).expect("offer"), [Offered::New]);
        assert_eq!(designs_in(&store).len(), 2);
    }
}
