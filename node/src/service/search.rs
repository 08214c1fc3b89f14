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
    /// Only designs this node holds (`true`) or only those heard of
    /// (`false`).
    #[serde(default)]
    pub held: Option<bool>,
    /// At most this many hits (default 20, at most 1000).
    #[serde(default = "search_page")]
    pub limit: usize,
    /// Ask the connected peers too (spec/search.md); needs a running node.
    #[serde(default)]
    pub network: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// With `network`: the peers asked, and those that gave no answer,
    /// with why.
    #[serde(default)]
    pub peers_asked: usize,
    #[serde(default)]
    pub failures: Vec<crate::net::PeerFailure>,
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
    /// Make reports this node knows of (with `network`, the most any
    /// answer gave).
    pub makes: u64,
    /// Its first maintainer's shown name, else their id (absent from
    /// peers' answers).
    #[serde(default)]
    pub author: Option<String>,
    /// When its revision was signed, ms since the Unix epoch (as its
    /// author's clock said; 0 in peers' answers).
    #[serde(default)]
    pub last_change_ms: u64,
    /// With `network`: the peers whose answer listed it.
    #[serde(default)]
    pub found_on: Vec<String>,
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
            held: request.held,
            limit: request.limit.clamp(1, MAX_SEARCH_LIMIT),
        };
        let hits: Vec<SearchHit> = self
            .node
            .search(&query)
            .await?
            .into_iter()
            .map(|h| SearchHit {
                design: h.design,
                name: h.name,
                licenses: h.licenses,
                score: h.score,
                held: h.held,
                makes: h.makes,
                author: h.author,
                last_change_ms: h.last_change_ms,
                found_on: Vec::new(),
            })
            .collect();
        if !request.network {
            return Ok(SearchResults { hits, peers_asked: 0, failures: Vec::new() });
        }
        let asked = communs_protocol::search::Query {
            text: request.q.chars().take(communs_protocol::limits::MAX_SEARCH_TEXT_BYTES / 4).collect(),
            license: query.license.clone(),
            keyword: query.keyword.clone(),
            author: query.author.clone(),
            made: query.made,
            limit: query.limit.min(communs_protocol::limits::MAX_SEARCH_RESULTS) as u64,
        };
        let answers = self.net()?.search_peers(asked).await?;
        Ok(merge(hits, answers, query.limit))
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

/// This node's hits and its peers' answers as one list (spec/search.md,
/// "Merging"): each design once, at the best rank any answer gave it
/// (this node's first at equal rank), held if any answer held it, with
/// the peers that listed it.
fn merge(own: Vec<SearchHit>, answers: Vec<crate::net::PeerAnswer>, limit: usize) -> SearchResults {
    let mut ranked: Vec<(usize, usize, SearchHit)> = Vec::new();
    let mut at: std::collections::HashMap<DesignId, usize> = std::collections::HashMap::new();
    let mut failures = Vec::new();
    let peers_asked = answers.len();
    let lists = std::iter::once((None, Ok(own.into_iter().map(Ok).collect::<Vec<_>>()))).chain(
        answers.into_iter().map(|a| (Some(a.peer), a.answer.map(|hits| hits.into_iter().map(Err).collect::<Vec<_>>()))),
    );
    for (order, (peer, list)) in lists.enumerate() {
        let list = match list {
            Ok(list) => list,
            Err(reason) => {
                if let Some(peer) = peer {
                    failures.push(crate::net::PeerFailure { peer_id: peer.to_string(), reason });
                }
                continue;
            }
        };
        for (rank, hit) in list.into_iter().enumerate() {
            let hit = match hit {
                Ok(own) => own,
                Err(theirs) => SearchHit {
                    design: theirs.design,
                    name: theirs.name,
                    licenses: vec![theirs.license],
                    score: theirs.score_milli as f32 / 1000.0,
                    held: false,
                    makes: theirs.makes,
                    author: None,
                    last_change_ms: 0,
                    found_on: Vec::new(),
                },
            };
            let holder = peer.map(|p| p.to_string());
            match at.get(&hit.design) {
                Some(&i) => {
                    let (best_rank, best_order, known) = &mut ranked[i];
                    if (rank, order) < (*best_rank, *best_order) {
                        (*best_rank, *best_order) = (rank, order);
                    }
                    known.makes = known.makes.max(hit.makes);
                    known.found_on.extend(holder);
                }
                None => {
                    at.insert(hit.design, ranked.len());
                    let mut hit = hit;
                    hit.found_on.extend(holder);
                    ranked.push((rank, order, hit));
                }
            }
        }
    }
    ranked.sort_by_key(|(rank, order, _)| (*rank, *order));
    let hits = ranked.into_iter().take(limit).map(|(_, _, hit)| hit).collect();
    SearchResults { hits, peers_asked, failures }
}

#[cfg(test)]
mod tests {
    use communs_protocol::Hash;
    use communs_protocol::search::Hit;

    use super::*;
    use crate::net::PeerAnswer;

    fn design(n: u8) -> DesignId {
        DesignId::from_hash(Hash::from_bytes([n; 32]))
    }

    fn theirs(n: u8) -> Hit {
        Hit { design: design(n), name: format!("d{n}"), license: "MIT".into(), score_milli: 1500, makes: 2, held: true }
    }

    #[test]
    fn answers_merge_by_design_at_their_best_rank_with_who_listed_each() {
        let own = vec![SearchHit {
            design: design(1),
            name: "d1".into(),
            licenses: vec!["MIT".into()],
            score: 3.0,
            held: true,
            makes: 0,
            author: None,
            last_change_ms: 0,
            found_on: vec![],
        }];
        let (a, b, c) = (libp2p::PeerId::random(), libp2p::PeerId::random(), libp2p::PeerId::random());
        let answers = vec![
            PeerAnswer { peer: a, answer: Ok(vec![theirs(2), theirs(1)]) },
            PeerAnswer { peer: b, answer: Ok(vec![theirs(3), theirs(2)]) },
            PeerAnswer { peer: c, answer: Err("no answer in time".into()) },
        ];
        let merged = merge(own, answers, 10);
        let order: Vec<DesignId> = merged.hits.iter().map(|h| h.design).collect();
        assert_eq!(order, [design(1), design(2), design(3)], "own first at rank 0, then a's, then b's");
        assert_eq!(merged.hits[0].found_on, [a.to_string()]);
        assert_eq!(merged.hits[0].makes, 2, "the most any answer gave");
        assert!(merged.hits[0].held);
        assert_eq!(merged.hits[1].found_on, [a.to_string(), b.to_string()]);
        assert!(!merged.hits[1].held, "held by a peer, not here");
        assert_eq!((merged.peers_asked, merged.failures.len()), (3, 1));
        assert_eq!(merge(vec![], vec![], 10).hits.len(), 0);
    }
}
