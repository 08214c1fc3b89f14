//! Governance over a log built from fuzz input: any delivery order, any
//! split between two nodes that then merge, and one event at a time, all
//! give the state `resolve` gives for the whole set. The bound on unclaimed
//! contributions is 2 here (64 in nodes; the rule is the same), so that a
//! few events cross it: one event at a time, a maintainer's event may wait
//! for a contribution the bound dropped before it came, and a catch-up
//! (every event again, in one batch) brings it back.
//!
//! Events with valid signatures cannot come out of mutated bytes, so the
//! input is a plan that this target signs with five fixed keys (seeds 1 to
//! 5, as in spec/vectors/identity.json; the spec's worked examples use the
//! first three). Input: a 6-byte header `[maintainers, threshold, order x2,
//! split x2]` for the genesis, signed by key 0 (`maintainers` is a bit set
//! of keys), then one 6-byte record per event, at most 64:
//! `[author, kind, parent, parent2, ref, arg]`. `parent` and `ref` index
//! earlier events; `parent2` is a second parent unless 0xff. Kinds (mod 8):
//! 0 revision (`ref` its base unless 0xff, `arg` its tree), 1 approve `ref`,
//! 2 retract `ref`, 3 propose on `ref` (`arg`: change mod 3 and its subject
//! or threshold), 4 an event of another design, 5 a revision whose clock
//! contradicts its parents, 6 a comment answering `ref`, 7 a make report of
//! `ref` (`arg`: its outcome mod 3).
#![no_main]
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use communs_protocol::governance::{Applied, Resolver, resolve_with_quota};
use communs_protocol::hash::BlobHash;
use communs_protocol::{
    Body, Change, Comment, DesignId, EventId, Genesis, Hash, MakeReport, Manifest, Outcome, Revision, SecretKey,
    SignedEvent, UnsignedEvent,
};
use libfuzzer_sys::fuzz_target;

const KEYS: usize = 5;
const MAX_EVENTS: usize = 64;
const TIME: u64 = 1_767_225_600_000;
const QUOTA: usize = 2;

fn keys() -> &'static [SecretKey; KEYS] {
    static CELL: OnceLock<[SecretKey; KEYS]> = OnceLock::new();
    CELL.get_or_init(|| std::array::from_fn(|n| SecretKey::from_bytes(&[n as u8 + 1; 32])))
}

fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        Manifest::from_okh_toml("okhv = \"OKH-LOSHv1.0\"\nname = \"Fuzz\"\nlicense = \"CERN-OHL-S-2.0\"\n")
            .expect("a minimal okh.toml parses")
    })
}

fn revision(tree: u8, base: Vec<EventId>) -> Body {
    Body::Revision(Revision { tree: BlobHash::of(&[tree]), manifest: manifest().clone(), base, message: String::new() })
}

fn build(data: &[u8]) -> Option<Vec<SignedEvent>> {
    let (header, records) = data.split_first_chunk::<6>()?;
    let keys = keys();
    let mut maintainers: Vec<_> =
        (0..KEYS).filter(|k| *k == 0 || header[0] >> k & 1 == 1).map(|k| keys[k].author()).collect();
    maintainers.sort();
    let threshold = 1 + u64::from(header[1]) % maintainers.len() as u64;
    let genesis = UnsignedEvent {
        design: None,
        author: keys[0].author(),
        parents: vec![],
        clock: 0,
        time: TIME,
        body: Body::Genesis(Genesis {
            name: "Fuzz".into(),
            maintainers,
            threshold,
            license: "CERN-OHL-S-2.0".into(),
            fork_of: None,
            nonce: [0; 16],
        }),
    }
    .sign(&keys[0])
    .expect("a valid genesis signs");
    let design = genesis.design();
    let mut events = vec![genesis];
    for record in records.chunks_exact(6).take(MAX_EVENTS) {
        let &[author, kind, parent, parent2, reference, arg] = record else { unreachable!() };
        let key = &keys[usize::from(author) % KEYS];
        let pick = |n: u8| &events[usize::from(n) % events.len()];
        let mut parents = vec![pick(parent)];
        if parent2 != 0xff {
            parents.push(pick(parent2));
        }
        let mut clock = parents.iter().map(|p| p.clock()).max().unwrap_or(0).saturating_add(1);
        let parents: Vec<EventId> = parents.iter().map(|p| p.id()).collect();
        let target = pick(reference).id();
        let mut event_design = design;
        let body = match kind % 8 {
            0 => revision(arg, if reference == 0xff { vec![] } else { vec![target] }),
            1 => Body::Approve { target },
            2 => Body::Retract { target },
            3 => {
                let subject = keys[usize::from(arg / 3) % KEYS].author();
                let change = match arg % 3 {
                    0 => Change::AddMaintainer(subject),
                    1 => Change::RemoveMaintainer(subject),
                    _ => Change::SetThreshold(u64::from(arg / 3) % 7),
                };
                Body::Propose { prev: target, change }
            }
            4 => {
                event_design = DesignId::from_hash(Hash::of(&[arg]));
                Body::Approve { target }
            }
            5 => {
                clock = clock.saturating_add(1 + u64::from(arg % 2) * (u64::MAX / 2));
                revision(arg, vec![])
            }
            6 => Body::Comment(Comment { on: Some(target), text: "c".into(), attachments: vec![] }),
            _ => Body::MakeReport(MakeReport {
                revision: target,
                outcome: Outcome::ALL[usize::from(arg) % 3],
                process: String::new(),
                machine: String::new(),
                material: String::new(),
                settings: vec![],
                notes: String::new(),
                photos: vec![],
            }),
        };
        let unsigned =
            UnsignedEvent { design: Some(event_design), author: key.author(), parents, clock, time: TIME, body };
        // What the event is made of: its record, and the events it names.
        let mut made_of = record.to_vec();
        made_of.extend(unsigned.parents.iter().chain([&target]).flat_map(|id| *id.as_bytes()));
        made_of.extend(event_design.as_bytes());
        made_of.extend(clock.to_le_bytes());
        if let Some(event) = signed(unsigned, key, made_of) {
            events.push(event);
        }
    }
    Some(events)
}

/// `unsigned` signed by `key`, or `None` if it breaks a rule. Ed25519
/// signatures are deterministic, and mutated inputs share most of their
/// events with earlier ones, so signatures are kept between runs, by
/// `made_of` (every byte the event is built from): signing (instrumented)
/// was half of a run's time.
fn signed(unsigned: UnsignedEvent, key: &SecretKey, made_of: Vec<u8>) -> Option<SignedEvent> {
    thread_local! {
        static SIGNED: RefCell<HashMap<Vec<u8>, Option<SignedEvent>>> = RefCell::new(HashMap::new());
    }
    /// Kept at most (a few tens of MB).
    const MAX_KEPT: usize = 50_000;
    SIGNED.with_borrow_mut(|kept| {
        if let Some(event) = kept.get(&made_of) {
            return event.clone();
        }
        let event = unsigned.sign(key).ok();
        if kept.len() == MAX_KEPT {
            kept.clear();
        }
        kept.insert(made_of, event.clone());
        event
    })
}

/// A shuffle of `events` driven by `seed`.
fn shuffled(events: &[SignedEvent], seed: u16) -> Vec<SignedEvent> {
    let mut order = events.to_vec();
    let mut state = u64::from(seed) << 16 | 0x9e37;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

fuzz_target!(|data: &[u8]| {
    let Some(events) = build(data) else { return };
    let order = u16::from_le_bytes([data[2], data[3]]);
    let split = u16::from_le_bytes([data[4], data[5]]);
    let full = resolve_with_quota(&events, QUOTA).state;
    assert_eq!(
        resolve_with_quota(&shuffled(&events, order), QUOTA).state,
        full,
        "resolve depends on the order of its input"
    );
    let catch_up = |resolver: &mut Resolver, events: Vec<SignedEvent>| {
        for event in events {
            resolver.apply_in_batch(event);
        }
        resolver.end_batch();
    };

    let mut resolver = Resolver::with_quota(QUOTA);
    for event in shuffled(&events, order) {
        resolver.apply(event);
    }
    catch_up(&mut resolver, shuffled(&events, split));
    assert_eq!(resolver.state(), &full, "one at a time and a catch-up differ from the whole set");
    for event in &events {
        // Pending: built on a contribution over the bound, which is not
        // held (and which, applied again, is dropped again with it).
        let again = resolver.apply(event.clone());
        assert!(
            matches!(again, Applied::Known | Applied::Refused(_) | Applied::Pending),
            "{again:?} for an event seen before"
        );
    }
    assert_eq!(resolver.state(), &full, "applying events again changed the state");

    // Two nodes, each with part of the log, then all of it.
    let (mut a, mut b) = (Resolver::with_quota(QUOTA), Resolver::with_quota(QUOTA));
    for (i, event) in shuffled(&events, split).into_iter().enumerate() {
        if split >> (i % 16) & 1 == 0 {
            a.apply(event)
        } else {
            b.apply(event)
        };
    }
    catch_up(&mut a, shuffled(&events, order ^ split));
    catch_up(&mut b, shuffled(&events, order ^ split.rotate_left(3)));
    assert_eq!(a.state(), &full, "a merged partition differs from the whole set");
    assert_eq!(b.state(), &full, "a merged partition differs from the whole set");
});
