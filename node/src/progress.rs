//! Progress of long work (publish, get), reported to whoever watches.
//!
//! The node only counts; the CLI decides whether that becomes a progress
//! bar (a terminal, large work) or nothing (`--json`, scripts).

pub trait Progress: Send + Sync {
    /// The work ahead: total bytes and items.
    fn start(&self, _bytes: u64, _items: usize) {}
    /// `bytes` more are done.
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
