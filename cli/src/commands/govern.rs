//! `approve`, `retract`, `propose`, `status`.

use communs_node::Node;
use communs_protocol::governance::{GovernanceState, ProposalOutcome, VoidReason};
use communs_protocol::{Change, DesignId, SignedEvent};
use serde_json::{Value, json};

use super::design::loss_text;
use super::now_ms;
use crate::output::Output;
use crate::{ChangeArg, Command};

pub(super) fn run(node: &Node, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Approve { design, target } => {
            let event = node.approve(&design, target, now_ms())?;
            report(out, &event, &node.status(&design)?, &format!("Approved {target}"));
        }
        Command::Retract { design, target } => {
            let event = node.retract(&design, target, now_ms())?;
            report(out, &event, &node.status(&design)?, &format!("Retracted your approval of {target}"));
        }
        Command::Propose { design, change } => {
            let change = match change {
                ChangeArg::AddMaintainer { author } => Change::AddMaintainer(author),
                ChangeArg::RemoveMaintainer { author } => Change::RemoveMaintainer(author),
                ChangeArg::SetThreshold { threshold } => Change::SetThreshold(threshold),
            };
            let event = node.propose(&design, change, now_ms())?;
            let state = node.status(&design)?;
            let outcome = state.proposal(&event.id()).map(|p| outcome_text(&p.outcome)).unwrap_or_default();
            report(out, &event, &state, &format!("Proposed: {} ({outcome})", change_text(&change)));
        }
        Command::Status { design } => {
            let mut state = node.status(&design)?;
            let muted = node.muted_revisions(&design)?;
            let before = state.open.len();
            state.open.retain(|o| !muted.contains(&o.revision));
            let hidden = before - state.open.len();
            let mut value = status_json(&design, &state);
            value["muted_open"] = json!(hidden);
            value["pinned"] = json!(node.policy()?.pins.get(&design).map(ToString::to_string));
            out.print(value, || {
                let mut text = status_text(&design, &state);
                if hidden > 0 {
                    text.push_str(&format!("\n({hidden} contribution(s) by muted authors hidden)"));
                }
                text
            });
        }
        _ => unreachable!("dispatched to another module"),
    }
    Ok(())
}

fn report(out: &Output, event: &SignedEvent, state: &GovernanceState, what: &str) {
    let design = event.design();
    out.print(json!({ "event": event.id().to_string(), "status": status_json(&design, state) }), || {
        format!("{what}\n  event      {}\n{}", event.id(), status_text(&design, state))
    });
}

pub(super) fn change_text(change: &Change) -> String {
    match change {
        Change::AddMaintainer(a) => format!("add maintainer {a}"),
        Change::RemoveMaintainer(a) => format!("remove maintainer {a}"),
        Change::SetThreshold(n) => format!("set threshold to {n}"),
    }
}

fn outcome_text(outcome: &ProposalOutcome) -> String {
    match outcome {
        ProposalOutcome::Accepted => "accepted".to_owned(),
        ProposalOutcome::Pending => "pending".to_owned(),
        ProposalOutcome::Void(VoidReason::LostTo(w)) => format!("void: lost to {w}"),
        ProposalOutcome::Void(VoidReason::Superseded { by }) => format!("void: superseded by {by}"),
        ProposalOutcome::Void(VoidReason::NotOnChain) => "void: amends no state of the chain".to_owned(),
        ProposalOutcome::Void(VoidReason::NotApplicable(why)) => format!("void: not applicable ({why:?})"),
    }
}

fn ids(v: &[communs_protocol::AuthorId]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

pub(super) fn status_json(design: &DesignId, state: &GovernanceState) -> Value {
    json!({
        "design": design.to_string(),
        "canonical": state.canonical.map(|c| c.to_string()),
        "competing": state.competing.iter().map(|c| c.revision.to_string()).collect::<Vec<_>>(),
        "competing_heads": state.competing.iter().map(|c| json!({
            "revision": c.revision.to_string(),
            "approvals": c.approvals,
            "lost": loss_text(c.lost),
        })).collect::<Vec<_>>(),
        "open": state.open.iter().map(|o| json!({
            "revision": o.revision.to_string(),
            "approvals": ids(&o.approvals),
        })).collect::<Vec<_>>(),
        "maintainers": ids(&state.maintainers),
        "threshold": state.threshold,
        "state": state.state.map(|s| s.to_string()),
        "proposals": state.proposals.iter().map(|p| json!({
            "id": p.id.to_string(),
            "author": p.author.to_string(),
            "change": change_text(&p.change),
            "approvals": ids(&p.approvals),
            "outcome": outcome_text(&p.outcome),
        })).collect::<Vec<_>>(),
    })
}

fn status_text(design: &DesignId, state: &GovernanceState) -> String {
    let mut lines = vec![format!("design     {design}")];
    match state.canonical {
        Some(c) => lines.push(format!("canonical  {c} ({} approvals)", state.approvals[&c].len())),
        None => lines.push("canonical  none yet".to_owned()),
    }
    for c in &state.competing {
        lines.push(format!("competing  {} ({} approvals; {})", c.revision, c.approvals, loss_text(c.lost)));
    }
    lines.push(format!("maintainers ({} of {} must approve):", state.threshold, state.maintainers.len()));
    lines.extend(state.maintainers.iter().map(|m| format!("  {m}")));
    if !state.open.is_empty() {
        lines.push("open contributions:".to_owned());
        lines.extend(
            state.open.iter().map(|o| format!("  {} ({} of {})", o.revision, o.approvals.len(), state.threshold)),
        );
    }
    let not_accepted: Vec<_> = state.proposals.iter().filter(|p| p.outcome != ProposalOutcome::Accepted).collect();
    if !not_accepted.is_empty() {
        lines.push("proposals:".to_owned());
        lines.extend(not_accepted.iter().map(|p| {
            format!(
                "  {}: {} ({}; {} approvals)",
                p.id,
                change_text(&p.change),
                outcome_text(&p.outcome),
                p.approvals.len()
            )
        }));
    }
    lines.join("\n")
}
