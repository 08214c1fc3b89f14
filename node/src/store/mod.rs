//! The store: events in redb, file contents in iroh-blobs, under one data
//! directory and one lock.

pub mod blobs;
mod db;
pub mod events;
pub mod file_cache;
pub mod policy;
mod sweep;
pub mod views;

pub use blobs::{BlobError, BlobStore, Freed, Guard};
pub use events::{EventStore, EventStoreError, Inserted};
pub use views::DesignRow;
