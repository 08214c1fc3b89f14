//! What people say about designs, kept beside the event log: the comments
//! and make reports of each design, how many times each revision was made
//! and with what outcome, which authors appear in which designs, and the
//! newest profile of each of those authors.
//!
//! The design rows (`views.rs`) answer governance; these answer "what do
//! makers say", without reading a design's whole log: `comments` reads
//! only comments, and `show` and `list` read a revision's make counts in
//! one row. Every row is derived from stored events, written in the same
//! transaction as the event (`events.rs`), and rebuilt with the views.
//! Profiles are not design events: they are stored here, one per author,
//! the largest `(clock, id)` winning (spec/events.md, "Profile").

use communs_protocol::{AuthorId, Body, DesignId, EventId, Outcome, SignedEvent};
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::db::EventDb;
use super::events::EventStoreError;

/// (design, kind, event id) -> clock, kind 0 a comment and 1 a make
/// report: a design's comments or make reports, by prefix.
const SOCIAL: TableDefinition<(&[u8; 32], u8, &[u8; 32]), u64> = TableDefinition::new("social");
/// How many make reports say worked, worked with changes, failed.
type Counts = (u64, u64, u64);

/// (design, revision) -> its make counts.
const MAKES: TableDefinition<(&[u8; 32], &[u8; 32]), Counts> = TableDefinition::new("makes");
/// (author, design) -> (): the designs an author has events in, so that a
/// profile is kept only for an author this node has a reason to show.
const AUTHORS: TableDefinition<(&[u8; 32], &[u8; 32]), ()> = TableDefinition::new("authors");
/// (design, author) -> (): the authors of a design, whose profiles travel
/// with it.
const DESIGN_AUTHORS: TableDefinition<(&[u8; 32], &[u8; 32]), ()> = TableDefinition::new("design_authors");
/// (source design, remix) -> (): the designs whose genesis names a
/// revision of the source as what they were forked from.
const REMIXES: TableDefinition<(&[u8; 32], &[u8; 32]), ()> = TableDefinition::new("remixes");
/// Author -> the signed encoding of their newest profile.
const PROFILES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("profiles");

const COMMENT: u8 = 0;
const MAKE_REPORT: u8 = 1;

/// Make counts of one revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MakeCounts {
    pub worked: u64,
    pub worked_with_changes: u64,
    pub failed: u64,
}

impl MakeCounts {
    pub fn total(&self) -> u64 {
        self.worked + self.worked_with_changes + self.failed
    }

    fn add(&mut self, outcome: Outcome, sign: i8) {
        let slot = match outcome {
            Outcome::Worked => &mut self.worked,
            Outcome::WorkedWithChanges => &mut self.worked_with_changes,
            Outcome::Failed => &mut self.failed,
        };
        *slot = if sign > 0 { slot.saturating_add(1) } else { slot.saturating_sub(1) };
    }
}

pub(crate) fn create_in(tx: &WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(SOCIAL)?;
    tx.open_table(MAKES)?;
    tx.open_table(AUTHORS)?;
    tx.open_table(DESIGN_AUTHORS)?;
    tx.open_table(PROFILES)?;
    tx.open_table(REMIXES)?;
    Ok(())
}

/// The derived tables an insert writes, opened once per transaction.
pub(super) struct SocialTables<'tx> {
    social: redb::Table<'tx, (&'static [u8; 32], u8, &'static [u8; 32]), u64>,
    makes: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), Counts>,
    authors: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), ()>,
    design_authors: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), ()>,
    remixes: redb::Table<'tx, (&'static [u8; 32], &'static [u8; 32]), ()>,
    /// The (author, design) rows this transaction wrote already: a batch
    /// has few authors, and writing their row again per event changes
    /// nothing but costs two B-tree inserts.
    listed: std::collections::HashSet<(communs_protocol::AuthorId, communs_protocol::DesignId)>,
}

impl<'tx> SocialTables<'tx> {
    pub(super) fn open(tx: &'tx WriteTransaction) -> Result<Self, redb::TableError> {
        Ok(SocialTables {
            social: tx.open_table(SOCIAL)?,
            makes: tx.open_table(MAKES)?,
            authors: tx.open_table(AUTHORS)?,
            design_authors: tx.open_table(DESIGN_AUTHORS)?,
            remixes: tx.open_table(REMIXES)?,
            listed: std::collections::HashSet::new(),
        })
    }

    /// Rows of an event being stored.
    pub(super) fn put(&mut self, event: &SignedEvent) -> Result<(), redb::StorageError> {
        let (design, author) = (event.design(), event.author());
        if self.listed.insert((author, design)) {
            self.authors.insert((author.as_bytes(), design.as_bytes()), ())?;
            self.design_authors.insert((design.as_bytes(), author.as_bytes()), ())?;
        }
        if let Body::Genesis(genesis) = event.body()
            && let Some((source, _)) = genesis.fork_of
        {
            self.remixes.insert((source.as_bytes(), design.as_bytes()), ())?;
        }
        self.index(event, 1)
    }

    /// Rows of an event the bound took out of its log. The author stays
    /// listed: their profile is small, and bounded by what was stored.
    pub(super) fn delete(&mut self, event: &SignedEvent) -> Result<(), redb::StorageError> {
        self.index(event, -1)
    }

    fn index(&mut self, event: &SignedEvent, sign: i8) -> Result<(), redb::StorageError> {
        let (design, id) = (event.design(), event.id());
        let kind = match event.body() {
            Body::Comment(_) => COMMENT,
            Body::MakeReport(report) => {
                let key = (design.as_bytes(), report.revision.as_bytes());
                let mut counts = self.makes.get(key)?.map(|v| unpack(v.value())).unwrap_or_default();
                counts.add(report.outcome, sign);
                if counts.total() == 0 {
                    self.makes.remove(key)?;
                } else {
                    self.makes.insert(key, pack(counts))?;
                }
                MAKE_REPORT
            }
            _ => return Ok(()),
        };
        if sign > 0 {
            self.social.insert((design.as_bytes(), kind, id.as_bytes()), event.clock())?;
        } else {
            self.social.remove((design.as_bytes(), kind, id.as_bytes()))?;
        }
        Ok(())
    }

    /// Every row of `design` (`communs remove`).
    pub(super) fn remove_design(&mut self, design: &DesignId) -> Result<(), redb::StorageError> {
        let d = design.as_bytes();
        self.social.retain_in((d, 0, &[0u8; 32])..=(d, u8::MAX, &[0xffu8; 32]), |_, _| false)?;
        self.makes.retain_in((d, &[0u8; 32])..=(d, &[0xffu8; 32]), |_, _| false)?;
        let mut authors = Vec::new();
        for row in self.design_authors.range((d, &[0u8; 32])..=(d, &[0xffu8; 32]))? {
            authors.push(*row?.0.value().1);
        }
        for author in &authors {
            self.design_authors.remove((d, author))?;
            self.authors.remove((author, d))?;
        }
        self.listed.retain(|(_, listed)| listed != design);
        // Its row as a remix of another; removal is rare, a scan will do.
        self.remixes.retain(|(_, remix), ()| remix != d)?;
        Ok(())
    }

    /// Empties every derived table, before a rebuild of the views.
    pub(super) fn clear(&mut self) -> Result<(), redb::StorageError> {
        self.social.retain(|_, _| false)?;
        self.makes.retain(|_, _| false)?;
        self.authors.retain(|_, _| false)?;
        self.design_authors.retain(|_, _| false)?;
        self.remixes.retain(|_, _| false)?;
        self.listed.clear();
        Ok(())
    }
}

fn pack(c: MakeCounts) -> Counts {
    (c.worked, c.worked_with_changes, c.failed)
}

fn unpack((worked, worked_with_changes, failed): Counts) -> MakeCounts {
    MakeCounts { worked, worked_with_changes, failed }
}

fn event_id(bytes: [u8; 32]) -> EventId {
    EventId::from_hash(communs_protocol::Hash::from_bytes(bytes))
}

/// Ids of a design's comments (kind `COMMENT`) or make reports, oldest
/// first (clock, then id).
fn ids_of(db: &EventDb, design: &DesignId, kind: u8) -> Result<Vec<EventId>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(SOCIAL)?;
    let d = design.as_bytes();
    let mut ids = Vec::new();
    for row in table.range((d, kind, &[0u8; 32])..=(d, kind, &[0xffu8; 32]))? {
        let (key, clock) = row?;
        ids.push((clock.value(), event_id(*key.value().2)));
    }
    ids.sort();
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

pub(crate) fn comment_ids(db: &EventDb, design: &DesignId) -> Result<Vec<EventId>, EventStoreError> {
    ids_of(db, design, COMMENT)
}

pub(crate) fn make_report_ids(db: &EventDb, design: &DesignId) -> Result<Vec<EventId>, EventStoreError> {
    ids_of(db, design, MAKE_REPORT)
}

/// Make counts of every revision of `design` that was made at least once.
pub(crate) fn makes(db: &EventDb, design: &DesignId) -> Result<Vec<(EventId, MakeCounts)>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(MAKES)?;
    let d = design.as_bytes();
    let mut out = Vec::new();
    for row in table.range((d, &[0u8; 32])..=(d, &[0xffu8; 32]))? {
        let (key, counts) = row?;
        out.push((event_id(*key.value().1), unpack(counts.value())));
    }
    Ok(out)
}

/// The authors with events in `design`.
pub(crate) fn authors_of(db: &EventDb, design: &DesignId) -> Result<Vec<AuthorId>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(DESIGN_AUTHORS)?;
    let d = design.as_bytes();
    let mut out = Vec::new();
    for row in table.range((d, &[0u8; 32])..=(d, &[0xffu8; 32]))? {
        out.push(AuthorId::from_stored_bytes(*row?.0.value().1));
    }
    Ok(out)
}

/// The designs held that were forked from `design`.
pub(crate) fn remixes_of(db: &EventDb, design: &DesignId) -> Result<Vec<DesignId>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(REMIXES)?;
    let d = design.as_bytes();
    let mut out = Vec::new();
    for row in table.range((d, &[0u8; 32])..=(d, &[0xffu8; 32]))? {
        out.push(DesignId::from_hash(communs_protocol::Hash::from_bytes(*row?.0.value().1)));
    }
    Ok(out)
}

/// The designs `author` has events in.
pub(crate) fn designs_of_author(db: &EventDb, author: &AuthorId) -> Result<Vec<DesignId>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(AUTHORS)?;
    let a = author.as_bytes();
    let mut out = Vec::new();
    for row in table.range((a, &[0u8; 32])..=(a, &[0xffu8; 32]))? {
        out.push(DesignId::from_hash(communs_protocol::Hash::from_bytes(*row?.0.value().1)));
    }
    Ok(out)
}

/// Whether `author` has an event in `design` (see `AUTHORS`).
pub(crate) fn has_written(db: &EventDb, author: &AuthorId, design: &DesignId) -> Result<bool, EventStoreError> {
    let tx = db.begin_read()?;
    Ok(tx.open_table(AUTHORS)?.get((author.as_bytes(), design.as_bytes()))?.is_some())
}

/// Whether `author` has an event in some design of this store.
pub(crate) fn is_known_author(db: &EventDb, author: &AuthorId) -> Result<bool, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(AUTHORS)?;
    let a = author.as_bytes();
    Ok(table.range((a, &[0u8; 32])..=(a, &[0xffu8; 32]))?.next().is_some())
}

/// The newest stored profile of `author`.
pub(crate) fn profile(db: &EventDb, author: &AuthorId) -> Result<Option<SignedEvent>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(PROFILES)?;
    let Some(bytes) = table.get(author.as_bytes())? else { return Ok(None) };
    let event = SignedEvent::decode_trusted(bytes.value()).map_err(|source| EventStoreError::Corrupt {
        id: EventId::from_hash(communs_protocol::Hash::of(bytes.value())),
        source,
    })?;
    Ok(Some(event))
}

/// Every stored profile (for `fsck`, a bundle, the search index).
pub(crate) fn profiles(db: &EventDb) -> Result<Vec<SignedEvent>, EventStoreError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(PROFILES)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, bytes) = row?;
        let event = SignedEvent::decode_trusted(bytes.value()).map_err(|source| EventStoreError::Corrupt {
            id: EventId::from_hash(communs_protocol::Hash::of(bytes.value())),
            source,
        })?;
        out.push(event);
    }
    Ok(out)
}

/// Whether `candidate` replaces `stored` as its author's profile: the
/// larger clock wins, then the larger id (spec/events.md, "Profile").
pub(crate) fn newer_profile(candidate: &SignedEvent, stored: Option<&SignedEvent>) -> bool {
    stored.is_none_or(|s| (candidate.clock(), candidate.id()) > (s.clock(), s.id()))
}

/// Stores a verified profile if it is newer than the one kept; says
/// whether it was.
pub(crate) fn put_profile(db: &EventDb, profile: &SignedEvent) -> Result<bool, EventStoreError> {
    debug_assert!(matches!(profile.body(), Body::Profile(_)));
    let tx = db.begin_write()?;
    let newer;
    {
        let mut table = tx.open_table(PROFILES)?;
        let stored = match table.get(profile.author().as_bytes())? {
            Some(bytes) => SignedEvent::decode_trusted(bytes.value()).ok(),
            None => None,
        };
        newer = newer_profile(profile, stored.as_ref());
        if newer {
            table.insert(profile.author().as_bytes(), profile.bytes())?;
        }
    }
    if newer {
        tx.commit()?;
    } else {
        tx.abort()?;
    }
    Ok(newer)
}
