//! Everything communs does that has a side effect: the data directory, the
//! secret key on disk, and the store (events in redb, files in iroh-blobs)
//! as it is built up.
//!
//! The rules live in `communs-protocol`; this crate decides where bytes are
//! kept and never re-implements a rule.

pub mod home;
pub mod keyfile;
pub mod lock;

pub use home::{Home, HomeError};
