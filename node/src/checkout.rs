//! `get`: write a revision's files into a folder.
//!
//! Each file is streamed out of the store and re-hashed on the way; a
//! damaged blob stops the checkout with an error naming it. Paths come from
//! a [`Tree`](communs_protocol::Tree), so they are already relative, free
//! of `..` and safe on every OS; on top of that, nothing is written through
//! a symbolic link, so a link planted in the folder cannot redirect a write
//! outside it.

use std::path::{Path, PathBuf};

use communs_protocol::{DesignId, EventId, ValidatedPath};

use n0_future::{BufferedStreamExt, StreamExt};

use crate::marker::{self, Marker};
use crate::progress::Progress;
use crate::{Node, NodeError};

#[derive(Debug, Clone)]
pub struct CheckedOut {
    pub design: DesignId,
    pub revision: EventId,
    pub files: usize,
    pub bytes: u64,
}

/// How a file's blob is in the store when a checkout writes it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// It was there before: it is hashed again as it is written, so that
    /// damage on disk since it was stored is caught.
    Stored,
    /// It was fetched for this checkout and verified chunk by chunk as it
    /// arrived: written out without a second hash.
    JustVerified,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0} is not empty; use --force to write into it anyway")]
    NotEmpty(PathBuf),
    #[error("{0} is a symbolic link inside the target folder; refusing to write through it")]
    Symlink(PathBuf),
}

impl Node {
    pub async fn get(
        &self,
        design: &DesignId,
        revision: Option<EventId>,
        dir: &Path,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<CheckedOut, NodeError> {
        self.get_with(design, revision, dir, force, progress, |_, _| async { Ok(Arrival::Stored) }).await
    }

    /// [`Node::get`], calling `ensure(i, blob)` before writing file `i` out:
    /// the network fetches a missing blob there, so that the files already
    /// here are written while the others arrive.
    pub async fn get_with<F, Fut>(
        &self,
        design: &DesignId,
        revision: Option<EventId>,
        dir: &Path,
        force: bool,
        progress: &dyn Progress,
        ensure: F,
    ) -> Result<CheckedOut, NodeError>
    where
        F: Fn(usize, communs_protocol::BlobHash) -> Fut + Sync,
        Fut: std::future::Future<Output = Result<Arrival, NodeError>> + Send,
    {
        let view = self.show(design, revision).await?;
        // The files of a design this node no longer keeps stay until written.
        let _held = self.blobs.protect(view.tree.entries().iter().map(|e| e.blob)).await;
        prepare_folder(dir, force)?;
        // The blob store writes to absolute paths only.
        let dir = &dir.canonicalize().map_err(NodeError::io(dir))?;
        progress.start(view.tree.total_size(), view.tree.entries().len());
        // Folders first, in order; then the files, several at once.
        let targets = view
            .tree
            .entries()
            .iter()
            .map(|entry| target_path(dir, &entry.path).map(|target| (entry, target)))
            .collect::<Result<Vec<_>, NodeError>>()?;
        // Collected first, as in `publish::import_files` (rust-lang/rust#102211).
        let ensure = &ensure;
        let writes: Vec<_> = targets
            .into_iter()
            .enumerate()
            .map(|(i, (entry, target))| async move {
                let arrival = ensure(i, entry.blob).await?;
                let exported = match arrival {
                    Arrival::Stored => self.blobs.export(&entry.blob, entry.size, &target).await,
                    Arrival::JustVerified => self.blobs.export_just_verified(&entry.blob, entry.size, &target).await,
                };
                exported.map_err(|source| NodeError::File { path: entry.path.to_string(), source })?;
                // A copy takes the store file's mode (not executable); only an
                // executable file needs another.
                if entry.executable {
                    make_executable(&target)?;
                }
                // A file fetched for this checkout was counted as it arrived.
                if arrival == Arrival::Stored {
                    progress.advance(entry.size);
                }
                progress.advance_items(1);
                Ok::<(), NodeError>(())
            })
            .collect();
        let results: Vec<Result<(), NodeError>> =
            n0_future::stream::iter(writes).buffered_unordered(WRITE_CONCURRENCY).collect().await;
        results.into_iter().collect::<Result<(), NodeError>>()?;
        progress.finish();
        marker::write(dir, &Marker { design: *design, revision: view.revision })?;
        Ok(CheckedOut {
            design: *design,
            revision: view.revision,
            files: view.tree.entries().len(),
            bytes: view.tree.total_size(),
        })
    }
}

/// Files written at once, so that the store's per-file round trips
/// overlap.
const WRITE_CONCURRENCY: usize = 8;

/// Creates `dir`, or checks that it is empty (unless `force`).
fn prepare_folder(dir: &Path, force: bool) -> Result<(), NodeError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(CheckoutError::NotEmpty(dir.to_owned()).into());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir).map_err(NodeError::io(dir)),
        Err(e) => Err(NodeError::io(dir)(e)),
    }
}

/// The file's place under `dir`, with its folders created. Refuses any
/// symbolic link on the way, and removes one at the file's own place (with
/// `--force`, a link there would otherwise be written through).
fn target_path(dir: &Path, path: &ValidatedPath) -> Result<PathBuf, NodeError> {
    let mut current = dir.to_owned();
    let segments: Vec<&str> = path.segments().collect();
    for (i, segment) in segments.iter().enumerate() {
        current.push(segment);
        let last = i + 1 == segments.len();
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if last {
                    std::fs::remove_file(&current).map_err(NodeError::io(&current))?;
                } else {
                    return Err(CheckoutError::Symlink(current).into());
                }
            }
            Ok(meta) if !last && !meta.is_dir() => {
                std::fs::remove_file(&current).map_err(NodeError::io(&current))?;
                std::fs::create_dir(&current).map_err(NodeError::io(&current))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !last {
                    std::fs::create_dir(&current).map_err(NodeError::io(&current))?;
                }
            }
            Err(e) => return Err(NodeError::io(&current)(e)),
        }
    }
    Ok(current)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(NodeError::io(path))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), NodeError> {
    Ok(())
}
