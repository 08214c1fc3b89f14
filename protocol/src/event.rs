//! The signed event: the unit of every design log.
//!
//! An event is encoded once, canonically, signed over those exact bytes
//! (with a domain prefix), and named by the BLAKE3 hash of the signed
//! encoding. A [`SignedEvent`] can only be obtained by signing a valid
//! [`UnsignedEvent`] or by decoding bytes whose signature verifies, so
//! holding one means: well formed, within limits, signed by its author.
//! Rules that need other events (the clock against the parents, and
//! governance) are checked by the caller with [`SignedEvent::check_parents`]
//! and the resolver.

use std::sync::Arc;

use crate::cbor::{
    self, DecodeError, Value, array_n, bytes_n, bytes_value, list, nullable, sorted_set, text, text_value, uint,
    uint_value,
};
use crate::hash::{BlobHash, DesignId, EventId, Hash};
use crate::identity::{AuthorId, KeyCache, KeyError, SecretKey, Signature};
use crate::license::{LicenseError, check_expression};
use crate::limits::{
    GENESIS_NONCE_BYTES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_AVATAR_BYTES, MAX_BASE, MAX_BIO_BYTES,
    MAX_COMMENT_BYTES, MAX_EVENT_BYTES, MAX_LICENSE_BYTES, MAX_MAINTAINERS, MAX_MAKE_SETTINGS, MAX_MANIFEST_BYTES,
    MAX_MANIFEST_LINE_BYTES, MAX_MESSAGE_BYTES, MAX_NAME_BYTES, MAX_PARENTS, MAX_PATH_BYTES, MAX_PROFILE_LINKS,
    MAX_SETTING_KEY_BYTES, MAX_URL_BYTES,
};
use crate::manifest::{Manifest, ManifestError};
use crate::path::{PathError, ValidatedPath};

/// The only event format version this implementation reads and writes.
pub const EVENT_VERSION: u64 = 1;

/// Prefix of every signed event message, so that an event signature can
/// never be valid for anything else the same key signs.
pub const EVENT_SIGNING_DOMAIN: &[u8] = b"communs/v1/event";

/// The first event of a design; its id is the design id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    pub name: String,
    /// Sorted, unique, and including the author.
    pub maintainers: Vec<AuthorId>,
    /// How many maintainers must approve; between 1 and `maintainers.len()`.
    pub threshold: u64,
    /// SPDX expression of the design's license.
    pub license: String,
    /// The design and revision this one remixes.
    pub fork_of: Option<(DesignId, EventId)>,
    /// Random bytes: two people publishing the same name at the same
    /// millisecond still get two designs.
    pub nonce: [u8; GENESIS_NONCE_BYTES],
}

/// A contribution: a tree of files with its manifest. Publishing a revision
/// is proposing it; maintainers' approvals make it canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Hash of the encoded [`crate::Tree`].
    pub tree: BlobHash,
    pub manifest: Manifest,
    /// Revisions this one builds on (sorted, unique); empty for the first.
    pub base: Vec<EventId>,
    pub message: String,
}

/// A change to a design's governance, amending the state `prev` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    AddMaintainer(AuthorId),
    RemoveMaintainer(AuthorId),
    SetThreshold(u64),
}

// A revision carries its manifest inline; events are held a few at a time
// or by the thousand, never by the million, so the size spread is cheaper
// than boxing every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Genesis(Genesis),
    Revision(Revision),
    /// A maintainer endorses a revision or a governance proposal.
    Approve {
        target: EventId,
    },
    /// A maintainer withdraws an approval.
    Retract {
        target: EventId,
    },
    /// A governance change; `prev` is the genesis or an accepted proposal.
    Propose {
        prev: EventId,
        change: Change,
    },
    /// Words about the design, one of its events, or another comment.
    /// Never changes governance.
    Comment(Comment),
    /// Someone built a revision and says how it went.
    MakeReport(MakeReport),
    /// Who an author says they are. Belongs to no design: `design` is
    /// null, like a genesis's, and `clock` is the author's own count of
    /// their profiles (the largest wins).
    Profile(Profile),
}

/// A file that goes with a comment, a make report or a profile (a photo,
/// a drawing). Its bytes are a blob like a design's files, fetched and
/// verified the same way; the size is declared so that a node refuses an
/// oversized one before fetching anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// One path segment under `spec/paths.md`.
    pub name: String,
    pub blob: BlobHash,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The event this comment answers (a revision, a make report, another
    /// comment), if any. A reference only: it need not be in the comment's
    /// past, so anyone may answer anyone.
    pub on: Option<EventId>,
    /// Markdown.
    pub text: String,
    /// Sorted by name, unique.
    pub attachments: Vec<Attachment>,
}

/// How a build went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Worked,
    WorkedWithChanges,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Worked, Outcome::WorkedWithChanges, Outcome::Failed];

    /// The spelling of the CLI, the API and the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Worked => "worked",
            Outcome::WorkedWithChanges => "worked-with-changes",
            Outcome::Failed => "failed",
        }
    }

    fn code(self) -> u64 {
        match self {
            Outcome::Worked => 0,
            Outcome::WorkedWithChanges => 1,
            Outcome::Failed => 2,
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown outcome {s:?}: expected worked, worked-with-changes or failed"))
    }
}

/// A maker's account of building a revision: the trust signal makers
/// read first on the platforms they use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeReport {
    /// The revision built; in the report's past.
    pub revision: EventId,
    pub outcome: Outcome,
    /// e.g. "FDM printing", "laser cutting"; may be empty.
    pub process: String,
    /// e.g. "Prusa MK4"; may be empty.
    pub machine: String,
    /// e.g. "PETG"; may be empty.
    pub material: String,
    /// Key/value pairs (layer height, infill…), sorted by key, unique keys.
    pub settings: Vec<(String, String)>,
    /// Markdown; may be empty.
    pub notes: String,
    /// Sorted by name, unique.
    pub photos: Vec<Attachment>,
}

/// What an author says about themselves. Display only: an author is
/// their key, and two authors may well share a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// May be empty.
    pub bio: String,
    /// A town, a tiers-lieu; may be empty.
    pub place: String,
    /// Web pages, in the author's order.
    pub links: Vec<String>,
    pub avatar: Option<Attachment>,
}

/// Body kinds on the wire; the numbers are part of the format.
mod kind {
    pub(super) const GENESIS: u64 = 0;
    pub(super) const REVISION: u64 = 1;
    pub(super) const APPROVE: u64 = 2;
    pub(super) const RETRACT: u64 = 3;
    pub(super) const PROPOSE: u64 = 4;
    pub(super) const COMMENT: u64 = 5;
    pub(super) const MAKE_REPORT: u64 = 6;
    pub(super) const PROFILE: u64 = 7;
    pub(super) const ADD_MAINTAINER: u64 = 0;
    pub(super) const REMOVE_MAINTAINER: u64 = 1;
    pub(super) const SET_THRESHOLD: u64 = 2;
}

/// An event before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedEvent {
    /// `None` for a genesis (whose own id is the design id).
    pub design: Option<DesignId>,
    pub author: AuthorId,
    /// Heads of the design log the author knew; sorted and unique.
    pub parents: Vec<EventId>,
    /// 0 for a genesis, else 1 + the largest parent clock.
    pub clock: u64,
    /// Milliseconds since the Unix epoch, as the author's clock said.
    /// Advisory: shown to people, never used by a rule.
    pub time: u64,
    pub body: Body,
}

/// Why bytes or values are not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
    #[error("license: {0}")]
    License(#[from] LicenseError),
    #[error("{field}: {source}")]
    Key { field: &'static str, source: KeyError },
    #[error("the event is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the signature does not verify for author {author}")]
    BadSignature { author: AuthorId },
    #[error("signing key {key} is not the event's author {author}")]
    WrongKey { key: AuthorId, author: AuthorId },
    #[error(
        "a genesis has no design, no parents and clock 0; a profile no design, no parents and a clock of at least 1; every other event a design and parents"
    )]
    Lineage,
    #[error("the genesis author {author} must be one of its maintainers")]
    AuthorNotMaintainer { author: AuthorId },
    #[error("threshold {threshold} must be between 1 and the number of maintainers ({maintainers})")]
    Threshold { threshold: u64, maintainers: usize },
    #[error("parent {parent} belongs to another design")]
    ParentOfOtherDesign { parent: EventId },
    #[error("clock is {found}, expected {expected} (1 + the largest parent clock)")]
    Clock { found: u64, expected: u64 },
    #[error("the parents given do not match the event's parent list")]
    ParentsMismatch,
    #[error("{field}: holds the control character U+{code:04X}")]
    ControlCharacter { field: &'static str, code: u32 },
    #[error("{field}: starts or ends with whitespace")]
    SurroundingWhitespace { field: &'static str },
    #[error("attachment name {name:?}: {source}")]
    AttachmentName { name: String, source: PathError },
    #[error("{field}: {size} bytes, over the limit of {max}")]
    AttachmentTooLarge { field: &'static str, size: u64, max: u64 },
}

impl EventError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            EventError::Decode(e) => e.reason(),
            EventError::Manifest(e) => e.reason(),
            EventError::License(_) => "license",
            EventError::Key { .. } => "bad-key",
            EventError::TooLarge { .. } => "too-large",
            EventError::BadSignature { .. } => "bad-signature",
            EventError::WrongKey { .. } => "wrong-key",
            EventError::Lineage => "lineage",
            EventError::AuthorNotMaintainer { .. } => "author-not-maintainer",
            EventError::Threshold { .. } => "threshold",
            EventError::ParentOfOtherDesign { .. } => "parent-of-other-design",
            EventError::Clock { .. } => "clock",
            EventError::ParentsMismatch => "parents-mismatch",
            EventError::ControlCharacter { .. } => "control-character",
            EventError::SurroundingWhitespace { .. } => "surrounding-whitespace",
            EventError::AttachmentName { .. } => "attachment-name",
            EventError::AttachmentTooLarge { .. } => "attachment-too-large",
        }
    }
}

/// A well-formed event whose signature verifies, with its id and bytes.
///
/// Shared, not copied: an event goes from the decoder through the store,
/// the gossip it is forwarded on and the watchers that learn of it, and a
/// bulk moves tens of thousands of them through vectors that grow, sort
/// and split. The event itself is some 800 bytes (a revision's manifest);
/// a clone is a count, a move a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent(Arc<Signed>);

#[derive(Debug, PartialEq, Eq)]
struct Signed {
    event: UnsignedEvent,
    signature: Signature,
    id: EventId,
    bytes: Vec<u8>,
}

/// Encoded size of the signature item (`0x58 0x40` and 64 bytes), the last
/// item of the event array.
const SIGNATURE_ITEM_BYTES: usize = 2 + 64;

impl UnsignedEvent {
    /// Signs the event with the author's key. Sets (parents, maintainers,
    /// base) are sorted and de-duplicated first; anything else invalid is
    /// refused, so no invalid event can be signed.
    pub fn sign(mut self, key: &SecretKey) -> Result<SignedEvent, EventError> {
        if key.author() != self.author {
            return Err(EventError::WrongKey { key: key.author(), author: self.author });
        }
        self.normalise_sets();
        check_rules(&self)?;
        let unsigned = cbor::encode(&self.to_value());
        let signature = key.sign(EVENT_SIGNING_DOMAIN, &unsigned);
        // The signed encoding is the unsigned one with one more item: a
        // different array head, then the signature appended.
        let mut bytes = Vec::with_capacity(unsigned.len() + SIGNATURE_ITEM_BYTES);
        bytes.push(0x88);
        bytes.extend_from_slice(&unsigned[1..]);
        bytes.extend_from_slice(&[0x58, 0x40]);
        bytes.extend_from_slice(&signature.0);
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge { len: bytes.len(), max: MAX_EVENT_BYTES });
        }
        let id = EventId::from_hash(Hash::of(&bytes));
        Ok(SignedEvent(Arc::new(Signed { event: self, signature, id, bytes })))
    }

    fn normalise_sets(&mut self) {
        self.parents.sort();
        self.parents.dedup();
        match &mut self.body {
            Body::Genesis(g) => {
                g.maintainers.sort();
                g.maintainers.dedup();
            }
            Body::Revision(r) => {
                r.base.sort();
                r.base.dedup();
            }
            Body::Comment(c) => sort_attachments(&mut c.attachments),
            Body::MakeReport(m) => {
                sort_attachments(&mut m.photos);
                m.settings.sort_by(|a, b| a.0.cmp(&b.0));
                m.settings.dedup_by(|a, b| a.0 == b.0);
            }
            _ => {}
        }
    }

    /// `[version, design, author, parents, clock, time, body]`.
    fn to_value(&self) -> Value {
        Value::Array(vec![
            uint_value(EVENT_VERSION),
            self.design.map_or(Value::Null, |d| bytes_value(d.as_bytes())),
            bytes_value(self.author.as_bytes()),
            ids_value(&self.parents),
            uint_value(self.clock),
            uint_value(self.time),
            body_value(&self.body),
        ])
    }
}

/// Sorted by name; of two with one name, the first given stays.
fn sort_attachments(attachments: &mut Vec<Attachment>) {
    attachments.sort_by(|a, b| a.name.cmp(&b.name));
    attachments.dedup_by(|a, b| a.name == b.name);
}

fn ids_value(ids: &[EventId]) -> Value {
    Value::Array(ids.iter().map(|id| bytes_value(id.as_bytes())).collect())
}

fn body_value(body: &Body) -> Value {
    let items = match body {
        Body::Genesis(g) => vec![
            uint_value(kind::GENESIS),
            text_value(&g.name),
            Value::Array(g.maintainers.iter().map(|m| bytes_value(m.as_bytes())).collect()),
            uint_value(g.threshold),
            text_value(&g.license),
            g.fork_of.map_or(Value::Null, |(design, revision)| {
                Value::Array(vec![bytes_value(design.as_bytes()), bytes_value(revision.as_bytes())])
            }),
            bytes_value(&g.nonce),
        ],
        Body::Revision(r) => vec![
            uint_value(kind::REVISION),
            bytes_value(r.tree.as_bytes()),
            r.manifest.to_value(),
            ids_value(&r.base),
            text_value(&r.message),
        ],
        Body::Approve { target } => vec![uint_value(kind::APPROVE), bytes_value(target.as_bytes())],
        Body::Retract { target } => vec![uint_value(kind::RETRACT), bytes_value(target.as_bytes())],
        Body::Propose { prev, change } => {
            let change = match change {
                Change::AddMaintainer(a) => vec![uint_value(kind::ADD_MAINTAINER), bytes_value(a.as_bytes())],
                Change::RemoveMaintainer(a) => vec![uint_value(kind::REMOVE_MAINTAINER), bytes_value(a.as_bytes())],
                Change::SetThreshold(n) => vec![uint_value(kind::SET_THRESHOLD), uint_value(*n)],
            };
            vec![uint_value(kind::PROPOSE), bytes_value(prev.as_bytes()), Value::Array(change)]
        }
        Body::Comment(c) => vec![
            uint_value(kind::COMMENT),
            c.on.map_or(Value::Null, |on| bytes_value(on.as_bytes())),
            text_value(&c.text),
            attachments_value(&c.attachments),
        ],
        Body::MakeReport(m) => vec![
            uint_value(kind::MAKE_REPORT),
            bytes_value(m.revision.as_bytes()),
            uint_value(m.outcome.code()),
            text_value(&m.process),
            text_value(&m.machine),
            text_value(&m.material),
            Value::Array(m.settings.iter().map(|(k, v)| Value::Array(vec![text_value(k), text_value(v)])).collect()),
            text_value(&m.notes),
            attachments_value(&m.photos),
        ],
        Body::Profile(p) => vec![
            uint_value(kind::PROFILE),
            text_value(&p.name),
            text_value(&p.bio),
            text_value(&p.place),
            Value::Array(p.links.iter().map(|l| text_value(l)).collect()),
            p.avatar.as_ref().map_or(Value::Null, attachment_value),
        ],
    };
    Value::Array(items)
}

fn attachment_value(a: &Attachment) -> Value {
    Value::Array(vec![text_value(&a.name), bytes_value(a.blob.as_bytes()), uint_value(a.size)])
}

fn attachments_value(attachments: &[Attachment]) -> Value {
    Value::Array(attachments.iter().map(attachment_value).collect())
}

/// The rules an event keeps on its own, checked when signing and decoding.
fn check_rules(event: &UnsignedEvent) -> Result<(), EventError> {
    let lineage_ok = match event.body {
        Body::Genesis(_) => event.design.is_none() && event.parents.is_empty() && event.clock == 0,
        Body::Profile(_) => event.design.is_none() && event.parents.is_empty() && event.clock >= 1,
        _ => event.design.is_some() && !event.parents.is_empty() && event.clock >= 1,
    };
    if !lineage_ok {
        return Err(EventError::Lineage);
    }
    check_set_limit("parents", event.parents.len(), MAX_PARENTS)?;
    match &event.body {
        Body::Genesis(g) => {
            check_line("genesis.name", &g.name, MAX_NAME_BYTES)?;
            if g.maintainers.is_empty() {
                return Err(DecodeError::Empty { field: "genesis.maintainers" }.into());
            }
            check_set_limit("genesis.maintainers", g.maintainers.len(), MAX_MAINTAINERS)?;
            if !g.maintainers.contains(&event.author) {
                return Err(EventError::AuthorNotMaintainer { author: event.author });
            }
            if g.threshold == 0 || g.threshold > g.maintainers.len() as u64 {
                return Err(EventError::Threshold { threshold: g.threshold, maintainers: g.maintainers.len() });
            }
            check_text("genesis.license", &g.license, MAX_LICENSE_BYTES)?;
            check_expression(&g.license)?;
        }
        Body::Revision(r) => {
            check_set_limit("revision.base", r.base.len(), MAX_BASE)?;
            check_text("revision.message", &r.message, MAX_MESSAGE_BYTES)?;
            let manifest_len = cbor::encode(&r.manifest.to_value()).len();
            if manifest_len > MAX_MANIFEST_BYTES {
                return Err(DecodeError::TooLong {
                    field: "revision.manifest",
                    len: manifest_len,
                    max: MAX_MANIFEST_BYTES,
                }
                .into());
            }
            r.manifest.check()?;
        }
        Body::Propose { change: Change::SetThreshold(0), .. } => {
            return Err(EventError::Threshold { threshold: 0, maintainers: 0 });
        }
        Body::Approve { .. } | Body::Retract { .. } | Body::Propose { .. } => {}
        Body::Comment(c) => {
            check_prose("comment.text", &c.text, MAX_COMMENT_BYTES, false)?;
            check_attachments("comment.attachments", &c.attachments, MAX_ATTACHMENT_BYTES)?;
        }
        Body::MakeReport(m) => {
            check_optional_line("make.process", &m.process, MAX_MANIFEST_LINE_BYTES)?;
            check_optional_line("make.machine", &m.machine, MAX_MANIFEST_LINE_BYTES)?;
            check_optional_line("make.material", &m.material, MAX_MANIFEST_LINE_BYTES)?;
            check_set_limit("make.settings", m.settings.len(), MAX_MAKE_SETTINGS)?;
            if m.settings.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(DecodeError::NotSortedUnique { field: "make.settings" }.into());
            }
            for (key, value) in &m.settings {
                check_line("make.settings.key", key, MAX_SETTING_KEY_BYTES)?;
                check_line("make.settings.value", value, MAX_MANIFEST_LINE_BYTES)?;
            }
            check_prose("make.notes", &m.notes, MAX_COMMENT_BYTES, true)?;
            check_attachments("make.photos", &m.photos, MAX_ATTACHMENT_BYTES)?;
        }
        Body::Profile(p) => {
            check_line("profile.name", &p.name, MAX_NAME_BYTES)?;
            check_prose("profile.bio", &p.bio, MAX_BIO_BYTES, true)?;
            check_optional_line("profile.place", &p.place, MAX_MANIFEST_LINE_BYTES)?;
            check_set_limit("profile.links", p.links.len(), MAX_PROFILE_LINKS)?;
            for link in &p.links {
                crate::manifest::check_web_url(link, "profile.links")?;
            }
            if let Some(avatar) = &p.avatar {
                check_attachments("profile.avatar", std::slice::from_ref(avatar), MAX_AVATAR_BYTES)?;
            }
        }
    }
    Ok(())
}

/// Text of several lines (Markdown): bounded, and no control character
/// but line feed and tab, so that nothing it holds can rewrite what a
/// terminal shows.
fn check_prose(field: &'static str, s: &str, max: usize, may_be_empty: bool) -> Result<(), EventError> {
    check_text(field, s, max)?;
    if s.is_empty() && !may_be_empty {
        return Err(DecodeError::Empty { field }.into());
    }
    if let Some(c) = s.chars().find(|&c| c.is_control() && c != '\n' && c != '\t') {
        return Err(EventError::ControlCharacter { field, code: c.into() });
    }
    Ok(())
}

/// A line that may be left empty.
fn check_optional_line(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    if s.is_empty() { Ok(()) } else { check_line(field, s, max) }
}

/// At most `MAX_ATTACHMENTS`, sorted by name and unique, each name one
/// path segment, each size at most `max`.
fn check_attachments(field: &'static str, attachments: &[Attachment], max: u64) -> Result<(), EventError> {
    check_set_limit(field, attachments.len(), MAX_ATTACHMENTS)?;
    if attachments.windows(2).any(|w| w[0].name >= w[1].name) {
        return Err(DecodeError::NotSortedUnique { field }.into());
    }
    for a in attachments {
        let name_error = |source| EventError::AttachmentName { name: a.name.clone(), source };
        let path = ValidatedPath::new(&a.name).map_err(name_error)?;
        let depth = path.segments().count();
        if depth != 1 {
            return Err(name_error(PathError::TooDeep { depth, max: 1 }));
        }
        if a.size > max {
            return Err(EventError::AttachmentTooLarge { field, size: a.size, max });
        }
    }
    Ok(())
}

fn check_set_limit(field: &'static str, count: usize, max: usize) -> Result<(), EventError> {
    if count > max {
        return Err(DecodeError::TooMany { field, count, max }.into());
    }
    Ok(())
}

fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    if s.len() > max {
        return Err(DecodeError::TooLong { field, len: s.len(), max }.into());
    }
    Ok(())
}

/// A name shown to people on one line, under the rule of the manifest's
/// `name` (which is where a genesis name comes from): one spelling, and
/// no control character that could rewrite what a terminal shows.
fn check_line(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    check_text(field, s, max)?;
    if s.is_empty() {
        return Err(DecodeError::Empty { field }.into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(EventError::ControlCharacter { field, code: c.into() });
    }
    if s.trim() != s {
        return Err(EventError::SurroundingWhitespace { field });
    }
    Ok(())
}

impl SignedEvent {
    /// Decodes and verifies an event received from anywhere.
    pub fn decode(bytes: &[u8]) -> Result<Self, EventError> {
        Self::decode_checked(bytes, Verify::Yes(&mut KeyCache::default()))
    }

    /// Decodes an event read back from this node's own store, without
    /// verifying its signature again: only events whose signature verified
    /// are ever written there (the store is the node's own; `fsck` verifies
    /// everything from scratch with [`SignedEvent::decode`]). Every other
    /// rule is still checked, so a damaged record is an error, not a panic.
    /// Verification is most of the cost of a decode, and reads decode a
    /// design's events over and over.
    pub fn decode_trusted(bytes: &[u8]) -> Result<Self, EventError> {
        Self::decode_checked(bytes, Verify::No)
    }

    pub(crate) fn decode_checked(bytes: &[u8], verify: Verify<'_>) -> Result<Self, EventError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge { len: bytes.len(), max: MAX_EVENT_BYTES });
        }
        let value = cbor::decode(bytes, MAX_EVENT_BYTES).map_err(DecodeError::from)?;
        let [version, design, author, parents, clock, time, body, signature] = array_n(&value, "event")?;
        let version = uint(version, "event.version")?;
        if version != EVENT_VERSION {
            return Err(DecodeError::UnknownVersion { what: "event", found: version, known: EVENT_VERSION }.into());
        }
        // Fields in the order they are encoded, so that the first error
        // reported is the same whichever way the event is decoded.
        let design = nullable(design)
            .map(|d| bytes_n(d, "event.design").map(|b| DesignId::from_hash(Hash::from_bytes(b))))
            .transpose()?;
        let (author, keys) = match verify {
            // Read back from the store: checked when it came in.
            Verify::No => (AuthorId::from_stored_bytes(bytes_n(author, "event.author")?), None),
            Verify::Yes(keys) => {
                let field = "event.author";
                let author =
                    keys.author(bytes_n(author, field)?).map_err(|source| EventError::Key { field, source })?;
                (author, Some(keys))
            }
        };
        let event = UnsignedEvent {
            design,
            author,
            parents: sorted_set(parents, "event.parents", MAX_PARENTS, |v| event_id(v, "event.parents"))?,
            clock: uint(clock, "event.clock")?,
            time: uint(time, "event.time")?,
            body: decode_body(body)?,
        };
        let signature = Signature(bytes_n(signature, "event.signature")?);
        check_rules(&event)?;
        if let Some(keys) = keys {
            verify_signature(keys, bytes, &signature, event.author)?;
        }
        let id = EventId::from_hash(Hash::of(bytes));
        Ok(SignedEvent(Arc::new(Signed { event, signature, id, bytes: bytes.to_vec() })))
    }

    /// What [`SignedEvent::decode`] checks beyond
    /// [`SignedEvent::decode_trusted`], on an event that `decode_trusted`
    /// gave: its author's key and its signature. Every other rule passed
    /// already, and `decode` checks these two after them, so the result is
    /// the one `decode` of the same bytes gives.
    pub(crate) fn verify_decoded(&self, keys: &mut KeyCache) -> Result<(), EventError> {
        let field = "event.author";
        let author =
            keys.author(*self.0.event.author.as_bytes()).map_err(|source| EventError::Key { field, source })?;
        verify_signature(keys, &self.0.bytes, &self.0.signature, author)
    }

    pub fn id(&self) -> EventId {
        self.0.id
    }

    /// The canonical signed encoding, as stored and sent.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    pub fn event(&self) -> &UnsignedEvent {
        &self.0.event
    }

    pub fn signature(&self) -> &Signature {
        &self.0.signature
    }

    pub fn author(&self) -> AuthorId {
        self.0.event.author
    }

    pub fn body(&self) -> &Body {
        &self.0.event.body
    }

    pub fn parents(&self) -> &[EventId] {
        &self.0.event.parents
    }

    pub fn clock(&self) -> u64 {
        self.0.event.clock
    }

    /// The design this event belongs to; a genesis names its own.
    pub fn design(&self) -> DesignId {
        self.0.event.design.unwrap_or(DesignId::from_genesis(self.0.id))
    }

    /// Checks the rules that need the parents: each belongs to the same
    /// design, and the clock is one more than the largest of theirs.
    /// `parents` must be exactly the events named in [`Self::parents`].
    pub fn check_parents(&self, parents: &[&SignedEvent]) -> Result<(), EventError> {
        let mut given: Vec<EventId> = parents.iter().map(|p| p.id()).collect();
        given.sort();
        if given != self.0.event.parents {
            return Err(EventError::ParentsMismatch);
        }
        if let Some(other) = parents.iter().find(|p| p.design() != self.design()) {
            return Err(EventError::ParentOfOtherDesign { parent: other.id() });
        }
        let expected = parents.iter().map(|p| p.clock()).max().map_or(0, |c| c.saturating_add(1));
        if self.clock() != expected {
            return Err(EventError::Clock { found: self.clock(), expected });
        }
        Ok(())
    }
}

/// Checks `signature` over the bytes received, not a re-encoding: the
/// unsigned encoding is `bytes` with a 7-item head and no last item.
fn verify_signature(
    keys: &mut KeyCache,
    bytes: &[u8],
    signature: &Signature,
    author: AuthorId,
) -> Result<(), EventError> {
    let unsigned = [&[0x87][..], &bytes[1..bytes.len() - SIGNATURE_ITEM_BYTES]];
    keys.verify(author, EVENT_SIGNING_DOMAIN, &unsigned, signature).map_err(|_| EventError::BadSignature { author })
}

/// Whether a decode verifies the signature, with the keys decoded so far.
pub(crate) enum Verify<'a> {
    No,
    Yes(&'a mut KeyCache),
}

fn event_id(value: &Value, field: &'static str) -> Result<EventId, DecodeError> {
    bytes_n(value, field).map(|b| EventId::from_hash(Hash::from_bytes(b)))
}

fn author_id(value: &Value, field: &'static str) -> Result<AuthorId, EventError> {
    AuthorId::from_bytes(bytes_n(value, field)?).map_err(|source| EventError::Key { field, source })
}

/// The kind and the fields after it, which must number exactly `N`.
fn fields<'a, const N: usize>(items: &'a [Value], field: &'static str) -> Result<&'a [Value; N], DecodeError> {
    items[1..].try_into().map_err(|_| DecodeError::Shape { field, expected: "the number of fields of its kind" })
}

fn decode_body(value: &Value) -> Result<Body, EventError> {
    let Value::Array(items) = value else {
        return Err(DecodeError::Shape { field: "event.body", expected: "an array" }.into());
    };
    let Some(kind) = items.first() else {
        return Err(DecodeError::Shape { field: "event.body", expected: "a kind" }.into());
    };
    Ok(match uint(kind, "event.body.kind")? {
        kind::GENESIS => {
            let [name, maintainers, threshold, license, fork_of, nonce] = fields(items, "genesis")?;
            Body::Genesis(Genesis {
                name: text(name, "genesis.name", MAX_NAME_BYTES)?.to_owned(),
                maintainers: sorted_set(maintainers, "genesis.maintainers", MAX_MAINTAINERS, |v| {
                    bytes_n(v, "genesis.maintainers")
                })?
                .into_iter()
                .map(|b| {
                    AuthorId::from_bytes(b).map_err(|source| EventError::Key { field: "genesis.maintainers", source })
                })
                .collect::<Result<_, _>>()?,
                threshold: uint(threshold, "genesis.threshold")?,
                license: text(license, "genesis.license", MAX_LICENSE_BYTES)?.to_owned(),
                fork_of: nullable(fork_of)
                    .map(|v| {
                        let [design, revision] = array_n(v, "genesis.fork_of")?;
                        Ok::<_, DecodeError>((
                            DesignId::from_hash(Hash::from_bytes(bytes_n(design, "genesis.fork_of.design")?)),
                            event_id(revision, "genesis.fork_of.revision")?,
                        ))
                    })
                    .transpose()?,
                nonce: bytes_n(nonce, "genesis.nonce")?,
            })
        }
        kind::REVISION => {
            let [tree, manifest, base, message] = fields(items, "revision")?;
            Body::Revision(Revision {
                tree: BlobHash(Hash::from_bytes(bytes_n(tree, "revision.tree")?)),
                manifest: Manifest::from_value(manifest)?,
                base: sorted_set(base, "revision.base", MAX_BASE, |v| event_id(v, "revision.base"))?,
                message: text(message, "revision.message", MAX_MESSAGE_BYTES)?.to_owned(),
            })
        }
        kind::APPROVE => {
            let [target] = fields(items, "approve")?;
            Body::Approve { target: event_id(target, "approve.target")? }
        }
        kind::RETRACT => {
            let [target] = fields(items, "retract")?;
            Body::Retract { target: event_id(target, "retract.target")? }
        }
        kind::PROPOSE => {
            let [prev, change] = fields(items, "propose")?;
            Body::Propose { prev: event_id(prev, "propose.prev")?, change: decode_change(change)? }
        }
        kind::COMMENT => {
            let [on, text_item, attachments] = fields(items, "comment")?;
            Body::Comment(Comment {
                on: nullable(on).map(|v| event_id(v, "comment.on")).transpose()?,
                text: text(text_item, "comment.text", MAX_COMMENT_BYTES)?.to_owned(),
                attachments: decode_attachments(attachments, "comment.attachments")?,
            })
        }
        kind::MAKE_REPORT => {
            let [revision, outcome, process, machine, material, settings, notes, photos] = fields(items, "make")?;
            let outcome = match uint(outcome, "make.outcome")? {
                0 => Outcome::Worked,
                1 => Outcome::WorkedWithChanges,
                2 => Outcome::Failed,
                other => return Err(DecodeError::UnknownKind { field: "make.outcome", kind: other }.into()),
            };
            Body::MakeReport(MakeReport {
                revision: event_id(revision, "make.revision")?,
                outcome,
                process: text(process, "make.process", MAX_MANIFEST_LINE_BYTES)?.to_owned(),
                machine: text(machine, "make.machine", MAX_MANIFEST_LINE_BYTES)?.to_owned(),
                material: text(material, "make.material", MAX_MANIFEST_LINE_BYTES)?.to_owned(),
                settings: list(settings, "make.settings", MAX_MAKE_SETTINGS, |pair| {
                    let [key, value] = array_n(pair, "make.settings")?;
                    Ok((
                        text(key, "make.settings.key", MAX_SETTING_KEY_BYTES)?.to_owned(),
                        text(value, "make.settings.value", MAX_MANIFEST_LINE_BYTES)?.to_owned(),
                    ))
                })?,
                notes: text(notes, "make.notes", MAX_COMMENT_BYTES)?.to_owned(),
                photos: decode_attachments(photos, "make.photos")?,
            })
        }
        kind::PROFILE => {
            let [name, bio, place, links, avatar] = fields(items, "profile")?;
            Body::Profile(Profile {
                name: text(name, "profile.name", MAX_NAME_BYTES)?.to_owned(),
                bio: text(bio, "profile.bio", MAX_BIO_BYTES)?.to_owned(),
                place: text(place, "profile.place", MAX_MANIFEST_LINE_BYTES)?.to_owned(),
                links: list(links, "profile.links", MAX_PROFILE_LINKS, |v| {
                    Ok(text(v, "profile.links", MAX_URL_BYTES)?.to_owned())
                })?,
                avatar: nullable(avatar).map(|v| decode_attachment(v, "profile.avatar")).transpose()?,
            })
        }
        other => return Err(DecodeError::UnknownKind { field: "event.body", kind: other }.into()),
    })
}

fn decode_attachment(value: &Value, field: &'static str) -> Result<Attachment, DecodeError> {
    let [name, blob, size] = array_n(value, field)?;
    Ok(Attachment {
        name: text(name, field, MAX_PATH_BYTES)?.to_owned(),
        blob: BlobHash(Hash::from_bytes(bytes_n(blob, field)?)),
        size: uint(size, field)?,
    })
}

fn decode_attachments(value: &Value, field: &'static str) -> Result<Vec<Attachment>, DecodeError> {
    list(value, field, MAX_ATTACHMENTS, |v| decode_attachment(v, field))
}

fn decode_change(value: &Value) -> Result<Change, EventError> {
    let [kind, argument] = array_n(value, "propose.change")?;
    Ok(match uint(kind, "propose.change.kind")? {
        kind::ADD_MAINTAINER => Change::AddMaintainer(author_id(argument, "propose.change.author")?),
        kind::REMOVE_MAINTAINER => Change::RemoveMaintainer(author_id(argument, "propose.change.author")?),
        kind::SET_THRESHOLD => Change::SetThreshold(uint(argument, "propose.change.threshold")?),
        other => return Err(DecodeError::UnknownKind { field: "propose.change", kind: other }.into()),
    })
}
