//! `communs backup` and `communs restore` (spec/storage.md, "Backups") on
//! real `communs` processes: a stopped node and a running one, restored
//! into new data directories with the same identity, designs and policy;
//! bad backups and occupied data directories refused with nothing written.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::daemon::{Daemon, eventually};
use support::{Node, small_design, snapshot};

/// A node with a design, a second revision, a comment, a follow and a pin
/// of the first revision; returns (design, first revision).
fn busy_node(dir: &Path) -> (Node, String, String) {
    let node = Node { home: dir.join("ada") };
    node.run(&["init", "--name", "Ada"]).ok();
    let folder = small_design(dir, "clip");
    let (design, first) = node.publish(&folder, &[]);
    support::write_files(&folder, &[("cad/part.scad", b"cube([12, 20, 3]);\n")]);
    node.publish(&folder, &[]);
    node.json(&["comment", &design, "-m", "Printed it: fits."]);
    node.json(&["follow", &design, "--reason", "ours"]);
    node.json(&["pin", &design, &first]);
    (node, design, first)
}

/// What a restored node must show as its original did.
fn view(node: &Node, design: &str) -> Vec<serde_json::Value> {
    vec![
        node.json(&["id"]),
        node.json(&["list"]),
        node.json(&["log", design]),
        node.json(&["status", design]),
        node.json(&["comments", design]),
        node.json(&["policy"]),
    ]
}

fn files_under(root: &Path) -> Vec<String> {
    if !root.exists() {
        return Vec::new();
    }
    snapshot(root).into_keys().collect()
}

#[test]
fn a_stopped_nodes_backup_restores_its_identity_designs_policy_and_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let (node, design, first) = busy_node(dir.path());
    let backup = dir.path().join("backup");
    let run = node.run(&["backup", backup.to_str().expect("utf-8"), "--files"]).ok();
    assert!(run.stderr.contains("holds this node's secret key"), "the backup warns of its secret: {run:?}");
    assert!(run.stdout.starts_with("Backed up identity"), "{run:?}");
    let mode = std::fs::metadata(backup.join("identity.key")).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key in the backup is the owner's only");
    let mode = std::fs::metadata(&backup).expect("dir").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    // Not over a backup already there, unless asked.
    node.run(&["backup", backup.to_str().expect("utf-8")]).fails_with(1, "is not empty");
    let summary = node.json(&["backup", backup.to_str().expect("utf-8"), "--files", "--overwrite"]);
    assert_eq!((summary["designs"].clone(), summary["policy_entries"].clone()), (1.into(), 2.into()), "{summary}");
    assert!(summary["blobs"].as_u64().expect("blobs") >= 4, "trees and files: {summary}");

    // Not into a data directory that has an identity: the original's own.
    let before = snapshot(&node.home.join("store"));
    node.run(&["restore", backup.to_str().expect("utf-8")]).fails_with(1, "already has an identity");
    assert!(snapshot(&node.home.join("store")) == before);

    let restored = Node { home: dir.path().join("restored") };
    let out = restored.json(&["restore", backup.to_str().expect("utf-8")]);
    assert_eq!(out["author"], node.json(&["id"])["author"], "{out}");
    assert_eq!(view(&restored, &design), view(&node, &design));
    let fsck = restored.json(&["fsck"]);
    assert_eq!((fsck["ok"].clone(), fsck["absent_blobs"].clone()), (true.into(), 0.into()), "{fsck}");
    // The pin holds: `get` checks out the first revision, byte for byte.
    let (from_original, from_restored) = (dir.path().join("o"), dir.path().join("r"));
    node.json(&["get", &design, from_original.to_str().expect("utf-8")]);
    let got = restored.json(&["get", &design, from_restored.to_str().expect("utf-8")]);
    assert_eq!(got["revision"], first, "{got}");
    assert_eq!(snapshot(&from_restored), snapshot(&from_original));
    assert_eq!(
        std::fs::read(restored.home.join("config.toml")).expect("config"),
        std::fs::read(node.home.join("config.toml")).expect("config")
    );
}

#[test]
fn a_damaged_or_foreign_backup_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let (node, _, _) = busy_node(dir.path());
    let backup = dir.path().join("backup");
    node.run(&["backup", backup.to_str().expect("utf-8"), "--files"]).ok();
    let target = Node { home: dir.path().join("target") };
    let copy = |name: &str| {
        let to = dir.path().join(name);
        for (path, contents) in snapshot(&backup) {
            support::write_files(&to, &[(path.as_str(), contents.as_slice())]);
        }
        to
    };

    let flipped = copy("flipped");
    let mut bundle = std::fs::read(flipped.join("designs.bundle")).expect("bundle");
    let middle = bundle.len() / 2;
    bundle[middle] ^= 0x01;
    std::fs::write(flipped.join("designs.bundle"), &bundle).expect("write");
    target.run(&["restore", flipped.to_str().expect("utf-8")]).fails_with(1, "the backup is damaged");
    assert!(files_under(&target.home).is_empty(), "nothing written: {:?}", files_under(&target.home));

    // Garbled, with its manifest rewritten to match: the events' own
    // checks refuse it.
    let forged = copy("forged");
    let mut bundle = std::fs::read(forged.join("designs.bundle")).expect("bundle");
    bundle[40] ^= 0x01;
    std::fs::write(forged.join("designs.bundle"), &bundle).expect("write");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(forged.join("backup.json")).expect("manifest")).expect("json");
    for content in manifest["contents"].as_array_mut().expect("contents") {
        if content["name"] == "designs.bundle" {
            content["blake3"] = blake3::hash(&bundle).to_hex().to_string().into();
        }
    }
    std::fs::write(forged.join("backup.json"), manifest.to_string()).expect("write");
    target.run(&["restore", forged.to_str().expect("utf-8")]).fails_with(1, "the backup is damaged");
    assert!(files_under(&target.home).is_empty());

    let truncated = copy("truncated");
    let key = std::fs::read(truncated.join("identity.key")).expect("key");
    std::fs::write(truncated.join("identity.key"), &key[..key.len() / 2]).expect("write");
    target.run(&["restore", truncated.to_str().expect("utf-8")]).fails_with(1, "the backup is damaged");
    assert!(files_under(&target.home).is_empty());

    let manifest = copy("manifest");
    std::fs::write(manifest.join("backup.json"), b"{\"format\": \"communs-backup/1\"").expect("write");
    target.run(&["restore", manifest.to_str().expect("utf-8")]).fails_with(1, "not a communs backup");
    let newer = copy("newer");
    let text = std::fs::read_to_string(newer.join("backup.json")).expect("manifest");
    std::fs::write(newer.join("backup.json"), text.replace("communs-backup/1", "communs-backup/2")).expect("write");
    target.run(&["restore", newer.to_str().expect("utf-8")]).fails_with(1, "a newer communs may read it");
    target.run(&["restore", dir.path().join("ada").to_str().expect("utf-8")]).fails_with(1, "not a communs backup");
    assert!(files_under(&target.home).is_empty());
}

#[test]
fn a_running_nodes_backup_without_files_restores_a_node_that_fetches_them_from_peers() {
    let dir = tempfile::tempdir().expect("tmp");
    let (node, design, first) = busy_node(dir.path());
    // Another node holds the design too: the one the restored node, which
    // has no files, fetches them from (a node cannot dial its own peer id).
    let bundle = dir.path().join("all.bundle");
    node.json(&["bundle", "export", "--all", bundle.to_str().expect("utf-8")]);
    let peer = Node::init(dir.path(), "peer");
    peer.json(&["bundle", "import", bundle.to_str().expect("utf-8")]);

    let original = Daemon::start(&node, &["--no-dht"]);
    let backup = dir.path().join("backup");
    // Through the running node's API: the CLI does not open its store.
    let summary = original.node.json(&["backup", backup.to_str().expect("utf-8")]);
    assert_eq!((summary["files"].clone(), summary["blobs"].clone()), (false.into(), 0.into()), "{summary}");
    let peer_id = original.peer_id();
    let expected = view(&original.node, &design);
    drop(original);

    let restored = Node { home: dir.path().join("restored") };
    restored.json(&["restore", backup.to_str().expect("utf-8")]);
    assert_eq!(view(&restored, &design), expected);
    let fsck = restored.json(&["fsck"]);
    assert!(fsck["absent_blobs"].as_u64().expect("absent") > 0, "no files in the backup: {fsck}");

    let peer = Daemon::start(&peer, &["--no-dht"]);
    let again = Daemon::start(&restored, &["--no-dht", "--bootstrap", &peer.addr]);
    assert_eq!(again.peer_id(), peer_id, "the restored node has the original's peer id (it is the key)");
    let (from_peer, from_restored) = (dir.path().join("p"), dir.path().join("r"));
    let mut got = serde_json::Value::Null;
    eventually(60, "the restored node fetched the files from its peer", || {
        let run = again.node.run(&["--json", "get", &design, "--force", from_restored.to_str().expect("utf-8")]);
        if run.code == 0 {
            got = run.json();
        }
        run.code == 0
    });
    assert_eq!(got["revision"], first, "the pin holds: {got}");
    peer.node.json(&["get", &format!("{design}@{first}"), from_peer.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&from_restored), snapshot(&from_peer));
    assert_eq!(view(&again.node, &design), expected);
}
