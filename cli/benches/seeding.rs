//! Seeding at a tiers-lieu's size (issue 10), with the release `communs`
//! binary: a node holding 5,000 small designs (a genesis, a revision, a
//! tree and one file each), and a new `--seed-all` node bootstrapped on it,
//! with no command.
//!
//! Timed from spawning the seed-all node: until it holds every design's
//! events (`node status` shows them all kept), and until it holds every
//! design's files (nothing queued, fetched or waiting for peers). Then a
//! node killed (SIGKILL) once it has every event, restarted: time from the
//! restart until it holds every file. Goal (issue 10): every design's files
//! within a minute, both ways. The last round's seed-all node is checked
//! with `fsck` (no absent blob).
//!
//! ```sh
//! cargo bench -p communs-cli --bench seeding
//! COMMUNS_BENCH_DESIGNS=1000 COMMUNS_BENCH_ROUNDS=1 cargo bench -p communs-cli --bench seeding
//! ```

mod common;

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::daemon::{Daemon, init, status};
use common::{env_number, lock_data_dir, median};
use communs_node::{Home, Node};
use communs_protocol::{SecretKey, Tree, TreeEntry, ValidatedPath, fixtures};

/// The issue's deadline for a seed-all node to hold every file.
const GOAL_SECS: f64 = 60.0;

/// Between two looks at a node's status.
const POLL: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    common::bench_main("seeding", run)
}

fn run() -> anyhow::Result<()> {
    let designs = usize::try_from(env_number("COMMUNS_BENCH_DESIGNS", 5_000)?)?;
    let rounds = usize::try_from(env_number("COMMUNS_BENCH_ROUNDS", 3)?)?;
    if rounds == 0 || designs == 0 {
        bail!("COMMUNS_BENCH_DESIGNS and COMMUNS_BENCH_ROUNDS must be at least 1");
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_communs"));
    let data_dir = common::data_dir(binary)?;
    let _lock = lock_data_dir(&data_dir)?;
    let run_dir = common::WorkDir::create(data_dir.join(format!("run-seeding-{}", std::process::id())))?;

    let source = run_dir.0.join("source");
    init(binary, &source)?;
    let started = Instant::now();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(store_designs(&source, designs))?;
    eprintln!("{designs} designs stored in {:.1} s", started.elapsed().as_secs_f64());
    let source = Daemon::start(binary, &source, &[])?;
    let bootstrap = source.address(binary)?;
    let seed_all = ["--seed-all", "--bootstrap", bootstrap.as_str()];

    let (mut events, mut files, mut restarted) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // A fresh seed-all node, left alone until it holds every file.
        let home = run_dir.0.join(format!("fresh-{round}"));
        init(binary, &home)?;
        let started = Instant::now();
        let node = Daemon::start(binary, &home, &seed_all)?;
        wait_for(binary, &home, "every design's events", |status| kept(status) == designs)?;
        let all_events = started.elapsed().as_secs_f64();
        wait_for(binary, &home, "every design's files", |status| kept(status) == designs && idle(status))?;
        let all_files = started.elapsed().as_secs_f64();
        node.stop()?;
        if round + 1 == rounds {
            check_no_absent_blob(binary, &home, designs)?;
        }

        // One killed once it holds every event, then restarted.
        let home = run_dir.0.join(format!("killed-{round}"));
        init(binary, &home)?;
        let node = Daemon::start(binary, &home, &seed_all)?;
        wait_for(binary, &home, "every design's events", |status| kept(status) == designs)?;
        node.kill()?;
        let started = Instant::now();
        let node = Daemon::start(binary, &home, &seed_all)?;
        wait_for(binary, &home, "every design's files", |status| kept(status) == designs && idle(status))?;
        let after_restart = started.elapsed().as_secs_f64();
        node.stop()?;

        eprintln!(
            "round {}: events in {all_events:.1} s, files in {all_files:.1} s; restarted: files in {after_restart:.1} s",
            round + 1
        );
        events.push(all_events);
        files.push(all_files);
        restarted.push(after_restart);
    }
    source.stop()?;
    let (events, files, restarted) = (median(events), median(files), median(restarted));
    println!("seeding {designs} designs, median of {rounds} rounds (goal: files within {GOAL_SECS:.0} s):");
    println!("  fresh seed-all node: every event in {events:.1} s, every file in {files:.1} s");
    println!("  killed once it held every event, restarted: every file in {restarted:.1} s");
    println!("  {:.0} designs/s fetched", designs as f64 / (files - events).max(f64::MIN_POSITIVE));
    common::remove(&run_dir.0)?;
    if files > GOAL_SECS || restarted > GOAL_SECS {
        bail!("seeding took longer than {GOAL_SECS:.0} s");
    }
    Ok(())
}

async fn store_designs(home: &Path, n: usize) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let opened = Node::open(Home::locate(Some(home))?).await?;
    let key = SecretKey::from_bytes(&[7; 32]);
    // Many blobs at once: each addition waits for a sync of the store.
    let node = &opened;
    let trees: Vec<communs_protocol::BlobHash> = futures::stream::iter(0..n)
        .map(|i| async move {
            let file = format!("# Design {i}\n\nA small part, number {i}.\n").into_bytes();
            let size = file.len() as u64;
            let blob = node.add_blob(file).await?;
            let path = ValidatedPath::new("README.md")?;
            let tree = Tree::new(vec![TreeEntry { path, blob, size, executable: false }])?;
            anyhow::Ok(node.add_blob(tree.encode()).await?)
        })
        .buffered(64)
        .try_collect()
        .await?;
    let mut events = Vec::with_capacity(2 * n);
    for (i, tree) in trees.into_iter().enumerate() {
        let name = format!("Part {i}");
        let genesis = fixtures::genesis(&key, &name, "CERN-OHL-S-2.0", i as u64);
        let revision = fixtures::revision(&key, &genesis, tree, &name, "CERN-OHL-S-2.0");
        events.extend([genesis, revision]);
    }
    for batch in events.chunks(2_000) {
        node.insert_events(batch)?;
    }
    opened.close().await?;
    Ok(())
}

fn kept(status: &serde_json::Value) -> usize {
    status["kept"].as_u64().unwrap_or(0) as usize
}

/// Nothing left to fetch (a design is queued before it is shown kept).
fn idle(status: &serde_json::Value) -> bool {
    let seeding = &status["seeding"];
    seeding["queued"] == 0 && seeding["fetching"] == 0 && seeding["waiting_for_peers"] == 0
}

fn wait_for(
    binary: &Path,
    home: &Path,
    what: &str,
    mut done: impl FnMut(&serde_json::Value) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(&status(binary, home)?) {
        if Instant::now() > deadline {
            bail!("the node at {} did not get {what} within 600 s", home.display());
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

fn check_no_absent_blob(binary: &Path, home: &Path, designs: usize) -> anyhow::Result<()> {
    let output = Command::new(binary).arg("--home").arg(home).args(["--json", "fsck"]).output()?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).context("fsck --json")?;
    if report["events"] != 2 * designs || report["absent_blobs"] != 0 || report["ok"] != true {
        bail!("fsck after seeding: {report}");
    }
    Ok(())
}
