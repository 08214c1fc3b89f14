//! Keeping the index in step with the store.
//!
//! Each indexed design carries a stamp: a hash of its view row's
//! canonical revision and event count (spec/storage.md), and of whether
//! its document was complete. The first search of a process compares
//! every view row with the index and re-indexes what differs, adds what
//! is missing and drops held designs the store no longer has. After
//! that, each search first re-indexes only the designs touched since:
//! those whose events the store announced (a receiver that lagged
//! compares everything again), those removed, those of an author whose
//! shown name changed in this process, and, a few at a time, those
//! indexed before their files had arrived.
//!
//! An index that does not open, or fails a search, is deleted and built
//! again from the store.

use std::collections::{BTreeSet, HashMap, HashSet};

use communs_protocol::{DesignId, EventId, SignedEvent};
use tokio::sync::broadcast::{self, error::TryRecvError};

use super::{Hit, SearchError, SearchIndex, SearchQuery};
use crate::Node;
use crate::store::views::DesignRow;

/// Incomplete documents (files not here yet) tried again per search.
const INCOMPLETE_RETRIES_PER_SEARCH: usize = 16;

/// The node's search index and what it knows of the store, opened by
/// the first search.
#[derive(Default)]
pub(crate) struct Search {
    state: tokio::sync::Mutex<Option<State>>,
    /// Designs removed from the store since the last search.
    removed: std::sync::Mutex<HashSet<DesignId>>,
    /// Designs whose documents name an author whose shown name changed
    /// (a new profile, a local name) since the last search: indexed again
    /// whatever their stamp says.
    renamed: std::sync::Mutex<HashSet<DesignId>>,
    /// Designs whose catalog entry is new or replaced since the last
    /// search.
    heard: std::sync::Mutex<HashSet<DesignId>>,
}

struct State {
    index: SearchIndex,
    /// Each indexed design's stamp, and whether the store holds it.
    stamps: HashMap<DesignId, (u64, bool)>,
    /// Events stored since the last search.
    events: broadcast::Receiver<SignedEvent>,
    /// Designs indexed without their README (files not here yet).
    incomplete: BTreeSet<DesignId>,
}

/// The stamp of a design heard of: its announcement's id.
fn heard_stamp(announcement: &EventId) -> u64 {
    u64::from_le_bytes(announcement.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The stamp of a design's view row; `complete` is whether the document
/// built from it has everything it names.
fn stamp(row: &DesignRow, complete: bool) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"communs search stamp\0");
    match row.canonical {
        Some(id) => hasher.update(&[1]).update(id.as_bytes()),
        None => hasher.update(&[0]),
    };
    hasher.update(&row.events.to_le_bytes()).update(&[u8::from(complete)]);
    let bytes = hasher.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

impl Search {
    /// Notes that a design left the store (`communs remove`).
    /// An author's shown name changed: their designs' documents are built
    /// again by the next search.
    pub(crate) fn renamed(&self, designs: impl IntoIterator<Item = DesignId>) {
        self.renamed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(designs);
    }

    /// The catalog holds a new announcement of these designs.
    pub(crate) fn heard_of(&self, designs: impl IntoIterator<Item = DesignId>) {
        self.heard.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(designs);
    }

    pub(crate) fn removed(&self, design: DesignId) {
        self.removed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(design);
    }
}

impl Node {
    /// The designs that best match `query`, the index first brought up to
    /// date with the store.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>, SearchError> {
        let mut guard = self.search.state.lock().await;
        let state = match guard.take() {
            Some(mut state) => match self.update_search(&mut state).await {
                Ok(()) => state,
                // The store failed: the designs touched that were not
                // re-indexed are compared again when the next search opens
                // the index anew.
                Err(SearchError::Node(e)) => return Err(SearchError::Node(e)),
                Err(e) => {
                    tracing::warn!("search index failed ({e}): rebuilding it");
                    drop(state);
                    self.rebuild_search().await?
                }
            },
            None => self.open_search().await?,
        };
        let state = guard.insert(state);
        match state.index.search(query) {
            Ok(hits) => Ok(hits),
            Err(e) => {
                tracing::warn!("search failed ({e}): rebuilding the index");
                *guard = None;
                let state = guard.insert(self.rebuild_search().await?);
                state.index.search(query)
            }
        }
    }

    async fn open_search(&self) -> Result<State, SearchError> {
        let index = SearchIndex::open(&self.home.search_dir())?;
        match index.stamps() {
            Ok(stamps) => self.fill_search(index, stamps).await,
            Err(e) => {
                tracing::warn!("search index failed ({e}): rebuilding it");
                drop(index);
                self.rebuild_search().await
            }
        }
    }

    async fn rebuild_search(&self) -> Result<State, SearchError> {
        let dir = self.home.search_dir();
        let folder = SearchIndex::folder(&dir);
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|e| SearchError::io(&folder, e))?;
        }
        let index = SearchIndex::open(&dir)?;
        let stamps = index.stamps()?;
        self.fill_search(index, stamps).await
    }

    /// Compares every view row with the index and brings it up to date.
    async fn fill_search(
        &self,
        index: SearchIndex,
        stamps: HashMap<DesignId, (u64, bool)>,
    ) -> Result<State, SearchError> {
        // Subscribed before the rows are read: an event stored meanwhile
        // is seen again by the next search, never missed.
        let events = self.events.subscribe();
        let mut state = State { index, stamps, events, incomplete: BTreeSet::new() };
        self.compare_all(&mut state).await?;
        Ok(state)
    }

    async fn compare_all(&self, state: &mut State) -> Result<(), SearchError> {
        let rows = self.events.design_page(None, usize::MAX)?.unwrap_or_default();
        let held: HashSet<DesignId> = rows.iter().map(|r| r.design).collect();
        let gone: Vec<DesignId> =
            state.stamps.iter().filter(|(d, (_, h))| *h && !held.contains(d)).map(|(d, _)| *d).collect();
        for design in gone {
            state.index.remove(&design);
            state.stamps.remove(&design);
            state.incomplete.remove(&design);
        }
        for row in &rows {
            if state.stamps.get(&row.design).map(|(s, _)| *s) != Some(stamp(row, true)) {
                self.index_row(state, row).await?;
            }
        }
        // Designs heard of: compared by announcement id, without decoding
        // an announcement that did not change.
        let heard = self.events.catalog_designs()?;
        let in_catalog: HashSet<DesignId> = heard.iter().map(|(_, d)| *d).collect();
        let forgotten: Vec<DesignId> =
            state.stamps.iter().filter(|(d, (_, h))| !*h && !in_catalog.contains(d)).map(|(d, _)| *d).collect();
        for design in forgotten {
            state.index.remove(&design);
            state.stamps.remove(&design);
        }
        for (announcement, design) in heard {
            if held.contains(&design) || state.stamps.get(&design) == Some(&(heard_stamp(&announcement), false)) {
                continue;
            }
            self.index_heard(state, &design)?;
        }
        state.index.commit()
    }

    async fn update_search(&self, state: &mut State) -> Result<(), SearchError> {
        let mut touched: BTreeSet<DesignId> =
            std::mem::take(&mut *self.search.removed.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .into_iter()
                .collect();
        loop {
            match state.events.try_recv() {
                // Any event may move the canonical head or the maintainers:
                // its design's row is compared below.
                Ok(event) => {
                    touched.insert(event.design());
                }
                Err(TryRecvError::Lagged(_)) => return self.compare_all(state).await,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        let heard: Vec<DesignId> =
            std::mem::take(&mut *self.search.heard.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .into_iter()
                .collect();
        for design in heard {
            if !state.stamps.get(&design).is_some_and(|(_, held)| *held) {
                self.index_heard(state, &design)?;
            }
        }
        let renamed: Vec<DesignId> =
            std::mem::take(&mut *self.search.renamed.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .into_iter()
                .filter(|d| !touched.contains(d))
                .collect();
        for design in renamed {
            if let Some(row) = self.events.design_row(&design)? {
                self.index_row(state, &row).await?;
            }
        }
        let retry: Vec<DesignId> = state
            .incomplete
            .iter()
            .filter(|d| !touched.contains(d))
            .take(INCOMPLETE_RETRIES_PER_SEARCH)
            .copied()
            .collect();
        for design in touched {
            match self.events.design_row(&design)? {
                Some(row) => {
                    if state.stamps.get(&design).map(|(s, _)| *s) != Some(stamp(&row, true)) {
                        self.index_row(state, &row).await?;
                    }
                }
                None => {
                    if state.stamps.get(&design).is_some_and(|(_, held)| *held) {
                        state.index.remove(&design);
                        state.stamps.remove(&design);
                        state.incomplete.remove(&design);
                    }
                }
            }
        }
        for design in retry {
            if let Some(row) = self.events.design_row(&design)? {
                self.index_row(state, &row).await?;
            }
        }
        state.index.commit()
    }

    /// Indexes the catalog entry of `design`, a design this node does not
    /// hold (or drops its document if the catalog no longer has it).
    fn index_heard(&self, state: &mut State, design: &DesignId) -> Result<(), SearchError> {
        match self.events.catalog_entry(design)? {
            Some(entry) => {
                let doc = self.heard_of_doc(&entry);
                let stamp = heard_stamp(&EventId::from_hash(entry.announcement.id()));
                state.index.upsert(&doc, stamp)?;
                state.stamps.insert(*design, (stamp, false));
            }
            None => {
                state.index.remove(design);
                state.stamps.remove(design);
            }
        }
        Ok(())
    }

    async fn index_row(&self, state: &mut State, row: &DesignRow) -> Result<(), SearchError> {
        let built = self.search_doc(row).await?;
        let stamp = stamp(row, built.complete);
        state.index.upsert(&built.doc, stamp)?;
        state.stamps.insert(row.design, (stamp, true));
        if built.complete {
            state.incomplete.remove(&row.design);
        } else {
            state.incomplete.insert(row.design);
        }
        Ok(())
    }
}
