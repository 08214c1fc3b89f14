//! The web UI's page times at a tiers-lieu's size (issue 13), with the
//! release `communs` binary: a node holding one design of 1,000 files and
//! 1,000 events (a genesis and 999 revisions, each on the last) beside
//! 100,000 small designs, so that its catalog and search index hold
//! 100,001 entries.
//!
//! Each page is asked for `COMMUNS_BENCH_ROUNDS` times (default 30) over
//! loopback, one connection each, after one warm-up request (the search
//! index is filled by the first search); the time is from the request
//! written to the answer read whole, so it holds the server's time and a
//! loopback round trip. Goal: under 50 ms for the design page and for a
//! search page.
//!
//! ```sh
//! cargo bench -p communs-cli --bench ui
//! COMMUNS_BENCH_DESIGNS=10000 cargo bench -p communs-cli --bench ui
//! ```

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::daemon::{Daemon, init};
use common::{env_number, lock_data_dir, median};
use communs_node::{Home, Node};
use communs_protocol::{DesignId, SecretKey, Tree, TreeEntry, ValidatedPath, fixtures};

const GOAL_MS: f64 = 50.0;
const FILES: usize = 1000;
const REVISIONS: usize = 999;

fn main() -> ExitCode {
    common::bench_main("ui", run)
}

fn run() -> anyhow::Result<()> {
    let designs = usize::try_from(env_number("COMMUNS_BENCH_DESIGNS", 100_000)?)?;
    let rounds = usize::try_from(env_number("COMMUNS_BENCH_ROUNDS", 30)?)?.max(1);
    let binary = Path::new(env!("CARGO_BIN_EXE_communs"));
    let data_dir = common::data_dir(binary)?;
    let _lock = lock_data_dir(&data_dir)?;
    let run_dir = common::WorkDir::create(data_dir.join(format!("run-ui-{}", std::process::id())))?;
    let home = run_dir.0.join("node");
    init(binary, &home)?;
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let big = runtime.block_on(store(&home, designs))?;
    eprintln!(
        "1 design of {FILES} files and {} events, and {designs} small designs, stored in {:.1} s",
        REVISIONS + 1,
        started.elapsed().as_secs_f64()
    );

    let node = Daemon::start(binary, &home, &[])?;
    let running: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(home.join("api.json"))?)?;
    let addr = running["api"].as_str().context("api address")?.to_owned();
    let started = Instant::now();
    get(&addr, "/search?q=part")?;
    eprintln!("first search (fills the index of {} designs): {:.1} s", designs + 1, started.elapsed().as_secs_f64());

    // The design and search pages have the goal; the home is shown beside.
    let pages = [
        ("design page, 1,000 files and 1,000 events".to_owned(), format!("/d/{big}"), true),
        (format!("search page over {} designs, words", designs + 1), "/search?q=part+4242".to_owned(), true),
        ("search page, a license filter".to_owned(), "/search?license=CERN-OHL-S-2.0".to_owned(), true),
        ("home, 48 cards".to_owned(), "/".to_owned(), false),
    ];
    let mut failed = false;
    for (what, path, goal) in &pages {
        get(&addr, path)?;
        let mut times = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            bytes = get(&addr, path)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let p90 = {
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            sorted[(sorted.len() * 9 / 10).min(sorted.len() - 1)]
        };
        let median = median(times);
        let verdict = if median <= GOAL_MS { "ok" } else { "over the goal" };
        failed |= *goal && median > GOAL_MS;
        println!(
            "{what}: median {median:.1} ms, p90 {p90:.1} ms, {bytes} bytes ({verdict}; goal {GOAL_MS} ms) GET {path}"
        );
    }
    node.stop()?;
    if failed {
        bail!("a page took more than {GOAL_MS} ms (median)");
    }
    Ok(())
}

/// Stores the large design and `n` small ones straight into the store;
/// returns the large design's id.
async fn store(home: &Path, n: usize) -> anyhow::Result<DesignId> {
    let node = Node::open(Home::locate(Some(home))?).await?;
    let key = SecretKey::from_bytes(&[7; 32]);
    let mut entries = Vec::with_capacity(FILES);
    for i in 0..FILES {
        let bytes = format!("part {i}\n").into_bytes();
        let size = bytes.len() as u64;
        let blob = node.add_blob(bytes).await?;
        let path = ValidatedPath::new(&format!("parts/{:02}/part-{i:04}.txt", i / 100))?;
        entries.push(TreeEntry { path, blob, size, executable: false });
    }
    let readme = b"# A large design\n\nA thousand files.\n".to_vec();
    let size = readme.len() as u64;
    entries.push(TreeEntry {
        path: ValidatedPath::new("README.md")?,
        blob: node.add_blob(readme).await?,
        size,
        executable: false,
    });
    let big_tree = node.add_blob(Tree::new(entries)?.encode()).await?;
    let genesis = fixtures::genesis(&key, "Large design", "CERN-OHL-S-2.0", u64::MAX);
    let big = genesis.design();
    let mut events = vec![genesis];
    for _ in 0..REVISIONS {
        let last = events.last().context("a parent")?;
        events.push(fixtures::revision(&key, last, big_tree, "Large design", "CERN-OHL-S-2.0"));
    }
    node.insert_events(&events)?;

    common::store_small_designs(&node, &key, n, |_, _| Ok(())).await?;
    node.close().await?;
    Ok(big)
}

/// `GET path` on a connection of its own; the body's length. Fails on any
/// answer but 200.
fn get(addr: &str, path: &str) -> anyhow::Result<usize> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").context("an HTTP answer")?;
    let head = String::from_utf8_lossy(&answer[..head_end]);
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(answer.len() - head_end - 4)
}
