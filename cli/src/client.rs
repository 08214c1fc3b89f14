//! Talking to a running node through its local API.
//!
//! A running node holds the store, so while it runs every command goes to
//! it (`POST /v1/run`, spec/api.md) instead of opening the store.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use communs_node::Home;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::Command;
use crate::output::Captured;

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

    /// Runs a command in the node; what it printed comes back, with the
    /// error if it failed.
    pub(crate) async fn run(&self, command: &Command, json: bool) -> (Captured, anyhow::Result<()>) {
        let body = json!({ "json": json, "command": command });
        match self.call("POST", "/v1/run", Some(body)).await {
            Ok(value) => match serde_json::from_value(value) {
                Ok(captured) => (captured, Ok(())),
                Err(e) => (Captured::default(), Err(anyhow::Error::new(e).context("reading the node's answer"))),
            },
            Err((printed, error)) => (printed, Err(error)),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, (Captured, anyhow::Error)> {
        self.exchange(method, path, body).await.map_err(|e| (Captured::default(), e))?.map_err(|(value, status)| {
            let printed = serde_json::from_value(value.clone()).unwrap_or_default();
            (printed, remote_error(&value, status))
        })
    }

    /// One request; `Err((body, status))` when the node answered with an
    /// error status.
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Result<Value, (Value, hyper::StatusCode)>> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to the node's API at {}", self.addr))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.addr.to_string())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        // A connection that closes mid-request is the node stopping (or
        // dying) under it.
        let stopped = || format!("the node stopped while carrying out the request ({method} {path})");
        let response = sender.send_request(request).await.with_context(stopped)?;
        let status = response.status();
        let bytes = response.into_body().collect().await.with_context(stopped)?.to_bytes();
        let value: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("the node answered {status} with something that is not JSON"))?;
        if status.is_success() { Ok(Ok(value)) } else { Ok(Err((value, status))) }
    }
}

/// The node's error, with its causes, as if it had happened here.
fn remote_error(value: &Value, status: hyper::StatusCode) -> anyhow::Error {
    let Some(error) = value.get("error").and_then(Value::as_str) else {
        return anyhow!("the node refused the request ({status})");
    };
    let causes: Vec<&str> =
        value.get("causes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let Some((last, rest)) = causes.split_last() else { return anyhow!("{error}") };
    let mut chained = anyhow!("{last}");
    for cause in rest.iter().rev() {
        chained = chained.context(cause.to_string());
    }
    chained.context(error.to_owned())
}
