//! Governance resolution at scale: a design log of 100,000 events (1,000
//! revisions, 10 maintainers, the rest approvals and governance changes).
//!
//! Measures full resolution of the whole log, and the cost of one more
//! event applied to a [`Resolver`] holding the rest (apply + reading the
//! state), as medians over repeated runs.
//!
//! Also admission on that log: a flood of 200,000 approvals by an outsider,
//! refused, and maintainers' revisions and approvals, taken.
//!
//! `cargo bench -p communs-protocol --bench governance [-- resolve|admission]`
//! (`COMMUNS_BENCH_EVENTS=N` for another log size.)

use std::collections::HashSet;
use std::time::{Duration, Instant};

use communs_protocol::governance::{Applied, Resolver, resolve, resolve_with_refusals};
use communs_protocol::manifest::License;
use communs_protocol::{
    BlobHash, Body, Change, DesignId, EventId, Genesis, Manifest, Revision, SecretKey, SignedEvent, UnsignedEvent,
};

const MAINTAINERS: usize = 10;
/// One revision every ten events: each gets the approvals of up to nine
/// other maintainers (an approval repeated would be refused).
const REVISIONS: usize = 10_000;
const PROPOSALS: usize = 100;

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`; signing a
    // 100,000-event log there would only slow the tests down.
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("governance: skipped (run it with `cargo bench -p communs-protocol --bench governance`)");
        return;
    }
    // Cases to run: `resolve` (full and incremental resolution) and
    // `admission` (refusing a flood, taking a maintainer's approvals);
    // naming one after `--` runs only that one.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let runs = |case: &str| filters.is_empty() || filters.iter().any(|f| case.contains(f.as_str()));
    let total: usize = std::env::var("COMMUNS_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let started = Instant::now();
    let events = build_log(total);
    eprintln!("built and signed {} events in {:.1?}", events.len(), started.elapsed());
    if runs("resolve") {
        resolution(&events);
    }
    if runs("admission") {
        admission(&events);
    }
}

/// Full resolution of the log, and one more event at a time.
fn resolution(events: &[SignedEvent]) {
    let mut full = Vec::new();
    let mut state = None;
    for _ in 0..7 {
        let t = Instant::now();
        let s = resolve(events);
        full.push(t.elapsed());
        state = Some(s);
    }
    let state = state.expect("ran");
    assert!(state.canonical.is_some(), "the log has a canonical head");

    // One more event on a resolver that holds all the others: the last
    // 2,000 events of the log, one at a time, each followed by reading the
    // state (what a node does when an event arrives).
    let split = events.len() - 2_000;
    let mut resolver = Resolver::new();
    for e in &events[..split] {
        resolver.apply(e.clone());
    }
    resolver.state();
    let refused = resolve_with_refusals(events).refused.len();
    println!("refused in the log          {refused} (repeated approvals)");
    let mut incremental = Vec::with_capacity(2_000);
    // The slowest event of each kind says where the tail comes from.
    let mut slowest: std::collections::BTreeMap<&'static str, (usize, Duration)> = Default::default();
    let revisions: std::collections::HashSet<EventId> =
        events.iter().filter(|e| matches!(e.body(), Body::Revision(_))).map(SignedEvent::id).collect();
    for e in &events[split..] {
        let kind = match e.body() {
            Body::Revision(_) => "revision",
            Body::Approve { target } if revisions.contains(target) => "approve revision",
            Body::Approve { .. } => "approve proposal",
            Body::Propose { .. } => "propose",
            _ => "other",
        };
        let e = e.clone();
        let t = Instant::now();
        resolver.apply(e);
        std::hint::black_box(resolver.state());
        let took = t.elapsed();
        let entry = slowest.entry(kind).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(took);
        incremental.push(took);
    }
    for (kind, (count, max)) in &slowest {
        println!("  {kind:<18} {count:>5} events, slowest {max:.1?}");
    }
    assert_eq!(resolver.state(), &state, "incremental equals full");

    let rss = peak_rss_kib();
    println!("events                      {}", events.len());
    println!("full resolution, median     {:.1?} (7 runs; min {:.1?})", median(&mut full), full[0]);
    println!(
        "one incremental event       median {:.1?}, p99 {:.1?}, max {:.1?} (2,000 events)",
        median(&mut incremental),
        incremental[incremental.len() * 99 / 100],
        incremental[incremental.len() - 1]
    );
    println!("peak resident memory        {} MiB", rss / 1024);
    println!(
        "{{\"events\":{},\"full_ms\":{:.3},\"incremental_us_median\":{:.3},\"incremental_us_p99\":{:.3},\"peak_rss_mib\":{}}}",
        events.len(),
        median(&mut full).as_secs_f64() * 1e3,
        median(&mut incremental).as_secs_f64() * 1e6,
        incremental[incremental.len() * 99 / 100].as_secs_f64() * 1e6,
        rss / 1024
    );
}

/// What admission costs on a resolver holding the whole log: a flood of
/// approvals by an outsider, refused (first by someone no proposal names,
/// then by someone who proposed to add themselves, which makes the check
/// walk the governance past); and a maintainer publishing revisions that
/// others approve, taken.
fn admission(events: &[SignedEvent]) {
    const FLOOD: usize = 200_000;
    let mut resolver = Resolver::new();
    for e in events {
        resolver.apply(e.clone());
    }
    let design = events[0].design();
    // The flood builds on events the log holds (not on its refused ones).
    let held: Vec<&SignedEvent> = events.iter().filter(|e| resolver.contains(&e.id())).collect();
    let revisions: Vec<&SignedEvent> = events.iter().filter(|e| matches!(e.body(), Body::Revision(_))).collect();
    let outsider = SecretKey::from_bytes(&[0xEE; 32]);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng as usize
    };
    let started = Instant::now();
    let flood: Vec<SignedEvent> = (0..FLOOD)
        .map(|i| {
            let parent = held[next() % held.len()];
            let target = revisions[next() % revisions.len()].id();
            sign(&outsider, design, &[parent], i as u64, Body::Approve { target })
        })
        .collect();
    eprintln!("signed {FLOOD} outsider approvals in {:.1?}", started.elapsed());
    let refuse_all = |resolver: &mut Resolver, label: &str| {
        let t = Instant::now();
        for e in &flood {
            assert!(matches!(resolver.apply(e.clone()), Applied::Refused(_)), "an outsider's approval is refused");
        }
        let took = t.elapsed();
        println!("{label:<44} {:>10.0} events/s ({FLOOD} in {took:.2?})", FLOOD as f64 / took.as_secs_f64());
        FLOOD as f64 / took.as_secs_f64()
    };
    let plain = refuse_all(&mut resolver, "outsider flood refused, named by no proposal");
    // The outsider proposes to add themselves: now a proposal names them,
    // and each check computes (then remembers) the maintainers of the
    // approval's past.
    let head = *held.last().expect("a log");
    let state = resolver.state().state.expect("a state");
    let proposal = sign(
        &outsider,
        design,
        &[head],
        FLOOD as u64,
        Body::Propose { prev: state, change: Change::AddMaintainer(outsider.author()) },
    );
    assert!(matches!(resolver.apply(proposal), Applied::Accepted { .. }), "anyone may propose");
    let named = refuse_all(&mut resolver, "outsider flood refused, named by a proposal");

    // Maintainers at work on the 100,000-event log: one publishes a
    // revision on the canonical head, the nine others approve it, in turn.
    let keys: Vec<SecretKey> = (0..MAINTAINERS as u8).map(|i| SecretKey::from_bytes(&[i + 1; 32])).collect();
    let mut top = resolver.state().canonical.expect("a canonical head");
    let mut last = held.iter().max_by_key(|e| e.clock()).copied().expect("a log").clone();
    let manifest = Manifest::minimal("Bench", License::all("CERN-OHL-S-2.0"));
    let mut work = Vec::new();
    for round in 0..1_000usize {
        let author = &keys[round % MAINTAINERS];
        let revision = sign(
            author,
            design,
            &[&last],
            round as u64,
            Body::Revision(Revision {
                tree: BlobHash::of(&((round as u64 + 1) << 40).to_le_bytes()),
                manifest: manifest.clone(),
                base: vec![top],
                message: String::new(),
            }),
        );
        top = revision.id();
        last = revision.clone();
        work.push(revision);
        for k in 1..MAINTAINERS {
            let approval =
                sign(&keys[(round + k) % MAINTAINERS], design, &[&last], round as u64, Body::Approve { target: top });
            last = approval.clone();
            work.push(approval);
        }
    }
    // The admission check alone, before each event is applied.
    let mut checking = Duration::ZERO;
    let mut each = Vec::with_capacity(work.len());
    let t = Instant::now();
    for e in &work {
        let check = Instant::now();
        assert_eq!(resolver.admit(e), Ok(()), "a maintainer's event is admitted");
        checking += check.elapsed();
        let e = e.clone();
        let one = Instant::now();
        assert!(matches!(resolver.apply(e), Applied::Accepted { .. }), "a maintainer's approval is taken");
        std::hint::black_box(resolver.state());
        each.push(one.elapsed());
    }
    let took = t.elapsed();
    let taken = work.len() as f64 / took.as_secs_f64();
    assert_eq!(resolver.state().canonical, Some(top), "the last revision, approved by all, is canonical");
    println!(
        "{:<44} {taken:>10.0} events/s (median {:.1?}, p99 {:.1?}; {} competing heads)",
        "maintainers' revisions and approvals taken",
        median(&mut each),
        each[each.len() * 99 / 100],
        resolver.state().competing.len()
    );
    let checked = work.len() as f64 / checking.as_secs_f64();
    println!("{:<44} {checked:>10.0} events/s", "  of which the admission check alone");
    println!(
        "{{\"flood_refused_per_s\":{plain:.0},\"flood_named_refused_per_s\":{named:.0},\"maintainer_events_per_s\":{taken:.0}}}"
    );
}

fn sign(key: &SecretKey, design: DesignId, parents: &[&SignedEvent], time: u64, body: Body) -> SignedEvent {
    UnsignedEvent {
        design: Some(design),
        author: key.author(),
        parents: parents.iter().map(|p| p.id()).collect(),
        clock: 1 + parents.iter().map(|p| p.clock()).max().unwrap_or(0),
        time,
        body,
    }
    .sign(key)
    .expect("valid")
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A deterministic log: maintainers take turns publishing revisions (each
/// on the previous one, one in 30 on the one before: every branch stays a
/// competing head), approving them, and every hundredth of the way a
/// governance change is proposed and approved. No event in it is refused.
fn build_log(total: usize) -> Vec<SignedEvent> {
    let keys: Vec<SecretKey> = (0..MAINTAINERS as u8 + 2).map(|i| SecretKey::from_bytes(&[i + 1; 32])).collect();
    let maintainers: Vec<_> = keys[..MAINTAINERS].iter().map(SecretKey::author).collect();
    let genesis = UnsignedEvent {
        design: None,
        author: keys[0].author(),
        parents: vec![],
        clock: 0,
        time: 0,
        body: Body::Genesis(Genesis {
            name: "Bench".into(),
            maintainers,
            threshold: 6,
            license: "CERN-OHL-S-2.0".into(),
            fork_of: None,
            nonce: [0; 16],
        }),
    }
    .sign(&keys[0])
    .expect("genesis");
    let design = genesis.design();
    let manifest = Manifest::minimal("Bench", License::all("CERN-OHL-S-2.0"));
    let mut events = vec![genesis.clone()];
    let mut revisions: Vec<EventId> = Vec::new();
    let mut state = genesis.id();
    let mut last_proposal: Option<EventId> = None;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let revision_every = total / REVISIONS;
    let proposal_every = total / PROPOSALS;
    let mut resolver = Resolver::new();
    resolver.apply(genesis.clone());
    // (maintainer, target) for each endorsement so far.
    let mut endorsed: HashSet<(usize, EventId)> = HashSet::new();
    for i in 1..total {
        let mut author_at = (next() % MAINTAINERS as u64) as usize;
        let revision = |revisions: &[EventId], pick: u64| {
            let base = match revisions.len() {
                0 => vec![],
                n => vec![revisions[n - 1 - (pick.is_multiple_of(30) && n > 1) as usize]],
            };
            Body::Revision(Revision {
                tree: BlobHash::of(&(i as u64).to_le_bytes()),
                manifest: manifest.clone(),
                base,
                message: String::new(),
            })
        };
        let body = if i % proposal_every == 0 {
            // Alternate between a threshold change and adding then removing
            // a contributor as maintainer.
            let change = match (i / proposal_every) % 3 {
                0 => Change::SetThreshold(5 + next() % 3),
                1 => Change::AddMaintainer(keys[MAINTAINERS].author()),
                _ => Change::RemoveMaintainer(keys[MAINTAINERS].author()),
            };
            Body::Propose { prev: state, change }
        } else if i % revision_every == 0 || revisions.is_empty() {
            revision(&revisions, next())
        } else {
            // A proposal being voted on, else one of the last revisions:
            // approved by a maintainer who does not endorse it yet (a node
            // does not sign what the log would refuse).
            let back = (next() % 3) as usize;
            let last = revisions[revisions.len().saturating_sub(1 + back)];
            let start = (next() % MAINTAINERS as u64) as usize;
            let fresh =
                last_proposal.filter(|_| i % proposal_every < 20).into_iter().chain([last]).find_map(|target| {
                    (0..MAINTAINERS)
                        .map(|k| (start + k) % MAINTAINERS)
                        .find(|m| !endorsed.contains(&(*m, target)))
                        .map(|m| (m, target))
                });
            match fresh {
                Some((m, target)) => {
                    author_at = m;
                    Body::Approve { target }
                }
                None => revision(&revisions, next()),
            }
        };
        let author = &keys[author_at];
        let previous = events.last().expect("genesis");
        let event = UnsignedEvent {
            design: Some(design),
            author: author.author(),
            parents: vec![previous.id()],
            clock: previous.clock() + 1,
            time: i as u64,
            body,
        }
        .sign(author)
        .expect("valid");
        match event.body() {
            Body::Revision(_) => revisions.push(event.id()),
            Body::Propose { .. } => last_proposal = Some(event.id()),
            _ => {}
        }
        let target = match event.body() {
            Body::Approve { target } => *target,
            _ => event.id(),
        };
        endorsed.insert((author_at, target));
        events.push(event);
        // Follow the chain as it moves, so later proposals amend the
        // current state (as a real maintainer's node would).
        resolver.apply(events.last().expect("just pushed").clone());
        if i % proposal_every == 20
            && let Some(s) = resolver.state().state
        {
            state = s;
        }
    }
    events
}
