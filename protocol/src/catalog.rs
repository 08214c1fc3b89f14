//! Announcements: what a node says of a design it keeps, so that nodes
//! that do not follow it still know it exists (spec/catalog.md).
//!
//! An announcement is a design's signed genesis and, when it has one, a
//! revision a maintainer named in the genesis vouched for (authored it, or
//! approved it: the approval travels with it). It is a hint: a node cannot
//! replay a design's governance from three events, so a catalog entry says
//! "this design exists, and one of its first maintainers stood behind this
//! revision", not "this is its canonical revision". Following the design
//! brings its log, which is verified in full.
//!
//! Pure: decoding checks every signature and every rule of one
//! announcement; which of two announcements of a design a node keeps is
//! [`Announcement::supersedes`], a function of the two alone.

use crate::cbor::{self, DecodeError, Value, array_n, nullable};
use crate::event::{Body, EventError, SignedEvent};
use crate::hash::{DesignId, Hash};
use crate::identity::AuthorId;
use crate::limits::MAX_ANNOUNCEMENT_BYTES;

/// Why bytes are not a valid announcement. A peer that sends one is
/// broken or lying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnouncementError {
    #[error("the announcement is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{which}: {source}")]
    Event { which: &'static str, source: EventError },
    #[error("the first event is not a genesis")]
    NotGenesis,
    #[error("the second event is not a revision")]
    NotRevision,
    #[error("the third event is not an approval of the revision")]
    NotApproval,
    #[error("the {which} belongs to design {found}, not to the announced design {design}")]
    OtherDesign { which: &'static str, design: DesignId, found: DesignId },
    #[error("{author}, the {which}'s author, is not a maintainer named in the genesis")]
    NotMaintainer { which: &'static str, author: AuthorId },
    #[error("an approval is carried for a revision whose author is a maintainer, or without a revision")]
    NeedlessApproval,
}

impl AnnouncementError {
    /// A short, stable name for the reason, used by the spec's vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            AnnouncementError::TooLarge { .. } => "too-large",
            AnnouncementError::Decode(e) => e.reason(),
            AnnouncementError::Event { source, .. } => source.reason(),
            AnnouncementError::NotGenesis => "not-genesis",
            AnnouncementError::NotRevision => "not-revision",
            AnnouncementError::NotApproval => "not-approval",
            AnnouncementError::OtherDesign { .. } => "other-design",
            AnnouncementError::NotMaintainer { .. } => "not-maintainer",
            AnnouncementError::NeedlessApproval => "needless-approval",
        }
    }
}

/// A valid announcement: every signature verified, every rule of
/// spec/catalog.md checked. Obtained only from [`Announcement::new`] or
/// [`Announcement::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    genesis: SignedEvent,
    revision: Option<SignedEvent>,
    approval: Option<SignedEvent>,
    bytes: Vec<u8>,
    id: Hash,
}

impl Announcement {
    /// The announcement of `genesis` with `revision`, vouched for by
    /// `approval` when the revision's author is not a maintainer named in
    /// the genesis. Checks the same rules as [`Announcement::decode`].
    pub fn new(
        genesis: SignedEvent,
        revision: Option<SignedEvent>,
        approval: Option<SignedEvent>,
    ) -> Result<Announcement, AnnouncementError> {
        check(&genesis, revision.as_ref(), approval.as_ref())?;
        let bytes = cbor::encode(&Value::Array(vec![
            Value::Bytes(genesis.bytes().to_vec()),
            revision.as_ref().map_or(Value::Null, |r| Value::Bytes(r.bytes().to_vec())),
            approval.as_ref().map_or(Value::Null, |a| Value::Bytes(a.bytes().to_vec())),
        ]));
        if bytes.len() > MAX_ANNOUNCEMENT_BYTES {
            return Err(AnnouncementError::TooLarge { len: bytes.len(), max: MAX_ANNOUNCEMENT_BYTES });
        }
        let id = Hash::of(&bytes);
        Ok(Announcement { genesis, revision, approval, bytes, id })
    }

    /// The announcement of a design with the best revision it can carry:
    /// `revision` (with `approval` if needed) if the result is valid and
    /// within [`MAX_ANNOUNCEMENT_BYTES`], else the genesis alone.
    pub fn best_effort(
        genesis: SignedEvent,
        revision: Option<SignedEvent>,
        approval: Option<SignedEvent>,
    ) -> Result<Announcement, AnnouncementError> {
        match Announcement::new(genesis.clone(), revision, approval) {
            Ok(announcement) => Ok(announcement),
            Err(_) => Announcement::new(genesis, None, None),
        }
    }

    /// Decodes and verifies an announcement received from anywhere: strict
    /// CBOR, the size limit, each event's signature and rules, and the
    /// rules that bind the events together.
    pub fn decode(bytes: &[u8]) -> Result<Announcement, AnnouncementError> {
        Self::decode_with(bytes, SignedEvent::decode)
    }

    /// Decodes an announcement read back from this node's own store, where
    /// only verified ones are written: no signature is checked again.
    pub fn decode_trusted(bytes: &[u8]) -> Result<Announcement, AnnouncementError> {
        Self::decode_with(bytes, SignedEvent::decode_trusted)
    }

    fn decode_with(
        bytes: &[u8],
        event: impl Fn(&[u8]) -> Result<SignedEvent, EventError>,
    ) -> Result<Announcement, AnnouncementError> {
        if bytes.len() > MAX_ANNOUNCEMENT_BYTES {
            return Err(AnnouncementError::TooLarge { len: bytes.len(), max: MAX_ANNOUNCEMENT_BYTES });
        }
        let value = cbor::decode(bytes, MAX_ANNOUNCEMENT_BYTES).map_err(DecodeError::from)?;
        let [genesis, revision, approval] = array_n(&value, "announcement")?;
        let decode = |value: &Value, which: &'static str| -> Result<SignedEvent, AnnouncementError> {
            let Value::Bytes(b) = value else {
                return Err(DecodeError::Shape { field: which, expected: "a byte string" }.into());
            };
            event(b).map_err(|source| AnnouncementError::Event { which, source })
        };
        let genesis = decode(genesis, "genesis")?;
        let revision = nullable(revision).map(|v| decode(v, "revision")).transpose()?;
        let approval = nullable(approval).map(|v| decode(v, "approval")).transpose()?;
        check(&genesis, revision.as_ref(), approval.as_ref())?;
        Ok(Announcement { genesis, revision, approval, bytes: bytes.to_vec(), id: Hash::of(bytes) })
    }

    pub fn design(&self) -> DesignId {
        self.genesis.design()
    }

    pub fn genesis(&self) -> &SignedEvent {
        &self.genesis
    }

    pub fn revision(&self) -> Option<&SignedEvent> {
        self.revision.as_ref()
    }

    pub fn approval(&self) -> Option<&SignedEvent> {
        self.approval.as_ref()
    }

    /// The one canonical encoding, as sent and stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// BLAKE3 of [`Announcement::bytes`]: the announcement's item id in a
    /// catalog reconciliation.
    pub fn id(&self) -> Hash {
        self.id
    }

    /// The item's timestamp in a catalog reconciliation: the advisory time
    /// of the revision, else of the genesis (milliseconds). No rule reads
    /// it.
    pub fn time(&self) -> u64 {
        self.revision.as_ref().unwrap_or(&self.genesis).event().time
    }

    /// Whether this announcement replaces `other`, an announcement of the
    /// same design, in a catalog: the one with a revision over the one
    /// without; of two revisions, the larger clock, then the larger
    /// revision id; of the same revision, the larger announcement id. A
    /// total order, so every node keeps the same one of any two. `false`
    /// for announcements of two designs.
    pub fn supersedes(&self, other: &Announcement) -> bool {
        self.design() == other.design() && self.rank() > other.rank()
    }

    fn rank(&self) -> (bool, u64, [u8; 32], [u8; 32]) {
        match &self.revision {
            Some(r) => (true, r.clock(), *r.id().as_bytes(), *self.id.as_bytes()),
            None => (false, 0, [0; 32], *self.id.as_bytes()),
        }
    }
}

fn check(
    genesis: &SignedEvent,
    revision: Option<&SignedEvent>,
    approval: Option<&SignedEvent>,
) -> Result<(), AnnouncementError> {
    let Body::Genesis(g) = genesis.body() else { return Err(AnnouncementError::NotGenesis) };
    let design = genesis.design();
    let maintainer = |e: &SignedEvent| g.maintainers.binary_search(&e.author()).is_ok();
    let same_design = |e: &SignedEvent, which: &'static str| {
        if e.design() == design {
            Ok(())
        } else {
            Err(AnnouncementError::OtherDesign { which, design, found: e.design() })
        }
    };
    let Some(revision) = revision else {
        return match approval {
            Some(_) => Err(AnnouncementError::NeedlessApproval),
            None => Ok(()),
        };
    };
    if !matches!(revision.body(), Body::Revision(_)) {
        return Err(AnnouncementError::NotRevision);
    }
    same_design(revision, "revision")?;
    match approval {
        None if maintainer(revision) => Ok(()),
        None => Err(AnnouncementError::NotMaintainer { which: "revision", author: revision.author() }),
        Some(_) if maintainer(revision) => Err(AnnouncementError::NeedlessApproval),
        Some(approval) => {
            if !matches!(approval.body(), Body::Approve { target } if *target == revision.id()) {
                return Err(AnnouncementError::NotApproval);
            }
            same_design(approval, "approval")?;
            if !maintainer(approval) {
                return Err(AnnouncementError::NotMaintainer { which: "approval", author: approval.author() });
            }
            Ok(())
        }
    }
}
