//! Full-text search over designs: those this node holds, and those it
//! has heard of (spec/storage.md, "Search index"; spec/api.md,
//! `GET /v1/search`).
//!
//! `index.rs` is the tantivy index and nothing else: documents in,
//! ranked hits out. `docs.rs` builds a held design's document from the
//! store (its canonical revision's manifest and README). `sync.rs` keeps
//! the index in step with the store: before each search it re-indexes the
//! designs whose view row changed, and an index that is missing, damaged
//! or of another schema version is deleted and rebuilt from the store.
//! The index is derived data: deleting its folder loses nothing.

mod docs;
mod index;
mod sync;

use communs_protocol::{AuthorId, DesignId};

pub use docs::MAX_INDEXED_README_BYTES;
pub use index::{SCHEMA_VERSION, SearchIndex, license_ids};
pub(crate) use sync::Search;

/// What the index knows of one design.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDoc {
    pub design: DesignId,
    pub name: String,
    /// What it does (the manifest's `function`).
    pub function: String,
    /// A description besides the function (a catalog entry's summary;
    /// empty for a held design, whose manifest has only `function`).
    pub description: String,
    pub keywords: Vec<String>,
    /// SPDX expressions (the manifest's hardware, documentation and
    /// software licenses, each once).
    pub licenses: Vec<String>,
    /// Its maintainers and the author of the revision indexed, each with
    /// the name they gave themselves if this node knows it.
    pub authors: Vec<(AuthorId, Option<String>)>,
    /// The README's text (at most [`MAX_INDEXED_README_BYTES`]).
    pub readme: String,
    /// Make reports of the design this node knows of.
    pub makes: u64,
    /// In this node's store (else heard of from a peer's catalog).
    pub held: bool,
    /// When the revision indexed was signed, ms since the Unix epoch.
    pub last_change_ms: u64,
}

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// Words, ranked by BM25 over name, function, description, keywords,
    /// licenses, authors' names and README (English stemming). Empty:
    /// every design that passes the filters, most recently changed first.
    pub text: String,
    /// Only designs whose license expressions name this SPDX id exactly.
    pub license: Option<String>,
    /// Only designs with this keyword (case aside).
    pub keyword: Option<String>,
    /// Only designs with this author (`author1…`) or author name (case
    /// aside) among their maintainers and the revision's author.
    pub author: Option<String>,
    /// Only designs made at least once.
    pub made: bool,
    /// Only designs held (`Some(true)`) or only those heard of.
    pub held: Option<bool>,
    /// At most this many hits.
    pub limit: usize,
}

/// One design found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub design: DesignId,
    pub name: String,
    pub licenses: Vec<String>,
    /// BM25 score (0 when the query had no words).
    pub score: f32,
    pub held: bool,
    pub makes: u64,
    /// The first maintainer's shown name, else their id.
    pub author: Option<String>,
    /// When the revision indexed was signed, ms since the Unix epoch.
    pub last_change_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index: {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("the search index is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Node(Box<crate::NodeError>),
}

impl SearchError {
    fn io(path: &std::path::Path, source: std::io::Error) -> SearchError {
        SearchError::Io { path: path.to_owned(), source }
    }
}

impl From<crate::NodeError> for SearchError {
    fn from(e: crate::NodeError) -> Self {
        SearchError::Node(Box::new(e))
    }
}

impl From<crate::store::EventStoreError> for SearchError {
    fn from(e: crate::store::EventStoreError) -> Self {
        SearchError::Node(Box::new(e.into()))
    }
}

#[cfg(test)]
mod tests;
