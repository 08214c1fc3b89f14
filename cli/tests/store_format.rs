//! The store's format version (spec/storage.md, "Format versions"): a
//! store made by format 1, committed as test data, opens with this
//! version, migrated in place; a store of a newer version is refused and
//! left untouched.

mod support;

use std::path::{Path, PathBuf};

use support::{Node, snapshot};

/// The committed store and what its maker recorded (`make.sh`).
fn data() -> PathBuf {
    let dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    dir.join("tests/data/store-v1")
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(data().join("expected.json")).expect("expected.json")).expect("json")
}

/// A copy of the committed data directory (git does not keep the key
/// file's mode 0600, which communs requires).
fn copy_of_v1_store(dir: &Path) -> Node {
    let home = dir.join("home");
    for (path, contents) in snapshot(&data().join("home")) {
        support::write_files(&home, &[(path.as_str(), contents.as_slice())]);
    }
    std::fs::set_permissions(home.join("identity.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    Node { home }
}

#[test]
fn a_store_made_by_format_1_is_migrated_to_2_and_reads_as_it_did() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = copy_of_v1_store(dir.path());
    let expected = expected();
    let design = expected["design"].as_str().expect("design");
    let revision = expected["revision"].as_str().expect("revision");

    // The first command, one that only reads, migrates the store.
    let fsck = node.json(&["fsck"]);
    assert_eq!(fsck["ok"], true, "{fsck}");
    assert_eq!(fsck["format"], 2, "{fsck}");
    assert_eq!(fsck["absent_blobs"], 0, "{fsck}");

    assert_eq!(node.run(&["id"]).ok().stdout.trim(), expected["author"].as_str().expect("author"));
    let list = node.json(&["list"]);
    let designs = list.as_array().expect("designs");
    assert_eq!(designs.len(), 1, "{list}");
    assert_eq!(designs[0]["design"], design, "{list}");
    let show = node.json(&["show", design]);
    assert_eq!(show["revision"], revision, "{show}");
    assert_eq!(show["manifest"]["name"], "Spool clip", "{show}");

    let out = dir.path().join("checkout");
    node.json(&["get", design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&data().join("design")), "the files come back byte for byte");

    let status = node.json(&["status", design]);
    let proposals = status["proposals"].as_array().expect("proposals");
    assert!(proposals.iter().any(|p| p["id"] == expected["proposal"]), "the governance event is there: {status}");
    let comments = node.json(&["comments", design]).to_string();
    assert!(comments.contains(expected["comment_text"].as_str().expect("text")), "{comments}");
    let policy = node.json(&["policy"]);
    assert!(policy["followed"].as_array().expect("followed").iter().any(|d| d == design), "{policy}");
    let pinned = serde_json::json!({ "design": design, "revision": revision });
    assert!(policy["pins"].as_array().expect("pins").contains(&pinned), "{policy}");

    // Migrated once: opening again migrates nothing and, read-only,
    // writes nothing.
    let events = node.home.join("store/events.redb");
    let before = std::fs::read(&events).expect("events.redb");
    node.json(&["list"]);
    node.json(&["log", design]);
    assert_eq!(
        std::fs::read(&events).expect("events.redb"),
        before,
        "a read-only command on a migrated store writes nothing"
    );
    let again = node.json(&["fsck"]);
    assert_eq!((again["ok"].clone(), again["format"].clone()), (true.into(), 2.into()), "{again}");
}

/// Writes `format = version` in the store's `meta` table, as a newer
/// communs would.
fn claim_format(node: &Node, version: u64) {
    let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
    let db = redb::Database::open(node.home.join("store/events.redb")).expect("events.redb opens");
    let tx = db.begin_write().expect("write");
    tx.open_table(meta).expect("meta").insert("format", version).expect("insert");
    tx.commit().expect("commit");
}

#[test]
fn a_store_of_a_newer_format_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = copy_of_v1_store(dir.path());
    node.json(&["fsck"]);
    claim_format(&node, 99);
    let store = snapshot(&node.home.join("store"));

    let message = "format version 99, written by a newer communs; this communs reads format versions up to 2";
    node.run(&["list"]).fails_with(1, message).fails_with(1, "Upgrade communs");
    node.run(&["follow", expected()["design"].as_str().expect("design")]).fails_with(1, message);
    // A running node opens the store for writing at once: refused before.
    let run = node.run(&["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(message), "{run:?}");
    assert!(snapshot(&node.home.join("store")) == store, "the store is byte for byte what it was");
}
