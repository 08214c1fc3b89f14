//! `gc`: give back the space of blobs nothing kept names.

use communs_node::Node;
use communs_node::gc::GcReport;
use communs_node::net::Network;
use indicatif::HumanBytes;

use crate::output::Output;

pub(super) async fn run(node: &Node, net: Option<&Network>, out: &Output) -> anyhow::Result<()> {
    let report = collect(node, net).await?;
    out.print(serde_json::to_value(&report)?, || line(&report));
    Ok(())
}

/// Collects now: in a task of its own on a running node, so that the
/// API's workers and the swarm go on meanwhile.
pub(super) async fn collect(node: &Node, net: Option<&Network>) -> anyhow::Result<GcReport> {
    Ok(match net {
        Some(net) => {
            let node = net.node().clone();
            tokio::spawn(async move { node.gc().await }).await??
        }
        None => node.gc().await?,
    })
}

pub(super) fn line(report: &GcReport) -> String {
    format!(
        "Freed {} blobs ({}) in {} ms; {} blobs kept",
        report.freed_blobs,
        HumanBytes(report.freed_bytes),
        report.millis,
        report.kept_blobs
    )
}
