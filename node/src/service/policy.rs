//! The node's local policy: follow, mute, pin, remove, and its log.

use communs_protocol::{AuthorId, DesignId, EventId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RevisionRef, Service, ServiceError, now_ms};
use crate::NodeError;
use crate::gc::GcReport;
use crate::net::{CatchupReport, FilesError};
use crate::policy::{PolicyAction, PolicyEntry};

/// One change to the local policy, with why (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum PolicyChange {
    /// Keep the design (with a network: fetch and seed it).
    Follow {
        #[schema(value_type = String)]
        design: DesignId,
        #[serde(default)]
        reason: String,
    },
    Unfollow {
        #[schema(value_type = String)]
        design: DesignId,
        #[serde(default)]
        reason: String,
    },
    /// Hide an author's contributions on this node.
    Mute {
        #[schema(value_type = String)]
        author: AuthorId,
        #[serde(default)]
        reason: String,
    },
    Unmute {
        #[schema(value_type = String)]
        author: AuthorId,
        #[serde(default)]
        reason: String,
    },
    /// Use this revision for this node's show and get of the design.
    Pin {
        #[schema(value_type = String)]
        design: DesignId,
        #[schema(value_type = String)]
        revision: EventId,
        #[serde(default)]
        reason: String,
    },
    Unpin {
        #[schema(value_type = String)]
        design: DesignId,
        #[serde(default)]
        reason: String,
    },
    /// Drop the design's events and files, and refuse them from peers
    /// until it is followed again.
    Remove {
        #[schema(value_type = String)]
        design: DesignId,
        #[serde(default)]
        reason: String,
    },
    /// Which designs' files this node hosts: `followed`, `all`, or
    /// `from:AUTHOR,AUTHOR` (spec/network.md, "Seeding policies").
    Seed {
        seed: String,
        #[serde(default)]
        reason: String,
    },
    /// Show `author` under this name on this node, whatever their profile
    /// says; an empty name forgets it.
    Name {
        #[schema(value_type = String)]
        author: AuthorId,
        name: String,
        #[serde(default)]
        reason: String,
    },
}

impl PolicyChange {
    fn split(self) -> Result<(PolicyAction, String), ServiceError> {
        Ok(match self {
            PolicyChange::Seed { seed, reason } => {
                (PolicyAction::Seed(seed.parse().map_err(ServiceError::BadRequest)?), reason)
            }
            PolicyChange::Follow { design, reason } => (PolicyAction::Follow(design), reason),
            PolicyChange::Unfollow { design, reason } => (PolicyAction::Unfollow(design), reason),
            PolicyChange::Mute { author, reason } => (PolicyAction::Mute(author), reason),
            PolicyChange::Unmute { author, reason } => (PolicyAction::Unmute(author), reason),
            PolicyChange::Pin { design, revision, reason } => (PolicyAction::Pin(design, revision), reason),
            PolicyChange::Unpin { design, reason } => (PolicyAction::Unpin(design), reason),
            PolicyChange::Remove { design, reason } => (PolicyAction::Remove(design), reason),
            PolicyChange::Name { author, name, reason } => (PolicyAction::Name(author, name), reason),
        })
    }
}

/// An entry of the policy log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyEntryView {
    pub seq: u64,
    /// When it was recorded, in ms since the Unix epoch.
    pub time: u64,
    /// `follow`, `unfollow`, `mute`, `unmute`, `pin`, `unpin`, `remove`,
    /// `name` or `seed`.
    pub action: String,
    /// A design id, an author id, `DESIGN@REVISION` for a pin, or
    /// `AUTHOR=NAME` for a name (empty: forgotten), the policy for a
    /// seed (`from:AUTHOR,…`).
    pub subject: String,
    pub reason: String,
}

impl PolicyEntryView {
    fn of(entry: &PolicyEntry) -> PolicyEntryView {
        let (action, subject) = match &entry.action {
            PolicyAction::Follow(d) => ("follow", d.to_string()),
            PolicyAction::Unfollow(d) => ("unfollow", d.to_string()),
            PolicyAction::Mute(a) => ("mute", a.to_string()),
            PolicyAction::Unmute(a) => ("unmute", a.to_string()),
            PolicyAction::Pin(d, r) => ("pin", format!("{d}@{r}")),
            PolicyAction::Unpin(d) => ("unpin", d.to_string()),
            PolicyAction::Remove(d) => ("remove", d.to_string()),
            PolicyAction::Name(a, name) => ("name", format!("{a}={name}")),
            PolicyAction::Seed(seed) => ("seed", seed.to_string()),
        };
        PolicyEntryView {
            seq: entry.seq,
            time: entry.time_ms,
            action: action.to_owned(),
            subject,
            reason: entry.reason.clone(),
        }
    }
}

/// The entry recorded, and what the node did about it at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyRecorded {
    #[serde(flatten)]
    pub entry: PolicyEntryView,
    /// A follow on a running node: whether the design is now in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// A follow on a running node: the catch-up with peers it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchupReport>,
    /// A remove: the collection that freed the design's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<GcReport>,
}

/// The policy log and what is in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyView {
    pub log: Vec<PolicyEntryView>,
    #[schema(value_type = Vec<String>)]
    pub followed: Vec<DesignId>,
    #[schema(value_type = Vec<String>)]
    pub muted: Vec<AuthorId>,
    #[schema(value_type = Vec<String>)]
    pub removed: Vec<DesignId>,
    pub pins: Vec<RevisionRef>,
    /// This node's names for authors, by author id.
    pub names: std::collections::BTreeMap<String, String>,
    /// The seeding policy the log records (`followed`, `all`,
    /// `from:AUTHOR,…`); absent: the config's (`[storage] seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

impl Service {
    pub fn policy(&self) -> Result<PolicyView, ServiceError> {
        let log = self.node.policy_log()?;
        let policy = self.node.policy()?;
        Ok(PolicyView {
            log: log.iter().map(PolicyEntryView::of).collect(),
            followed: policy.followed.iter().copied().collect(),
            muted: policy.muted.iter().copied().collect(),
            removed: policy.removed.iter().copied().collect(),
            pins: policy.pins.iter().map(|(d, r)| RevisionRef { design: *d, revision: *r }).collect(),
            names: policy.names.iter().map(|(a, n)| (a.to_string(), n.clone())).collect(),
            seed: policy.seed.as_ref().map(ToString::to_string),
        })
    }

    /// Records `change`; on a running node, a follow also catches the
    /// design up from peers, and an unfollow frees its files in the
    /// background. A remove frees them before it answers.
    pub async fn set_policy(&self, change: PolicyChange) -> Result<PolicyRecorded, ServiceError> {
        let (action, reason) = change.split()?;
        let entry = self.node.set_policy(action, &reason, now_ms())?;
        let mut recorded =
            PolicyRecorded { entry: PolicyEntryView::of(&entry), present: None, catch_up: None, gc: None };
        match (&self.net, &entry.action) {
            (Some(net), PolicyAction::Follow(design)) => {
                // A person's choice outranks the storage limit's: kept
                // whole again, whatever was given up of it.
                self.node.disk.forget(design);
                // Under a limit the follow fetches the files itself, so
                // that one that cannot fit is refused here (the seeder,
                // kept off the design meanwhile, finds nothing left).
                let fetching_here = self.node.disk.max().map(|_| net.claim_design(*design));
                recorded.catch_up = Some(net.follow(*design).await?);
                recorded.present = Some(self.node.has_design(design)?);
                if fetching_here.is_some() && recorded.present == Some(true) {
                    let activity = self.node.activities.begin("seed", design.to_string());
                    let fetched = net.fetch_revisions(&[(*design, None)], &activity).await.pop().map(|(_, r)| r);
                    if let Some(Err(FilesError::Node(NodeError::NoSpace(no_space)))) = fetched {
                        let why = format!("follow refused: {no_space}");
                        self.node.set_policy(PolicyAction::Unfollow(*design), &why, now_ms())?;
                        net.refresh_kept().await?;
                        return Err(NodeError::NoSpace(no_space).into());
                    }
                }
            }
            (net, PolicyAction::Remove(_)) => {
                if let Some(net) = net {
                    net.refresh_kept().await?;
                }
                recorded.gc = Some(self.gc().await?);
            }
            // Wider: the designs now hosted are fetched; narrower: the
            // files no longer hosted are freed.
            (Some(net), PolicyAction::Seed(_)) => {
                net.seed_everything().await;
                crate::gc::collect_in_background(self.node.clone());
            }
            (Some(net), PolicyAction::Unfollow(_)) => {
                net.refresh_kept().await?;
                crate::gc::collect_in_background(self.node.clone());
            }
            _ => {}
        }
        Ok(recorded)
    }
}
