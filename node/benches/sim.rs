//! The simulator at a thousand nodes: how fast one event reaches every
//! node (simulated time, p50/p99/max), how much memory each node's state
//! takes (measured by the allocator), and how long after a partition heals
//! every node holds what each side published meanwhile.
//!
//! `cargo bench -p communs-node --features sim --bench sim`
//! (`COMMUNS_SIM_NODES`, `COMMUNS_SIM_RUNS` change the size and the runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use communs_node::net::sim::{Config, Sim};

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator, only counting.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: a pointer this allocator gave, with its layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let nodes: usize = std::env::var("COMMUNS_SIM_NODES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let runs: u64 = std::env::var("COMMUNS_SIM_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    println!("{nodes} nodes, mesh degree 6, 50 ms links, no loss; one event published at node 0; {runs} seeds");
    let mut p99s = Vec::new();
    for seed in 0..runs {
        let before = LIVE.load(Ordering::Relaxed);
        let mut config = Config::new(nodes, seed);
        config.latency = (Duration::from_millis(50), Duration::from_millis(50));
        let mut sim = Sim::new(config);
        let key = sim.author(0);
        let genesis = communs_protocol::fixtures::genesis(&key, "Face shield", "CERN-OHL-S-2.0", seed);
        sim.watch(genesis.id());
        let wall = Instant::now();
        sim.publish(0, genesis.clone());
        let reached = sim.run_while_not(Duration::from_millis(50), Duration::from_secs(120), |s| {
            s.arrivals(&genesis.id()).iter().all(Option::is_some)
        });
        let wall = wall.elapsed();
        let live = LIVE.load(Ordering::Relaxed).saturating_sub(before);
        let mut arrivals: Vec<Duration> = sim.arrivals(&genesis.id()).into_iter().flatten().collect();
        arrivals.sort();
        let counters = sim.counters();
        println!(
            "seed {seed}: reached {}/{nodes}{}; p50 {:?}, p99 {:?}, max {:?} (simulated); {} messages ({:.1} per node), {} KiB; memory {:.1} KiB per node; {:.2} s of CPU",
            arrivals.len(),
            if reached { "" } else { " (not all!)" },
            percentile(&arrivals, 0.5),
            percentile(&arrivals, 0.99),
            arrivals.last().copied().unwrap_or_default(),
            counters.messages,
            counters.messages as f64 / nodes as f64,
            counters.bytes / 1024,
            live as f64 / nodes as f64 / 1024.0,
            wall.as_secs_f64(),
        );
        p99s.push(percentile(&arrivals, 0.99));
        drop(sim);
    }
    p99s.sort();
    println!("median p99 over {runs} seeds: {:?}", p99s[p99s.len() / 2]);

    // A partition into two halves, an event published on each side, then
    // the heal: how long until every node holds both.
    let mut heals = Vec::new();
    for seed in 0..runs {
        let mut config = Config::new(nodes, 1000 + seed);
        config.latency = (Duration::from_millis(50), Duration::from_millis(50));
        let mut sim = Sim::new(config);
        sim.partition(|n| (n % 2) as u32);
        let (ada, bo) = (sim.author(0), sim.author(1));
        let a = communs_protocol::fixtures::genesis(&ada, "Clip", "CERN-OHL-S-2.0", seed);
        let b = communs_protocol::fixtures::genesis(&bo, "Hinge", "CERN-OHL-S-2.0", seed);
        sim.publish(0, a.clone());
        sim.publish(1, b.clone());
        sim.run_for(Duration::from_secs(10));
        sim.heal();
        let healed = sim.now();
        let done = sim.run_while_not(Duration::from_millis(50), Duration::from_secs(600), |s| {
            (0..s.len()).all(|n| s.has(n, &a.id()) && s.has(n, &b.id()))
        });
        let took = sim.now() - healed;
        println!(
            "seed {seed}: partition healed, every node holds both sides' events after {took:?}{}",
            if done { "" } else { " (not all!)" }
        );
        heals.push(took);
    }
    heals.sort();
    println!("median time from heal to every node holding both events: {:?}", heals[heals.len() / 2]);
}
