//! Every operation a client can ask of a node, as typed requests and
//! responses: the one API behind the CLI (on its own store or through a
//! running node) and the HTTP routes of `api` (spec/api.md).
//!
//! Nothing here knows about clap, terminals or HTTP: a request is plain
//! data with typed ids, a response is what the operation found or did
//! (serde, so that it travels as JSON; `ToSchema`, so that the API's
//! OpenAPI document describes it), and an error has a stable
//! [`ServiceError::reason`]. How a response reads for a person is the
//! CLI's business.

mod backup;
mod catalog;
mod designs;
mod files;
mod governance;
mod maintenance;
mod metrics;
mod network;
mod policy;
mod search;
mod social;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use backup::*;
pub use catalog::*;
pub use designs::*;
pub use files::*;
pub use governance::*;
pub use maintenance::*;
pub use metrics::*;
pub use network::*;
pub use policy::*;
pub use search::*;
pub use social::*;

use crate::clock::now_ms;
use crate::net::{NetError, Network};
use crate::{Node, NodeError};

/// What `list` and `log` return when not told how many: what a screen
/// can take, at a cost that does not grow with the store.
pub const PAGE: usize = 100;

/// A node's store, with its network when it runs one.
#[derive(Clone)]
pub struct Service {
    node: Arc<Node>,
    net: Option<Network>,
}

impl Service {
    /// The operations of `node` alone: those that need peers fail with
    /// [`ServiceError::NoNetwork`].
    pub fn offline(node: Arc<Node>) -> Service {
        Service { node, net: None }
    }

    /// The operations of a running node.
    pub fn online(net: Network) -> Service {
        Service { node: net.node().clone(), net: Some(net) }
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    fn net(&self) -> Result<&Network, ServiceError> {
        self.net.as_ref().ok_or(ServiceError::NoNetwork)
    }
}

/// Why an operation failed. Its message says what happened and what to
/// do; [`ServiceError::reason`] is the stable name scripts test.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Node(Box<NodeError>),
    #[error(transparent)]
    Net(Box<NetError>),
    #[error(transparent)]
    Files(Box<crate::net::FilesError>),
    #[error("revision {revision} of {design} has no file {path:?} (see `communs show {design}@{revision}`)")]
    UnknownFile { design: communs_protocol::DesignId, revision: communs_protocol::EventId, path: String },
    #[error("the file {path:?} of {design}@{revision} is not in this store yet (`communs get` fetches it from peers)")]
    AbsentFile { design: communs_protocol::DesignId, revision: communs_protocol::EventId, path: String },
    #[error("this needs a running node: start one with `communs node run`")]
    NoNetwork,
    #[error(transparent)]
    Search(Box<crate::search::SearchError>),
    #[error(transparent)]
    Backup(Box<crate::backup::BackupError>),
    #[error("{0}")]
    BadRequest(String),
    /// What the request was based on changed since (the parents of an
    /// event a person reviewed).
    #[error("{0}")]
    Changed(String),
    #[error("the node is stopping")]
    Stopping,
    #[error("{0}")]
    Internal(String),
}

macro_rules! boxed {
    ($($variant:ident($error:ty)),*) => {$(
        impl From<$error> for ServiceError {
            fn from(e: $error) -> Self {
                ServiceError::$variant(Box::new(e))
            }
        }
    )*};
}
boxed!(Node(NodeError), Net(NetError), Files(crate::net::FilesError), Backup(crate::backup::BackupError));

impl ServiceError {
    /// A stable, kebab-case name for what went wrong (spec/api.md,
    /// "Errors").
    pub fn reason(&self) -> &'static str {
        use crate::net::FilesError;
        match self {
            ServiceError::Node(e) => node_reason(e),
            ServiceError::Net(e) => match &**e {
                NetError::Node(e) => node_reason(e),
                NetError::Stopped => "stopping",
                _ => "network",
            },
            ServiceError::Files(e) => match &**e {
                FilesError::Node(e) | FilesError::Net(NetError::Node(e)) => node_reason(e),
                FilesError::Net(NetError::Stopped) => "stopping",
                _ => "network",
            },
            ServiceError::Backup(e) => {
                use crate::backup::BackupError;
                match &**e {
                    BackupError::Node(e) => node_reason(e),
                    BackupError::Io { .. } | BackupError::Open(_) => "store",
                    BackupError::NotEmpty { .. }
                    | BackupError::NotABackup { .. }
                    | BackupError::Damaged { .. }
                    | BackupError::HasIdentity { .. }
                    | BackupError::HasStore { .. } => "refused",
                }
            }
            ServiceError::UnknownFile { .. } => "unknown-file",
            ServiceError::AbsentFile { .. } => "absent-file",
            ServiceError::NoNetwork => "no-network",
            // The index is rebuilt from the store when it fails: what is
            // left is the disk or the store itself.
            ServiceError::Search(_) => "store",
            ServiceError::BadRequest(_) => "bad-request",
            ServiceError::Changed(_) => "changed",
            ServiceError::Stopping => "stopping",
            ServiceError::Internal(_) => "internal",
        }
    }

    /// The HTTP status the API answers this error with.
    pub fn status(&self) -> u16 {
        match self.reason() {
            "unknown-design" | "unknown-revision" | "unknown-event" | "unknown-file" => 404,
            "absent-file" | "absent-blob" => 409,
            "no-canonical" | "changed" => 409,
            "bad-request" => 400,
            "no-network" | "stopping" => 503,
            "network" => 502,
            "disk-full" | "over-storage-limit" => 507,
            "store" | "internal" => 500,
            _ => 422,
        }
    }

    /// The error as JSON: its message, its causes, its reason.
    pub fn body(&self) -> ErrorBody {
        let mut messages = messages(self);
        let error = messages.remove(0);
        ErrorBody { error, causes: messages, reason: Some(self.reason().to_owned()) }
    }
}

fn node_reason(e: &NodeError) -> &'static str {
    use crate::store::{BlobError, EventStoreError};
    match e {
        NodeError::UnknownDesign(_) => "unknown-design",
        NodeError::UnknownRevision { .. } => "unknown-revision",
        NodeError::UnknownEvent { .. } => "unknown-event",
        NodeError::NoCanonical(_) => "no-canonical",
        NodeError::NoSpace(_) => "over-storage-limit",
        NodeError::Blobs(BlobError::DiskFull(_)) | NodeError::File { source: BlobError::DiskFull(_), .. } => {
            "disk-full"
        }
        // A revision whose tree or file has not been fetched yet.
        NodeError::Blobs(BlobError::Missing(_)) => "absent-blob",
        NodeError::Events(EventStoreError::Refused { .. } | EventStoreError::Invalid { .. }) => "refused",
        NodeError::Events(_) | NodeError::Blobs(_) | NodeError::Cache(_) | NodeError::Home(_) => "store",
        _ => "refused",
    }
}

/// An error as the API sends it and the CLI prints it with `--json`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// Its chain of causes, outermost first.
    #[serde(default)]
    pub causes: Vec<String>,
    /// A stable name for the error (absent from errors of the HTTP layer
    /// itself, such as a refused token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The message of an error, then those of its causes that it does not
/// already say. Many errors end their message with their cause's (a
/// `{source}` in a thiserror message) and also return it as their
/// `source()`: printed whole, the chain would say it twice or more. Never
/// empty.
pub fn messages(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if !messages.last().is_some_and(|previous| previous.ends_with(&text)) {
            messages.push(text);
        }
        cause = e.source();
    }
    messages
}

/// A design and one of its revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevisionRef {
    #[schema(value_type = String, example = "design1…")]
    pub design: communs_protocol::DesignId,
    #[schema(value_type = String, example = "event1…")]
    pub revision: communs_protocol::EventId,
}

impl From<(communs_protocol::DesignId, communs_protocol::EventId)> for RevisionRef {
    fn from((design, revision): (communs_protocol::DesignId, communs_protocol::EventId)) -> Self {
        RevisionRef { design, revision }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_limit_or_start_is_the_first_of_100() {
        let list: ListRequest = serde_json::from_str("{}").expect("a list request");
        assert_eq!((list.limit, list.after), (PAGE, None));
        let log: LogRequest = serde_json::from_str("{}").expect("a log request");
        assert_eq!((log.limit, log.before), (PAGE, None));
    }

    #[test]
    fn errors_have_a_stable_reason_and_status() {
        let design = communs_protocol::DesignId::from_hash(communs_protocol::Hash::from_bytes([1; 32]));
        let unknown = ServiceError::from(NodeError::UnknownDesign(design));
        assert_eq!((unknown.reason(), unknown.status()), ("unknown-design", 404));
        let body = unknown.body();
        assert!(body.error.starts_with("design design1"), "{}", body.error);
        assert_eq!(body.reason.as_deref(), Some("unknown-design"));
        assert_eq!((ServiceError::NoNetwork.reason(), ServiceError::NoNetwork.status()), ("no-network", 503));
        assert_eq!(ServiceError::Stopping.status(), 503);
    }

    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        enum Inner {
            #[error("nesting deeper than 16 at byte 16")]
            Deep,
        }
        #[derive(Debug, thiserror::Error)]
        enum Outer {
            #[error("event 3 is invalid: {source}")]
            Says { source: Inner },
            #[error("event 3 is invalid")]
            Hides(#[source] Inner),
        }
        assert_eq!(
            messages(&Outer::Says { source: Inner::Deep }),
            ["event 3 is invalid: nesting deeper than 16 at byte 16"]
        );
        assert_eq!(messages(&Outer::Hides(Inner::Deep)), ["event 3 is invalid", "nesting deeper than 16 at byte 16"]);
    }
}
