//! The routes of the API: each one reads its request, hands it to the
//! node's [`Service`] on a command thread, and answers its typed result
//! as JSON. Their `#[utoipa::path]` make the OpenAPI document the node
//! serves (`GET /v1/openapi.json`).

use axum::extract::State;
use std::convert::Infallible;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use communs_protocol::DesignId;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::extract::{Json, Path, Query};
use crate::gc::GcReport;
use crate::net::PeerInfo;
use crate::progress::Counters;
use crate::service::*;
use bytes::Bytes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "communs node API",
        description = "The local HTTP API of a running communs node (spec/api.md). Loopback only; \
                       every method but GET needs `Authorization: Bearer TOKEN` (the file api-token \
                       of the node's data directory) and no `Origin` header."
    ),
    paths(file),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(node_status))
        .routes(routes!(peers))
        .routes(routes!(list_designs, publish))
        .routes(routes!(catalog))
        .routes(routes!(show))
        .routes(routes!(log))
        .routes(routes!(status))
        // A path may hold slashes: axum's catch-all, documented as one
        // parameter (`ApiDoc`), which a client may also percent-encode.
        .route("/v1/designs/{design}/files/{*path}", axum::routing::get(file))
        .routes(routes!(get_files))
        .routes(routes!(fork))
        .routes(routes!(approve))
        .routes(routes!(retract))
        .routes(routes!(propose))
        .routes(routes!(comments, comment))
        .routes(routes!(make_reports, report_make))
        .routes(routes!(set_profile))
        .routes(routes!(author))
        .routes(routes!(sync_design))
        .routes(routes!(sync_all))
        .routes(routes!(dial))
        .routes(routes!(policy, set_policy))
        .routes(routes!(gc))
        .routes(routes!(fsck))
        .routes(routes!(backup))
        .routes(routes!(bundle_export))
        .routes(routes!(bundle_import))
        .routes(routes!(search))
        .routes(routes!(okh_toml))
        .routes(routes!(okh_yml))
        .routes(routes!(okh_list))
}

/// A failed request: the error's status and its JSON body.
struct Failure(ServiceError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.0.body())).into_response()
    }
}

type Answer<T> = Result<axum::Json<T>, Failure>;

impl ApiState {
    /// Runs `work` on a command thread and answers its result as JSON.
    async fn answer<T, F, Fut>(&self, work: F) -> Answer<T>
    where
        T: Send + 'static,
        F: FnOnce(Service) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        self.run(work).await.map(axum::Json).map_err(Failure)
    }

    /// Runs `work` as [`ApiState::answer`] does, counting its progress; a
    /// client that accepts `application/x-ndjson` is sent that progress as
    /// it changes, a JSON line each (`{"progress": …}`), then the outcome
    /// (`{"result": …}` or `{"error": …, "status": …}`): spec/api.md,
    /// "Progress". The work runs to its end even if the client goes away,
    /// as without progress.
    async fn answer_watched<T, F, Fut>(&self, headers: &HeaderMap, work: F) -> Response
    where
        T: serde::Serialize + Send + 'static,
        F: FnOnce(Service, Arc<Counters>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let counters = Arc::new(Counters::default());
        if !wants_progress(headers) {
            return self.run(move |s| work(s, counters)).await.map(axum::Json).map_err(Failure).into_response();
        }
        let (lines, mut sent) = tokio::sync::mpsc::channel::<Bytes>(8);
        let (state, watched) = (self.clone(), counters.clone());
        tokio::spawn(async move {
            let mut done = std::pin::pin!(state.run(move |s| work(s, counters)));
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            let (mut last, mut quiet) = (None, 0);
            let outcome = loop {
                tokio::select! {
                    outcome = &mut done => break outcome,
                    _ = tick.tick() => {
                        let view = watched.view(std::time::Instant::now());
                        let moved = (view.bytes_done, view.bytes_total, view.items_done, view.items_total, view.peers.len());
                        quiet += 1;
                        if last != Some(moved) || quiet >= PROGRESS_QUIET_TICKS {
                            (last, quiet) = (Some(moved), 0);
                            let _ = lines.send(json_line(&serde_json::json!({ "progress": view }))).await;
                        }
                    }
                }
            };
            let end = match outcome {
                Ok(result) => serde_json::json!({ "result": result }),
                Err(e) => serde_json::json!({ "error": e.body(), "status": e.status() }),
            };
            let _ = lines.send(json_line(&end)).await;
        });
        let stream = futures::stream::poll_fn(move |cx| sent.poll_recv(cx).map(|line| line.map(Ok::<_, Infallible>)));
        let mut response = axum::body::Body::from_stream(stream).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
        response
    }
}

/// The media type of a progress stream: one JSON value per line.
const NDJSON: &str = "application/x-ndjson";

/// How often a progress stream looks at the work's counts.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Ticks without change after which a line is sent anyway (a second): the
/// client sees the work is alive and its rate falling.
const PROGRESS_QUIET_TICKS: u32 = 4;

fn wants_progress(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(NDJSON)))
}

fn json_line(value: &serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// The node's status. Reads nothing from the store: it answers at once
/// however many requests the node is serving.
#[utoipa::path(get, path = "/v1/node", tag = "node",
    responses((status = 200, body = NodeStatus), (status = 503, body = ErrorBody)))]
async fn node_status(State(state): State<ApiState>) -> Answer<NodeStatus> {
    state.service.node_status(state.addr).await.map(axum::Json).map_err(Failure)
}

/// The connected peers.
#[utoipa::path(get, path = "/v1/peers", tag = "node",
    responses((status = 200, body = Vec<PeerInfo>), (status = 503, body = ErrorBody)))]
async fn peers(State(state): State<ApiState>) -> Answer<Vec<PeerInfo>> {
    state.service.peers().await.map(axum::Json).map_err(Failure)
}

/// A page of the designs in the store, by name.
#[utoipa::path(get, path = "/v1/designs", tag = "designs", params(ListRequest),
    responses((status = 200, body = DesignPage), (status = "4XX", body = ErrorBody)))]
async fn list_designs(State(state): State<ApiState>, Query(request): Query<ListRequest>) -> Answer<DesignPage> {
    state.answer(move |s| async move { s.list(&request) }).await
}

/// A page of the catalog: the designs this node has heard of, kept or
/// not, by name, with who holds each.
#[utoipa::path(get, path = "/v1/catalog", tag = "designs", params(CatalogRequest),
    responses((status = 200, body = CatalogPage), (status = "4XX", body = ErrorBody)))]
async fn catalog(State(state): State<ApiState>, Query(request): Query<CatalogRequest>) -> Answer<CatalogPage> {
    state.answer(move |s| async move { s.catalog(&request) }).await
}

/// Publish a folder of the node's machine: a new design, or a new
/// revision.
#[utoipa::path(post, path = "/v1/designs", tag = "designs", request_body = PublishRequest,
    responses((status = 200, body = PublishResult), (status = "4XX", body = ErrorBody)))]
async fn publish(State(state): State<ApiState>, headers: HeaderMap, Json(request): Json<PublishRequest>) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.publish(request, &p).await }).await
}

/// A design at its canonical head (or this node's pin), or at `revision`.
#[utoipa::path(get, path = "/v1/designs/{design}", tag = "designs",
    params(("design" = String, Path, description = "design1…"), RevisionQuery),
    responses((status = 200, body = DesignView), (status = "4XX", body = ErrorBody)))]
async fn show(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Query(query): Query<RevisionQuery>,
) -> Answer<DesignView> {
    state.answer(move |s| async move { s.show(&design, query.revision).await }).await
}

/// A page of a design's events, newest first.
#[utoipa::path(get, path = "/v1/designs/{design}/log", tag = "designs",
    params(("design" = String, Path, description = "design1…"), LogRequest),
    responses((status = 200, body = EventPage), (status = "4XX", body = ErrorBody)))]
async fn log(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Query(request): Query<LogRequest>,
) -> Answer<EventPage> {
    state.answer(move |s| async move { s.log(&design, &request) }).await
}

/// A design's governance: canonical and competing heads, open
/// contributions, maintainers, proposals.
#[utoipa::path(get, path = "/v1/designs/{design}/status", tag = "governance",
    params(("design" = String, Path, description = "design1…")),
    responses((status = 200, body = StatusResult), (status = "4XX", body = ErrorBody)))]
async fn status(State(state): State<ApiState>, Path(design): Path<DesignId>) -> Answer<StatusResult> {
    state.answer(move |s| async move { s.status(&design) }).await
}

/// One file of a revision, its bytes re-hashed as they leave the store
/// (a damaged blob cuts the answer short). Served as an attachment,
/// pictures aside, and never interpreted by a browser.
#[utoipa::path(get, path = "/v1/designs/{design}/files/{path}", tag = "designs",
    params(("design" = String, Path, description = "design1…"),
           ("path" = String, Path, description = "the file's path in the revision, e.g. `parts/clip.stl`"),
           RevisionQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = "4XX", body = ErrorBody)))]
async fn file(
    State(state): State<ApiState>,
    Path((design, path)): Path<(DesignId, String)>,
    Query(query): Query<RevisionQuery>,
) -> Result<Response, Failure> {
    let row = state.answer(move |s| async move { s.file(&design, query.revision, &path).await }).await?.0;
    Ok(super::file_response(&state.service, &row))
}

/// Write a revision's files into a folder of the node's machine
/// (fetching from peers what the store lacks).
#[utoipa::path(post, path = "/v1/designs/{design}/get", tag = "designs",
    params(("design" = String, Path, description = "design1…")), request_body = GetRequest,
    responses((status = 200, body = GetResult), (status = "4XX", body = ErrorBody)))]
async fn get_files(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    headers: HeaderMap,
    Json(request): Json<GetRequest>,
) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.get(design, &request, &p).await }).await
}

/// Remix a design: a new design whose genesis names its source.
#[utoipa::path(post, path = "/v1/designs/{design}/fork", tag = "designs",
    params(("design" = String, Path, description = "the source, design1…")), request_body = ForkRequest,
    responses((status = 200, body = ForkResult), (status = "4XX", body = ErrorBody)))]
async fn fork(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Json(request): Json<ForkRequest>,
) -> Answer<ForkResult> {
    state.answer(move |s| async move { s.fork(design, request) }).await
}

/// A design's comments, as threads (without those of muted authors).
#[utoipa::path(get, path = "/v1/designs/{design}/comments", tag = "social",
    params(("design" = String, Path, description = "design1…")),
    responses((status = 200, body = CommentThreads), (status = "4XX", body = ErrorBody)))]
async fn comments(State(state): State<ApiState>, Path(design): Path<DesignId>) -> Answer<CommentThreads> {
    state.answer(move |s| async move { s.comments(design) }).await
}

/// Comment on a design, or answer one of its events.
#[utoipa::path(post, path = "/v1/designs/{design}/comments", tag = "social",
    params(("design" = String, Path, description = "design1…")), request_body = CommentRequest,
    responses((status = 200, body = Signed), (status = "4XX", body = ErrorBody)))]
async fn comment(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Json(request): Json<CommentRequest>,
) -> Answer<Signed> {
    state.answer(move |s| async move { s.comment(design, request).await }).await
}

/// A design's make reports and how many times each revision was made.
#[utoipa::path(get, path = "/v1/designs/{design}/makes", tag = "social",
    params(("design" = String, Path, description = "design1…")),
    responses((status = 200, body = MakeReports), (status = "4XX", body = ErrorBody)))]
async fn make_reports(State(state): State<ApiState>, Path(design): Path<DesignId>) -> Answer<MakeReports> {
    state.answer(move |s| async move { s.make_reports(design) }).await
}

/// Report a build of a design.
#[utoipa::path(post, path = "/v1/designs/{design}/makes", tag = "social",
    params(("design" = String, Path, description = "design1…")), request_body = MakeRequest,
    responses((status = 200, body = Signed), (status = "4XX", body = ErrorBody)))]
async fn report_make(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Json(request): Json<MakeRequest>,
) -> Answer<Signed> {
    state.answer(move |s| async move { s.report_make(design, request).await }).await
}

/// Sign a new profile of this node's author (gossiped to the nodes that
/// hold their designs).
#[utoipa::path(post, path = "/v1/profile", tag = "social", request_body = ProfileRequest,
    responses((status = 200, body = Signed), (status = "4XX", body = ErrorBody)))]
async fn set_profile(State(state): State<ApiState>, Json(request): Json<ProfileRequest>) -> Answer<Signed> {
    state.answer(move |s| async move { s.set_profile(request).await }).await
}

/// An author: the name shown, this node's name for them, their profile.
#[utoipa::path(get, path = "/v1/authors/{author}", tag = "social",
    params(("author" = String, Path, description = "author1…")),
    responses((status = 200, body = AuthorView), (status = "4XX", body = ErrorBody)))]
async fn author(State(state): State<ApiState>, Path(author): Path<communs_protocol::AuthorId>) -> Answer<AuthorView> {
    state.answer(move |s| async move { s.author(author) }).await
}

/// Approve a revision or a proposal, as a maintainer.
#[utoipa::path(post, path = "/v1/designs/{design}/approvals", tag = "governance",
    params(("design" = String, Path, description = "design1…")), request_body = TargetRequest,
    responses((status = 200, body = GovernanceResult), (status = "4XX", body = ErrorBody)))]
async fn approve(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Json(request): Json<TargetRequest>,
) -> Answer<GovernanceResult> {
    state.answer(move |s| async move { s.approve(&design, request) }).await
}

/// Withdraw this node's approval of a revision or a proposal.
#[utoipa::path(post, path = "/v1/designs/{design}/retractions", tag = "governance",
    params(("design" = String, Path, description = "design1…")), request_body = TargetRequest,
    responses((status = 200, body = GovernanceResult), (status = "4XX", body = ErrorBody)))]
async fn retract(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Json(request): Json<TargetRequest>,
) -> Answer<GovernanceResult> {
    state.answer(move |s| async move { s.retract(&design, request) }).await
}

/// Propose a change to who maintains a design, or to its threshold.
#[utoipa::path(post, path = "/v1/designs/{design}/proposals", tag = "governance",
    params(("design" = String, Path, description = "design1…")), request_body = ProposeRequest,
    responses((status = 200, body = GovernanceResult), (status = "4XX", body = ErrorBody)))]
async fn propose(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Json(request): Json<ProposeRequest>,
) -> Answer<GovernanceResult> {
    state.answer(move |s| async move { s.propose(&design, request) }).await
}

/// Catch one design up with every peer now, and fetch its files.
#[utoipa::path(post, path = "/v1/designs/{design}/sync", tag = "network",
    params(("design" = String, Path, description = "design1…")),
    responses((status = 200, body = SyncResult), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
async fn sync_design(State(state): State<ApiState>, Path(design): Path<DesignId>, headers: HeaderMap) -> Response {
    state
        .answer_watched(&headers, move |s, p| async move { s.sync(SyncRequest { design: Some(design) }, &p).await })
        .await
}

/// Catch up every design this node keeps with every peer now, and fetch
/// their files.
#[utoipa::path(post, path = "/v1/sync", tag = "network",
    responses((status = 200, body = SyncResult), (status = "5XX", body = ErrorBody)))]
async fn sync_all(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.sync(SyncRequest { design: None }, &p).await }).await
}

/// Connect to a peer now, and wait for the connection (up to 10 s).
#[utoipa::path(post, path = "/v1/dial", tag = "network", request_body = DialRequest,
    responses((status = 200, body = DialResult), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
async fn dial(State(state): State<ApiState>, Json(request): Json<DialRequest>) -> Answer<DialResult> {
    state.answer(move |s| async move { s.dial(&request).await }).await
}

/// The local policy log and what is in force.
#[utoipa::path(get, path = "/v1/policy", tag = "policy",
    responses((status = 200, body = PolicyView), (status = "5XX", body = ErrorBody)))]
async fn policy(State(state): State<ApiState>) -> Answer<PolicyView> {
    state.answer(move |s| async move { s.policy() }).await
}

/// Record a change of the local policy: follow, unfollow, mute, unmute,
/// pin, unpin, remove.
#[utoipa::path(post, path = "/v1/policy", tag = "policy", request_body = PolicyChange,
    responses((status = 200, body = PolicyRecorded), (status = "4XX", body = ErrorBody)))]
async fn set_policy(State(state): State<ApiState>, Json(change): Json<PolicyChange>) -> Answer<PolicyRecorded> {
    state.answer(move |s| async move { s.set_policy(change).await }).await
}

/// Delete the blobs nothing this node keeps names.
#[utoipa::path(post, path = "/v1/gc", tag = "store",
    responses((status = 200, body = GcReport), (status = "5XX", body = ErrorBody)))]
async fn gc(State(state): State<ApiState>) -> Answer<GcReport> {
    state.answer(move |s| async move { s.gc().await }).await
}

/// Re-hash every blob and re-verify every event. Problems found are in
/// the answer (`ok` false), with status 200.
#[utoipa::path(post, path = "/v1/fsck", tag = "store",
    responses((status = 200, body = FsckResult), (status = "5XX", body = ErrorBody)))]
async fn fsck(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.fsck(&p).await }).await
}

/// Write a backup of this node (identity, config, policy, events; files
/// with `files`) into a folder of the node's machine.
#[utoipa::path(post, path = "/v1/backup", tag = "store", request_body = BackupRequest,
    responses((status = 200, body = BackupResult), (status = "4XX", body = ErrorBody)))]
async fn backup(State(state): State<ApiState>, headers: HeaderMap, Json(request): Json<BackupRequest>) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.backup(&request, &p).await }).await
}

/// Write designs' events and files into one file of the node's machine.
#[utoipa::path(post, path = "/v1/bundles/export", tag = "store", request_body = ExportRequest,
    responses((status = 200, body = ExportResult), (status = "4XX", body = ErrorBody)))]
async fn bundle_export(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Json(request): Json<ExportRequest>,
) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.bundle_export(&request, &p).await }).await
}

/// Verify a bundle file of the node's machine completely, then add what
/// the store lacks.
#[utoipa::path(post, path = "/v1/bundles/import", tag = "store", request_body = ImportRequest,
    responses((status = 200, body = ImportResult), (status = "4XX", body = ErrorBody)))]
async fn bundle_import(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Json(request): Json<ImportRequest>,
) -> Response {
    state.answer_watched(&headers, move |s, p| async move { s.bundle_import(&request, &p).await }).await
}

/// Designs matching words and filters, best first: those this node holds
/// and those it heard of.
#[utoipa::path(get, path = "/v1/search", tag = "designs", params(SearchRequest),
    responses((status = 200, body = SearchResults), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
async fn search(State(state): State<ApiState>, Query(request): Query<SearchRequest>) -> Answer<SearchResults> {
    state.answer(move |s| async move { s.search(&request).await }).await
}

/// A revision's manifest as an OKH file, for other Open Know-How tools.
async fn okh_file(
    state: ApiState,
    design: DesignId,
    revision: Option<communs_protocol::EventId>,
    format: OkhFormat,
) -> Result<Response, Failure> {
    let text = state.answer(move |s| async move { s.okh(&design, revision, format).await }).await?.0;
    let content_type = match format {
        OkhFormat::Toml => "application/toml",
        OkhFormat::Yml => "application/yaml",
    };
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// A design's manifest (canonical head, this node's pin, or `revision`) as
/// OKH-LOSH `okh.toml`.
#[utoipa::path(get, path = "/v1/designs/{design}/okh.toml", tag = "okh",
    params(("design" = String, Path, description = "design1…"), RevisionQuery),
    responses((status = 200, content_type = "application/toml", body = String), (status = "4XX", body = ErrorBody)))]
async fn okh_toml(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Query(query): Query<RevisionQuery>,
) -> Result<Response, Failure> {
    okh_file(state, design, query.revision, OkhFormat::Toml).await
}

/// A design's manifest as OKH v1 `okh.yml` (a remix names its source as
/// `derivative-of`).
#[utoipa::path(get, path = "/v1/designs/{design}/okh.yml", tag = "okh",
    params(("design" = String, Path, description = "design1…"), RevisionQuery),
    responses((status = 200, content_type = "application/yaml", body = String), (status = "4XX", body = ErrorBody)))]
async fn okh_yml(
    State(state): State<ApiState>,
    Path(design): Path<DesignId>,
    Query(query): Query<RevisionQuery>,
) -> Result<Response, Failure> {
    okh_file(state, design, query.revision, OkhFormat::Yml).await
}

/// The URLs of the manifests of this node's designs, as the Open Know-How
/// search tools harvest them.
#[utoipa::path(get, path = "/v1/okh/list.json", tag = "okh",
    responses((status = 200, body = OkhList), (status = "5XX", body = ErrorBody)))]
async fn okh_list(State(state): State<ApiState>) -> Answer<OkhList> {
    let base = format!("http://{}", state.addr);
    state.answer(move |s| async move { s.okh_list(&base) }).await
}
