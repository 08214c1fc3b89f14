//! The commands that need the running node's network.

use communs_node::progress::ActivityView;
use communs_node::service::{DialRequest, SyncRequest};
use indicatif::HumanBytes;

use crate::backend::Backend;
use crate::output::Output;
use crate::progress;
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
                if !status.activities.is_empty() {
                    lines.push("  under way:".to_owned());
                    lines.extend(status.activities.iter().map(|a| format!("    {}", activity_line(a))));
                }
                lines.extend(peer_history(&status.peer_history));
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
            let synced =
                backend.sync(SyncRequest { design }, progress::for_work("fetching", out.quiet()).as_ref()).await?;
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

/// `get design1…  41.9 MiB / 200.0 MiB  10.0 MiB/s  from 12D3KooW…  (4 s)`
fn activity_line(activity: &ActivityView) -> String {
    let p = &activity.progress;
    let mut line = format!("{} {}", activity.kind, activity.subject);
    match (p.bytes_done, p.bytes_total) {
        (0, 0) => {}
        (done, 0) => line.push_str(&format!("  {}", HumanBytes(done))),
        (done, total) => line.push_str(&format!("  {} / {}", HumanBytes(done), HumanBytes(total))),
    }
    match (p.items_done, p.items_total) {
        (0, 0) => {}
        (done, 0) => line.push_str(&format!("  {done} items")),
        (done, total) => line.push_str(&format!("  {done} / {total} items")),
    }
    if p.rate_bytes_per_second > 0 {
        line.push_str(&format!("  {}/s", HumanBytes(p.rate_bytes_per_second)));
    }
    if !p.peers.is_empty() {
        line.push_str(&format!("  from {}", p.peers.join(", ")));
    }
    line.push_str(&format!("  ({} s)", p.elapsed_ms / 1000));
    line
}

/// Each known peer's last connection, catch-up and error, saying plainly
/// when no peer was ever connected, and telling "connected, nothing new"
/// from "never caught up".
fn peer_history(history: &[communs_node::net::PeerHistory]) -> Vec<String> {
    use super::format_time;
    if !history.iter().any(|p| p.last_connected_ms.is_some()) {
        let mut lines = vec!["  no peer ever connected".to_owned()];
        for peer in history {
            if let Some(error) = &peer.last_error {
                lines.push(format!("    {}: {} ({})", peer.peer_id, error.error, format_time(error.at_ms)));
            }
        }
        return lines;
    }
    let mut lines = vec!["  peers known:".to_owned()];
    for peer in history {
        let connection = match (peer.connected, peer.last_connected_ms) {
            (true, Some(at)) => format!("connected since {}", format_time(at)),
            (false, Some(at)) => format!("last connected {}", format_time(at)),
            (_, None) => "never connected".to_owned(),
        };
        let catchup = match &peer.last_catchup {
            Some(c) if c.events == 0 => format!("; caught up {}, nothing new", format_time(c.at_ms)),
            Some(c) => format!("; caught up {}, {} new events", format_time(c.at_ms), c.events),
            None => "; never caught up".to_owned(),
        };
        let error = match &peer.last_error {
            Some(e) => format!("; last error {}: {}", format_time(e.at_ms), e.error),
            None => String::new(),
        };
        lines.push(format!("    {}: {connection}{catchup}{error}", peer.peer_id));
    }
    lines
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
