//! Everything communs does that has a side effect: the data directory, the
//! secret key on disk, and the store (events in redb, files in iroh-blobs)
//! as it is built up.
//!
//! The rules live in `communs-protocol`; this crate decides where bytes are
//! kept and never re-implements a rule.
#![forbid(unsafe_code)]

pub mod api;
pub mod atomic;
pub mod backup;
pub mod bundle;
mod catalog;
mod checkout;
pub mod clock;
pub mod disk;
mod error;
mod folder;
pub mod fork;
mod fsck;
pub mod gc;
mod govern;
pub mod home;
mod ingest;
mod inspect;
pub mod keyfile;
mod lock;
pub mod marker;
pub mod metrics;
pub mod net;
mod node;
mod policy;
pub mod progress;
pub mod publish;
pub mod reload;
pub mod search;
pub mod service;
pub mod social;
mod store;
pub mod units;

pub use error::NodeError;
pub use home::{Home, HomeError};
pub use node::{Node, OpenError};
pub use policy::SeedPolicy;
