//! The store as a whole: gc, fsck, bundles.

use std::path::PathBuf;

use communs_protocol::DesignId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Service, ServiceError};
use crate::gc::GcReport;
use crate::progress::{Both, Progress};

/// What `fsck` found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FsckResult {
    /// No problem found.
    pub ok: bool,
    /// The store's format version (spec/storage.md, "Format versions").
    pub format: u64,
    pub events: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// Blobs of which only verified parts are here (a transfer to resume).
    pub partial_blobs: usize,
    /// Trees and files named by stored revisions that are not here (yet).
    pub absent_blobs: usize,
    pub problems: Vec<ProblemRow>,
}

/// One thing `fsck` found wrong.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProblemRow {
    /// A stable name for scripts (spec/storage.md).
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

/// Write designs' events and files into one file on the node's machine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportRequest {
    /// The designs to carry (none with `all`).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub designs: Vec<DesignId>,
    /// Every design in the store.
    #[serde(default)]
    pub all: bool,
    /// The bundle file, absolute.
    #[schema(value_type = String)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportResult {
    #[schema(value_type = Vec<String>)]
    pub designs: Vec<DesignId>,
    pub file: String,
    pub events: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// Verify a bundle file on the node's machine completely, then add what
/// the store lacks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportRequest {
    /// The bundle file, absolute.
    #[schema(value_type = String)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportResult {
    #[schema(value_type = Vec<String>)]
    pub designs: Vec<DesignId>,
    pub events: usize,
    /// Events this store did not have.
    pub new_events: usize,
    pub blobs: usize,
    /// Blobs this store did not have.
    pub new_blobs: usize,
}

impl Service {
    /// Collects now: on a running node in a task of its own, so that the
    /// API's workers and the swarm go on meanwhile.
    pub async fn gc(&self) -> Result<GcReport, ServiceError> {
        Ok(match &self.net {
            Some(_) => {
                let node = self.node.clone();
                tokio::spawn(async move { node.gc().await })
                    .await
                    .map_err(|e| ServiceError::Internal(format!("the collection stopped: {e}")))??
            }
            None => self.node.gc().await?,
        })
    }

    /// Re-hashes every blob and re-verifies every event. Problems are in
    /// the result (`ok` false), not an error.
    pub async fn fsck(&self, progress: &dyn Progress) -> Result<FsckResult, ServiceError> {
        let activity = self.node.activities.begin("fsck", "store");
        let report = self.node.fsck(&Both(&activity, progress)).await?;
        Ok(FsckResult {
            ok: report.is_clean(),
            format: self.node.events.format_version().map_err(crate::NodeError::from)?,
            events: report.events,
            blobs: report.blobs,
            bytes: report.bytes,
            partial_blobs: report.partial_blobs,
            absent_blobs: report.absent_blobs,
            problems: report
                .problems
                .into_iter()
                .map(|p| ProblemRow { kind: p.kind.to_owned(), subject: p.subject, detail: p.detail })
                .collect(),
        })
    }

    pub async fn bundle_export(
        &self,
        request: &ExportRequest,
        progress: &dyn Progress,
    ) -> Result<ExportResult, ServiceError> {
        let activity = self.node.activities.begin("export", request.file.display().to_string());
        let progress = &Both(&activity, progress);
        let summary = match (request.all, request.designs.is_empty()) {
            (true, true) => self.node.bundle_export_all(&request.file, progress).await?,
            (false, false) => self.node.bundle_export_many(&request.designs, &request.file, progress).await?,
            (true, false) => return Err(ServiceError::BadRequest("give either designs or all, not both".to_owned())),
            (false, true) => return Err(ServiceError::BadRequest("name the designs to export (or all)".to_owned())),
        };
        Ok(ExportResult {
            designs: summary.designs,
            file: request.file.display().to_string(),
            events: summary.events,
            blobs: summary.blobs,
            bytes: summary.bytes,
        })
    }

    pub async fn bundle_import(
        &self,
        request: &ImportRequest,
        progress: &dyn Progress,
    ) -> Result<ImportResult, ServiceError> {
        let activity = self.node.activities.begin("import", request.file.display().to_string());
        let summary = self.node.bundle_import(&request.file, &Both(&activity, progress)).await?;
        Ok(ImportResult {
            designs: summary.designs,
            events: summary.events,
            new_events: summary.new_events,
            blobs: summary.blobs,
            new_blobs: summary.new_blobs,
        })
    }
}
