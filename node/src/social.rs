//! `comment`, `made`, `profile set`: what makers say about designs and
//! about themselves, signed like every other contribution.
//!
//! Comments and make reports are events of the design's log: they travel
//! with it (gossip, catch-up, bundles) and are bounded like any stranger's
//! contribution (spec/governance.md, "Unclaimed contributions"). They never
//! change governance. A profile belongs to no design; the store keeps the
//! newest per author.

use std::path::{Path, PathBuf};

use communs_protocol::limits::{MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_AVATAR_BYTES};
use communs_protocol::{
    Attachment, AuthorId, Body, Comment, DesignId, EventId, MakeReport, Outcome, Profile, SignedEvent, UnsignedEvent,
    ValidatedPath,
};

use crate::{Node, NodeError};

#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    #[error("{path}: {size} bytes, over the limit of {max} for {what}")]
    TooLarge { path: PathBuf, size: u64, max: u64, what: &'static str },
    #[error("{count} files attached, over the limit of {MAX_ATTACHMENTS}")]
    TooMany { count: usize },
    #[error("{path}: the file name cannot be an attachment's name: {source}")]
    BadName { path: PathBuf, source: communs_protocol::PathError },
    #[error("two attached files are named {name:?}")]
    SameName { name: String },
    #[error("a local name is one line of at most {max} bytes, without control characters or surrounding spaces")]
    BadLocalName { max: usize },
    #[error("{event} is not a revision of design {design}: a make report names the revision built")]
    NotARevision { design: DesignId, event: EventId },
}

/// What `communs made` reports.
#[derive(Debug, Clone)]
pub struct MakeDetails {
    /// The revision built; the canonical one if `None`.
    pub revision: Option<EventId>,
    pub outcome: Outcome,
    pub process: String,
    pub machine: String,
    pub material: String,
    pub settings: Vec<(String, String)>,
    pub notes: String,
    pub photos: Vec<PathBuf>,
}

/// What `communs profile set` says.
#[derive(Debug, Clone, Default)]
pub struct ProfileDetails {
    pub name: String,
    pub bio: String,
    pub place: String,
    pub links: Vec<String>,
    pub avatar: Option<PathBuf>,
}

impl Node {
    /// Comments on `design`, in answer to `on` (one of its events) if given.
    pub async fn comment(
        &self,
        design: &DesignId,
        on: Option<EventId>,
        text: &str,
        files: &[PathBuf],
        now_ms: u64,
    ) -> Result<SignedEvent, NodeError> {
        self.governance_of(design)?;
        if let Some(on) = on
            && self.events.get(&on)?.is_none_or(|e| e.design() != *design)
        {
            return Err(NodeError::UnknownEvent { design: *design, event: on });
        }
        let (attachments, _guard) = self.attach(files, MAX_ATTACHMENT_BYTES, "an attachment").await?;
        let body = Body::Comment(Comment { on, text: text.trim().to_owned(), attachments });
        self.append(design, body, now_ms)
    }

    /// Reports a build of `design` (its canonical revision unless one is
    /// named).
    pub async fn report_make(
        &self,
        design: &DesignId,
        details: MakeDetails,
        now_ms: u64,
    ) -> Result<SignedEvent, NodeError> {
        let state = self.governance_of(design)?;
        let revision = match details.revision {
            Some(revision) => revision,
            None => state.canonical.ok_or(NodeError::NoCanonical(*design))?,
        };
        match self.events.get(&revision)? {
            Some(e) if e.design() == *design && matches!(e.body(), Body::Revision(_)) => {}
            Some(e) if e.design() == *design => {
                return Err(SocialError::NotARevision { design: *design, event: revision }.into());
            }
            _ => return Err(NodeError::UnknownRevision { design: *design, revision }),
        }
        let (photos, _guard) = self.attach(&details.photos, MAX_ATTACHMENT_BYTES, "a photo").await?;
        let body = Body::MakeReport(MakeReport {
            revision,
            outcome: details.outcome,
            process: details.process.trim().to_owned(),
            machine: details.machine.trim().to_owned(),
            material: details.material.trim().to_owned(),
            settings: details.settings.into_iter().map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect(),
            notes: details.notes.trim().to_owned(),
            photos,
        });
        self.append(design, body, now_ms)
    }

    /// Signs and stores a new profile of this node's author, replacing the
    /// one before it.
    pub async fn set_profile(&self, details: ProfileDetails, now_ms: u64) -> Result<SignedEvent, NodeError> {
        let (avatar, _guard) = self.attach(details.avatar.as_slice(), MAX_AVATAR_BYTES, "an avatar").await?;
        let clock = self.events.profile(&self.author())?.map_or(1, |p| p.clock().saturating_add(1));
        let event = self.sign(UnsignedEvent {
            design: None,
            author: self.author(),
            parents: Vec::new(),
            clock,
            time: now_ms,
            body: Body::Profile(Profile {
                name: details.name.trim().to_owned(),
                bio: details.bio.trim().to_owned(),
                place: details.place.trim().to_owned(),
                links: details.links,
                avatar: avatar.into_iter().next(),
            }),
        })?;
        if self.events.put_profile(&event)? {
            self.search.renamed(self.events.designs_of_author(&self.author())?);
        }
        Ok(event)
    }

    /// The newest profile this node holds of `author`.
    pub fn profile(&self, author: &AuthorId) -> Result<Option<SignedEvent>, NodeError> {
        Ok(self.events.profile(author)?)
    }

    /// Keeps a profile that came from elsewhere (a peer, a bundle) if its
    /// author has events in this store (or is this node's) and it is newer
    /// than the one kept. The signature was checked by its decoder.
    pub fn receive_profile(&self, profile: &SignedEvent) -> Result<bool, NodeError> {
        let Body::Profile(_) = profile.body() else { return Ok(false) };
        let author = profile.author();
        if author != self.author() && !self.events.is_known_author(&author)? {
            return Ok(false);
        }
        let newer = self.events.put_profile(profile)?;
        if newer {
            self.search.renamed(self.events.designs_of_author(&author)?);
        }
        Ok(newer)
    }

    /// The attachments a node keeping `design` keeps: those of its
    /// comments and make reports, and the avatars of its authors.
    pub(crate) fn attachments_of(
        &self,
        design: &DesignId,
    ) -> Result<Vec<(communs_protocol::BlobHash, u64)>, NodeError> {
        let mut out = Vec::new();
        let events = self.events.comments(design)?.into_iter().chain(self.events.make_reports(design)?);
        for event in events {
            out.extend(attachments(&event).map(|a| (a.blob, a.size)));
        }
        for author in self.events.authors_of(design)? {
            if let Some(profile) = self.events.profile(&author)? {
                out.extend(attachments(&profile).map(|a| (a.blob, a.size)));
            }
        }
        Ok(out)
    }

    /// The authors of `designs`, each with the clock of the newest profile
    /// held of them (0: none), for a catch-up of profiles.
    pub(crate) fn profile_clocks(
        &self,
        designs: &std::collections::BTreeSet<DesignId>,
    ) -> Result<Vec<(AuthorId, u64)>, NodeError> {
        let mut authors = std::collections::BTreeSet::new();
        for design in designs {
            authors.extend(self.events.authors_of(design)?);
        }
        let mut out = Vec::with_capacity(authors.len());
        for author in authors {
            out.push((author, self.events.profile(&author)?.map_or(0, |p| p.clock())));
        }
        Ok(out)
    }

    /// Stores `files` as blobs and describes them as attachments, held
    /// against garbage collection until the event naming them is stored.
    async fn attach(
        &self,
        files: &[PathBuf],
        max: u64,
        what: &'static str,
    ) -> Result<(Vec<Attachment>, crate::store::Guard), NodeError> {
        if files.len() > MAX_ATTACHMENTS {
            return Err(SocialError::TooMany { count: files.len() }.into());
        }
        let mut attachments: Vec<Attachment> = Vec::with_capacity(files.len());
        for path in files {
            let size = std::fs::metadata(path).map_err(NodeError::io(path))?.len();
            if size > max {
                return Err(SocialError::TooLarge { path: path.clone(), size, max, what }.into());
            }
            let name = attachment_name(path)?;
            if attachments.iter().any(|a| a.name == name) {
                return Err(SocialError::SameName { name }.into());
            }
            attachments.push(Attachment { name, blob: communs_protocol::BlobHash::of(&[]), size });
        }
        let guard = self.blobs.protect_unnamed().await;
        for (attachment, path) in attachments.iter_mut().zip(files) {
            // The blob store imports from absolute paths only.
            let absolute = std::path::absolute(path).map_err(NodeError::io(path))?;
            let (blob, size) = self.blobs.add_file(&absolute).await?;
            if size > max {
                return Err(SocialError::TooLarge { path: path.clone(), size, max, what }.into());
            }
            attachment.blob = blob;
            attachment.size = size;
        }
        if !attachments.is_empty() {
            self.blobs.sync().await?;
        }
        attachments.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((attachments, guard))
    }
}

/// The files an event carries besides a revision's tree.
pub(crate) fn attachments(event: &SignedEvent) -> impl Iterator<Item = &Attachment> {
    let list: &[Attachment] = match event.body() {
        Body::Comment(c) => &c.attachments,
        Body::MakeReport(m) => &m.photos,
        Body::Profile(p) => p.avatar.as_slice(),
        _ => &[],
    };
    list.iter()
}

/// The attachment name of a file: its own name, in NFC, one path segment
/// under `spec/paths.md`.
fn attachment_name(path: &Path) -> Result<String, SocialError> {
    let bad = |source| SocialError::BadName { path: path.to_owned(), source };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(ValidatedPath::normalize(&name).map_err(bad)?.as_str().to_owned())
}
