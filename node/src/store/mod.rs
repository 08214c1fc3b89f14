//! The store: events in redb, file contents in iroh-blobs, under one data
//! directory and one lock.

pub(crate) mod blobs;
pub(crate) mod catalog;
mod db;
pub(crate) mod events;
pub(crate) mod file_cache;
pub(crate) mod format;
pub(crate) mod policy;
pub(crate) mod social;
mod sweep;
pub(crate) mod views;

pub(crate) use blobs::{BlobError, BlobStore, Guard};
pub(crate) use events::{EventStore, EventStoreError};
