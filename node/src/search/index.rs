//! The tantivy index itself: its schema, its folder, and the three
//! operations on it (`upsert`, `remove`, `search`). It knows nothing of
//! the store; `sync.rs` keeps it in step with one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use communs_protocol::DesignId;
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

use super::{Hit, SearchDoc, SearchError, SearchQuery};

/// Bumped whenever the schema or what a field holds changes: an index of
/// another version is deleted and rebuilt (spec/storage.md). It is part
/// of the index's folder name, `index-v{N}`.
pub const SCHEMA_VERSION: u32 = 2;

/// Memory the index writer buffers before it writes a segment: tantivy's
/// minimum per indexing thread is 15 MB.
const WRITER_MEMORY_BYTES: usize = 20_000_000;

/// How much each text field weighs in the score: a word in the name
/// says more about a design than one in its README.
const BOOSTS: &[(&str, f32)] = &[
    ("name", 4.0),
    ("keywords", 3.0),
    ("function", 1.5),
    ("description", 1.0),
    ("licenses", 1.0),
    ("authors", 1.0),
    ("readme", 0.5),
];

/// The fields of the schema, by role.
#[derive(Clone, Copy)]
struct Fields {
    /// `design1…`, exact: the key that an upsert replaces.
    design: Field,
    name: Field,
    function: Field,
    description: Field,
    keywords: Field,
    licenses: Field,
    authors: Field,
    readme: Field,
    /// Filters: each SPDX id, each keyword and each author id and name
    /// exactly (keywords and names lowercased).
    license_id: Field,
    keyword: Field,
    author: Field,
    /// 1 when the design has been made at least once, else 0.
    made: Field,
    makes: Field,
    held: Field,
    last_change: Field,
    /// The store's view of the design when it was indexed (`sync.rs`).
    stamp: Field,
    /// Shown in a hit: the licenses as the manifest writes them.
    license_text: Field,
    /// Shown in a hit: the first author's name, else their id.
    shown_author: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        design: b.add_text_field("design", STRING | STORED | FAST),
        name: b.add_text_field("name", text.clone() | STORED),
        function: b.add_text_field("function", text.clone()),
        description: b.add_text_field("description", text.clone()),
        keywords: b.add_text_field("keywords", text.clone()),
        licenses: b.add_text_field("licenses", text.clone()),
        authors: b.add_text_field("authors", text.clone()),
        readme: b.add_text_field("readme", text),
        license_id: b.add_text_field("license_id", STRING),
        keyword: b.add_text_field("keyword", STRING),
        author: b.add_text_field("author", STRING),
        made: b.add_u64_field("made", INDEXED),
        makes: b.add_u64_field("makes", STORED),
        held: b.add_bool_field("held", INDEXED | STORED | FAST),
        last_change: b.add_u64_field("last_change", FAST | STORED),
        stamp: b.add_u64_field("stamp", FAST),
        license_text: b.add_text_field("license_text", STORED),
        shown_author: b.add_text_field("shown_author", STORED),
    };
    (b.build(), fields)
}

/// A full-text index of designs in a folder of its own.
pub struct SearchIndex {
    reader: IndexReader,
    writer: IndexWriter,
    fields: Fields,
    parser: QueryParser,
    /// Changes not yet committed.
    dirty: bool,
}

impl SearchIndex {
    /// Opens the index kept under `dir` (creating it if missing). An
    /// index of another schema version, or one that does not open, is
    /// deleted and created empty: [`SearchIndex::rebuilt`] says so, and
    /// the caller fills it again.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        Self::open_with_threads(dir, 1)
    }

    /// [`SearchIndex::open`] with several indexing threads, to fill a new
    /// index quickly (benchmarks).
    pub fn open_with_threads(dir: &Path, threads: usize) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
        let folder = dir.join(format!("index-v{SCHEMA_VERSION}"));
        // Folders of other versions: derived data nothing reads any more.
        for entry in std::fs::read_dir(dir).map_err(|e| SearchError::io(dir, e))? {
            let path = entry.map_err(|e| SearchError::io(dir, e))?.path();
            if path != folder {
                remove(&path)?;
            }
        }
        match Self::open_folder(&folder, threads) {
            Ok(index) => Ok(index),
            Err(e) => {
                tracing::warn!("search index {} is damaged ({e}): rebuilding it", folder.display());
                remove(&folder)?;
                Self::open_folder(&folder, threads)
            }
        }
    }

    /// An index in memory, for tests and benchmarks.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, _) = schema();
        Self::with_index(Index::create_in_ram(schema), 1)
    }

    fn open_folder(folder: &Path, threads: usize) -> Result<SearchIndex, SearchError> {
        let (schema, _) = schema();
        let index = if folder.join("meta.json").exists() {
            let index = Index::open_in_dir(folder)?;
            if index.schema() != schema {
                return Err(SearchError::Damaged("its schema is not this version's".to_owned()));
            }
            index
        } else {
            std::fs::create_dir_all(folder).map_err(|e| SearchError::io(folder, e))?;
            Index::create_in_dir(folder, schema)?
        };
        Self::with_index(index, threads.max(1))
    }

    fn with_index(index: Index, threads: usize) -> Result<SearchIndex, SearchError> {
        let (_, fields) = schema();
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let writer = index.writer_with_num_threads(threads, WRITER_MEMORY_BYTES * threads)?;
        let text_fields = BOOSTS.iter().map(|(name, _)| index.schema().get_field(name)).collect::<Result<_, _>>()?;
        let mut parser = QueryParser::for_index(&index, text_fields);
        for (name, boost) in BOOSTS {
            parser.set_field_boost(index.schema().get_field(name)?, *boost);
        }
        Ok(SearchIndex { reader, writer, fields, parser, dirty: false })
    }

    /// Adds a design's document, replacing the one it had. `stamp` is
    /// what the caller compares later to know whether it is stale.
    pub fn upsert(&mut self, doc: &SearchDoc, stamp: u64) -> Result<(), SearchError> {
        let f = self.fields;
        let design = doc.design.to_string();
        self.writer.delete_term(Term::from_field_text(f.design, &design));
        let mut d = TantivyDocument::default();
        d.add_text(f.design, &design);
        d.add_text(f.name, &doc.name);
        d.add_text(f.function, &doc.function);
        d.add_text(f.description, &doc.description);
        for keyword in &doc.keywords {
            d.add_text(f.keywords, keyword);
            d.add_text(f.keyword, keyword.to_lowercase());
        }
        for license in &doc.licenses {
            d.add_text(f.licenses, license);
            d.add_text(f.license_text, license);
            for id in license_ids(license) {
                d.add_text(f.license_id, id);
            }
        }
        for (author, name) in &doc.authors {
            d.add_text(f.author, author.to_string());
            if let Some(name) = name {
                d.add_text(f.authors, name);
                d.add_text(f.author, name.to_lowercase());
            }
        }
        if let Some((author, name)) = doc.authors.first() {
            d.add_text(f.shown_author, name.clone().unwrap_or_else(|| author.to_string()));
        }
        d.add_text(f.readme, &doc.readme);
        d.add_u64(f.made, u64::from(doc.makes > 0));
        d.add_u64(f.makes, doc.makes);
        d.add_bool(f.held, doc.held);
        d.add_u64(f.last_change, doc.last_change_ms);
        d.add_u64(f.stamp, stamp);
        self.writer.add_document(d)?;
        self.dirty = true;
        Ok(())
    }

    /// Takes a design out of the index.
    pub fn remove(&mut self, design: &DesignId) {
        self.writer.delete_term(Term::from_field_text(self.fields.design, &design.to_string()));
        self.dirty = true;
    }

    /// Takes every document out.
    pub fn clear(&mut self) -> Result<(), SearchError> {
        self.writer.delete_all_documents()?;
        self.dirty = true;
        Ok(())
    }

    /// Makes the changes durable and visible to the next search.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        if self.dirty {
            self.writer.commit()?;
            self.reader.reload()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Every design in the index with its stamp and whether it is held,
    /// read from the index's columns (not its stored documents).
    pub fn stamps(&self) -> Result<HashMap<DesignId, (u64, bool)>, SearchError> {
        let damaged = |what: &str| SearchError::Damaged(what.to_owned());
        let searcher = self.reader.searcher();
        let mut stamps = HashMap::new();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let designs = fast.str("design")?.ok_or_else(|| damaged("no column of designs"))?;
            let stamp = fast.u64("stamp")?;
            let held = fast.bool("held")?;
            // The segment's designs in the order of their ordinals.
            let mut by_ord: Vec<Option<DesignId>> = Vec::with_capacity(designs.num_terms());
            let mut terms = designs.dictionary().stream().map_err(|e| SearchError::Damaged(e.to_string()))?;
            while terms.advance() {
                by_ord.push(std::str::from_utf8(terms.key()).ok().and_then(|s| s.parse().ok()));
            }
            for doc in segment.doc_ids_alive() {
                let design = designs
                    .ords()
                    .first(doc)
                    .and_then(|ord| by_ord.get(ord as usize).copied().flatten())
                    .ok_or_else(|| damaged("a document without its design"))?;
                let stamp = stamp.first(doc).ok_or_else(|| damaged("a document without its stamp"))?;
                stamps.insert(design, (stamp, held.first(doc).unwrap_or(false)));
            }
        }
        Ok(stamps)
    }

    /// How many designs the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The best designs for `query`, best first (at most its limit).
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text = query.text.trim();
        if !text.is_empty() {
            // Plain words: what a person types (a colon, a stray quote, a
            // leading minus) is searched for as words, never refused nor
            // read as query syntax.
            let words: String = text.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
            let (parsed, _errors) = self.parser.parse_query_lenient(&words);
            clauses.push((Occur::Must, parsed));
        }
        let exact = |field: Field, value: &str| -> Box<dyn Query> {
            let term = TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic);
            Box::new(ConstScoreQuery::new(Box::new(term), 0.0))
        };
        if let Some(license) = &query.license {
            clauses.push((Occur::Must, exact(f.license_id, license.trim())));
        }
        if let Some(keyword) = &query.keyword {
            clauses.push((Occur::Must, exact(f.keyword, &keyword.trim().to_lowercase())));
        }
        if let Some(author) = &query.author {
            let author = author.trim();
            let value = match author.parse::<communs_protocol::AuthorId>() {
                Ok(id) => id.to_string(),
                Err(_) => author.to_lowercase(),
            };
            clauses.push((Occur::Must, exact(f.author, &value)));
        }
        if let Some(held) = query.held {
            let term = TermQuery::new(Term::from_field_bool(f.held, held), IndexRecordOption::Basic);
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(term), 0.0))));
        }
        if query.made {
            let term = TermQuery::new(Term::from_field_u64(f.made, 1), IndexRecordOption::Basic);
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(term), 0.0))));
        }
        let limit = query.limit.max(1);
        let searcher = self.reader.searcher();
        let addresses: Vec<(f32, DocAddress)> = if text.is_empty() {
            // No words to rank by: the most recently changed first.
            let all: Box<dyn Query> =
                if clauses.is_empty() { Box::new(AllQuery) } else { Box::new(BooleanQuery::new(clauses)) };
            let by_change = TopDocs::with_limit(limit).order_by_u64_field("last_change", Order::Desc);
            searcher.search(&*all, &by_change)?.into_iter().map(|(_, address)| (0.0, address)).collect()
        } else {
            let query = BooleanQuery::new(clauses);
            searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let design = doc
                .get_first(f.design)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| SearchError::Damaged("a document without its design".to_owned()))?;
            hits.push(Hit {
                design,
                name: doc.get_first(f.name).and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                licenses: doc.get_all(f.license_text).filter_map(|v| v.as_str()).map(str::to_owned).collect(),
                score,
                held: doc.get_first(f.held).and_then(|v| v.as_bool()).unwrap_or(false),
                makes: doc.get_first(f.makes).and_then(|v| v.as_u64()).unwrap_or(0),
                author: doc.get_first(f.shown_author).and_then(|v| v.as_str()).map(str::to_owned),
                last_change_ms: doc.get_first(f.last_change).and_then(|v| v.as_u64()).unwrap_or(0),
            });
        }
        Ok(hits)
    }

    /// The folder an index of this version lives in, under `dir`.
    pub fn folder(dir: &Path) -> PathBuf {
        dir.join(format!("index-v{SCHEMA_VERSION}"))
    }
}

fn remove(path: &Path) -> Result<(), SearchError> {
    let result = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SearchError::io(path, e)),
        _ => Ok(()),
    }
}

/// The SPDX license ids an expression names: `CERN-OHL-S-2.0 OR MIT` gives
/// both, `GPL-2.0-or-later WITH Linux-syscall-note` the license only, and
/// `Apache-2.0+` `Apache-2.0`.
pub fn license_ids(expression: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after_with = false;
    for word in expression.split(|c: char| c.is_whitespace() || c == '(' || c == ')').filter(|w| !w.is_empty()) {
        match word {
            "AND" | "OR" | "and" | "or" => after_with = false,
            "WITH" | "with" => after_with = true,
            id if !after_with => {
                let id = id.trim_end_matches('+').to_owned();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => after_with = false,
        }
    }
    ids
}
