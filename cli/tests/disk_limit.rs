//! A node under `--max-storage` (spec/storage.md, "The disk limit"): real
//! `communs node run` processes on loopback, the limited node's data
//! directory measured with `du -sb` every 200 ms for the whole run.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use communs_protocol::{BlobHash, SecretKey, Tree, TreeEntry, ValidatedPath, fixtures};
use serde_json::Value;
use support::Node;
use support::daemon::{Daemon, eventually, eventually_every, log};

/// The limit of the issue: 200 MB.
const LIMIT: u64 = 200_000_000;

/// 20 designs of 50 MB: 1 GB in all, five times the limit; three fit
/// beside the node's own data, a fourth does not.
const DESIGNS: usize = 20;
const DESIGN_BYTES: usize = 50_000_000;

/// Between two looks at the limited node's status.
const STATUS_PAUSE: Duration = Duration::from_millis(250);

/// A design of one incompressible file, stored straight into a store.
struct Big {
    design: String,
    blob: BlobHash,
    seed: u64,
}

/// `len` incompressible bytes from `seed` (BLAKE3's output stream: fast
/// even in a debug build, where blake3 is optimised).
fn contents(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    blake3::Hasher::new().update(&seed.to_le_bytes()).finalize_xof().fill(&mut bytes);
    bytes
}

/// Stores `n` designs of one file of `len` bytes each in `node`'s store,
/// signed by a fresh author (publishing 1 GB through folders would write
/// it twice more).
fn big_designs(node: &Node, n: usize, len: usize) -> Vec<Big> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let home = communs_node::Home::locate(Some(&node.home)).expect("home");
        let store = communs_node::Node::open(home).await.expect("store opens");
        let key = SecretKey::from_bytes(&[9; 32]);
        let mut events = Vec::new();
        let mut out = Vec::new();
        for i in 0..n {
            let seed = i as u64;
            let blob = store.add_blob(contents(seed, len)).await.expect("file stored");
            let path = ValidatedPath::new("part.bin").expect("path");
            let tree = Tree::new(vec![TreeEntry { path, blob, size: len as u64, executable: false }]).expect("tree");
            let tree_hash = store.add_blob(tree.encode()).await.expect("tree stored");
            let name = format!("Big part {i}");
            let genesis = fixtures::genesis(&key, &name, "CERN-OHL-S-2.0", seed);
            let revision = fixtures::revision(&key, &genesis, tree_hash, &name, "CERN-OHL-S-2.0");
            out.push(Big { design: genesis.design().to_string(), blob, seed });
            events.extend([genesis, revision]);
        }
        store.insert_events(&events).expect("events stored");
        store.close().await.expect("store closes");
        out
    })
}

/// Where the store keeps a large blob's bytes (`BlobStore::data_file`).
fn data_file(home: &Path, blob: &BlobHash) -> PathBuf {
    home.join("store/blobs/data").join(format!("{blob}.data"))
}

fn holds(node: &Node, big: &Big) -> bool {
    data_file(&node.home, &big.blob).exists()
}

/// `du -sb` of a directory, every 200 ms on a thread of its own, keeping
/// the largest figure and how many were taken.
struct Sampler {
    stop: Arc<AtomicBool>,
    largest: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn du(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("du").arg("-sb").arg(dir).output().ok()?;
    String::from_utf8_lossy(&out.stdout).split_whitespace().next()?.parse().ok()
}

impl Sampler {
    fn start(dir: PathBuf) -> Sampler {
        let (stop, largest, samples) = (Arc::new(AtomicBool::new(false)), Arc::default(), Arc::default());
        let thread = {
            let (stop, largest, samples): (Arc<AtomicBool>, Arc<AtomicU64>, Arc<AtomicU64>) =
                (stop.clone(), Arc::clone(&largest), Arc::clone(&samples));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(bytes) = du(&dir) {
                        largest.fetch_max(bytes, Ordering::Relaxed);
                        samples.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        };
        Sampler { stop, largest, samples, thread: Some(thread) }
    }

    /// The largest figure and the number of samples.
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("sampler");
        }
        (self.largest.load(Ordering::Relaxed), self.samples.load(Ordering::Relaxed))
    }
}

fn status(node: &Node) -> Value {
    node.json(&["node", "status"])
}

/// Every design's events here, and the seeder idle: what fits is held.
fn settled(node: &Node) -> bool {
    let status = status(node);
    let seeding = &status["seeding"];
    status["kept"] == DESIGNS && seeding["queued"] == 0 && seeding["fetching"] == 0
}

#[test]
fn a_node_under_a_storage_limit_stays_under_it_keeps_what_it_follows_and_serves_what_it_holds() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Node::init(dir.path(), "a");
    let started = Instant::now();
    let bigs = big_designs(&a, DESIGNS, DESIGN_BYTES);
    eprintln!("{DESIGNS} designs of {DESIGN_BYTES} bytes stored in {:?}", started.elapsed());
    let a = Daemon::start(&a, &["--no-dht"]);

    let c = Node::init(dir.path(), "c");
    let sampler = Sampler::start(c.home.clone());
    let started = Instant::now();
    let c = Daemon::start(&c, &["--seed-all", "--no-dht", "--max-storage", "200MB", "--bootstrap", &a.addr]);
    eventually_every(STATUS_PAUSE, 300, "c has every design and fetched what fits", || settled(&c.node));
    let held: Vec<&Big> = bigs.iter().filter(|b| holds(&c.node, b)).collect();
    eprintln!("c settled in {:?} holding {} designs' files", started.elapsed(), held.len());
    assert!(!held.is_empty() && held.len() < DESIGNS, "c holds {} designs' files", held.len());
    let storage = &status(&c.node)["storage"];
    assert_eq!(storage["max_bytes"], LIMIT, "{storage}");
    assert!(storage["set_aside"].as_u64() >= Some(1), "what did not fit is set aside: {storage}");

    // Each follow of a design c lacks gives up a seeded design's files to
    // make room, until only followed designs are left.
    let mut followed = Vec::new();
    let mut refused = None;
    for big in bigs.iter().filter(|b| !holds(&c.node, b)) {
        let run = c.node.run(&["follow", &big.design]);
        if run.code != 0 {
            refused = Some((big, run));
            break;
        }
        assert!(holds(&c.node, big), "a follow fetches the files: {}", log(&c.node));
        followed.push(big);
    }
    let (refused, run) = refused.expect("a follow past the limit is refused");
    eprintln!("followed {} designs; the next follow: {}", followed.len(), run.stderr.trim());
    assert!(!followed.is_empty(), "the first follow fits once seeded files are given up: {run:?}");
    let run = run.fails_with(1, "not enough space under the storage limit of");
    assert!(run.stderr.contains("needs") && run.stderr.contains("free"), "{run:?}");
    assert!(!holds(&c.node, refused), "a refused follow fetches nothing");
    let storage = status(&c.node)["storage"].clone();
    assert!(storage["evicted_designs"].as_u64() >= Some(1), "{storage}");
    assert!(storage["last_evicted"].as_array().is_some_and(|l| !l.is_empty()), "{storage}");
    for big in &followed {
        assert!(holds(&c.node, big), "c keeps every file of what it follows");
    }
    let policy = c.node.json(&["policy"]);
    assert!(
        !policy["followed"].as_array().expect("followed").iter().any(|d| d == refused.design.as_str()),
        "the refused follow is not in force: {policy}"
    );

    // With a gone, d fetches a followed design from c alone.
    drop(a);
    let d = Daemon::start(&Node::init(dir.path(), "d"), &["--no-dht", "--bootstrap", &c.addr]);
    let served = followed[0];
    eventually(20, "d is connected to c", || !d.peers().is_empty());
    d.node.json(&["follow", &served.design]);
    let out = dir.path().join("served");
    d.node.json(&["get", &served.design, out.to_str().expect("utf-8")]);
    let got = std::fs::read(out.join("part.bin")).expect("file checked out");
    assert!(got == contents(served.seed, DESIGN_BYTES), "d got the file c serves, byte for byte");

    let (largest, samples) = sampler.finish();
    eprintln!("c's data directory: at most {largest} bytes over {samples} samples (limit {LIMIT})");
    assert!(samples > 10, "the sampler ran");
    assert!(largest <= LIMIT, "c went over its limit: {largest} bytes > {LIMIT}\n{}", log(&c.node));
}

/// Stores one design of one file of `len` bytes from `seed`, signed by
/// `key`, in an open store.
async fn store_design(store: &communs_node::Node, key: &SecretKey, seed: u64, len: usize) -> Big {
    let blob = store.add_blob(contents(seed, len)).await.expect("file stored");
    let path = ValidatedPath::new("part.bin").expect("path");
    let tree = Tree::new(vec![TreeEntry { path, blob, size: len as u64, executable: false }]).expect("tree");
    let tree_hash = store.add_blob(tree.encode()).await.expect("tree stored");
    let name = format!("Part {seed}");
    let genesis = fixtures::genesis(key, &name, "CERN-OHL-S-2.0", seed);
    let revision = fixtures::revision(key, &genesis, tree_hash, &name, "CERN-OHL-S-2.0");
    store.insert_events(&[genesis.clone(), revision]).expect("events stored");
    Big { design: genesis.design().to_string(), blob, seed }
}

#[test]
fn a_node_seeding_from_one_author_hosts_only_that_authors_designs_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Node::init(dir.path(), "a");
    let (ada, bob) = (SecretKey::from_bytes(&[1; 32]), SecretKey::from_bytes(&[2; 32]));
    // Files over MAX_INLINE_BYTES, so that each one held is a data file.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (adas, bobs) = runtime.block_on(async {
        let home = communs_node::Home::locate(Some(&a.home)).expect("home");
        let store = communs_node::Node::open(home).await.expect("store opens");
        let mut adas = Vec::new();
        let mut bobs = Vec::new();
        for seed in 0..3 {
            adas.push(store_design(&store, &ada, 100 + seed, 200_000).await);
            bobs.push(store_design(&store, &bob, 200 + seed, 200_000).await);
        }
        store.close().await.expect("store closes");
        (adas, bobs)
    });
    let a = Daemon::start(&a, &["--no-dht"]);

    // The choice is recorded before the node starts, and survives it.
    let b = Node::init(dir.path(), "b");
    let ada_id = ada.author().to_string();
    let recorded = b.json(&["seed", "from", &ada_id, "--reason", "the workshop hosts Ada's designs"]);
    assert_eq!(recorded["action"], "seed", "{recorded}");
    assert_eq!(recorded["subject"], format!("from:{ada_id}"), "{recorded}");
    let b = Daemon::start(&b, &["--no-dht", "--bootstrap", &a.addr]);
    eventually_every(STATUS_PAUSE, 60, "b hears of every design and fetches what it hosts", || {
        let status = status(&b.node);
        status["kept"] == 6
            && status["seeding"]["queued"] == 0
            && status["seeding"]["fetching"] == 0
            && adas.iter().all(|big| holds(&b.node, big))
    });
    for big in &bobs {
        assert!(!holds(&b.node, big), "b hosts no file of Bob's designs: {}", log(&b.node));
    }
    assert_eq!(b.node.json(&["policy"])["seed"], format!("from:{ada_id}"));
    assert_eq!(status(&b.node)["seed"], format!("from:{ada_id}"));
    // b serves what it hosts: its file is the one Ada published.
    let out = dir.path().join("ada");
    b.node.json(&["get", &adas[0].design, out.to_str().expect("utf-8")]);
    assert!(std::fs::read(out.join("part.bin")).expect("file") == contents(adas[0].seed, 200_000));
    drop(a);
}
