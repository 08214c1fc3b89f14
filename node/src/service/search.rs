//! Search, and the designs' manifests as Open Know-How files for other
//! OKH tools.

use communs_protocol::manifest::DerivativeOf;
use communs_protocol::{DesignId, EventId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Service, ServiceError};
use crate::search::{SearchError, SearchQuery};

/// Hits `search` returns when not told how many.
pub const SEARCH_PAGE: usize = 20;

/// The most hits one search returns.
pub const MAX_SEARCH_LIMIT: usize = 1000;

fn search_page() -> usize {
    SEARCH_PAGE
}

/// Designs matching words and filters, best first (spec/api.md,
/// "Search").
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchRequest {
    /// The words (may be empty: then every design that passes the
    /// filters, most recently changed first).
    #[serde(default)]
    pub q: String,
    /// Only designs whose license expressions name this SPDX id.
    #[serde(default)]
    pub license: Option<String>,
    /// Only designs with this keyword (case aside).
    #[serde(default)]
    pub keyword: Option<String>,
    /// Only designs with this maintainer or revision author: an author id
    /// (`author1…`) or a display name (case aside).
    #[serde(default)]
    pub author: Option<String>,
    /// Only designs made at least once.
    #[serde(default)]
    pub made: bool,
    /// At most this many hits (default 20, at most 1000).
    #[serde(default = "search_page")]
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    /// Best first.
    pub hits: Vec<SearchHit>,
}

/// One design found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    #[schema(value_type = String)]
    pub design: DesignId,
    pub name: String,
    /// Its SPDX license expressions (hardware, documentation, software;
    /// each once).
    pub licenses: Vec<String>,
    /// How well it matches (BM25; 0 for a search without words).
    pub score: f32,
    /// In this node's store (else heard of from a peer).
    pub held: bool,
    /// Make reports this node knows of.
    pub makes: u64,
}

/// Which OKH file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OkhFormat {
    /// OKH-LOSH `okh.toml`.
    Toml,
    /// OKH v1 `okh.yml`.
    Yml,
}

impl OkhFormat {
    /// The file name OKH tools look for.
    pub fn file_name(self) -> &'static str {
        match self {
            OkhFormat::Toml => "okh.toml",
            OkhFormat::Yml => "okh.yml",
        }
    }
}

/// The designs' manifests, as the Open Know-How search tools harvest a
/// list of them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OkhList {
    /// One per design held with an accepted revision.
    pub manifests: Vec<OkhListEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OkhListEntry {
    #[schema(value_type = String)]
    pub design: DesignId,
    pub name: String,
    /// `okh.toml` (OKH-LOSH), served by this node.
    pub okh_toml: String,
    /// `okh.yml` (OKH v1), served by this node.
    pub okh_yml: String,
}

impl From<SearchError> for ServiceError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Node(e) => ServiceError::Node(e),
            other => ServiceError::Search(Box::new(other)),
        }
    }
}

impl Service {
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResults, ServiceError> {
        let nonempty = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let query = SearchQuery {
            text: request.q.clone(),
            license: nonempty(&request.license),
            keyword: nonempty(&request.keyword),
            author: nonempty(&request.author),
            made: request.made,
            limit: request.limit.clamp(1, MAX_SEARCH_LIMIT),
        };
        let hits = self.node.search(&query).await?;
        Ok(SearchResults {
            hits: hits
                .into_iter()
                .map(|h| SearchHit {
                    design: h.design,
                    name: h.name,
                    licenses: h.licenses,
                    score: h.score,
                    held: h.held,
                    makes: h.makes,
                })
                .collect(),
        })
    }

    /// A revision's manifest (default: the canonical head, or this node's
    /// pin) as an OKH file; a remix names its source as OKH v1
    /// `derivative-of`.
    pub async fn okh(
        &self,
        design: &DesignId,
        revision: Option<EventId>,
        format: OkhFormat,
    ) -> Result<String, ServiceError> {
        let id = match revision {
            Some(id) => id,
            None => {
                let canonical = self.node.governance_of(design)?.canonical;
                self.node.default_revision(design, canonical)?.ok_or(crate::NodeError::NoCanonical(*design))?
            }
        };
        let (_, body) = self.node.revision_of(design, &id)?;
        Ok(match format {
            OkhFormat::Toml => body.manifest.to_okh_toml(),
            OkhFormat::Yml => {
                let genesis = self.node.genesis_of(design)?;
                let source = match genesis.fork_of {
                    Some((source, revision)) => {
                        let name = self.node.design_name(&source)?;
                        let at = format!("{source}@{revision}");
                        Some(DerivativeOf {
                            title: Some(match name {
                                Some(name) => format!("{name} ({at})"),
                                None => at,
                            }),
                            ..Default::default()
                        })
                    }
                    None => None,
                };
                body.manifest.to_okh_v1_yaml(source.as_ref())
            }
        })
    }

    /// Every held design with an accepted revision, with the paths of its
    /// manifests under `base` (the API's own address).
    pub fn okh_list(&self, base: &str) -> Result<OkhList, ServiceError> {
        let rows = self.node.list(None, usize::MAX)?;
        let manifests = rows
            .into_iter()
            .filter(|row| row.canonical.is_some())
            .map(|row| OkhListEntry {
                okh_toml: format!("{base}/v1/designs/{}/okh.toml", row.design),
                okh_yml: format!("{base}/v1/designs/{}/okh.yml", row.design),
                design: row.design,
                name: row.name,
            })
            .collect();
        Ok(OkhList { manifests })
    }
}
