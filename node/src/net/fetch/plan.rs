//! The decisions of a fetch, without I/O: how a revision's missing blobs
//! are grouped into fetches ([`plan`]), the order in which the peers are
//! asked ([`PeerOrder`]), and, for one fetch, which peer to ask next for
//! what, after which pause, and when to give up ([`Retries`]). No clock
//! (pauses are returned, not slept), no store (the caller says what is
//! still missing), no socket; `fetch/mod.rs` carries the actions out.
//!
//! Why: the rules of spec/network.md ("Fetching") were interleaved with
//! awaits and store reads, twice (one blob, a batch), and could only be
//! tested with real nodes on loopback.

use std::collections::HashSet;
use std::time::Duration;

use communs_protocol::BlobHash;
use libp2p::PeerId;

use super::FilesError;
use crate::net::timing::FIRST_FETCH_RETRY_PAUSE;

/// Blobs up to this size are fetched in batches, several on one stream.
pub(super) const SMALL_BLOB: u64 = 256 * 1024;

/// A batch holds at most this many blobs...
pub(super) const BATCH_BLOBS: usize = 64;

/// ...and at most this many bytes: enough batches for the fetches to run
/// side by side, few enough that streams stay rare.
pub(super) const BATCH_BYTES: u64 = 2 << 20;

/// Tries of one blob from one peer before the next peer, 40 ms to 640 ms
/// apart (1.2 s in all): a peer that has a revision's events may still be
/// fetching its files, as a follower does right after a new revision.
pub(super) const ATTEMPTS: u32 = 6;

/// The peers a fetch asks: those known to hold the designs first
/// (`holders.rs`), then the other connected peers.
#[derive(Debug, Clone, Default)]
pub(in crate::net) struct PeerOrder {
    pub peers: Vec<PeerId>,
    /// How many of `peers`, from the first, hold the designs.
    pub holders: usize,
}

impl PeerOrder {
    /// The tries of one fetch, each with the pause before it: the holders
    /// in turn from `start` (so that concurrent fetches spread over them),
    /// then the other peers in turn from `start`, each [`ATTEMPTS`] times,
    /// 40 ms to 640 ms apart.
    fn tries(&self, start: usize) -> Vec<(PeerId, Duration)> {
        let (holders, others) = self.peers.split_at(self.holders.min(self.peers.len()));
        let mut order: Vec<PeerId> = Vec::with_capacity(self.peers.len());
        for part in [holders, others] {
            order.extend((0..part.len()).map(|k| part[(start + k) % part.len()]));
        }
        order
            .into_iter()
            .flat_map(|peer| {
                (0..ATTEMPTS).map(move |attempt| {
                    let pause = match attempt {
                        0 => Duration::ZERO,
                        n => FIRST_FETCH_RETRY_PAUSE * (1 << (n - 1)),
                    };
                    (peer, pause)
                })
            })
            .collect()
    }
}

/// One fetch: what travels on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fetch {
    /// A blob over [`SMALL_BLOB`], for the ranges the store lacks (an
    /// interrupted transfer resumes), streamed to disk, with its size as
    /// the tree says it.
    Large(BlobHash, u64),
    /// Small blobs, with their sizes, whole, each held in memory until
    /// verified.
    Small(Vec<(BlobHash, u64)>),
    /// Trees of several designs, whole, as small blobs are, each at most
    /// `MAX_TREE_BYTES` (a revision names its tree without a size).
    Trees(Vec<BlobHash>),
}

impl Fetch {
    pub(super) fn blobs(&self) -> Vec<BlobHash> {
        match self {
            Fetch::Large(hash, _) => vec![*hash],
            Fetch::Small(blobs) => blobs.iter().map(|(hash, _)| *hash).collect(),
            Fetch::Trees(trees) => trees.clone(),
        }
    }
}

/// Groups the blobs to fetch, in order: a large blob alone, runs of small
/// ones together, at most [`BATCH_BLOBS`] blobs and [`BATCH_BYTES`] bytes.
pub(super) fn plan(blobs: Vec<(BlobHash, u64)>) -> Vec<Fetch> {
    let mut plan = Vec::new();
    let mut open: Vec<(BlobHash, u64)> = Vec::new();
    let mut open_bytes = 0;
    for (hash, size) in blobs {
        let large = size > SMALL_BLOB;
        if !open.is_empty() && (large || open.len() == BATCH_BLOBS || open_bytes + size > BATCH_BYTES) {
            plan.push(Fetch::Small(std::mem::take(&mut open)));
            open_bytes = 0;
        }
        if large {
            plan.push(Fetch::Large(hash, size));
            continue;
        }
        open_bytes += size;
        open.push((hash, size));
    }
    if !open.is_empty() {
        plan.push(Fetch::Small(open));
    }
    plan
}

/// What the caller of [`Retries`] does next.
#[derive(Debug)]
pub(super) enum Step {
    /// Wait `pause`, ask `peer` for `blobs` (those still missing, in the
    /// order given), then report with [`Retries::answered`].
    Ask { peer: PeerId, pause: Duration, blobs: Vec<BlobHash> },
    /// Every blob is here.
    Done,
    /// The fetch failed: no peer to ask, or none completed it (the error
    /// names the first blob still missing and the last failure).
    GiveUp(FilesError),
}

/// The tries of one fetch (one blob or a batch): the peers in
/// [`PeerOrder`]'s order from `start`, each [`ATTEMPTS`] times, asked for
/// what is still missing, until nothing is or the tries run out.
#[derive(Debug)]
pub(super) struct Retries {
    /// The tries not made yet, each with the pause before it, the next
    /// one last.
    tries: Vec<(PeerId, Duration)>,
    /// Connected peers, named in [`FilesError::Unavailable`].
    peers: usize,
    /// The blobs still missing, in the order given.
    missing: Vec<BlobHash>,
    /// Why the last try failed (empty if none did).
    last: String,
}

impl Retries {
    /// A fetch of `missing` (the blobs the store lacks) from `peers`,
    /// fetch number `start` of a plan.
    pub(super) fn new(peers: &PeerOrder, start: usize, missing: Vec<BlobHash>) -> Retries {
        let mut tries = peers.tries(start);
        tries.reverse();
        Retries { tries, peers: peers.peers.len(), missing, last: String::new() }
    }

    /// What to do now.
    pub(super) fn next(&mut self) -> Step {
        let Some(first) = self.missing.first().copied() else { return Step::Done };
        if self.peers == 0 {
            return Step::GiveUp(FilesError::NoPeers);
        }
        match self.tries.pop() {
            Some((peer, pause)) => Step::Ask { peer, pause, blobs: self.missing.clone() },
            None => {
                let last = std::mem::take(&mut self.last);
                Step::GiveUp(FilesError::Unavailable { hash: first, tried: self.peers, last })
            }
        }
    }

    /// The last [`Step::Ask`] ended: `still_missing` are the blobs the
    /// store still lacks (those that arrived are no longer asked for), and
    /// `failure` why the try failed, if it did.
    pub(super) fn answered(&mut self, still_missing: &HashSet<BlobHash>, failure: Option<String>) {
        self.missing.retain(|hash| still_missing.contains(hash));
        if let Some(failure) = failure {
            self.last = failure;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: u8, size: u64) -> (BlobHash, u64) {
        (BlobHash(communs_protocol::Hash::from_bytes([n; 32])), size)
    }

    fn hash(n: u8) -> BlobHash {
        blob(n, 0).0
    }

    fn peer(seed: u8) -> PeerId {
        libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).expect("key").public().to_peer_id()
    }

    /// Asks of `retries` until it stops asking, each try failing and
    /// leaving everything missing; the peers asked, and the final step.
    fn fail_all(retries: &mut Retries) -> (Vec<PeerId>, Step) {
        let mut asked = Vec::new();
        loop {
            match retries.next() {
                Step::Ask { peer, blobs, .. } => {
                    asked.push(peer);
                    let missing = blobs.into_iter().collect();
                    retries.answered(&missing, Some(format!("{peer} failed")));
                }
                step => return (asked, step),
            }
        }
    }

    #[test]
    fn large_blobs_go_alone_and_runs_of_small_ones_together_in_order() {
        let blobs = vec![blob(1, 10), blob(2, SMALL_BLOB + 1), blob(3, 20), blob(4, SMALL_BLOB)];
        assert_eq!(
            plan(blobs.clone()),
            vec![
                Fetch::Small(vec![blobs[0]]),
                Fetch::Large(blobs[1].0, blobs[1].1),
                Fetch::Small(vec![blobs[2], blobs[3]])
            ]
        );
    }

    #[test]
    fn batches_are_bounded_in_blobs_and_bytes() {
        let many: Vec<_> = (0..=BATCH_BLOBS as u8).map(|n| blob(n, 1)).collect();
        let sizes: Vec<usize> = plan(many).iter().map(|f| f.blobs().len()).collect();
        assert_eq!(sizes, vec![BATCH_BLOBS, 1]);
        let heavy: Vec<_> = (0..20).map(|n| blob(n, SMALL_BLOB)).collect();
        for fetch in plan(heavy) {
            let Fetch::Small(blobs) = fetch else { panic!("{fetch:?} is small") };
            assert!(blobs.iter().map(|(_, size)| size).sum::<u64>() <= BATCH_BYTES);
        }
    }

    #[test]
    fn nothing_to_fetch_is_no_fetch() {
        assert!(plan(Vec::new()).is_empty());
    }

    #[test]
    fn holders_are_asked_first_each_fetch_from_its_own_start() {
        let (h1, h2, o1, o2) = (peer(1), peer(2), peer(3), peer(4));
        let order = PeerOrder { peers: vec![h1, h2, o1, o2], holders: 2 };
        let firsts = |start| match Retries::new(&order, start, vec![hash(1)]).next() {
            Step::Ask { peer, pause, .. } => {
                assert_eq!(pause, Duration::ZERO);
                peer
            }
            step => panic!("{step:?} asks"),
        };
        // Fetches 0 and 1 start with different holders; the others only
        // come after every holder.
        assert_eq!((firsts(0), firsts(1), firsts(2)), (h1, h2, h1));
        let (asked, _) = fail_all(&mut Retries::new(&order, 1, vec![hash(1)]));
        let each = |p: PeerId| std::iter::repeat_n(p, ATTEMPTS as usize);
        let expected: Vec<PeerId> = each(h2).chain(each(h1)).chain(each(o2)).chain(each(o1)).collect();
        assert_eq!(asked, expected);
    }

    #[test]
    fn a_peer_is_tried_a_bounded_number_of_times_with_growing_pauses_then_the_next() {
        let (a, b) = (peer(1), peer(2));
        let mut retries = Retries::new(&PeerOrder { peers: vec![a, b], holders: 0 }, 0, vec![hash(1)]);
        let mut pauses = Vec::new();
        for _ in 0..ATTEMPTS {
            let Step::Ask { peer, pause, .. } = retries.next() else { panic!("asks") };
            assert_eq!(peer, a);
            pauses.push(pause.as_millis());
            retries.answered(&HashSet::from([hash(1)]), Some("stream reset".into()));
        }
        assert_eq!(pauses, vec![0, 40, 80, 160, 320, 640]);
        // After the last failure from `a`, `b` is asked at once.
        let Step::Ask { peer, pause, .. } = retries.next() else { panic!("asks") };
        assert_eq!((peer, pause), (b, Duration::ZERO));
    }

    #[test]
    fn no_peer_completing_the_fetch_gives_up_naming_the_first_missing_blob_and_the_last_error() {
        let (a, b) = (peer(1), peer(2));
        let mut retries = Retries::new(&PeerOrder { peers: vec![a, b], holders: 1 }, 0, vec![hash(1), hash(2)]);
        let (asked, step) = fail_all(&mut retries);
        assert_eq!(asked.len(), 2 * ATTEMPTS as usize);
        let Step::GiveUp(FilesError::Unavailable { hash: first, tried, last }) = step else { panic!("{step:?}") };
        assert_eq!((first, tried, last), (hash(1), 2, format!("{b} failed")));
        // And it stays given up.
        assert!(matches!(retries.next(), Step::GiveUp(FilesError::Unavailable { .. })));
    }

    #[test]
    fn what_arrived_is_not_asked_again_and_the_fetch_ends_when_nothing_is_missing() {
        let a = peer(1);
        let mut retries = Retries::new(&PeerOrder { peers: vec![a], holders: 1 }, 0, vec![hash(1), hash(2), hash(3)]);
        let Step::Ask { blobs, .. } = retries.next() else { panic!("asks") };
        assert_eq!(blobs, vec![hash(1), hash(2), hash(3)]);
        // Part arrived, and the stream then failed: the same peer is asked
        // again, after a pause, for the rest only.
        retries.answered(&HashSet::from([hash(3), hash(1)]), Some("cut".into()));
        let Step::Ask { peer, pause, blobs } = retries.next() else { panic!("asks") };
        assert_eq!((peer, pause, blobs), (a, FIRST_FETCH_RETRY_PAUSE, vec![hash(1), hash(3)]));
        retries.answered(&HashSet::new(), None);
        assert!(matches!(retries.next(), Step::Done));
    }

    #[test]
    fn without_peers_a_missing_blob_fails_and_nothing_missing_needs_none() {
        let none = PeerOrder::default();
        assert!(matches!(Retries::new(&none, 0, vec![hash(1)]).next(), Step::GiveUp(FilesError::NoPeers)));
        assert!(matches!(Retries::new(&none, 0, Vec::new()).next(), Step::Done));
    }
}
