//! The node's local policy: follow, mute, pin, and the log of it.

use communs_node::service::{PolicyChange, PolicyEntryView, PolicyRecorded, SyncRequest, SyncResult};

use super::design::gc_line;
use super::format_time;
use crate::Command;
use crate::backend::Backend;
use crate::output::Output;
use crate::progress;

pub(super) async fn run(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    let change = match command {
        Command::Follow { design, reason, wait } => {
            return follow(backend, design, reason, wait, out).await;
        }
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
    out.show(&recorded, || recorded_text(&recorded))
}

/// A follow, and with `wait` on a running node, the fetch of the design's
/// files (a sync of that design, whose progress the node streams back).
async fn follow(
    backend: &Backend,
    design: communs_protocol::DesignId,
    reason: String,
    wait: bool,
    out: &Output,
) -> anyhow::Result<()> {
    let recorded = backend.set_policy(PolicyChange::Follow { design, reason }).await?;
    let files = match (wait, recorded.present) {
        (true, Some(true)) => {
            let bar = progress::for_work("fetching", out.quiet());
            Some(backend.sync(SyncRequest { design: Some(design) }, bar.as_ref()).await?)
        }
        _ => None,
    };
    if let Some(files) = &files {
        for error in &files.errors {
            out.warn(error);
        }
    }
    let followed = Followed { recorded: &recorded, files: files.as_ref() };
    out.show(&followed, || {
        let mut text = recorded_text(&recorded);
        if let Some(files) = &files {
            let fetched: usize = files.files.iter().map(|f| f.fetched).sum();
            let bytes: u64 = files.files.iter().map(|f| f.bytes).sum();
            text.push_str(&match files.errors.is_empty() {
                true => format!("\nits files are here: {fetched} fetched ({})", indicatif::HumanBytes(bytes)),
                false => "\nsome of its files could not be fetched yet; the node keeps trying".to_owned(),
            });
        }
        text
    })
}

/// A follow's answer, with the files fetched when it waited for them.
#[derive(serde::Serialize)]
struct Followed<'a> {
    #[serde(flatten)]
    recorded: &'a PolicyRecorded,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<&'a SyncResult>,
}

fn recorded_text(recorded: &PolicyRecorded) -> String {
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
}

fn entry_line(entry: &PolicyEntryView) -> String {
    let reason = if entry.reason.is_empty() { String::new() } else { format!(" ({})", entry.reason) };
    format!("{:>4}  {}  {} {}{reason}", entry.seq, format_time(entry.time), entry.action, entry.subject)
}
