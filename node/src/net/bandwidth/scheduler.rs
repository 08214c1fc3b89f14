//! Who may move how many bytes now: one direction's rate limit, shared
//! fairly by the peers that want it. Sans-IO: fed `(peer, wanted, now)`,
//! it answers a grant or how long to wait, and never reads a clock.
//!
//! The limit is a token bucket of `rate` bytes per second holding at most
//! `burst`. Its refill is split evenly between the peers active now, each
//! into a share of its own (at most `burst / n`), so that n greedy peers
//! each get `rate / n` whatever their number of streams or how eagerly they
//! ask, and one peer cannot take the whole rate from the others. What a
//! share cannot hold (its peer moves less than its share, or has gone
//! quiet) overflows into a spare pool that any peer may draw on once its
//! own share is empty: the rate an idle or slow peer leaves is used by the
//! others at once, and a peer alone gets all of it. Tokens in the shares
//! and the spare pool together never exceed `burst`, so over any window
//! of `w` the bytes granted are at most `rate * w + burst`.
//!
//! A peer stays active while it asks, and for [`IDLE`] after its last
//! request or the end of the wait it was given.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use super::super::timing::{BANDWIDTH_BURST_TIME as BURST_TIME, BANDWIDTH_SHARE_IDLE as IDLE};

/// Token units per byte: one byte per second refills one unit per
/// nanosecond, so the refill needs no rounding.
const UNITS_PER_BYTE: u128 = 1_000_000_000;

/// Largest grant: a stream moves at most this much before asking again, so
/// a grant never lets one stream run far ahead of the others.
pub const MAX_GRANT: usize = 64 * 1024;

/// Smallest grant a peer waits for (unless it wants less, or its share
/// cannot hold that much): one bao chunk group, so that a stream is not
/// woken for a few bytes at a time.
pub const MIN_GRANT: usize = 16 * 1024;

/// Smallest burst, so that a slow limit still grants whole chunk groups.
pub const MIN_BURST: u64 = 4 * MIN_GRANT as u64;

/// What the scheduler says to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Move at most this many bytes now (never 0 for a request of more).
    Grant(usize),
    /// Ask again after this long.
    Wait(Duration),
}

/// What a direction has done so far, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Bytes granted.
    pub granted_bytes: u64,
    /// Requests told to wait.
    pub waits: u64,
    /// The waits handed out, added up.
    pub waited: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Share {
    /// Tokens, in units.
    tokens: u128,
    /// The peer is forgotten after this.
    active_until: Duration,
}

/// One direction's limit, shared by the peers.
#[derive(Debug, Clone)]
pub struct Scheduler<P> {
    /// Bytes per second.
    rate: u64,
    /// Units the shares and the spare pool hold together, at most.
    burst: u128,
    shares: HashMap<P, Share>,
    /// Units no share could hold, for any peer whose share is empty.
    spare: u128,
    /// When the tokens were last brought up to date.
    at: Duration,
    counters: Counters,
}

impl<P: Copy + Eq + Hash> Scheduler<P> {
    /// A limit of `rate` bytes per second (at least 1), with a full bucket
    /// at `now`.
    pub fn new(rate: u64, now: Duration) -> Scheduler<P> {
        let rate = rate.max(1);
        let burst_bytes = (u128::from(rate) * BURST_TIME.as_nanos() / UNITS_PER_BYTE).max(u128::from(MIN_BURST));
        let burst = burst_bytes * UNITS_PER_BYTE;
        Scheduler { rate, burst, shares: HashMap::new(), spare: burst, at: now, counters: Counters::default() }
    }

    /// A new limit of `rate` bytes per second (at least 1) from `now`
    /// (a reload): the time before `now` is counted at the old rate, and
    /// the tokens held are cut to the new, smaller bucket, so that no
    /// burst of the old limit outlives it.
    pub fn set_rate(&mut self, rate: u64, now: Duration) {
        self.refill(now);
        let fresh = Scheduler::<P>::new(rate, now);
        self.rate = fresh.rate;
        self.burst = fresh.burst;
        if !self.shares.is_empty() {
            let share_cap = self.burst / self.shares.len() as u128;
            for share in self.shares.values_mut() {
                share.tokens = share.tokens.min(share_cap);
            }
        }
        let held: u128 = self.shares.values().map(|share| share.tokens).sum();
        self.spare = self.spare.min(self.burst.saturating_sub(held));
    }

    /// The rate, in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// The most bytes the bucket holds.
    pub fn burst(&self) -> u64 {
        u64::try_from(self.burst / UNITS_PER_BYTE).unwrap_or(u64::MAX)
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The peers sharing the rate now.
    pub fn active_peers(&self) -> usize {
        self.shares.len()
    }

    /// `peer` wants to move `wanted` bytes at `now`.
    pub fn request(&mut self, peer: P, wanted: usize, now: Duration) -> Decision {
        let wanted = wanted.min(MAX_GRANT);
        if wanted == 0 {
            return Decision::Grant(0);
        }
        self.refill(now);
        let share = self.shares.entry(peer).or_insert(Share { tokens: 0, active_until: now });
        share.active_until = share.active_until.max(now + IDLE);
        let peers = self.shares.len() as u128;
        let share_cap = self.burst / peers;
        // At least one byte, and no more than a full share could ever hold.
        let least = (wanted.min(MIN_GRANT) as u128 * UNITS_PER_BYTE).min(share_cap.max(UNITS_PER_BYTE));
        let share = self.shares.get_mut(&peer).expect("inserted above");
        let available = share.tokens + self.spare;
        if available >= least {
            let granted = (available / UNITS_PER_BYTE).min(wanted as u128);
            let mut cost = granted * UNITS_PER_BYTE;
            let from_share = cost.min(share.tokens);
            share.tokens -= from_share;
            cost -= from_share;
            self.spare -= cost;
            self.counters.granted_bytes += granted as u64;
            return Decision::Grant(granted as usize);
        }
        // The share alone refills at rate / n; the spare pool may come sooner.
        let missing = least - available;
        let nanos = (missing * peers).div_ceil(u128::from(self.rate));
        let wait = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        share.active_until = share.active_until.max(now + wait + IDLE);
        self.counters.waits += 1;
        self.counters.waited += wait;
        Decision::Wait(wait)
    }

    /// `peer` moved `bytes` fewer than it was granted (a stream closed,
    /// or read less than it asked for): they go back to the spare pool,
    /// within the bucket, and no longer count as granted.
    pub fn give_back(&mut self, bytes: usize, now: Duration) {
        self.refill(now);
        let held: u128 = self.shares.values().map(|share| share.tokens).sum();
        let room = self.burst.saturating_sub(held + self.spare);
        self.spare += (bytes as u128 * UNITS_PER_BYTE).min(room);
        self.counters.granted_bytes = self.counters.granted_bytes.saturating_sub(bytes as u64);
    }

    /// Brings the tokens up to `now`: forgets the peers gone quiet, splits
    /// the refill between the others, and overflows full shares into the
    /// spare pool.
    fn refill(&mut self, now: Duration) {
        if now <= self.at {
            return;
        }
        let elapsed = (now - self.at).as_nanos();
        self.at = now;
        let mut freed = 0;
        self.shares.retain(|_, share| {
            let keep = share.active_until >= now;
            if !keep {
                freed += share.tokens;
            }
            keep
        });
        let mut spare = self.spare + freed;
        let refill = u128::from(self.rate) * elapsed;
        if self.shares.is_empty() {
            self.spare = (spare + refill).min(self.burst);
            return;
        }
        let peers = self.shares.len() as u128;
        let each = refill / peers;
        spare += refill % peers;
        let share_cap = self.burst / peers;
        let mut held = 0;
        for share in self.shares.values_mut() {
            share.tokens += each;
            if share.tokens > share_cap {
                spare += share.tokens - share_cap;
                share.tokens = share_cap;
            }
            held += share.tokens;
        }
        self.spare = spare.min(self.burst.saturating_sub(held));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u64 = 10_000_000;

    #[test]
    fn a_new_rate_holds_from_the_moment_it_is_set() {
        let mut scheduler = Scheduler::new(RATE, Duration::ZERO);
        let second = Duration::from_secs(1);
        let before: u64 = greedy(3, second, &mut scheduler).iter().map(|g| g.2).sum();
        assert!(before <= RATE + scheduler.burst() && before >= RATE * 9 / 10, "{before}");
        // Lowered to a tenth: the next second moves a tenth, plus at most
        // the new (smaller) bucket, whatever the old one held.
        scheduler.set_rate(RATE / 10, second);
        assert_eq!(scheduler.rate(), RATE / 10);
        let after: u64 = run_from(3, second, 2 * second, &mut scheduler).iter().map(|g| g.2).sum();
        assert!(after <= RATE / 10 + scheduler.burst(), "{after} bytes in a second at {} B/s", RATE / 10);
        assert!(after >= RATE / 10 * 9 / 10, "{after}");
        // Raised again: the new rate, at once.
        scheduler.set_rate(RATE, 2 * second);
        let raised: u64 = run_from(3, 2 * second, 3 * second, &mut scheduler).iter().map(|g| g.2).sum();
        assert!(raised >= RATE * 9 / 10 && raised <= RATE + scheduler.burst(), "{raised}");
    }

    /// [`greedy`] peers from `start` to `end`.
    fn run_from(peers: usize, start: Duration, end: Duration, scheduler: &mut Scheduler<usize>) -> Vec<Grant> {
        run_between(peers, start, end, scheduler, |_, _| true)
    }

    /// One grant: when, to which peer, how many bytes.
    type Grant = (Duration, usize, u64);

    /// Peers that always want more, each asking again as soon as it may.
    fn greedy(peers: usize, end: Duration, scheduler: &mut Scheduler<usize>) -> Vec<Grant> {
        run(peers, end, scheduler, |_, _| true)
    }

    /// Peers that ask when `wants(peer, now)` says so (otherwise they check
    /// again a millisecond later), each 16 KiB and a bao header at a time.
    fn run(
        peers: usize,
        end: Duration,
        scheduler: &mut Scheduler<usize>,
        wants: impl FnMut(usize, Duration) -> bool,
    ) -> Vec<Grant> {
        run_between(peers, Duration::ZERO, end, scheduler, wants)
    }

    fn run_between(
        peers: usize,
        start: Duration,
        end: Duration,
        scheduler: &mut Scheduler<usize>,
        mut wants: impl FnMut(usize, Duration) -> bool,
    ) -> Vec<Grant> {
        let mut next = vec![start; peers];
        let mut grants = Vec::new();
        loop {
            // The peer due first asks (ties: the lowest number, which must
            // not give it more than the others).
            let (peer, &now) = next.iter().enumerate().min_by_key(|(i, t)| (**t, *i)).expect("peers");
            if now >= end {
                return grants;
            }
            if !wants(peer, now) {
                next[peer] = now + Duration::from_millis(1);
                continue;
            }
            match scheduler.request(peer, 16 * 1024 + 64, now) {
                Decision::Grant(n) => {
                    assert!(n > 0);
                    grants.push((now, peer, n as u64));
                }
                Decision::Wait(wait) => {
                    assert!(!wait.is_zero(), "a wait of nothing would spin");
                    next[peer] = now + wait;
                }
            }
        }
    }

    /// Bytes each of `peers` was granted in `[from, to)`.
    fn granted(grants: &[Grant], peers: usize, from: Duration, to: Duration) -> Vec<u64> {
        let mut got = vec![0; peers];
        for &(at, peer, bytes) in grants {
            if at >= from && at < to {
                got[peer] += bytes;
            }
        }
        got
    }

    fn spread(got: &[u64]) -> f64 {
        let max = *got.iter().max().expect("peers") as f64;
        let min = *got.iter().min().expect("peers") as f64;
        (max - min) / max
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn greedy_peers_share_the_rate_evenly_and_never_exceed_it() {
        for peers in 2..=8 {
            let mut scheduler = Scheduler::new(RATE, Duration::ZERO);
            let grants = greedy(peers, secs(10.0), &mut scheduler);
            // The full bucket at the start goes to whoever asks first; from
            // then on, each its share.
            let got = granted(&grants, peers, secs(0.5), secs(10.0));
            assert!(spread(&got) < 0.03, "{peers} peers got {got:?}");
            let all = granted(&grants, peers, Duration::ZERO, secs(10.0));
            let total: u64 = all.iter().sum();
            assert!(total <= RATE * 10 + scheduler.burst(), "{total} bytes in 10 s at {RATE} B/s");
            assert!(total as f64 > 0.97 * (RATE * 10) as f64, "{peers} greedy peers used only {total} bytes");
            assert_eq!(scheduler.counters().granted_bytes, total);
            assert!(scheduler.counters().waits > 0 && !scheduler.counters().waited.is_zero());
            // Over every window longer than the burst's time, at most the
            // rate plus one burst.
            for window in [secs(0.15), secs(0.4), secs(2.0)] {
                let allowed = RATE as f64 * window.as_secs_f64() + scheduler.burst() as f64;
                let mut start = 0;
                let mut in_window = 0;
                for &(at, _, bytes) in &grants {
                    in_window += bytes;
                    while grants[start].0 + window <= at {
                        in_window -= grants[start].2;
                        start += 1;
                    }
                    assert!(in_window as f64 <= allowed, "{in_window} bytes within {window:?} of {at:?}");
                }
            }
        }
    }

    #[test]
    fn a_peer_with_many_streams_gets_no_more_than_one_with_one() {
        // Streams 0..4 are peer 0's, stream 4 is peer 1's.
        let mut scheduler = Scheduler::new(RATE, Duration::ZERO);
        let mut next = [Duration::ZERO; 5];
        let mut got = [0u64; 2];
        loop {
            let (stream, &now) = next.iter().enumerate().min_by_key(|(i, t)| (**t, *i)).expect("streams");
            if now >= secs(5.0) {
                break;
            }
            let peer = usize::from(stream == 4);
            match scheduler.request(peer, MAX_GRANT, now) {
                Decision::Grant(n) if now >= secs(0.5) => got[peer] += n as u64,
                Decision::Grant(_) => {}
                Decision::Wait(wait) => next[stream] = now + wait,
            }
        }
        assert!(spread(&got) < 0.03, "one peer with four streams and one with one got {got:?}");
    }

    #[test]
    fn a_peer_alone_gets_the_whole_rate_and_an_idle_peer_leaves_its_share_to_the_others() {
        let mut scheduler = Scheduler::new(RATE, Duration::ZERO);
        let alone = granted(&greedy(1, secs(4.0), &mut scheduler), 1, Duration::ZERO, secs(4.0))[0];
        assert!(alone as f64 > 0.98 * (RATE * 4) as f64 && alone <= RATE * 4 + scheduler.burst(), "{alone}");

        // Three peers; peer 2 stops asking after 1 s.
        let mut scheduler = Scheduler::new(RATE, Duration::ZERO);
        let grants = run(3, secs(5.0), &mut scheduler, |peer, now| peer != 2 || now < secs(1.0));
        let first = granted(&grants, 3, secs(0.5), secs(1.0));
        assert!(spread(&first) < 0.05, "three greedy peers: {first:?}");
        // At once, peers 0 and 1 use the whole rate between them...
        let gap = granted(&grants, 3, secs(1.0), secs(2.0));
        assert_eq!(gap[2], 0);
        assert!((gap[0] + gap[1]) as f64 > 0.95 * RATE as f64, "the idle peer's share was lost: {gap:?}");
        // ...and once it is forgotten, half each.
        let after = granted(&grants, 3, secs(2.0), secs(5.0));
        assert!(spread(&after[..2]) < 0.03, "{after:?}");
        assert!((after[0] + after[1]) as f64 > 0.98 * (RATE * 3) as f64, "{after:?}");
        assert_eq!(scheduler.active_peers(), 2, "peer 2 is forgotten");
    }

    #[test]
    fn a_slow_peer_keeps_what_it_uses_and_the_greedy_one_gets_the_rest() {
        // Peer 1 wants about 1 MB/s (one request every 17 ms), peer 0 all
        // it can get.
        let mut scheduler = Scheduler::new(RATE, Duration::ZERO);
        let mut next_slow = Duration::ZERO;
        let grants = run(2, secs(5.0), &mut scheduler, |peer, now| {
            if peer == 0 {
                return true;
            }
            if now >= next_slow {
                next_slow = now + Duration::from_millis(17);
                return true;
            }
            false
        });
        let got = granted(&grants, 2, secs(1.0), secs(5.0));
        let slow = 16_448.0 / 0.017 * 4.0;
        assert!((got[1] as f64 - slow).abs() < 0.05 * slow, "the slow peer got {got:?}");
        let rest = RATE as f64 * 4.0 - slow;
        assert!((got[0] as f64 - rest).abs() < 0.03 * rest, "the greedy peer got {got:?}");
    }

    #[test]
    fn a_slow_limit_still_grants_and_a_full_bucket_is_a_burst_at_most() {
        let mut scheduler = Scheduler::new(1_000, Duration::ZERO);
        assert_eq!(scheduler.burst(), MIN_BURST);
        assert_eq!(scheduler.request(1, MAX_GRANT * 2, Duration::ZERO), Decision::Grant(MAX_GRANT));
        // The bucket is empty: 100 bytes at 1000 B/s is 100 ms away.
        assert_eq!(scheduler.request(1, 100, Duration::ZERO), Decision::Wait(Duration::from_millis(100)));
        assert_eq!(scheduler.request(1, 100, secs(0.1)), Decision::Grant(100));
        assert_eq!(scheduler.request(1, 0, secs(0.1)), Decision::Grant(0));
        // A long idle time fills the bucket to its burst, no more.
        let later = Duration::from_secs(3600);
        let mut total = 0;
        while let Decision::Grant(n) = scheduler.request(2, MAX_GRANT, later) {
            total += n as u64;
        }
        assert_eq!(total, MIN_BURST);
        // What a stream did not use goes back, within the bucket.
        let granted = scheduler.counters().granted_bytes;
        scheduler.give_back(1_000, later);
        assert_eq!(scheduler.counters().granted_bytes, granted - 1_000);
        assert_eq!(scheduler.request(2, 1_000, later), Decision::Grant(1_000));
        scheduler.give_back(MAX_GRANT * 4, later + secs(10.0));
        // Peer 2 (still waiting) holds its share of the last 10 s; peer 3
        // the rest: together one burst.
        let mut total = 0;
        for (peer, piece) in [(3, MAX_GRANT), (2, 1_000)] {
            while let Decision::Grant(n) = scheduler.request(peer, piece, later + secs(10.0)) {
                total += n as u64;
            }
        }
        assert_eq!(total, MIN_BURST, "a bucket holds its burst at most");
    }
}
