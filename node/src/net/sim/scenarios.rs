//! Scenarios in the simulator, each over many seeds: a failing seed is
//! printed, and `COMMUNS_SIM_SEED=N` replays that one alone.

use std::time::Duration;

use communs_protocol::governance::ProposalOutcome;
use communs_protocol::limits::MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR;
use communs_protocol::manifest::{License, Manifest};
use communs_protocol::{
    AuthorId, BlobHash, Body, Change, DesignId, EventId, Hash, Revision, SecretKey, SignedEvent, UnsignedEvent,
};

use super::{Config, Hostility, Sim};

/// Seeds per scenario (`COMMUNS_SIM_SEEDS` overrides).
const SEEDS: u64 = 200;

/// How long the repair of what gossip lost may take: after a partition
/// heals, or when messages are lost, what gossip no longer carries moves
/// one hop per anti-entropy round (30 s), and a sparse mesh (degree 2, a
/// ring of 12) has a diameter of 6.
const REPAIR: Duration = Duration::from_secs(600);

/// Runs `scenario` for every seed and fails with the seeds that failed.
fn over_seeds(name: &str, scenario: impl Fn(u64) -> Result<(), String>) {
    let seeds: Vec<u64> = match std::env::var("COMMUNS_SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => {
            let count = std::env::var("COMMUNS_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(SEEDS);
            (0..count).collect()
        }
    };
    let failed: Vec<String> =
        seeds.iter().filter_map(|seed| scenario(*seed).err().map(|e| format!("seed {seed}: {e}"))).collect();
    assert!(
        failed.is_empty(),
        "{name} failed for {} of {} seeds (replay one with COMMUNS_SIM_SEED=N):\n{}",
        failed.len(),
        seeds.len(),
        failed.join("\n")
    );
}

fn genesis(key: &SecretKey, maintainers: &[AuthorId], threshold: u64, nonce: u64) -> SignedEvent {
    communs_protocol::fixtures::genesis_governed(key, "Face shield", "CERN-OHL-S-2.0", maintainers, threshold, nonce)
}

/// An event `key` signs at node `node`, on the parents that node's store
/// names for it.
fn sign(sim: &Sim, node: usize, key: &SecretKey, design: DesignId, named: &[EventId], body: Body) -> SignedEvent {
    let parents = sim.parents_for(node, &design, key, named);
    let clock = parents.iter().filter_map(|p| sim.event(node, p)).map(|e| e.clock()).max().unwrap_or(0) + 1;
    UnsignedEvent {
        design: Some(design),
        author: key.author(),
        parents,
        clock,
        time: sim.now().as_millis() as u64,
        body,
    }
    .sign(key)
    .expect("a valid event")
}

fn revision(sim: &Sim, node: usize, key: &SecretKey, design: DesignId, base: &[EventId], n: u64) -> SignedEvent {
    let tree = BlobHash(Hash::from_bytes(*blake3::hash(&n.to_le_bytes()).as_bytes()));
    let body = Body::Revision(Revision {
        tree,
        manifest: Manifest::minimal(&format!("Face shield v{n}"), License::all("CERN-OHL-S-2.0")),
        base: base.to_vec(),
        message: format!("v{n}"),
    });
    sign(sim, node, key, design, base, body)
}

fn latency(sim: &mut Sim) -> (Duration, Duration) {
    let low = Duration::from_millis(sim.rng().below(20) as u64);
    (low, low + Duration::from_millis(sim.rng().below(150) as u64))
}

/// A network of `nodes` with random latency and up to 5% loss.
fn network(nodes: usize, seed: u64) -> Sim {
    let mut config = Config::new(nodes, seed);
    let mut probe = Sim::new(Config::new(0, seed ^ 0x5eed));
    config.latency = latency(&mut probe);
    config.loss = probe.rng().below(6) as f64 / 100.0;
    config.degree = 2 + probe.rng().below(5);
    Sim::new(config)
}

fn same_governance(sim: &Sim, design: &DesignId) -> Result<(), String> {
    let honest = sim.honest_online();
    let first = sim.governance(honest[0], design);
    for node in &honest {
        if sim.governance(*node, design) != first {
            return Err(format!("node {node} resolves the design differently from node {}", honest[0]));
        }
    }
    Ok(())
}

#[test]
fn gossip_reaches_every_node() {
    over_seeds("gossip to all", |seed| {
        let mut sim = network(12, seed);
        let key = sim.author(0);
        let genesis = genesis(&key, &[key.author()], 1, seed);
        let design = genesis.design();
        sim.watch(genesis.id());
        sim.publish(0, genesis.clone());
        let mut head = genesis.id();
        for n in 1..=3 {
            sim.run_for(Duration::from_millis(100));
            let rev = revision(&sim, 0, &key, design, &[head], n);
            head = rev.id();
            sim.watch(head);
            sim.publish(0, rev);
        }
        // Lost messages are repaired by anti-entropy (every 30 s).
        if !sim.run_while_not(Duration::from_secs(1), REPAIR, Sim::converged) {
            return Err(format!("not converged after {REPAIR:?}: {}", sim.describe()));
        }
        if sim.event_count(5) != 4 {
            return Err(format!("{} events instead of 4", sim.event_count(5)));
        }
        same_governance(&sim, &design)
    });
}

#[test]
fn a_node_offline_catches_up_when_it_comes_back() {
    over_seeds("offline catch-up", |seed| {
        let mut sim = network(10, seed);
        let key = sim.author(0);
        sim.set_online(5, false);
        let genesis = genesis(&key, &[key.author()], 1, seed);
        let design = genesis.design();
        sim.publish(0, genesis.clone());
        let mut head = genesis.id();
        for n in 1..=5 {
            sim.run_for(Duration::from_millis(300));
            let rev = revision(&sim, 0, &key, design, &[head], n);
            head = rev.id();
            sim.publish(0, rev);
        }
        sim.run_for(Duration::from_secs(5));
        if sim.event_count(5) != 0 {
            return Err("an offline node received events".to_owned());
        }
        sim.set_online(5, true);
        // Without waiting for anti-entropy: the connection's catch-up
        // brings everything (unless a message of it is lost).
        let limit = if sim.config.loss > 0.0 { REPAIR } else { Duration::from_secs(5) };
        if !sim.run_while_not(Duration::from_millis(100), limit, |s| s.has(5, &head) && s.converged()) {
            return Err(format!("node 5 holds {} of 6 events after {limit:?}", sim.event_count(5)));
        }
        same_governance(&sim, &design)
    });
}

#[test]
fn a_partition_healed_with_conflicting_governance_ends_in_one_state() {
    over_seeds("partition and heal", |seed| {
        let mut sim = network(12, seed);
        let (ada, bo) = (sim.author(0), sim.author(1));
        let genesis = genesis(&ada, &[ada.author(), bo.author()], 1, seed);
        let design = genesis.design();
        sim.publish(0, genesis.clone());
        if !sim.run_while_not(Duration::from_secs(1), REPAIR, Sim::converged) {
            return Err("the genesis did not reach everyone".to_owned());
        }
        // Ada on node 0 (even side), Bo on node 1 (odd side).
        sim.partition(|n| (n % 2) as u32);
        let a = revision(&sim, 0, &ada, design, &[genesis.id()], 1);
        sim.publish(0, a.clone());
        let b = revision(&sim, 1, &bo, design, &[genesis.id()], 2);
        sim.publish(1, b.clone());
        // Each side also changes the governance its own way, both on the
        // genesis: conflicting proposals.
        let prev = genesis.id();
        let add = sign(
            &sim,
            0,
            &ada,
            design,
            &[],
            Body::Propose { prev, change: Change::AddMaintainer(sim.author(2).author()) },
        );
        sim.publish(0, add);
        let raise = sign(&sim, 1, &bo, design, &[], Body::Propose { prev, change: Change::SetThreshold(2) });
        sim.publish(1, raise);
        sim.run_for(Duration::from_secs(20));
        if sim.has(1, &a.id()) || sim.has(0, &b.id()) {
            return Err("an event crossed the partition".to_owned());
        }
        sim.heal();
        let converged = sim
            .run_while_not(Duration::from_secs(1), REPAIR, |s| s.converged() && s.has(3, &a.id()) && s.has(3, &b.id()));
        if !converged {
            return Err(format!("not converged: {}", sim.describe()));
        }
        same_governance(&sim, &design)?;
        // One proposal won, the other lost to it, everywhere.
        let state = sim.governance(0, &design).ok_or("no state")?;
        let accepted = state.proposals.iter().filter(|p| p.outcome == ProposalOutcome::Accepted).count();
        if state.proposals.len() != 2 || accepted != 1 {
            return Err(format!("expected one of two proposals accepted: {:?}", state.proposals));
        }
        Ok(())
    });
}

#[test]
fn a_hostile_node_changes_nothing_honest_nodes_agree_on() {
    over_seeds("hostile node", |seed| {
        let mut sim = network(10, seed);
        let hostility = if seed % 2 == 0 { Hostility::Flood } else { Hostility::Garbage };
        sim.make_hostile(9, hostility);
        let key = sim.author(0);
        let genesis = genesis(&key, &[key.author()], 1, seed);
        let design = genesis.design();
        sim.publish(0, genesis.clone());
        let mut head = genesis.id();
        for n in 1..=3 {
            sim.run_for(Duration::from_secs(20));
            let rev = revision(&sim, 0, &key, design, &[head], n);
            head = rev.id();
            sim.publish(0, rev);
        }
        // Three anti-entropy rounds: the hostile node acts at each.
        sim.run_for(Duration::from_secs(90));
        if !sim.run_while_not(Duration::from_secs(1), REPAIR, Sim::converged) {
            return Err("honest nodes did not converge".to_owned());
        }
        same_governance(&sim, &design)?;
        for node in sim.honest_online() {
            let state = sim.governance(node, &design).ok_or("no state")?;
            if state.canonical != Some(head) {
                return Err(format!("node {node}'s canonical head is not the maintainer's last revision"));
            }
            let stranger_events = sim
                .ids(node)
                .iter()
                .filter_map(|id| sim.event(node, id))
                .filter(|e| e.author() != key.author())
                .count();
            if stranger_events > MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR {
                return Err(format!("node {node} keeps {stranger_events} events of a stranger"));
            }
            for id in sim.ids(node) {
                let event = sim.event(node, &id).ok_or("gone")?;
                SignedEvent::decode(event.bytes()).map_err(|e| format!("node {node} stored an invalid event: {e}"))?;
            }
        }
        Ok(())
    });
}

#[test]
fn nodes_joining_and_leaving_still_converge() {
    over_seeds("churn", |seed| {
        let mut sim = network(10, seed);
        let key = sim.author(0);
        let genesis = genesis(&key, &[key.author()], 1, seed);
        let design = genesis.design();
        sim.publish(0, genesis.clone());
        for round in 0..30u64 {
            sim.run_for(Duration::from_secs(2));
            let nodes = sim.len();
            match sim.rng().below(4) {
                0 => {
                    let node = 1 + sim.rng().below(nodes - 1);
                    sim.set_online(node, false);
                }
                1 => {
                    let node = sim.rng().below(nodes);
                    sim.set_online(node, true);
                }
                2 if nodes < 16 => {
                    let links = 1 + sim.rng().below(3);
                    sim.join(links);
                }
                _ => {
                    // The maintainer publishes from whichever online node
                    // holds the design.
                    let holders: Vec<usize> =
                        sim.honest_online().into_iter().filter(|n| sim.has(*n, &design.genesis())).collect();
                    if !holders.is_empty() {
                        let node = holders[sim.rng().below(holders.len())];
                        let heads = sim.governance(node, &design).and_then(|s| s.canonical).unwrap_or(design.genesis());
                        let rev = revision(&sim, node, &key, design, &[heads], round + 1);
                        sim.publish(node, rev);
                    }
                }
            }
        }
        for node in 0..sim.len() {
            sim.set_online(node, true);
        }
        if !sim.run_while_not(Duration::from_secs(1), REPAIR, Sim::converged) {
            return Err(format!("not converged: {:?}", (0..sim.len()).map(|n| sim.event_count(n)).collect::<Vec<_>>()));
        }
        same_governance(&sim, &design)
    });
}

#[test]
fn a_run_is_a_function_of_its_seed() {
    let run = |seed| {
        let mut sim = network(12, seed);
        let key = sim.author(0);
        let genesis = genesis(&key, &[key.author()], 1, seed);
        sim.watch(genesis.id());
        sim.publish(0, genesis.clone());
        sim.run_for(Duration::from_secs(40));
        (sim.arrivals(&genesis.id()), sim.counters().messages, sim.counters().bytes)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}
