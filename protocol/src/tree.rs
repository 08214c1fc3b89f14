//! The file tree of one revision.
//!
//! A tree is itself a blob: its canonical encoding is hashed and stored like
//! any file, and a `Revision` names it by that hash. Decoding enforces every
//! rule, so a tree that reaches a checkout can be written as it is.

use std::collections::HashMap;

use crate::cbor::{self, DecodeError, Value, array_n, boolean, bytes_n, list, text, uint, uint_value};
use crate::hash::BlobHash;
use crate::limits::{MAX_BLOB_BYTES, MAX_PATH_BYTES, MAX_TREE_BYTES, MAX_TREE_ENTRIES};
use crate::path::{PathError, ValidatedPath, fold_case};

/// The only tree format version this implementation reads and writes.
pub const TREE_VERSION: u64 = 1;

/// One file of a design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: ValidatedPath,
    pub blob: BlobHash,
    pub size: u64,
    pub executable: bool,
}

/// A valid tree: sorted by path, no two paths colliding on any OS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    entries: Vec<TreeEntry>,
}

/// Why a set of entries is not a valid tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("path {path:?}: {source}")]
    Path { path: String, source: PathError },
    #[error("{count} files, over the limit of {max}")]
    TooManyEntries { count: usize, max: usize },
    #[error("{path}: {size} bytes, over the limit of {max} per file")]
    FileTooLarge { path: ValidatedPath, size: u64, max: u64 },
    #[error("entries are not sorted by path, or a path appears twice (at {path})")]
    NotSorted { path: ValidatedPath },
    #[error("{a} and {b} differ only by case and would be one file on Windows and macOS")]
    CaseCollision { a: String, b: String },
    #[error("{path} is both a file and a folder")]
    FileFolderConflict { path: String },
    #[error("the encoded tree would be {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

impl TreeError {
    /// A short, stable name for the reason, used by the spec's test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            TreeError::Decode(e) => e.reason(),
            TreeError::Path { source, .. } => source.reason(),
            TreeError::TooManyEntries { .. } => "too-many-entries",
            TreeError::FileTooLarge { .. } => "file-too-large",
            TreeError::NotSorted { .. } => "not-sorted",
            TreeError::CaseCollision { .. } => "case-collision",
            TreeError::FileFolderConflict { .. } => "file-folder-conflict",
            TreeError::TooLarge { .. } => "too-large",
        }
    }
}

impl Tree {
    /// Builds a tree from entries in any order.
    pub fn new(mut entries: Vec<TreeEntry>) -> Result<Self, TreeError> {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let tree = Tree { entries };
        tree.check()?;
        let len = tree.encode().len();
        if len > MAX_TREE_BYTES {
            return Err(TreeError::TooLarge { len, max: MAX_TREE_BYTES });
        }
        Ok(tree)
    }

    pub fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    /// Sum of the file sizes.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The canonical encoding: `[version, [[path, blob, size, executable], ...]]`.
    pub fn encode(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .map(|e| {
                Value::Array(vec![
                    Value::Text(e.path.as_str().to_owned()),
                    Value::Bytes(e.blob.as_bytes().to_vec()),
                    uint_value(e.size),
                    Value::Bool(e.executable),
                ])
            })
            .collect();
        cbor::encode(&Value::Array(vec![uint_value(TREE_VERSION), Value::Array(entries)]))
    }

    /// The blob hash under which this tree is stored and referenced.
    pub fn hash(&self) -> BlobHash {
        BlobHash::of(&self.encode())
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TreeError> {
        let value = cbor::decode(bytes, MAX_TREE_BYTES).map_err(DecodeError::from)?;
        let [version, entries] = array_n(&value, "tree")?;
        let version = uint(version, "tree.version")?;
        if version != TREE_VERSION {
            return Err(DecodeError::UnknownVersion { what: "tree", found: version, known: TREE_VERSION }.into());
        }
        let Value::Array(items) = entries else {
            return Err(DecodeError::Shape { field: "tree.entries", expected: "an array" }.into());
        };
        if items.len() > MAX_TREE_ENTRIES {
            return Err(TreeError::TooManyEntries { count: items.len(), max: MAX_TREE_ENTRIES });
        }
        let entries = list(entries, "tree.entries", MAX_TREE_ENTRIES, |item| {
            let [path, blob, size, executable] = array_n(item, "tree.entry")?;
            Ok((
                text(path, "tree.entry.path", MAX_PATH_BYTES)?.to_owned(),
                BlobHash(crate::Hash::from_bytes(bytes_n(blob, "tree.entry.blob")?)),
                uint(size, "tree.entry.size")?,
                boolean(executable, "tree.entry.executable")?,
            ))
        })?;
        let entries = entries
            .into_iter()
            .map(|(path, blob, size, executable)| {
                let path = ValidatedPath::new(&path).map_err(|source| TreeError::Path { path, source })?;
                Ok(TreeEntry { path, blob, size, executable })
            })
            .collect::<Result<Vec<_>, TreeError>>()?;
        let tree = Tree { entries };
        tree.check()?;
        Ok(tree)
    }

    /// The rules a sorted list of entries must keep (spec/paths.md).
    fn check(&self) -> Result<(), TreeError> {
        if self.entries.len() > MAX_TREE_ENTRIES {
            return Err(TreeError::TooManyEntries { count: self.entries.len(), max: MAX_TREE_ENTRIES });
        }
        for pair in self.entries.windows(2) {
            if pair[0].path >= pair[1].path {
                return Err(TreeError::NotSorted { path: pair[1].path.clone() });
            }
        }
        // Every file and every folder it implies, under its case-folded key:
        // two different spellings of one key collide, and one spelling used
        // as a file and as a folder conflicts.
        let mut seen: HashMap<String, (&str, bool)> = HashMap::new();
        for entry in &self.entries {
            if entry.size > MAX_BLOB_BYTES {
                return Err(TreeError::FileTooLarge {
                    path: entry.path.clone(),
                    size: entry.size,
                    max: MAX_BLOB_BYTES,
                });
            }
            let path = entry.path.as_str();
            let folders = path.match_indices('/').map(|(i, _)| (&path[..i], false));
            for (prefix, is_file) in folders.chain(std::iter::once((path, true))) {
                match seen.get(&fold_case(prefix)) {
                    Some(&(other, _)) if other != prefix => {
                        return Err(TreeError::CaseCollision { a: other.to_owned(), b: prefix.to_owned() });
                    }
                    Some(&(_, other_is_file)) if other_is_file || is_file => {
                        return Err(TreeError::FileFolderConflict { path: prefix.to_owned() });
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(fold_case(prefix), (prefix, is_file));
                    }
                }
            }
        }
        Ok(())
    }
}
