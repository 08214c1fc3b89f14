//! The local HTTP API of a running node (spec/api.md), for the CLI and for
//! scripts.
//!
//! Loopback only. Anything that writes needs the token the node keeps in
//! its data directory (mode 0600: only this user can read it), and is
//! refused when it comes from a web page (an `Origin` header), so that a
//! site open in the maker's browser cannot publish or approve in their
//! name. A `Host` that is not a loopback name is refused too (DNS
//! rebinding would otherwise let a page read the API).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::Home;
use crate::net::{NetStatus, Network, PeerInfo};

/// The default API address: a fixed loopback port, so that scripts find it.
pub const DEFAULT_API: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4518);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the API must listen on a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source} (is another node running? set another with --api)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
}

#[derive(Clone)]
pub struct ApiState {
    pub network: Network,
    pub token: Arc<str>,
    pub addr: SocketAddr,
}

/// What `GET /v1/node` and `communs node status` show.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub peer_id: String,
    pub author: String,
    pub listen: Vec<String>,
    pub api: String,
    pub peers: Vec<PeerInfo>,
    /// Known peers not connected, redialled with back-off.
    pub redialling: usize,
    pub seed_all: bool,
    /// How many designs this node keeps up to date and seeds (a count: at
    /// a tiers-lieu's size their ids would be most of every status; `list`
    /// and `policy` name them).
    pub kept: usize,
    /// Events held until their parents arrive.
    pub pending_events: usize,
    pub gossip: crate::net::GossipCounts,
    /// The last catch-up with each peer.
    pub sync: Vec<crate::net::PeerSync>,
    /// Files of kept designs still to fetch, and DHT announcements to make.
    pub seeding: crate::net::SeedingStatus,
}

impl ApiState {
    pub async fn status(&self) -> Result<NodeStatus, String> {
        let mut status = Self::status_of(&self.network).await.map_err(|e| e.to_string())?;
        status.api = self.addr.to_string();
        Ok(status)
    }

    /// The status, with the API address read from the running node's file.
    /// It reads nothing from the store (the designs kept are the network's
    /// copy), so that it answers at once however busy the store is.
    pub async fn status_of(network: &Network) -> Result<NodeStatus, crate::net::NetError> {
        // Read before the seeding queue: a design is queued for its files
        // before it is shown kept, so a status showing it kept and nothing
        // queued means its files are here. Read after, the queue could be
        // older than the designs kept.
        let kept = network.kept_count();
        let NetStatus { peer_id, listen, peers, redialling, seed_all, pending_events, gossip, sync, seeding } =
            network.status().await?;
        let node = network.node();
        let api = std::fs::read_to_string(node.home().api_path())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("api").and_then(|a| a.as_str()).map(str::to_owned))
            .unwrap_or_default();
        Ok(NodeStatus {
            peer_id,
            author: node.author().to_string(),
            listen,
            api,
            peers,
            redialling,
            seed_all,
            kept,
            pending_events,
            gossip,
            sync,
            seeding,
        })
    }
}

/// Binds the API's socket, refusing anything but loopback.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ApiError> {
    if !addr.ip().is_loopback() {
        return Err(ApiError::NotLoopback(addr));
    }
    tokio::net::TcpListener::bind(addr).await.map_err(|source| ApiError::Bind { addr, source })
}

/// Writes a fresh random token, readable by this user only.
pub fn create_token(home: &Home) -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let token = hex::encode(bytes);
    let path = home.api_token_path();
    crate::atomic::write_atomically(&path, token.as_bytes(), 0o600).map_err(|source| ApiError::Io { path, source })?;
    Ok(token)
}

/// The routes of the node itself; the CLI adds the route that runs its
/// commands (`extra`).
pub fn router(state: ApiState, extra: Router<ApiState>) -> Router {
    Router::new()
        .route("/v1/node", get(node_status))
        .route("/v1/peers", get(peers))
        .merge(extra)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// A JSON error body, as the CLI prints errors with `--json`.
pub fn error_response(status: StatusCode, error: &str, causes: &[String]) -> Response {
    (status, Json(json!({ "error": error, "causes": causes }))).into_response()
}

fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let ip = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !is_loopback_host(headers) {
        return error_response(StatusCode::FORBIDDEN, "the API answers loopback host names only", &[]);
    }
    if request.method() != Method::GET {
        if headers.contains_key(header::ORIGIN) {
            return error_response(StatusCode::FORBIDDEN, "requests from a web page cannot change this node", &[]);
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), state.token.as_bytes()) {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API token (it is in the node's data directory, file api-token)",
                &[],
            );
        }
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn node_status(State(state): State<ApiState>) -> Response {
    match state.status().await {
        Ok(status) => Json(status).into_response(),
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, &e, &[]),
    }
}

async fn peers(State(state): State<ApiState>) -> Response {
    match state.network.status().await {
        Ok(status) => Json(status.peers).into_response(),
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), &[]),
    }
}
