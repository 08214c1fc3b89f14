//! The node's local policy: follow, mute, pin, and the log of it.

use communs_node::Node;
use communs_node::net::Network;
use communs_node::policy::{PolicyAction, PolicyEntry};
use serde_json::{Value, json};

use super::{format_time, now_ms};
use crate::Command;
use crate::output::Output;

pub(super) async fn run(node: &Node, net: Option<&Network>, command: Command, out: &Output) -> anyhow::Result<()> {
    let (action, reason) = match command {
        Command::Follow { design, reason } => (PolicyAction::Follow(design), reason),
        Command::Unfollow { design, reason } => (PolicyAction::Unfollow(design), reason),
        Command::Mute { author, reason } => (PolicyAction::Mute(author), reason),
        Command::Unmute { author, reason } => (PolicyAction::Unmute(author), reason),
        Command::Pin { design, revision, reason } => (PolicyAction::Pin(design, revision), reason),
        Command::Unpin { design, reason } => (PolicyAction::Unpin(design), reason),
        Command::Remove { design, reason } => (PolicyAction::Remove(design), reason),
        Command::Policy => {
            let log = node.policy_log()?;
            let policy = node.policy()?;
            out.print(
                json!({
                    "log": log.iter().map(entry_json).collect::<Vec<_>>(),
                    "followed": policy.followed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "muted": policy.muted.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "removed": policy.removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "pins": policy.pins.iter().map(|(d, r)| json!({ "design": d.to_string(), "revision": r.to_string() })).collect::<Vec<_>>(),
                }),
                || {
                    if log.is_empty() {
                        return "No policy recorded: this node follows, mutes and pins nothing.".to_owned();
                    }
                    let mut lines: Vec<String> = log.iter().map(entry_line).collect();
                    lines.push(format!(
                        "In force: {} followed, {} muted, {} pinned",
                        policy.followed.len(),
                        policy.muted.len(),
                        policy.pins.len()
                    ));
                    lines.join("\n")
                },
            );
            return Ok(());
        }
        _ => unreachable!("dispatched to another module"),
    };
    let entry = node.set_policy(action, &reason, now_ms())?;
    // With a network, following a design also fetches it.
    if let (Some(net), PolicyAction::Follow(design)) = (net, &entry.action) {
        let caught_up = net.follow(*design).await?;
        let present = node.has_design(design)?;
        let mut value = entry_json(&entry);
        value["present"] = json!(present);
        value["catch_up"] = serde_json::to_value(&caught_up)?;
        out.print(value, || {
            let state = if present {
                format!("{} new events from {} peers; its files are being fetched", caught_up.added, caught_up.peers)
            } else {
                format!("no peer has it yet ({} asked); it will be fetched when one does", caught_up.peers)
            };
            format!(
                "Recorded: {}
{state}",
                entry_line(&entry)
            )
        });
        return Ok(());
    }
    if let PolicyAction::Remove(_) = &entry.action {
        if let Some(net) = net {
            net.refresh_kept().await?;
        }
        // The design's files go now, here or in the node alike.
        let report = super::gc::collect(node, net).await?;
        let mut value = entry_json(&entry);
        value["gc"] = serde_json::to_value(&report)?;
        out.print(value, || format!("Recorded: {}\n{}", entry_line(&entry), super::gc::line(&report)));
        return Ok(());
    }
    if let (Some(net), PolicyAction::Unfollow(_)) = (net, &entry.action) {
        net.refresh_kept().await?;
        // Its files are freed in the background; the answer does not wait.
        communs_node::gc::collect_in_background(net.node().clone());
    }
    out.print(entry_json(&entry), || format!("Recorded: {}", entry_line(&entry)));
    Ok(())
}

fn action_parts(action: &PolicyAction) -> (&'static str, String) {
    match action {
        PolicyAction::Follow(d) => ("follow", d.to_string()),
        PolicyAction::Unfollow(d) => ("unfollow", d.to_string()),
        PolicyAction::Mute(a) => ("mute", a.to_string()),
        PolicyAction::Unmute(a) => ("unmute", a.to_string()),
        PolicyAction::Pin(d, r) => ("pin", format!("{d}@{r}")),
        PolicyAction::Unpin(d) => ("unpin", d.to_string()),
        PolicyAction::Remove(d) => ("remove", d.to_string()),
    }
}

fn entry_json(entry: &PolicyEntry) -> Value {
    let (action, subject) = action_parts(&entry.action);
    json!({ "seq": entry.seq, "time": entry.time_ms, "action": action, "subject": subject, "reason": entry.reason })
}

fn entry_line(entry: &PolicyEntry) -> String {
    let (action, subject) = action_parts(&entry.action);
    let reason = if entry.reason.is_empty() { String::new() } else { format!(" ({})", entry.reason) };
    format!("{:>4}  {}  {action} {subject}{reason}", entry.seq, format_time(entry.time_ms))
}
