//! `GET /metrics` (Prometheus text), on the API and, when configured, on
//! an address of its own for a scraper on the LAN; and the time each API
//! request takes, by route.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiState;

/// The media type of the text exposition format `prometheus-client`
/// writes (OpenMetrics 1.0, which Prometheus reads).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric of the node, the store measured on a command thread.
pub(super) async fn scrape(State(state): State<ApiState>) -> Response {
    match state.run(|service| async move { service.metrics_text().await }).await {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            response
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, axum::Json(e.body())).into_response()
        }
    }
}

/// `/metrics` alone, for `[metrics] listen`: a scraper on the LAN reaches
/// nothing else of the node (no route, no file, no UI), and needs no
/// loopback `Host`, since it names the node by its LAN address.
pub fn metrics_router(state: ApiState) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(state)
}

/// Binds the metrics listener (any address: it serves only metrics).
pub async fn bind_metrics(addr: SocketAddr) -> Result<tokio::net::TcpListener, super::ApiError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| super::ApiError::Bind { addr, source })
}

/// Times every request of `router` into `communs_api_request_duration_seconds`,
/// labelled with its method and its route's template (a request no route
/// matched counts as `unmatched`, so that a scan of random paths adds no
/// label values).
pub fn timed(router: Router, state: &ApiState) -> Router {
    router.layer(middleware::from_fn_with_state(state.clone(), time_request))
}

async fn time_request(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .service()
        .node()
        .metrics
        .api_requests
        .get_or_create(&[("method", method.to_owned()), ("route", route)])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The method as a label value, from a bounded set.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
