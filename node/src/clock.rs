//! The wall clock, read in one place: milliseconds since the Unix epoch,
//! for an event's advisory time and the node's own records (when a peer
//! was last heard, synced). Never an input of a rule.

/// Now, in milliseconds since the Unix epoch (0 on a clock set before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}
