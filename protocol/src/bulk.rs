//! Checking many events at once, on many threads: a bundle's, or a
//! catch-up's batches.
//!
//! A [`BulkVerifier`] lives as long as the node: it keeps each thread's
//! decoded authors' keys, and the tables of frequent authors' keys
//! ([`crate::strict_verify`]), from one bulk to the next. A catch-up
//! verifies a batch of at most [`crate::limits::MAX_FETCH_IDS`] events at a
//! time, mostly by the same few authors; a table costs about thirty checks
//! to build, and building it again for every batch was a tenth of a bulk
//! catch-up's time.
//!
//! Each signature is checked on its own with the strict rule of
//! [`SignedEvent::decode`], not with Ed25519 batch verification
//! (`ed25519_dalek::verify_batch`): that checks one random linear
//! combination of the equations, without the cofactor, does not refuse a
//! small-order `R` and does not compare `R`'s encoding, so it accepts
//! signatures the strict check refuses (an author can sign with `R` the
//! identity point and `S = H(R‖A‖M)·a`, which every batch accepts). Two
//! nodes must never disagree on whether an event is valid, so a batch could
//! only ever be a first pass, and its saving is smaller than what every core
//! already gives.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::event::{EventError, SignedEvent, Verify};
use crate::identity::KeyCache;

/// Decodes and verifies bulks of events over a fixed number of threads,
/// keeping authors' keys between bulks. The caller picks the number of
/// threads (this crate does not ask the operating system).
pub struct BulkVerifier {
    threads: NonZeroUsize,
    /// Key caches not in use, one per thread at most.
    idle: Mutex<Vec<KeyCache>>,
}

impl BulkVerifier {
    pub fn new(threads: NonZeroUsize) -> Self {
        BulkVerifier { threads, idle: Mutex::new(Vec::new()) }
    }

    /// [`SignedEvent::decode`] of each record, spread over the threads;
    /// the results are in the order of `records`.
    pub fn decode_many(&self, records: &[Vec<u8>]) -> Vec<Result<SignedEvent, EventError>> {
        in_parts(records, self.threads, |part: &[Vec<u8>]| {
            self.with_keys(|keys| {
                part.iter().map(|bytes| SignedEvent::decode_checked(bytes, Verify::Yes(keys))).collect()
            })
        })
    }

    /// Whether every one of `events` (decoded with
    /// [`SignedEvent::decode_trusted`] from bytes that did not come from
    /// this node's store) passes the checks that [`SignedEvent::decode`]
    /// adds to [`SignedEvent::decode_trusted`] (its author's key and its
    /// signature). Stops at the first that fails, and as soon as `stop` is
    /// set (then `false`): a caller that learns meanwhile that the events
    /// are refused anyway does not pay for the rest.
    pub fn verify_all(&self, events: &[SignedEvent], stop: &AtomicBool) -> bool {
        // Set by the first thread that finds a failure, for the others.
        let failed = AtomicBool::new(false);
        let verify_part = |part: &[SignedEvent]| {
            self.with_keys(|keys| {
                for event in part {
                    if stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                        return vec![false];
                    }
                    if event.verify_decoded(keys).is_err() {
                        failed.store(true, Ordering::Relaxed);
                        return vec![false];
                    }
                }
                vec![true]
            })
        };
        in_parts(events, self.threads, verify_part).into_iter().all(|ok| ok)
    }

    /// [`SignedEvent::decode_trusted`] of each record, spread over the
    /// threads, in the order of `records`.
    pub fn decode_trusted_many(&self, records: &[Vec<u8>]) -> Vec<Result<SignedEvent, EventError>> {
        in_parts(records, self.threads, |part| part.iter().map(|bytes| SignedEvent::decode_trusted(bytes)).collect())
    }

    /// `work` with a key cache of its own, taken from the idle ones and
    /// put back after. A cache that is full (as many keys as it keeps) is
    /// dropped instead: the next bulk starts afresh, rather than the
    /// authors of long ago holding every place for good.
    fn with_keys<R>(&self, work: impl FnOnce(&mut KeyCache) -> R) -> R {
        let taken = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let mut keys = taken.unwrap_or_default();
        let out = work(&mut keys);
        if !keys.is_full() {
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < self.threads.get() {
                idle.push(keys);
            }
        }
        out
    }
}

/// `work` over `items` split into `threads` consecutive parts (fewer if
/// there are few items), each on a scoped thread; the results in the
/// order of `items`.
fn in_parts<T: Sync, R: Send>(items: &[T], threads: NonZeroUsize, work: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    // Below this many items per thread, starting threads costs more than
    // it saves.
    const MIN_PER_THREAD: usize = 64;
    let threads = threads.get().min(items.len().div_ceil(MIN_PER_THREAD)).max(1);
    if threads == 1 {
        return work(items);
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items.chunks(chunk).map(|part| scope.spawn(move || work(part))).collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}
