//! The commands that need the running node's network.

use communs_node::service::{DialRequest, SyncRequest};

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
                if status.seed != "followed" {
                    lines.push(format!("  hosting the files of: {}", status.seed));
                }
                lines.push(storage_line(&status.storage));
                if status.storage.evicted_designs > 0 {
                    lines.push(format!(
                        "  gave up the files of {} designs ({}) to stay under the limit; last: {}",
                        status.storage.evicted_designs,
                        bytesize::ByteSize(status.storage.evicted_bytes),
                        status.storage.last_evicted.join(", ")
                    ));
                }
                if status.storage.set_aside > 0 {
                    lines.push(format!(
                        "  {} designs kept without their files for lack of space",
                        status.storage.set_aside
                    ));
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
        Command::Dial { address } => {
            let dialled = backend.dial(&DialRequest { address }).await?;
            out.show(&dialled, || format!("Connected to {} at {}", dialled.peer_id, dialled.address))
        }
        Command::Ui { print } => {
            let link = backend.ui_login_link().await?;
            let desktop =
                ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
            // A browser of this desktop session, if there is one; the link
            // is printed either way, for a browser started by hand.
            let opened = !print
                && desktop
                && std::process::Command::new("xdg-open")
                    .arg(&link.url)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .is_ok();
            out.show(&serde_json::json!({ "url": link.url, "opened": opened }), || {
                let how = if opened { "Opened in your browser" } else { "Open in a browser on this machine" };
                format!("{how} (the link works once, within ten minutes):\n{}", link.url)
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

/// How full the store is, for a person.
fn storage_line(storage: &communs_node::disk::StorageStatus) -> String {
    let used = bytesize::ByteSize(storage.used_bytes);
    match storage.max_bytes {
        Some(max) => format!(
            "  store: {used} of {} ({:.0}%)",
            bytesize::ByteSize(max),
            storage.used_bytes as f64 * 100.0 / max.max(1) as f64
        ),
        None => format!("  store: {used}, no limit"),
    }
}
