//! A catalog at a tiers-lieu's size (issue 12), with the release `communs`
//! binary: a node whose catalog holds 100,000 designs (it keeps them: a
//! genesis and a revision each, their announcements made from its log at
//! start), and a new node, keeping nothing, bootstrapped on it.
//!
//! Timed from spawning the new node until its catalog catch-up with the
//! source ends (`node status`, `catalog_sync`), then checked: its catalog
//! holds every design. Bytes: those of that catch-up's requests and
//! responses (reconciliation and fetches), against the catalog's size
//! (the sum of its announcements' bytes). Goals (issue 12): bytes within
//! 1.5x of the catalog's size, under 30 s on loopback.
//!
//! ```sh
//! cargo bench -p communs-cli --bench catalog
//! COMMUNS_BENCH_DESIGNS=10000 cargo bench -p communs-cli --bench catalog
//! ```

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::daemon::{Daemon, init, status};
use common::{env_number, lock_data_dir, median};
use communs_node::{Home, Node};
use communs_protocol::SecretKey;
use communs_protocol::catalog::Announcement;

const GOAL_SECS: f64 = 30.0;
const GOAL_RATIO: f64 = 1.5;
const POLL: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    common::bench_main("catalog", run)
}

fn run() -> anyhow::Result<()> {
    let designs = usize::try_from(env_number("COMMUNS_BENCH_DESIGNS", 100_000)?)?;
    let rounds = usize::try_from(env_number("COMMUNS_BENCH_ROUNDS", 1)?)?;
    if rounds == 0 || designs == 0 {
        bail!("COMMUNS_BENCH_DESIGNS and COMMUNS_BENCH_ROUNDS must be at least 1");
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_communs"));
    let data_dir = common::data_dir(binary)?;
    let _lock = lock_data_dir(&data_dir)?;
    let run_dir = common::WorkDir::create(data_dir.join(format!("run-catalog-{}", std::process::id())))?;

    let source = run_dir.0.join("source");
    init(binary, &source)?;
    let started = Instant::now();
    let size =
        tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(store_designs(&source, designs))?;
    eprintln!("{designs} designs stored in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let source_node = Daemon::start(binary, &source, &[])?;
    wait_for(&format!("the source's catalog of {designs}"), || Ok(catalog_total(&source)? == designs))?;
    let announced = started.elapsed().as_secs_f64();
    eprintln!("the source announced its {designs} designs {announced:.1} s after start");
    // Its seeder checks every kept design's files at start: done before
    // the measure, which it would otherwise share the cores with.
    wait_for("the source's seeder to be idle", || {
        let seeding = &status(binary, &source)?["seeding"];
        Ok(seeding["queued"] == 0 && seeding["fetching"] == 0)
    })?;
    let bootstrap = source_node.address(binary)?;
    let source_peer = status(binary, &source)?["peer_id"].as_str().context("peer id")?.to_owned();

    let (mut secs, mut bytes) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let home = run_dir.0.join(format!("new-{round}"));
        init(binary, &home)?;
        let started = Instant::now();
        let node = Daemon::start(binary, &home, &["--bootstrap", bootstrap.as_str()])?;
        let mut report = serde_json::Value::Null;
        wait_for("the new node's catalog catch-up", || {
            let status = status(binary, &home)?;
            let synced =
                status["catalog_sync"].as_array().and_then(|s| s.iter().find(|s| s["peer_id"] == source_peer.as_str()));
            if let Some(synced) = synced {
                report = synced.clone();
            }
            Ok(synced.is_some())
        })?;
        let elapsed = started.elapsed().as_secs_f64();
        let total = catalog_total(&home)?;
        if total != designs {
            bail!("the new node's catalog holds {total} designs, not {designs}: {report}");
        }
        let moved = report["bytes_received"].as_u64().unwrap_or(0) + report["bytes_sent"].as_u64().unwrap_or(0);
        eprintln!(
            "round {}: {designs} designs in {elapsed:.1} s, {moved} bytes ({} round trips, {} added)",
            round + 1,
            report["rounds"],
            report["added"]
        );
        node.stop()?;
        secs.push(elapsed);
        bytes.push(moved as f64);
    }
    source_node.stop()?;
    let (secs, bytes) = (median(secs), median(bytes));
    let ratio = bytes / size as f64;
    println!("catalog of {designs} designs ({size} bytes of announcements), median of {rounds} rounds:");
    println!("  a new node holds it {secs:.1} s after it starts, {bytes:.0} bytes moved: {ratio:.3}x the catalog");
    println!("  (the source made its announcements {announced:.1} s after its start)");
    println!("goals: under {GOAL_SECS:.0} s, at most {GOAL_RATIO}x");
    common::remove(&run_dir.0)?;
    if secs > GOAL_SECS || ratio > GOAL_RATIO {
        bail!("goal not met");
    }
    Ok(())
}

/// Stores `n` designs (a genesis and a revision each, all of one small
/// tree) straight into the node's store. Returns the bytes of their
/// announcements (each the genesis and that revision, as the node makes
/// them).
async fn store_designs(home: &Path, n: usize) -> anyhow::Result<usize> {
    let node = Node::open(Home::locate(Some(home))?).await?;
    let key = SecretKey::from_bytes(&[7; 32]);
    let mut bytes = 0;
    common::store_small_designs(&node, &key, n, |genesis, revision| {
        bytes += Announcement::new(genesis.clone(), Some(revision.clone()), None)?.bytes().len();
        Ok(())
    })
    .await?;
    node.close().await?;
    Ok(bytes)
}

/// How many designs a running node's catalog holds (`GET /v1/catalog`,
/// whose `total` the CLI does not print).
fn catalog_total(home: &Path) -> anyhow::Result<usize> {
    let running: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(home.join("api.json"))?)?;
    let addr = running["api"].as_str().context("api address")?;
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(stream, "GET /v1/catalog?limit=0 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n").context("an HTTP answer")?;
    let page: serde_json::Value = serde_json::from_slice(&answer[at + 4..]).context("the catalog page")?;
    page["total"].as_u64().map(|t| t as usize).with_context(|| format!("no total in {page}"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done()? {
        if Instant::now() > deadline {
            bail!("no {what} within 600 s");
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}
