//! Designs: publish, list, show, log, get, fork.

use std::path::PathBuf;

use communs_protocol::governance::LossReason;
use communs_protocol::{AuthorId, Body, DesignId, EventId, Manifest, SignedEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::social::make_report_view;
use super::{
    AttachmentView, MakeReportView, MakeTally, PAGE, RevisionMakes, RevisionRef, Service, ServiceError, now_ms,
};
use crate::progress::{Both, Progress};

fn page() -> usize {
    PAGE
}

/// Publish a folder: a new design, or a new revision of the design it holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishRequest {
    /// The design folder, absolute (the node opens it; its okh.toml or
    /// okh.yml is the manifest).
    #[schema(value_type = String)]
    pub dir: PathBuf,
    /// What this revision changes.
    #[serde(default)]
    pub message: Option<String>,
    /// Add the revision to this design instead of the one the folder holds.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub design: Option<DesignId>,
    /// SPDX license, for a folder without okh.toml.
    #[serde(default)]
    pub license: Option<String>,
    /// Other maintainers of a new design (the publisher always is one).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub maintainers: Vec<AuthorId>,
    /// Approvals needed to accept a revision of a new design (default 1).
    #[serde(default)]
    pub threshold: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishResult {
    #[schema(value_type = String)]
    pub design: DesignId,
    #[schema(value_type = String)]
    pub revision: EventId,
    pub new_design: bool,
    /// Nothing changed since the revision the folder holds: no event made.
    pub unchanged: bool,
    pub files: usize,
    pub bytes: u64,
    /// Bytes read and hashed (files the file cache did not know).
    pub bytes_read: u64,
    pub warnings: Vec<String>,
    /// The folder's `.communs` marker records this revision, so that the
    /// next publish from it adds on top. False when the node could not
    /// write it (it reads the folder as its own user), with the reason in
    /// `marker_error`; the CLI then writes it itself.
    pub marked: bool,
    pub marker_error: Option<String>,
}

/// A page of designs, in name order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRequest {
    /// At most this many designs (default 100).
    #[serde(default = "page")]
    pub limit: usize,
    /// Start after this design (the last of the previous page).
    #[serde(default)]
    #[param(value_type = Option<String>)]
    #[schema(value_type = Option<String>)]
    pub after: Option<DesignId>,
}

impl Default for ListRequest {
    fn default() -> Self {
        ListRequest { limit: PAGE, after: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DesignPage {
    pub designs: Vec<DesignRow>,
    /// More designs follow the last of this page.
    pub more: bool,
}

/// One design as `list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DesignRow {
    #[schema(value_type = String)]
    pub design: DesignId,
    /// The canonical revision's name, else the genesis name.
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub canonical: Option<EventId>,
    pub revisions: usize,
    /// Events of every kind in its log.
    pub events: u64,
    pub fork_of: Option<RevisionRef>,
    /// Make reports of every revision.
    pub makes: MakeTally,
    /// Make reports of the canonical revision.
    pub canonical_makes: MakeTally,
}

/// Which revision of a design: its canonical head (or this node's pin)
/// when none is named.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionQuery {
    #[serde(default)]
    #[param(value_type = Option<String>)]
    #[schema(value_type = Option<String>)]
    pub revision: Option<EventId>,
}

/// A design at one revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DesignView {
    #[schema(value_type = String)]
    pub design: DesignId,
    #[schema(value_type = String)]
    pub revision: EventId,
    #[schema(value_type = Option<String>)]
    pub canonical: Option<EventId>,
    /// Heads that lost to the canonical one.
    #[schema(value_type = Vec<String>)]
    pub competing: Vec<EventId>,
    /// The same, with why each lost.
    pub competing_heads: Vec<CompetingHead>,
    pub is_canonical: bool,
    #[schema(value_type = String)]
    pub author: AuthorId,
    /// When the revision was signed, in ms since the Unix epoch (as its
    /// author's clock said: display only).
    pub time: u64,
    pub message: String,
    /// The design's license, from its genesis.
    pub license: String,
    #[schema(value_type = Vec<String>)]
    pub maintainers: Vec<AuthorId>,
    pub threshold: u64,
    pub fork_of: Option<RevisionRef>,
    pub manifest: ManifestView,
    pub files: Vec<FileRow>,
    pub total_bytes: u64,
    /// Make reports of this revision.
    pub makes: MakeTally,
    /// Make reports of each revision made at least once.
    pub revision_makes: Vec<RevisionMakes>,
    pub comments: usize,
    /// The names shown for the authors above, by author id.
    pub names: std::collections::BTreeMap<String, String>,
}

/// A head that did not win, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompetingHead {
    #[schema(value_type = String)]
    pub revision: EventId,
    pub approvals: usize,
    /// `fewer approvals`, `as many approvals, older` or `tie broken by id`.
    pub lost: String,
}

impl CompetingHead {
    pub(super) fn of(head: &communs_protocol::governance::CompetingHead) -> CompetingHead {
        let lost = match head.lost {
            LossReason::FewerApprovals => "fewer approvals",
            LossReason::LowerClock => "as many approvals, older",
            LossReason::HigherId => "tie broken by id",
        };
        CompetingHead { revision: head.revision, approvals: head.approvals, lost: lost.to_owned() }
    }
}

/// A revision's manifest (spec/manifest.md).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestView {
    pub name: String,
    pub version: Option<String>,
    pub function: Option<String>,
    pub license: ManifestLicense,
    pub licensor: Vec<String>,
    pub keywords: Vec<String>,
    pub image: Vec<String>,
    #[serde(rename = "documentation-language")]
    pub documentation_language: Vec<String>,
    #[serde(rename = "fork-of")]
    pub fork_of: Option<String>,
    pub organizations: Vec<String>,
    /// Paths of the README files, the bill of materials, the
    /// manufacturing instructions and the user manual, in the tree.
    pub readme: Vec<String>,
    pub bom: Vec<String>,
    #[serde(rename = "manufacturing-instructions")]
    pub manufacturing_instructions: Vec<String>,
    #[serde(rename = "user-manual")]
    pub user_manual: Vec<String>,
    /// OKH technology readiness level (`OTRL-1` … `OTRL-6`).
    #[serde(rename = "technology-readiness-level")]
    pub technology_readiness_level: Option<String>,
    /// OKH documentation readiness level (`ODRL-1` … `ODRL-4`).
    #[serde(rename = "documentation-readiness-level")]
    pub documentation_readiness_level: Option<String>,
    /// The manifest as OKH-LOSH `okh.toml`.
    pub okh_toml: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestLicense {
    pub hardware: Option<String>,
    pub documentation: Option<String>,
    pub software: Option<String>,
}

impl ManifestLicense {
    /// The expression that covers every kind of work, if there is one.
    pub fn as_single(&self) -> Option<&str> {
        match (&self.hardware, &self.documentation, &self.software) {
            (Some(h), Some(d), Some(s)) if h == d && d == s => Some(h),
            _ => None,
        }
    }
}

impl ManifestView {
    fn of(m: &Manifest) -> ManifestView {
        ManifestView {
            name: m.name.clone(),
            version: m.version.clone(),
            function: m.function.clone(),
            license: ManifestLicense {
                hardware: m.license.hardware.clone(),
                documentation: m.license.documentation.clone(),
                software: m.license.software.clone(),
            },
            licensor: m.licensors.clone(),
            keywords: m.keywords.clone(),
            image: m.images.clone(),
            documentation_language: m.documentation_languages.clone(),
            fork_of: m.fork_of.clone(),
            organizations: m.organizations.clone(),
            readme: m.readme.clone(),
            bom: m.bom.clone(),
            manufacturing_instructions: m.manufacturing_instructions.clone(),
            user_manual: m.user_manual.clone(),
            technology_readiness_level: m.technology_readiness_level.map(|l| l.id().to_owned()),
            documentation_readiness_level: m.documentation_readiness_level.map(|l| l.id().to_owned()),
            okh_toml: m.to_okh_toml(),
        }
    }
}

/// A file of a revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileRow {
    pub path: String,
    pub size: u64,
    #[schema(value_type = String)]
    pub blob: communs_protocol::BlobHash,
    pub executable: bool,
}

/// A page of a design's events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogRequest {
    /// At most this many events (default 100).
    #[serde(default = "page")]
    pub limit: usize,
    /// Start after this event (the last of the previous page).
    #[serde(default)]
    #[param(value_type = Option<String>)]
    #[schema(value_type = Option<String>)]
    pub before: Option<EventId>,
}

impl Default for LogRequest {
    fn default() -> Self {
        LogRequest { limit: PAGE, before: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Older events follow the last of this page.
    pub more: bool,
    /// The names shown for the authors of these events, by author id.
    pub names: std::collections::BTreeMap<String, String>,
}

/// A signed event of a design's log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub author: AuthorId,
    pub clock: u64,
    pub time: u64,
    #[schema(value_type = Vec<String>)]
    pub parents: Vec<EventId>,
    pub body: EventBody,
}

/// What an event says.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventBody {
    Genesis {
        name: String,
        #[schema(value_type = Vec<String>)]
        maintainers: Vec<AuthorId>,
        threshold: u64,
        license: String,
        fork_of: Option<RevisionRef>,
    },
    Revision {
        #[schema(value_type = String)]
        tree: communs_protocol::BlobHash,
        name: String,
        #[schema(value_type = Vec<String>)]
        base: Vec<EventId>,
        message: String,
    },
    Approve {
        #[schema(value_type = String)]
        target: EventId,
    },
    Retract {
        #[schema(value_type = String)]
        target: EventId,
    },
    Propose {
        #[schema(value_type = String)]
        prev: EventId,
        /// The change, in words: `add maintainer author1…`,
        /// `remove maintainer author1…`, `set threshold to 2`.
        change: String,
    },
    Comment {
        #[schema(value_type = Option<String>)]
        on: Option<EventId>,
        text: String,
        attachments: Vec<AttachmentView>,
    },
    MakeReport(MakeReportView),
}

impl EventView {
    /// `None` for a profile, which belongs to no design's log.
    pub(super) fn of(e: &SignedEvent) -> Option<EventView> {
        let body = match e.body() {
            Body::Genesis(g) => EventBody::Genesis {
                name: g.name.clone(),
                maintainers: g.maintainers.clone(),
                threshold: g.threshold,
                license: g.license.clone(),
                fork_of: g.fork_of.map(RevisionRef::from),
            },
            Body::Revision(r) => EventBody::Revision {
                tree: r.tree,
                name: r.manifest.name.clone(),
                base: r.base.clone(),
                message: r.message.clone(),
            },
            Body::Approve { target } => EventBody::Approve { target: *target },
            Body::Retract { target } => EventBody::Retract { target: *target },
            Body::Propose { prev, change } => EventBody::Propose { prev: *prev, change: super::change_text(change) },
            Body::Comment(c) => EventBody::Comment {
                on: c.on,
                text: c.text.clone(),
                attachments: c.attachments.iter().map(AttachmentView::of).collect(),
            },
            Body::MakeReport(_) => EventBody::MakeReport(make_report_view(e)?),
            Body::Profile(_) => return None,
        };
        Some(EventView {
            id: e.id(),
            author: e.author(),
            clock: e.clock(),
            time: e.event().time,
            parents: e.parents().to_vec(),
            body,
        })
    }
}

/// Write a design's files into a folder on the node's machine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GetRequest {
    /// The revision (default: the canonical head, or this node's pin).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub revision: Option<EventId>,
    /// The folder, absolute.
    #[schema(value_type = String)]
    pub dir: PathBuf,
    /// Write into a folder that is not empty.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GetResult {
    #[schema(value_type = String)]
    pub design: DesignId,
    #[schema(value_type = String)]
    pub revision: EventId,
    pub dir: String,
    pub files: usize,
    pub bytes: u64,
}

/// Remix a design: a new design of this node's author whose genesis
/// names its source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ForkRequest {
    /// The source revision (default: its canonical head).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub revision: Option<EventId>,
    /// Name of the remix (default: the source's name).
    #[serde(default)]
    pub name: Option<String>,
    /// Another license (refused if the source's is share-alike).
    #[serde(default)]
    pub license: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForkResult {
    #[schema(value_type = String)]
    pub design: DesignId,
    #[schema(value_type = String)]
    pub revision: EventId,
    pub fork_of: RevisionRef,
    pub license: String,
}

impl Service {
    pub async fn publish(
        &self,
        request: PublishRequest,
        progress: &dyn Progress,
    ) -> Result<PublishResult, ServiceError> {
        let PublishRequest { dir, message, design, license, maintainers, threshold } = request;
        let activity = self.node.activities.begin("publish", dir.display().to_string());
        let progress = &Both(&activity, progress);
        let request = crate::publish::PublishRequest {
            folder: dir,
            message,
            design,
            license,
            maintainers,
            threshold,
            now_ms: now_ms(),
        };
        let published = self.node.publish(request, progress).await?;
        Ok(PublishResult {
            design: published.design,
            revision: published.revision,
            new_design: published.new_design,
            unchanged: published.unchanged,
            files: published.files,
            bytes: published.bytes,
            bytes_read: published.bytes_imported,
            warnings: published.warnings,
            marked: published.marker_error.is_none(),
            marker_error: published.marker_error,
        })
    }

    pub fn list(&self, request: &ListRequest) -> Result<DesignPage, ServiceError> {
        // One more than asked, to know whether more designs follow.
        let mut designs = self.node.list(request.after.as_ref(), request.limit.saturating_add(1))?;
        let more = designs.len() > request.limit;
        designs.truncate(request.limit);
        let designs = designs
            .into_iter()
            .map(|d| {
                let mut makes = MakeTally::default();
                let mut canonical_makes = MakeTally::default();
                for made in self.revision_makes(&d.design)? {
                    makes.add(made.tally);
                    if Some(made.revision) == d.canonical {
                        canonical_makes = made.tally;
                    }
                }
                Ok(DesignRow {
                    design: d.design,
                    name: d.name,
                    canonical: d.canonical,
                    revisions: d.revisions,
                    events: d.events,
                    fork_of: d.fork_of.map(RevisionRef::from),
                    makes,
                    canonical_makes,
                })
            })
            .collect::<Result<_, ServiceError>>()?;
        Ok(DesignPage { designs, more })
    }

    pub async fn show(&self, design: &DesignId, revision: Option<EventId>) -> Result<DesignView, ServiceError> {
        let view = self.node.show(design, revision).await?;
        let r = &view.resolution;
        let revision_makes = self.revision_makes(design)?;
        let makes = revision_makes.iter().find(|m| m.revision == view.revision).map(|m| m.tally).unwrap_or_default();
        let comments = self.node.events.comments(design).map_err(crate::NodeError::from)?.len();
        let names = self.names(std::iter::once(view.author).chain(r.maintainers.iter().copied()))?;
        Ok(DesignView {
            design: view.design,
            revision: view.revision,
            canonical: r.canonical,
            competing: r.competing.iter().map(|c| c.revision).collect(),
            competing_heads: r.competing.iter().map(CompetingHead::of).collect(),
            is_canonical: r.canonical == Some(view.revision),
            author: view.author,
            time: view.time,
            message: view.body.message.clone(),
            license: view.genesis.license.clone(),
            maintainers: r.maintainers.clone(),
            threshold: r.threshold,
            fork_of: view.genesis.fork_of.map(RevisionRef::from),
            manifest: ManifestView::of(view.manifest()),
            files: view
                .tree
                .entries()
                .iter()
                .map(|e| FileRow {
                    path: e.path.as_str().to_owned(),
                    size: e.size,
                    blob: e.blob,
                    executable: e.executable,
                })
                .collect(),
            total_bytes: view.tree.total_size(),
            makes,
            revision_makes,
            comments,
            names,
        })
    }

    /// A file of a revision that is in the store, for reading.
    pub async fn file(
        &self,
        design: &DesignId,
        revision: Option<EventId>,
        path: &str,
    ) -> Result<FileRow, ServiceError> {
        // Only the revision's tree: not the governance and genesis `show`
        // reads besides.
        let (revision, tree) = self.node.revision_tree(design, revision)?;
        let tree = self.node.read_tree_blob(&tree).await?;
        let design = *design;
        let entry = tree
            .entries()
            .iter()
            .find(|e| e.path.as_str() == path)
            .ok_or_else(|| ServiceError::UnknownFile { design, revision, path: path.to_owned() })?;
        if !self.node.blobs.has(&entry.blob).await.map_err(crate::NodeError::from)? {
            return Err(ServiceError::AbsentFile { design, revision, path: path.to_owned() });
        }
        Ok(FileRow { path: path.to_owned(), size: entry.size, blob: entry.blob, executable: entry.executable })
    }

    pub fn log(&self, design: &DesignId, request: &LogRequest) -> Result<EventPage, ServiceError> {
        // One more than asked, to know whether older events remain.
        let mut events = self.node.log(design, request.before, request.limit.saturating_add(1))?;
        let more = events.len() > request.limit;
        events.truncate(request.limit);
        let names = self.names(events.iter().map(SignedEvent::author))?;
        Ok(EventPage { events: events.iter().filter_map(EventView::of).collect(), more, names })
    }

    /// With a network, what the store lacks comes from peers: the
    /// design's events first, then each file as it is written out.
    pub async fn get(
        &self,
        design: DesignId,
        request: &GetRequest,
        progress: &dyn Progress,
    ) -> Result<GetResult, ServiceError> {
        let activity = self.node.activities.begin("get", design.to_string());
        let progress = &Both(&activity, progress);
        let done = match &self.net {
            Some(net) => {
                let _claim = net.claim_design(design);
                if !self.node.has_design(&design)? {
                    net.catch_up_all(&crate::net::Interest::designs([design])).await;
                }
                net.get(design, request.revision, &request.dir, request.force, progress).await?
            }
            None => self.node.get(&design, request.revision, &request.dir, request.force, progress).await?,
        };
        Ok(GetResult {
            design: done.design,
            revision: done.revision,
            dir: request.dir.display().to_string(),
            files: done.files,
            bytes: done.bytes,
        })
    }

    pub fn fork(&self, source: DesignId, request: ForkRequest) -> Result<ForkResult, ServiceError> {
        let forked = self.node.fork(crate::fork::ForkRequest {
            source,
            revision: request.revision,
            name: request.name,
            license: request.license,
            now_ms: now_ms(),
        })?;
        Ok(ForkResult {
            design: forked.design,
            revision: forked.revision,
            fork_of: RevisionRef { design: forked.source, revision: forked.source_revision },
            license: forked.license,
        })
    }
}
