//! `backup` and `restore`: a node's identity, config, policy and events
//! (files optional) in a folder, and back (spec/storage.md, "Backups").

use anyhow::Context;
use communs_node::Home;
use communs_node::service::{BackupRequest, BackupResult};
use indicatif::HumanBytes;

use super::path_for;
use crate::backend::Backend;
use crate::output::Output;
use crate::progress;

pub(super) async fn backup(
    backend: &Backend,
    dir: std::path::PathBuf,
    files: bool,
    overwrite: bool,
    out: &Output,
) -> anyhow::Result<()> {
    let quiet = out.quiet();
    let request = BackupRequest { dir: path_for(backend, &dir)?, files, overwrite };
    let result = backend.backup(request, progress::for_work("backing up", quiet).as_ref()).await?;
    out.warn(&format!(
        "{} holds this node's secret key: whoever reads it can sign as {}. Keep the backup as safe as the node",
        dir.join("identity.key").display(),
        result.author
    ));
    out.show(&result, || format!("Backed up {} to {}", contents(&result), dir.display()))
}

/// Runs in the CLI only: the data directory has no identity, so no node
/// can run on it.
pub(super) async fn restore(home: &Home, dir: &std::path::Path, out: &Output) -> anyhow::Result<()> {
    let bar = progress::for_work("restoring", out.quiet());
    let summary = communs_node::backup::restore(home, dir, bar.as_ref())
        .await
        .with_context(|| format!("restoring {}", dir.display()))?;
    let result = BackupResult::from(summary);
    out.show(&result, || {
        let files = if result.files {
            String::new()
        } else {
            "\nThe backup holds no files: a running node fetches those of followed designs from peers".to_owned()
        };
        format!("Restored {} into {}{files}", contents(&result), result.dir)
    })
}

fn contents(result: &BackupResult) -> String {
    format!(
        "identity {}, {} designs ({} events), {} policy entries, {}",
        result.author,
        result.designs,
        result.events,
        result.policy_entries,
        if result.files {
            format!("{} files ({})", result.blobs, HumanBytes(result.bytes))
        } else {
            "no files".to_owned()
        }
    )
}
