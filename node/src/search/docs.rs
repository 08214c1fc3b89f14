//! The document of a held design, built from the store: its canonical
//! revision's manifest (the genesis' name and license while it has none),
//! its maintainers and that revision's author, and its README.

use communs_protocol::{AuthorId, DesignId, Manifest};

use super::SearchDoc;
use crate::store::views::DesignRow;
use crate::{Node, NodeError};

/// A README longer than this is not indexed: a design's README is a page
/// or two, and neither memory nor the index may grow with a file someone
/// named README.
pub const MAX_INDEXED_README_BYTES: u64 = 64 * 1024;

/// A design's document, and whether it is complete: `false` when its
/// revision's tree or README is not in the store yet (its events came
/// from a peer before its files), to be built again later.
pub(super) struct Built {
    pub doc: SearchDoc,
    pub complete: bool,
}

impl Node {
    /// The search document of a design of the store, from its view row.
    pub(super) async fn search_doc(&self, row: &DesignRow) -> Result<Built, NodeError> {
        let design = row.design;
        let resolution = self.governance_of(&design)?;
        let genesis = self.genesis_of(&design)?;
        let mut authors: Vec<AuthorId> = resolution.maintainers.clone();
        let (manifest, readme, complete, last_change_ms) = match row.canonical {
            Some(canonical) => {
                let (event, revision) = self.revision_of(&design, &canonical)?;
                if !authors.contains(&event.author()) {
                    authors.push(event.author());
                }
                let (readme, complete) = match self.readme_text(&revision.manifest, &revision.tree).await {
                    Ok(readme) => (readme, true),
                    Err(e) => {
                        tracing::debug!("indexing {design} without its README for now: {e}");
                        (String::new(), false)
                    }
                };
                (revision.manifest, readme, complete, event.event().time)
            }
            None => {
                let genesis_time = self.events.get(&design.genesis())?.map(|e| e.event().time).unwrap_or_default();
                let manifest =
                    Manifest::minimal(&genesis.name, communs_protocol::manifest::License::all(&genesis.license));
                (manifest, String::new(), true, genesis_time)
            }
        };
        let mut licenses: Vec<String> = Vec::new();
        for license in [&manifest.license.hardware, &manifest.license.documentation, &manifest.license.software]
            .into_iter()
            .flatten()
        {
            if !licenses.contains(license) {
                licenses.push(license.clone());
            }
        }
        let doc = SearchDoc {
            design,
            name: manifest.name.clone(),
            function: manifest.function.clone().unwrap_or_default(),
            description: String::new(),
            keywords: manifest.keywords.clone(),
            licenses,
            authors: authors.into_iter().map(|a| (a, self.author_name(&a).ok().flatten())).collect(),
            readme,
            makes: self.events.makes(&design)?.iter().map(|(_, counts)| counts.total()).sum(),
            held: true,
            last_change_ms,
        };
        Ok(Built { doc, complete })
    }

    /// The text of a revision's README: the first file the manifest names
    /// as `readme`, else `README.md` (any case) at the root of its tree.
    /// Empty when it has none, or one over [`MAX_INDEXED_README_BYTES`].
    async fn readme_text(&self, manifest: &Manifest, tree: &communs_protocol::BlobHash) -> Result<String, NodeError> {
        let tree = self.read_tree_blob(tree).await?;
        let named = manifest.readme.iter().find(|r| !r.starts_with("https://") && !r.starts_with("http://"));
        let entry = match named {
            Some(path) => tree.entries().iter().find(|e| e.path.as_str() == path),
            None => None,
        }
        .or_else(|| tree.entries().iter().find(|e| e.path.as_str().eq_ignore_ascii_case("readme.md")));
        let Some(entry) = entry else { return Ok(String::new()) };
        if entry.size > MAX_INDEXED_README_BYTES {
            return Ok(String::new());
        }
        let bytes = self.blobs.read(&entry.blob, entry.size).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The search document of a design heard of: its announcement's
    /// genesis and revision (no README: files are never sent unasked).
    pub(super) fn heard_of_doc(&self, entry: &crate::store::catalog::CatalogEntry) -> SearchDoc {
        let announcement = &entry.announcement;
        let (genesis_name, genesis_license, mut authors) = match announcement.genesis().body() {
            communs_protocol::Body::Genesis(g) => (g.name.clone(), g.license.clone(), g.maintainers.clone()),
            _ => (String::new(), String::new(), Vec::new()),
        };
        let revision = announcement.revision();
        let manifest = match revision.map(|r| r.body()) {
            Some(communs_protocol::Body::Revision(r)) => Some(&r.manifest),
            _ => None,
        };
        if let Some(author) = revision.map(|r| r.author())
            && !authors.contains(&author)
        {
            authors.push(author);
        }
        let mut licenses = Vec::new();
        if let Some(m) = manifest {
            for license in [&m.license.hardware, &m.license.documentation, &m.license.software].into_iter().flatten() {
                if !licenses.contains(license) {
                    licenses.push(license.clone());
                }
            }
        }
        if licenses.is_empty() {
            licenses.push(genesis_license);
        }
        SearchDoc {
            design: announcement.design(),
            name: manifest.map_or(genesis_name, |m| m.name.clone()),
            function: manifest.and_then(|m| m.function.clone()).unwrap_or_default(),
            description: String::new(),
            keywords: manifest.map(|m| m.keywords.clone()).unwrap_or_default(),
            licenses,
            authors: authors.into_iter().map(|a| (a, self.author_name(&a).ok().flatten())).collect(),
            readme: String::new(),
            makes: 0,
            held: false,
            last_change_ms: revision.unwrap_or(announcement.genesis()).event().time,
        }
    }

    /// A held design's name (its canonical revision's, else its genesis'),
    /// from its view row.
    pub(crate) fn design_name(&self, design: &DesignId) -> Result<Option<String>, NodeError> {
        Ok(self.events.design_row(design)?.map(|row| row.name))
    }
}
