//! The commands that need the running node's network.

use communs_node::net::{FetchReport, Interest, Network, SEED_BATCH};
use serde_json::json;

use crate::output::Output;
use crate::{Command, NodeCommand};

pub(super) async fn run(net: &Network, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Node(NodeCommand::Status) => {
            let status = communs_node::api::ApiState::status_of(net).await?;
            out.print(serde_json::to_value(&status)?, || {
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
            });
        }
        Command::Peers => {
            let peers = net.status().await?.peers;
            out.print(serde_json::to_value(&peers)?, || {
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
            });
        }
        Command::Sync { design } => {
            let scope = match design {
                Some(design) => Interest::designs([design]),
                None => net.own_scope()?,
            };
            let report = net.catch_up_all(&scope).await;
            let designs = match design {
                Some(design) => vec![design],
                None => net.node().kept_designs()?,
            };
            let mut present = Vec::with_capacity(designs.len());
            for design in designs {
                if net.node().has_design(&design)? {
                    present.push((design, None));
                }
            }
            let mut files: Vec<FetchReport> = Vec::new();
            let mut errors = Vec::new();
            // Fetched together, as the seeder does: many designs' trees and
            // small files share streams.
            for batch in present.chunks(SEED_BATCH) {
                for (design, fetched) in net.fetch_revisions(batch).await {
                    match fetched {
                        Ok(fetched) => files.push(fetched),
                        Err(e) => errors.push(format!("{design}: {e}")),
                    }
                }
            }
            for failure in &report.failures {
                out.warn(&format!("peer {}: {}", failure.peer_id, failure.reason));
            }
            for error in &errors {
                out.warn(error);
            }
            let fetched: usize = files.iter().map(|f| f.fetched).sum();
            out.print(json!({ "catch_up": report, "files": files, "errors": errors }), || {
                let failed = match report.failed_peers {
                    0 => String::new(),
                    n => format!(" ({n} could not be reached or caught up with)"),
                };
                format!(
                    "Caught up with {} peers{failed}: {} new events in {} round trips; {} blobs fetched",
                    report.peers, report.added, report.rounds, fetched
                )
            });
            if report.peers == 0 {
                match report.failed_peers {
                    0 => anyhow::bail!("no peer to catch up with: none is connected or known"),
                    n => anyhow::bail!("could not catch up with any peer: {n} failed"),
                }
            }
        }
        _ => unreachable!("dispatched to another module"),
    }
    Ok(())
}
