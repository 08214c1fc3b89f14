//! The commands that need the running node's network.

use communs_node::service::SyncRequest;

use crate::backend::Backend;
use crate::output::Output;
use crate::{Command, NodeCommand};

pub(super) async fn run(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Node(NodeCommand::Status) => {
            let status = backend.node_status().await?;
            out.show(&status, || {
                let mut lines = vec![
                    format!("Node {} (author {})", status.peer_id, status.author),
                    format!("  listening on {}", status.listen.join(", ")),
                    format!("  API on http://{}", status.api),
                    format!("  {} peers, {} designs kept", status.peers.len(), status.kept),
                ];
                if status.redialling > 0 {
                    lines.push(format!("  {} known peers not connected, redialling", status.redialling));
                }
                if status.seed_all {
                    lines.push("  seeding every design it hears of".to_owned());
                }
                if status.pending_events > 0 {
                    lines.push(format!("  {} events wait for their parents", status.pending_events));
                }
                lines.join("\n")
            })
        }
        Command::Peers => {
            let peers = backend.peers().await?;
            out.show(&peers, || {
                if peers.is_empty() {
                    return "No peers connected.".to_owned();
                }
                peers
                    .iter()
                    .map(|p| {
                        let score = p.score.map(|s| format!("  score {s:.1}")).unwrap_or_default();
                        format!("{}  {}{score}", p.peer_id, p.addresses.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Sync { design } => {
            let synced = backend.sync(SyncRequest { design }).await?;
            let report = &synced.catch_up;
            for failure in &report.failures {
                out.warn(&format!("peer {}: {}", failure.peer_id, failure.reason));
            }
            for error in &synced.errors {
                out.warn(error);
            }
            let fetched: usize = synced.files.iter().map(|f| f.fetched).sum();
            out.show(&synced, || {
                let failed = match report.failed_peers {
                    0 => String::new(),
                    n => format!(" ({n} could not be reached or caught up with)"),
                };
                format!(
                    "Caught up with {} peers{failed}: {} new events in {} round trips; {} blobs fetched",
                    report.peers, report.added, report.rounds, fetched
                )
            })?;
            if report.peers == 0 {
                match report.failed_peers {
                    0 => anyhow::bail!("no peer to catch up with: none is connected or known"),
                    n => anyhow::bail!("could not catch up with any peer: {n} failed"),
                }
            }
            Ok(())
        }
        _ => anyhow::bail!("not a network command"),
    }
}
