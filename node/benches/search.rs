//! Search at scale: an index of 100,000 synthetic designs built directly
//! (not by publishing), its build time, size and memory, then the time of
//! queries against it (p50, p99). `cargo bench -p communs-node --bench
//! search`; run as a test (without `--bench`), a small index only.

use std::time::Instant;

use communs_node::search::{SearchDoc, SearchIndex, SearchQuery};
use communs_protocol::{AuthorId, DesignId, Hash, SecretKey};

const DESIGNS: usize = 100_000;
const QUERY_ROUNDS: usize = 20;

/// Words of open-hardware documentation, the most frequent first (drawn
/// with a Zipf-like skew, as real text is).
const WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "with",
    "printed",
    "frame",
    "sensor",
    "board",
    "motor",
    "water",
    "solar",
    "panel",
    "enclosure",
    "holder",
    "bracket",
    "bike",
    "trailer",
    "shield",
    "face",
    "spool",
    "filament",
    "pcb",
    "case",
    "mount",
    "wall",
    "hand",
    "prosthetic",
    "mill",
    "cnc",
    "laser",
    "cutter",
    "wood",
    "steel",
    "aluminium",
    "bearing",
    "screw",
    "nut",
    "bolt",
    "battery",
    "charger",
    "lora",
    "mesh",
    "network",
    "node",
    "antenna",
    "microscope",
    "camera",
    "lens",
    "stage",
    "pump",
    "valve",
    "filter",
    "tank",
    "pipe",
    "irrigation",
    "garden",
    "compost",
    "hive",
    "bees",
    "honey",
    "dryer",
    "food",
    "fruit",
    "oven",
    "stove",
    "heat",
    "fan",
    "cooling",
    "keyboard",
    "switch",
    "display",
    "arduino",
    "esp32",
    "raspberry",
    "pi",
    "firmware",
    "wheel",
    "axle",
    "hitch",
    "ramp",
    "wheelchair",
    "walker",
    "braille",
    "blind",
    "shelter",
    "plywood",
    "router",
    "press",
    "block",
    "earth",
    "soil",
    "turbine",
    "wind",
    "blade",
    "generator",
    "magnet",
    "coil",
    "incubator",
    "egg",
    "centrifuge",
    "syringe",
    "laboratory",
    "diagnostics",
    "weather",
    "station",
    "rain",
    "air",
    "quality",
    "dust",
    "co2",
    "reflow",
    "solder",
    "logic",
    "analyser",
    "printer",
    "corexy",
    "extruder",
    "nozzle",
    "bed",
    "hydroponic",
    "tower",
    "lettuce",
    "cooler",
    "clay",
    "pot",
    "treadle",
    "cookstove",
    "smoke",
    "ventilation",
    "insulation",
];
const LICENSES: &[&str] =
    &["CERN-OHL-S-2.0", "CERN-OHL-W-2.0", "CERN-OHL-P-2.0", "CC-BY-SA-4.0", "CC-BY-4.0", "MIT", "CC0-1.0"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word, frequent ones more often (the index of the minimum of two
    /// draws).
    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len()).min(self.below(WORDS.len()))]
    }

    fn words(&mut self, n: usize) -> String {
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

fn doc(i: usize, rng: &mut Rng, authors: &[AuthorId]) -> SearchDoc {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
    let mut keywords: Vec<String> = (0..3 + rng.below(3)).map(|_| rng.word().to_owned()).collect();
    keywords.sort();
    keywords.dedup();
    let (function_words, readme_words) = (30 + rng.below(30), 200 + rng.below(400));
    SearchDoc {
        design: DesignId::from_hash(Hash::from_bytes(hash)),
        name: format!("{} {} {}", rng.word(), rng.word(), rng.word()),
        function: rng.words(function_words),
        description: String::new(),
        keywords,
        licenses: vec![LICENSES[rng.below(LICENSES.len())].to_owned()],
        authors: vec![(authors[rng.below(authors.len())], None)],
        readme: rng.words(readme_words),
        makes: if rng.below(10) == 0 { 1 + rng.below(5) as u64 } else { 0 },
        held: rng.below(4) != 0,
        last_change_ms: 1_700_000_000_000 + i as u64,
    }
}

/// Peak resident memory of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let designs = if full { DESIGNS } else { 2_000 };
    let dir = tempfile::tempdir().expect("tmp");
    let authors: Vec<AuthorId> = (0..1_000u32)
        .map(|n| {
            let mut seed = [7u8; 32];
            seed[..4].copy_from_slice(&n.to_le_bytes());
            SecretKey::from_bytes(&seed).author()
        })
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let before = peak_rss_mib();

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let started = Instant::now();
    let mut index = SearchIndex::open_with_threads(dir.path(), threads).expect("index");
    // Each document made as it is indexed: the memory measured is the
    // index's, not a pile of documents waiting.
    for i in 0..designs {
        index.upsert(&doc(i, &mut rng, &authors), i as u64).expect("upsert");
    }
    index.commit().expect("commit");
    let build = started.elapsed();
    drop(index);
    let build_rss = peak_rss_mib();
    // Reopened as a node would (one indexing thread), reading every stamp.
    let started = Instant::now();
    let index = SearchIndex::open(dir.path()).expect("reopen");
    let stamps = index.stamps().expect("stamps").len();
    let reopen = started.elapsed();
    assert_eq!(stamps, designs);

    let mut queries: Vec<SearchQuery> = Vec::new();
    let mut qrng = Rng(42);
    for i in 0..100 {
        let words = 1 + i % 3;
        let mut q = SearchQuery { text: qrng.words(words), limit: 20, ..Default::default() };
        match i % 5 {
            1 => q.license = Some(LICENSES[qrng.below(LICENSES.len())].to_owned()),
            2 => q.keyword = Some(qrng.word().to_owned()),
            3 => q.made = true,
            4 => q.author = Some(authors[qrng.below(authors.len())].to_string()),
            _ => {}
        }
        queries.push(q);
    }
    queries.push(SearchQuery { text: String::new(), limit: 20, ..Default::default() });
    // Warm the page cache and the searcher once.
    for q in &queries {
        index.search(q).expect("search");
    }
    let mut times: Vec<f64> = Vec::new();
    let mut hits = 0usize;
    for _ in 0..if full { QUERY_ROUNDS } else { 1 } {
        for q in &queries {
            let started = Instant::now();
            hits += index.search(q).expect("search").len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let query_rss = peak_rss_mib();
    println!("search over {designs} synthetic designs ({threads} indexing threads)");
    println!(
        "  build: {:.1} s ({:.0} designs/s), index {:.0} MiB on disk, peak RSS {:.0} MiB ({:.0} MiB before building)",
        build.as_secs_f64(),
        designs as f64 / build.as_secs_f64(),
        dir_size(dir.path()) as f64 / (1024.0 * 1024.0),
        build_rss,
        before
    );
    println!("  reopen and read every stamp: {:.0} ms", reopen.as_secs_f64() * 1000.0);
    println!(
        "  {} queries (1 to 3 words, a fifth with each filter, one without words; limit 20, {:.1} hits on average): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; peak RSS {:.0} MiB",
        times.len(),
        hits as f64 / times.len() as f64,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(f64::NAN),
        query_rss
    );
}
