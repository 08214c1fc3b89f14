//! Comments, make reports, profiles and the names shown for authors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use communs_protocol::{Attachment, AuthorId, Body, DesignId, EventId, Outcome, SignedEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Service, ServiceError, now_ms};
use crate::social::{MakeDetails, ProfileDetails};
use crate::store::social::MakeCounts;

/// A file joined to a comment, a make report or a profile.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentView {
    pub name: String,
    #[schema(value_type = String)]
    pub blob: communs_protocol::BlobHash,
    pub size: u64,
}

impl AttachmentView {
    pub(super) fn of(a: &Attachment) -> AttachmentView {
        AttachmentView { name: a.name.clone(), blob: a.blob, size: a.size }
    }
}

/// Say something about a design. Attachments are paths of files on the
/// node's machine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommentRequest {
    /// Markdown.
    pub text: String,
    /// The event of the design this answers (a revision, a comment, a
    /// make report).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub on: Option<EventId>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub attachments: Vec<PathBuf>,
}

/// The event a comment, a make report or a profile became.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Signed {
    #[schema(value_type = String)]
    pub event: EventId,
    /// The design it belongs to (none for a profile).
    #[schema(value_type = Option<String>)]
    pub design: Option<DesignId>,
}

/// A comment, with the answers to it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommentView {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub author: AuthorId,
    pub time: u64,
    /// What it answers; an event this node does not hold puts the
    /// comment at the top level.
    #[schema(value_type = Option<String>)]
    pub on: Option<EventId>,
    pub text: String,
    pub attachments: Vec<AttachmentView>,
    #[schema(no_recursion)]
    pub replies: Vec<CommentView>,
}

/// A design's comments, as threads.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommentThreads {
    #[schema(value_type = String)]
    pub design: DesignId,
    pub comments: Vec<CommentView>,
    /// Comments of authors this node mutes, left out.
    pub muted: usize,
    /// The names shown for the authors, by author id.
    pub names: BTreeMap<String, String>,
}

/// Report a build of a design.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MakeRequest {
    /// The revision built; the canonical one if absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub revision: Option<EventId>,
    /// `worked`, `worked-with-changes` or `failed`.
    pub outcome: String,
    #[serde(default)]
    pub process: String,
    #[serde(default)]
    pub machine: String,
    #[serde(default)]
    pub material: String,
    /// Settings by name ("layer height": "0.2 mm").
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: String,
    /// Paths of photos on the node's machine.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub photos: Vec<PathBuf>,
}

/// One make report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MakeReportView {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub author: AuthorId,
    pub time: u64,
    #[schema(value_type = String)]
    pub revision: EventId,
    pub outcome: String,
    pub process: String,
    pub machine: String,
    pub material: String,
    pub settings: BTreeMap<String, String>,
    pub notes: String,
    pub photos: Vec<AttachmentView>,
}

/// How many times a revision was made, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MakeTally {
    pub worked: u64,
    pub worked_with_changes: u64,
    pub failed: u64,
}

impl MakeTally {
    pub fn total(&self) -> u64 {
        self.worked + self.worked_with_changes + self.failed
    }

    pub(super) fn add(&mut self, other: MakeTally) {
        self.worked += other.worked;
        self.worked_with_changes += other.worked_with_changes;
        self.failed += other.failed;
    }
}

impl From<MakeCounts> for MakeTally {
    fn from(c: MakeCounts) -> Self {
        MakeTally { worked: c.worked, worked_with_changes: c.worked_with_changes, failed: c.failed }
    }
}

/// The makes of one revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevisionMakes {
    #[schema(value_type = String)]
    pub revision: EventId,
    #[serde(flatten)]
    pub tally: MakeTally,
}

/// A design's make reports, newest last, and their counts per revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MakeReports {
    #[schema(value_type = String)]
    pub design: DesignId,
    pub reports: Vec<MakeReportView>,
    pub revisions: Vec<RevisionMakes>,
    pub names: BTreeMap<String, String>,
}

/// A make report with the design it is of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuthorMake {
    #[schema(value_type = String)]
    pub design: DesignId,
    /// The design's name.
    pub name: String,
    pub report: MakeReportView,
}

/// Who this node's author says they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ProfileRequest {
    pub name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub links: Vec<String>,
    /// Path of an image on the node's machine.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub avatar: Option<PathBuf>,
}

/// An author as this node knows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuthorView {
    #[schema(value_type = String)]
    pub author: AuthorId,
    /// The name shown: this node's own name for them, else their
    /// profile's.
    pub shown_name: Option<String>,
    /// This node's own name for them (`communs name`).
    pub local_name: Option<String>,
    /// Their newest profile this node holds.
    pub profile: Option<ProfileView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    #[schema(value_type = String)]
    pub id: EventId,
    /// The author's own count of their profiles: the largest wins.
    pub clock: u64,
    pub time: u64,
    pub name: String,
    pub bio: String,
    pub place: String,
    pub links: Vec<String>,
    pub avatar: Option<AttachmentView>,
}

impl ProfileView {
    fn of(event: &SignedEvent) -> Option<ProfileView> {
        let Body::Profile(p) = event.body() else { return None };
        Some(ProfileView {
            id: event.id(),
            clock: event.clock(),
            time: event.event().time,
            name: p.name.clone(),
            bio: p.bio.clone(),
            place: p.place.clone(),
            links: p.links.clone(),
            avatar: p.avatar.as_ref().map(AttachmentView::of),
        })
    }
}

fn outcome(text: &str) -> Result<Outcome, ServiceError> {
    text.parse().map_err(ServiceError::BadRequest)
}

impl Service {
    pub async fn comment(&self, design: DesignId, request: CommentRequest) -> Result<Signed, ServiceError> {
        let event = self.node.comment(&design, request.on, &request.text, &request.attachments, now_ms()).await?;
        Ok(Signed { event: event.id(), design: Some(design) })
    }

    /// The design's comments as threads, oldest first, without those of
    /// muted authors (nor the answers to them).
    pub fn comments(&self, design: DesignId) -> Result<CommentThreads, ServiceError> {
        self.node.governance_of(&design)?;
        let muted_authors = self.node.policy()?.muted.clone();
        let all = self.node.events.comments(&design).map_err(crate::NodeError::from)?;
        let muted = all.iter().filter(|c| muted_authors.contains(&c.author())).count();
        let shown: Vec<&SignedEvent> = all.iter().filter(|c| !muted_authors.contains(&c.author())).collect();
        let names = self.names(shown.iter().map(|c| c.author()))?;
        Ok(CommentThreads { design, comments: threads(&shown), muted, names })
    }

    pub async fn report_make(&self, design: DesignId, request: MakeRequest) -> Result<Signed, ServiceError> {
        let details = MakeDetails {
            revision: request.revision,
            outcome: outcome(&request.outcome)?,
            process: request.process,
            machine: request.machine,
            material: request.material,
            settings: request.settings.into_iter().collect(),
            notes: request.notes,
            photos: request.photos,
        };
        let event = self.node.report_make(&design, details, now_ms()).await?;
        Ok(Signed { event: event.id(), design: Some(design) })
    }

    pub fn make_reports(&self, design: DesignId) -> Result<MakeReports, ServiceError> {
        self.node.governance_of(&design)?;
        let events = self.node.events.make_reports(&design).map_err(crate::NodeError::from)?;
        let reports: Vec<MakeReportView> = events.iter().filter_map(make_report_view).collect();
        let names = self.names(reports.iter().map(|r| r.author))?;
        Ok(MakeReports { design, reports, revisions: self.revision_makes(&design)?, names })
    }

    /// The make reports `author` signed, in the designs this node holds,
    /// newest first, each with its design.
    pub fn makes_by(&self, author: AuthorId) -> Result<Vec<AuthorMake>, ServiceError> {
        let mut out = Vec::new();
        for design in self.node.events.designs_of_author(&author).map_err(crate::NodeError::from)? {
            let events = self.node.events.make_reports(&design).map_err(crate::NodeError::from)?;
            let mine: Vec<MakeReportView> =
                events.iter().filter(|e| e.author() == author).filter_map(make_report_view).collect();
            if mine.is_empty() {
                continue;
            }
            let name = self.node.events.design_row(&design).map_err(crate::NodeError::from)?.map(|r| r.name);
            out.extend(mine.into_iter().map(|report| AuthorMake {
                design,
                name: name.clone().unwrap_or_default(),
                report,
            }));
        }
        out.sort_by_key(|m| std::cmp::Reverse(m.report.time));
        Ok(out)
    }

    /// Make counts of each revision of `design` made at least once.
    pub(super) fn revision_makes(&self, design: &DesignId) -> Result<Vec<RevisionMakes>, ServiceError> {
        let counts = self.node.events.makes(design).map_err(crate::NodeError::from)?;
        Ok(counts.into_iter().map(|(revision, c)| RevisionMakes { revision, tally: c.into() }).collect())
    }

    pub async fn set_profile(&self, request: ProfileRequest) -> Result<Signed, ServiceError> {
        let details = ProfileDetails {
            name: request.name,
            bio: request.bio,
            place: request.place,
            links: request.links,
            avatar: request.avatar,
        };
        let event = self.node.set_profile(details, now_ms()).await?;
        if let Some(net) = &self.net {
            net.publish_profile(event.clone()).await;
        }
        Ok(Signed { event: event.id(), design: None })
    }

    pub fn author(&self, author: AuthorId) -> Result<AuthorView, ServiceError> {
        let local_name = self.node.policy()?.names.get(&author).cloned();
        let profile = self.node.profile(&author)?;
        let profile = profile.as_ref().and_then(ProfileView::of);
        let shown_name = local_name.clone().or_else(|| profile.as_ref().map(|p| p.name.clone()));
        Ok(AuthorView { author, shown_name, local_name, profile })
    }

    /// The names shown for `authors` (those this node has one for), by
    /// author id: what every answer naming authors carries beside their ids.
    pub fn names(&self, authors: impl IntoIterator<Item = AuthorId>) -> Result<BTreeMap<String, String>, ServiceError> {
        let mut names = BTreeMap::new();
        for author in authors {
            let key = author.to_string();
            if names.contains_key(&key) {
                continue;
            }
            if let Some(name) = self.node.author_name(&author)? {
                names.insert(key, name);
            }
        }
        Ok(names)
    }
}

pub(super) fn make_report_view(event: &SignedEvent) -> Option<MakeReportView> {
    let Body::MakeReport(m) = event.body() else { return None };
    Some(MakeReportView {
        id: event.id(),
        author: event.author(),
        time: event.event().time,
        revision: m.revision,
        outcome: m.outcome.as_str().to_owned(),
        process: m.process.clone(),
        machine: m.machine.clone(),
        material: m.material.clone(),
        settings: m.settings.iter().cloned().collect(),
        notes: m.notes.clone(),
        photos: m.photos.iter().map(AttachmentView::of).collect(),
    })
}

/// Comments (oldest first) as threads: each under the comment it answers
/// when that one is here, else at the top level.
fn threads(comments: &[&SignedEvent]) -> Vec<CommentView> {
    let ids: std::collections::HashSet<EventId> = comments.iter().map(|c| c.id()).collect();
    let mut children: BTreeMap<Option<EventId>, Vec<&SignedEvent>> = BTreeMap::new();
    for c in comments {
        let Body::Comment(body) = c.body() else { continue };
        let parent = body.on.filter(|on| ids.contains(on) && *on != c.id());
        children.entry(parent).or_default().push(c);
    }
    // Recursive to a bounded depth: a long chain of answers must not
    // overflow the stack.
    fn build(
        at: Option<EventId>,
        children: &mut BTreeMap<Option<EventId>, Vec<&SignedEvent>>,
        depth: usize,
    ) -> Vec<CommentView> {
        let Some(list) = children.remove(&at) else { return Vec::new() };
        list.into_iter()
            .filter_map(|c| {
                let Body::Comment(body) = c.body() else { return None };
                // Past this depth, answers are shown flat.
                let replies = if depth < 32 { build(Some(c.id()), children, depth + 1) } else { Vec::new() };
                Some(CommentView {
                    id: c.id(),
                    author: c.author(),
                    time: c.event().time,
                    on: body.on,
                    text: body.text.clone(),
                    attachments: body.attachments.iter().map(AttachmentView::of).collect(),
                    replies,
                })
            })
            .collect()
    }
    let mut top = build(None, &mut children, 0);
    // Answers below the depth limit, and cycles (impossible with ids that
    // hash their own content, but cheap to rule out), at the top level.
    let rest: Vec<Option<EventId>> = children.keys().copied().collect();
    for key in rest {
        top.extend(build(key, &mut children, 32));
    }
    top
}
