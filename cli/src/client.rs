//! Talking to a running node through its local API.
//!
//! A running node holds the store, so while it runs every command goes to
//! it (spec/api.md) instead of opening the store: the same typed requests
//! and responses as `communs_node::service`, as JSON over HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use communs_node::Home;
use communs_node::service::ErrorBody;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a running node writes into its data directory (`api.json`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Running {
    pub api: SocketAddr,
    pub pid: u32,
    pub peer_id: String,
}

pub(crate) struct Remote {
    addr: SocketAddr,
    token: String,
}

impl Remote {
    /// The node running on this data directory, if one answers.
    pub(crate) async fn find(home: &Home) -> anyhow::Result<Option<Remote>> {
        let Ok(text) = std::fs::read_to_string(home.api_path()) else { return Ok(None) };
        let running: Running =
            serde_json::from_str(&text).with_context(|| format!("reading {}", home.api_path().display()))?;
        // A node killed with -9 leaves the file behind: check it answers.
        let connect = tokio::net::TcpStream::connect(running.api);
        if !matches!(tokio::time::timeout(Duration::from_secs(2), connect).await, Ok(Ok(_))) {
            return Ok(None);
        }
        let token = std::fs::read_to_string(home.api_token_path())
            .with_context(|| format!("reading the API token {}", home.api_token_path().display()))?;
        Ok(Some(Remote { addr: running.api, token: token.trim().to_owned() }))
    }

    /// `GET path?query`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str, query: &impl Serialize) -> anyhow::Result<T> {
        let query = serde_urlencoded::to_string(query).context("writing the request")?;
        let uri = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        self.call("GET", &uri, None).await
    }

    /// `GET path?query`, whose answer is text (not JSON).
    pub(crate) async fn get_text(&self, path: &str, query: &impl Serialize) -> anyhow::Result<String> {
        let query = serde_urlencoded::to_string(query).context("writing the request")?;
        let uri = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        let bytes = self.call_bytes("GET", &uri, None).await?;
        String::from_utf8(bytes.to_vec()).with_context(|| format!("reading the node's answer to GET {path}"))
    }

    /// `POST path` with `body` as JSON.
    pub(crate) async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        let body = serde_json::to_vec(body).context("writing the request")?;
        self.call("POST", path, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(&self, method: &str, uri: &str, body: Option<Vec<u8>>) -> anyhow::Result<T> {
        let bytes = self.call_bytes(method, uri, body).await?;
        let path = uri.split('?').next().unwrap_or(uri);
        serde_json::from_slice(&bytes).with_context(|| format!("reading the node's answer to {method} {path}"))
    }

    /// The body of a successful answer; an error answer as an error.
    async fn call_bytes(&self, method: &str, uri: &str, body: Option<Vec<u8>>) -> anyhow::Result<Bytes> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to the node's API at {}", self.addr))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, self.addr.to_string())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        // A connection that closes mid-request is the node stopping (or
        // dying) under it.
        let path = uri.split('?').next().unwrap_or(uri);
        let stopped = || format!("the node stopped while carrying out the request ({method} {path})");
        let response = sender.send_request(request).await.with_context(stopped)?;
        let status = response.status();
        let bytes = response.into_body().collect().await.with_context(stopped)?.to_bytes();
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) if body.reason.as_deref() == Some("stopping") => remote_error(body).context(stopped()),
                Ok(body) => remote_error(body),
                Err(_) => anyhow!("the node refused the request ({status})"),
            });
        }
        Ok(bytes)
    }
}

/// The node's error, with its causes, as if it had happened here.
fn remote_error(body: ErrorBody) -> anyhow::Error {
    let Some((last, rest)) = body.causes.split_last() else { return anyhow!("{}", body.error) };
    let mut chained = anyhow!("{last}");
    for cause in rest.iter().rev() {
        chained = chained.context(cause.clone());
    }
    chained.context(body.error)
}
