//! `follow`, `unfollow`, `mute`, `unmute`, `pin`, `unpin`, `remove`, `policy`.

use std::collections::BTreeSet;

use communs_protocol::{DesignId, EventId};

pub use crate::store::policy::SeedPolicy;
pub(crate) use crate::store::policy::{Policy, PolicyAction, PolicyEntry};

use crate::{Node, NodeError};

/// A local name: one line, bounded; empty forgets the name.
fn check_local_name(name: &str) -> Result<(), NodeError> {
    let max = crate::store::policy::MAX_LOCAL_NAME_BYTES;
    if name.len() > max || name.chars().any(char::is_control) || name.trim() != name {
        return Err(crate::social::SocialError::BadLocalName { max }.into());
    }
    Ok(())
}

impl Node {
    /// Records a policy decision. A pin must name a revision of the design
    /// in the store; a followed design may be absent (a running node
    /// fetches it from peers as soon as one has it).
    pub fn set_policy(&self, action: PolicyAction, reason: &str, now_ms: u64) -> Result<PolicyEntry, NodeError> {
        match &action {
            PolicyAction::Unpin(design) => {
                self.governance_of(design)?;
            }
            PolicyAction::Pin(design, revision) => {
                self.governance_of(design)?;
                self.revision_of(design, revision)?;
            }
            PolicyAction::Name(_, name) => check_local_name(name)?,
            PolicyAction::Seed(_) => {}
            PolicyAction::Follow(_)
            | PolicyAction::Unfollow(_)
            | PolicyAction::Mute(_)
            | PolicyAction::Unmute(_)
            | PolicyAction::Remove(_) => {}
        }
        let entry = self.events.append_policy(now_ms, action, reason)?;
        if let PolicyAction::Name(author, _) = &entry.action {
            self.search.renamed(self.events.designs_of_author(author)?);
        }
        if let PolicyAction::Remove(design) = entry.action {
            // Recorded first: a crash in between leaves events that the
            // policy already disowns (no longer kept, refused from peers),
            // and another remove deletes them.
            self.events.remove_design(&design)?;
            self.search.removed(design);
        }
        Ok(entry)
    }

    /// The name this node shows for `author`: its own name for them, else
    /// their profile's, else none.
    pub fn author_name(&self, author: &communs_protocol::AuthorId) -> Result<Option<String>, NodeError> {
        if let Some(name) = self.policy()?.names.get(author) {
            return Ok(Some(name.clone()));
        }
        Ok(self.events.profile(author)?.and_then(|p| match p.body() {
            communs_protocol::Body::Profile(p) => Some(p.name.clone()),
            _ => None,
        }))
    }

    /// Whether this node refuses `design`'s events (removed, not followed
    /// since).
    pub fn is_removed(&self, design: &DesignId) -> Result<bool, NodeError> {
        Ok(self.policy()?.removed.contains(design))
    }

    pub fn policy_log(&self) -> Result<Vec<PolicyEntry>, NodeError> {
        Ok(self.events.policy_entries()?)
    }

    /// The policy in force (the log replayed once per process, then kept).
    pub fn policy(&self) -> Result<std::sync::Arc<Policy>, NodeError> {
        Ok(self.events.policy()?)
    }

    /// The designs this node keeps up to date and seeds: those it follows
    /// and every design in its store that it has not unfollowed (what it
    /// published, forked, imported or fetched).
    pub fn kept_designs(&self) -> Result<Vec<DesignId>, NodeError> {
        Ok(self.kept_and_present()?.0.into_iter().collect())
    }

    /// The designs this node keeps, and those of them its store holds (a
    /// followed design may not have arrived yet).
    pub fn kept_and_present(&self) -> Result<(BTreeSet<DesignId>, BTreeSet<DesignId>), NodeError> {
        let policy = self.policy()?;
        let present: BTreeSet<DesignId> = self
            .events
            .designs()?
            .into_iter()
            .filter(|d| !policy.unfollowed.contains(d) && !policy.removed.contains(d))
            .collect();
        let mut kept = policy.followed.clone();
        kept.extend(present.iter().copied());
        Ok((kept, present))
    }

    /// Whether this node hosts `design`'s files under its seeding policy
    /// (spec/network.md, "Seeding policies"): always what it follows,
    /// pins or wrote to; under `from:`, besides, only the designs whose
    /// genesis a listed author signed.
    pub(crate) fn hosts_files(&self, design: &DesignId) -> Result<bool, NodeError> {
        let policy = self.policy()?;
        let Some(crate::store::policy::SeedPolicy::From(authors)) = self.seed_policy(&policy) else { return Ok(true) };
        if policy.followed.contains(design) || policy.pins.contains_key(design) {
            return Ok(true);
        }
        let Some(genesis) = self.events.get(&design.genesis())? else { return Ok(false) };
        Ok(authors.contains(&genesis.author()) || genesis.author() == self.author())
    }

    /// The seeding policy in force: the policy log's last, else the
    /// config's (`[storage] seed`, or `--seed-all`), given at start.
    pub(crate) fn seed_policy<'a>(&'a self, policy: &'a Policy) -> Option<&'a crate::store::policy::SeedPolicy> {
        policy.seed.as_ref().or(self.configured_seed.get())
    }

    /// The seeding policy of the config (`[storage] seed`, `--seed-all`),
    /// in force unless the policy log records one.
    pub fn configure_seeding(&self, seed: SeedPolicy) {
        let _ = self.configured_seed.set(seed);
    }

    /// The seeding policy in force (the policy log is read once per
    /// process, then kept: no store read).
    pub fn seed_policy_in_force(&self) -> Result<SeedPolicy, NodeError> {
        let policy = self.policy()?;
        Ok(self.seed_policy(&policy).cloned().unwrap_or_default())
    }

    /// Whether the seeding policy in force has the node catch up and take
    /// every design's events (`all`, `from:`), read once at start.
    pub fn hears_everything(&self) -> Result<bool, NodeError> {
        let policy = self.policy()?;
        Ok(self.seed_policy(&policy).is_some_and(SeedPolicy::hears_everything))
    }

    /// The revision this node checks out by default: its pin, else the
    /// canonical head.
    pub(crate) fn default_revision(
        &self,
        design: &DesignId,
        canonical: Option<EventId>,
    ) -> Result<Option<EventId>, NodeError> {
        Ok(self.policy()?.pins.get(design).copied().or(canonical))
    }

    /// Open contributions to `design` written by authors this node mutes.
    /// Muting hides their contributions from this node's listings; it
    /// changes no governance result (a maintainer's approval counts
    /// whoever mutes them).
    pub fn muted_revisions(&self, design: &DesignId) -> Result<Vec<EventId>, NodeError> {
        let policy = self.policy()?;
        let muted = &policy.muted;
        if muted.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for open in self.governance_of(design)?.open {
            if self.events.get(&open.revision)?.is_some_and(|e| muted.contains(&e.author())) {
                out.push(open.revision);
            }
        }
        Ok(out)
    }
}
