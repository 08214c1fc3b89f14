//! Space is given back: blob garbage collection and `communs remove`, on
//! real `communs` processes, measured on disk.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::daemon::{Daemon, eventually};
use support::{Node, snapshot, write_files};

const MIB: u64 = 1 << 20;

/// Bytes of every file under `<home>/store/blobs`: what the blob store
/// takes on disk.
fn blob_bytes(node: &Node) -> u64 {
    let mut total = 0;
    let mut stack = vec![node.home.join("store/blobs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Data files of blobs (those over the inline size).
fn data_files(node: &Node) -> usize {
    std::fs::read_dir(node.home.join("store/blobs/data"))
        .map(|dir| dir.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "data")).count())
        .unwrap_or(0)
}

/// Deterministic bytes that do not compress or repeat.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A design folder of `files` files of `each` bytes, plus a manifest and
/// a small file.
fn big_design(root: &Path, name: &str, files: usize, each: usize) -> std::path::PathBuf {
    let folder = root.join(name);
    write_files(
        &folder,
        &[
            (
                "okh.toml",
                format!("okhv = \"OKH-LOSHv1.0\"\nname = \"{name}\"\nlicense = \"CERN-OHL-S-2.0\"\n").as_bytes(),
            ),
            ("README.md", b"# A heavy design\n\nScans and meshes.\n"),
        ],
    );
    for i in 0..files {
        write_files(&folder, &[(&format!("scans/part-{i:03}.stl"), &noise(i as u64 + 1, each))]);
    }
    folder
}

fn designs(node: &Node) -> Vec<String> {
    let list = node.json(&["list"]);
    list.as_array().expect("a list").iter().map(|d| d["design"].as_str().expect("id").to_owned()).collect()
}

#[test]
fn an_unfollowed_design_gives_its_space_back_on_a_running_node_and_offline() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Node::init(dir.path(), "a");
    let folder = big_design(dir.path(), "scanner", 4, 16 * MIB as usize);
    let (design, _) = a.publish(&folder, &["-m", "64 MiB of scans"]);
    let a = Daemon::start(&a, &[]);

    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    b.node.json(&["follow", &design]);
    eventually(60, "b holds the design's files", || blob_bytes(&b.node) >= 64 * MIB);
    let before = blob_bytes(&b.node);

    // Unfollowed on the running node: it collects by itself, and keeps running.
    b.node.json(&["unfollow", &design]);
    eventually(30, "b gave the space back", || blob_bytes(&b.node) < before - 63 * MIB);
    assert_eq!(data_files(&b.node), 0, "no file of the design is left");
    b.node.json(&["node", "status"]);
    // The design's log and tree stay: it can still be shown, and followed again.
    assert_eq!(b.node.json(&["show", &design])["design"], design.as_str());
    let again = b.node.json(&["gc"]);
    assert_eq!(again["freed_blobs"], 0, "{again}");
    assert!(again["kept_blobs"].as_u64().expect("kept") >= 1, "the tree stays: {again}");

    // Offline, on the publisher's store.
    let a = a.stop();
    a.json(&["unfollow", &design]);
    let before = blob_bytes(&a);
    let report = a.json(&["gc"]);
    assert_eq!(report["freed_blobs"], 6, "four scans, the README and the manifest: {report}");
    assert!(report["freed_bytes"].as_u64().expect("bytes") >= 64 * MIB, "{report}");
    assert!(blob_bytes(&a) < before - 63 * MIB, "the files are gone from disk");
    a.run(&["fsck"]).ok();
    // Followed again, its files come back: the publisher stores them
    // again from its folder (unchanged: no new event), and b fetches them.
    a.json(&["follow", &design]);
    a.publish(&folder, &[]);
    let b = b.stop();
    let a = Daemon::start(&a, &[]);
    let b = Daemon::start(&b, &["--bootstrap", &a.addr]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    b.node.json(&["follow", &design]);
    let out = dir.path().join("again");
    b.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&folder));
}

#[test]
fn a_collection_during_a_transfer_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Node::init(dir.path(), "a");
    let folder = big_design(dir.path(), "printer", 12, 8 * MIB as usize);
    let (design, _) = a.publish(&folder, &[]);
    let a = Daemon::start(&a, &[]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    b.node.json(&["follow", &design]);
    // Unfollowed: its files are garbage to b, held only by the checkout
    // that fetches them.
    b.node.json(&["unfollow", &design]);
    // (The fetch that follow started may still run: what it holds stays
    // until a collection after it.)
    eventually(30, "b dropped the files", || {
        b.node.json(&["gc"]);
        data_files(&b.node) == 0
    });

    let out = dir.path().join("checkout");
    let mut get = b
        .node
        .command(&["get", &design, out.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("get starts");
    let mut runs = 0;
    let status = loop {
        if let Some(status) = get.try_wait().expect("wait") {
            break status;
        }
        b.node.json(&["gc"]);
        runs += 1;
    };
    assert!(status.success(), "get failed while collections ran");
    assert!(runs > 0, "no collection ran during the transfer");
    assert_eq!(snapshot(&out), snapshot(&folder), "the checkout differs after {runs} collections");
    // Once written out, what the node does not keep is freed.
    b.node.json(&["gc"]);
    assert_eq!(data_files(&b.node), 0);
}

#[test]
fn blobs_that_a_killed_publish_left_are_freed() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "a");
    let kept = big_design(dir.path(), "kept", 2, MIB as usize);
    let (design, _) = node.publish(&kept, &[]);
    let files_kept = data_files(&node);

    let folder = big_design(dir.path(), "killed", 200, MIB as usize);
    let mut publish = node
        .command(&["publish", folder.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("publish starts");
    eventually(60, "the publish stored some blobs", || data_files(&node) > files_kept + 2);
    publish.kill().expect("kill -9");
    publish.wait().expect("reaped");
    assert!(designs(&node).len() == 1, "the killed publish committed nothing");
    let before = blob_bytes(&node);

    let report = node.json(&["gc"]);
    assert!(report["freed_blobs"].as_u64().expect("freed") >= 2, "{report}");
    assert_eq!(data_files(&node), files_kept, "only the published design's files stay");
    assert!(blob_bytes(&node) < before, "the space is given back");
    node.run(&["fsck"]).ok();
    let out = dir.path().join("out");
    node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&kept));
}

#[test]
fn a_removed_design_stays_away_until_it_is_followed_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Node::init(dir.path(), "a");
    let folder = big_design(dir.path(), "lamp", 2, 2 * MIB as usize);
    let (design, _) = a.publish(&folder, &[]);
    let a = Daemon::start(&a, &[]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    b.node.json(&["follow", &design]);
    // Waits for the background fetch of the files: a collection keeps
    // what a fetch in progress holds.
    b.node.json(&["sync", &design]);
    eventually(30, "b holds the files", || b.node.json(&["fsck"])["absent_blobs"] == 0);

    let removed = b.node.json(&["remove", &design, "--reason", "not for this lab"]);
    assert_eq!(removed["action"], "remove", "{removed}");
    assert_eq!(removed["gc"]["freed_blobs"], 5, "the tree and four files: {removed}");
    assert!(designs(&b.node).is_empty());
    assert_eq!(data_files(&b.node), 0);
    assert_eq!(b.node.json(&["policy"])["removed"][0], design.as_str());

    // Neither catch-up (all kept, or this design asked by name) nor gossip
    // brings it back.
    b.node.json(&["sync"]);
    b.node.json(&["sync", &design]);
    write_files(&folder, &[("NOTES.md", b"A second revision.\n")]);
    a.node.publish(&folder, &["-m", "notes"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(designs(&b.node).is_empty(), "the removed design came back");
    assert_eq!(data_files(&b.node), 0);

    // Following it again brings it back, files included.
    b.node.json(&["follow", &design]);
    assert_eq!(designs(&b.node), vec![design.clone()]);
    let out = dir.path().join("back");
    b.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&folder));
}
