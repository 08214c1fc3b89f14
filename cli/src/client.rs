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
use communs_node::progress::{Progress, ProgressView};
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

    /// `POST path` with `body` as JSON, the node's progress fed to `bar`
    /// as it comes (spec/api.md, "Progress"): one JSON line each, then the
    /// outcome.
    pub(crate) async fn post_watched<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        bar: &dyn Progress,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_vec(body).context("writing the request")?;
        let stopped = || format!("the node stopped while carrying out the request (POST {path})");
        let response = self.send("POST", path, Some(body), Some(NDJSON)).await?;
        if !response.status().is_success() || !is_ndjson(response.headers()) {
            let status = response.status();
            let bytes = response.into_body().collect().await.with_context(stopped)?.to_bytes();
            return answer::<Json<T>>(status, &bytes, "POST", path).map(|Json(value)| value);
        }
        let mut body = response.into_body();
        let mut watcher = Watcher::new(bar);
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.with_context(stopped)?;
            let Some(data) = frame.data_ref() else { continue };
            pending.extend_from_slice(data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Some(outcome) =
                    watcher.line(&line).with_context(|| format!("reading the node's answer to POST {path}"))?
                {
                    return outcome.into_result(stopped);
                }
            }
        }
        Err(anyhow!("{}: the answer ended before its outcome", stopped()))
    }

    async fn call<T: DeserializeOwned>(&self, method: &str, uri: &str, body: Option<Vec<u8>>) -> anyhow::Result<T> {
        let bytes = self.call_bytes(method, uri, body).await?;
        let path = uri.split('?').next().unwrap_or(uri);
        serde_json::from_slice(&bytes).with_context(|| format!("reading the node's answer to {method} {path}"))
    }

    /// The body of a successful answer; an error answer as an error.
    async fn call_bytes(&self, method: &str, uri: &str, body: Option<Vec<u8>>) -> anyhow::Result<Bytes> {
        let path = uri.split('?').next().unwrap_or(uri);
        let response = self.send(method, uri, body, None).await?;
        let status = response.status();
        let stopped = || format!("the node stopped while carrying out the request ({method} {path})");
        let bytes = response.into_body().collect().await.with_context(stopped)?.to_bytes();
        answer(status, &bytes, method, path).map(|()| bytes)
    }

    /// Sends one request on a connection of its own.
    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: Option<Vec<u8>>,
        accept: Option<&str>,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to the node's API at {}", self.addr))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, self.addr.to_string())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(accept) = accept {
            request = request.header(hyper::header::ACCEPT, accept);
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        // A connection that closes mid-request is the node stopping (or
        // dying) under it.
        let path = uri.split('?').next().unwrap_or(uri);
        let stopped = || format!("the node stopped while carrying out the request ({method} {path})");
        sender.send_request(request).await.with_context(stopped)
    }
}

/// An answer's status and body as the outcome: `Ok` for a success, else
/// the node's error.
fn answer<T: Decoded>(status: hyper::StatusCode, bytes: &[u8], method: &str, path: &str) -> anyhow::Result<T> {
    if status.is_success() {
        return T::decoded(bytes).with_context(|| format!("reading the node's answer to {method} {path}"));
    }
    let stopped = || format!("the node stopped while carrying out the request ({method} {path})");
    Err(match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) if body.reason.as_deref() == Some("stopping") => remote_error(body).context(stopped()),
        Ok(body) => remote_error(body),
        Err(_) => anyhow!("the node refused the request ({status})"),
    })
}

/// What a successful answer's body becomes: nothing (the caller keeps the
/// bytes) or a typed value.
trait Decoded: Sized {
    fn decoded(bytes: &[u8]) -> anyhow::Result<Self>;
}

impl Decoded for () {
    fn decoded(_: &[u8]) -> anyhow::Result<()> {
        Ok(())
    }
}

impl<T: DeserializeOwned> Decoded for Json<T> {
    fn decoded(bytes: &[u8]) -> anyhow::Result<Self> {
        Ok(Json(serde_json::from_slice(bytes)?))
    }
}

struct Json<T>(T);

/// The media type of a progress stream.
const NDJSON: &str = "application/x-ndjson";

fn is_ndjson(headers: &hyper::HeaderMap) -> bool {
    headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(NDJSON))
}

/// One line of a progress stream.
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line<T> {
    Progress(ProgressView),
    Result(T),
    Error(ErrorBody),
}

/// The outcome that ends a progress stream.
enum Outcome<T> {
    Done(T),
    Failed(ErrorBody),
}

impl<T> Outcome<T> {
    fn into_result(self, stopped: impl Fn() -> String) -> anyhow::Result<T> {
        match self {
            Outcome::Done(value) => Ok(value),
            Outcome::Failed(body) if body.reason.as_deref() == Some("stopping") => {
                Err(remote_error(body).context(stopped()))
            }
            Outcome::Failed(body) => Err(remote_error(body)),
        }
    }
}

/// Turns the node's counts, as they come, into a bar's start and steps.
struct Watcher<'a> {
    bar: &'a dyn Progress,
    totals: Option<(u64, u64)>,
    done: (u64, u64),
    peers: std::collections::BTreeSet<String>,
}

impl<'a> Watcher<'a> {
    fn new(bar: &'a dyn Progress) -> Self {
        Watcher { bar, totals: None, done: (0, 0), peers: Default::default() }
    }

    /// Feeds one line; the outcome when it is the last.
    fn line<T: DeserializeOwned>(&mut self, line: &[u8]) -> anyhow::Result<Option<Outcome<T>>> {
        // The error line carries the HTTP status too, which the error's
        // body does not need.
        let value: serde_json::Value = serde_json::from_slice(line)?;
        let line: Line<T> = match value {
            serde_json::Value::Object(mut map) => {
                map.remove("status");
                serde_json::from_value(serde_json::Value::Object(map))?
            }
            other => serde_json::from_value(other)?,
        };
        match line {
            Line::Progress(view) => {
                self.seen(&view);
                Ok(None)
            }
            Line::Result(value) => {
                self.bar.finish();
                Ok(Some(Outcome::Done(value)))
            }
            Line::Error(body) => {
                self.bar.finish();
                Ok(Some(Outcome::Failed(body)))
            }
        }
    }

    fn seen(&mut self, view: &ProgressView) {
        let totals = (view.bytes_total, view.items_total);
        if totals != (0, 0) && self.totals != Some(totals) {
            self.totals = Some(totals);
            self.bar.start(totals.0, totals.1 as usize);
        }
        self.bar.advance(view.bytes_done.saturating_sub(self.done.0));
        self.bar.advance_items(view.items_done.saturating_sub(self.done.1) as usize);
        self.done = (self.done.0.max(view.bytes_done), self.done.1.max(view.items_done));
        for peer in &view.peers {
            if self.peers.insert(peer.clone()) {
                self.bar.serving(peer);
            }
        }
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
