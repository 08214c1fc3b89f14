//! `approve`, `retract`, `propose`, `status`.

use communs_node::service::{ChangeRequest, DesignStatus, GovernanceResult, ProposeRequest, TargetRequest};

use crate::backend::Backend;
use crate::output::Output;
use crate::{ChangeArg, Command};

pub(super) async fn run(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Approve { design, target } => {
            let signed = backend.approve(design, TargetRequest { target, parents: None }).await?;
            report(out, &signed, &format!("Approved {target}"))
        }
        Command::Retract { design, target } => {
            let signed = backend.retract(design, TargetRequest { target, parents: None }).await?;
            report(out, &signed, &format!("Retracted your approval of {target}"))
        }
        Command::Propose { design, change } => {
            let change = match change {
                ChangeArg::AddMaintainer { author } => ChangeRequest::AddMaintainer { author },
                ChangeArg::RemoveMaintainer { author } => ChangeRequest::RemoveMaintainer { author },
                ChangeArg::SetThreshold { threshold } => ChangeRequest::SetThreshold { threshold },
            };
            let signed = backend.propose(design, ProposeRequest { change }).await?;
            let proposal = signed.status.proposal(&signed.event);
            let outcome = proposal.map(|p| p.outcome.as_str()).unwrap_or_default();
            let change = proposal.map(|p| p.change.as_str()).unwrap_or_default();
            report(out, &signed, &format!("Proposed: {change} ({outcome})"))
        }
        Command::Status { design } => {
            let status = backend.status(design).await?;
            out.show(&status, || {
                let mut text = status_text(&status.status, &status.names);
                if status.muted_open > 0 {
                    text.push_str(&format!("\n({} contribution(s) by muted authors hidden)", status.muted_open));
                }
                text
            })
        }
        _ => anyhow::bail!("not a governance command"),
    }
}

fn report(out: &Output, signed: &GovernanceResult, what: &str) -> anyhow::Result<()> {
    out.show(signed, || {
        format!("{what}\n  event      {}\n{}", signed.event, status_text(&signed.status, &Default::default()))
    })
}

fn status_text(state: &DesignStatus, names: &std::collections::BTreeMap<String, String>) -> String {
    let mut lines = vec![format!("design     {}", state.design)];
    match state.canonical {
        Some(c) => lines.push(format!("canonical  {c} ({} approvals)", state.canonical_approvals)),
        None => lines.push("canonical  none yet".to_owned()),
    }
    for c in &state.competing_heads {
        lines.push(format!("competing  {} ({} approvals; {})", c.revision, c.approvals, c.lost));
    }
    lines.push(format!("maintainers ({} of {} must approve):", state.threshold, state.maintainers.len()));
    lines.extend(state.maintainers.iter().map(|m| format!("  {}", super::who(names, m))));
    if !state.open.is_empty() {
        lines.push("open contributions:".to_owned());
        lines.extend(
            state.open.iter().map(|o| format!("  {} ({} of {})", o.revision, o.approvals.len(), state.threshold)),
        );
    }
    let not_accepted: Vec<_> = state.proposals.iter().filter(|p| p.outcome != "accepted").collect();
    if !not_accepted.is_empty() {
        lines.push("proposals:".to_owned());
        lines.extend(
            not_accepted
                .iter()
                .map(|p| format!("  {}: {} ({}; {} approvals)", p.id, p.change, p.outcome, p.approvals.len())),
        );
    }
    lines.join("\n")
}
