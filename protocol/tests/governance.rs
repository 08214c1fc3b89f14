//! Governance: the worked examples of spec/governance.md, and properties
//! over random logs (any delivery order, any partition and merge, and
//! incremental resolution all give the same state).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use communs_protocol::governance::{
    Applied, GovernanceState, LossReason, ProposalOutcome, Refusal, Resolution, Resolver, VoidReason, resolve,
    resolve_with_quota, resolve_with_refusals,
};
use communs_protocol::{AuthorId, Body, Change, EventId, Genesis, SecretKey, SignedEvent, UnsignedEvent};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Builds signed events from the symbolic scenarios of the spec.
struct Builder {
    keys: BTreeMap<String, SecretKey>,
    events: BTreeMap<String, SignedEvent>,
    order: Vec<String>,
}

impl Builder {
    fn new(authors: &Value) -> Builder {
        let keys = authors
            .as_object()
            .expect("authors")
            .iter()
            .map(|(name, seed)| (name.clone(), support::key(seed.as_u64().expect("seed") as u8)))
            .collect();
        Builder { keys, events: BTreeMap::new(), order: Vec::new() }
    }

    fn author(&self, name: &str) -> AuthorId {
        self.keys.get(name).unwrap_or_else(|| panic!("unknown author {name}")).author()
    }

    fn id(&self, label: &str) -> EventId {
        self.events.get(label).unwrap_or_else(|| panic!("unknown event {label}")).id()
    }

    fn label(&self, id: &EventId) -> String {
        self.events.iter().find(|(_, e)| e.id() == *id).map(|(l, _)| l.clone()).unwrap_or_else(|| id.to_string())
    }

    fn add(&mut self, spec: &Value) {
        let label = spec["id"].as_str().expect("id").to_owned();
        let author = spec["author"].as_str().expect("author");
        let key = &self.keys[author];
        let labels = |v: &Value| -> Vec<EventId> {
            v.as_array().map(|a| a.iter().map(|l| self.id(l.as_str().expect("label"))).collect()).unwrap_or_default()
        };
        let parents = labels(&spec["parents"]);
        let clock = parents.iter().map(|p| self.events.values().find(|e| e.id() == *p).expect("parent").clock()).max();
        let body = if let Some(g) = spec.get("genesis") {
            Body::Genesis(Genesis {
                name: "Scenario".into(),
                maintainers: g["maintainers"]
                    .as_array()
                    .expect("maintainers")
                    .iter()
                    .map(|m| self.author(m.as_str().expect("name")))
                    .collect(),
                threshold: g["threshold"].as_u64().expect("threshold"),
                license: "CERN-OHL-S-2.0".into(),
                fork_of: None,
                nonce: [0; 16],
            })
        } else if let Some(r) = spec.get("revision") {
            support::revision(label.len() as u8, &labels(&r["base"]), &label)
        } else if let Some(t) = spec.get("approve") {
            Body::Approve { target: self.id(t.as_str().expect("target")) }
        } else if let Some(t) = spec.get("retract") {
            Body::Retract { target: self.id(t.as_str().expect("target")) }
        } else if let Some(p) = spec.get("propose") {
            let change = if let Some(a) = p.get("add-maintainer") {
                Change::AddMaintainer(self.author(a.as_str().expect("name")))
            } else if let Some(a) = p.get("remove-maintainer") {
                Change::RemoveMaintainer(self.author(a.as_str().expect("name")))
            } else {
                Change::SetThreshold(p["set-threshold"].as_u64().expect("a change"))
            };
            Body::Propose { prev: self.id(p["prev"].as_str().expect("prev")), change }
        } else if let Some(c) = spec.get("comment") {
            Body::Comment(communs_protocol::Comment {
                on: c.get("on").and_then(Value::as_str).map(|l| self.id(l)),
                text: c["text"].as_str().expect("text").to_owned(),
                attachments: vec![],
            })
        } else if let Some(m) = spec.get("made") {
            Body::MakeReport(communs_protocol::MakeReport {
                revision: self.id(m["revision"].as_str().expect("revision")),
                outcome: m["outcome"].as_str().expect("outcome").parse().expect("an outcome"),
                process: String::new(),
                machine: String::new(),
                material: m.get("material").and_then(Value::as_str).unwrap_or_default().to_owned(),
                settings: vec![],
                notes: String::new(),
                photos: vec![],
            })
        } else {
            panic!("event {label} has no body")
        };
        let design = self.events.values().next().map(SignedEvent::design);
        let event = UnsignedEvent {
            design,
            author: key.author(),
            parents,
            clock: clock.map_or(0, |c| c + 1),
            time: support::TIME,
            body,
        }
        .sign(key)
        .unwrap_or_else(|e| panic!("event {label}: {e}"));
        self.events.insert(label.clone(), event);
        self.order.push(label);
    }

    fn all(&self) -> Vec<SignedEvent> {
        self.order.iter().map(|l| self.events[l].clone()).collect()
    }

    /// The state in the symbolic form the spec's `expect` uses.
    fn describe(&self, state: &GovernanceState) -> Value {
        let name = |a: &AuthorId| {
            self.keys.iter().find(|(_, k)| k.author() == *a).map(|(n, _)| n.clone()).expect("known author")
        };
        let names = |v: &[AuthorId]| {
            let mut n: Vec<String> = v.iter().map(name).collect();
            n.sort();
            n
        };
        let proposals: BTreeMap<String, String> = state
            .proposals
            .iter()
            .map(|p| {
                let outcome = match p.outcome {
                    ProposalOutcome::Accepted => "accepted".to_owned(),
                    ProposalOutcome::Pending => "pending".to_owned(),
                    ProposalOutcome::Void(VoidReason::LostTo(w)) => format!("void: lost to {}", self.label(&w)),
                    ProposalOutcome::Void(VoidReason::Superseded { by }) => {
                        format!("void: superseded by {}", self.label(&by))
                    }
                    ProposalOutcome::Void(VoidReason::NotOnChain) => "void: not on the chain".to_owned(),
                    ProposalOutcome::Void(VoidReason::NotApplicable(why)) => format!("void: not applicable ({why:?})"),
                };
                (self.label(&p.id), outcome)
            })
            .collect();
        let approvals: BTreeMap<String, Vec<String>> =
            state.approvals.iter().map(|(r, who)| (self.label(r), names(who))).collect();
        json!({
            "maintainers": names(&state.maintainers),
            "threshold": state.threshold,
            "canonical": state.canonical.map(|c| self.label(&c)),
            "competing": state.competing.iter().map(|c| json!({
                "revision": self.label(&c.revision),
                "lost": match c.lost {
                    LossReason::FewerApprovals => "fewer approvals",
                    LossReason::LowerClock => "lower clock",
                    LossReason::HigherId => "higher id",
                },
            })).collect::<Vec<_>>(),
            "open": state.open.iter().map(|o| self.label(&o.revision)).collect::<Vec<_>>(),
            "approvals": approvals,
            "proposals": proposals,
        })
    }
}

#[test]
fn worked_examples_from_the_spec() {
    let dir = support::vectors_dir().join("governance");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("spec/vectors/governance").flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 14, "the fourteen worked examples");
    for path in files {
        let scenario: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let mut builder = Builder::new(&scenario["authors"]);
        for event in scenario["events"].as_array().expect("events") {
            builder.add(event);
        }
        let events = builder.all();
        let quota = scenario
            .get("quota")
            .and_then(Value::as_u64)
            .map_or(communs_protocol::limits::MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR, |q| q as usize);
        let resolution = resolve_with_quota(&events, quota);
        let state = resolution.state.clone();
        let mut got = builder.describe(&state);
        // Refusals by reason, and events waiting on a refused parent; a
        // scenario that lists none expects none.
        got["refused"] = resolution.refused.iter().map(|(id, why)| (builder.label(id), json!(why.reason()))).collect();
        got["waiting"] = resolution.waiting.iter().map(|id| builder.label(id)).collect();
        let expect = &scenario["expect"];
        for key in ["refused", "waiting"] {
            let none = if key == "refused" { json!({}) } else { json!([]) };
            assert_eq!(&got[key], expect.get(key).unwrap_or(&none), "{}: {key}", path.display());
        }
        for (key, value) in expect.as_object().expect("expect") {
            assert_eq!(&got[key], value, "{}: {key}\nfull state: {got:#}", path.display());
        }
        // The same from every rotation and the reverse of the delivery
        // order, with the same refusals.
        for shift in 0..events.len() {
            let mut order = events.clone();
            order.rotate_left(shift);
            order.reverse();
            let mut node = Node::with_quota(quota);
            for e in order {
                node.apply(e);
            }
            // What the bound dropped on the way comes back with a catch-up.
            node.catch_up(&events);
            let context = format!("{}: incremental, order {shift}", path.display());
            node.check(&resolution, &events).unwrap_or_else(|e| panic!("{context}: {e}"));
        }
    }
}

/// A random but valid design log: the keys of five people (the first three
/// start as maintainers, the others are outsiders), events whose parents
/// and targets are drawn among earlier events. Parents are mostly events
/// the log admits, sometimes any (so some events build on refused ones);
/// approvals and retractions come from anyone, target anything (revisions,
/// proposals, the genesis, events not in their past) and repeat. Floods:
/// one author signs a burst of revisions, each on the last or all on the
/// same parents, which crosses the (small) bound on unclaimed
/// contributions.
#[derive(Debug, Clone)]
struct LogPlan {
    threshold: u64,
    /// The bound on unclaimed contributions, small so that floods cross it.
    quota: usize,
    steps: Vec<(u8, u8, Vec<u16>, u16, u16)>,
}

fn log_plan() -> impl Strategy<Value = LogPlan> {
    (
        1u64..=3,
        1usize..=3,
        proptest::collection::vec(
            (0u8..8, 0u8..5, proptest::collection::vec(any::<u16>(), 1..3), any::<u16>(), any::<u16>()),
            1..24,
        ),
    )
        .prop_map(|(threshold, quota, steps)| LogPlan { threshold, quota, steps })
}

/// Three maintainers at the genesis, then two outsiders.
fn keys() -> &'static [SecretKey; 5] {
    static KEYS: std::sync::OnceLock<[SecretKey; 5]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| [support::key(1), support::key(2), support::key(3), support::key(4), support::key(5)])
}

fn build_log(plan: &LogPlan) -> Vec<SignedEvent> {
    let keys = keys();
    let maintainers = vec![keys[0].author(), keys[1].author(), keys[2].author()];
    let genesis = support::genesis(&keys[0], &maintainers, plan.threshold);
    let mut events = vec![genesis.clone()];
    // Which events the log admits so far, to draw parents from them.
    let mut log = Resolver::with_quota(plan.quota);
    log.apply(genesis.clone());
    let mut admitted = vec![0usize];
    let mut revisions: Vec<EventId> = Vec::new();
    let mut proposals: Vec<EventId> = vec![genesis.id()];
    // The last approval or retraction, by whom: sometimes said again
    // (on top of it, so that it is in the past of the repeat).
    let mut last_stance: Option<(u8, Body, usize)> = None;
    for (kind, who, parents, a, b) in &plan.steps {
        let repeat = (*kind == 3 && b % 4 == 3).then(|| last_stance.clone()).flatten();
        let who = repeat.as_ref().map_or(*who, |(w, _, _)| *w);
        let key = &keys[who as usize];
        let any_parent = a % 8 == 7;
        let mut picked: Vec<&SignedEvent> = parents
            .iter()
            .map(|p| match (&repeat, any_parent) {
                (Some((_, _, on)), _) => &events[*on],
                (None, true) => &events[*p as usize % events.len()],
                (None, false) => &events[admitted[*p as usize % admitted.len()]],
            })
            .collect();
        picked.sort_by_key(|e| e.id());
        picked.dedup_by_key(|e| e.id());
        let pick = |list: &[EventId], n: u16| list.get(n as usize % list.len().max(1)).copied();
        if *kind == 7 {
            // A flood: a chain, or siblings on the same parents.
            let mut on: Vec<SignedEvent> = picked.iter().map(|e| (*e).clone()).collect();
            for n in 0..(2 + b % 4) {
                let refs: Vec<&SignedEvent> = on.iter().collect();
                let event = support::child(key, &refs, support::revision((b % 200 + n) as u8, &[], "flood"));
                revisions.push(event.id());
                if matches!(log.apply(event.clone()), Applied::Accepted { .. }) {
                    admitted.push(events.len());
                }
                if a % 2 == 0 {
                    on = vec![event.clone()];
                }
                events.push(event);
            }
            continue;
        }
        let body = match kind {
            _ if repeat.is_some() => repeat.expect("checked").1,
            // Mostly on a revision among its parents (in its past); else on
            // any revision, which the log refuses when it is not in its past.
            0 | 1 => {
                let on_parents: Vec<EventId> =
                    picked.iter().filter(|e| matches!(e.body(), Body::Revision(_))).map(|e| e.id()).collect();
                let base = match pick(&on_parents, *a) {
                    Some(parent) if *kind == 0 || a % 4 != 0 => vec![parent],
                    _ if a % 4 == 0 => pick(&revisions, *a).into_iter().collect(),
                    _ => vec![],
                };
                support::revision(*b as u8, &base, "r")
            }
            2 | 3 => match pick(&revisions, *a) {
                Some(target) if *kind == 2 || *b % 2 == 0 => Body::Approve { target },
                Some(target) => Body::Retract { target },
                None => support::revision(*b as u8, &[], "r"),
            },
            4 => match pick(&proposals, *a) {
                Some(target) if *b % 3 != 0 => Body::Approve { target },
                Some(target) => Body::Retract { target },
                None => continue,
            },
            5 | 6 => {
                let prev = pick(&proposals, *a).expect("the genesis is always there");
                let change = match b % 3 {
                    0 => Change::AddMaintainer(keys[(*b as usize / 3) % 5].author()),
                    1 => Change::RemoveMaintainer(keys[(*b as usize / 3) % 5].author()),
                    _ => Change::SetThreshold(u64::from(b % 4).max(1)),
                };
                Body::Propose { prev, change }
            }
            _ => unreachable!("floods are signed above and kinds end at 7"),
        };
        let event = support::child(key, &picked, body);
        match event.body() {
            Body::Revision(_) => revisions.push(event.id()),
            Body::Propose { .. } => proposals.push(event.id()),
            stance => last_stance = Some((who, stance.clone(), events.len())),
        }
        if matches!(log.apply(event.clone()), Applied::Accepted { .. }) {
            admitted.push(events.len());
        }
        events.push(event);
    }
    events
}

/// A deterministic shuffle driven by `seed`.
fn shuffled(events: &[SignedEvent], seed: u64) -> Vec<SignedEvent> {
    let mut order = events.to_vec();
    let mut state = seed | 1;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

fn cases() -> u32 {
    std::env::var("COMMUNS_GOVERNANCE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// What a resolver made of the events applied to it: every refusal it
/// reported, by event.
#[derive(Default)]
struct Node {
    resolver: Resolver,
    refused: BTreeMap<EventId, Refusal>,
    /// Whether the bound took anything out on the way.
    evicted: bool,
}

impl Node {
    fn with_quota(quota: usize) -> Node {
        Node { resolver: Resolver::with_quota(quota), ..Node::default() }
    }

    fn apply(&mut self, event: SignedEvent) {
        let applied = self.resolver.apply(event.clone());
        self.record(event.id(), applied);
    }

    fn record(&mut self, id: EventId, applied: Applied) {
        match applied {
            Applied::Refused(why) => {
                self.evicted |= matches!(why, Refusal::OverQuota { .. });
                self.refused.insert(id, why);
            }
            Applied::Accepted { refused, evicted, .. } => {
                self.evicted |= !evicted.is_empty();
                self.refused.extend(refused);
            }
            Applied::PendingFull => panic!("the pending set cannot fill in a small log"),
            Applied::Known | Applied::Pending => {}
        }
    }

    /// Every event again, in one batch, as a catch-up with a peer holding
    /// them all delivers them: what the bound dropped on the way comes
    /// back, and maintainers' events waiting for it are taken.
    fn catch_up(&mut self, events: &[SignedEvent]) {
        for e in events {
            let applied = self.resolver.apply_in_batch(e.clone());
            self.record(e.id(), applied);
        }
        self.resolver.end_batch();
    }

    /// The same state as the full resolution, the same final refusals, the
    /// same events kept, and the same events waiting.
    fn check(&self, full: &Resolution, events: &[SignedEvent]) -> Result<(), TestCaseError> {
        let finals = |m: &BTreeMap<EventId, Refusal>| -> BTreeMap<EventId, Refusal> {
            m.iter().filter(|(_, why)| why.is_final()).map(|(id, why)| (*id, why.clone())).collect()
        };
        prop_assert_eq!(finals(&self.refused), finals(&full.refused));
        for e in events {
            let kept = !full.refused.contains_key(&e.id()) && !full.waiting.contains(&e.id());
            prop_assert_eq!(self.resolver.contains(&e.id()), kept, "kept: {}", e.id());
        }
        let pending: BTreeSet<EventId> = self.resolver.pending().copied().collect();
        prop_assert_eq!(&pending, &full.waiting);
        prop_assert_eq!(self.resolver.state(), &full.state);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_delivery_order_partition_and_merge_gives_the_same_state(plan in log_plan(), seed in any::<u64>(), split in any::<u64>()) {
        let events = build_log(&plan);
        let full = resolve_with_quota(&events, plan.quota);
        prop_assert_eq!(&resolve_with_quota(&shuffled(&events, seed), plan.quota), &full);

        // Incremental, in a random order (out-of-order events wait; those
        // built on refused events wait for good). When the bound took
        // nothing out on the way, that is all it takes; otherwise a
        // maintainer's event may wait for a contribution dropped before
        // it arrived, and a catch-up brings that back.
        let mut node = Node::with_quota(plan.quota);
        for e in shuffled(&events, seed.rotate_left(17)) {
            node.apply(e);
        }
        if !node.evicted {
            node.check(&full, &events)?;
        }
        node.catch_up(&shuffled(&events, seed.rotate_left(29)));
        node.check(&full, &events)?;
        // The check without a change agrees with what was applied.
        for e in &events {
            let got = node.resolver.admit(e);
            // A parent the bound dropped is missing here, whatever the
            // full resolution said of the event with it.
            let parent_dropped = e.parents().iter().any(|p| matches!(full.refused.get(p), Some(Refusal::OverQuota { .. })));
            if parent_dropped && !full.refused.get(&e.id()).is_some_and(|why| matches!(why, Refusal::SecondGenesis)) {
                prop_assert!(matches!(got, Err(Refusal::MissingParent { .. }) | Err(Refusal::Duplicate)), "{:?}", got);
                continue;
            }
            match full.refused.get(&e.id()) {
                Some(Refusal::OverQuota { .. }) => prop_assert!(
                    matches!(got, Ok(()) | Err(Refusal::MissingParent { .. })),
                    "over the bound, not held: {:?}", got
                ),
                Some(why) => prop_assert_eq!(got, Err(why.clone())),
                None if full.waiting.contains(&e.id()) => {
                    prop_assert!(matches!(got, Err(Refusal::MissingParent { .. })), "{:?}", got)
                }
                None => prop_assert_eq!(got, Err(Refusal::Duplicate)),
            }
        }

        // Each event again, one at a time, changes nothing: what the bound
        // dropped is dropped again (and what was built on it waits).
        for e in &events {
            let again = node.resolver.apply(e.clone());
            prop_assert!(matches!(again, Applied::Known | Applied::Refused(_) | Applied::Pending), "{:?}", again);
        }
        prop_assert_eq!(node.resolver.state(), &full.state);

        // Two partitions, each seeing a random part, then exchanging all.
        let (mut a, mut b) = (Node::with_quota(plan.quota), Node::with_quota(plan.quota));
        for (i, e) in shuffled(&events, split).into_iter().enumerate() {
            if (split >> (i % 64)) & 1 == 0 { a.apply(e); } else { b.apply(e); }
        }
        a.catch_up(&shuffled(&events, seed ^ split));
        b.catch_up(&shuffled(&events, seed ^ split.rotate_left(7)));
        a.check(&full, &events)?;
        b.check(&full, &events)?;
    }
}

/// The random logs above do exercise every refusal: over a fixed set of
/// plans, each reason comes up, and refused events are a minority.
#[test]
fn random_logs_cover_every_refusal() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut total, mut refused, mut waiting) = (0, 0, 0);
    for _ in 0..500 {
        let plan = log_plan().new_tree(&mut runner).expect("a plan").current();
        let events = build_log(&plan);
        let resolution = resolve_with_quota(&events, plan.quota);
        for why in resolution.refused.values() {
            *reasons.entry(why.reason()).or_default() += 1;
        }
        total += events.len();
        refused += resolution.refused.len();
        waiting += resolution.waiting.len();
    }
    for reason in [
        "base-not-in-past",
        "stranger-parent",
        "over-quota",
        "not-maintainer",
        "target-not-in-past",
        "not-a-target",
        "already-endorses",
        "already-retracts",
    ] {
        assert!(reasons.get(reason).copied().unwrap_or(0) >= 5, "{reason} too rare: {reasons:?}");
    }
    assert!(waiting > 0, "some events build on refused ones");
    assert!(refused * 2 < total, "most events are admitted: {refused} of {total} refused ({reasons:?})");
}

#[test]
fn an_approval_by_a_non_maintainer_changes_nothing() {
    let (alice, mallory) = (support::key(1), support::key(9));
    let g = support::genesis(&alice, &[alice.author()], 1);
    let r = support::child(&mallory, &[&g], support::revision(1, &[], "pull request"));
    let before = resolve([&g, &r]);
    let approve = support::child(&mallory, &[&r], Body::Approve { target: r.id() });
    let after = resolve_with_refusals([&g, &r, &approve]);
    assert_eq!(before, after.state);
    assert_eq!(after.state.canonical, None);
    assert_eq!(after.state.open[0].revision, r.id());
    let refused = Refusal::NotMaintainer { author: mallory.author() };
    assert_eq!(after.refused.get(&approve.id()), Some(&refused));
    let mut resolver = Resolver::new();
    resolver.apply(g);
    resolver.apply(r);
    assert_eq!(resolver.admit(&approve), Err(refused.clone()));
    assert_eq!(resolver.apply(approve.clone()), Applied::Refused(refused));
    assert!(!resolver.contains(&approve.id()), "a refused event is not kept");
    assert_eq!(resolver.state(), &before);
}

/// A stranger who proposes to add themselves makes the check compute the
/// state of each approval's past: still refused until a maintainer accepts
/// the proposal in that past, taken after.
#[test]
fn a_stranger_proposing_to_add_themselves_is_refused_until_accepted() {
    let (alice, bob, mallory) = (support::key(1), support::key(2), support::key(9));
    let g = support::genesis(&alice, &[alice.author()], 1);
    let r = support::child(&bob, &[&g], support::revision(1, &[], "pull request"));
    // On the genesis: Bob's unreviewed revision is not Mallory's to build
    // on (check 6).
    let p = support::child(
        &mallory,
        &[&g],
        Body::Propose { prev: g.id(), change: Change::AddMaintainer(mallory.author()) },
    );
    let early = support::child(&mallory, &[&p, &r], Body::Approve { target: r.id() });
    let yes = support::child(&alice, &[&p], Body::Approve { target: p.id() });
    let late = support::child(&mallory, &[&yes, &r], Body::Approve { target: r.id() });
    // Both parents: the past holds the acceptance, through one branch.
    let merged = support::child(&mallory, &[&early, &yes], Body::Approve { target: r.id() });
    let resolution = resolve_with_refusals([&g, &r, &p, &early, &yes, &late, &merged]);
    assert_eq!(resolution.refused.get(&early.id()).map(Refusal::reason), Some("not-maintainer"));
    assert_eq!(resolution.refused.len(), 1, "{:?}", resolution.refused);
    assert_eq!(resolution.waiting.iter().collect::<Vec<_>>(), vec![&merged.id()], "built on a refused event");
    assert_eq!(resolution.state.maintainers.len(), 2);
    assert_eq!(resolution.state.canonical, Some(r.id()));

    let mut resolver = Resolver::new();
    for e in [&g, &r, &p] {
        resolver.apply(e.clone());
    }
    for _ in 0..3 {
        assert_eq!(resolver.admit(&early).map_err(|r| r.reason()), Err("not-maintainer"), "and again, remembered");
    }
    resolver.apply(yes.clone());
    assert_eq!(resolver.admit(&late), Ok(()));
    assert_eq!(resolver.admit(&early).map_err(|r| r.reason()), Err("not-maintainer"), "its past has not changed");
}

#[test]
fn the_log_refuses_another_design_a_second_genesis_and_a_wrong_clock() {
    let alice = support::key(1);
    let g = support::genesis(&alice, &[alice.author()], 1);
    // The same genesis signed at another time: another design.
    let other = UnsignedEvent {
        design: None,
        author: alice.author(),
        parents: vec![],
        clock: 0,
        time: support::TIME + 1,
        body: g.body().clone(),
    }
    .sign(&alice)
    .expect("a genesis");
    let elsewhere = support::child(&alice, &[&other], support::revision(1, &[], "elsewhere"));
    let late = UnsignedEvent {
        design: Some(g.design()),
        author: alice.author(),
        parents: vec![g.id()],
        clock: 5,
        time: support::TIME,
        body: support::revision(2, &[], "late"),
    }
    .sign(&alice)
    .expect("valid on its own");
    let mut resolver = Resolver::new();
    resolver.apply(g.clone());
    assert_eq!(resolver.apply(g.clone()), Applied::Known);
    assert_eq!(resolver.apply(other.clone()), Applied::Refused(Refusal::SecondGenesis));
    assert!(
        matches!(resolver.apply(elsewhere), Applied::Refused(Refusal::WrongDesign { found, .. }) if found == other.design())
    );
    assert_eq!(resolver.apply(late.clone()), Applied::Refused(Refusal::WrongClock { found: 5, expected: 1 }));
    for why in [Refusal::SecondGenesis, Refusal::WrongClock { found: 5, expected: 1 }] {
        assert!(why.is_final());
        assert!(!why.to_string().is_empty());
    }
    assert_eq!(resolve_with_refusals([&g, &late]).refused[&late.id()].reason(), "wrong-clock");
}

#[test]
fn a_proposal_against_an_unknown_or_void_state_changes_nothing() {
    let (alice, bob) = (support::key(1), support::key(2));
    let g = support::genesis(&alice, &[alice.author()], 1);
    let unknown = support::child(
        &alice,
        &[&g],
        Body::Propose { prev: EventId::MAX, change: Change::AddMaintainer(bob.author()) },
    );
    let state = resolve([&g, &unknown]);
    assert_eq!(state.maintainers, vec![alice.author()]);
    assert_eq!(state.proposals[0].outcome, ProposalOutcome::Void(VoidReason::NotOnChain));
}

#[test]
fn events_with_missing_parents_wait_and_a_full_pending_set_refuses_more() {
    let alice = support::key(1);
    let g = support::genesis(&alice, &[alice.author()], 1);
    let r1 = support::child(&alice, &[&g], support::revision(1, &[], "v1"));
    let r2 = support::child(&alice, &[&r1], support::revision(2, &[r1.id()], "v2"));
    let mut resolver = Resolver::new();
    resolver.apply(g.clone());
    assert_eq!(resolver.apply(r2.clone()), communs_protocol::governance::Applied::Pending);
    assert_eq!(resolver.state().canonical, None);
    assert_eq!(
        resolver.apply(r1.clone()),
        communs_protocol::governance::Applied::Accepted { released: 1, refused: vec![], evicted: vec![] }
    );
    assert_eq!(resolver.state(), &resolve([&g, &r1, &r2]));
    assert_eq!(resolver.state().canonical, Some(r2.id()));
}

#[test]
fn a_proposal_amending_a_void_proposal_changes_nothing() {
    let (alice, bob, carol) = (support::key(1), support::key(2), support::key(3));
    let g = support::genesis(&alice, &[alice.author(), bob.author()], 1);
    let p1 =
        support::child(&alice, &[&g], Body::Propose { prev: g.id(), change: Change::AddMaintainer(carol.author()) });
    let p2 = support::child(&bob, &[&g], Body::Propose { prev: g.id(), change: Change::SetThreshold(2) });
    let state = resolve([&g, &p1, &p2]);
    let loser = state
        .proposals
        .iter()
        .find(|p| matches!(p.outcome, ProposalOutcome::Void(VoidReason::LostTo(_))))
        .expect("one of two concurrent proposals loses")
        .id;
    let loser_event = if loser == p1.id() { &p1 } else { &p2 };
    let on_void = support::child(
        &alice,
        &[loser_event],
        Body::Propose { prev: loser, change: Change::RemoveMaintainer(bob.author()) },
    );
    let after = resolve([&g, &p1, &p2, &on_void]);
    assert_eq!(after.maintainers, state.maintainers);
    assert_eq!(after.threshold, state.threshold);
    assert_eq!(after.proposal(&on_void.id()).expect("listed").outcome, ProposalOutcome::Void(VoidReason::NotOnChain));
}

#[test]
fn a_forged_event_is_rejected_before_it_reaches_the_resolver() {
    let (alice, mallory) = (support::key(1), support::key(9));
    let g = support::genesis(&alice, &[alice.author()], 1);
    let r = support::child(&mallory, &[&g], support::revision(1, &[], "contribution"));
    let approval = support::child(&mallory, &[&r], Body::Approve { target: r.id() });
    // Mallory rewrites the author field to Alice's key: the signature no
    // longer verifies, so no SignedEvent exists to hand to a resolver.
    let mut bytes = approval.bytes().to_vec();
    let at = bytes.windows(32).position(|w| w == mallory.author().as_bytes()).expect("author bytes");
    bytes[at..at + 32].copy_from_slice(alice.author().as_bytes());
    let err = SignedEvent::decode(&bytes).expect_err("forged");
    assert_eq!(err.reason(), "bad-signature");
    assert_eq!(resolve([&g, &r]).canonical, None);
}
