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
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

mod extract;
mod metrics;
mod routes;

pub use metrics::{METRICS_CONTENT_TYPE, bind_metrics, metrics_router, timed};

use crate::Home;
use crate::net::Network;
use crate::service::{ErrorBody, Service, ServiceError};

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

/// What every route of a running node's API shares.
#[derive(Clone)]
pub struct ApiState {
    service: Service,
    token: Arc<str>,
    addr: SocketAddr,
    stopping: tokio::sync::watch::Receiver<bool>,
    command_thread: fn(),
}

impl ApiState {
    /// `token` guards writes; `stopping` turns true when the node is told
    /// to stop; `command_thread` runs first on each thread that carries
    /// out a request (the binary lowers its priority there).
    pub fn new(
        network: Network,
        token: String,
        addr: SocketAddr,
        stopping: tokio::sync::watch::Receiver<bool>,
        command_thread: fn(),
    ) -> ApiState {
        ApiState { service: Service::online(network), token: token.into(), addr, stopping, command_thread }
    }

    /// Carries out `work` on a thread of its own, below the network's
    /// priority (its futures driven there with `block_on`), not on the
    /// async workers: store reads and writes are synchronous, and on those
    /// workers they would hold up the swarm and `GET /v1/node` for as long
    /// as the slowest request took; at the same priority, a few requests
    /// busy on every core would still slow them down. What `work` awaits
    /// (the network, the blob store) runs on the workers.
    ///
    /// When the node is told to stop, the request is answered at once with
    /// "the node is stopping" (`503`); the work is cut short when the
    /// store closes, and what it had committed stays.
    pub async fn run<T, F, Fut>(&self, work: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(Service) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let runtime = tokio::runtime::Handle::current();
        let service = self.service.clone();
        let setup = self.command_thread;
        let (done, ran) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("command".into())
            .spawn(move || {
                setup();
                let _ = done.send(runtime.block_on(work(service)));
            })
            .map_err(|e| ServiceError::Internal(format!("cannot start a thread for the request: {e}")))?;
        let mut stopping = self.stopping.clone();
        tokio::select! {
            ran = ran => ran.unwrap_or_else(|_| Err(ServiceError::Internal("the request stopped unexpectedly".to_owned()))),
            Ok(_) = stopping.wait_for(|stopping| *stopping) => Err(ServiceError::Stopping),
        }
    }
}

impl ApiState {
    /// The operations of this node.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The address the API (and the web UI) listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether `presented` is the node's API token (compared in constant
    /// time).
    pub fn is_token(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.token.as_bytes())
    }

    /// Whether the request's `Host` names this node by a loopback name and
    /// its port (see [`is_loopback_host`]).
    pub fn is_own_host(&self, headers: &HeaderMap) -> bool {
        is_loopback_host(headers, self.addr.port())
    }
}

/// A file of the store as an HTTP answer: streamed and verified as it
/// goes, offered as a download (pictures other than SVG excepted), never
/// sniffed, and sandboxed if a browser opens it anyway, so that a file
/// from a stranger (an HTML page, an SVG with a script) runs nothing here.
pub fn file_response(service: &Service, row: &crate::service::FileRow) -> Response {
    let name = row.path.rsplit('/').next().unwrap_or(&row.path);
    let reader = service.blob_reader(row.blob, row.size);
    let (content_type, inline) = content_type(name);
    let disposition = if inline { "inline" } else { "attachment" };
    let mut response = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(reader)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(row.size));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename*=UTF-8''{}", percent(name))) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The media type of a file by its name, and whether a browser may show
/// it inline: raster pictures only (an SVG can carry script).
fn content_type(name: &str) -> (&'static str, bool) {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "png" => ("image/png", true),
        "jpg" | "jpeg" => ("image/jpeg", true),
        "gif" => ("image/gif", true),
        "webp" => ("image/webp", true),
        // Shown by pages through `<img>` only, where its scripts do not
        // run; opened on its own, it is a download.
        "svg" => ("image/svg+xml", false),
        "txt" | "md" => ("text/plain; charset=utf-8", false),
        _ => ("application/octet-stream", false),
    }
}

/// `name` percent-encoded for `filename*` (RFC 5987): what is not an
/// unreserved character is escaped.
fn percent(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

/// Every route of the API (`routes.rs`), behind the guard.
pub fn router(state: ApiState) -> Router {
    let (routes, openapi) = routes::routes().split_for_parts();
    let openapi = Arc::new(openapi);
    routes
        .route("/v1/openapi.json", get(move || std::future::ready(Json(openapi.clone()))))
        // Prometheus text, not JSON: outside the OpenAPI document.
        .route("/metrics", get(metrics::scrape))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// The API's OpenAPI document, as `GET /v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::routes().split_for_parts().1
}

/// An error of the HTTP layer itself (the guard, a malformed request).
pub(crate) fn error_response(status: StatusCode, error: &str, reason: &str) -> Response {
    let body = ErrorBody { error: error.to_owned(), causes: Vec::new(), reason: Some(reason.to_owned()) };
    (status, Json(body)).into_response()
}

/// Whether the request names this machine by a loopback name: exactly
/// `localhost`, `127.0.0.1` or `[::1]`, followed by nothing or by `port`
/// (the one the node listens on). A page whose DNS name resolves to
/// 127.0.0.1 still sends its own name (DNS rebinding), and one served by
/// another program on another loopback port sends that port. A request
/// without `Host` (HTTP/1.0) names nothing else and passes.
pub fn is_loopback_host(headers: &HeaderMap, port: u16) -> bool {
    let Some(host) = headers.get(header::HOST) else { return true };
    let Ok(host) = host.to_str() else { return false };
    let name = match host.rsplit_once(':') {
        Some((name, given)) if !name.ends_with(':') => {
            if given.parse::<u16>() != Ok(port) || given.starts_with('0') || given.starts_with('+') {
                return false;
            }
            name
        }
        _ => host,
    };
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !state.is_own_host(headers) {
        return error_response(StatusCode::FORBIDDEN, "the API answers loopback host names only", "host");
    }
    if request.method() != Method::GET {
        if headers.contains_key(header::ORIGIN) {
            return error_response(StatusCode::FORBIDDEN, "requests from a web page cannot change this node", "origin");
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !state.is_token(presented) {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API token (it is in the node's data directory, file api-token)",
                "token",
            );
        }
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{content_type, percent};

    #[test]
    fn only_raster_pictures_are_shown_inline() {
        assert_eq!(content_type("photo.JPG"), ("image/jpeg", true));
        assert_eq!(
            content_type("drawing.svg"),
            ("image/svg+xml", false),
            "an SVG is a download, shown by pages through <img> only"
        );
        assert_eq!(content_type("clip.stl"), ("application/octet-stream", false));
        assert_eq!(content_type("README"), ("application/octet-stream", false));
    }

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(percent("a b\"é.stl"), "a%20b%22%C3%A9.stl");
    }
}
