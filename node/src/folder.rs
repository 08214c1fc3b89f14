//! Reading a maker's design folder: which files a publish takes.
//!
//! Everything under the folder is published except `.git/`, the checkout
//! marker `.communs`, and what `.communsignore` files name (gitignore
//! syntax, nested files apply to their subfolder). Symbolic links are
//! refused, not followed: a link can point outside the folder, and a design
//! checked out on Windows cannot hold one; the error says how to fix it.

use std::path::{Path, PathBuf};

use communs_protocol::limits::MAX_BLOB_BYTES;
use communs_protocol::{PathError, ValidatedPath};

/// Name of the ignore files, in gitignore syntax.
pub(crate) const IGNORE_FILE: &str = ".communsignore";

/// One file to publish.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    pub path: ValidatedPath,
    pub absolute: PathBuf,
    pub size: u64,
    pub executable: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{0}: no such folder")]
    Missing(PathBuf),
    #[error("{0}: not a folder")]
    NotAFolder(PathBuf),
    #[error("{0}: symbolic links are not published; replace it with the file, or list it in {IGNORE_FILE}")]
    Symlink(PathBuf),
    #[error("{path}: this name cannot be published: {source}; rename it, or list it in {IGNORE_FILE}")]
    BadName { path: PathBuf, source: PathError },
    #[error("{0}: the name is not valid UTF-8; rename it, or list it in {IGNORE_FILE}")]
    NotUtf8(PathBuf),
    #[error("{path}: {size} bytes, over the limit of {max} bytes per file")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("reading the folder: {0}")]
    Walk(#[from] ignore::Error),
}

/// The folder's canonical absolute path.
pub(crate) fn absolute(root: &Path) -> Result<PathBuf, FolderError> {
    root.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FolderError::Missing(root.to_owned()),
        _ => FolderError::Io { path: root.to_owned(), source: e },
    })
}

/// Lists the files to publish from `root`, sorted by path.
pub(crate) fn scan(root: &Path) -> Result<Vec<LocalFile>, FolderError> {
    let meta = std::fs::metadata(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FolderError::Missing(root.to_owned()),
        _ => FolderError::Io { path: root.to_owned(), source: e },
    })?;
    if !meta.is_dir() {
        return Err(FolderError::NotAFolder(root.to_owned()));
    }
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .filter_entry(|entry| !matches!(entry.file_name().to_str(), Some(".git" | ".communs")))
        .build();
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry?;
        let absolute = entry.path();
        let Some(file_type) = entry.file_type() else { continue };
        if file_type.is_symlink() {
            return Err(FolderError::Symlink(absolute.to_owned()));
        }
        if !file_type.is_file() {
            continue;
        }
        let relative = absolute.strip_prefix(root).unwrap_or(absolute);
        let Some(name) = relative.to_str() else {
            return Err(FolderError::NotUtf8(absolute.to_owned()));
        };
        let name = name.replace(std::path::MAIN_SEPARATOR, "/");
        let path = ValidatedPath::normalize(&name)
            .map_err(|source| FolderError::BadName { path: absolute.to_owned(), source })?;
        let meta = entry.metadata().map_err(FolderError::Walk)?;
        if meta.len() > MAX_BLOB_BYTES {
            return Err(FolderError::TooLarge { path: absolute.to_owned(), size: meta.len(), max: MAX_BLOB_BYTES });
        }
        files.push(LocalFile {
            path,
            absolute: absolute.to_owned(),
            size: meta.len(),
            executable: is_executable(&meta),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}
