//! The `.communs` marker of a design folder.
//!
//! A folder that was published or checked out records which design and
//! revision it holds, so that the next `publish` from it adds a revision on
//! top instead of creating a new design, like a git work tree knows its
//! branch. The path rules forbid `.communs` inside a tree, so a design can
//! never overwrite it.

use std::path::Path;

use communs_protocol::{DesignId, EventId};
use serde::{Deserialize, Serialize};

pub const MARKER_FILE: &str = ".communs";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub design: DesignId,
    pub revision: EventId,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkerFile {
    design: String,
    revision: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("{path}: not a valid communs marker ({detail}); delete it to publish this folder as a new design")]
    Malformed { path: std::path::PathBuf, detail: String },
}

/// Reads the marker of `folder`, if there is one.
pub fn read(folder: &Path) -> Result<Option<Marker>, MarkerError> {
    let path = folder.join(MARKER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MarkerError::Io { path, source }),
    };
    let malformed = |detail: String| MarkerError::Malformed { path: path.clone(), detail };
    let file: MarkerFile = toml::from_str(&text).map_err(|e| malformed(e.message().to_owned()))?;
    Ok(Some(Marker {
        design: file.design.parse().map_err(|e: communs_protocol::text_id::IdError| malformed(e.to_string()))?,
        revision: file.revision.parse().map_err(|e: communs_protocol::text_id::IdError| malformed(e.to_string()))?,
    }))
}

/// Records that `folder` holds `marker`.
pub fn write(folder: &Path, marker: &Marker) -> Result<(), MarkerError> {
    let path = folder.join(MARKER_FILE);
    let text = format!(
        "# This folder holds a communs design; `communs publish` here adds a revision on top.\n{}",
        toml::to_string(&MarkerFile { design: marker.design.to_string(), revision: marker.revision.to_string() })
            .unwrap_or_default()
    );
    crate::atomic::write_atomically(&path, text.as_bytes(), 0o644).map_err(|source| MarkerError::Io { path, source })
}
