//! Where a command runs: on the store this process opened, or in the node
//! running on the same data directory, through its API. Both take the
//! same typed requests of `communs_node::service` and give back the same
//! typed results, so that a command prints the same bytes either way.

use communs_node::gc::GcReport;
use communs_node::net::PeerInfo;
use communs_node::progress::Progress;
use communs_node::service::*;
use communs_protocol::{DesignId, EventId};

use crate::client::Remote;

pub(crate) enum Backend {
    Local(Service),
    Remote(Remote),
}

impl Backend {
    pub(crate) async fn publish(&self, request: PublishRequest, bar: &dyn Progress) -> anyhow::Result<PublishResult> {
        match self {
            Backend::Local(s) => Ok(s.publish(request, bar).await?),
            Backend::Remote(r) => r.post_watched("/v1/designs", &request, bar).await,
        }
    }

    pub(crate) async fn list(&self, request: ListRequest) -> anyhow::Result<DesignPage> {
        match self {
            Backend::Local(s) => Ok(s.list(&request)?),
            Backend::Remote(r) => r.get("/v1/designs", &request).await,
        }
    }

    pub(crate) async fn catalog(&self, request: CatalogRequest) -> anyhow::Result<CatalogPage> {
        match self {
            Backend::Local(s) => Ok(s.catalog(&request)?),
            Backend::Remote(r) => r.get("/v1/catalog", &request).await,
        }
    }

    pub(crate) async fn show(&self, design: DesignId, revision: Option<EventId>) -> anyhow::Result<DesignView> {
        match self {
            Backend::Local(s) => Ok(s.show(&design, revision).await?),
            Backend::Remote(r) => r.get(&format!("/v1/designs/{design}"), &RevisionQuery { revision }).await,
        }
    }

    pub(crate) async fn search(&self, request: SearchRequest) -> anyhow::Result<SearchResults> {
        match self {
            Backend::Local(s) => Ok(s.search(&request).await?),
            Backend::Remote(r) => r.get("/v1/search", &request).await,
        }
    }

    /// A revision's manifest as an OKH file.
    pub(crate) async fn okh(
        &self,
        design: DesignId,
        revision: Option<EventId>,
        format: OkhFormat,
    ) -> anyhow::Result<String> {
        match self {
            Backend::Local(s) => Ok(s.okh(&design, revision, format).await?),
            Backend::Remote(r) => {
                let path = format!("/v1/designs/{design}/{}", format.file_name());
                r.get_text(&path, &RevisionQuery { revision }).await
            }
        }
    }

    pub(crate) async fn log(&self, design: DesignId, request: LogRequest) -> anyhow::Result<EventPage> {
        match self {
            Backend::Local(s) => Ok(s.log(&design, &request)?),
            Backend::Remote(r) => r.get(&format!("/v1/designs/{design}/log"), &request).await,
        }
    }

    pub(crate) async fn get(
        &self,
        design: DesignId,
        request: GetRequest,
        bar: &dyn Progress,
    ) -> anyhow::Result<GetResult> {
        match self {
            Backend::Local(s) => Ok(s.get(design, &request, bar).await?),
            Backend::Remote(r) => r.post_watched(&format!("/v1/designs/{design}/get"), &request, bar).await,
        }
    }

    pub(crate) async fn fork(&self, design: DesignId, request: ForkRequest) -> anyhow::Result<ForkResult> {
        match self {
            Backend::Local(s) => Ok(s.fork(design, request)?),
            Backend::Remote(r) => r.post(&format!("/v1/designs/{design}/fork"), &request).await,
        }
    }

    pub(crate) async fn approve(&self, design: DesignId, request: TargetRequest) -> anyhow::Result<GovernanceResult> {
        match self {
            Backend::Local(s) => Ok(s.approve(&design, request)?),
            Backend::Remote(r) => r.post(&format!("/v1/designs/{design}/approvals"), &request).await,
        }
    }

    pub(crate) async fn retract(&self, design: DesignId, request: TargetRequest) -> anyhow::Result<GovernanceResult> {
        match self {
            Backend::Local(s) => Ok(s.retract(&design, request)?),
            Backend::Remote(r) => r.post(&format!("/v1/designs/{design}/retractions"), &request).await,
        }
    }

    pub(crate) async fn propose(&self, design: DesignId, request: ProposeRequest) -> anyhow::Result<GovernanceResult> {
        match self {
            Backend::Local(s) => Ok(s.propose(&design, request)?),
            Backend::Remote(r) => r.post(&format!("/v1/designs/{design}/proposals"), &request).await,
        }
    }

    pub(crate) async fn status(&self, design: DesignId) -> anyhow::Result<StatusResult> {
        match self {
            Backend::Local(s) => Ok(s.status(&design)?),
            Backend::Remote(r) => r.get(&format!("/v1/designs/{design}/status"), &()).await,
        }
    }

    pub(crate) async fn policy(&self) -> anyhow::Result<PolicyView> {
        match self {
            Backend::Local(s) => Ok(s.policy()?),
            Backend::Remote(r) => r.get("/v1/policy", &()).await,
        }
    }

    pub(crate) async fn set_policy(&self, change: PolicyChange) -> anyhow::Result<PolicyRecorded> {
        match self {
            Backend::Local(s) => Ok(s.set_policy(change).await?),
            Backend::Remote(r) => r.post("/v1/policy", &change).await,
        }
    }

    pub(crate) async fn gc(&self) -> anyhow::Result<GcReport> {
        match self {
            Backend::Local(s) => Ok(s.gc().await?),
            Backend::Remote(r) => r.post("/v1/gc", &()).await,
        }
    }

    pub(crate) async fn fsck(&self, bar: &dyn Progress) -> anyhow::Result<FsckResult> {
        match self {
            Backend::Local(s) => Ok(s.fsck(bar).await?),
            Backend::Remote(r) => r.post_watched("/v1/fsck", &(), bar).await,
        }
    }

    pub(crate) async fn backup(&self, request: BackupRequest, bar: &dyn Progress) -> anyhow::Result<BackupResult> {
        match self {
            Backend::Local(s) => Ok(s.backup(&request, bar).await?),
            Backend::Remote(r) => r.post_watched("/v1/backup", &request, bar).await,
        }
    }

    pub(crate) async fn bundle_export(
        &self,
        request: ExportRequest,
        bar: &dyn Progress,
    ) -> anyhow::Result<ExportResult> {
        match self {
            Backend::Local(s) => Ok(s.bundle_export(&request, bar).await?),
            Backend::Remote(r) => r.post_watched("/v1/bundles/export", &request, bar).await,
        }
    }

    pub(crate) async fn bundle_import(
        &self,
        request: ImportRequest,
        bar: &dyn Progress,
    ) -> anyhow::Result<ImportResult> {
        match self {
            Backend::Local(s) => Ok(s.bundle_import(&request, bar).await?),
            Backend::Remote(r) => r.post_watched("/v1/bundles/import", &request, bar).await,
        }
    }

    pub(crate) async fn sync(&self, request: SyncRequest, bar: &dyn Progress) -> anyhow::Result<SyncResult> {
        match (self, request.design) {
            (Backend::Local(s), _) => Ok(s.sync(request, bar).await?),
            (Backend::Remote(r), Some(design)) => r.post_watched(&format!("/v1/designs/{design}/sync"), &(), bar).await,
            (Backend::Remote(r), None) => r.post_watched("/v1/sync", &(), bar).await,
        }
    }

    pub(crate) async fn node_status(&self) -> anyhow::Result<NodeStatus> {
        match self {
            // A store opened here has no network, hence no status.
            Backend::Local(_) => Err(ServiceError::NoNetwork.into()),
            Backend::Remote(r) => r.get("/v1/node", &()).await,
        }
    }

    pub(crate) async fn comment(&self, design: DesignId, request: CommentRequest) -> anyhow::Result<Signed> {
        match self {
            Backend::Local(s) => Ok(s.comment(design, request).await?),
            Backend::Remote(r) => r.post(&format!("/v1/designs/{design}/comments"), &request).await,
        }
    }

    pub(crate) async fn comments(&self, design: DesignId) -> anyhow::Result<CommentThreads> {
        match self {
            Backend::Local(s) => Ok(s.comments(design)?),
            Backend::Remote(r) => r.get(&format!("/v1/designs/{design}/comments"), &()).await,
        }
    }

    pub(crate) async fn report_make(&self, design: DesignId, request: MakeRequest) -> anyhow::Result<Signed> {
        match self {
            Backend::Local(s) => Ok(s.report_make(design, request).await?),
            Backend::Remote(r) => r.post(&format!("/v1/designs/{design}/makes"), &request).await,
        }
    }

    pub(crate) async fn make_reports(&self, design: DesignId) -> anyhow::Result<MakeReports> {
        match self {
            Backend::Local(s) => Ok(s.make_reports(design)?),
            Backend::Remote(r) => r.get(&format!("/v1/designs/{design}/makes"), &()).await,
        }
    }

    pub(crate) async fn set_profile(&self, request: ProfileRequest) -> anyhow::Result<Signed> {
        match self {
            Backend::Local(s) => Ok(s.set_profile(request).await?),
            Backend::Remote(r) => r.post("/v1/profile", &request).await,
        }
    }

    pub(crate) async fn author(&self, author: communs_protocol::AuthorId) -> anyhow::Result<AuthorView> {
        match self {
            Backend::Local(s) => Ok(s.author(author)?),
            Backend::Remote(r) => r.get(&format!("/v1/authors/{author}"), &()).await,
        }
    }

    pub(crate) async fn dial(&self, request: &DialRequest) -> anyhow::Result<DialResult> {
        match self {
            Backend::Local(_) => Err(ServiceError::NoNetwork.into()),
            Backend::Remote(r) => r.post("/v1/dial", request).await,
        }
    }

    /// A one-time login link to the running node's web UI.
    pub(crate) async fn ui_login_link(&self) -> anyhow::Result<communs_ui::LoginLink> {
        match self {
            Backend::Local(_) => Err(ServiceError::NoNetwork.into()),
            Backend::Remote(r) => r.post("/ui/login-link", &()).await,
        }
    }

    pub(crate) async fn peers(&self) -> anyhow::Result<Vec<PeerInfo>> {
        match self {
            Backend::Local(s) => Ok(s.peers().await?),
            Backend::Remote(r) => r.get("/v1/peers", &()).await,
        }
    }
}
