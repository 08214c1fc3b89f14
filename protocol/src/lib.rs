//! The sans-IO core of communs: every format, every rule, no side effects.
//!
//! This crate turns bytes into validated values and values into bytes,
//! signs and verifies, and (in later modules) resolves governance. It never
//! opens a file or a socket, never reads a clock and never draws randomness
//! on its own: callers pass in bytes, the time and an RNG. That keeps every
//! rule testable exhaustively and lets another implementation follow
//! `spec/` byte for byte.
//!
//! Decoding never panics on any input: every error is a typed value that
//! says what was wrong.
#![forbid(unsafe_code)]

pub mod bulk;
pub mod bundle;
pub mod catalog;
pub mod cbor;
pub mod event;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod governance;
pub mod hash;
pub mod identity;
pub mod license;
pub mod limits;
pub mod manifest;
pub mod path;
pub mod search;
mod strict_verify;
pub mod sync;
pub mod text_id;
pub mod tree;
pub mod wire;

pub use event::{
    Attachment, Body, Change, Comment, EventError, Genesis, MakeReport, Outcome, Profile, Revision, SignedEvent,
    UnsignedEvent,
};
pub use hash::{BlobHash, DesignId, EventId, Hash};
pub use identity::{AuthorId, SecretKey, Signature};
pub use manifest::Manifest;
pub use path::{PathError, ValidatedPath};
pub use tree::{Tree, TreeEntry, TreeError};
