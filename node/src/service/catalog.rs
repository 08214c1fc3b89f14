//! The catalog: the designs this node has heard of, kept or not, with who
//! holds each (spec/catalog.md). Read from the store: it answers offline
//! as well as on a running node.

use communs_protocol::catalog::Announcement;
use communs_protocol::{AuthorId, Body, DesignId, EventId, Manifest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{PAGE, Service, ServiceError};

/// A page of the catalog, in name order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogRequest {
    /// At most this many designs (default 100).
    #[serde(default = "page")]
    pub limit: usize,
    /// Start after this design (the last of the previous page).
    #[serde(default)]
    #[param(value_type = Option<String>)]
    #[schema(value_type = Option<String>)]
    pub after: Option<DesignId>,
}

fn page() -> usize {
    PAGE
}

impl Default for CatalogRequest {
    fn default() -> Self {
        CatalogRequest { limit: PAGE, after: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogPage {
    pub designs: Vec<CatalogDesign>,
    /// More designs follow the last of this page.
    pub more: bool,
    /// Designs in the catalog, kept ones included.
    pub total: usize,
}

/// One design of the catalog, as its announcement says (a hint: verified
/// in full only once followed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogDesign {
    #[schema(value_type = String)]
    pub design: DesignId,
    /// The announced revision's manifest name, else the genesis name.
    pub name: String,
    /// The genesis license (SPDX).
    pub license: String,
    /// The revision announced: for a design this node keeps, its
    /// canonical revision; else the one a maintainer named in the genesis
    /// authored or approved.
    #[schema(value_type = Option<String>)]
    pub revision: Option<EventId>,
    /// Whether this node keeps the design.
    pub kept: bool,
    /// Peers said to hold the design (peer ids), the most recently heard
    /// first.
    pub holders: Vec<CatalogHolder>,
    /// When an announcement of it was last heard (ms since the epoch).
    pub heard_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogHolder {
    pub peer_id: String,
    /// When it was last heard to hold the design (ms since the epoch).
    pub heard_ms: u64,
}

/// The fields of a catalog design a search index reads: its manifest's
/// when a revision is announced.
#[derive(Debug, Clone)]
pub struct CatalogManifest {
    pub design: DesignId,
    pub revision: Option<EventId>,
    pub kept: bool,
    /// The genesis name, when no revision is announced.
    pub name: String,
    pub license: String,
    /// The genesis maintainers.
    pub maintainers: Vec<AuthorId>,
    /// The announced revision's manifest (name, function, keywords,
    /// licensors, license…).
    pub manifest: Option<Manifest>,
}

fn name_and_license(announcement: &Announcement) -> (String, String, Vec<AuthorId>) {
    let (mut name, license, maintainers) = match announcement.genesis().body() {
        Body::Genesis(g) => (g.name.clone(), g.license.clone(), g.maintainers.clone()),
        _ => (String::new(), String::new(), Vec::new()),
    };
    if let Some(Body::Revision(r)) = announcement.revision().map(|r| r.body()) {
        name = r.manifest.name.clone();
    }
    (name, license, maintainers)
}

fn peer_id(author: &AuthorId) -> String {
    crate::net::peer_of(author).map_or_else(|| author.to_string(), |p| p.to_string())
}

impl Service {
    /// A page of the catalog, in name order (case aside), then design id.
    pub fn catalog(&self, request: &CatalogRequest) -> Result<CatalogPage, ServiceError> {
        let mut designs: Vec<CatalogDesign> =
            self.node.catalog_entries()?.into_iter().map(|entry| self.catalog_design(&entry)).collect();
        designs.sort_by_cached_key(|d| (d.name.to_lowercase(), d.design));
        let total = designs.len();
        let start = match request.after {
            Some(after) => designs.iter().position(|d| d.design == after).map_or(0, |i| i + 1),
            None => 0,
        };
        let mut designs: Vec<CatalogDesign> = designs.into_iter().skip(start).take(request.limit + 1).collect();
        let more = designs.len() > request.limit;
        designs.truncate(request.limit);
        Ok(CatalogPage { designs, more, total })
    }

    /// The catalog's entry of `design`, if it has one.
    pub fn catalog_entry(&self, design: &DesignId) -> Result<Option<CatalogDesign>, ServiceError> {
        Ok(self.node.catalog_entry(design)?.map(|entry| self.catalog_design(&entry)))
    }

    fn catalog_design(&self, entry: &crate::store::catalog::CatalogEntry) -> CatalogDesign {
        let (name, license, _) = name_and_license(&entry.announcement);
        let mut holders: Vec<CatalogHolder> = Vec::new();
        if entry.kept {
            holders.push(CatalogHolder { peer_id: peer_id(&self.node.author()), heard_ms: entry.heard_ms });
        }
        holders.extend(
            entry
                .holders
                .iter()
                .filter(|(k, _)| *k != self.node.author())
                .map(|(k, at)| CatalogHolder { peer_id: peer_id(k), heard_ms: *at }),
        );
        CatalogDesign {
            design: entry.announcement.design(),
            name,
            license,
            revision: entry.announcement.revision().map(|r| r.id()),
            kept: entry.kept,
            holders,
            heard_ms: entry.heard_ms,
        }
    }

    /// Every catalog design with the fields a search index reads (the hook
    /// of full-text search: a design heard of is found before it is
    /// followed).
    pub fn catalog_manifests(&self) -> Result<Vec<CatalogManifest>, ServiceError> {
        Ok(self
            .node
            .catalog_entries()?
            .into_iter()
            .map(|entry| {
                let (name, license, maintainers) = name_and_license(&entry.announcement);
                let manifest = match entry.announcement.revision().map(|r| r.body()) {
                    Some(Body::Revision(r)) => Some(r.manifest.clone()),
                    _ => None,
                };
                CatalogManifest {
                    design: entry.announcement.design(),
                    revision: entry.announcement.revision().map(|r| r.id()),
                    kept: entry.kept,
                    name,
                    license,
                    maintainers,
                    manifest,
                }
            })
            .collect())
    }
}
