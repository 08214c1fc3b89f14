//! Bandwidth limits on real `communs node run` processes over loopback:
//! an upload limit shared fairly by two peers fetching at once, gossip
//! still quick meanwhile, and a download limit.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{Daemon, eventually, eventually_every};
use support::{Node, noise, small_design, write_files};

const MB: u64 = 1_000_000;

/// A design holding one file of `bytes` random bytes, written a piece at
/// a time.
fn large_design(root: &Path, name: &str, bytes: u64) -> PathBuf {
    let folder = small_design(root, name);
    let mut file = std::fs::File::create(folder.join("cad/scan.bin")).expect("file");
    let piece = 4 << 20;
    let mut written = 0;
    while written < bytes {
        let len = piece.min(bytes - written);
        file.write_all(&noise(written + 1, len as usize)).expect("write");
        written += len;
    }
    folder
}

fn stored(node: &Node) -> u64 {
    support::allocated_bytes(&node.home.join("store/blobs"))
}

fn canonical(node: &Node, design: &str) -> Option<String> {
    let run = node.run(&["--json", "status", design]);
    if run.code != 0 {
        return None;
    }
    run.json()["canonical"].as_str().map(str::to_owned)
}

/// `communs get` on `node`, in the background.
fn spawn_get(node: &Node, design: &str, out: &Path) -> Child {
    node.command(&["get", design, out.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("get starts")
}

/// Publishes a new revision of `folder` on `from` and returns how long
/// until each node of `to` holds it as canonical (each watched by a
/// thread of its own, the time taken when a check that sees it ends).
fn gossip_latency(from: &Node, folder: &Path, design: &str, to: &[&Node], n: usize) -> Vec<Duration> {
    write_files(folder, &[("README.md", format!("# Revision {n}\n").as_bytes())]);
    let (_, revision) = from.publish(folder, &["-m", &format!("revision {n}")]);
    let published = Instant::now();
    std::thread::scope(|scope| {
        let watchers: Vec<_> = to
            .iter()
            .map(|node| {
                let revision = &revision;
                scope.spawn(move || {
                    eventually_every(Duration::from_millis(10), 10, "the new revision arrives", || {
                        canonical(node, design).as_deref() == Some(revision)
                    });
                    published.elapsed()
                })
            })
            .collect();
        watchers.into_iter().map(|watcher| watcher.join().expect("watcher")).collect()
    })
}

/// Issue 14: with an upload limit of 10 MB/s, a 200 MB file fetched by
/// two peers at once takes at least 20 s, each peer getting a fair share,
/// and gossip from the limited node still arrives in under a second, at
/// a third peer and at the fetching peers themselves (whose connection
/// carries the transfer).
#[test]
fn an_upload_limit_holds_is_shared_fairly_and_leaves_gossip_quick() {
    let dir = tempfile::tempdir().expect("tmp");
    let size = 200 * MB;
    let folder = large_design(dir.path(), "Scanned chassis", size);
    let seeder = Daemon::start(&Node::init(dir.path(), "seeder"), &["--no-dht", "--max-upload", "10MB"]);
    let (design, _) = seeder.node.publish(&folder, &["-m", "v1"]);
    let news = small_design(dir.path(), "News board");
    let (news_design, _) = seeder.node.publish(&news, &["-m", "v1"]);

    let start = |name| Daemon::start(&Node::init(dir.path(), name), &["--bootstrap", &seeder.addr, "--no-dht"]);
    let (one, two, third) = (start("one"), start("two"), start("third"));
    for peer in [&one, &two, &third] {
        eventually(10, "connected to the seeder", || peer.peers() == vec![seeder.peer_id()]);
        assert_eq!(peer.node.json(&["follow", &news_design])["present"], true);
    }

    let started = Instant::now();
    let outs = [dir.path().join("out-one"), dir.path().join("out-two")];
    let mut gets = [spawn_get(&one.node, &design, &outs[0]), spawn_get(&two.node, &design, &outs[1])];

    // Gossip while both transfers run, a few times.
    let mut latencies = Vec::new();
    for n in 2..6 {
        std::thread::sleep(Duration::from_secs(3));
        latencies.extend(gossip_latency(&seeder.node, &news, &news_design, &[&third.node, &one.node, &two.node], n));
    }
    // Half way (in bytes), each has about half the bytes sent.
    eventually(60, "the transfers are half way", || stored(&one.node) + stored(&two.node) >= size);
    let at_half = started.elapsed();
    let (a, b) = (stored(&one.node), stored(&two.node));
    let share = a.min(b) as f64 / a.max(b) as f64;

    let mut finished = [Duration::ZERO; 2];
    let mut done = [false; 2];
    while done.contains(&false) {
        for (i, get) in gets.iter_mut().enumerate() {
            if !done[i] && get.try_wait().expect("wait").is_some() {
                done[i] = true;
                finished[i] = started.elapsed();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the transfers did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    for get in gets {
        let output = get.wait_with_output().expect("get");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    for out in &outs {
        assert_eq!(std::fs::metadata(out.join("cad/scan.bin")).expect("fetched").len(), size);
    }
    let slowest = finished[0].max(finished[1]);
    let fastest = finished[0].min(finished[1]);
    eprintln!(
        "2 x {} MB at 10 MB/s: finished after {:.1?} and {:.1?}; at {:.1?} (half the bytes) {} and {} MB, \
         share {share:.2}; gossip latencies {latencies:.0?}",
        size / MB,
        finished[0],
        finished[1],
        at_half,
        a / MB,
        b / MB,
    );
    // 400 MB at 10 MB/s: 40 s, the first burst aside.
    assert!(fastest >= Duration::from_secs(20), "a transfer ended after {fastest:?}");
    assert!(slowest >= Duration::from_secs(38), "400 MB sent in {slowest:?}");
    assert!(share >= 0.8, "one peer had {a} bytes and the other {b}");
    assert!(fastest.as_secs_f64() >= 0.8 * slowest.as_secs_f64(), "finished after {fastest:?} and {slowest:?}");
    for latency in &latencies {
        assert!(*latency < Duration::from_secs(1), "gossip took {latency:?} during the transfers: {latencies:?}");
    }
}

/// A download limit of 4 MB/s holds for a 24 MB file from an unlimited
/// peer.
#[test]
fn a_download_limit_holds() {
    let dir = tempfile::tempdir().expect("tmp");
    let size = 24 * MB;
    let folder = large_design(dir.path(), "Scanned bracket", size);
    let seeder = Daemon::start(&Node::init(dir.path(), "seeder"), &["--no-dht"]);
    let (design, _) = seeder.node.publish(&folder, &["-m", "v1"]);
    let getter = Daemon::start(
        &Node::init(dir.path(), "getter"),
        &["--bootstrap", &seeder.addr, "--no-dht", "--max-download", "4MB"],
    );
    eventually(10, "connected to the seeder", || getter.peers() == vec![seeder.peer_id()]);
    let started = Instant::now();
    let out = dir.path().join("out");
    let get = spawn_get(&getter.node, &design, &out).wait_with_output().expect("get");
    let took = started.elapsed();
    assert!(get.status.success(), "{}", String::from_utf8_lossy(&get.stderr));
    assert_eq!(std::fs::metadata(out.join("cad/scan.bin")).expect("fetched").len(), size);
    eprintln!("{} MB at a download limit of 4 MB/s: {took:.1?}", size / MB);
    // 24 MB at 4 MB/s is 6 s; the burst (0.4 MB) aside, at least 5.5 s.
    assert!(took >= Duration::from_millis(5500), "24 MB in {took:?}");
    assert!(took < Duration::from_secs(30), "24 MB in {took:?}");
}
