//! `backup`: the node's identity, config, policy and events (files
//! optional) written into a folder of the node's machine, by the process
//! that holds the store (spec/storage.md, "Backups").

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Service, ServiceError};
use crate::backup::BackupSummary;
use crate::progress::Progress;

/// Write a backup of this node into a folder of the node's machine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupRequest {
    /// The folder, absolute: new or empty, unless `overwrite`.
    #[schema(value_type = String)]
    pub dir: PathBuf,
    /// Also the files (trees and file contents) this node holds.
    #[serde(default)]
    pub files: bool,
    /// Write into a folder that is not empty.
    #[serde(default)]
    pub overwrite: bool,
}

/// What a backup holds, or what a restore put back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupResult {
    /// The backup's folder (for a restore, the data directory).
    pub dir: String,
    /// The author whose secret key the backup holds.
    pub author: String,
    pub designs: usize,
    /// Events of designs, and profiles.
    pub events: usize,
    pub policy_entries: usize,
    /// Trees and files carried.
    pub blobs: usize,
    pub bytes: u64,
    /// Whether the files were backed up.
    pub files: bool,
}

impl From<BackupSummary> for BackupResult {
    fn from(s: BackupSummary) -> Self {
        BackupResult {
            dir: s.dir.display().to_string(),
            author: s.author.to_string(),
            designs: s.designs,
            events: s.events,
            policy_entries: s.policy_entries,
            blobs: s.blobs,
            bytes: s.bytes,
            files: s.files,
        }
    }
}

impl Service {
    pub async fn backup(&self, request: &BackupRequest, progress: &dyn Progress) -> Result<BackupResult, ServiceError> {
        Ok(self.node.backup(&request.dir, request.files, request.overwrite, progress).await?.into())
    }
}
