//! The node's local policy: follow, mute, pin, and the log of it.

use communs_node::service::{PolicyChange, PolicyEntryView};

use super::design::gc_line;
use super::format_time;
use crate::Command;
use crate::backend::Backend;
use crate::output::Output;

pub(super) async fn run(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    let change = match command {
        Command::Follow { design, reason } => PolicyChange::Follow { design, reason },
        Command::Unfollow { design, reason } => PolicyChange::Unfollow { design, reason },
        Command::Mute { author, reason } => PolicyChange::Mute { author, reason },
        Command::Unmute { author, reason } => PolicyChange::Unmute { author, reason },
        Command::Pin { design, revision, reason } => PolicyChange::Pin { design, revision, reason },
        Command::Unpin { design, reason } => PolicyChange::Unpin { design, reason },
        Command::Remove { design, reason } => PolicyChange::Remove { design, reason },
        Command::Seed { policy, authors, reason } => {
            let seed = match (policy.as_str(), authors.is_empty()) {
                ("from", false) => {
                    format!("from:{}", authors.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
                }
                ("from", true) => anyhow::bail!("`communs seed from` needs at least one author id"),
                (_, false) => anyhow::bail!("only `communs seed from` takes authors"),
                (policy, true) => policy.to_owned(),
            };
            PolicyChange::Seed { seed, reason }
        }
        Command::Policy => {
            let policy = backend.policy().await?;
            return out.show(&policy, || {
                if policy.log.is_empty() {
                    return "No policy recorded: this node follows, mutes and pins nothing.".to_owned();
                }
                let mut lines: Vec<String> = policy.log.iter().map(entry_line).collect();
                lines.push(format!(
                    "In force: {} followed, {} muted, {} pinned",
                    policy.followed.len(),
                    policy.muted.len(),
                    policy.pins.len()
                ));
                if let Some(seed) = &policy.seed {
                    lines.push(format!("Hosting the files of: {seed}"));
                }
                lines.join("\n")
            });
        }
        _ => anyhow::bail!("not a policy command"),
    };
    let recorded = backend.set_policy(change).await?;
    out.show(&recorded, || {
        let mut text = format!("Recorded: {}", entry_line(&recorded.entry));
        // With a network, following a design also fetches it.
        if let (Some(caught_up), Some(present)) = (&recorded.catch_up, recorded.present) {
            if present {
                text.push_str(&format!(
                    "\n{} new events from {} peers; its files are being fetched",
                    caught_up.added, caught_up.peers
                ));
            } else {
                text.push_str(&format!(
                    "\nno peer has it yet ({} asked); it will be fetched when one does",
                    caught_up.peers
                ));
            }
        }
        // The design's files go at once, here or in the node alike.
        if let Some(gc) = &recorded.gc {
            text.push('\n');
            text.push_str(&gc_line(gc));
        }
        text
    })
}

fn entry_line(entry: &PolicyEntryView) -> String {
    let reason = if entry.reason.is_empty() { String::new() } else { format!(" ({})", entry.reason) };
    format!("{:>4}  {}  {} {}{reason}", entry.seq, format_time(entry.time), entry.action, entry.subject)
}
